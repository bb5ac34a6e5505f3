"""Numbers behind the report figures, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsnet.report.summaries import (
    DAYS_PER_MONTH,
    KINGS_STAGES,
    MITOS_STAGES,
    add_death_stage,
    delta_fs_first_visit,
    km_groups,
    km_summary_table,
    site_summary,
    stage_counts,
    stage_shares,
    survival_data,
)


def test_stage_counts_latest_visit_per_patient_and_year() -> None:
    v = pd.DataFrame(
        {
            "patient_id": ["A", "A", "A", "B", "B", "C"],
            "day": [10, 300, 400, -5, 200, 800],
            "kings": ["1", "2", "3", "1", None, "4a"],
        }
    )
    counts = stage_counts(v, stage="kings")
    # Year 0: A's latest is day 300 -> 2; B's only staged visit is day -5 -> 1 (year 0).
    # Year 1: A day 400 -> 3. Year 2: C day 800 -> 4A (case normalised).
    expected = pd.DataFrame(
        [[1, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0]],
        index=pd.Index([0, 1, 2], name="year"),
        columns=list(KINGS_STAGES),
    )
    np.testing.assert_array_equal(counts.to_numpy(), expected.to_numpy())
    assert list(counts.index) == [0, 1, 2]
    shares = stage_shares(v, stage="kings")
    np.testing.assert_allclose(shares.loc[0, ["1", "2"]], [0.5, 0.5])


def test_stage_counts_mitos_numeric_and_pooling() -> None:
    v = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C", "D"],
            "day": [100, 1000, 3000, 4000],
            "mitos": pd.array([0, 2, 5, pd.NA], dtype="Int64"),
        }
    )
    counts = stage_counts(v, stage="mitos", max_year=2)
    assert list(counts.columns) == list(MITOS_STAGES)
    assert counts.loc[0, "0"] == 1
    assert counts.loc[2, "2"] == 1  # day 1000 is year 2
    assert counts.loc[2, "5"] == 1  # day 3000 (year 8) pooled into 2
    assert counts.to_numpy().sum() == 3  # missing stage ignored


def test_stage_counts_rejects_unknown_system() -> None:
    with pytest.raises(ValueError, match="kings"):
        stage_counts(pd.DataFrame({"patient_id": [], "day": [], "x": []}), stage="x")  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C", "D"]),
            st.integers(-30, 3000),
            st.sampled_from([*KINGS_STAGES, None]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_stage_shares_sum_to_one(rows: list[tuple[str, int, str | None]]) -> None:
    v = pd.DataFrame(rows, columns=["patient_id", "day", "kings"])
    shares = stage_shares(v, stage="kings")
    np.testing.assert_allclose(shares.sum(axis=1).to_numpy(), 1.0)
    staged = v.dropna(subset=["kings"])
    years = np.floor(np.clip(staged["day"], 0, None) / 365.25).astype(int)
    pairs = set(zip(staged["patient_id"], years, strict=True))
    assert stage_counts(v, stage="kings").to_numpy().sum() == len(pairs)


def test_add_death_stage() -> None:
    v = pd.DataFrame({"patient_id": ["A"], "day": [100], "kings": ["2"], "mitos": [1]})
    ev = pd.DataFrame({"patient_id": ["A", "B"], "event": ["death", "niv"], "day": [500, 50]})
    out = add_death_stage(v, ev)
    assert len(out) == 2
    assert out.iloc[-1][["day", "kings", "mitos"]].tolist() == [500, "5", "5"]
    assert out.iloc[0]["mitos"] == "1"


def _tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    patients = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C", "D", "E"],
            "onset_region": ["bulbar", "bulbar", "lower_limb", "lower_limb", "bulbar"],
        }
    )
    visits = pd.DataFrame(
        {"patient_id": ["A", "A", "B", "C", "D"], "day": [100, 300, 200, 400, 50]}
    )
    events = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C", "D"],
            "event": ["death", "lost_to_follow_up", "tracheostomy", "niv"],
            "day": [600, 700, 500, 90],
        }
    )
    return patients, events, visits


def test_survival_data_hand_example() -> None:
    patients, events, visits = _tables()
    s = survival_data(patients, events, visits).set_index("patient_id")
    # E has no contact at all: left out.
    assert list(s.index) == ["A", "B", "C", "D"]
    days = {"A": 600, "B": 700, "C": 500, "D": 90}  # C: tracheostomy day is the last contact
    np.testing.assert_allclose(s["time_months"], [days[p] / DAYS_PER_MONTH for p in s.index])
    assert s["event"].tolist() == [True, False, False, False]
    comp = survival_data(patients, events, visits, endpoints=("death", "tracheostomy"))
    assert comp.set_index("patient_id")["event"].tolist() == [True, False, True, False]


def test_km_groups_median_and_at_risk() -> None:
    surv = pd.DataFrame(
        {
            "onset_region": ["bulbar"] * 5 + ["lower_limb"] * 5,
            "time_months": [1, 2, 3, 4, 5, 10, 20, 30, 40, 50],
            "event": [True] * 5 + [True, False, False, False, False],
        }
    )
    groups = km_groups(surv)
    assert [g.label for g in groups] == ["bulbar", "lower_limb"]  # schema order
    # All events at 1..5: S drops by 1/5 each time, first <= 0.5 at t = 3.
    assert groups[0].median_months == 3.0
    assert groups[0].n_events == 5
    assert np.isinf(groups[1].median_months)  # S = 0.8 throughout
    np.testing.assert_array_equal(groups[0].at_risk([0, 3, 6]), [5, 3, 0])
    table = km_summary_table(groups, at_months=(0, 12))
    assert table["median (months)"].tolist() == ["3.0", "NR"]
    assert table["at risk 12 mo"].tolist() == [0, 4]
    assert km_groups(surv, min_group_size=6) == []


def test_delta_fs_first_visit() -> None:
    v = pd.DataFrame(
        {
            "patient_id": ["A", "A", "B", "C", "D"],
            "day": [365.25, 730, 0, 182.625, 100],
            "alsfrs_r_total": [36.0, 20.0, 40.0, 45.0, np.nan],
        }
    )
    rate = delta_fs_first_visit(v)
    # A: (48-36)/12 = 1; B: onset-day visit -> undefined; C: (48-45)/6 = 0.5; D: no total.
    assert rate.to_dict() == pytest.approx({"A": 1.0, "C": 0.5})


def test_site_summary_hand_example() -> None:
    patients = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C"],
            "site_id": ["S1", "S1", "S2"],
            "onset_region": ["bulbar", "upper_limb", "bulbar"],
            "c9orf72": pd.array([1, pd.NA, 0], dtype="Int64"),
            "sod1": pd.array([0, 1, 1], dtype="Int64"),
        }
    )
    visits = pd.DataFrame({"patient_id": ["A", "A", "B", "C"], "day": [100, 100 + 365, 50, 80]})
    events = pd.DataFrame({"patient_id": ["B"], "event": ["death"], "day": [50 + 730]})
    sites = pd.DataFrame({"site_id": ["S1", "S2", "S3"], "role": ["hub", "spoke", "spoke"],
                          "country": ["NL", "BE", "DE"]})  # fmt: skip
    t = site_summary(patients, visits, sites, events).set_index("site_id")
    assert list(t.index) == ["S1", "S2", "S3", "All sites"]
    assert t.loc["S1", "patients"] == 2 and t.loc["S3", "patients"] == 0
    assert t.loc["S1", "visits"] == 3
    # S1 follow-up: A 365 days, B 730 days (visit to death) -> median of the two.
    expected = (365 + 730) / 2 / DAYS_PER_MONTH
    assert t.loc["S1", "median_follow_up_months"] == pytest.approx(expected)
    assert t.loc["S1", "deaths"] == 1 and t.loc["All sites", "deaths"] == 1
    assert t.loc["S1", "bulbar_onset_pct"] == pytest.approx(50.0)
    assert t.loc["All sites", "bulbar_onset_pct"] == pytest.approx(200 / 3)
    assert t.loc["All sites", "c9orf72_carriers"] == 1
    assert t.loc["All sites", "sod1_carriers"] == 2
    assert t.loc["S2", "role"] == "spoke"
    no_events = site_summary(patients, visits).set_index("site_id")
    assert no_events["deaths"].isna().all()
