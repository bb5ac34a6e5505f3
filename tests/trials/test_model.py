"""DRR shared-parameter model: truth recovery, Laplace vs NumPyro MCMC, period adjustment.

The default model scales the *mean* slope (``slope_effect="mean"``); ``"patient"`` scales every
patient's slope (HEALEY's literal ``beta_i exp(theta)``). Data are simulated with a
multiplicative (``DRR x b_i``) or an additive (``b_i + (DRR - 1) mean``) treatment effect.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

from alsnet.trials import TrialDesignError
from alsnet.trials.model import (
    DrrData,
    _logpost_bounded,
    _Problem,
    _start,
    _summaries,
    fit_drr_laplace,
    fit_drr_mcmc,
    simulate_drr_data,
)


def test_summaries_match_per_patient_least_squares() -> None:
    d = simulate_drr_data(20, 10, drr=0.8, rng=np.random.default_rng(0))
    s = _summaries(d)
    for i in range(d.n_patients):
        m = d.obs_patient == i
        if m.sum() < 2:
            assert not s.has2[i]
            continue
        coef, res, *_ = np.polyfit(d.obs_month[m], d.obs_alsfrs[m], 1, full=True)
        assert s.slope[i] == pytest.approx(coef[0], abs=1e-9)
        rss = float(res[0]) if len(res) else 0.0
        assert s.rss[i] == pytest.approx(rss, abs=1e-7)


def test_laplace_recovers_drr_and_covers_it() -> None:
    """DRR 0.7 on 300 patients (3:1): mean log-DRR estimate unbiased, 95% CrI covers ~95%."""
    rng = np.random.default_rng(11)
    est, cover, z = [], [], []
    for _ in range(120):
        post = fit_drr_laplace(simulate_drr_data(225, 75, drr=0.7, rng=rng))
        est.append(post.log_drr_mean)
        lo, hi = post.drr_ci
        cover.append(lo < 0.7 < hi)
        z.append((post.log_drr_mean - math.log(0.7)) / post.log_drr_sd)
    est_a = np.asarray(est)
    mc_se = est_a.std(ddof=1) / math.sqrt(est_a.size)
    assert abs(est_a.mean() - math.log(0.7)) < 3.5 * mc_se + 0.01
    assert 0.88 <= np.mean(cover) <= 0.995
    # the posterior SD matches the sampling SD of the estimate (calibrated uncertainty)
    assert 0.8 < float(np.std(z, ddof=1)) < 1.25


@pytest.mark.parametrize(
    ("effect", "slope_effect"), [("additive", "mean"), ("multiplicative", "patient")]
)
def test_laplace_large_sample_recovers_every_parameter(effect: str, slope_effect: str) -> None:
    """Each model on data drawn from it: every parameter recovered (sigma_b is the control SD)."""
    d = simulate_drr_data(
        3000, 3000, drr=0.7, rng=np.random.default_rng(5), mortality_24w=0.2, effect=effect
    )
    post = fit_drr_laplace(d, slope_effect=slope_effect)
    assert post.slope_effect == slope_effect
    assert post.drr_ci[0] < 0.7 < post.drr_ci[1]
    assert post.drr_mean == pytest.approx(0.7, abs=0.03)
    assert post.params["mu_b"] == pytest.approx(1.03, abs=0.05)
    assert post.params["sigma_b"] == pytest.approx(0.76, abs=0.06)
    assert post.params["sigma_e"] == pytest.approx(1.77, abs=0.03)
    lam = -math.log(0.8) / (24 * 12 / 52)  # closed form: 24-week event probability 0.2
    assert post.params["lambda0"] == pytest.approx(lam, rel=0.12)


def test_hazard_alone_informs_drr() -> None:
    """No ALSFRS-R effect but a strong hazard effect: the DRR moves below 1 via the events."""
    rng = np.random.default_rng(2)
    d = simulate_drr_data(
        2000, 2000, drr=1.0, hazard_ratio=0.3, rng=rng, mortality_24w=0.5, slope_sd=0.01
    )
    only_slope = simulate_drr_data(
        2000,
        2000,
        drr=1.0,
        hazard_ratio=1.0,
        rng=np.random.default_rng(2),
        mortality_24w=0.5,
        slope_sd=0.01,
    )
    assert fit_drr_laplace(d).drr_mean < fit_drr_laplace(only_slope).drr_mean - 0.01


def test_pr_below_is_normal_cdf_on_log_scale() -> None:
    post = fit_drr_laplace(simulate_drr_data(90, 30, drr=1.0, rng=np.random.default_rng(7)))
    want = stats.norm.cdf((math.log(0.9) - post.log_drr_mean) / post.log_drr_sd)
    assert post.pr_below(0.9) == pytest.approx(want, abs=1e-12)
    assert post.summary().shape == (1, 9)
    assert "laplace" in repr(post)
    assert post.to_dict()["slope_effect"] == "mean"


@pytest.mark.parametrize("effect", ["additive", "multiplicative"])
def test_mean_model_unbiased_for_mean_slope_ratio(effect: str) -> None:
    """20 trials of 1,200 patients (3:1), DRR 0.7 on the mean slope and the hazard.

    The mean model's posterior mean of log DRR is unbiased for log(mean active slope / mean
    control slope) whether the effect is drawn additively or multiplicatively. Tolerance:
    3.5 Monte-Carlo SEs plus the known pull of the DRR ~ U(0, 2) prior (density e^theta on the
    log scale: the mode moves towards +inf by about the posterior variance).
    """
    rng = np.random.default_rng(20)
    est, var = [], []
    for _ in range(20):
        post = fit_drr_laplace(simulate_drr_data(900, 300, drr=0.7, rng=rng, effect=effect))
        est.append(post.log_drr_mean)
        var.append(post.log_drr_sd**2)
    est_a = np.asarray(est)
    mc_se = est_a.std(ddof=1) / math.sqrt(est_a.size)
    assert abs(est_a.mean() - math.log(0.7)) < 3.5 * mc_se + float(np.mean(var))


def test_patient_model_is_biased_under_an_additive_effect() -> None:
    """The finding the mean model fixes: scaling every patient's slope reads the DRR from the
    spread as well; with an additive effect (spread unchanged) it is pulled towards 1."""
    rng = np.random.default_rng(21)
    est = np.array(
        [
            fit_drr_laplace(
                simulate_drr_data(900, 300, drr=0.7, rng=rng, effect="additive"),
                slope_effect="patient",
            ).log_drr_mean
            for _ in range(20)
        ]
    )
    mc_se = est.std(ddof=1) / math.sqrt(est.size)
    assert est.mean() - math.log(0.7) > 0.1 > 5 * mc_se


@pytest.mark.parametrize("slope_effect", ["mean", "patient"])
def test_laplace_gradient_matches_finite_differences(slope_effect: str) -> None:
    rng = np.random.default_rng(8)
    period = rng.integers(0, 3, 160)
    d = simulate_drr_data(120, 40, drr=0.8, rng=rng, period=period, mortality_24w=0.2)
    s = _summaries(d)
    prob = _Problem(
        act=d.active.astype(np.float64),
        per=d.period,
        n_per=d.n_periods,
        s=s,
        event=d.event.astype(np.float64),
        expo=d.exposure_months,
        period_sd=0.5,
        patient_effect=slope_effect == "patient",
    )
    x = _start(d, s, d.n_periods) + rng.normal(0.0, 0.1, 5 + d.n_periods - 1)
    g = prob.logpost_grad(x)[1]
    num = optimize.approx_fprime(x, lambda z: prob.logpost_grad(z)[0], 1e-6)
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-3)
    # the bounded scale DRR = 2 logistic(z): its log posterior is the theta-scale one plus
    # log(1 - DRR/2) at theta = log DRR, and its gradient matches finite differences
    xb = x.copy()
    xb[0] = 0.7
    lp_b, g_b = _logpost_bounded(prob, xb)
    drr = 2.0 / (1.0 + math.exp(-0.7))
    xt = x.copy()
    xt[0] = math.log(drr)
    assert lp_b == pytest.approx(prob.logpost_grad(xt)[0] + math.log(1.0 - drr / 2.0), abs=1e-9)
    num_b = optimize.approx_fprime(xb, lambda z: _logpost_bounded(prob, z)[0], 1e-6)
    np.testing.assert_allclose(g_b, num_b, rtol=1e-4, atol=1e-3)


def test_tiny_trial_uses_the_prior_bound() -> None:
    """12 + 3 patients with two visits and no events: without the prior's DRR < 2 the mean
    model's posterior is improper (theta -> inf with mu_b -> 0); the fit then works on the
    bounded scale and returns a finite posterior inside the prior support."""
    d = simulate_drr_data(
        12,
        3,
        drr=1.0,
        rng=np.random.default_rng(0),
        mortality_24w=0.0,
        dropout_per_month=0.0,
        visit_weeks=(0, 4),
    )
    post = fit_drr_laplace(d)
    assert post.diagnostics["bounded"] == 1.0
    assert math.isfinite(post.log_drr_sd) and post.log_drr_sd > 0
    assert post.log_drr_mean < math.log(2.0)
    assert 0.0 < post.pr_below(1.0) < 1.0
    # a regular trial does not need the bound
    big = fit_drr_laplace(simulate_drr_data(90, 30, drr=0.8, rng=np.random.default_rng(1)))
    assert big.diagnostics["bounded"] == 0.0


@pytest.mark.parametrize("slope_effect", ["mean", "patient"])
def test_laplace_mode_is_least_squares_without_spread_or_events(slope_effect: str) -> None:
    """sigma_b = 0, no deaths or dropout: the mode of (theta, mu_b, rho_1) is the nonlinear
    least-squares fit of y_ij = a_i - mu_b exp(theta active_i + rho_period) t_ij on the raw visits
    (scipy.optimize.least_squares; a_i profiled by centring each patient's visits).

    Every patient then has the same visits, so the slope weights are equal whatever sigma_b;
    the only difference is the priors, whose pull on the mode is of the order of the posterior
    variance (< 0.1 posterior SD here).
    """
    rng = np.random.default_rng(9)
    n_act, n_ctl = 600, 400
    period = rng.integers(0, 2, n_act + n_ctl)
    d = simulate_drr_data(
        n_act,
        n_ctl,
        drr=0.75,
        rng=rng,
        slope_sd=0.0,
        mortality_24w=0.0,
        dropout_per_month=0.0,
        period=period,
        period_slope=(1.0, 0.8),
    )
    assert not d.event.any()
    post = fit_drr_laplace(d, slope_effect=slope_effect)
    p, t, y = d.obs_patient, d.obs_month, d.obs_alsfrs
    k = np.bincount(p)
    tc = t - (np.bincount(p, weights=t) / k)[p]
    yc = y - (np.bincount(p, weights=y) / k)[p]
    act, per = d.active[p], d.period[p]

    def resid(z: np.ndarray) -> np.ndarray:
        theta, mu_b, rho1 = z
        return yc + mu_b * np.exp(theta * act + rho1 * per) * tc

    ls = optimize.least_squares(resid, x0=np.array([0.0, 1.0, 0.0]), xtol=1e-12, ftol=1e-12)
    mode = np.array([post.log_drr_mean, post.params["mu_b"], post.params["rho"][1]])
    sd = post.log_drr_sd
    np.testing.assert_allclose(mode, ls.x, atol=0.1 * sd)
    assert post.log_drr_mean == pytest.approx(math.log(0.75), abs=3 * sd)


def test_period_adjustment_removes_drift_bias() -> None:
    """Non-concurrent controls under calendar drift: bias without time adjustment, none with."""
    rng = np.random.default_rng(4)
    n_act, n_ctl = 2000, 2000
    # active patients all in period 1; controls half in period 0 (slope x1), half in 1 (x0.75)
    period = np.r_[np.ones(n_act), np.zeros(n_ctl // 2), np.ones(n_ctl // 2)].astype(int)
    d = simulate_drr_data(
        n_act,
        n_ctl,
        drr=1.0,
        rng=rng,
        period=period,
        period_slope=(1.0, 0.75),
        mortality_24w=0.0,
    )
    naive = fit_drr_laplace(d.with_period(None))
    adj = fit_drr_laplace(d)
    # closed form of the naive bias: controls average slope x0.875, active x0.75
    assert naive.drr_mean == pytest.approx(0.75 / 0.875, abs=0.04)
    assert naive.drr_ci[1] < 1.0
    assert adj.drr_ci[0] < 1.0 < adj.drr_ci[1]
    assert abs(adj.log_drr_mean) < 3 * adj.log_drr_sd
    assert adj.params["rho"][1] == pytest.approx(math.log(0.75), abs=0.06)


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(TrialDesignError, match="active"):
        DrrData.from_arrays([0], [0.0], [40.0], [1, 1], [0, 0], [1.0, 1.0])
    with pytest.raises(TrialDesignError, match="obs_month"):
        DrrData.from_arrays([0, 1], [0.0, np.nan], [40.0, 41.0], [1, 0], [0, 0], [1.0, 1.0])
    with pytest.raises(TrialDesignError, match="obs_patient"):
        DrrData.from_arrays([0, 5], [0.0, 1.0], [40.0, 41.0], [1, 0], [0, 0], [1.0, 1.0])
    d = DrrData.from_arrays([0, 1], [0.0, 0.0], [40.0, 41.0], [1, 0], [0, 0], [1.0, 1.0])
    with pytest.raises(TrialDesignError, match="fewer than 2 patients"):
        fit_drr_laplace(d)
    good = simulate_drr_data(20, 10, drr=0.8, rng=np.random.default_rng(0))
    with pytest.raises(TrialDesignError, match="slope_effect"):
        fit_drr_laplace(good, slope_effect="arm")
    with pytest.raises(TrialDesignError, match="effect"):
        simulate_drr_data(20, 10, drr=0.8, rng=np.random.default_rng(0), effect="x")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("effect", "slope_effect"),
    [("additive", "mean"), ("multiplicative", "mean"), ("multiplicative", "patient")],
)
def test_mcmc_agrees_with_laplace(effect: str, slope_effect: str) -> None:
    """Full NumPyro NUTS (latent slopes) vs the Laplace fit, 300 patients, 2 x 500 draws."""
    pytest.importorskip("numpyro")
    for seed, drr in ((3, 0.85),):
        d = simulate_drr_data(225, 75, drr=drr, rng=np.random.default_rng(seed), effect=effect)
        lap = fit_drr_laplace(d, slope_effect=slope_effect)
        mc = fit_drr_mcmc(
            d,
            num_chains=2,
            num_warmup=500,
            num_samples=500,
            seed=seed,
            slope_effect=slope_effect,
        )
        assert mc.slope_effect == slope_effect
        assert mc.diagnostics["r_hat"] < 1.05
        assert mc.diagnostics["divergences"] == 0
        # 2 x 500 draws (ESS ~600): MC SE ~0.004 on the DRR mean and ~0.02 on a probability
        # near 0.7; the models differ slightly (hierarchical vs flat intercepts; Gaussian
        # approximation). With 2 x 2,000 draws, MCMC vs Laplace Pr(DRR < 0.9): 0.604 vs 0.603
        # (additive, mean), 0.645 vs 0.641 (multiplicative, mean), 0.685 vs 0.709
        # (multiplicative, patient); Pr(DRR < 1): 0.865 vs 0.873, 0.905 vs 0.909, 0.966 vs 0.966
        assert mc.drr_mean == pytest.approx(lap.drr_mean, abs=0.02)
        assert mc.pr_below(1.0) == pytest.approx(lap.pr_below(1.0), abs=0.03)
        assert mc.pr_below(0.9) == pytest.approx(lap.pr_below(0.9), abs=0.07)
        assert mc.log_drr_sd == pytest.approx(lap.log_drr_sd, rel=0.1)
