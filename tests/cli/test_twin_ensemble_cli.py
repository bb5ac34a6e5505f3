"""`alsnet twin fit --members B` writes a TwinEnsemble that `twin predict` reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.synth import synthesize
from alsnet.twin import TwinEnsemble

runner = CliRunner()


def test_fit_members_then_predict(tmp_path: Path) -> None:
    from alsnet.io.canonical import write_csv

    csv_dir = tmp_path / "canonical"
    write_csv(synthesize(80, seed=21), csv_dir)
    model = tmp_path / "ens.json"
    res = runner.invoke(
        app, ["twin", "fit", "--input", str(csv_dir), "--out", str(model), "--members", "2"]
    )
    assert res.exit_code == 0, res.output
    assert "TwinEnsemble (2 bootstrap members)" in res.output
    ens = TwinEnsemble.load(model)
    assert len(ens.members_) == 2 and ens.n_patients_ == 80
    out = tmp_path / "pred.csv"
    args = ["twin", "predict", str(model), "--input", str(csv_dir), "--out", str(out)]
    res = runner.invoke(app, [*args, "--days", "180"])
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(out)
    assert set(pred["outcome"]) == {"alsfrs_r_total", "fvc_pct", "event_free"}
    assert pred["patient_id"].nunique() == 80
    assert (pred["q10"] <= pred["q90"]).all()
    res = runner.invoke(
        app, ["twin", "fit", "--input", str(csv_dir), "--out", str(model), "--members", "0"]
    )
    assert res.exit_code == 2
