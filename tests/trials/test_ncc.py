"""Non-concurrent controls with calendar-period adjustment (control-sharing rule ``nonconcurrent``).

References: statsmodels WLS with period dummies on the patient-level slopes (the batched
normal equations must agree to ~1e-8), the live analysis's period cuts
(:func:`alsnet.trials.analyse._periods`), and the unadjusted ``all`` rule, which the adjusted
estimator must reproduce exactly when there is a single period.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from alsnet.trials import PlatformDesign, TrialDesignError, _ncc, load_design, simulate
from alsnet.trials.analyse import _DAY_TO_MONTH, _periods
from alsnet.trials.design import ControlSharing
from alsnet.trials.simulate import _analyse, _context, _draw_block, enrolment_schedule


def _spec(**over: Any) -> dict[str, Any]:
    """Three regimens of 160 entering 3 months apart (overlapping), fixed design."""
    d: dict[str, Any] = {
        "name": "ncc",
        "regimens": [
            {"name": "A", "entry_month": 0, "n": 160},
            {"name": "B", "entry_month": 3, "n": 160},
            {"name": "C", "entry_month": 6, "n": 160},
        ],
        "control_sharing": {"rule": "nonconcurrent"},
        "accrual_per_month": 40,
        "interims": None,
        "futility": None,
        "scenarios": {
            "null": {},
            "slowB": {"drr": {"B": 0.7}},
            "drift": {"time_trend": -0.04},
        },
    }
    d.update(over)
    return d


def _design(rule: str = "nonconcurrent", **cs: Any) -> PlatformDesign:
    return PlatformDesign.from_dict(_spec(control_sharing={"rule": rule, **cs}))


# ------------------------------------------------------------------ estimator vs statsmodels
def _wls_reference(
    s: np.ndarray, w: np.ndarray, period: np.ndarray, arm: np.ndarray, n_reg: int
) -> tuple[np.ndarray, np.ndarray]:
    """Log DRR and variance per regimen from statsmodels WLS on one trial's patients."""
    use = w > 0
    s, w, period, arm = s[use], w[use], period[use], arm[use]
    pers = np.unique(period)
    arms = [a for a in range(1, n_reg + 1) if (arm == a).any()]
    x = np.column_stack(
        [(period == p).astype(float) for p in pers] + [(arm == a).astype(float) for a in arms]
    )
    fit = sm.WLS(s, x, weights=w).fit()
    beta, cov = fit.params, fit.normalized_cov_params  # (X'WX)^-1, no scale factor
    est = np.full(n_reg, np.nan)
    var = np.full(n_reg, np.nan)
    for j, a in enumerate(arms):
        wa = np.array([w[(arm == a) & (period == p)].sum() for p in pers])
        pi = wa / wa.sum()
        mu_c = pi @ beta[: len(pers)]
        mu_a = mu_c + beta[len(pers) + j]
        g = np.zeros(beta.size)
        g[: len(pers)] = pi * (1 / mu_a - 1 / mu_c)
        g[len(pers) + j] = 1 / mu_a
        est[a - 1] = np.log(-mu_a) - np.log(-mu_c)
        var[a - 1] = g @ cov @ g
    return est, var


@pytest.fixture(scope="module")
def recorded() -> tuple[PlatformDesign, list[dict[str, Any]]]:
    """Inputs and outputs of every period-adjusted analysis of a few simulated trials."""
    calls: list[dict[str, Any]] = []
    orig = (_ncc.periods, _ncc.slope_log_drr, _ncc.hazard_log_hr)

    def periods(ncc: _ncc.NccSetup, rnd: Any) -> Any:
        calls.append({"ncc": ncc, "rnd": rnd.copy()})
        return orig[0](ncc, rnd)

    def slope(ncc: _ncc.NccSetup, s: Any, w: Any, per: Any) -> Any:
        out = orig[1](ncc, s, w, per)
        calls[-1].update(s=s.copy(), w=w.copy(), slope=out)
        return out

    def hazard(ncc: _ncc.NccSetup, ev: Any, expo: Any, per: Any) -> Any:
        out = orig[2](ncc, ev, expo, per)
        calls[-1].update(ev=ev.copy(), expo=expo.copy(), hazard=out)
        return out

    d = PlatformDesign.from_dict(
        _spec(
            interims={"first_n": 40, "every_weeks": 12},
            futility={"threshold": 0.05},
            outcome={"mortality_24w": 0.15},
        )
    )
    mp = pytest.MonkeyPatch()
    mp.setattr(_ncc, "periods", periods)
    mp.setattr(_ncc, "slope_log_drr", slope)
    mp.setattr(_ncc, "hazard_log_hr", hazard)
    try:
        simulate(d, "drift", n_sims=4, seed=11, n_jobs=1)
    finally:
        mp.undo()
    calls = [c for c in calls if "slope" in c]  # (periods also counts the controls)
    assert len(calls) >= 6 and all("hazard" in c for c in calls)  # interims and finals
    return d, calls


