"""PROCOVA calculator and analysis: closed forms, brute-force simulation, statsmodels."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.power import TTestIndPower, tt_ind_solve_power

from alsnet.exceptions import DataValidationError
from alsnet.twin import (
    adjusted_sample_size,
    procova_ancova,
    procova_control_size,
    procova_power,
    procova_resampling,
    procova_sample_size,
    procova_variance,
)


def _simulate_ancova(
    n: int, alloc: float, rho: float, sigma: float, tau: float, reps: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: (estimates, t statistics) of OLS y ~ 1 + arm + score over replicates."""
    rng = np.random.default_rng(seed)
    n1 = round(alloc * n)
    t = np.zeros(n)
    t[:n1] = 1.0
    s = rng.standard_normal((reps, n))
    e = rng.standard_normal((reps, n))
    y = tau * t + rho * sigma * s + sigma * math.sqrt(1 - rho**2) * e
    X = np.stack([np.ones((reps, n)), np.broadcast_to(t, (reps, n)), s], axis=2)
    xtx = np.einsum("rni,rnj->rij", X, X)
    xty = np.einsum("rni,rn->ri", X, y)
    beta = np.linalg.solve(xtx, xty[..., None])[..., 0]
    resid = y - np.einsum("rni,ri->rn", X, beta)
    s2 = (resid**2).sum(axis=1) / (n - 3)
    var_t = s2 * np.linalg.inv(xtx)[:, 1, 1]
    return beta[:, 1], beta[:, 1] / np.sqrt(var_t)


def test_variance_reference_values() -> None:
    # platform-trials.md §8.5: pi1 = 0.75, rho = 0.7, sigma = 1 -> 2.72; pi1 = 0.5 -> 2.04
    assert procova_variance(rho=0.7, allocation=0.75) == pytest.approx(2.72, abs=0.005)
    assert procova_variance(rho=0.7, allocation=0.5) == pytest.approx(2.04, abs=0.005)


def test_variance_equal_arms_closed_form() -> None:
    for rho, pi in [(0.3, 0.5), (0.6, 0.3), (0.9, 0.8)]:
        expect = (1 - rho**2) / (pi * (1 - pi)) * 2.5**2
        assert procova_variance(rho=rho, sigma=2.5, allocation=pi) == pytest.approx(expect)


def test_variance_unequal_arms_hand_value() -> None:
    # V = s1^2/p1 + s0^2/p0 - p0 p1 (r1 s1/p1 + r0 s0/p0)^2, by hand
    v = procova_variance(rho=0.5, sigma=2.0, allocation=0.6, rho_control=0.3, sigma_control=1.0)
    hand = 4 / 0.6 + 1 / 0.4 - 0.24 * (0.5 * 2 / 0.6 + 0.3 * 1 / 0.4) ** 2
    assert v == pytest.approx(hand)


@pytest.mark.parametrize(("alloc", "rho"), [(0.5, 0.5), (0.75, 0.7)])
def test_variance_matches_simulated_ancova(alloc: float, rho: float) -> None:
    n, reps = 800, 3000
    est, _ = _simulate_ancova(n, alloc, rho, sigma=1.3, tau=0.2, reps=reps, seed=11)
    v_sim = n * est.var(ddof=1)
    v_formula = procova_variance(rho=rho, sigma=1.3, allocation=alloc)
    # SE of a variance estimate from 3000 normal draws is about 2.6%
    assert v_sim == pytest.approx(v_formula, rel=0.08)
    assert est.mean() == pytest.approx(0.2, abs=4 * math.sqrt(v_formula / n / reps))


def test_power_matches_simulated_rejection_rate() -> None:
    n, rho, delta = 98, 0.5, 0.5
    _, tstat = _simulate_ancova(n, 0.5, rho, sigma=1.0, tau=delta, reps=4000, seed=5)
    crit = 1.984723  # t_{0.975, 95}
    rate = float(np.mean(np.abs(tstat) > crit))
    pw = float(procova_power(n=n, delta=delta, sigma=1.0, rho=rho))
    assert rate == pytest.approx(pw, abs=0.025)  # MC SE ~ 0.006
    # type I error under the null
    _, t0 = _simulate_ancova(n, 0.5, rho, sigma=1.0, tau=0.0, reps=4000, seed=6)
    assert float(np.mean(np.abs(t0) > crit)) == pytest.approx(0.05, abs=0.015)


@pytest.mark.parametrize("ratio", [1.0, 2.0])
def test_unadjusted_power_equals_statsmodels_t_test(ratio: float) -> None:
    n0 = 40
    n1 = int(ratio * n0)
    ours = float(procova_power(n=n0 + n1, delta=0.4, sigma=1.0, rho=0.0, ratio=ratio))
    ref = TTestIndPower().power(effect_size=0.4, nobs1=n1, alpha=0.05, ratio=1 / ratio)
    assert ours == pytest.approx(ref, abs=1e-6)


def test_sample_size_unadjusted_matches_statsmodels() -> None:
    n1 = tt_ind_solve_power(effect_size=0.5, alpha=0.05, power=0.8, ratio=1.0)
    s = procova_sample_size(delta=0.5, sigma=1.0, rho=0.0)
    assert s.n_treated == math.ceil(n1) == 64
    assert s.n_total == s.n_unadjusted == 128
    assert s.power >= 0.8


