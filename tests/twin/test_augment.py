"""Twin-augmented control: closed forms, sandwich SE and simulated operating characteristics."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from alsnet.exceptions import DataValidationError
from alsnet.twin.augment import (
    _ancova,
    augmented_estimate,
    simulate_augmented,
    twin_covariate,
    twin_prior_control,
)
from alsnet.twin.procova import procova_ancova


def _trial(seed: int, n_t: int = 40, n_c: int = 25) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n = n_t + n_c
    t = np.arange(n) < n_t
    u = rng.normal(0, 0.8, n)
    y = u + rng.normal(0, 0.6, n) + 0.3 * t
    return y, t, u + rng.normal(0, 0.1, n)


def test_a0_zero_is_the_two_sample_comparison() -> None:
    y, t, m = _trial(0)
    r = twin_prior_control(y, t, m, a0=0.0)
    assert r.effect == pytest.approx(y[t].mean() - y[~t].mean())
    se = np.sqrt(y[t].var(ddof=1) / t.sum() + y[~t].var(ddof=1) / (~t).sum())
    assert r.se == pytest.approx(se)
    assert r.effective_controls == (~t).sum()
    welch = stats.ttest_ind(y[t], y[~t], equal_var=False)
    assert r.p_value == pytest.approx(welch.pvalue)


def test_estimate_is_the_power_prior_posterior_mean() -> None:
    y, t, m = _trial(1)
    a0 = 0.4
    # conjugate normal update: flat prior, n_c real controls with variance s2 and n twins
    # whose likelihood is raised to the power a0 (precision a0 / s2 each)
    s2 = 1.0
    prec = (~t).sum() / s2 + a0 * len(m) / s2
    post = (y[~t].sum() / s2 + a0 * m.sum() / s2) / prec
    r = twin_prior_control(y, t, m, a0=a0)
    assert r.control_mean == pytest.approx(post)
    assert r.effect == pytest.approx(y[t].mean() - post)
    assert r.ci_low < r.effect < r.ci_high


def test_sandwich_se_matches_monte_carlo_spread() -> None:
    rng = np.random.default_rng(2)
    k, n_t, n_c = 4000, 60, 30
    n = n_t + n_c
    t = np.broadcast_to(np.arange(n) < n_t, (k, n))
    u = rng.normal(0, 0.7, (k, n))
    y = u + rng.normal(0, 0.7, (k, n))
    eff, se, _, _ = augmented_estimate(y, t, u, 0.7)
    assert np.mean(se) == pytest.approx(np.std(eff), rel=0.05)
    assert abs(np.mean(eff)) < 4 * np.std(eff) / np.sqrt(k)


def test_vectorised_ancova_matches_statsmodels() -> None:
    y, t, m = _trial(3)
    eff, se = _ancova(y[None, :], t[None, :], m[None, :])
    x = sm.add_constant(np.column_stack([t.astype(float), m]))
    fit = sm.OLS(y, x).fit()
    assert eff[0] == pytest.approx(fit.params[1])
    assert se[0] == pytest.approx(fit.bse[1])
    r = twin_covariate(y, t, m)
    assert r == procova_ancova(y, t, m)


def test_type_one_error_unbiased_twin_and_inflation_when_biased() -> None:
    kw = {"n_treated": 80, "n_control": 40, "rho": 0.7, "a0": 0.5, "n_sims": 20_000, "seed": 4}
    null = simulate_augmented(effect=0.0, twin_bias=0.0, **kw)  # type: ignore[arg-type]
    for name, rate in null.rejection.items():
        assert rate <= 0.05 + 3 * null.mc_se[name], name
    biased = simulate_augmented(effect=0.0, twin_bias=0.3, **kw)  # type: ignore[arg-type]
    assert biased.rejection["twin prior"] > 0.2
    # the covariate use stays valid with a biased twin
    assert biased.rejection["twin covariate"] <= 0.05 + 3 * biased.mc_se["twin covariate"]
    # bias of the prior estimate = -b a0 n / (n_c + a0 n)
    assert biased.mean_effect["twin prior"] == pytest.approx(-0.3 * 0.5 * 120 / 100, abs=0.01)


def test_twin_prior_gains_power_when_unbiased() -> None:
    kw = {"n_treated": 80, "n_control": 40, "effect": 0.4, "n_sims": 4000, "seed": 5}
    r = simulate_augmented(**kw)  # type: ignore[arg-type]
    assert r.rejection["twin prior"] > r.rejection["control only"] + 0.1


def test_bad_input_is_refused() -> None:
    y, t, m = _trial(6)
    with pytest.raises(DataValidationError):
        twin_prior_control(y, t, m, a0=-1)
    m2 = m.copy()
    m2[0] = np.nan
    with pytest.raises(DataValidationError):
        twin_prior_control(y, t, m2)
    with pytest.raises(DataValidationError):
        twin_prior_control(y[:3], np.array([1, 0, 0]), m[:3])