def _live_periods(d: PlatformDesign, rnd: np.ndarray) -> np.ndarray:
    """Periods of one trial's randomised patients cut as the live analysis cuts days."""
    sched = enrolment_schedule(d)
    sel = np.flatnonzero(rnd)
    alloc = pd.DataFrame(
        {"regimen": sched.regimen[sel], "calendar_day": sched.enrol_month[sel] / _DAY_TO_MONTH}
    )
    period = np.zeros(rnd.size, dtype=np.int64)
    period[sel] = _periods(d, alloc)
    return period


def test_batched_estimator_equals_statsmodels_wls(
    recorded: tuple[PlatformDesign, list[dict[str, Any]]],
) -> None:
    """Every look of a few simulated trials: batched cells == patient-level WLS (1e-8)."""
    d, calls = recorded
    n_checked = 0
    for c in calls:
        est, var, ok = c["slope"]
        for i in range(c["s"].shape[0]):
            period = _live_periods(d, c["rnd"][i])
            ref_est, ref_var = _wls_reference(c["s"][i], c["w"][i], period, c["ncc"].arm[i], 3)
            for r in np.flatnonzero(ok[i]):
                np.testing.assert_allclose(est[i, r], ref_est[r], rtol=1e-8, atol=1e-10)
                np.testing.assert_allclose(var[i, r], ref_var[r], rtol=1e-8)
                n_checked += 1
    assert n_checked >= 20


def test_hazard_equals_statsmodels_poisson_glm(
    recorded: tuple[PlatformDesign, list[dict[str, Any]]],
) -> None:
    """Piecewise-exponential fit == statsmodels Poisson GLM on period x arm cells."""
    d, calls = recorded
    n_checked = 0
    for c in calls:
        log_hr, prec, ok = c["hazard"]
        for i in range(c["ev"].shape[0]):
            rnd = c["rnd"][i]
            cells = (
                pd.DataFrame(
                    {
                        "period": _live_periods(d, rnd)[rnd],
                        "arm": c["ncc"].arm[i][rnd],
                        "d": c["ev"][i][rnd],
                        "t": c["expo"][i][rnd],
                    }
                )
                .groupby(["period", "arm"], as_index=False)[["d", "t"]]
                .sum()
            )
            cells = cells[cells["t"] > 0]
            cells["d"] += cells["t"] / cells["t"].sum()  # one pseudo-death, by exposure
            x = pd.concat(
                [
                    pd.get_dummies(cells["period"], prefix="p", dtype=float),
                    pd.get_dummies(cells["arm"], prefix="a", dtype=float).drop(
                        columns="a_0", errors="ignore"
                    ),
                ],
                axis=1,
            )
            fit = sm.GLM(
                cells["d"].to_numpy(),
                x.to_numpy(),
                family=sm.families.Poisson(),
                exposure=cells["t"].to_numpy(),
            ).fit(tol=1e-13)
            params = dict(zip(x.columns, fit.params, strict=True))
            bse = dict(zip(x.columns, fit.bse, strict=True))
            for r in np.flatnonzero(ok[i]):
                key = f"a_{r + 1}"
                np.testing.assert_allclose(log_hr[i, r], params[key], rtol=1e-7, atol=1e-9)
                np.testing.assert_allclose(1 / prec[i, r], bse[key] ** 2, rtol=1e-7)
                n_checked += 1
    assert n_checked >= 20


