"""Live-trial analysis: registry round trip, decisions, allocation checks, time adjustment."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from alsnet.exceptions import DataValidationError
from alsnet.registry import Store
from alsnet.trials import PlatformDesign, TrialDesignError
from alsnet.trials.analyse import (
    allocation_from_cohort,
    allocation_from_frame,
    analyse_trial,
)
from alsnet.trials.synthetic import simulate_live_trial


def _design_dict(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": "mini",
        "regimens": [{"name": "A", "n": 160}, {"name": "B", "entry_month": 1, "n": 160}],
        "allocation": {"active": 3, "placebo": 1},
        "control_sharing": {"rule": "concurrent", "window_months": 5.9},
        "accrual_per_month": 40,
        "interims": {"first_n": 40, "every_weeks": 12},
        "success": {"threshold": 0.979},
        "futility": {"threshold": 0.05, "drr": 0.9},
        "scenarios": {
            "mixed": {"drr": {"A": 0.6, "B": 1.3}},
            "null": {"drr": 1.0},
        },
    }
    d.update(over)
    return d


def _design(**over: Any) -> PlatformDesign:
    return PlatformDesign.from_dict(_design_dict(**over))


@pytest.fixture(scope="module")
def trial() -> tuple[PlatformDesign, Any, pd.DataFrame]:
    d = _design()
    cohort, alloc = simulate_live_trial(d, "mixed", seed=3)
    return d, cohort, alloc


def test_registry_round_trip_and_final_decisions(
    trial: tuple[PlatformDesign, Any, pd.DataFrame], tmp_path: Path
) -> None:
    d, cohort, alloc = trial
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    with Store.open(url) as store:
        store.save(cohort, source="synthetic trial")
    with Store.open(url, create=False) as store:
        loaded = store.load()
    a_reg = allocation_from_cohort(loaded, "mini", d)
    assert len(a_reg) == len(alloc) == 320
    assert a_reg["calendar_day"].isna().all()  # the registry stores no calendar day
    res = analyse_trial(d, loaded, a_reg, final=True)
    direct = analyse_trial(d, cohort, allocation_from_frame(alloc, d), final=True, secondary=False)
    s_reg, s_dir = res.summary(), direct.summary()
    # all placebo are concurrent here (B enters 1 month after A), so both agree exactly
    np.testing.assert_allclose(s_reg["drr_mean"], s_dir["drr_mean"], rtol=1e-9)
    assert list(s_reg["decision"]) == ["success", "no success"]
    a, b = res.regimens
    assert a.n_active == 120 and a.n_control == 80  # own 40 + B's concurrent 40
    assert a.drr.drr_ci[0] < 0.6 < a.drr.drr_ci[1]
    assert b.drr.drr_ci[0] < 1.3 < b.drr.drr_ci[1]
    # the Bayesian DRR and the mixed model's slope ratio are two estimates of one thing
    assert a.mixed_model["slope_ratio"] == pytest.approx(a.drr.drr_mean, abs=0.1)
    assert a.mixed_model["z"] > 2.5 and b.mixed_model["z"] < 0
    assert a.cafs["win_probability"] > 0.5 > b.cafs["win_probability"]
    assert a.cafs["n_treated"] + a.cafs["n_control"] == 200
    js = json.dumps(res.to_dict(), allow_nan=False)
    assert "T0" not in js  # no patient ids in the result


def test_interim_futility_for_a_harmful_regimen(
    trial: tuple[PlatformDesign, Any, pd.DataFrame],
) -> None:
    d, _, _ = trial
    cohort, alloc = simulate_live_trial(d, "mixed", seed=5, data_cut_month=9.0)
    res = analyse_trial(d, cohort, allocation_from_frame(alloc, d), secondary=False)
    dec = {r.regimen: r.decision for r in res.regimens}
    assert dec == {"A": "continue", "B": "stop for futility"}
    assert res.look == "interim"
    b = res.regimens[1]
    assert b.drr.pr_below(0.9) < 0.05
    assert "futility threshold 0.05" in b.rule


def test_allocation_errors_name_row_and_column() -> None:
    d = _design()
    bad = pd.DataFrame(
        {
            "patient_id": ["P1", "P2", "P2"],
            "regimen": ["A", "Z", "B"],
            "arm": ["active", "placebo", "drug"],
            "randomised_day": [10, 20, 30],
        }
    )
    with pytest.raises(DataValidationError) as ei:
        allocation_from_frame(bad, d, source="alloc.csv")
    msg = str(ei.value)
    assert "alloc.csv, line 3, column 'regimen'" in msg
    assert "line 4, column 'arm'" in msg
    assert "randomised twice" in msg
    with pytest.raises(DataValidationError, match="randomised_day"):
        allocation_from_frame(bad.drop(columns="randomised_day"), d)


def test_time_adjustment_removes_drift_bias_with_nonconcurrent_controls() -> None:
    """Regimen B enrols after A has closed and shares all placebo; slopes drift over time.

    Closed form of the naive bias: slopes shrink by exp(-0.03/month); B's active patients
    (months 12-22) are compared with a 50/50 mix of A's placebo (months 0-10) and B's, so
    log DRR ~ log(e^{-0.03*17} / mean(e^{-0.03*5}, e^{-0.03*17})) ~ -0.18. With the period
    adjustment the estimate is unbiased; averaged over 6 trials.
    """
    d = _design(
        regimens=[{"name": "A", "n": 400}, {"name": "B", "entry_month": 12, "n": 400}],
        control_sharing={"rule": "nonconcurrent"},
        dropout_per_month=0.0,
    )
    naive_est, adj_est, adj_sd = [], [], []
    for seed in range(3, 9):
        cohort, alloc = simulate_live_trial(d, "null", seed=seed, drift_per_month=-0.03)
        a = allocation_from_frame(alloc, d)
        naive = analyse_trial(d, cohort, a, final=True, time_adjustment=False, secondary=False)
        adj = analyse_trial(d, cohort, a, final=True, secondary=False)
        assert adj.time_adjusted and not naive.time_adjusted
        b_naive, b_adj = naive.regimens[1], adj.regimens[1]
        naive_est.append(b_naive.drr.log_drr_mean)
        adj_est.append(b_adj.drr.log_drr_mean)
        adj_sd.append(b_adj.drr.log_drr_sd)
    # A's placebo randomised more than the sharing window (180 days) before B opened
    b_open = a.loc[a["regimen"] == "B", "calendar_day"].min()
    w_days = d.control_sharing.window_months * 52 * 7 / 12
    early = (a["arm"] == "placebo") & (a["calendar_day"] < b_open - w_days)
    assert b_adj.n_nonconcurrent == int(early.sum()) > 40
    se_mean = float(np.mean(adj_sd)) / math.sqrt(len(adj_sd))
    expected_naive = math.log(
        math.exp(-0.03 * 17) / np.mean([math.exp(-0.03 * 5), math.exp(-0.03 * 17)])
    )
    assert np.mean(naive_est) == pytest.approx(expected_naive, abs=3 * se_mean)
    assert abs(np.mean(adj_est)) < 2.5 * se_mean


def test_cli_analyse_from_registry_and_from_csv(
    trial: tuple[PlatformDesign, Any, pd.DataFrame], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from alsnet.cli import app
    from alsnet.io.canonical import write_csv

    _d, cohort, alloc = trial
    design = tmp_path / "mini.yaml"
    design.write_text(yaml.safe_dump(_design_dict()), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    with Store.open(url) as store:
        store.save(cohort)

    def analyse(*args: str) -> Any:
        return CliRunner().invoke(app, ["trial", "analyse", str(design), *args])

    res = analyse("--db", url, "--regimen", "B", "--out", str(tmp_path / "a1"))
    assert res.exit_code == 0, res.output
    js = json.loads((tmp_path / "a1" / "analysis.json").read_text())
    assert [r["name"] for r in js["regimens"]] == ["B"]
    assert js["regimens"][0]["decision"] == "stop for futility"
    assert (tmp_path / "a1" / "dsmb_report.html").stat().st_size > 10_000
    write_csv(cohort, tmp_path / "csv")
    alloc.to_csv(tmp_path / "alloc.csv", index=False)
    csv = ("--input", str(tmp_path / "csv"))
    res = analyse(
        *csv,
        "--allocation",
        str(tmp_path / "alloc.csv"),
        "--final",
        "--regimen",
        "A",
        "--out",
        str(tmp_path / "a2"),
    )
    assert res.exit_code == 0, res.output
    js2 = json.loads((tmp_path / "a2" / "analysis.json").read_text())
    assert js2["look"] == "final" and js2["regimens"][0]["decision"] == "success"
    bad = tmp_path / "bad.csv"
    alloc.assign(arm="drug").to_csv(bad, index=False)
    res = analyse(*csv, "--allocation", str(bad), "--out", str(tmp_path / "a3"))
    assert res.exit_code == 1 and "bad.csv, line 2, column 'arm'" in res.output


def test_procova_with_scores_matches_the_slope_difference(
    trial: tuple[PlatformDesign, Any, pd.DataFrame],
) -> None:
    """A pure-noise score: PROCOVA reduces to the OLS difference of per-patient slopes."""
    d, cohort, alloc = trial
    rng = np.random.default_rng(0)
    scores = pd.Series(rng.normal(size=len(alloc)), index=alloc["patient_id"])
    res = analyse_trial(
        d,
        cohort,
        allocation_from_frame(alloc, d),
        final=True,
        regimens=["A"],
        scores=scores,
        secondary=False,
    )
    pc = res.regimens[0].procova
    # independent check: difference of mean OLS slopes (a noise score barely moves it)
    act = ((alloc["regimen"] == "A") & (alloc["arm"] == "active")).to_numpy()
    v = cohort.visits.merge(alloc, on="patient_id")
    v["month"] = (v["day"] - v["randomised_day"]) * 12 / 52 / 7
    slopes = v.groupby("patient_id").apply(
        lambda g: np.polyfit(g["month"], g["total_reported"], 1)[0] if len(g) > 1 else np.nan,
        include_groups=False,
    )
    ids = alloc["patient_id"]
    ctl = (alloc["arm"] == "placebo").to_numpy()
    s_act, s_ctl = slopes.reindex(ids[act]), slopes.reindex(ids[ctl])
    assert pc["n_treated"] == int(s_act.notna().sum()) > 110  # patients with >= 2 visits
    assert pc["n_control"] == int(s_ctl.notna().sum()) > 70
    diff = float(s_act.mean() - s_ctl.mean())
    assert pc["estimate"] == pytest.approx(diff, abs=0.5 * pc["se"])


def test_regimen_without_follow_up_is_named(
    trial: tuple[PlatformDesign, Any, pd.DataFrame],
) -> None:
    d, _, _ = trial
    cohort, alloc = simulate_live_trial(d, "mixed", seed=5, data_cut_month=1.2)
    a = allocation_from_frame(alloc, d)
    with pytest.raises(TrialDesignError, match=r"regimen B: .*fewer than 2 patients"):
        analyse_trial(d, cohort, a, secondary=False)


@pytest.mark.slow
def test_mcmc_analysis_drives_the_decision(
    trial: tuple[PlatformDesign, Any, pd.DataFrame], tmp_path: Path
) -> None:
    pytest.importorskip("numpyro")
    from alsnet.trials.report import dsmb_report

    d, cohort, alloc = trial
    res = analyse_trial(
        d,
        cohort,
        allocation_from_frame(alloc, d),
        final=True,
        regimens=["A"],
        mcmc=True,
        mcmc_options={"num_chains": 1, "num_warmup": 300, "num_samples": 300},
        secondary=False,
    )
    r = res.regimens[0]
    assert r.drr_mcmc is not None and r.primary is r.drr_mcmc
    assert r.drr_mcmc.drr_mean == pytest.approx(r.drr.drr_mean, abs=0.03)
    assert f"{r.drr_mcmc.pr_below(1.0):.4f}" in r.rule
    assert res.summary()["method"].iloc[0] == "mcmc"
    html = dsmb_report(res, tmp_path / "r.html", design=d).read_text(encoding="utf-8")
    assert "A (MCMC)" in html
