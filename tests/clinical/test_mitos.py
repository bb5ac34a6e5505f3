"""MiToS stage: the AND rule for communicating, brute force and monotonicity."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from alsnet.clinical import MITOS_DOMAINS, mitos_domains, mitos_stage

ITEMS = ["q1", "q2", "q3", "q4", "q5a", "q6", "q7", "q8", "q9", "q10", "q11", "q12"]
HALF_POINTS = st.sampled_from([x / 2 for x in range(9)])


def frame(rows: list[dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame([{**{c: 4.0 for c in ITEMS}, **r} for r in rows])


def brute_force(r: pd.Series, dead: bool) -> int:
    """Chiò 2015 Table 1, one visit at a time."""
    if dead:
        return 5
    lost = 0
    lost += r["q8"] <= 1 or r["q6"] <= 1
    lost += r["q3"] <= 1
    lost += r["q1"] <= 1 and r["q4"] <= 1
    lost += r["q10"] <= 1 or r["q12"] <= 2
    return int(lost)


def test_speech_lost_but_handwriting_kept_is_not_communication_lost() -> None:
    """Regression: several public implementations use OR here and over-stage."""
    v = frame([{"q1": 0.0}, {"q1": 1.0, "q4": 2.0}, {"q4": 0.0}, {"q1": 1.0, "q4": 1.0}])
    assert mitos_stage(v).tolist() == [0, 0, 0, 1]
    assert mitos_domains(v)["communicating"].tolist() == [False, False, False, True]


def test_hand_checked_thresholds() -> None:
    v = frame(
        [
            {"q8": 1.0},
            {"q8": 1.5},
            {"q6": 1.0},
            {"q3": 1.0},
            {"q3": 2.0},
            {"q10": 1.0},
            {"q12": 2.0},
            {"q12": 3.0},
            {"q8": 0, "q3": 0, "q1": 0, "q4": 0, "q12": 0},
        ]
    )
    assert mitos_stage(v).tolist() == [1, 0, 1, 1, 0, 1, 1, 0, 4]
    assert mitos_stage(v, dead=[0] * 8 + [1]).tolist()[-1] == 5


def test_missing_items() -> None:
    v = frame([{}, {"q8": 0.0}, {"q1": 0.0}, {"q1": 3.0}])
    v.loc[0, "q3"] = np.nan  # swallowing unknown -> no stage
    v.loc[1, "q6"] = np.nan  # walking lost by q8 anyway -> stage known
    v.loc[2, "q4"] = np.nan  # speech lost, handwriting unknown -> unknown
    v.loc[3, "q4"] = np.nan  # speech kept -> communicating known not lost
    out = mitos_stage(v)
    assert out.isna().tolist() == [True, False, True, False]
    assert out.dtype == "Int64"
    assert mitos_stage(v, dead=pd.Series([1, 0, 0, 0])).tolist()[0] == 5
    d = mitos_domains(v)
    assert list(d.columns) == list(MITOS_DOMAINS)
    assert pd.isna(d.loc[0, "swallowing"]) and bool(d.loc[1, "walking_selfcare"])


rows = hnp.arrays(np.float64, st.tuples(st.integers(1, 15), st.just(12)), elements=HALF_POINTS)


@settings(max_examples=60, deadline=None)
@given(rows, hnp.arrays(np.bool_, 15))
def test_matches_brute_force(items: np.ndarray, dead: np.ndarray) -> None:
    n = items.shape[0]
    v = pd.DataFrame(items, columns=ITEMS)
    out = mitos_stage(v, dead=dead[:n])
    assert out.tolist() == [brute_force(v.iloc[i], bool(dead[i])) for i in range(n)]
    assert out.between(0, 5).all()


@settings(max_examples=60, deadline=None)
@given(rows, st.data())
def test_monotone_under_item_worsening(items: np.ndarray, data: st.DataObject) -> None:
    drop = data.draw(
        hnp.arrays(np.float64, items.shape, elements=st.sampled_from([0.0, 0.5, 1.0, 3.0]))
    )
    before = mitos_stage(pd.DataFrame(items, columns=ITEMS)).to_numpy()
    after = mitos_stage(pd.DataFrame(np.clip(items - drop, 0, 4), columns=ITEMS)).to_numpy()
    assert (after >= before).all()