def test_single_period_reproduces_rule_all() -> None:
    """One calendar period: the slope analysis is identical to rule ``all``.

    (The death-hazard parts differ by design: ``all`` shares one pseudo-death between a
    regimen and its controls, ``nonconcurrent`` one over all arms.)
    """
    freq = {"alpha": 0.025}  # slope analysis only: the hazard parts differ (see below)
    ncc = PlatformDesign.from_dict(
        _spec(
            control_sharing={"rule": "nonconcurrent", "period_months": 1000.0},
            frequentist=freq,
        )
    )
    pooled = PlatformDesign.from_dict(_spec(control_sharing={"rule": "all"}, frequentist=freq))
    a = simulate(ncc, "slowB", n_sims=500, seed=5, n_jobs=1)
    b = simulate(pooled, "slowB", n_sims=500, seed=5, n_jobs=1)
    np.testing.assert_allclose(a.mean_drr, b.mean_drr, rtol=1e-10)
    np.testing.assert_array_equal(a.p_success, b.p_success)
    np.testing.assert_array_equal(a.mean_controls_n, b.mean_controls_n)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_per=st.integers(2, 5),
    shift=st.floats(-2.0, 2.0),
)
def test_period_shift_leaves_arm_effects_unchanged(seed: int, n_per: int, shift: float) -> None:
    """Adding a constant to every slope of one period (calendar drift) moves only its tau."""
    rng = np.random.default_rng(seed)
    n_s, n_r = 3, 2
    wc = rng.uniform(0.5, 5.0, (n_s, n_per, n_r + 1))
    mean = rng.normal(-1.0, 0.2, (n_s, n_per, n_r + 1))
    sc = wc * mean
    beta, cov = _ncc.fit_cells(wc, sc)
    d = rng.integers(0, n_per)
    sc2 = sc.copy()
    sc2[:, d, :] += shift * wc[:, d, :]
    beta2, cov2 = _ncc.fit_cells(wc, sc2)
    np.testing.assert_allclose(beta2[:, n_per:], beta[:, n_per:], atol=1e-9)
    np.testing.assert_allclose(beta2[:, d] - beta[:, d], shift, atol=1e-9)
    np.testing.assert_allclose(cov2, cov, atol=1e-12)


def test_poisson_fit_survives_an_arm_confined_to_its_own_period() -> None:
    """A period holding only one arm's first active patients: collinear, no crash."""
    deaths = np.array([[[2.0, 3.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 0.5]]])
    expo = np.array([[[40.0, 120.0, 0.0], [30.0, 90.0, 0.0], [0.0, 0.0, 3.0]]])
    coef, cov = _ncc.fit_poisson_cells(deaths, expo)
    assert np.isfinite(coef).all() and np.isfinite(cov).all()
    # regimen 1 (two periods with placebo): the closed-form ratio of a common period effect
    rate_ratio = np.exp(coef[0, 3])
    expected = 5.0 / 210.0 / (3.0 / 70.0)  # stratified MLE = pooled ratio (equal shares)
    np.testing.assert_allclose(rate_ratio, expected, rtol=1e-6)


def test_healey_stagger6_runs_clean() -> None:
    """Regression: regimen C's first, death-free period once made the hazard Newton diverge."""
    d = load_design("healey")
    assert isinstance(d, PlatformDesign)
    d = dataclasses.replace(d, control_sharing=ControlSharing(rule="nonconcurrent"))
    r = simulate(d, "slow30_stagger6", n_sims=1000, seed=2026, n_jobs=1)  # warnings = errors
    assert np.isfinite(r.mean_drr).all() and r.p_success[0] > 0.4 > r.p_success[1]


def test_control_counts_follow_links_between_periods() -> None:
    """Placebo patients count for a regimen only in periods linked to it by active arms."""
    # periods 0..3; arms: A active in 0-1, B active in 1 only, C active in 3 only
    reg = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    active = np.array([[True, False, True, False, True, False, True, False]])
    period = np.array([[0, 0, 1, 1, 1, 1, 3, 3]])
    ncc = _ncc.setup(reg, active, np.zeros(8), 3)
    analysable = np.ones((1, 8), dtype=bool)
    counts = _ncc.control_counts(ncc, analysable, (period, 4))
    # A and B share period 1 and A spans 0-1: placebo of periods 0 and 1 (3); C alone (1)
    assert counts.tolist() == [[3.0, 3.0, 1.0]]
    analysable[0, 1] = False  # A's placebo of period 0 not analysable
    assert _ncc.control_counts(ncc, analysable, (period, 4)).tolist() == [[2.0, 2.0, 1.0]]


def test_periods_cut_at_entries_and_exits() -> None:
    """Cuts at each regimen's first enrolment and half a day after its last."""
    reg = np.array([0, 0, 1, 0, 1, 1, 2])
    e = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    ncc = _ncc.setup(reg, np.zeros((1, 7), dtype=bool), e, 3)
    per, n_per = _ncc.periods(ncc, np.ones((1, 7), dtype=bool))
    # B enters at 2, A exits half a day after 3, B after 5 (period 3 is empty), C enters at 6
    assert per.tolist() == [[0, 0, 1, 1, 2, 2, 4]] and n_per == 7
    # a look before C enrols: C defines no cut, patients after the look are period 0
    per, _ = _ncc.periods(ncc, np.array([[True] * 5 + [False] * 2]))
    assert per.tolist() == [[0, 0, 1, 1, 2, 0, 0]]
    fixed = dataclasses.replace(ncc, period_months=2.5)
    per, n_per = _ncc.periods(fixed, np.ones((1, 7), dtype=bool))
    assert per.tolist() == [[0, 0, 0, 1, 1, 2, 2]] and n_per == 3


