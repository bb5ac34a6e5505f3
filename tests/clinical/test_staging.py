"""stage_visits: columns, flags from rows and from events, row order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsnet.clinical import STAGE_COLUMNS, event_flags, stage_visits
from alsnet.exceptions import DataValidationError

ITEMS = ["q1", "q2", "q3", "q4", "q5a", "q6", "q7", "q8", "q9", "q10", "q11", "q12"]


def visits() -> pd.DataFrame:
    rows = [("A", 100), ("A", 300), ("A", 500), ("B", 50), ("B", 400), ("C", 10)]
    df = pd.DataFrame(rows, columns=["patient_id", "day"])
    for c in ITEMS:
        df[c] = 4.0
    df["q1"] = 3.0  # one region involved
    df["instrument"] = "alsfrs_r"
    df["site_note"] = list("uvwxyz")
    return df.iloc[[2, 0, 4, 1, 3, 5]].set_axis([9, 3, 7, 1, 5, 0])


def test_adds_columns_and_keeps_everything_else() -> None:
    v = visits()
    out = stage_visits(v)
    assert list(out.columns) == [*v.columns, *STAGE_COLUMNS]
    assert list(out.index) == list(v.index)
    pd.testing.assert_frame_equal(out[v.columns], v)
    assert out["alsfrs_r_total"].tolist() == [47.0] * 6
    assert out["kings"].tolist() == ["1"] * 6
    assert out["mitos"].tolist() == [0] * 6
    assert out["kings_regions"].tolist() == [1] * 6


def test_flags_from_events_on_or_before_the_visit_day() -> None:
    v = visits()
    events = pd.DataFrame(
        {
            "patient_id": ["A", "A", "B", "B", "Z"],
            "event": ["gastrostomy", "death", "gastrostomy", "niv", "death"],
            "day": [300, 500, 401, 10, 1],
        }
    )
    out = stage_visits(v, events).sort_values(["patient_id", "day"])
    assert out["kings"].tolist() == ["1", "4A", "5", "1", "1", "1"]
    assert out["mitos"].tolist() == [0, 0, 5, 0, 0, 0]
    g = event_flags(v, events, "gastrostomy")
    assert g.tolist() == [True, False, False, True, False, False]


def test_flags_from_row_columns_combine_with_events() -> None:
    v = visits()
    v["gastrostomy"] = [0, 1, None, 0, 0, 0]
    v["dead"] = [0, 0, 0, 0, 0, 1]
    events = pd.DataFrame({"patient_id": ["B"], "event": ["death"], "day": [400]})
    out = stage_visits(v, events)
    assert out["kings"].tolist() == ["1", "4A", "5", "1", "1", "5"]
    assert out["mitos"].tolist() == [0, 0, 5, 0, 0, 5]


def test_missing_event_columns_raise() -> None:
    with pytest.raises(DataValidationError, match="day"):
        stage_visits(visits(), pd.DataFrame({"patient_id": ["A"], "event": ["death"]}))


def test_large_random_table_agrees_with_direct_calls() -> None:
    from alsnet.clinical import alsfrs_scores, kings_stage, mitos_stage

    rng = np.random.default_rng(1)
    n = 2000
    v = pd.DataFrame(rng.integers(0, 5, size=(n, len(ITEMS))).astype(float), columns=ITEMS)
    v["patient_id"] = rng.integers(0, 300, n).astype(str)
    v["day"] = rng.integers(0, 2000, n)
    ev = pd.DataFrame(
        {
            "patient_id": np.arange(300).astype(str),
            "event": rng.choice(["gastrostomy", "death", "niv"], 300),
            "day": rng.integers(0, 2000, 300),
        }
    )
    out = stage_visits(v, ev)
    eday = v["patient_id"].map(ev.set_index("patient_id")["day"])
    etype = v["patient_id"].map(ev.set_index("patient_id")["event"])
    gastro = ((etype == "gastrostomy") & (eday <= v["day"])).to_numpy()
    dead = ((etype == "death") & (eday <= v["day"])).to_numpy()
    assert out["kings"].tolist() == kings_stage(v, gastrostomy=gastro, dead=dead).tolist()
    assert out["mitos"].tolist() == mitos_stage(v, dead=dead).tolist()
    np.testing.assert_array_equal(out["alsfrs_r_total"], alsfrs_scores(v)["alsfrs_r_total"])


def test_input_frame_is_not_modified_and_duplicate_index_is_kept() -> None:
    v = visits()
    v.index = [0, 0, 1, 1, 2, 2]
    v["kings"] = "old"
    before = v.copy()
    out = stage_visits(v)
    pd.testing.assert_frame_equal(v, before)
    assert list(out.index) == [0, 0, 1, 1, 2, 2]
    assert out["kings"].tolist() == ["1"] * 6
