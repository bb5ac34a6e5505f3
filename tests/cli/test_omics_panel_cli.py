"""CLI tests for ``alsnet omics panel`` and ``alsnet omics assign`` (end to end: slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.omics import OmicsSimParams, simulate_transcriptome

anndata = pytest.importorskip("anndata")

runner = CliRunner()


@pytest.fixture(scope="module")
def panel_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("panel")
    adata = simulate_transcriptome(60, 400, seed=4, params=OmicsSimParams(module_lfc=0.6))
    data = root / "sim.h5ad"
    adata.write_h5ad(data)
    out = root / "out"
    res = runner.invoke(
        app,
        [
            "omics", "panel", str(data), "--label", "subtype", "--site", "site",
            "--subsamples", "20", "--outer", "3", "--out", str(out),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "macro AUC" in res.output
    return data, out


@pytest.mark.slow
def test_panel_writes_model_json_and_report(panel_dir: tuple[Path, Path]) -> None:
    _, out = panel_dir
    doc = json.loads((out / "panel.json").read_text())
    assert doc["panel"] and doc["model"] == "model.json"
    schemes = {row["scheme"] for row in doc["evaluation"]}
    assert schemes == {"patient", "site"}
    macro = [r for r in doc["evaluation"] if r["class"] == "macro" and r["scheme"] == "patient"]
    assert macro[0]["auc"] > 0.85
    html = (out / "report.html").read_text()
    assert "Selection frequencies" in html and "ROC curves" in html


@pytest.mark.slow
def test_assign_writes_csv(panel_dir: tuple[Path, Path], tmp_path: Path) -> None:
    data, out = panel_dir
    csv = tmp_path / "a.csv"
    args = ["omics", "assign", str(out / "model.json"), str(data), "--out", str(csv)]
    res = runner.invoke(app, [*args, "--report", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(csv)
    assert list(table.columns[:4]) == ["sample_id", "subtype", "probability", "status"]
    truth = anndata.read_h5ad(data).obs["subtype"].astype(str).to_numpy()
    assert (table["subtype"].to_numpy() == truth).mean() > 0.9
    html = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert "Samples by subtype and status" in html and "Assigned subtype by batch" in html
    assert not any(str(s) in html for s in table["sample_id"].head(5))  # no sample ids


@pytest.mark.slow
def test_assign_refuses_a_tampered_model(panel_dir: tuple[Path, Path], tmp_path: Path) -> None:
    data, out = panel_dir
    doc = json.loads((out / "model.json").read_text())
    doc["threshold"] = 0.1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    res = runner.invoke(
        app, ["omics", "assign", str(bad), str(data), "--out", str(tmp_path / "x.csv")]
    )
    assert res.exit_code != 0
    assert "checksum" in res.output


def test_panel_missing_label_column(tmp_path: Path) -> None:
    data = tmp_path / "tiny.h5ad"
    simulate_transcriptome(8, 50, seed=0).write_h5ad(data)
    res = runner.invoke(
        app, ["omics", "panel", str(data), "--label", "nope", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code != 0
    assert "nope" in res.output
