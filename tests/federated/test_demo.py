"""`run_demo` / `alsnet federated demo`: end to end, refusals shown, pooled == federated."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.federated.demo import SMALL_SITE, run_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(400, seed=5, out_dir=tmp_path_factory.mktemp("demo"))


def test_demo_pooled_equals_federated(demo):
    assert set(demo.max_rel_diff) == {"summary", "km", "cox", "lmm"}
    for analysis in ("km", "cox", "lmm"):
        assert demo.max_rel_diff[analysis] < 1e-6, analysis
    assert (demo.comparison["rel_diff"] < 1e-6).all()
    lmm = demo.comparison.loc[demo.comparison["analysis"] == "lmm", "quantity"].tolist()
    assert "beta months" in lmm and "slope_var" in lmm
    assert demo.comparison.loc[demo.comparison["analysis"] == "km"].shape[0] >= 2


def test_demo_sites_and_refusals(demo):
    assert demo.site_sizes[SMALL_SITE] == 12
    assert len(set(demo.site_sizes.values())) >= 4  # different sizes
    cox_refusals = demo.refusals["cox"]
    assert any("not allowed" in r for r in cox_refusals.values())  # the policy refusal
    assert SMALL_SITE in cox_refusals  # disclosure: too many parameters for 12 patients
    assert demo.results["cox"].sites == tuple(sorted(set(demo.site_sizes) - set(cox_refusals)))
    assert SMALL_SITE in demo.results["lmm"].sites  # 3 fixed effects <= 0.33 x 12
    assert demo.results["lmm"].n <= sum(demo.site_sizes.values())


def test_demo_files(demo):
    names = {p.name for p in demo.files}
    assert {"summary.json", "km.json", "cox.json", "lmm.json", "report.html"} <= names
    lmm = json.loads(next(p for p in demo.files if p.name == "lmm.json").read_text())
    assert set(lmm["coef"]) == set(lmm["se"])
    html = next(p for p in demo.files if p.name == "report.html").read_text()
    assert "Pooled vs federated" in html and "not allowed" in html


def test_cli_demo(tmp_path):
    r = CliRunner().invoke(
        app, ["federated", "demo", "--patients", "250", "--seed", "3", "--out", str(tmp_path)]
    )
    assert r.exit_code == 0, r.output
    assert "Pooled vs federated" in r.output and "did not contribute" in r.output
    assert (tmp_path / "report.html").exists() and (tmp_path / "cox.json").exists()
