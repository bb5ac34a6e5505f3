"""Rules of alsnet.validation: every broken rule names source, line, column, value and rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsnet.exceptions import DataValidationError, IdentifierError
from alsnet.schema import TABLES
from alsnet.validation import coerce_table, validate_tables

ITEMS_R = {f"q{i}": 4 for i in range(1, 13) if i != 5} | {"q5a": 4}


def _patients(**over: object) -> pd.DataFrame:
    row = {
        "patient_id": "P1",
        "site_id": "S1",
        "sex": "F",
        "age_onset": "61.5",
        "onset_region": "bulbar",
        "diagnosis_day": "270",
        "el_escorial": "probable",
        "ftd": "0",
        "c9orf72": "",
        "sod1": "0",
        "ancestry": "EUR",
    }
    row.update({k: str(v) for k, v in over.items()})
    return pd.DataFrame([row])


def _visits(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {"patient_id": "P1", "day": 300, "instrument": "alsfrs_r", **ITEMS_R}
    return pd.DataFrame([{**base, **r} for r in rows]).astype("string")


def _events(rows: list[dict[str, object]] | None = None) -> pd.DataFrame:
    return pd.DataFrame(rows or [], columns=["patient_id", "event", "day"]).astype("string")


def _validate(
    visits: pd.DataFrame | None = None, events: pd.DataFrame | None = None, **kw: object
) -> dict[str, pd.DataFrame]:
    raw = {
        "patients": kw.pop("patients", _patients()),  # type: ignore[arg-type]
        "visits": _visits([{}]) if visits is None else visits,
        "events": _events() if events is None else events,
    }
    return validate_tables(raw, sources={"visits": "visits.csv"}, **kw)  # type: ignore[arg-type]


def _rules(exc: pytest.ExceptionInfo[DataValidationError]) -> list[str]:
    return [p.rule for p in exc.value.problems]


def test_valid_minimal_cohort_has_canonical_dtypes() -> None:
    t = _validate()
    assert set(t) == set(TABLES)
    assert t["visits"]["day"].dtype == np.int64
    assert t["visits"]["q1"].dtype == np.float64
    assert str(t["patients"]["c9orf72"].dtype) == "Int64"
    assert t["patients"]["c9orf72"].isna().all()
    assert str(t["patients"]["sex"].dtype) == "string"


def test_item_out_of_range_names_line_column_value() -> None:
    with pytest.raises(DataValidationError) as e:
        _validate(_visits([{}, {"day": 400, "q3": 5}]))
    (p,) = e.value.problems
    assert (p.source, p.row, p.column, p.value) == ("visits.csv", 2, "q3", "5")
    assert "between 0 and 4" in p.rule
    assert "visits.csv, line 2, column 'q3'" in str(e.value)


def test_non_numeric_item_and_half_points() -> None:
    with pytest.raises(DataValidationError) as e:
        _validate(_visits([{"q2": "three"}, {"day": 400, "q2": 2.5}, {"day": 500, "q2": 2.25}]))
    cols = [(p.row, p.column) for p in e.value.problems]
    assert cols == [(1, "q2"), (3, "q2")]
    assert "number" in e.value.problems[0].rule
    assert "multiple of 0.5" in e.value.problems[1].rule


def test_both_q5a_and_q5b_refused() -> None:
    with pytest.raises(DataValidationError) as e:
        _validate(_visits([{"q5b": 3}]))
    assert any("both q5a and q5b" in r for r in _rules(e))


def test_missing_item5_and_incomplete_items() -> None:
    with pytest.raises(DataValidationError) as e:
        _validate(_visits([{"q5a": None, "q11": None}]))
    rules = _rules(e)
    assert any("item 5 is missing" in r for r in rules)
    assert any(p.column == "q11" for p in e.value.problems)


def test_total_disagreeing_with_items() -> None:
    with pytest.raises(DataValidationError) as e:
        _validate(_visits([{"total_reported": 47}]))
    assert _rules(e) == ["reported total disagrees with the sum of the items"]
    _validate(_visits([{"total_reported": 48}]))  # agrees: fine


def test_original_alsfrs_keeps_q10_to_q12_empty() -> None:
    orig = {
        "instrument": "alsfrs",
        "q10": None,
        "q11": None,
        "q12": None,
        "q10_alsfrs": 4,
        "total_reported": 40,
    }
    _validate(_visits([orig]))
    with pytest.raises(DataValidationError) as e:
        _validate(_visits([{**orig, "q11": 4}]))
    assert any("original ALSFRS" in r for r in _rules(e))


def test_visit_before_onset_beyond_tolerance() -> None:
    _validate(_visits([{"day": -20}]))
    with pytest.raises(DataValidationError) as e:
        _validate(_visits([{"day": -200}]))
    assert any("before symptom onset" in r for r in _rules(e))


def test_death_before_later_visit() -> None:
    with pytest.raises(DataValidationError) as e:
        _validate(
            _visits([{"day": 300}, {"day": 900}]),
            _events([{"patient_id": "P1", "event": "death", "day": "600"}]),
        )
    (p,) = e.value.problems
    assert p.row == 2 and p.column == "day" and "after the patient's recorded death" in p.rule


def test_duplicate_visit_key() -> None:
    with pytest.raises(DataValidationError) as e:
        _validate(_visits([{}, {}]))
    assert "duplicate key" in _rules(e)[0]


def test_unknown_column_strict_only() -> None:
    v = _visits([{"favourite_colour": "blue"}])
    _validate(v)
    with pytest.raises(DataValidationError) as e:
        _validate(v, strict=True)
    assert e.value.problems[0].column == "favourite_colour"


def test_identifier_column_refused_without_echoing_values() -> None:
    p = _patients()
    p["surname"] = "Secretname"
    with pytest.raises(IdentifierError) as e:
        _validate(patients=p)
    assert "Secretname" not in str(e.value)
    assert e.value.problems[0].column == "surname"


def test_unknown_patient_and_missing_required() -> None:
    p = _patients().drop(columns=["sex"])
    with pytest.raises(DataValidationError) as e:
        _validate(_visits([{"patient_id": "P9"}]), patients=p)
    rules = _rules(e)
    assert "required column is missing" in rules


def test_all_errors_reported_up_to_limit() -> None:
    bad = _visits([{"day": 300 + i, "q1": 9} for i in range(50)])
    with pytest.raises(DataValidationError) as e:
        _validate(bad, limit=10)
    assert len(e.value.problems) == 10 and e.value.truncated == 40
    assert "and 40 more" in str(e.value)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.integers(-3, 7), st.floats(-1, 5), st.text(max_size=3)),
        min_size=1,
        max_size=30,
    )
)
def test_item_rule_property(values: list[object]) -> None:
    """A cell passes iff it is blank or a multiple of 0.5 in [0, 4]; failures name their line."""
    df = pd.DataFrame({"q1": pd.Series([str(v) for v in values], dtype="string")})
    spec = TABLES["visits"]
    from alsnet.validation import ProblemLog

    log = ProblemLog(limit=1000)
    out = coerce_table(df, spec, log=log)

    def ok(v: object) -> bool:
        try:
            x = float(str(v).strip())
        except ValueError:
            return str(v).strip() == ""
        return bool(np.isfinite(x)) and 0 <= x <= 4 and abs(x * 2 - round(x * 2)) < 1e-9

    expected_bad = {i + 1 for i, v in enumerate(values) if not ok(v)}
    got_bad = {p.row for p in log.problems if p.column == "q1"}
    assert got_bad == expected_bad
    good = [i for i, v in enumerate(values) if ok(v) and str(v).strip()]
    assert np.allclose(out["q1"].to_numpy()[good], [float(str(values[i])) for i in good])
