"""The Cohort container: validated once, immutable, content-fingerprinted."""

from __future__ import annotations

import pandas as pd
import pytest

from alsnet import Cohort, DataValidationError


def _raw(n: int = 3) -> dict[str, pd.DataFrame]:
    pats = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "site_id": "S1",
            "sex": ["F", "M", "M"][:n],
            "age_onset": [55.0, 61.2, 70.9][:n],
            "onset_region": ["bulbar", "upper_limb", "lower_limb"][:n],
            "diagnosis_day": [200, 300, 400][:n],
            "el_escorial": "probable",
            "ftd": 0,
            "c9orf72": [1, None, 0][:n],
            "sod1": None,
            "ancestry": "EUR",
        }
    )
    items = {f"q{i}": 3.0 for i in range(1, 13) if i != 5} | {"q5a": 3.0}
    visits = pd.DataFrame(
        [
            {"patient_id": f"P{i}", "day": d, "instrument": "alsfrs_r", **items}
            for i in range(n)
            for d in (250, 340)
        ]
    )
    events = pd.DataFrame({"patient_id": ["P0"], "event": ["death"], "day": [900]})
    return {"patients": pats, "visits": visits, "events": events}


def test_fingerprint_ignores_row_order_but_not_content() -> None:
    a = Cohort.from_tables(_raw())
    raw = _raw()
    raw["visits"] = raw["visits"].iloc[::-1].reset_index(drop=True)
    b = Cohort.from_tables(raw)
    assert a == b and a.fingerprint == b.fingerprint
    raw["visits"].loc[0, "q1"] = 2.0
    c = Cohort.from_tables(raw)
    assert c != a


def test_tables_cannot_be_replaced() -> None:
    c = Cohort.from_tables(_raw())
    with pytest.raises(TypeError):
        c.tables["visits"] = pd.DataFrame()  # type: ignore[index]
    with pytest.raises(AttributeError):
        c.fingerprint = "x"  # type: ignore[misc]


def test_attribute_access_and_repr() -> None:
    c = Cohort.from_tables(_raw())
    assert len(c.visits) == 6 and len(c.biosamples) == 0
    assert repr(c) == "Cohort(patients=3, visits=6, events=1, sites=0)"
    with pytest.raises(AttributeError):
        _ = c.no_such_table


def test_subset_keeps_only_given_patients() -> None:
    c = Cohort.from_tables(_raw())
    s = c.subset(["P0"])
    assert list(s.patients["patient_id"]) == ["P0"]
    assert set(s.visits["patient_id"]) == {"P0"} and len(s.events) == 1


def test_invalid_tables_build_nothing() -> None:
    raw = _raw()
    raw["patients"].loc[1, "sex"] = "X"
    with pytest.raises(DataValidationError) as e:
        Cohort.from_tables(raw)
    assert e.value.problems[0].column == "sex" and e.value.problems[0].row == 2
