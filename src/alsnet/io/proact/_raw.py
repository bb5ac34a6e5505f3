"""Read PRO-ACT files into typed source tables (one per PRO-ACT table).

Both layouts end in the same shape: for each PRO-ACT table a DataFrame whose
columns are the normalised names of :data:`alsnet.io.proact._spec.RAW_SPECS`,
typed by :func:`alsnet.validation.coerce_table`, plus ``_source`` (file name)
and ``_line`` (line in that file). Every cell problem names the file, the line
and the column as written in the file (DREAM: ``feature_value[<feature>]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from alsnet.exceptions import Problem
from alsnet.io.proact._files import ProactFiles, TextTable, read_delimited
from alsnet.io.proact._spec import (
    DREAM_FORMS,
    FEATURE_ALIASES,
    KNOWN_TABLES,
    KNOWN_UNUSED,
    RAW_SPECS,
    TABLE_DELTA,
    norm,
)
from alsnet.schema import ColumnSpec, TableSpec
from alsnet.validation import ProblemLog, coerce_table

__all__ = ["RawData", "read_raw"]

_DREAM_COLUMNS = ("subjectid", "form_name", "feature_name", "feature_value", "feature_delta")

#: Roles detected in the Neurofilament table, each by substrings of the normalised header.
_NFL_ROLES: dict[str, tuple[str, ...]] = {
    "delta": ("collection_delta", "delta", "days"),
    "unit": ("unit",),
    "matrix": ("matrix", "specimen", "sample_type", "fluid", "material", "sample"),
    "analyte": ("analyte", "test_name", "biomarker", "marker", "test"),
    "assay": ("assay", "platform", "method", "kit"),
    "value": ("value", "result", "concentration", "conc", "level", "nfl", "pg_ml"),
}
NFL_SPEC = TableSpec(
    "NEUROFILAMENT",
    (
        ColumnSpec("subject_id", "str", required=True, nullable=False),
        ColumnSpec("delta", "int", required=True, nullable=False, lo=-36500, hi=36500),
        ColumnSpec("value", "float", required=True, lo=0, hi=1e6, unit="pg/mL"),
        ColumnSpec("unit", "str"),
        ColumnSpec("matrix", "str"),
        ColumnSpec("analyte", "str"),
        ColumnSpec("assay", "str"),
    ),
    key=(),
)
ELESCORIAL_SPEC = TableSpec(
    "ELESCORIAL",
    (
        ColumnSpec("subject_id", "str", required=True, nullable=False),
        ColumnSpec("category", "str", required=True),
    ),
    key=(),
)


@dataclass
class RawData:
    """Typed PRO-ACT source tables and what was read.

    Attributes
    ----------
    tables : dict of str to DataFrame
        PRO-ACT table name -> typed frame with ``_source`` and ``_line`` columns.
    rows_read : dict of str to int
        Data rows (DREAM: records) read per table.
    ignored : dict of str to int
        Tables / DREAM forms that were present but not imported, with row counts.
    counts : dict of str to int
        Reader-level counters (DREAM duplicates, unknown features...).
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def _norm_values(s: pd.Series) -> pd.Series:
    """:func:`norm` of every cell, computed once per distinct value."""
    codes, uniques = pd.factorize(s)
    table = np.asarray([norm(u) for u in uniques] + [""], dtype=object)
    return pd.Series(table[codes], index=s.index)


def _rename_problems(tmp: ProblemLog, log: ProblemLog, names: Mapping[str, str]) -> None:
    """Copy problems from ``tmp`` to ``log``, restoring the file's own column names."""
    for p in tmp.problems:
        col = names.get(p.column, p.column) if p.column is not None else None
        log.add(Problem(p.source, p.row, col, p.value, p.rule))
    log.dropped += tmp.dropped


def _typed(
    frame: pd.DataFrame,
    spec: TableSpec,
    *,
    source: str,
    lines: np.ndarray,
    names: Mapping[str, str],
    log: ProblemLog,
) -> pd.DataFrame:
    """Coerce the columns of ``spec`` found in ``frame`` (normalised names)."""
    tmp = ProblemLog(limit=log.limit)
    present = [c for c in spec.names if c in frame.columns]
    typed = coerce_table(frame[present], spec, source=source, lines=lines, log=tmp)
    _rename_problems(tmp, log, names)
    typed["_source"] = source
    typed["_line"] = np.asarray(lines, dtype=np.int64)
    return typed


