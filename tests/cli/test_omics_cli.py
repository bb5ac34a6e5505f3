"""CLI tests for ``alsnet omics simulate`` and ``alsnet omics cluster`` (small simulations)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.cli.omics import parse_k

anndata = pytest.importorskip("anndata")

runner = CliRunner()


@pytest.fixture(scope="module")
def h5ad(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("omics") / "sim.h5ad"
    res = runner.invoke(
        app,
        [
            "omics",
            "simulate",
            "--patients",
            "60",
            "--genes",
            "400",
            "--seed",
            "1",
            "--out",
            str(path),
            "--report",
            str(path.parent / "sim_report"),
        ],
    )
    assert res.exit_code == 0, res.output
    return path


def _cluster(h5ad: Path, out: Path, *extra: str) -> tuple[Any, dict[str, Any]]:
    res = runner.invoke(
        app,
        [
            "omics",
            "cluster",
            str(h5ad),
            "--batch-key",
            "site",
            "--k",
            "2..4",
            "--resamples",
            "8",
            "--out",
            str(out),
            *extra,
        ],
    )
    return res, (json.loads(out.read_text()) if out.exists() else {})


def test_simulate_writes_the_simulator_output(h5ad: Path) -> None:
    from alsnet.omics import simulate_transcriptome

    got = anndata.read_h5ad(h5ad)
    want = simulate_transcriptome(60, 400, seed=1)
    html = (h5ad.parent / "sim_report" / "report.html").read_text(encoding="utf-8")
    assert "True subtype" in html and "Samples per site, platform and tissue" in html
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.asarray(got.X), np.asarray(want.X))
    assert list(got.obs["site"].astype(str)) == list(want.obs["site"].astype(str))


def test_cluster_json_matches_independent_ari(h5ad: Path, tmp_path: Path) -> None:
    res, out = _cluster(h5ad, tmp_path / "r.json", "--report", str(tmp_path / "rep"))
    assert res.exit_code == 0, res.output
    assert set(out["pac"]) == set(out["cophenetic"]) == {"2", "3", "4"}
    # k is the lowest PAC (ties to the smaller k)
    pacs = {int(k): v for k, v in out["pac"].items()}
    assert out["k"] == min(pacs, key=lambda k: (pacs[k], k))
    assert all(0 <= v <= 1 for v in pacs.values())
    obs = anndata.read_h5ad(h5ad).obs
    labels = [out["labels"][s] for s in obs.index.astype(str)]
    assert len(set(labels)) == out["k"]
    for key in ("site", "platform", "tissue"):
        want = adjusted_rand_score(obs[key].astype(str), labels)
        assert out["ari"][key] == pytest.approx(want)
    assert out["published"] == (max(out["ari"].values()) <= out["max_batch_ari"])
    assert out["corrected"] is True
    assert sum(out["cluster_sizes"].values()) == len(obs)
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "Consensus matrix" in html and "Batch QC gate" in html and "plotly" in html


def test_gate_refuses_uncorrected_and_publishes_corrected(tmp_path: Path) -> None:
    from alsnet.omics import OmicsSimParams, simulate_transcriptome

    # strong site effect, no platform effect: without ComBat the clusters are the sites
    adata = simulate_transcriptome(
        60, 400, seed=2, params=OmicsSimParams(site_sd=1.0, platform_sd=0.0, module_lfc=1.0)
    )
    path = tmp_path / "strong.h5ad"
    adata.write_h5ad(path)
    res, raw = _cluster(path, tmp_path / "raw.json", "--no-correct")
    assert res.exit_code == 0, res.output
    assert raw["published"] is False and raw["ari"]["site"] > 0.2
    assert "ARI vs site" in raw["reason"]
    res, cor = _cluster(path, tmp_path / "cor.json")
    assert res.exit_code == 0, res.output
    assert cor["published"] is True and cor["reason"] == ""
    assert cor["ari"]["site"] < 0.2


def test_bad_inputs(h5ad: Path, tmp_path: Path) -> None:
    res, _ = _cluster(tmp_path / "missing.h5ad", tmp_path / "x.json")
    assert res.exit_code == 2 and not (tmp_path / "x.json").exists()
    res = runner.invoke(
        app,
        [
            "omics",
            "cluster",
            str(h5ad),
            "--batch-key",
            "hospital",
            "--out",
            str(tmp_path / "y.json"),
        ],
    )
    assert res.exit_code == 2 and "hospital" in res.output
    res = runner.invoke(
        app, ["omics", "cluster", str(h5ad), "--k", "1..3", "--out", str(tmp_path / "z.json")]
    )
    assert res.exit_code != 0 and not (tmp_path / "z.json").exists()


@given(st.integers(2, 20), st.integers(0, 10))
def test_parse_k_range(lo: int, width: int) -> None:
    assert parse_k(f"{lo}..{lo + width}") == list(range(lo, lo + width + 1))
    assert parse_k(",".join(str(k) for k in range(lo + width, lo - 1, -1))) == list(
        range(lo, lo + width + 1)
    )


@pytest.mark.parametrize("spec", ["", "a..b", "1", "0..3", "2..x"])
def test_parse_k_rejects(spec: str) -> None:
    with pytest.raises(typer.BadParameter):
        parse_k(spec)
