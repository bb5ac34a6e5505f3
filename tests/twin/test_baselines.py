"""Baseline forecasters: closed forms, brute-force references and held-out coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsnet.clinical.encals import encals_survival
from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.exceptions import NotFittedError
from alsnet.synth import synthesize
from alsnet.twin.baselines import (
    QCOLS,
    EncalsSurvival,
    ForestBaseline,
    LastSlope,
    MixedModel,
    _fit_weibull,
    _slopes,
    event_times,
    observations,
)
from alsnet.twin.evaluate import conditioning_cohort, forecast_targets


@pytest.fixture(scope="module")
def cohorts() -> tuple:
    c = synthesize(500, seed=11)
    ids = pd.Index(c.patients["patient_id"])
    return c.subset(ids[:320]), c.subset(ids[320:])


def _coverage(model: object, test: object) -> tuple[float, float, pd.DataFrame]:
    tg = forecast_targets(test, outcomes=("alsfrs_r_total",), horizons_months=(12.0,))
    cond = conditioning_cohort(test, 91)
    pred = model.predict(cond, tg[["patient_id", "day"]])  # type: ignore[attr-defined]
    pred = pred.loc[pred["outcome"] == "alsfrs_r_total"]
    m = tg.merge(pred, on=["patient_id", "day", "outcome"])
    y = m["y"].to_numpy()
    c80 = float(np.mean((y >= m["q10"]) & (y <= m["q90"])))
    c95 = float(np.mean((y >= m["q025"]) & (y <= m["q975"])))
    return c80, c95, m


def test_slopes_match_polyfit() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for p in range(5):
        days = np.sort(rng.uniform(100, 400, 4))
        rows.append(pd.DataFrame({"patient_id": f"P{p}", "day": days, "y": 40 - days / 30}))
    obs = pd.concat(rows, ignore_index=True)
    obs["y"] += rng.normal(0, 1, len(obs))
    got = _slopes(obs, "alsfrs_r_total")
    for pid, g in obs.groupby("patient_id"):
        ref = np.polyfit(g["day"] / DAYS_PER_MONTH, g["y"], 1)[0]
        assert got.loc[pid, "slope"] == pytest.approx(ref, rel=1e-9)
        assert got.loc[pid, "last_y"] == g["y"].iloc[-1]


def test_slope_from_onset_when_one_visit() -> None:
    obs = pd.DataFrame({"patient_id": ["A"], "day": [10 * DAYS_PER_MONTH], "y": [38.0]})
    assert _slopes(obs, "alsfrs_r_total").loc["A", "slope"] == pytest.approx(-1.0)


def test_last_slope_forecast_is_extrapolation(cohorts: tuple) -> None:
    train, test = cohorts
    m = LastSlope(outcomes=("alsfrs_r_total",)).fit(train)
    cond = conditioning_cohort(test, 91)
    pred = m.predict(cond, [900.0])
    obs = observations(cond, "alsfrs_r_total")
    sl = _slopes(obs, "alsfrs_r_total")
    p = m.params_["alsfrs_r_total"]
    pid = sl.index[0]
    gap = (900.0 - sl.loc[pid, "last_day"]) / DAYS_PER_MONTH
    f = np.clip(sl.loc[pid, "last_y"] + sl.loc[pid, "slope"] * gap, 0, 48)
    sd = np.sqrt(p.var[0] + p.var[1] * gap**2)
    row = pred.loc[pred["patient_id"] == pid].iloc[0]
    assert row["q50"] == pytest.approx(np.clip(f + sd * p.zq[2], 0, 48))
    assert (np.diff(pred[list(QCOLS)].to_numpy(), axis=1) >= 0).all()


def test_last_slope_calibrated_on_held_out(cohorts: tuple) -> None:
    train, test = cohorts
    c80, c95, _ = _coverage(LastSlope(outcomes=("alsfrs_r_total",)).fit(train), test)
    assert 0.65 <= c80 <= 0.92 and 0.85 <= c95 <= 0.99


def test_predict_before_fit_raises(cohorts: tuple) -> None:
    with pytest.raises(NotFittedError):
        LastSlope().predict(cohorts[1], [100.0])


def test_mixed_model_blup_matches_marginal_formula(cohorts: tuple) -> None:
    train, test = cohorts
    m = MixedModel(max_patients=120, outcomes=("alsfrs_r_total",)).fit(train)
    p = m.params_["alsfrs_r_total"]
    cond = conditioning_cohort(test, 365)
    obs = observations(cond, "alsfrs_r_total")
    pid = obs["patient_id"].value_counts().index[0]
    g = obs.loc[obs["patient_id"] == pid]
    ids = pd.Index([pid])
    xp = m._x(cond.patients, ids)
    t = g["day"].to_numpy() / DAYS_PER_MONTH
    fx, z = m._design(np.repeat(xp, len(t), axis=0), t)
    beta, G, s2 = p["beta"], p["G"], p["sigma2"]
    # marginal (not precision) form of the BLUP: b = G Z'(Z G Z' + s2 I)^-1 (y - X beta)
    v = z @ G @ z.T + s2 * np.eye(len(t))
    b = G @ z.T @ np.linalg.solve(v, g["y"].to_numpy() - fx @ beta)
    tn = np.array([30.0])
    fn, zn = m._design(xp, tn)
    ref_mean = float((fn @ beta + zn @ b)[0])
    vb = G - G @ z.T @ np.linalg.solve(v, z @ G)
    ref_sd = float(np.sqrt(zn @ vb @ zn.T + fn @ p["cov_beta"] @ fn.T + s2)[0, 0])
    pred = m.predict(cond.subset(ids), [30 * DAYS_PER_MONTH])
    assert pred["mean"].iloc[0] == pytest.approx(np.clip(ref_mean, 0, 48), abs=1e-6)
    if ref_mean - 2 * ref_sd > 0 and ref_mean + 2 * ref_sd < 48:
        assert pred["q975"].iloc[0] - pred["q50"].iloc[0] == pytest.approx(
            1.959964 * ref_sd, rel=1e-4
        )


def test_mixed_model_coverage(cohorts: tuple) -> None:
    train, test = cohorts
    c80, c95, _ = _coverage(
        MixedModel(max_patients=120, outcomes=("alsfrs_r_total",)).fit(train), test
    )
    assert 0.65 <= c80 <= 0.95 and 0.85 <= c95 <= 1.0


def test_forest_coverage_and_fvc(cohorts: tuple) -> None:
    train, test = cohorts
    m = ForestBaseline(n_estimators=30).fit(train)
    c80, c95, _ = _coverage(m, test)
    assert 0.65 <= c80 <= 0.95 and 0.85 <= c95 <= 1.0
    pred = m.predict(conditioning_cohort(test, 91), [500.0])
    assert set(pred["outcome"]) == {"alsfrs_r_total", "fvc_pct"}
    assert not pred[["mean", *QCOLS]].isna().any().any()


def test_weibull_fit_recovers_parameters_with_delayed_entry() -> None:
    rng = np.random.default_rng(1)
    n = 6000
    lp = rng.normal(-4, 1, n)
    a, b, k = -6.0, 0.8, 2.0
    # S(t) = exp(-exp(a + b lp) t^k): invert a uniform
    t = (-np.log(rng.random(n)) / np.exp(a + b * lp)) ** (1 / k)
    entry = rng.uniform(3, 20, n)
    cens = entry + rng.uniform(5, 60, n)
    keep = t > entry
    d = t <= cens
    obs = np.minimum(t, cens)
    est = _fit_weibull(lp[keep], entry[keep], obs[keep], d[keep])
    assert est[1] == pytest.approx(b, abs=0.08)
    assert np.exp(est[2]) == pytest.approx(k, abs=0.12)
    tt, x = np.array([24.0, 48.0, 96.0]), -4.0
    s_true = np.exp(-np.exp(a + b * x) * tt**k)
    s_est = np.exp(-np.exp(est[0] + est[1] * x) * tt ** np.exp(est[2]))
    np.testing.assert_allclose(s_est, s_true, atol=0.03)


def test_encals_published_baseline_is_the_paper_formula(cohorts: tuple) -> None:
    train, test = cohorts
    m = EncalsSurvival(baseline="published").fit(train)
    lp = m.linear_predictor(test)
    s = m.survival(test, [12.0, 36.0])
    assert not lp.isna().any()
    np.testing.assert_allclose(
        s.to_numpy(), encals_survival(lp.to_numpy()[:, None], np.array([[12.0, 36.0]]))
    )


def test_encals_weibull_is_monotone_in_lp(cohorts: tuple) -> None:
    train, test = cohorts
    m = EncalsSurvival().fit(train)
    s = m.survival(test, [24.0])[24.0]
    lp = m.linear_predictor(test)
    assert m.coef_[1] > 0
    assert np.corrcoef(lp, s)[0, 1] < -0.9
    et = event_times(test)
    assert et["event"].any()
