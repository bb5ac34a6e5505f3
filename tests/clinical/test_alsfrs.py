"""ALSFRS-R / ALSFRS totals and domains: hand-checked examples and properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from alsnet.clinical import alsfrs_scores
from alsnet.exceptions import DataValidationError

R_ITEMS = ["q1", "q2", "q3", "q4", "q6", "q7", "q8", "q9", "q10", "q11", "q12"]
HALF_POINTS = st.sampled_from([x / 2 for x in range(9)])


def visit(**items: float | str | None) -> dict[str, object]:
    row: dict[str, object] = {"instrument": "alsfrs_r", **{c: 4.0 for c in R_ITEMS}, "q5a": 4.0}
    row.update(items)
    return row


def test_hand_checked_alsfrs_r() -> None:
    v = pd.DataFrame(
        [
            visit(),
            visit(q1=3, q2=2, q3=1, q4=0, q5a=1, q6=2, q7=3, q8=4, q9=0, q10=1, q11=2, q12=3),
            visit(q5a=None, q5b=2.0),
            visit(q3=3.5),
        ],
        index=[10, 11, 12, 13],
    )
    s = alsfrs_scores(v)
    assert list(s.index) == [10, 11, 12, 13]
    assert s["alsfrs_r_total"].tolist() == [48.0, 22.0, 46.0, 47.5]
    assert s.loc[11, ["bulbar", "fine_motor", "gross_motor", "respiratory"]].tolist() == [
        6.0,
        3.0,
        7.0,
        6.0,
    ]
    assert s.loc[12, "fine_motor"] == 10.0  # q5b used when q5a is empty
    assert s["alsfrs_total"].isna().all()
    assert s["total_source"].tolist() == ["items"] * 4


def test_original_alsfrs_is_never_reported_as_alsfrs_r() -> None:
    row = visit(instrument="alsfrs", q10=None, q11=None, q12=None, q10_alsfrs=2.0, q1=3.0)
    s = alsfrs_scores(pd.DataFrame([row]))
    assert np.isnan(s.loc[0, "alsfrs_r_total"])
    assert np.isnan(s.loc[0, "respiratory"])
    assert s.loc[0, "alsfrs_total"] == 4 * 9 - 1 + 2  # 37 on the 0-40 scale
    assert s.loc[0, "bulbar"] == 11.0


def test_instrument_inferred_when_column_absent() -> None:
    r = {**{c: 4.0 for c in R_ITEMS}, "q5a": 4.0}
    o = {**{c: 4.0 for c in R_ITEMS if c not in ("q10", "q11", "q12")}, "q5a": 4.0}
    o["q10_alsfrs"] = 3.0
    s = alsfrs_scores(pd.DataFrame([r, o]))
    assert s["alsfrs_r_total"].tolist()[0] == 48.0
    assert np.isnan(s["alsfrs_r_total"].tolist()[1])
    assert s["alsfrs_total"].tolist()[1] == 39.0


def test_missing_item_gives_nan_and_reported_fallback() -> None:
    v = pd.DataFrame(
        [
            visit(q2=None),
            visit(q2=None, total_reported=41.0),
            visit(instrument="alsfrs", q10=None, q11=None, q12=None, total_reported=33.0),
            visit(total_reported=20.0),  # items win over the reported total
            visit(q2=None, total_reported=45.0, instrument=None),
        ]
    )
    s = alsfrs_scores(v)
    tot = s["alsfrs_r_total"].to_numpy()
    assert np.isnan(tot[0]) and np.isnan(s.loc[0, "bulbar"])
    assert tot[1] == 41.0 and np.isnan(s.loc[1, "bulbar"])
    assert np.isnan(tot[2]) and s.loc[2, "alsfrs_total"] == 33.0
    assert tot[3] == 48.0
    assert np.isnan(tot[4])
    assert pd.isna(s.loc[0, "total_source"]) and pd.isna(s.loc[4, "total_source"])
    assert s["total_source"].tolist()[1:4] == ["reported", "reported", "items"]


def test_both_q5_answered_is_ambiguous() -> None:
    s = alsfrs_scores(pd.DataFrame([visit(q5a=4.0, q5b=2.0)]))
    assert np.isnan(s.loc[0, "fine_motor"]) and np.isnan(s.loc[0, "alsfrs_r_total"])


def test_missing_columns_are_treated_as_unanswered() -> None:
    s = alsfrs_scores(pd.DataFrame({"q1": [4.0], "q2": [3.0], "q3": [2.0]}))
    assert s.loc[0, "bulbar"] == 9.0
    assert s[["alsfrs_r_total", "fine_motor", "respiratory"]].isna().all(axis=None)


def test_out_of_range_item_raises() -> None:
    with pytest.raises(DataValidationError, match=r"q3.*between 0 and 4"):
        alsfrs_scores(pd.DataFrame([visit(q3=5.0)]))


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(1, 20), st.just(12)), elements=HALF_POINTS),
    hnp.arrays(np.bool_, 20),
)
def test_totals_are_item_sums_and_domains_add_up(items: np.ndarray, gastro: np.ndarray) -> None:
    n = items.shape[0]
    cols = ["q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12"]
    df = pd.DataFrame(items, columns=cols)
    g = gastro[:n]
    df["q5a"] = np.where(g, np.nan, df["q5"])
    df["q5b"] = np.where(g, df["q5"], np.nan)
    df = df.drop(columns="q5")
    s = alsfrs_scores(df)
    total = s["alsfrs_r_total"].to_numpy()
    np.testing.assert_allclose(total, items.sum(axis=1))
    assert ((total >= 0) & (total <= 48)).all()
    domains = s[["bulbar", "fine_motor", "gross_motor", "respiratory"]].sum(axis=1)
    np.testing.assert_allclose(domains, total)
    np.testing.assert_allclose(s["bulbar"], items[:, :3].sum(axis=1))
    np.testing.assert_allclose(s["respiratory"], items[:, 9:].sum(axis=1))
