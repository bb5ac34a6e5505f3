"""`alsnet twin procova` and `alsnet twin dream` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.synth import synthesize
from alsnet.twin import TARGET, procova_power, window_features
from alsnet.twin.model import _digest

runner = CliRunner()


def test_procova_power_mode() -> None:
    res = runner.invoke(app, ["twin", "procova", "--rho", "0.5", "--n", "300", "--delta", "0.3"])
    assert res.exit_code == 0, res.output
    assert "N_adj = 225.0" in res.output
    assert "0.7500" in res.output
    expect = float(procova_power(n=300, delta=0.3, sigma=1.0, rho=0.5))
    assert f"{expect:.4f}" in res.output


def test_procova_sample_size_mode() -> None:
    res = runner.invoke(app, ["twin", "procova", "--rho", "0.5", "--delta", "0.5"])
    assert res.exit_code == 0, res.output
    assert "98" in res.output and "128" in res.output


def test_procova_needs_n_or_delta() -> None:
    res = runner.invoke(app, ["twin", "procova", "--rho", "0.5"])
    assert res.exit_code != 0


def test_dream_command_on_a_dream_shaped_file(tmp_path: Path) -> None:
    f = window_features(synthesize(200, seed=3))
    f = f.loc[f[TARGET].notna()].rename(columns={TARGET: "dFRS"})
    f.insert(0, "testset", np.arange(len(f)) % 3 == 0)
    p = tmp_path / "als.csv.gz"
    f.to_csv(p, index=False)
    res = runner.invoke(
        app,
        [
            "twin",
            "dream",
            "--data",
            str(p),
            "--candidates",
            "mean,ridge",
            "--model",
            "ridge",
            "--folds",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "3-fold CV" in res.output and "test (once)" in res.output
    assert "0.5090" in res.output  # reference random forest row


@pytest.mark.parametrize("args", [["--data", "/nonexistent/als.csv.gz"]])
def test_dream_missing_file(args: list[str]) -> None:
    res = runner.invoke(app, ["twin", "dream", *args])
    assert res.exit_code == 2
    assert "not found" in res.output


# ------------------------------------------------------- fit / predict / evaluate
@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from alsnet.io.canonical import write_csv

    d = tmp_path_factory.mktemp("twin_cli") / "canonical"
    write_csv(synthesize(150, seed=21), d)
    return d


def _predict(model: Path, csv_dir: Path, out: Path, *extra: str) -> Any:
    """``alsnet twin predict MODEL --input CSV_DIR --out OUT [extra]``."""
    args = ["twin", "predict", str(model), "--input", str(csv_dir), "--out", str(out)]
    return runner.invoke(app, [*args, *extra])


@pytest.fixture(scope="module")
def model_file(csv_dir: Path) -> Path:
    out = csv_dir.parent / "model.json"
    res = runner.invoke(app, ["twin", "fit", "--input", str(csv_dir), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_fit_then_predict_counts_days_from_the_last_visit(csv_dir: Path, model_file: Path) -> None:
    import pandas as pd

    from alsnet.io.canonical import read_csv

    out = csv_dir.parent / "pred.csv"
    res = _predict(model_file, csv_dir, out, "--days", "90,365")
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(out)
    assert list(pred.columns) == [
        "patient_id", "day", "outcome", "mean", "q025", "q10", "q50", "q90", "q975",
    ]  # fmt: skip
    assert not pred.isna().any().any()
    cohort = read_csv(csv_dir)
    last = cohort.visits.groupby("patient_id")["day"].max()
    tot = pred.loc[pred["outcome"] == "alsfrs_r_total"]
    assert len(tot) == 2 * cohort.patients["patient_id"].nunique()
    offsets = tot["day"].to_numpy() - tot["patient_id"].map(last).to_numpy()
    assert set(np.round(offsets, 6)) == {90.0, 365.0}
    assert (tot["q025"] <= tot["q50"]).all() and (tot["q50"] <= tot["q975"]).all()
    assert tot["mean"].between(0, 48).all()


def test_predict_refuses_a_tampered_model(csv_dir: Path, model_file: Path) -> None:
    bad = csv_dir.parent / "tampered.json"
    text = model_file.read_text(encoding="utf-8")
    bad.write_text(text.replace('"sigma": ', '"sigma": 1', 1), encoding="utf-8")
    out = csv_dir.parent / "never.csv"
    res = _predict(bad, csv_dir, out)
    assert res.exit_code == 2
    assert "checksum" in res.output
    assert not out.exists()


def test_predict_missing_model_and_bad_days(csv_dir: Path, model_file: Path) -> None:
    out = csv_dir.parent / "never.csv"
    res = _predict(csv_dir / "nope.json", csv_dir, out)
    assert res.exit_code == 2 and "not found" in res.output
    res = _predict(model_file, csv_dir, out, "--days", "x")
    assert res.exit_code != 0 and not out.exists()


def test_db_and_input_are_exclusive(csv_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "twin",
            "fit",
            "--input",
            str(csv_dir),
            "--db",
            "sqlite:///x.db",
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert res.exit_code != 0


def test_fit_from_the_registry(csv_dir: Path, tmp_path: Path) -> None:
    from alsnet.io.canonical import read_csv
    from alsnet.registry import Store

    url = f"sqlite:///{tmp_path / 'reg.db'}"
    with Store.open(url) as store:
        store.save(read_csv(csv_dir), source="test")
    out = tmp_path / "m.json"
    res = runner.invoke(app, ["twin", "fit", "--db", url, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.is_file() and "150 patients" in res.output


def test_evaluate_writes_report_and_metrics(csv_dir: Path, tmp_path: Path) -> None:
    import pandas as pd

    rep = tmp_path / "rep"
    res = runner.invoke(
        app,
        [
            "twin",
            "evaluate",
            "--input",
            str(csv_dir),
            "--report",
            str(rep),
            "--models",
            "last-slope",
        ],
    )
    assert res.exit_code == 0, res.output
    m = pd.read_csv(rep / "metrics.csv")
    assert list(m.columns) == ["model", "outcome", "horizon", "metric", "value"]
    assert {"rmse", "cov80", "cov95"} <= set(m["metric"])
    html = (rep / "report.html").read_text(encoding="utf-8")
    assert "Calibration of predictive quantiles" in html and "patient split" in html


def test_evaluate_rejects_unknown_model(csv_dir: Path, tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        ["twin", "evaluate", "--input", str(csv_dir), "--report", str(tmp_path), "--models", "gpt"],
    )
    assert res.exit_code != 0


def test_predict_refuses_a_model_of_another_version(csv_dir: Path, model_file: Path) -> None:
    import json

    doc = json.loads(model_file.read_text(encoding="utf-8"))
    doc["model"]["model_version"] = "twin-d50-0"
    doc["sha256"] = _digest(doc["model"])  # a consistent file of another version
    old = csv_dir.parent / "old.json"
    old.write_text(json.dumps(doc), encoding="utf-8")
    out = csv_dir.parent / "never.csv"
    res = _predict(old, csv_dir, out)
    assert res.exit_code == 2 and "version" in res.output and not out.exists()