def test_sample_size_is_minimal_and_near_n_adj() -> None:
    for rho in (0.3, 0.5, 0.7):
        s = procova_sample_size(delta=0.3, sigma=1.0, rho=rho)
        assert s.power >= 0.8
        half = s.n_treated - 1
        below = procova_power(n=2 * half, delta=0.3, sigma=1.0, rho=rho)
        assert below < 0.8
        assert s.n_total == pytest.approx(adjusted_sample_size(s.n_unadjusted, rho), abs=4)


def test_adjusted_sample_size_reference_savings() -> None:
    # platform-trials.md §7: rho 0.5 -> -25%, 0.6 -> -36%, 0.7 -> -49%
    for rho, saving in [(0.5, 0.25), (0.6, 0.36), (0.7, 0.49)]:
        assert adjusted_sample_size(1000, rho) == pytest.approx(1000 * (1 - saving))


@settings(max_examples=40, deadline=None)
@given(
    rho=st.floats(0.0, 0.95),
    alloc=st.floats(0.1, 0.9),
    n=st.integers(10, 2000),
)
def test_power_properties(rho: float, alloc: float, n: int) -> None:
    ratio = alloc / (1 - alloc)
    p_adj = procova_power(n=[n, n + 10], delta=0.3, sigma=1.0, rho=rho, ratio=ratio)
    p_un = procova_power(n=n, delta=0.3, sigma=1.0, rho=0.0, ratio=ratio, method="normal")
    assert np.all((p_adj >= 0) & (p_adj <= 1))
    assert p_adj[1] >= p_adj[0] - 1e-12
    p_adj_norm = procova_power(n=n, delta=0.3, sigma=1.0, rho=rho, ratio=ratio, method="normal")
    assert float(p_adj_norm) >= float(p_un) - 1e-12
    assert procova_variance(rho=rho, allocation=alloc) <= procova_variance(
        rho=0.0, allocation=alloc
    )


def test_ancova_matches_numpy_least_squares() -> None:
    rng = np.random.default_rng(3)
    n = 60
    t = rng.permutation(np.r_[np.ones(30), np.zeros(30)])
    s = rng.normal(size=n)
    y = 0.4 * t + 0.8 * s + rng.normal(size=n)
    r = procova_ancova(y, t, s)
    X = np.column_stack([np.ones(n), t, s - s.mean()])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    se = math.sqrt(resid @ resid / (n - 3) * np.linalg.inv(X.T @ X)[1, 1])
    assert r.estimate == pytest.approx(beta[1])
    assert r.se == pytest.approx(se)
    assert r.score_coef == pytest.approx(beta[2])
    half = 2.0024654 * se  # t_{0.975, 57}
    assert (r.ci_low, r.ci_high) == pytest.approx((beta[1] - half, beta[1] + half), rel=1e-6)
    assert (r.n_treated, r.n_control, r.df) == (30, 30, 57.0)
    assert r.summary().shape == (1, 8)
    assert "ProcovaResult(estimate=" in repr(r)
    assert "<table" in r._repr_html_()
    assert json.loads(r.to_json())["n_treated"] == 30


def test_ancova_bad_input() -> None:
    with pytest.raises(DataValidationError, match="must be 0 or 1"):
        procova_ancova([1.0, 2.0, 3.0, 4.0], [0, 2, 1, 1], [0.0, 1.0, 2.0, 3.0])
    with pytest.raises(DataValidationError, match="finite"):
        procova_ancova([1.0, np.nan, 3.0, 4.0], [0, 0, 1, 1], [0.0, 1.0, 2.0, 3.0])
    with pytest.raises(DataValidationError, match="both arms"):
        procova_ancova([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1], [0.0, 1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="rho"):
        procova_variance(rho=1.0)
    with pytest.raises(ValueError, match="delta"):
        procova_sample_size(delta=0.0, sigma=1.0, rho=0.5)


def test_control_size_matches_unadjusted_precision() -> None:
    # 1/n0 = (1/100 + 1/100)/0.75 - 1/100 = 1/60
    assert procova_control_size(n_treated=100, n_control_unadjusted=100, rho=0.5) == 60
    for rho in (0.3, 0.6):
        n0 = procova_control_size(n_treated=150, n_control_unadjusted=120, rho=rho)
        target = 1 / 150 + 1 / 120
        assert (1 - rho**2) * (1 / n0 + 1 / 150) <= target + 1e-12
        assert (1 - rho**2) * (1 / (n0 - 1) + 1 / 150) > target


def test_resampling_check_agrees_with_formulas() -> None:
    rng = np.random.default_rng(9)
    m, rho = 3000, 0.6
    s = rng.standard_normal(m)
    y = rho * s + math.sqrt(1 - rho**2) * rng.standard_normal(m)
    chk = procova_resampling(y, s, n=200, effect=0.35, reps=3000, seed=1)
    assert chk.rho == pytest.approx(rho, abs=0.03)
    assert chk.variance_ratio == pytest.approx(1 - chk.rho**2, abs=0.06)
    assert chk.type1_unadjusted == pytest.approx(0.05, abs=0.015)
    assert chk.type1_adjusted == pytest.approx(0.05, abs=0.015)
    pw_un = float(procova_power(n=200, delta=0.35, sigma=float(y.std()), rho=0.0))
    pw_adj = float(procova_power(n=200, delta=0.35, sigma=float(y.std()), rho=chk.rho))
    assert chk.power_unadjusted == pytest.approx(pw_un, abs=0.04)
    assert chk.power_adjusted == pytest.approx(pw_adj, abs=0.04)
    assert chk.se_unadjusted == pytest.approx(math.sqrt(4 / 200) * y.std(), rel=0.06)
    with pytest.raises(ValueError, match="even"):
        procova_resampling(y, s, n=201)
