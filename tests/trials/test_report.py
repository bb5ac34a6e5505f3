"""OC and DSMB reports: render, and show the numbers of the results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.trials import PlatformDesign, TrialDesignError, simulate
from alsnet.trials.analyse import allocation_from_frame, analyse_trial
from alsnet.trials.report import dsmb_report, oc_report, oc_table
from alsnet.trials.synthetic import simulate_live_trial


def _design() -> PlatformDesign:
    return PlatformDesign.from_dict(
        {
            "name": "rep",
            "regimens": [{"name": "A", "n": 80}, {"name": "B", "entry_month": 1, "n": 80}],
            "interims": {"first_n": 40, "every_weeks": 12},
            "scenarios": {"null": {"drr": 1.0}, "slow": {"drr": {"A": 0.6, "B": 1.0}}},
        }
    )


def _fake(design: str, scenario: str, drr: float, p: float) -> dict[str, Any]:
    return {
        "design": design,
        "scenario": scenario,
        "sims": 1000,
        "seed": 0,
        "elapsed_s": 1.0,
        "regimens": [
            {
                "name": "A",
                "true_drr": drr,
                "p_success": p,
                "p_success_se": 0.0123,
                "p_early_futility": 0.25,
                "p_early_futility_se": 0.0137,
                "mean_n": 150.5,
                "mean_n_se": 0.8,
                "mean_duration_months": 14.2,
                "mean_duration_months_se": 0.05,
                "mean_drr": None,
                "mean_drr_se": None,
                "futility_by_look": [{"p": 0.2, "mean_drr": 1.3}, {"p": 0.05, "mean_drr": None}],
            }
        ],
    }


def test_oc_report_renders_the_numbers(tmp_path: Path) -> None:
    d = _design()
    real = [simulate(d, sc, n_sims=250, seed=1).to_dict() for sc in ("null", "slow")]
    real = [json.loads(json.dumps(r)) for r in real]  # as read back from RESULT.json
    fakes = [_fake("other", "null", 1.0, 0.0312), _fake("other", "slow", 0.7, 0.7777)]
    out = oc_report([*real, *fakes], tmp_path / "oc.html")
    html = out.read_text(encoding="utf-8")
    table = oc_table([*real, *fakes])
    assert len(table) == 2 * 2 + 2
    assert "0.031 ± 0.012" in html and "0.778 ± 0.012" in html
    ps = real[1]["regimens"][0]
    assert f"{ps['p_success']:.3f} ± {ps['p_success_se']:.3f}" in html
    for title in ("Power curves", "Stopping times", "Sample size and duration"):
        assert title in html
    assert "futility at interim 2" in html
    assert "reached the final look" in html


def test_oc_report_refuses_non_results(tmp_path: Path) -> None:
    with pytest.raises(TrialDesignError, match=r"results\[0\]\.sims"):
        oc_report([{"design": "x", "scenario": "y", "regimens": []}], tmp_path / "x.html")
    with pytest.raises(TrialDesignError, match="at least one"):
        oc_report([], tmp_path / "x.html")


def test_dsmb_report_renders_decisions_and_no_patient_ids(tmp_path: Path) -> None:
    d = _design()
    cohort, alloc = simulate_live_trial(d, "slow", seed=2)
    res = analyse_trial(d, cohort, allocation_from_frame(alloc, d), final=True)
    out = dsmb_report(res, tmp_path / "dsmb.html", design=d)
    html = out.read_text(encoding="utf-8")
    for r in res.regimens:
        assert r.decision in html
        assert f"{r.drr.drr_mean:.3f}" in html
    for title in ("Enrolment", "ALSFRS-R trajectories", "Posterior of the DRR", "Secondary"):
        assert title in html
    assert "T00001" not in html  # aggregates only
    n_a = int(res.enrolment.loc[res.enrolment["regimen"] == "A", "active"].iloc[0])
    assert f">{n_a}<" in html.replace(" ", "")


def test_cli_report(tmp_path: Path) -> None:
    paths = []
    for i, sc in enumerate(("null", "slow")):
        p = tmp_path / f"r{i}.json"
        p.write_text(json.dumps(_fake("x", sc, 1.0 - 0.3 * i, 0.1 + i / 2)), encoding="utf-8")
        paths.append(str(p))
    res = CliRunner().invoke(app, ["trial", "report", *paths, "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "rep" / "oc_report.html").read_text(encoding="utf-8")
    assert "0.600 ± 0.012" in html
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    res = CliRunner().invoke(app, ["trial", "report", str(bad), "--out", str(tmp_path)])
    assert res.exit_code == 2 and "not valid JSON" in res.output
