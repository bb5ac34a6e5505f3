"""Convert site files with calendar dates to days since symptom onset.

Sites often export calendar dates. alsnet research tables hold only integer
days since each patient's symptom onset, so at import every date column is
converted using the patient's ``onset_date`` (``patients.csv``) and then
**dropped**: dates never reach a :class:`~alsnet.cohort.Cohort`, the registry
store or an error message (problems name file, line and column, never the date).

Recognised date columns (ISO ``yyyy-mm-dd``) and the day column they become:

========== =================================== ===============
table      date column(s)                      becomes
========== =================================== ===============
patients   ``onset_date``                      day 0 (dropped)
patients   ``diagnosis_date``                  ``diagnosis_day``
visits     ``visit_date``, ``date``            ``day``
events     ``event_date``, ``date``            ``day``
biomarkers ``sample_date``, ``date``           ``day``
treatments ``start_date``, ``stop_date``       ``start_day``, ``stop_day``
biosamples ``sample_date``, ``collection_date``, ``date``  ``day``
consents   ``consent_date``, ``date``          ``day``
========== =================================== ===============

Any other column whose name ends in ``_date`` is dropped as well (except
direct-identifier names such as ``date_of_birth`` and ``birth_date``, which are
left in place so that validation refuses them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from alsnet.exceptions import Problem
from alsnet.schema import IDENTIFIER_COLUMNS, TABLES
from alsnet.validation import ProblemLog

__all__ = ["DATE_COLUMNS", "convert_dates"]

log = logging.getLogger(__name__)

#: Date column -> canonical day column, per table (``None``: the anchor itself).
DATE_COLUMNS: dict[str, dict[str, str | None]] = {
    "patients": {"onset_date": None, "diagnosis_date": "diagnosis_day"},
    "visits": {"visit_date": "day", "date": "day"},
    "events": {"event_date": "day", "date": "day"},
    "biomarkers": {"sample_date": "day", "date": "day"},
    "treatments": {"start_date": "start_day", "stop_date": "stop_day"},
    "biosamples": {"sample_date": "day", "collection_date": "day", "date": "day"},
    "consents": {"consent_date": "day", "date": "day"},
}


def _is_date_column(table: str, col: str) -> bool:
    if col in IDENTIFIER_COLUMNS:
        return False
    return col in DATE_COLUMNS.get(table, {}) or col.endswith("_date")


def _parse(values: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (days since 1970-01-01 as float, blank mask, bad mask)."""
    text = values.astype("string").str.strip()
    blank = (text.isna() | (text == "")).to_numpy(dtype=bool)
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    bad = ~blank & parsed.isna().to_numpy(dtype=bool)
    epoch_days = (parsed - pd.Timestamp("1970-01-01")).dt.days.to_numpy(
        dtype="float64", na_value=np.nan
    )
    return epoch_days, blank, bad


def convert_dates(
    raw: dict[str, pd.DataFrame],
    *,
    sources: Mapping[str, str],
    lines: Mapping[str, np.ndarray],
    log_problems: ProblemLog,
) -> dict[str, pd.DataFrame]:
    """Replace date columns by day columns and drop every date column.

    Parameters
    ----------
    raw : dict of str to DataFrame
        Text tables keyed by canonical name (header names lower-case).
    sources, lines : mappings
        File name and per-row line numbers of each table, for problems.
    log_problems : ProblemLog
        Receives bad or unconvertible dates (file, line, column; never the value).

    Returns
    -------
    dict of str to DataFrame
        Tables without any date column; converted day columns as text.
    """
    uses_dates = {
        name: [c for c in df.columns if _is_date_column(name, c)] for name, df in raw.items()
    }
    if not any(uses_dates.values()):
        return raw
    onset: pd.Series | None = None
    patients = raw.get("patients")
    if patients is not None and "onset_date" in patients.columns:
        days, _blank, bad = _parse(patients["onset_date"])
        _report(
            bad,
            "patients",
            "onset_date",
            sources,
            lines,
            log_problems,
            "must be an ISO date yyyy-mm-dd",
        )
        ids = (
            patients["patient_id"].astype("string").str.strip()
            if "patient_id" in patients
            else pd.Series(dtype="string")
        )
        onset = pd.Series(days, index=ids.to_numpy()).loc[lambda s: ~s.index.duplicated()]
    out: dict[str, pd.DataFrame] = {}
    for name, df in raw.items():
        cols = uses_dates[name]
        if not cols:
            out[name] = df
            continue
        df = df.copy()
        mapping = DATE_COLUMNS.get(name, {})
        for col in cols:
            target = mapping.get(col)
            if target is not None:
                df = _convert_one(df, name, col, target, onset, sources, lines, log_problems)
        dropped = [c for c in cols if c in df.columns]
        log.info("%s: converted and dropped date column(s) %s", sources.get(name, name), dropped)
        out[name] = df.drop(columns=dropped)
    return out


def _convert_one(
    df: pd.DataFrame,
    name: str,
    col: str,
    target: str,
    onset: pd.Series | None,
    sources: Mapping[str, str],
    lines: Mapping[str, np.ndarray],
    log_problems: ProblemLog,
) -> pd.DataFrame:
    source = sources.get(name, name)
    if target in df.columns:
        log_problems.add(Problem(source, 1, col, None, f"give either {col} or {target}, not both"))
        return df
    if onset is None:
        log_problems.add(
            Problem(
                source,
                1,
                col,
                None,
                "calendar dates need an onset_date column in patients.csv "
                "to be converted to days since onset",
            )
        )
        return df
    days, blank, bad = _parse(df[col])
    _report(bad, name, col, sources, lines, log_problems, "must be an ISO date yyyy-mm-dd")
    pid = (
        df["patient_id"].astype("string").str.strip()
        if "patient_id" in df.columns
        else pd.Series(pd.NA, index=df.index, dtype="string")
    )
    anchor = pid.map(onset).to_numpy(dtype="float64", na_value=np.nan)
    known = pid.isin(onset.index).fillna(False).to_numpy(dtype=bool)
    spec = TABLES[name].column(target)
    need = ~blank & ~bad
    _report(
        need & ~known,
        name,
        col,
        sources,
        lines,
        log_problems,
        "patient_id not found in patients.csv, so this date cannot be converted",
    )
    _report(
        need & known & np.isnan(anchor),
        name,
        col,
        sources,
        lines,
        log_problems,
        "the patient has no onset_date in patients.csv, so this date cannot be converted",
    )
    if not spec.nullable:
        _report(blank, name, col, sources, lines, log_problems, "a date is required")
    delta = days - anchor
    text = np.where(np.isfinite(delta), np.nan_to_num(delta).astype(np.int64).astype(str), "")
    df[target] = text
    return df


def _report(
    mask: np.ndarray,
    name: str,
    col: str,
    sources: Mapping[str, str],
    lines: Mapping[str, np.ndarray],
    log_problems: ProblemLog,
    rule: str,
) -> None:
    ln = lines.get(name)
    ln = np.arange(2, len(mask) + 2) if ln is None else ln
    log_problems.add_mask(
        mask, source=sources.get(name, name), lines=ln, column=col, values=None, rule=rule
    )
