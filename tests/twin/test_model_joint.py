"""Tests of the joint twin model: FVC and event parts, fast paths, bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.cohort import Cohort
from alsnet.exceptions import AlsnetError, AlsnetWarning, DataValidationError
from alsnet.synth import synthesize
from alsnet.twin import model as model_mod
from alsnet.twin._events import fit_weibull_ph
from alsnet.twin.model import OUTCOMES, TwinModel, _digest

from ._sim import patients_and_design

# true parameters of the joint simulation
B = np.array([[3.6, 2.2], [-0.01, -0.01], [-0.3, -0.25], [0.01, 0.012]])
COV = np.array([[0.09, 0.06], [0.06, 0.08]])
SIGMA = 1.8
FVC_MEAN = np.array([100.0, 80.0])  # FVC rarely reaches the floor at 0 before death
FVC_COV = np.array([[150.0, 40.0], [40.0, 400.0]])
FVC_SD = 4.0
SHAPE, BETA0, BETA_AGE, GAMMA = 4.0, -2.2, 0.03, np.array([-4.0, 0.5])


def _tables(pats: pd.DataFrame, visits: pd.DataFrame, events: pd.DataFrame) -> dict[str, Any]:
    base = synthesize(1, seed=0)
    tabs = {k: v.iloc[:0] for k, v in base.tables.items()}
    tabs.update(sites=base.sites, patients=pats, visits=visits, events=events)
    return tabs


def _simulate_joint(n: int, seed: int) -> Cohort:
    """ALSFRS-R, FVC and the composite event simulated from the joint model itself."""
    rng = np.random.default_rng(seed)
    pats, age, X = patients_and_design(n, seed)
    theta = X @ B + rng.multivariate_normal(np.zeros(2), COV, size=n)
    start = rng.integers(60, 600, size=n).astype("float64")
    entry = start / DAYS_PER_MONTH
    eta = BETA0 + BETA_AGE * (age - 55.0) + theta @ GAMMA
    t_ev = (entry**SHAPE + rng.exponential(1.0, n) / np.exp(eta)) ** (1.0 / SHAPE)
    cens = entry + rng.uniform(12.0, 60.0, n)
    end = np.minimum(t_ev, cens) * DAYS_PER_MONTH
    k = np.maximum(np.floor((end - start) / 91.0).astype(int) + 1, 1)
    p = np.repeat(np.arange(n), k)
    j = np.concatenate([np.arange(m) for m in k])
    day = np.minimum(start[p] + 91 * j + rng.integers(-10, 11, size=len(j)), end[p])
    day = np.maximum(day, start[p])
    t = day / DAYS_PER_MONTH
    level = 1.0 / (1.0 + np.exp((t - np.exp(theta[p, 0])) / np.exp(theta[p, 1])))
    y = np.clip(np.round(48.0 * level + SIGMA * rng.standard_normal(len(t))), 0, 48)
    ab = FVC_MEAN + rng.multivariate_normal(np.zeros(2), FVC_COV, size=n)
    fvc = ab[p, 0] - ab[p, 1] * (1.0 - level) + FVC_SD * rng.standard_normal(len(t))
    fvc = np.round(np.clip(fvc, 0.0, 200.0), 1)
    ids = pats["patient_id"].to_numpy()
    base = synthesize(1, seed=0)
    visits = base.visits.iloc[:0].reindex(range(len(p))).copy()
    visits["patient_id"] = pd.array(ids[p], dtype="string")
    visits["day"] = np.round(day).astype("int64")
    visits["instrument"] = "alsfrs_r"
    visits["total_reported"] = y
    visits["fvc_pct"] = fvc
    died = t_ev <= cens
    events = pd.DataFrame(
        {
            "patient_id": pd.array(ids[died], dtype="string"),
            "event": "death",
            "day": np.ceil(t_ev[died] * DAYS_PER_MONTH).astype("int64"),
        }
    )
    return Cohort.from_tables(_tables(pats, visits, events))


@pytest.fixture(scope="module")
def joint() -> tuple[TwinModel, Cohort]:
    cohort = _simulate_joint(2500, seed=21)
    return TwinModel(n_mc_iter=5).fit(cohort), cohort


def test_recovers_fvc_and_event_parameters(joint: Any) -> None:
    model, _ = joint
    f = model.fvc_
    assert f is not None
    # coef_ rows are on standardised covariates; the truth has no covariate effect
    np.testing.assert_allclose(f.coef[0], FVC_MEAN, rtol=0.04)
    np.testing.assert_allclose(f.coef[1:], 0.0, atol=4.0)
    np.testing.assert_allclose(np.sqrt(np.diag(f.cov)), np.sqrt(np.diag(FVC_COV)), rtol=0.15)
    assert f.sigma == pytest.approx(np.sqrt(FVC_SD**2 + 0.05**2 / 3), rel=0.06)
    ev = model.events_
    assert ev is not None
    assert ev.shape == pytest.approx(SHAPE, rel=0.15)
    np.testing.assert_allclose(ev.gamma, GAMMA, atol=0.7)
    age_col = 1 + list(model.covariates).index("age_onset")
    assert ev.beta[age_col] == pytest.approx(BETA_AGE * model.x_scale_[age_col - 1], abs=0.12)


def test_weibull_matches_lifelines_with_left_truncation() -> None:
    from lifelines import WeibullAFTFitter

    rng = np.random.default_rng(3)
    n = 1500
    x1, z1 = rng.standard_normal(n), rng.standard_normal(n)
    eta = -7.0 + 0.5 * x1 + 0.7 * z1
    entry = rng.uniform(0.0, 15.0, n)
    t = (entry**2.3 + rng.exponential(1.0, n) / np.exp(eta)) ** (1 / 2.3)
    c = entry + rng.uniform(1.0, 40.0, n)
    d = t <= c
    t = np.minimum(t, c)
    ours = fit_weibull_ph(entry, t, d, np.column_stack([np.ones(n), x1]), z1[:, None, None])
    df = pd.DataFrame({"E": entry, "T": t, "d": d, "x1": x1, "z1": z1})
    ref = WeibullAFTFitter().fit(df, "T", "d", entry_col="E").params_
    rho = float(np.exp(ref.loc[("rho_", "Intercept")]))
    lam = ref.loc["lambda_"]  # AFT: log scale = lam . x ; PH: eta = -rho * lam . x
    assert ours.shape == pytest.approx(rho, rel=1e-3)
    assert ours.beta[0] == pytest.approx(-rho * lam["Intercept"], rel=1e-3)
    assert ours.beta[1] == pytest.approx(-rho * lam["x1"], rel=1e-3)
    assert ours.gamma[0] == pytest.approx(-rho * lam["z1"], rel=1e-3)


def _early(cohort: Cohort, n: int, days: int = 120) -> Cohort:
    """The first ``n`` patients with visits of their first ``days`` days and no events."""
    sub = cohort.subset(cohort.patients["patient_id"][:n])
    v = sub.visits
    first = v.groupby("patient_id")["day"].transform("min")
    tabs = sub.copy_tables()
    tabs["visits"] = v.loc[v["day"] <= first + days].reset_index(drop=True)
    tabs["events"] = tabs["events"].iloc[:0]
    return Cohort.from_tables(tabs)


def test_predict_all_outcomes_bounds_and_no_nan(joint: Any) -> None:
    model, cohort = joint
    early = _early(cohort, 60)
    # patient 0 has no visit at all, patient 1 all covariates missing
    tabs = early.copy_tables()
    lonely, blank = tabs["patients"]["patient_id"].iloc[:2]
    tabs["visits"] = tabs["visits"].loc[tabs["visits"]["patient_id"] != lonely]
    pats = tabs["patients"].copy()
    row = pats["patient_id"] == blank
    pats.loc[row, "age_onset"] = np.nan
    pats.loc[row, "onset_region"] = pd.NA
    pats.loc[row, "diagnosis_day"] = pd.NA
    tabs["patients"] = pats
    data = Cohort.from_tables(tabs)
    p = model.predict(data, [200, 500, 900, 3000], seed=1)
    assert sorted(p["outcome"].unique()) == sorted(OUTCOMES)
    assert len(p) == 60 * 4 * 3
    assert not p.isna().any().any()
    q = p[["q025", "q10", "q50", "q90", "q975"]].to_numpy()
    assert (np.diff(q, axis=1) >= -1e-12).all()
    frs = p.loc[p["outcome"] == "alsfrs_r_total"]
    assert frs["mean"].between(0, 48).all()
    assert (p.loc[p["outcome"] == "fvc_pct", "q025"] >= 0).all()
    ef = p.loc[p["outcome"] == "event_free"]
    assert ef["mean"].between(0, 1).all()
    np.testing.assert_array_equal(ef["mean"].to_numpy(), ef["q50"].to_numpy())
    assert (p.loc[p["patient_id"] == lonely, "n_obs"] == 0).all()
    # every forecast of the covariate-blank patient is finite and the prior one
    assert np.isfinite(p.loc[p["patient_id"] == blank, "mean"]).all()
    # patients table only = covariate prior
    only = model.predict(pats, [365], seed=2)
    assert (only["n_obs"] == 0).all() and not only.isna().any().any()


def test_predict_mean_matches_predict_draws(joint: Any) -> None:
    model, cohort = joint
    early = _early(cohort, 150)
    days = [300, 700, 1100]
    p = model.predict(early, days, seed=3)
    for o in OUTCOMES:
        fast = model.predict_mean(early, days, o)
        slow = p.loc[p["outcome"] == o, "mean"].to_numpy()
        width = (p.loc[p["outcome"] == o, "q90"] - p.loc[p["outcome"] == o, "q10"]).to_numpy()
        # 1000 SIR draws: MC standard error about sd / sqrt(ESS ~ 500); sd from the
        # 80% interval, or sqrt(p (1 - p)) (an upper bound) for a probability
        if o == "event_free":
            sd = np.maximum(np.sqrt(slow * (1 - slow)), 0.02)
        else:
            sd = np.maximum(width / 2.56, 0.5)
        se = sd / np.sqrt(500)
        z = (fast - slow) / se
        assert abs(float(np.mean(z))) < 0.5, (o, float(np.mean(z)))
        assert float(np.mean(np.abs(z) < 4)) > 0.97, o
    # baseline only as well
    pats = early.patients
    base = model.predict(pats, days, outcomes=("alsfrs_r_total",), seed=4)
    fast = model.predict_mean(pats, days)
    assert np.mean(np.abs(fast - base["mean"].to_numpy())) < 0.6


def test_survival_monotone_bounded_and_consistent_with_sample(joint: Any) -> None:
    model, cohort = joint
    early = _early(cohort, 80)
    months = np.arange(0, 121, 6)
    s = model.survival(early, months)
    assert list(s.columns) == ["patient_id", "month", "survival"]
    m = s["survival"].to_numpy().reshape(80, len(months))
    assert ((m >= 0) & (m <= 1)).all()
    assert (np.diff(m, axis=1) <= 1e-12).all()
    np.testing.assert_allclose(m[:, 0], 1.0)  # alive at the first visit, after onset
    assert m[:, -1].mean() < 0.2
    days = months[[4, 8]] * DAYS_PER_MONTH
    draws = model.sample(early, days, n=2000, seed=5)
    assert draws["alsfrs_r_total"].shape == (80, 2000, 2)
    assert draws["fvc_pct"].shape == (80, 2000, 2)
    assert (draws["fvc_pct"] >= 0).all()
    ev = draws["event_day"]
    assert ev.shape == (80, 2000)
    assert (np.isinf(ev) | (ev <= days.max())).all()
    emp = (ev > days[0]).mean(axis=1)
    np.testing.assert_allclose(emp, m[:, 4], atol=0.05)


def test_recorded_endpoint_gives_zero_after_it(joint: Any) -> None:
    model, cohort = joint
    ev = cohort.events
    pid = ev["patient_id"].iloc[0]
    day = int(ev["day"].iloc[0])
    sub = cohort.subset([pid])
    p = model.predict_mean(sub, [day - 1, day, day + 400], "event_free")
    assert p[1] == 0.0 and p[2] == 0.0 and p[0] > 0.0


def test_save_load_round_trip_tamper_and_version(joint: Any, tmp_path: Path) -> None:
    model, cohort = joint
    path = model.save(tmp_path / "twin.json")
    back = TwinModel.load(path)
    assert back.fvc_ is not None and model.fvc_ is not None
    np.testing.assert_array_equal(back.fvc_.coef, model.fvc_.coef)
    assert back.events_ is not None and model.events_ is not None
    np.testing.assert_array_equal(back.events_.gamma, model.events_.gamma)
    sub = _early(cohort, 10)
    pd.testing.assert_frame_equal(model.predict(sub, [300, 900]), back.predict(sub, [300, 900]))
    doc = json.loads(path.read_text())
    doc["model"]["params"]["events"]["shape"] *= 1.1
    path.write_text(json.dumps(doc))
    with pytest.raises(AlsnetError, match="checksum"):
        TwinModel.load(path)
    doc["model"]["model_version"] = "twin-d50-1"
    doc["sha256"] = _digest(doc["model"])
    path.write_text(json.dumps(doc))
    with pytest.raises(AlsnetError, match="model version"):
        TwinModel.load(path)
    assert model_mod.MODEL_VERSION != "twin-d50-1"


def test_cohort_without_events_or_fvc_drops_those_outcomes(joint: Any) -> None:
    _, cohort = joint
    sub = cohort.subset(cohort.patients["patient_id"][:300])
    tabs = sub.copy_tables()
    tabs["events"] = tabs["events"].iloc[:0]
    tabs["visits"] = tabs["visits"].assign(fvc_pct=np.nan)
    bare = Cohort.from_tables(tabs)
    model = TwinModel(n_mc_iter=1).fit(bare)
    assert model.events_ is None and model.fvc_ is None
    with pytest.warns(AlsnetWarning) as rec:
        p = model.predict(bare, [400])
    assert {str(w.message).split(" ")[0] for w in rec} == {"fvc_pct", "event_free"}
    assert set(p["outcome"]) == {"alsfrs_r_total"} and not p.isna().any().any()
    with pytest.raises(ValueError, match="event_free"):
        model.survival(bare, [12])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(bare, [400], outcomes=("alsfrs_r_total",))


@pytest.mark.parametrize(
    ("table", "column", "value", "match"),
    [
        ("visits", "total_reported", 61.0, "total_reported"),
        ("visits", "fvc_pct", 250.0, "fvc_pct"),
        ("patients", "age_onset", 3.0, "age_onset"),
    ],
)
def test_impossible_values_refused(
    joint: Any, table: str, column: str, value: float, match: str
) -> None:
    model, cohort = joint
    sub = cohort.subset(cohort.patients["patient_id"][:5])
    tabs = dict(sub.tables)
    frame = tabs[table].copy()
    frame[column] = frame[column].astype("float64")
    frame.loc[frame.index[1], column] = value
    tabs[table] = frame
    bad = Cohort(tabs)  # unvalidated on purpose: the model checks what it uses
    with pytest.raises(DataValidationError, match=match) as err:
        model.predict_mean(bad, [300])
    assert err.value.problems[0].row == 2
    with pytest.raises(DataValidationError, match=match):
        TwinModel(n_mc_iter=0, max_iter=2).fit(bad)


def test_fvc_marginal_loglik_and_posterior_match_dense_gaussian() -> None:
    from scipy.stats import multivariate_normal

    from alsnet.twin._fvc import fvc_loglik, fvc_posterior, fvc_stats

    rng = np.random.default_rng(4)
    f = rng.uniform(0, 1, 5)
    y = 95.0 - 60.0 * f + rng.normal(0, 4, 5)
    mu = np.array([[100.0, 70.0]])
    cov = np.array([[150.0, 40.0], [40.0, 400.0]])
    st = fvc_stats(np.zeros(5, dtype=np.int64), f, y, 1)
    z = np.column_stack([np.ones(5), -f])
    dense = multivariate_normal(z @ mu[0], z @ cov @ z.T + 16.0 * np.eye(5)).logpdf(y)
    assert fvc_loglik(st, mu, cov, 4.0)[0] == pytest.approx(dense, rel=1e-10)
    # posterior of (a, b): Gaussian conditioning in closed form
    prec = np.linalg.inv(cov) + z.T @ z / 16.0
    v = np.linalg.inv(prec)
    m = v @ (np.linalg.inv(cov) @ mu[0] + z.T @ y / 16.0)
    ma, mb, vaa, vab, vbb = fvc_posterior(st, mu, cov, 4.0)
    np.testing.assert_allclose([ma[0], mb[0]], m, rtol=1e-10)
    np.testing.assert_allclose([vaa[0], vab[0], vbb[0]], [v[0, 0], v[0, 1], v[1, 1]], rtol=1e-10)


def test_clipped_normal_means_match_numerical_integration() -> None:
    from scipy import integrate, stats

    for mu, sd in ((-3.0, 2.0), (0.5, 1.0), (20.0, 4.0), (47.0, 3.0)):
        dens = stats.norm(mu, sd).pdf
        pos = integrate.quad(lambda x, d=dens: max(x, 0.0) * d(x), -80, 120)[0]
        assert model_mod._pos_mean(np.array([mu]), sd)[0] == pytest.approx(pos, abs=1e-5)
        clip = integrate.quad(lambda x, d=dens: min(max(x, 0.0), 48.0) * d(x), -80, 130, limit=200)[
            0
        ]
        grid, table = model_mod._clipped_mean_table(sd)
        if 0.0 <= mu <= 48.0:
            assert model_mod._lookup(np.array([mu]), grid, table)[0] == pytest.approx(
                clip, abs=1e-4
            )
