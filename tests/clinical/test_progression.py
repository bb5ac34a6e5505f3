"""ΔFS: closed forms and the choice of visit."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from alsnet.clinical import days_to_months, delta_fs, delta_fs_at_first_visit

R_ITEMS = ["q1", "q2", "q3", "q4", "q5a", "q6", "q7", "q8", "q9", "q10", "q11", "q12"]


def test_closed_form() -> None:
    np.testing.assert_allclose(delta_fs([36.0, 48.0, 30.0], [12.0, 6.0, 3.0]), [1.0, 0.0, 6.0])
    # original ALSFRS uses 40
    np.testing.assert_allclose(delta_fs(30.0, 5.0, instrument_max=40), 2.0)
    # one year of days is 12 months
    np.testing.assert_allclose(days_to_months(365.25), 12.0)
    np.testing.assert_allclose(days_to_months(np.array([0, 730.5])), [0.0, 24.0])


def test_undefined_duration_is_nan_not_inf() -> None:
    out = delta_fs([40.0, 40.0, 40.0, np.nan], [0.0, -1.0, np.nan, 3.0])
    assert np.isnan(out).all()


@given(st.floats(0, 48), st.floats(0.01, 600))
def test_decline_is_positive(total: float, months: float) -> None:
    v = float(delta_fs(total, months))
    assert v >= 0
    assert np.isclose(v * months, 48 - total)


def _visits(rows: list[tuple[str, int, float | None]]) -> pd.DataFrame:
    out = []
    for pid, day, q1 in rows:
        r: dict[str, object] = {"patient_id": pid, "day": day, "instrument": "alsfrs_r"}
        r.update({c: 4.0 for c in R_ITEMS})
        r["q1"] = q1
        out.append(r)
    return pd.DataFrame(out)


def test_first_visit_with_a_total_is_used() -> None:
    v = _visits(
        [
            ("B", 400, 2.0),
            ("A", 365, 0.0),  # A's later visit (listed first)
            ("A", 200, None),  # earliest A visit has no total: skipped
            ("A", 300, 1.0),  # first A visit with a total: 45 at 300 days
            ("C", 0, 4.0),  # on onset day: undefined, not replaced by a later visit
            ("C", 100, 1.0),
            ("D", 50, None),
        ]
    )
    out = delta_fs_at_first_visit(v)
    assert out.name == "delta_fs"
    assert list(out.index) == ["B", "A", "C", "D"]
    assert np.isclose(out["A"], 3 / (300 / 365.25 * 12))
    assert np.isclose(out["B"], 2 / (400 / 365.25 * 12))
    assert np.isnan(out["C"]) and np.isnan(out["D"])


def test_original_alsfrs_visits_are_ignored() -> None:
    v = _visits([("A", 100, 3.0), ("A", 200, 2.0)])
    v.loc[0, "instrument"] = "alsfrs"
    v.loc[0, ["q10", "q11", "q12"]] = np.nan
    v["q10_alsfrs"] = [4.0, np.nan]
    out = delta_fs_at_first_visit(v)
    assert np.isclose(out["A"], 2 / (200 / 365.25 * 12))