def _normalise_header(
    tt: TextTable, table: str, source: str, log: ProblemLog
) -> tuple[pd.DataFrame, dict[str, str]]:
    aliases = {"subjectid": "subject_id", **FEATURE_ALIASES.get(table, {})}
    normed = [aliases.get(norm(c), norm(c)) for c in tt.frame.columns]
    names: dict[str, str] = {}
    for orig, n in zip(tt.frame.columns, normed, strict=True):
        if n in names:
            log.add(
                Problem(
                    source,
                    1,
                    str(orig),
                    None,
                    f"column duplicates {names[n]!r} (same name after normalisation)",
                )
            )
        names.setdefault(n, str(orig).strip())
    frame = tt.frame.set_axis(normed, axis=1)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    return frame, names


def _detect_roles(columns: list[str], roles: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    found: dict[str, str] = {}
    free = [c for c in columns if c != "subject_id"]
    for role, patterns in roles.items():
        for pat in patterns:
            hit = next((c for c in free if pat in c and c not in found.values()), None)
            if hit is not None:
                found[role] = hit
                break
    return found


def _read_csv_table(table: str, path: Path, log: ProblemLog, raw: RawData) -> None:
    tt = read_delimited(path, sep=",", log=log)
    if tt is None:
        return
    source = path.name
    frame, names = _normalise_header(tt, table, source, log)
    raw.rows_read[table] = len(frame)
    if table == "NEUROFILAMENT":
        roles = _detect_roles(list(frame.columns), _NFL_ROLES)
        for role in ("delta", "value"):
            if role not in roles:
                log.add(
                    Problem(
                        source,
                        1,
                        None,
                        None,
                        f"cannot find the {role} column of the Neurofilament table by "
                        "its header; found: " + ", ".join(names.values()),
                    )
                )
        frame = frame.rename(columns={v: k for k, v in roles.items()})
        names = {k: names.get(v, v) for k, v in roles.items()} | {
            "subject_id": names.get("subject_id", "subject_id")
        }
        spec = NFL_SPEC
    elif table == "ELESCORIAL":
        cat = next((c for c in frame.columns if "escorial" in c), None)
        cat = cat or next((c for c in frame.columns if "category" in c), None)
        if cat is not None:
            frame = frame.rename(columns={cat: "category"})
            names = {"category": names.get(cat, cat), "subject_id": "subject_id"}
        spec = ELESCORIAL_SPEC
    else:
        spec = RAW_SPECS[table]
    raw.tables[table] = _typed(frame, spec, source=source, lines=tt.lines, names=names, log=log)


def _read_dream(paths: list[Path], *, strict: bool, log: ProblemLog, raw: RawData) -> None:
    parts = []
    for path in paths:
        tt = read_delimited(path, sep="|", log=log)
        if tt is None:
            continue
        frame = tt.frame.set_axis([norm(c) for c in tt.frame.columns], axis=1)
        missing = [c for c in _DREAM_COLUMNS if c not in frame.columns]
        if missing:
            log.add(
                Problem(
                    path.name,
                    1,
                    ",".join(missing),
                    None,
                    "required DREAM column(s) missing; expected the header "
                    "SubjectID|form_name|feature_name|feature_value|feature_unit|"
                    "feature_delta",
                )
            )
            continue
        rec = pd.DataFrame(
            {
                "subject_id": frame["subjectid"].str.strip(),
                "form": frame["form_name"].str.strip(),
                "feature": frame["feature_name"].str.strip(),
                "value": frame["feature_value"],
                "unit": frame.get("feature_unit", ""),
                "delta": frame["feature_delta"].str.strip(),
                "_source": path.name,
                "_line": tt.lines,
            }
        )
        parts.append(rec)
    if not parts:
        return
    rec = pd.concat(parts, ignore_index=True)
    rec["table"] = _norm_values(rec["form"]).map(DREAM_FORMS)
    unknown_form = rec["table"].isna()
    if unknown_form.any():
        for form, n in rec.loc[unknown_form, "form"].value_counts().items():
            raw.ignored[f"form {form}"] = int(n)
        rec = rec.loc[~unknown_form].reset_index(drop=True)
    # the same record in more than one file (or twice in one): keep the first
    key = ["subject_id", "table", "feature", "delta"]
    dup = rec.duplicated(key, keep="first").to_numpy()
    first_value = rec.groupby(key, sort=False)["value"].transform("first")
    conflict = dup & (first_value.str.strip() != rec["value"].str.strip()).to_numpy()
    raw.counts["dream_duplicate_records"] = int(dup.sum())
    raw.counts["dream_conflicting_duplicates"] = int(conflict.sum())
    rec = rec.loc[~dup].reset_index(drop=True)
    for table, sub in rec.groupby("table", sort=False):
        raw.rows_read[str(table)] = len(sub)
        raw.tables[str(table)] = _pivot_dream(str(table), sub, strict=strict, log=log, raw=raw)


def _pivot_dream(
    table: str, rec: pd.DataFrame, *, strict: bool, log: ProblemLog, raw: RawData
) -> pd.DataFrame:
    spec = RAW_SPECS[table]
    aliases = FEATURE_ALIASES.get(table, {})
    fname = _norm_values(rec["feature"])
    fname = fname.map(aliases).fillna(fname) if aliases else fname
    delta_col = TABLE_DELTA[table]
    known = [c for c in spec.names if c not in ("subject_id", delta_col)]
    is_known = fname.isin(known).to_numpy()
    unused = fname.isin(KNOWN_UNUSED.get(table, frozenset())).to_numpy()
    if (~is_known & ~unused).any():
        unknown = ~is_known & ~unused
        raw.counts["dream_unknown_features"] = raw.counts.get("dream_unknown_features", 0) + int(
            unknown.sum()
        )
        if strict:
            bad = rec.loc[unknown].head(log.limit)
            for src, line, form, feat in zip(
                bad["_source"], bad["_line"], bad["form"], bad["feature"], strict=True
            ):
                log.add(
                    Problem(
                        str(src),
                        int(line),
                        "feature_name",
                        str(feat),
                        f"unknown feature of form {form!r} (PRO-ACT table {table}); "
                        "not allowed in strict mode",
                    )
                )
    rec = rec.assign(fname=fname.to_numpy()).loc[is_known]
    codes, uniques = pd.factorize(rec["subject_id"] + "\x1f" + rec["delta"])
    nk = len(uniques)
    head = rec.iloc[np.unique(codes, return_index=True)[1]]
    head_src = head["_source"].to_numpy(dtype=object)
    head_line = head["_line"].to_numpy(dtype=np.int64)
    wide: dict[str, object] = {"subject_id": head["subject_id"].to_numpy()}
    where: dict[str, tuple[np.ndarray, np.ndarray, str]] = {
        "subject_id": (head_src, head_line, "SubjectID")
    }
    if delta_col:
        wide[delta_col] = head["delta"].to_numpy()
        where[delta_col] = (head_src, head_line, "feature_delta")
    feature_units = None
    for col in known:
        mask = (rec["fname"] == col).to_numpy()
        if not mask.any():
            continue
        sub = rec.loc[mask]
        idx = codes[mask]
        cells = np.full(nk, None, dtype=object)
        cells[idx] = sub["value"].to_numpy(dtype=object)
        wide[col] = cells
        lines = head_line.copy()
        lines[idx] = sub["_line"].to_numpy(dtype=np.int64)
        srcs = head_src.copy()
        srcs[idx] = sub["_source"].to_numpy(dtype=object)
        where[col] = (srcs, lines, f"feature_value[{sub['feature'].iloc[0]}]")
        if col == "weight":  # DREAM carries the unit in feature_unit
            units = np.full(nk, None, dtype=object)
            units[idx] = sub["unit"].to_numpy(dtype=object)
            feature_units = pd.Series(units, dtype="string").str.strip().mask(lambda x: x == "")
    if feature_units is not None:
        given = (
            pd.Series(wide.get("weight_units", np.full(nk, None, dtype=object)), dtype="string")
            .str.strip()
            .mask(lambda x: x == "")
        )
        wide["weight_units"] = given.fillna(feature_units).to_numpy(dtype=object)
    frame = pd.DataFrame(wide)
    tmp = ProblemLog(limit=log.limit)
    out = coerce_table(frame, spec, source=table, lines=np.arange(1, nk + 1), log=tmp)
    for p in tmp.problems:
        if p.row is not None and p.column in where:
            srcs, lines, label = where[p.column]
            log.add(Problem(str(srcs[p.row - 1]), int(lines[p.row - 1]), label, p.value, p.rule))
        else:
            log.add(p)
    log.dropped += tmp.dropped
    out["_source"] = head_src
    out["_line"] = head_line
    return out


def read_raw(files: ProactFiles, *, strict: bool, log: ProblemLog) -> RawData:
    """Read every PRO-ACT file of ``files`` into typed source tables.

    Parameters
    ----------
    files : ProactFiles
        The files found by :func:`alsnet.io.proact._files.find_files`.
    strict : bool
        DREAM features unknown to the importer are errors (otherwise counted and skipped).
    log : ProblemLog
        Receives every problem.

    Returns
    -------
    RawData
    """
    raw = RawData()
    if files.layout == "dream":
        _read_dream(files.dream, strict=strict, log=log, raw=raw)
        return raw
    for table, path in files.tables.items():
        if table not in KNOWN_TABLES:
            raw.ignored[path.name] = 0
            continue
        _read_csv_table(table, path, log, raw)
    return raw
