"""King's stage from ALSFRS-R: hand-checked rules, brute force and monotonicity."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from alsnet.clinical import KINGS_STAGES, kings_regions, kings_stage

ITEMS = ["q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12"]
HALF_POINTS = st.sampled_from([x / 2 for x in range(9)])


def frame(rows: list[dict[str, float]], gastro: list[bool] | None = None) -> pd.DataFrame:
    """Complete ALSFRS-R rows; q5 goes to q5b where ``gastro`` is set, else to q5a."""
    full = []
    for i, r in enumerate(rows):
        d = {c: 4.0 for c in ITEMS}
        d.update(r)
        g = bool(gastro[i]) if gastro is not None else False
        d["q5a"], d["q5b"] = (np.nan, d["q5"]) if g else (d["q5"], np.nan)
        del d["q5"]
        full.append(d)
    return pd.DataFrame(full)


def brute_force(row: pd.Series, gastrostomy: bool, dead: bool) -> str:
    """The published rule, written independently, one visit at a time."""
    if dead:
        return "5"
    if row["q10"] == 0 or row["q12"] < 4:
        return "4B"
    if gastrostomy or not np.isnan(row["q5b"]):
        return "4A"
    regions = 0
    if row["q1"] < 4 or row["q2"] < 4 or row["q3"] < 4:
        regions += 1
    if row["q4"] < 4 or (not np.isnan(row["q5a"]) and row["q5a"] < 4):
        regions += 1
    if row["q8"] < 4:
        regions += 1
    return str(max(regions, 1))


def test_hand_checked_examples() -> None:
    v = frame(
        [
            {},  # nothing involved: 1 by project choice
            {"q2": 3},  # bulbar
            {"q2": 3, "q5": 3},  # bulbar + upper limb (via q5a)
            {"q1": 3, "q4": 2, "q8": 1},  # three regions
            {"q6": 0, "q7": 0, "q9": 0, "q11": 0},  # non-region items only
            {"q1": 0, "q8": 0},  # gastrostomy by q5b
            {"q12": 3},  # NIV: 4B
            {"q10": 0},  # 4B
            {"q10": 1, "q12": 4},  # breathless at rest but no NIV: not 4B
            {"q12": 3.5},  # half point below 4
        ],
        gastro=[False] * 5 + [True] + [False] * 4,
    )
    st_ = kings_stage(v)
    assert st_.tolist() == ["1", "1", "2", "3", "1", "4A", "4B", "4B", "1", "4B"]
    assert kings_regions(v).tolist()[:6] == [0, 1, 2, 3, 0, 2]


def test_precedence_and_flags() -> None:
    v = frame([{"q12": 2}, {}, {"q12": 2}, {"q1": 3}])
    out = kings_stage(v, gastrostomy=[1, 1, 0, 0], dead=[0, 0, 1, 0])
    assert out.tolist() == ["4B", "4A", "5", "1"]
    # flags given as a Series are aligned on the index, missing = 0
    v.index = [7, 8, 9, 10]
    out = kings_stage(v, gastrostomy=pd.Series([1, None], index=[8, 10]))
    assert out.tolist() == ["4B", "4A", "4B", "1"]


def test_undetermined_when_items_missing() -> None:
    v = frame([{"q12": 3}, {}, {}, {"q1": 3}, {}])
    v.loc[0, "q10"] = np.nan  # 4B by q12 even though q10 is missing
    v.loc[4, "q12"] = np.nan  # 4B cannot be ruled out
    v.loc[1, "q8"] = np.nan  # lower limb unknown
    v.loc[2, ["q5a", "q5b"]] = np.nan  # upper limb unknown (q4 = 4)
    v.loc[3, "q8"] = np.nan
    out = kings_stage(v)
    assert out.isna().tolist() == [False, True, True, True, True]
    assert out.iloc[0] == "4B"
    assert kings_regions(v).isna().tolist() == [False, True, True, True, False]
    # death does not need items
    assert kings_stage(v, dead=[1] * 5).tolist() == ["5"] * 5


def test_q12_missing_gives_no_stage_unless_q10_zero() -> None:
    v = frame([{}, {"q10": 0}])
    v["q12"] = np.nan
    assert kings_stage(v).isna().tolist() == [True, False]
    assert kings_stage(v).iloc[1] == "4B"


def test_dtype_is_ordered_vocabulary() -> None:
    out = kings_stage(frame([{}]))
    assert list(out.cat.categories) == list(KINGS_STAGES)
    assert out.cat.ordered


rows = hnp.arrays(np.float64, st.tuples(st.integers(1, 15), st.just(12)), elements=HALF_POINTS)


@settings(max_examples=60, deadline=None)
@given(rows, hnp.arrays(np.bool_, 15), hnp.arrays(np.bool_, 15), hnp.arrays(np.bool_, 15))
def test_matches_brute_force(
    items: np.ndarray, q5b: np.ndarray, gastro: np.ndarray, dead: np.ndarray
) -> None:
    n = items.shape[0]
    v = frame([dict(zip(ITEMS, r, strict=True)) for r in items], gastro=list(q5b[:n]))
    out = kings_stage(v, gastrostomy=gastro[:n], dead=dead[:n])
    expected = [brute_force(v.iloc[i], bool(gastro[i]), bool(dead[i])) for i in range(n)]
    assert out.tolist() == expected
    assert set(out.tolist()) <= set(KINGS_STAGES)


@settings(max_examples=60, deadline=None)
@given(rows, st.data())
def test_monotone_under_item_worsening(items: np.ndarray, data: st.DataObject) -> None:
    drop = data.draw(
        hnp.arrays(np.float64, items.shape, elements=st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0]))
    )
    worse = np.clip(items - drop, 0, 4)
    before = kings_stage(frame([dict(zip(ITEMS, r, strict=True)) for r in items]))
    after = kings_stage(frame([dict(zip(ITEMS, r, strict=True)) for r in worse]))
    assert (after.cat.codes.to_numpy() >= before.cat.codes.to_numpy()).all()
    regions_before = kings_regions(frame([dict(zip(ITEMS, r, strict=True)) for r in items]))
    regions_after = kings_regions(frame([dict(zip(ITEMS, r, strict=True)) for r in worse]))
    assert (regions_after.to_numpy() >= regions_before.to_numpy()).all()
