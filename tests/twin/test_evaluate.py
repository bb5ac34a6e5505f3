"""Evaluation protocol: splits, conditioning, targets, scores and survival metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.synth import synthesize
from alsnet.twin.baselines import LastSlope, first_alsfrs_day, observations
from alsnet.twin.evaluate import (
    brier_scores,
    calibration_table,
    censoring_survival,
    conditioning_cohort,
    evaluate,
    forecast_targets,
    integrated_brier_score,
    misspecified_cohort,
    score_forecasts,
    split_patients,
)


@pytest.fixture(scope="module")
def cohort():  # type: ignore[no-untyped-def]
    return synthesize(300, seed=5)


def test_patient_split_is_disjoint_and_seeded(cohort) -> None:  # type: ignore[no-untyped-def]
    (s,) = split_patients(cohort, "patient", test_size=0.25, seed=3)
    assert len(s.test) == 75 and len(s.train) == 225
    assert not set(s.train) & set(s.test)
    assert list(split_patients(cohort, seed=3)[0].test) != list(
        split_patients(cohort, seed=4)[0].test
    )


def test_site_split_leaves_each_site_out_once(cohort) -> None:  # type: ignore[no-untyped-def]
    splits = split_patients(cohort, "site")
    sites = cohort.patients.set_index("patient_id")["site_id"]
    assert len(splits) == sites.nunique()
    for s in splits:
        assert sites.loc[s.test].nunique() == 1
        assert not set(sites.loc[s.train]) & set(sites.loc[s.test])
    assert sum(len(s.test) for s in splits) == len(cohort.patients)


def test_conditioning_removes_the_future(cohort) -> None:  # type: ignore[no-untyped-def]
    cond = conditioning_cohort(cohort, 91)
    t0 = first_alsfrs_day(cohort)
    v = cond.visits
    assert (v["day"].to_numpy() <= v["patient_id"].map(t0).to_numpy() + 91).all()
    ev = cond.events
    assert (ev["day"].to_numpy() <= ev["patient_id"].map(t0).to_numpy() + 91).all()
    assert len(cond.events) < len(cohort.events)
    assert first_alsfrs_day(cond).equals(t0)


def test_targets_are_the_nearest_visit_after_the_cutoff(cohort) -> None:  # type: ignore[no-untyped-def]
    tg = forecast_targets(cohort, outcomes=("alsfrs_r_total",), horizons_months=(12.0,))
    obs = observations(cohort, "alsfrs_r_total")
    t0 = first_alsfrs_day(cohort)
    for pid in tg["patient_id"].iloc[:20]:
        g = obs.loc[obs["patient_id"] == pid]
        rel = g["day"] - t0[pid]
        ok = g.loc[(rel > 91) & ((rel - 12 * DAYS_PER_MONTH).abs() <= 45)]
        best = ok.iloc[int(np.argmin((ok["day"] - t0[pid] - 12 * DAYS_PER_MONTH).abs()))]
        row = tg.loc[tg["patient_id"] == pid].iloc[0]
        assert row["day"] == best["day"] and row["y"] == best["y"]


def test_score_forecasts_by_hand() -> None:
    f = pd.DataFrame(
        {
            "model": "m",
            "outcome": "alsfrs_r_total",
            "horizon": 6.0,
            "y": [10.0, 20.0, 30.0, 40.0],
            "mean": [12.0, 20.0, 27.0, 40.0],
            "q025": [0.0, 19.0, 29.0, 41.0],
            "q10": [5.0, 19.5, 29.5, 41.0],
            "q50": [12.0, 20.0, 30.0, 41.0],
            "q90": [15.0, 20.5, 31.0, 42.0],
            "q975": [16.0, 21.0, 32.0, 43.0],
        }
    )
    m = score_forecasts(f).set_index("metric")["value"]
    assert m["rmse"] == pytest.approx(np.sqrt((4 + 0 + 9 + 0) / 4))
    assert m["mae"] == pytest.approx(5 / 4)
    assert m["bias"] == pytest.approx((-2 + 0 + 3 + 0) / 4)
    assert m["cov80"] == pytest.approx(0.75)
    assert m["cov95"] == pytest.approx(0.75)
    assert m["below_q50"] == pytest.approx(1.0)
    cal = calibration_table(score_forecasts(f))
    assert set(cal["nominal"]) == {0.025, 0.1, 0.5, 0.9, 0.975, 0.8, 0.95}


def test_censoring_km_matches_lifelines() -> None:
    rng = np.random.default_rng(2)
    t = np.round(rng.exponential(10, 200), 1)
    e = rng.random(200) < 0.6
    g = censoring_survival(t, e)
    kmf = KaplanMeierFitter().fit(t, ~e)
    grid = np.linspace(0, 30, 61)
    np.testing.assert_allclose(g(grid), kmf.survival_function_at_times(grid).to_numpy(), atol=1e-12)


def test_brier_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    n, times = 60, np.array([2.0, 5.0, 9.0])
    t = rng.exponential(6, n)
    e = rng.random(n) < 0.7
    s = rng.random((n, 3))
    g = censoring_survival(t, e)
    ref = []
    for j, tj in enumerate(times):
        acc = 0.0
        for i in range(n):
            if t[i] <= tj and e[i]:
                # G(T_i-): censoring survival just before T_i
                acc += s[i, j] ** 2 / float(g(np.array([t[i]]), left=True)[0])
            elif t[i] > tj:
                acc += (1 - s[i, j]) ** 2 / float(g(np.array([tj]))[0])
        ref.append(acc / n)
    np.testing.assert_allclose(brier_scores(s, t, e, times), ref, rtol=1e-12)


def test_brier_closed_forms() -> None:
    t = np.arange(1.0, 101.0)
    e = np.ones(100, dtype=bool)
    times = np.array([10.0, 50.0, 90.0])
    half = np.full((100, 3), 0.5)
    np.testing.assert_allclose(brier_scores(half, t, e, times), 0.25)
    truth = (t[:, None] > times[None, :]).astype(float)  # perfect knowledge
    np.testing.assert_allclose(brier_scores(truth, t, e, times), 0.0)
    assert integrated_brier_score(half, t, e, times) == pytest.approx(0.25)


def test_evaluate_end_to_end(cohort) -> None:  # type: ignore[no-untyped-def]
    ev = evaluate(cohort, forecasters={"last-slope": LastSlope}, seed=1, n_fans=2)
    m = ev.metrics
    assert {"last-slope", "encals"} <= set(m["model"])
    tot = m.loc[(m["outcome"] == "alsfrs_r_total") & (m["metric"] == "rmse")]
    assert set(tot["horizon"]) == {6.0, 12.0}
    assert (tot["value"] > 0).all() and (tot["value"] < 15).all()
    c = m.loc[m["metric"] == "c_index", "value"].iloc[0]
    assert 0.5 < c <= 1.0
    assert ev.fans["patient_id"].nunique() == 2
    assert ev.fan_observed["conditioned"].any() and not ev.fan_observed["conditioned"].all()
    table = ev.table()
    assert list(table["model"]) == ["last-slope", "encals"]
    assert ev.settings["n_test"] == 100
    # no test patient was used for fitting: forecasts only on test ids
    (s,) = split_patients(cohort, seed=1)
    assert set(ev.forecasts["patient_id"]) <= set(s.test)


def test_misspecified_cohort_is_linear_with_heavy_tails() -> None:
    c = misspecified_cohort(200, seed=4, noise_sd=2.0)
    obs = observations(c, "alsfrs_r_total")
    assert obs["y"].between(0, 48).all()
    inner = obs.loc[obs["y"].between(4, 44)]
    res = []
    for _, g in inner.groupby("patient_id"):
        if len(g) >= 5:
            x = g["day"].to_numpy() / DAYS_PER_MONTH
            res.append(g["y"].to_numpy() - np.polyval(np.polyfit(x, g["y"], 1), x))
    r = np.concatenate(res)
    kurt = np.mean(r**4) / np.mean(r**2) ** 2
    assert 1.3 < r.std() < 2.6  # close to the noise SD (rounding adds 0.29)
    assert kurt > 3.5  # Student t3 is heavy-tailed (a normal gives 3)


def test_leave_one_site_out_pools_every_site(cohort) -> None:  # type: ignore[no-untyped-def]
    ev = evaluate(cohort, forecasters={"last-slope": LastSlope}, survival_models={}, split="site")
    assert ev.settings["n_splits"] == cohort.patients["site_id"].nunique()
    assert ev.settings["n_test"] == len(cohort.patients)
    assert ev.forecasts["split"].nunique() == ev.settings["n_splits"]
    assert not (ev.metrics["outcome"] == "event_free").any()
