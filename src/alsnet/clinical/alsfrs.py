"""ALSFRS-R and ALSFRS totals and ALSFRS-R domain subscores.

Sources: ALSFRS-R, Cedarbaum et al., J Neurol Sci 1999 (12 items, 0-48);
original ALSFRS, ALS CNTF Treatment Study Group, Arch Neurol 1996 (10 items, 0-40).
Domains as specified for alsnet: bulbar = q1+q2+q3, fine motor = q4+q5+q6,
gross motor = q7+q8+q9, respiratory = q10+q11+q12 (ALSFRS-R only), where q5 is
whichever of q5a/q5b was answered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsnet.clinical._items import item_arrays, text_equals

__all__ = ["SCORE_COLUMNS", "alsfrs_scores"]

#: Columns returned by :func:`alsfrs_scores`, in order.
SCORE_COLUMNS: tuple[str, ...] = (
    "alsfrs_r_total",
    "alsfrs_total",
    "bulbar",
    "fine_motor",
    "gross_motor",
    "respiratory",
    "total_source",
)

_SOURCES = ("items", "reported")


def alsfrs_scores(visits: pd.DataFrame) -> pd.DataFrame:
    """Score ALSFRS-R / ALSFRS visits: totals and domain subscores, vectorised.

    Parameters
    ----------
    visits : DataFrame
        Visits with item columns ``q1`` .. ``q12``, ``q5a``, ``q5b`` and, for the
        original ALSFRS, ``q10_alsfrs`` (points, 0-4, half points allowed; absent
        columns count as unanswered), and optionally ``instrument``
        (``"alsfrs_r"`` or ``"alsfrs"``) and ``total_reported`` (points).

    Returns
    -------
    DataFrame
        Aligned to ``visits.index``, float64 points unless stated:

        ``alsfrs_r_total``
            ALSFRS-R total, 0-48; only for ALSFRS-R visits (NaN otherwise).
        ``alsfrs_total``
            Original ALSFRS total, 0-40 (q1..q9 + q10_alsfrs); only for
            ``instrument == "alsfrs"``. Never reported as ``alsfrs_r_total``.
        ``bulbar``, ``fine_motor``, ``gross_motor``
            0-12 each; items 1-9 are shared by both instruments.
        ``respiratory``
            q10+q11+q12, 0-12; ALSFRS-R visits only.
        ``total_source``
            Categorical: ``"items"`` (sum of items), ``"reported"`` (items
            incomplete, ``total_reported`` used) or missing (no total).

    Notes
    -----
    * A visit counts as ALSFRS-R when ``instrument == "alsfrs_r"``. Without an
      ``instrument`` column, a visit counts as ALSFRS-R when q10, q11 and q12 are
      all answered, and as the original ALSFRS when ``q10_alsfrs`` is answered
      and q10..q12 are not.
    * ``q5`` is q5a if only q5a is answered, q5b if only q5b is; if both are
      answered the item is ambiguous and treated as missing (validation rejects
      such rows).
    * A total or domain is NaN when any of its items is missing (no imputation).
      If the item total is missing but ``total_reported`` is present and the
      ``instrument`` column says which scale it is on, the reported total is used
      (0-48 for ALSFRS-R, 0-40 for ALSFRS) and ``total_source`` says so.
      Domains never fall back to the reported total.

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({"instrument": ["alsfrs_r"], **{f"q{i}": [4.0] for i in
    ...     (1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12)}, "q5a": [3.0]})
    >>> alsfrs_scores(v)[["alsfrs_r_total", "fine_motor", "respiratory"]].iloc[0].tolist()
    [47.0, 11.0, 12.0]
    """
    return scores_from_items(item_arrays(visits), visits)


def _instrument_flags(instrument: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Whether each visit is ALSFRS-R / original ALSFRS by its ``instrument`` cell.

    As :func:`~alsnet.clinical._items.text_equals` with ``"alsfrs_r"`` and
    ``"alsfrs"`` (stripped, lower-cased; NA = neither), but cells spelled exactly
    like that (the canonical form) are recognised by one vectorised comparison;
    only the other cells are normalised.
    """
    cells = instrument.to_numpy(dtype=object, na_value="")
    is_r = np.asarray(cells == "alsfrs_r", dtype=bool)
    is_o = np.asarray(cells == "alsfrs", dtype=bool)
    rest = np.flatnonzero(~(is_r | is_o))
    if rest.size:
        other = instrument.iloc[rest]
        is_r[rest] = text_equals(other, "alsfrs_r")
        is_o[rest] = text_equals(other, "alsfrs")
    return is_r, is_o


def scores_from_items(it: dict[str, np.ndarray], visits: pd.DataFrame) -> pd.DataFrame:
    """:func:`alsfrs_scores` on item arrays already read from ``visits``."""
    n = len(visits)
    a = ~np.isnan(it["q5a"])
    b = ~np.isnan(it["q5b"])
    q5 = np.where(a & ~b, it["q5a"], np.where(b & ~a, it["q5b"], np.nan))
    bulbar = it["q1"] + it["q2"] + it["q3"]
    fine = it["q4"] + q5 + it["q6"]
    gross = it["q7"] + it["q8"] + it["q9"]
    resp_r = it["q10"] + it["q11"] + it["q12"]
    shared = bulbar + fine + gross
    has_instrument = "instrument" in visits.columns
    if has_instrument:
        is_r, is_o = _instrument_flags(visits["instrument"])
    else:
        r_items = ~np.isnan(it["q10"]) & ~np.isnan(it["q11"]) & ~np.isnan(it["q12"])
        no_r = np.isnan(it["q10"]) & np.isnan(it["q11"]) & np.isnan(it["q12"])
        is_r = r_items
        is_o = ~np.isnan(it["q10_alsfrs"]) & no_r
    total_r = np.where(is_r, shared + resp_r, np.nan)
    total_o = np.where(is_o, shared + it["q10_alsfrs"], np.nan)
    from_items = ~np.isnan(total_r) | ~np.isnan(total_o)
    reported = np.zeros(n, dtype=bool)
    if has_instrument and "total_reported" in visits.columns:
        rep = pd.to_numeric(visits["total_reported"], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
        with np.errstate(invalid="ignore"):
            use_r = is_r & np.isnan(total_r) & (rep >= 0) & (rep <= 48)
            use_o = is_o & np.isnan(total_o) & (rep >= 0) & (rep <= 40)
        total_r = np.where(use_r, rep, total_r)
        total_o = np.where(use_o, rep, total_o)
        reported = use_r | use_o
    codes = np.where(from_items, 0, np.where(reported, 1, -1)).astype(np.int8)
    return pd.DataFrame(
        {
            "alsfrs_r_total": total_r,
            "alsfrs_total": total_o,
            "bulbar": bulbar,
            "fine_motor": fine,
            "gross_motor": gross,
            "respiratory": np.where(is_r, resp_r, np.nan),
            "total_source": pd.Categorical.from_codes(codes, categories=pd.Index(_SOURCES)),
        },
        index=visits.index,
    )
