"""Vectorised row comparison agrees with a brute-force per-id set comparison."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from alsnet.registry._diff import differing_ids, differing_tables

_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 3), st.sampled_from([0.1, 0.2, None])
    ),
    max_size=12,
    unique_by=lambda r: (r[0], r[1]),
)


def _frame(rows: list[tuple[str, int, float | None]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["pid", "day", "x"])
    return df.astype({"pid": "string", "day": "int64", "x": "float64"})


@settings(max_examples=40, deadline=None)
@given(_ROWS, _ROWS)
def test_matches_brute_force(a: list, b: list) -> None:
    expected = {
        pid
        for pid in {r[0] for r in a} | {r[0] for r in b}
        if {r for r in a if r[0] == pid} != {r for r in b if r[0] == pid}
    }
    assert set(differing_ids(_frame(a), _frame(b), "pid")) == expected


def test_nan_equals_nan_and_float_bits_matter() -> None:
    a = _frame([("a", 1, None), ("b", 1, 0.1 + 0.2)])
    b = _frame([("a", 1, None), ("b", 1, 0.3)])
    assert list(differing_ids(a, b, "pid")) == ["b"]


def test_differing_tables_groups_by_id() -> None:
    a = {"t1": _frame([("a", 1, 0.1)]), "t2": _frame([("a", 1, 0.1), ("b", 2, 0.2)])}
    b = {"t1": _frame([("a", 1, 0.2)]), "t2": _frame([("a", 1, 0.1)])}
    assert differing_tables(a, b, "pid") == {"a": ["t1"], "b": ["t2"]}