# -------------------------------------------------------------------- operating characteristics
def test_nonconcurrent_uses_more_controls_without_drift() -> None:
    """No drift: the period-adjusted analysis with non-concurrent placebo has smaller SEs."""
    out = {}
    for rule in ("concurrent", "nonconcurrent"):
        d = _design(rule, window_months=0.0)
        sched = enrolment_schedule(d)
        oc = _draw_block(d, d.scenario("null"), sched, 400, np.random.default_rng(2))
        ctx = _context(d, sched, oc)
        if rule == "nonconcurrent":
            nsu = _ncc.setup(sched.regimen, oc.active, sched.enrol_month, 3)
            ctx = dataclasses.replace(ctx, ncc=nsu)
        est, se = _analyse(d, ctx, oc, oc.k_surv)  # every patient followed to the end
        out[rule] = (est, se)
    se_c = np.nanmean(out["concurrent"][1], axis=0)
    se_n = np.nanmean(out["nonconcurrent"][1], axis=0)
    # B and C have non-concurrent placebo linked through the arms spanning the periods
    assert (se_n[1:] < 0.97 * se_c[1:]).all()
    # and no bias without drift (log DRR ~ 0 within Monte Carlo error)
    est_n = out["nonconcurrent"][0]
    mc_se = est_n.std(axis=0) / np.sqrt(est_n.shape[0])
    assert (np.abs(est_n.mean(axis=0)) < 4 * mc_se).all()


def test_nonconcurrent_power_not_below_concurrent() -> None:
    """Same trials (common random numbers), regimen B slowed 30%: more power with NCC."""
    conc = simulate(_design("concurrent", window_months=0.0), "slowB", n_sims=1000, seed=4)
    ncc = simulate(_design("nonconcurrent", window_months=0.0), "slowB", n_sims=1000, seed=4)
    assert ncc.p_success[1] >= conc.p_success[1]
    assert ncc.mean_controls_n[1] > conc.mean_controls_n[1] + 30


@pytest.mark.slow
def test_drift_inflates_type1_of_all_not_nonconcurrent() -> None:
    """Calendar drift (-4%/month): ``all`` inflates the late regimen's type I error."""
    n = 3000
    pooled = simulate(_design("all"), "drift", n_sims=n, seed=8)
    adj = simulate(_design("nonconcurrent"), "drift", n_sims=n, seed=8)
    ref = simulate(_design("nonconcurrent"), "null", n_sims=n, seed=8)
    mc = np.sqrt(0.03 * 0.97 / n)  # Monte Carlo SE near the nominal level
    assert pooled.p_success[2] > 0.1  # C enrols last: its pooled controls progress faster
    # adjusted: within Monte Carlo error of the same design without drift
    assert abs(adj.p_success[2] - ref.p_success[2]) < 4 * np.sqrt(2) * mc
    assert (adj.p_success < 0.05).all()
    assert abs(adj.mean_drr[2] - 1.0) < 0.03 < abs(pooled.mean_drr[2] - 1.0)


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("cs", "match"),
    [
        ({"rule": "concurrent", "period_months": 3}, r"control_sharing\.period_months: only"),
        ({"rule": "nonconcurrent", "period_months": 0}, r"control_sharing\.period_months: must"),
        ({"rule": "nonconcurrent", "period_months": 0.05}, r"period_months: 0\.05 months is"),
        ({"rule": "nonconcurrent", "periods": 3}, r"control_sharing\.periods: unknown field"),
        ({"rule": "ncc"}, r"control_sharing\.rule: must be one of"),
    ],
)
def test_design_validation(cs: dict[str, Any], match: str) -> None:
    with pytest.raises(TrialDesignError, match=match):
        PlatformDesign.from_dict(_spec(control_sharing=cs))


def test_design_parses_and_rejects_subgroups() -> None:
    d = _design(period_months=2.0)
    assert d.control_sharing == ControlSharing("nonconcurrent", 180 / 30.4375, 2.0)
    sub = _spec(
        population={"sod1": 0.3},
        regimens=[
            {"name": "A", "n": 40},
            {"name": "B", "n": 40, "eligibility": {"sod1": 1}},
        ],
        scenarios={"null": {}},
    )
    with pytest.raises(TrialDesignError, match=r"control_sharing\.rule: .*regimens\[1\]"):
        PlatformDesign.from_dict(sub)
