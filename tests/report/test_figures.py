"""Figures: expected traces, groups and plotted numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from alsnet.cohort import Cohort
from alsnet.report.figures import (
    alsfrs_trajectories,
    encals_calibration,
    km_by_onset,
    progression_rate_hist,
    site_overview,
    stage_distribution,
)
from alsnet.report.summaries import add_death_stage, survival_data

from ._data import make_cohort

Toy = tuple[Cohort, pd.DataFrame]

DPM = 365.25 / 12


@pytest.fixture(scope="module")
def toy() -> Toy:
    return make_cohort(240, seed=7)


def _traces(fig: object, kind: str) -> list:
    return [t for t in fig.data if (t.meta or {}).get("kind") == kind]  # type: ignore[attr-defined]


def test_trajectories_use_only_alsfrs_r_totals(toy: Toy) -> None:
    cohort, vs = toy
    vs = vs.copy()
    # Decoys: an original-ALSFRS visit with a (wrong) R total, and a reported total.
    vs["total_reported"] = 99.0
    decoy = vs.iloc[[0]].assign(day=vs["day"].iloc[0] + 1, instrument="alsfrs",
                                alsfrs_r_total=47.5)  # fmt: skip
    vs = pd.concat([vs, decoy], ignore_index=True)
    fig = alsfrs_trajectories(vs, cohort.patients, n_sample=25, seed=3)
    samples = _traces(fig, "sample")
    assert sum(t.meta["n_patients"] for t in samples) == 25
    y = np.concatenate([np.asarray(t.y, dtype=float) for t in samples])
    y = y[~np.isnan(y)]
    real = vs.loc[vs["instrument"] == "alsfrs_r", "alsfrs_r_total"]
    assert set(y) <= set(real)
    assert 47.5 not in set(y)
    assert 99.0 not in set(y)

    def all_y(f: object) -> np.ndarray:
        return np.concatenate([np.asarray(t.y, dtype=float) for t in _traces(f, "sample")])

    # Same seed, same sample; another seed, another sample.
    again = alsfrs_trajectories(vs, cohort.patients, n_sample=25, seed=3)
    other = alsfrs_trajectories(vs, cohort.patients, n_sample=25, seed=4)
    np.testing.assert_array_equal(all_y(again), all_y(fig))
    assert not np.array_equal(all_y(other), all_y(fig), equal_nan=True)


def test_trajectory_medians_match_hand_binning(toy: Toy) -> None:
    cohort, vs = toy
    fig = alsfrs_trajectories(vs, cohort.patients, n_sample=10, seed=0, min_bin_visits=1)
    medians = {t.meta["group"]: t for t in _traces(fig, "median")}
    region = cohort.patients.set_index("patient_id")["onset_region"]
    v = vs.assign(region=vs["patient_id"].map(region).astype(str), m=vs["day"] / DPM)
    for reg, trace in medians.items():
        sub = v.loc[v["region"] == reg]
        expected = sub.groupby(np.floor(sub["m"] / 3))["alsfrs_r_total"].median()
        np.testing.assert_allclose(trace.x, (expected.index.to_numpy() + 0.5) * 3)
        np.testing.assert_allclose(trace.y, expected.to_numpy())
    assert set(medians) == set(cohort.patients["onset_region"])


def test_km_legend_median_equals_lifelines(toy: Toy) -> None:
    cohort, _ = toy
    p, e, v = cohort.patients, cohort.events, cohort.visits
    fig = km_by_onset(p, e, v)
    km = {t.meta["group"]: t for t in _traces(fig, "km")}
    assert set(km) == set(p["onset_region"])
    assert {t.meta["group"] for t in _traces(fig, "km_ci")} == set(km)
    # Independent computation: death day, else the latest visit / event day.
    death = e.loc[e["event"] == "death"].set_index("patient_id")["day"]
    contacts = pd.concat(
        [v[["patient_id", "day"]], e.loc[e["event"] != "death", ["patient_id", "day"]]]
    )
    last = contacts.groupby("patient_id")["day"].max()
    for reg, trace in km.items():
        ids = p.loc[p["onset_region"] == reg, "patient_id"]
        died = ids.isin(death.index).to_numpy()
        days = np.where(died, ids.map(death), ids.map(last)).astype(float)
        kmf = KaplanMeierFitter().fit(days / DPM, died)
        assert trace.meta["n"] == len(ids)
        assert trace.meta["median_months"] == pytest.approx(kmf.median_survival_time_)
        assert f"median {kmf.median_survival_time_:.1f} mo" in trace.name
        assert f"n={len(ids)}" in trace.name
        np.testing.assert_allclose(trace.y, kmf.survival_function_.iloc[:, 0])


def test_km_composite_endpoint_counts_more_events(toy: Toy) -> None:
    cohort, _ = toy
    e = cohort.events
    extra = pd.DataFrame({"patient_id": cohort.patients["patient_id"].iloc[:3],
                          "event": "tracheostomy", "day": 30})  # fmt: skip
    e2 = pd.concat([e, extra], ignore_index=True)
    plain = {t.meta["group"]: t.meta["n_events"] for t in _traces(
        km_by_onset(cohort.patients, e2, cohort.visits), "km")}  # fmt: skip
    comp = km_by_onset(cohort.patients, e2, cohort.visits, endpoints=("death", "tracheostomy"))
    comp_n = {t.meta["group"]: t.meta["n_events"] for t in _traces(comp, "km")}
    dead_ids = set(e.loc[e["event"] == "death", "patient_id"])
    new = len(set(extra["patient_id"]) - dead_ids)
    assert sum(comp_n.values()) - sum(plain.values()) == new


@pytest.mark.parametrize("stage", ["kings", "mitos"])
def test_stage_shares_per_year_sum_to_one(toy: Toy, stage: str) -> None:
    cohort, vs = toy
    fig = stage_distribution(add_death_stage(vs, cohort.events), stage=stage)  # type: ignore[arg-type]
    bars = _traces(fig, "stage")
    assert len(bars) == 6
    expect = ["1", "2", "3", "4A", "4B", "5"] if stage == "kings" else list("012345")
    assert [t.meta["group"] for t in bars] == expect
    total = np.sum([np.asarray(t.y, dtype=float) for t in bars], axis=0)
    np.testing.assert_allclose(total, 1.0)
    # Deaths appear as stage 5.
    assert np.nansum(np.asarray(bars[-1].y, dtype=float)) > 0


def test_site_overview_bars_match_table(toy: Toy) -> None:
    cohort, _ = toy
    table, fig = site_overview(cohort.patients, cohort.visits, cohort.sites, cohort.events)
    assert table["site_id"].tolist() == ["S01", "S02", "S03", "All sites"]
    counts = cohort.patients["site_id"].value_counts()
    bars = {t.meta["kind"]: t for t in fig.data}
    np.testing.assert_array_equal(bars["patients"].y, counts.reindex(["S01", "S02", "S03"]))
    assert table["patients"].iloc[-1] == len(cohort.patients)
    assert table["deaths"].iloc[-1] == (cohort.events["event"] == "death").sum()
    assert sum(bars["deaths"].y) == table["deaths"].iloc[-1]


def test_progression_rate_hist(toy: Toy) -> None:
    cohort, vs = toy
    fig = progression_rate_hist(vs, cohort.patients)
    hists = _traces(fig, "delta_fs")
    first = vs.sort_values("day").drop_duplicates("patient_id")
    first = first.loc[first["day"] > 0]
    rate = (48 - first["alsfrs_r_total"]) / (first["day"] / DPM)
    region = first["patient_id"].map(cohort.patients.set_index("patient_id")["onset_region"])
    assert sum(h.meta["n"] for h in hists) == len(rate)
    for h in hists:
        assert h.meta["median"] == pytest.approx(np.median(rate[region == h.meta["group"]]))


def test_encals_calibration_groups_and_predictions(toy: Toy) -> None:
    cohort, _ = toy
    rng = np.random.default_rng(0)
    ids = cohort.patients["patient_id"].to_numpy()
    enc = pd.DataFrame({"patient_id": ids, "encals_lp": rng.normal(size=len(ids))})
    enc.loc[:9, "encals_lp"] = np.nan  # no prediction: left out
    for h in (12, 24, 36, 60):
        enc[f"encals_s{h}"] = rng.uniform(size=len(ids))
    enc["encals_median_months"] = rng.uniform(20, 60, size=len(ids))
    table, fig = encals_calibration(enc, cohort.patients, cohort.events, cohort.visits)
    assert table["risk group"].tolist() == [f"group {i}" for i in range(1, 6)]
    surv = survival_data(cohort.patients, cohort.events, cohort.visits,
                         endpoints=("death", "tracheostomy", "pav"))  # fmt: skip
    m = surv.merge(enc.dropna(subset=["encals_lp"]), on="patient_id")
    assert table["patients"].sum() == len(m)
    # Group 1 = lowest linear predictor; predicted markers = group means.
    order = m.sort_values("encals_lp")
    first = order.iloc[: table["patients"].iloc[0]]
    pred = {t.meta["group"]: t for t in _traces(fig, "predicted")}
    np.testing.assert_allclose(
        pred["group 1"].y, [first[f"encals_s{h}"].mean() for h in (12, 24, 36, 60)]
    )
    kmf = KaplanMeierFitter().fit(first["time_months"], first["event"])
    assert table["observed median (months)"].iloc[0] == pytest.approx(kmf.median_survival_time_)
    assert table["predicted median (months)"].iloc[0] == pytest.approx(
        first["encals_median_months"].median()
    )
