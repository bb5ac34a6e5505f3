"""Import PRO-ACT files (DREAM long format, ``PROACT_*.csv`` or ``F_PROACT_*.csv``).

PRO-ACT data may only be obtained from PRO-ACT under its data-use agreement;
this importer reads files the user already holds and never downloads anything.
The mapping and every decision taken on a known trap are documented in
``docs/proact.md``.

Examples
--------
>>> from alsnet.io.proact import ImportReport, read_proact
>>> report = ImportReport()
>>> cohort = read_proact("PROACT_2016/", report=report)  # doctest: +SKIP
>>> print(report)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from alsnet.cohort import Cohort
from alsnet.exceptions import AlsnetError, DataValidationError, Problem
from alsnet.io.proact._files import find_files
from alsnet.io.proact._map import map_tables
from alsnet.io.proact._raw import read_raw
from alsnet.io.proact._report import ImportReport
from alsnet.validation import ProblemLog

__all__ = ["ID_PREFIX", "PSEUDONYM_NAMESPACE", "ImportReport", "read_proact"]

log = logging.getLogger(__name__)

#: Prefix of patient ids when PRO-ACT subject ids are kept.
ID_PREFIX = "PROACT-"
#: Namespace given to :func:`alsnet.io.pseudonym.pseudonymise` for PRO-ACT subject ids.
PSEUDONYM_NAMESPACE = "proact"
_PER_PATIENT = ("patients", "visits", "events", "treatments", "biomarkers")


def read_proact(
    path: str | Path | Sequence[str | Path],
    *,
    strict: bool = False,
    keep_ids: bool = True,
    secret: bytes | None = None,
    report: ImportReport | None = None,
) -> Cohort:
    """Read PRO-ACT files into a validated :class:`~alsnet.cohort.Cohort`.

    Parameters
    ----------
    path : str, Path or sequence of them
        A directory of PRO-ACT files, one file, or several files. The layout is
        detected from the file names: ``all_forms_PROACT_*.txt`` (DREAM long,
        pipe-delimited; several files are merged and de-duplicated),
        ``PROACT_<TABLE>.csv`` or ``F_PROACT_<TABLE>.csv``.
    strict : bool, default False
        Refuse instead of resolving: both Q5a and Q5b filled, reported totals
        that disagree with the items, incomplete item sets, unknown units,
        unrecognised onset text or El Escorial category, Death_Days with
        Subject_Died = No, visits after death and unknown DREAM features.
    keep_ids : bool, default True
        Patient id = ``"PROACT-" + subject id``. When False, the id is the keyed
        pseudonym of :func:`alsnet.io.pseudonym.pseudonymise` (needs ``secret``).
    secret : bytes, optional
        Site secret for pseudonyms (required when ``keep_ids`` is False).
    report : ImportReport, optional
        Filled with counts of what was read, excluded, resolved and recomputed.

    Returns
    -------
    Cohort
        Site ``PROACT``; days since symptom onset (delta - ``Onset_Delta``).
        Subjects without a usable ``Onset_Delta`` are excluded (counted).

    Raises
    ------
    DataValidationError
        Listing every problem found (file, line, column, value, rule), before
        anything is returned.
    AlsnetError
        If no PRO-ACT files are found, layouts are mixed, or ``keep_ids`` is
        False without a ``secret``.
    """
    report = report if report is not None else ImportReport()
    if not keep_ids and secret is None:
        raise AlsnetError("keep_ids=False needs the site secret to make pseudonyms (secret=...)")
    files = find_files(path)
    report.layout = files.layout
    report.files = [p.name for p in (files.dream or list(files.tables.values()))]
    plog = ProblemLog()
    raw = read_raw(files, strict=strict, log=plog)
    report.rows_read.update(raw.rows_read)
    report.ignored_tables.update(raw.ignored)
    for k, v in raw.counts.items():
        report.count(k, v)
    plog.raise_if_any()
    tables = map_tables(raw, strict=strict, log=plog, report=report)
    plog.raise_if_any()
    tables = _assign_ids(tables, keep_ids=keep_ids, secret=secret)
    canon = {k: v.loc[:, [not c.startswith("_") for c in v.columns]] for k, v in tables.items()}
    origins = {k: v.loc[:, [c.startswith("_") for c in v.columns]] for k, v in tables.items()}
    try:
        cohort = Cohort.from_tables(canon)
    except DataValidationError as exc:
        raise type(exc)(_locate(exc.problems, origins), exc.truncated) from None
    report.rows_out = {k: len(v) for k, v in cohort.tables.items() if len(v)}
    inst = cohort.visits["instrument"].fillna("none").value_counts()
    report.instrument_counts = {str(k): int(v) for k, v in inst.sort_index().items()}
    log.info("PRO-ACT import: %s", str(report).replace("\n", "; "))
    return cohort


def _assign_ids(
    tables: dict[str, pd.DataFrame], *, keep_ids: bool, secret: bytes | None
) -> dict[str, pd.DataFrame]:
    """Replace PRO-ACT subject ids by canonical patient ids in every per-patient table."""
    subjects = pd.Series(tables["patients"]["patient_id"].astype("string").unique())
    if keep_ids:
        new = ID_PREFIX + subjects
    else:
        from alsnet.io.pseudonym import pseudonymise

        assert secret is not None
        new = pseudonymise(subjects, secret=secret, namespace=PSEUDONYM_NAMESPACE)
    mapping = pd.Series(new.to_numpy(), index=subjects.to_numpy())
    out = dict(tables)
    for name in _PER_PATIENT:
        if name in out and len(out[name]):
            df = out[name].copy()
            df["patient_id"] = df["patient_id"].astype("string").map(mapping)
            out[name] = df.sort_values(
                [c for c in ("patient_id", "day", "start_day") if c in df.columns], kind="stable"
            ).reset_index(drop=True)
    return out


def _locate(problems: Sequence[Problem], origins: Mapping[str, pd.DataFrame]) -> list[Problem]:
    """Re-address problems of canonical tables to the PRO-ACT file and line of the value."""
    out = []
    for p in problems:
        where = origins.get(p.source)
        if where is None or p.row is None or not 0 < p.row <= len(where):
            out.append(p)
            continue
        row = where.iloc[p.row - 1]
        src, line = row["_source"], row["_line"]
        if p.column is not None and pd.notna(row.get(f"_src:{p.column}")):
            src, line = row[f"_src:{p.column}"], row[f"_ln:{p.column}"]
        out.append(
            Problem(
                str(src),
                int(line),
                p.column,
                p.value,
                f"{p.rule} (canonical {p.source}.{p.column})",
            )
        )
    return out
