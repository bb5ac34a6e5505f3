"""Scenarios (harm, hazard DRR, accrual/dropout/staggered overrides, calendar drift) and OCs."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

from alsnet.trials import PlatformDesign, TrialDesignError, load_design, simulate
from alsnet.trials.design import WEEKS_TO_MONTHS
from alsnet.trials.scenarios import apply_scenario
from alsnet.trials.simulate import enrolment_schedule


def _spec(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": "fixed",
        "regimens": [{"name": "A", "n": 160}],
        "control_sharing": {"rule": "own"},
        "dropout_per_month": 0.0,
        "interims": None,
        "futility": None,
        "outcome": {"mortality_24w": 0.0},
        "scenarios": {
            "null": {},
            "slow20": {"accrual_per_month": 20},
            "d50": {"drr": [0.5]},
        },
    }
    d.update(over)
    return d


def test_harm_never_succeeds_and_mostly_stops_for_futility() -> None:
    d = load_design("healey")
    res = simulate(d, "harm", n_sims=500, seed=3, n_jobs=1)
    assert res.true_drr[0] == 1.3
    assert res.p_success[0] < 0.005
    assert res.p_early_futility[0] > 0.85
    # the null regimens keep their usual behaviour
    assert res.p_success[1] < 0.06 and 0.15 < res.p_early_futility[1] < 0.45


def test_healey_published_scenarios_present_and_parsed() -> None:
    d = load_design("healey")
    fo = d.scenario("slow30_function_only")
    assert fo.drr[0] == 0.7 and fo.hazard_ratio == (1.0, 1.0, 1.0)
    assert d.scenario("slow30_harm_survival").hazard_ratio[0] == 1.3
    assert d.scenario("slow30").hazard_ratio[0] == 0.7  # hazard follows the DRR by default
    assert d.scenario("slow30_stagger6").entry_month == (0.0, 6.0, 12.0)
    assert d.scenario("null_accrual60").accrual_per_month == 60
    assert d.scenario("slow30_dropout6").dropout_per_month == 0.06
    assert d.scenario("null_calendar_drift").time_trend == -0.02


def test_overrides_change_the_schedule() -> None:
    d = load_design("healey")
    st = apply_scenario(d, d.scenario("slow30_stagger3"))
    sched = enrolment_schedule(st)
    assert [sched.enrol_month[sched.regimen == r].min() for r in range(3)] == [0.0, 3.0, 6.0]
    assert apply_scenario(d, d.scenario("null")) is d
    slow = apply_scenario(d, d.scenario("null_accrual20"))
    assert slow.accrual_per_month == 20 and d.accrual_per_month == 40


def test_accrual_override_gives_closed_form_duration() -> None:
    d = PlatformDesign.from_dict(_spec())
    fu = 24 * WEEKS_TO_MONTHS
    base = simulate(d, "null", n_sims=20, seed=1, n_jobs=1)
    slow = simulate(d, "slow20", n_sims=20, seed=1, n_jobs=1)
    # fixed design: the final look is when the last of 160 patients completes follow-up
    assert base.mean_duration_months[0] == pytest.approx(159 / 40 + fu)
    assert slow.mean_duration_months[0] == pytest.approx(159 / 20 + fu)


def test_calendar_drift_biases_only_non_concurrent_pooling() -> None:
    regs = [{"name": "A", "n": 160}, {"name": "B", "n": 160, "entry_month": 12}]
    scen = {"drift": {"time_trend": -0.03}}
    pooled = PlatformDesign.from_dict(
        _spec(regimens=regs, scenarios=scen, control_sharing={"rule": "all"})
    )
    own = PlatformDesign.from_dict(_spec(regimens=regs, scenarios=scen))
    r_all = simulate(pooled, "drift", n_sims=300, seed=2, n_jobs=1)
    r_own = simulate(own, "drift", n_sims=300, seed=2, n_jobs=1)
    # B (months 12-16) progresses ~0.6x; pooled controls mix A's (~0.97x) placebo in
    assert r_all.mean_drr[1] < 0.85
    assert abs(r_own.mean_drr[1] - 1.0) < 0.08
    assert r_all.mean_controls_n[1] == pytest.approx(80)


def test_scenario_validation_errors() -> None:
    both = {"bad": {"hazard_drr": [1.0], "hazard_ratio": [1.0]}}
    with pytest.raises(
        TrialDesignError, match=re.escape("scenarios.bad.hazard_drr: give hazard_drr")
    ):
        PlatformDesign.from_dict(_spec(scenarios=both))
    with pytest.raises(
        TrialDesignError, match=re.escape("scenarios.bad.entry_month: values must be >= 0")
    ):
        PlatformDesign.from_dict(_spec(scenarios={"bad": {"entry_month": [-1]}}))
    with pytest.raises(
        TrialDesignError, match=re.escape("scenarios.bad.accrual_per_month: must be > 0")
    ):
        PlatformDesign.from_dict(_spec(scenarios={"bad": {"accrual_per_month": 0}}))
    d = PlatformDesign.from_dict(_spec(scenarios={"bad": {"time_trend": -0.5}}))
    with pytest.raises(
        TrialDesignError, match=re.escape("scenarios.bad.time_trend: slope multiplier")
    ):
        simulate(d, "bad", n_sims=10)


def test_operating_characteristics_outputs() -> None:
    d = PlatformDesign.from_dict(_spec(success={"threshold": 0.975, "early": True}))
    res = simulate(d, "null", n_sims=50, seed=1, n_jobs=1)
    assert res.mean_placebo_n[0] == 40 and res.mean_placebo_n_se[0] == 0
    assert res.mean_controls_n[0] == 40  # own rule, complete data
    assert res.max_n[0] == 160
    assert res.p_early_success[0] == 0  # no interims
    assert res.bias_drr[0] == pytest.approx(res.mean_drr[0] - 1.0)
    # early success with interims: counted in both p_early_success and p_success
    di = PlatformDesign.from_dict(
        _spec(
            success={"threshold": 0.975, "early": True},
            interims={"first_n": 40},
            accrual_per_month=10,
        )
    )
    strong = simulate(di, "d50", n_sims=200, seed=4, n_jobs=1)
    assert 0.3 < strong.p_early_success[0] <= strong.p_success[0]
    assert strong.mean_n[0] < strong.max_n[0] == 160
    row = json.loads(strong.to_json())["regimens"][0]
    contract = {"name", "p_success", "p_early_futility", "mean_n", "mean_duration_months"}
    contract |= {"mean_drr", "true_drr", "p_success_se", "mean_drr_se"}
    extra = {"p_early_success", "max_n", "mean_placebo_n", "mean_controls_n", "bias_drr"}
    assert contract | extra | {m + "_se" for m in extra - {"max_n"}} <= set(row)
    assert np.isfinite(row["bias_drr_se"])
