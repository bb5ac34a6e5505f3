"""Federated ALSFRS-R mixed model equals the pooled fit (statsmodels MixedLM, dense algebra)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.federated import FederationIncompleteError, simulate_network
from alsnet.federated.central import lmm_combine, lmm_profile
from alsnet.federated.partial import lmm_aggregates, lmm_frame, lmm_stats
from alsnet.io.canonical import write_csv
from alsnet.synth import synthesize

COVS = ["age_onset", "bulbar_onset"]


@pytest.fixture(scope="module")
def small_sites():
    from alsnet.federated import split_sites

    return split_sites(synthesize(300, seed=3))


@pytest.fixture(scope="module")
def pooled_fit(small_sites):
    frame = pd.concat([lmm_frame(c, COVS) for c in small_sites.values()], ignore_index=True)
    model = smf.mixedlm(
        "alsfrs_r ~ months + age_onset + bulbar_onset",
        frame,
        groups=frame["patient_id"],
        re_formula="~months",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' own convergence chatter
        res = model.fit(reml=True, method=["bfgs"], gtol=1e-9)
    return frame, res


def _theta_of(res) -> np.ndarray:
    lo = np.linalg.cholesky(np.asarray(res.cov_re) / res.scale)
    return np.array([lo[0, 0], lo[1, 0], lo[1, 1]])


def test_profile_at_statsmodels_theta_is_exact(small_sites, pooled_fit):
    """Summed site aggregates reproduce statsmodels' REML log-likelihood and beta(theta)."""
    _, res = pooled_fit
    th = _theta_of(res)
    agg = lmm_combine(
        {s: lmm_aggregates(lmm_stats(lmm_frame(c, COVS), COVS), th) for s, c in small_sites.items()}
    )
    prof = lmm_profile(agg, th, reml=True)
    np.testing.assert_allclose(prof["beta"], res.fe_params.to_numpy(), rtol=1e-9)
    assert abs(-prof["m2ll"] / 2 / res.llf - 1) < 1e-10
    assert abs(prof["sigma2"] / res.scale - 1) < 1e-9


def test_federated_lmm_equals_pooled_statsmodels(small_sites, pooled_fit):
    _, res = pooled_fit
    fed = simulate_network(small_sites).lmm(COVS)
    sm_coef = dict(zip(["intercept", "months", *COVS], res.fe_params.to_numpy(), strict=True))
    for term, value in sm_coef.items():
        assert abs(fed.coef[term] / value - 1) < 1e-6, term
    # our optimum is at least as good as statsmodels' (same objective, tighter optimiser)
    assert -fed.m2ll / 2 >= res.llf - 1e-8 * abs(res.llf)
    g = np.asarray(res.cov_re)
    vc = fed.re_cov
    np.testing.assert_allclose(
        [vc["intercept_var"], vc["slope_var"], vc["cov"], vc["residual_var"]],
        [g[0, 0], g[1, 1], g[0, 1], res.scale],
        rtol=1e-5,
    )
    assert fed.n == res.model.n_groups and fed.n_obs == res.nobs
    out = fed.to_json()
    assert set(out["coef"]) == set(out["se"]) == {"intercept", "months", *COVS}
    assert set(out["variance_components"]) == {"intercept_var", "slope_var", "cov", "residual_var"}


def test_bfgs_precision_loss_is_finished_by_newton_steps():
    """synthesize(1000, seed=7) over 5 sites: BFGS stops early (precision loss); the
    Newton polish reaches the optimum, which equals the pooled profile's stationary point."""
    from alsnet.federated import split_sites

    sites = split_sites(synthesize(1000, seed=7))
    fed = simulate_network(sites).lmm()
    vc = fed.re_cov
    lo = np.linalg.cholesky(
        np.array([[vc["intercept_var"], vc["cov"]], [vc["cov"], vc["slope_var"]]])
        / vc["residual_var"]
    )
    th = np.array([lo[0, 0], lo[1, 0], lo[1, 1]])
    agg = lmm_combine(
        {s: lmm_aggregates(lmm_stats(lmm_frame(c, []), []), th) for s, c in sites.items()}
    )
    prof = lmm_profile(agg, th, reml=True)
    assert np.abs(prof["grad"]).max() < 1e-6  # stationary: the REML optimum
    np.testing.assert_allclose(prof["beta"], [fed.coef["intercept"], fed.coef["months"]])


def _dense_reference(frame: pd.DataFrame, covs: list[str], theta: np.ndarray):
    """Brute force: build every V_i / sigma^2 = I + Z D Z' densely and invert it."""
    lo = np.array([[theta[0], 0.0], [theta[1], theta[2]]])
    d = lo @ lo.T
    a = c = q = ld = 0.0
    for _, g in frame.groupby("patient_id", sort=False):
        t = g["months"].to_numpy()
        x = np.column_stack([np.ones(t.size), t, g[covs].to_numpy(float)])
        z = x[:, :2]
        y = g["alsfrs_r"].to_numpy()
        h = np.eye(t.size) + z @ d @ z.T
        hi = np.linalg.inv(h)
        a = a + x.T @ hi @ x
        c = c + x.T @ hi @ y
        q = q + y @ hi @ y
        ld = ld + np.linalg.slogdet(h)[1]
    return a, c, q, ld


