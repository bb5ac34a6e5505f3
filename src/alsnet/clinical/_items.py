"""Read ALSFRS item columns into float arrays, and three-valued logic for staging rules.

Staging rules are evaluated with explicit missing-data logic: each condition is a
pair ``(true, known)`` of boolean arrays. A condition on a missing item is
unknown, so a stage is only reported when the answered items determine it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsnet.schema import ALSFRS_R_ITEMS
from alsnet.validation import ProblemLog

__all__ = [
    "ITEM_COLUMNS",
    "Cond",
    "all_of",
    "any_of",
    "cmp",
    "flag_array",
    "item_arrays",
    "text_equals",
]

#: Every item column the scores read (ALSFRS-R items plus the original respiratory item).
ITEM_COLUMNS: tuple[str, ...] = (*ALSFRS_R_ITEMS, "q10_alsfrs")

#: A condition under missing data: (true, known) boolean arrays.
Cond = tuple[np.ndarray, np.ndarray]


def item_arrays(df: pd.DataFrame, *, source: str = "visits") -> dict[str, np.ndarray]:
    """Return each item column of ``df`` as a float64 array (NaN = missing).

    Columns absent from ``df`` are returned as all-NaN arrays (treated as unanswered).

    Parameters
    ----------
    df : DataFrame
        Table with some of the item columns ``q1`` .. ``q12``, ``q5a``, ``q5b``,
        ``q10_alsfrs`` (points, 0-4; half points allowed).
    source : str
        Name used in problem reports.

    Returns
    -------
    dict of str to ndarray
        One float64 array of length ``len(df)`` per item column.

    Raises
    ------
    DataValidationError
        When an item is not a number or lies outside 0-4 points.
    """
    n = len(df)
    log = ProblemLog()
    lines = np.arange(1, n + 1)
    out: dict[str, np.ndarray] = {}
    for c in ITEM_COLUMNS:
        if c not in df.columns:
            out[c] = np.full(n, np.nan)
            continue
        raw = df[c]
        if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
            x = raw.to_numpy(dtype="float64", na_value=np.nan)
        else:
            num = pd.to_numeric(raw, errors="coerce")
            x = num.to_numpy(dtype="float64", na_value=np.nan)
            nonnum = np.isnan(x) & raw.notna().to_numpy()
            log.add_mask(
                nonnum,
                source=source,
                lines=lines,
                column=c,
                values=raw,
                rule="ALSFRS items must be numbers (points)",
            )
        x = np.ascontiguousarray(x)  # columns of a 2-D block are strided: slow
        if x.size and not (np.fmin.reduce(x) >= 0 and np.fmax.reduce(x) <= 4):
            with np.errstate(invalid="ignore"):
                bad = ~np.isnan(x) & ((x < 0) | (x > 4))
            log.add_mask(
                bad,
                source=source,
                lines=lines,
                column=c,
                values=x,
                rule="ALSFRS items must lie between 0 and 4 points",
            )
        out[c] = x
    log.raise_if_any()
    return out


def text_equals(values: pd.Series, target: str) -> np.ndarray:
    """Whether each cell equals ``target`` after stripping and lower-casing (NA = False).

    Normalises only the distinct values (factorize), so it is fast on long columns.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    hit = np.array([str(u).strip().lower() == target for u in uniques] + [False], dtype=bool)
    return np.asarray(hit[codes], dtype=bool)


def flag_array(flag: object, index: pd.Index, *, name: str) -> np.ndarray:
    """Turn a 0/1 flag (array, Series aligned on ``index``, or None) into a bool array.

    Missing values count as 0 (not known to have happened).
    """
    n = len(index)
    if flag is None:
        return np.zeros(n, dtype=bool)
    if isinstance(flag, pd.Series):
        values = pd.to_numeric(flag.reindex(index), errors="coerce")
        x = values.to_numpy(dtype="float64", na_value=np.nan)
    else:
        x = pd.to_numeric(pd.Series(np.asarray(flag)), errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
        if x.ndim == 0:
            x = np.full(n, float(x))
    if x.shape != (n,):
        raise ValueError(f"{name} has {x.shape[0]} values; expected {n} (one per row)")
    return np.asarray(x == 1, dtype=bool)


def cmp(x: np.ndarray, op: str, threshold: float) -> Cond:
    """Condition ``x <op> threshold``; unknown where ``x`` is NaN."""
    known = ~np.isnan(x)
    with np.errstate(invalid="ignore"):
        if op == "<":
            t = x < threshold
        elif op == "<=":
            t = x <= threshold
        elif op == "==":
            t = x == threshold
        else:  # pragma: no cover - programming error
            raise ValueError(op)
    return t & known, known


def any_of(*conds: Cond) -> Cond:
    """Kleene OR: true if any is true; false if all are known and false."""
    true = np.logical_or.reduce([t for t, _ in conds])
    false = np.logical_and.reduce([k & ~t for t, k in conds])
    return true, true | false


def all_of(*conds: Cond) -> Cond:
    """Kleene AND: true if all are true; false if any is known and false."""
    true = np.logical_and.reduce([t for t, _ in conds])
    false = np.logical_or.reduce([k & ~t for t, k in conds])
    return true, true | false
