"""Score and stage a whole visits table in one vectorised pass."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsnet.clinical._items import flag_array, item_arrays
from alsnet.clinical.alsfrs import scores_from_items
from alsnet.clinical.kings import KINGS_DTYPE, kings_codes, region_count
from alsnet.clinical.mitos import mitos_from_items
from alsnet.exceptions import DataValidationError, Problem

__all__ = ["STAGE_COLUMNS", "event_flags", "stage_visits"]

#: Columns added by :func:`stage_visits`, in order.
STAGE_COLUMNS: tuple[str, ...] = (
    "alsfrs_r_total",
    "bulbar",
    "fine_motor",
    "gross_motor",
    "respiratory",
    "kings",
    "kings_regions",
    "mitos",
)


def _check_columns(visits: pd.DataFrame, events: pd.DataFrame) -> None:
    problems = [
        Problem(name, None, c, None, "required column is missing")
        for name, df, cols in (
            ("visits", visits, ("patient_id", "day")),
            ("events", events, ("patient_id", "event", "day")),
        )
        for c in cols
        if c not in df.columns
    ]
    if problems:
        raise DataValidationError(problems)


def _event_flags(visits: pd.DataFrame, events: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
    """(len(visits), len(names)) bool: event j on or before each visit's day."""
    _check_columns(visits, events)
    ev = events.loc[events["event"].isin(names).to_numpy(dtype=bool)]
    first = ev.groupby(["patient_id", "event"], sort=False, observed=True)["day"].min()
    wide = first.unstack("event").reindex(columns=list(names))
    # hash the visits' ids once (factorize), then look up only the distinct ids
    codes, uniques = pd.factorize(visits["patient_id"])
    rows = np.append(wide.index.get_indexer(pd.Index(uniques)), -1)[codes]
    days = np.vstack([wide.to_numpy(dtype="float64", na_value=np.nan), np.full(len(names), np.nan)])
    eday = days[rows]  # row -1 (no events) picks the all-NaN row
    vday = pd.to_numeric(visits["day"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        return np.asarray(eday <= vday[:, None], dtype=bool)


def event_flags(visits: pd.DataFrame, events: pd.DataFrame, event: str) -> np.ndarray:
    """Whether ``event`` happened on or before each visit's day.

    Parameters
    ----------
    visits : DataFrame
        With ``patient_id`` and ``day`` (days since onset).
    events : DataFrame
        Canonical events: ``patient_id``, ``event``, ``day``. The earliest day of
        ``event`` per patient is used.
    event : str
        Event name, e.g. ``"gastrostomy"`` or ``"death"``.

    Returns
    -------
    ndarray of bool
        One value per visit (vectorised hash join, no per-patient loop).
    """
    return _event_flags(visits, events, (event,))[:, 0]


def _row_flag(visits: pd.DataFrame, column: str) -> np.ndarray:
    if column not in visits.columns:
        return np.zeros(len(visits), dtype=bool)
    return flag_array(visits[column], visits.index, name=column)


def stage_visits(visits: pd.DataFrame, events: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add ALSFRS-R scores, King's and MiToS stages to a visits table.

    Parameters
    ----------
    visits : DataFrame
        Visits with ALSFRS-R items (``q1`` .. ``q12``, ``q5a``/``q5b``; points),
        optionally ``instrument``, ``total_reported``, and per-row 0/1 flags
        ``gastrostomy`` (gastrostomy in place) and ``dead`` (patient dead).
        With ``events``, also ``patient_id`` and ``day`` (days since onset).
    events : DataFrame, optional
        Canonical events (``patient_id``, ``event``, ``day``): a ``gastrostomy``
        event on or before the visit day sets the gastrostomy flag, a ``death``
        event on or before the visit day sets the death flag (stage 5). Flags
        from the row and from events are combined with OR.

    Returns
    -------
    DataFrame
        A copy of ``visits`` (all columns, same index and row order) with the
        columns of :data:`STAGE_COLUMNS` added (replacing same-named columns):
        ``alsfrs_r_total``, domain subscores (points), ``kings`` (ordered
        categorical 1/2/3/4A/4B/5), ``kings_regions`` (Int64 0-3; 0 is staged
        as King's 1 by project choice) and ``mitos`` (Int64 0-5).

    See Also
    --------
    alsfrs_scores, kings_stage, kings_regions, mitos_stage
    """
    gastro = _row_flag(visits, "gastrostomy")
    dead = _row_flag(visits, "dead")
    if events is not None:
        flags = _event_flags(visits, events, ("gastrostomy", "death"))
        gastro = gastro | flags[:, 0]
        dead = dead | flags[:, 1]
    it = item_arrays(visits)
    scores = scores_from_items(it, visits)
    count, known = region_count(it)
    mitos, undetermined = mitos_from_items(it, dead)
    added: dict[str, np.ndarray | pd.api.extensions.ExtensionArray] = {
        **{c: scores[c].to_numpy() for c in STAGE_COLUMNS[:5]},
        "kings": pd.Categorical.from_codes(kings_codes(it, gastro, dead), dtype=KINGS_DTYPE),
        "kings_regions": pd.arrays.IntegerArray(count, ~known),
        "mitos": pd.arrays.IntegerArray(mitos, undetermined),
    }
    out = visits.copy(deep=False)  # new columns only; the caller's frame is never modified
    for c in STAGE_COLUMNS:
        if c in out.columns:
            del out[c]
    for c, values in added.items():
        out[c] = values
    return out