def test_aggregates_and_gradient_equal_dense_algebra(small_sites):
    c0 = next(iter(small_sites.values()))
    frame = lmm_frame(c0, ["age_onset"])
    th = np.array([1.3, -0.05, 0.2])
    agg = lmm_combine({"A": lmm_aggregates(lmm_stats(frame, ["age_onset"]), th)})
    a, c, q, ld = _dense_reference(frame, ["age_onset"], th)
    np.testing.assert_allclose(agg["xtvx"], a, rtol=1e-10)
    np.testing.assert_allclose(agg["xtvy"], c, rtol=1e-10)
    assert abs(agg["ytvy"] / q - 1) < 1e-10 and abs(agg["logdet"] / ld - 1) < 1e-10
    prof = lmm_profile(agg, th)
    # SEs: sigma^2 (X'V^-1 X)^-1 from the dense matrices
    rss = q - c @ np.linalg.solve(a, c)
    s2 = rss / (len(frame) - 3)
    np.testing.assert_allclose(prof["cov_beta"], s2 * np.linalg.inv(a), rtol=1e-9)
    # analytic gradient vs central differences of the profiled -2 log L
    for reml in (True, False):
        grad = lmm_profile(agg, th, reml=reml)["grad"]
        for k in range(3):
            e = np.zeros(3)
            e[k] = 1e-6
            up = lmm_combine({"A": lmm_aggregates(lmm_stats(frame, ["age_onset"]), th + e)})
            dn = lmm_combine({"A": lmm_aggregates(lmm_stats(frame, ["age_onset"]), th - e)})
            fd = (
                lmm_profile(up, th + e, reml=reml)["m2ll"]
                - lmm_profile(dn, th - e, reml=reml)["m2ll"]
            ) / 2e-6
            assert abs(grad[k] - fd) < 1e-4 * max(1.0, abs(fd)), (reml, k)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    cut=st.integers(1, 19),
    theta=st.tuples(st.floats(0.05, 3), st.floats(-1, 1), st.floats(0.0, 1)),
)
def test_aggregates_add_over_any_split_of_patients(seed, cut, theta):
    """Property: the aggregates of a split cohort sum to those of the whole."""
    rng = np.random.default_rng(seed)
    n_vis = rng.integers(1, 6, size=20)
    pid = np.repeat([f"p{i:02d}" for i in range(20)], n_vis)
    t = np.concatenate([np.sort(rng.uniform(0, 40, k)) for k in n_vis])
    frame = pd.DataFrame({"patient_id": pid, "months": t, "alsfrs_r": rng.uniform(0, 48, t.size)})
    frame["age_onset"] = rng.normal(60, 10, 20)[np.repeat(np.arange(20), n_vis)]
    th = np.array(theta)
    whole = lmm_aggregates(lmm_stats(frame, ["age_onset"]), th)
    first = frame["patient_id"] < f"p{cut:02d}"
    parts = lmm_combine(
        {
            "a": lmm_aggregates(lmm_stats(frame.loc[first], ["age_onset"]), th),
            "b": lmm_aggregates(lmm_stats(frame.loc[~first], ["age_onset"]), th),
        }
    )
    for key in ("xtvx", "xtvy", "rr", "rs", "ss", "ztvz"):
        np.testing.assert_allclose(parts[key], np.asarray(whole[key]), rtol=1e-9, atol=1e-9)
    assert abs(parts["ytvy"] - whole["ytvy"]) <= 1e-9 * abs(whole["ytvy"])
    assert abs(parts["logdet"] - whole["logdet"]) <= 1e-9 * max(1.0, abs(whole["logdet"]))


def _tiny(site_cohorts, n):
    c = next(iter(site_cohorts.values()))
    return c.subset(pd.Index(c.patients["patient_id"].astype(str).iloc[:n].to_list()))


def test_tiny_site_is_refused(small_sites):
    sites = dict(small_sites)
    sites["TINY"] = _tiny(small_sites, 8)  # fewer than min_rows = 10 patients
    with pytest.raises(FederationIncompleteError) as exc:
        simulate_network(sites).lmm([])
    assert set(exc.value.failures) == {"TINY"}
    assert "min_rows" in exc.value.failures["TINY"]


def test_saturated_model_is_refused_at_a_12_patient_site(small_sites):
    sites = dict(small_sites)
    sites["SMALL"] = _tiny(small_sites, 12)
    # 2 + 3 = 5 fixed effects > 0.33 x 12 patients: refused
    with pytest.raises(FederationIncompleteError) as exc:
        simulate_network(sites).lmm(["age_onset", "sex_male", "bulbar_onset"])
    assert set(exc.value.failures) == {"SMALL"}
    assert "max_param_ratio" in exc.value.failures["SMALL"]
    # 3 fixed effects <= 3.96: released
    assert simulate_network(sites).lmm(["age_onset"]).n > 0


def test_cli_run_lmm(tmp_path, small_sites):
    dirs = []
    for s, c in list(small_sites.items())[:3]:
        write_csv(c, tmp_path / s)
        dirs += ["--site", str(tmp_path / s)]
    out = tmp_path / "lmm.json"
    r = CliRunner().invoke(
        app, ["federated", "run", "lmm", *dirs, "--covariates", "age_onset", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert set(res["coef"]) == set(res["se"]) == {"intercept", "months", "age_onset"}
    assert res["coef"]["months"] < 0  # ALSFRS-R declines
    assert res["variance_components"]["slope_var"] > 0
