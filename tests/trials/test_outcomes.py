"""Outcome sources: registry bootstrap and digital twin (library build, size, DRR recovery)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from alsnet.clinical.alsfrs import alsfrs_scores
from alsnet.synth import synthesize
from alsnet.trials import PlatformDesign, TrialDesignError, simulate
from alsnet.trials.design import WEEKS_TO_MONTHS
from alsnet.trials.outcomes import OutcomeLibrary, bootstrap_library, twin_library
from alsnet.trials.simulate import _draw_block, enrolment_schedule

VISITS = [0, 4, 8, 12, 16, 20, 24]


def _design(**over: Any) -> PlatformDesign:
    d: dict[str, Any] = {
        "name": "fixed",
        "regimens": [{"name": "A", "n": 160}],
        "control_sharing": {"rule": "own"},
        "dropout_per_month": 0.0,
        "visit_weeks": VISITS,
        "interims": None,
        "success": {"threshold": 0.975},
        "futility": None,
        "scenarios": {"null": {}, "d70": {"drr": [0.7]}, "hr2": {"drr": [1.0], "hazard_drr": [2]}},
    }
    d.update(over)
    return PlatformDesign.from_dict(d)


@pytest.fixture(scope="module")
def cohort() -> Any:
    return synthesize(800, seed=3)


@pytest.fixture(scope="module")
def library(cohort: Any) -> OutcomeLibrary:
    return bootstrap_library(cohort, _design())


def test_bootstrap_library_slopes_match_polyfit(cohort: Any, library: OutcomeLibrary) -> None:
    v = cohort.visits.assign(y=alsfrs_scores(cohort.visits)["alsfrs_r_total"])
    v = v[v["y"].notna()].sort_values(["patient_id", "day"])
    slopes, n_used = [], 0
    for _, g in v.groupby("patient_id"):
        rel = g["day"].to_numpy(float) - g["day"].min()
        sel = rel <= 24 * 7 + 45
        if sel.sum() >= 3 and rel[sel].max() >= 0.75 * 24 * 7:
            slopes.append(np.polyfit(rel[sel] / 30.4375, g["y"].to_numpy(float)[sel], 1)[0])
            n_used += 1
    t = np.asarray(VISITS) * WEEKS_TO_MONTHS
    lib_slopes = library.curves[:, -1] / t[-1]
    assert library.n_patients <= n_used and library.n_patients > 0.9 * n_used
    # same per-patient OLS slopes (up to the few excluded for an event before enrolment)
    assert np.mean(lib_slopes) == pytest.approx(np.mean(slopes), abs=0.02)
    assert np.allclose(library.curves, lib_slopes[:, None] * t[None, :])
    assert -1.4 < np.mean(lib_slopes) < -0.7  # the synthetic registry's PRO-ACT-like decline
    assert library.residuals is not None and 1.0 < np.std(library.residuals) < 3.0
    assert (library.event_months > 0).all()


def test_bootstrap_null_type_one_error_near_nominal(library: OutcomeLibrary) -> None:
    res = simulate(_design(), "null", n_sims=2000, seed=21, outcome_source=library, n_jobs=1)
    assert res.outcome_source == "bootstrap"
    se = math.sqrt(0.025 * 0.975 / 2000)
    assert abs(res.p_success[0] - 0.025) < 4 * se + 0.006
    assert abs(res.mean_drr[0] - 1.0) < 0.04


def test_bootstrap_recovers_drr(library: OutcomeLibrary) -> None:
    res = simulate(_design(), "d70", n_sims=500, seed=2, outcome_source=library, n_jobs=1)
    assert abs(res.mean_drr[0] - 0.70) < 3 * res.mean_drr_se[0] + 0.03
    assert res.bias_drr[0] == pytest.approx(res.mean_drr[0] - 0.7)
    assert res.p_success[0] > 0.3


def test_hazard_drr_stretches_library_event_times() -> None:
    d = _design()
    t = np.asarray(VISITS) * WEEKS_TO_MONTHS
    lib = OutcomeLibrary("bootstrap", -np.ones((3, t.size)) * t, np.full(3, 3.0), None, 0.0, 3)
    oc = _draw_block(d, d.scenario("hr2"), enrolment_schedule(d), 5, np.random.default_rng(0), lib)
    # placebo: event at 3.0 months -> visits before it; active: hazard x 2 -> event at 1.5
    assert (oc.k_surv[~oc.active] == np.searchsorted(t, 3.0)).all()
    assert (oc.k_surv[oc.active] == np.searchsorted(t, 1.5)).all()
    # slope of the change from baseline: exactly -1 point/month without residual noise
    slope = (oc.cty[..., -1] - t.mean() * oc.cy[..., -1]) / ((t - t.mean()) ** 2).sum()
    assert np.allclose(slope, -1.0)


class _LinearTwin:
    """Twin stand-in: latent linear decline of 1 point/month from 40, event at day 700."""

    sigma_ = 1.5

    def sample(self, data: Any, days: Any, n: int, seed: Any, *, noise: bool = True) -> Any:
        d = np.asarray(days, dtype=float)
        k = len(data.patients)
        tot = np.broadcast_to(40 - d / 30.4375, (k, n, d.size)).copy()
        return {"alsfrs_r_total": tot, "event_day": np.full((k, n), 700.0)}


class _ArrayTwin:
    def sample(self, data: Any, days: Any, n: int, seed: Any) -> Any:
        d = np.asarray(days, dtype=float)
        return np.broadcast_to(40 - 2 * d / 30.4375, (len(data.patients), n, d.size))


def test_twin_library_from_sample_dict_and_array(cohort: Any) -> None:
    d = _design()
    t = np.asarray(VISITS) * WEEKS_TO_MONTHS
    lib = twin_library(_LinearTwin(), cohort, d, enrol_month=18.0, draws=2)
    assert lib.curves.shape == (2 * len(cohort.patients), t.size)
    assert np.allclose(lib.curves, -t[None, :] * 1.0)
    assert np.allclose(lib.event_months, 700 / 30.4375 - 18.0)
    assert lib.residual_sd == 1.5
    arr = twin_library(_ArrayTwin(), cohort, d, draws=1)
    assert np.allclose(arr.curves, -2 * t[None, :]) and arr.residual_sd == 0.0
    assert np.isinf(arr.event_months).all()
    # draws whose event precedes enrolment are dropped: here all of them
    with pytest.raises(TrialDesignError, match="fewer than 2 usable registry patients"):
        twin_library(_LinearTwin(), cohort, d, enrol_month=30.0, draws=1)


def test_twin_source_with_fitted_twin_recovers_drr() -> None:
    from alsnet.twin import TwinModel

    small = synthesize(150, seed=5)
    twin = TwinModel(max_iter=20, n_mc_iter=0).fit(small)
    d = _design()
    lib = twin_library(twin, small, d, draws=4, seed=1)
    assert lib.source == "twin" and lib.residual_sd == pytest.approx(twin.sigma_)
    t_end = VISITS[-1] * WEEKS_TO_MONTHS
    assert -3.0 < np.mean(lib.curves[:, -1]) / t_end < -0.2  # a declining control course
    res = simulate(d, "d70", n_sims=500, seed=4, outcome_source=lib, n_jobs=1)
    assert res.outcome_source == "twin"
    assert abs(res.mean_drr[0] - 0.70) < 3 * res.mean_drr_se[0] + 0.04


def test_design_outcomes_key_selects_source() -> None:
    d = _design(outcomes={"source": "bootstrap", "cohort_n": 300, "cohort_seed": 1})
    assert d.outcomes.source == "bootstrap"
    res = simulate(d, "null", sims=250, seed=1, n_jobs=1)
    assert res.outcome_source == "bootstrap" and res.sims == 250
    assert res.to_dict()["outcome_source"] == "bootstrap"
    para = simulate(d, "null", n_sims=250, seed=1, outcome_source="parametric", n_jobs=1)
    assert para.outcome_source == "parametric"
    with pytest.raises(TrialDesignError, match=r"outcomes\.source: must be one of"):
        _design(outcomes={"source": "prior"})
    with pytest.raises(TrialDesignError, match="outcome_source: must be"):
        simulate(d, "null", n_sims=10, outcome_source="magic")
