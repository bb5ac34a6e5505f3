"""Vectorised validation of canonical tables.

Two stages, both collecting *every* problem (up to a limit) rather than stopping
at the first:

1. :func:`coerce_table` turns raw text or loosely typed columns into canonical
   dtypes and checks per-cell rules (type, vocabulary, range, step, required,
   identifiers, unknown columns).
2. :func:`check_tables` checks rules across rows and tables (keys, references,
   ALSFRS-R item logic, totals, time order, death before later visits).

Problems name the source (file or table), the line, the column, the offending
value and the rule. Patient ids are pseudonyms, so they may appear; direct
identifiers never reach a message because identifier columns are refused by
name before their values are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from alsnet.exceptions import DataValidationError, IdentifierError, Problem
from alsnet.schema import (
    ALSFRS_ITEMS,
    ALSFRS_R_ITEMS,
    IDENTIFIER_COLUMNS,
    TABLES,
    ColumnSpec,
    TableSpec,
)

__all__ = [
    "DTYPES",
    "ProblemLog",
    "check_tables",
    "coerce_table",
    "empty_table",
    "validate_tables",
]

#: pandas dtype used for each column kind.
DTYPES = {"str": "string", "cat": "string", "int": "Int64", "flag": "Int64", "float": "float64"}

#: Visits this many days before onset are accepted (onset dates are often month-precise).
ONSET_TOLERANCE_DAYS = 31
#: Reported totals may differ from the item sum by this much (PRO-ACT half points).
TOTAL_TOLERANCE = 0.0

_FLAG_TEXT = {"0": 0, "1": 1, "false": 0, "true": 1, "no": 0, "yes": 1, "n": 0, "y": 1}


@dataclass
class ProblemLog:
    """Collects problems up to ``limit`` and counts the rest."""

    limit: int = 200
    problems: list[Problem] = field(default_factory=list)
    dropped: int = 0

    def add(self, p: Problem) -> None:
        """Record one problem."""
        if len(self.problems) < self.limit:
            self.problems.append(p)
        else:
            self.dropped += 1

    def add_mask(
        self,
        mask: np.ndarray,
        *,
        source: str | np.ndarray,
        lines: np.ndarray,
        column: str | None,
        values: pd.Series | np.ndarray | None,
        rule: str,
    ) -> None:
        """Record one problem per True position of ``mask``.

        ``source`` is one file name, or an array giving each row's file (rows
        gathered from several files).
        """
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        room = max(self.limit - len(self.problems), 0)
        shown = idx[:room]
        vals = None if values is None else np.asarray(values, dtype=object)[shown]
        for j, i in enumerate(shown):
            v = None if vals is None else _render(vals[j])
            src = source if isinstance(source, str) else str(source[i])
            self.problems.append(Problem(src, int(lines[i]), column, v, rule))
        self.dropped += max(idx.size - room, 0)

    def __bool__(self) -> bool:
        return bool(self.problems) or self.dropped > 0

    def raise_if_any(self) -> None:
        """Raise :class:`DataValidationError` listing every recorded problem."""
        if self:
            cls = (
                IdentifierError
                if any("identifier" in p.rule for p in self.problems)
                else DataValidationError
            )
            raise cls(self.problems, self.dropped)


def _render(v: object) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ""
    s = str(v)
    return s if len(s) <= 40 else s[:37] + "..."


def empty_table(spec: TableSpec) -> pd.DataFrame:
    """An empty frame with the canonical columns and dtypes of ``spec``."""
    return pd.DataFrame({c.name: pd.Series(dtype=_dtype(c)) for c in spec.columns})


def _dtype(col: ColumnSpec) -> str:
    return "int64" if col.kind == "int" and not col.nullable else DTYPES[col.kind]


def _is_text(s: pd.Series) -> bool:
    return s.dtype == object or isinstance(s.dtype, pd.StringDtype)


def _objects(s: pd.Series) -> np.ndarray:
    """Values as an object array with None for missing cells."""
    return s.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]


def _text(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Stripped text of a raw column (pd.NA where blank) and the blank mask.

    Uses Arrow's C++ string kernels: per-cell Python calls would make validation
    of a 100,000-visit import take seconds.
    """
    try:
        arr = pa.array(_objects(s), type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = pa.array(_objects(s.astype("string")), type=pa.string(), from_pandas=True)
    stripped = pc.utf8_trim_whitespace(arr)
    blank_pa = pc.fill_null(pc.equal(stripped, ""), True)
    blank = np.asarray(blank_pa.to_numpy(zero_copy_only=False), dtype=bool)
    cleaned = pc.if_else(blank_pa, pa.scalar(None, pa.string()), stripped)
    text = pd.Series(
        pd.array(cleaned.to_numpy(zero_copy_only=False), dtype="string"), index=s.index
    )
    return text, blank


def _to_float(text: pd.Series) -> np.ndarray:
    """Parse stripped text to float64; unparsable cells become NaN."""
    arr = pa.array(_objects(text), type=pa.string(), from_pandas=True)
    try:
        out = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return np.asarray(out, dtype="float64")


def _coerce_column(
    raw: pd.Series, col: ColumnSpec, *, source: str, lines: np.ndarray, log: ProblemLog
) -> pd.Series:
    def refuse(
        mask: np.ndarray, rule: str, values: pd.Series | np.ndarray | None = raw
    ) -> np.ndarray:
        """Log one problem per True cell of ``mask``; return the cells that passed."""
        log.add_mask(mask, source=source, lines=lines, column=col.name, values=values, rule=rule)
        return ~mask

    if _is_text(raw):
        text, blank = _text(raw)
    else:
        text, blank = None, raw.isna().to_numpy()
    if not col.nullable:
        refuse(blank, "a value is required", values=None)
    if col.kind in ("str", "cat"):
        out = text if text is not None else _text(raw.astype("string"))[0]
        if col.kind == "cat":
            bad = ~blank & ~out.isin(col.vocab).fillna(False).to_numpy(dtype=bool)
            refuse(bad, "must be one of " + ", ".join(col.vocab), values=out)
        return out
    if col.kind == "flag":
        if pd.api.types.is_bool_dtype(raw.dtype):
            mapped = raw.astype("float64")
        elif text is None:
            num = pd.to_numeric(raw, errors="coerce")
            mapped = num.where(num.isin([0, 1]))
        else:
            mapped = text.str.lower().map(_FLAG_TEXT, na_action="ignore")
        bad = ~blank & pd.isna(mapped).to_numpy(dtype=bool)
        refuse(bad, "must be 0 or 1 (empty = unknown)")
        vals = np.where(blank | bad, np.nan, mapped.to_numpy(dtype="float64", na_value=np.nan))
        return pd.Series(pd.array(vals, dtype="Float64"), index=raw.index).round().astype("Int64")
    # numeric
    if text is not None:
        values = _to_float(text)
    else:
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    values = np.where(np.isinf(values), np.nan, values)

    ok = ~blank & refuse(
        ~blank & ~np.isfinite(values), f"must be a number ({col.unit or col.kind})"
    )
    if col.kind == "int":
        frac = ok & (np.abs(values - np.round(values)) > 1e-9)
        ok &= refuse(frac, "must be a whole number of " + (col.unit or "units"))
    if col.lo is not None or col.hi is not None:
        lo = -np.inf if col.lo is None else col.lo
        hi = np.inf if col.hi is None else col.hi
        with np.errstate(invalid="ignore"):
            out_of_range = ok & ((values < lo) | (values > hi))
        ok &= refuse(out_of_range, f"must lie between {lo:g} and {hi:g} {col.unit}".rstrip())
    if col.step is not None:
        off = ok & (np.abs(values / col.step - np.round(values / col.step)) > 1e-9)
        refuse(off, f"must be a multiple of {col.step:g}")
    values = np.where(ok, values, np.nan)
    if col.kind == "int":
        return pd.Series(pd.array(np.round(values), dtype="Float64"), index=raw.index).astype(
            "Int64"
        )
    return pd.Series(values, index=raw.index, dtype="float64")


def coerce_table(
    df: pd.DataFrame,
    spec: TableSpec,
    *,
    source: str | None = None,
    lines: np.ndarray | None = None,
    strict: bool = False,
    log: ProblemLog | None = None,
) -> pd.DataFrame:
    """Coerce ``df`` to the canonical columns and dtypes of ``spec``.

    Parameters
    ----------
    df : DataFrame
        Raw table (text or typed columns). Column names are matched
        case-insensitively after stripping.
    spec : TableSpec
        The canonical table.
    source : str, optional
        File or table name used in problems (default ``spec.name``).
    lines : ndarray of int, optional
        Line number of each row in its file (default: 1-based row number).
    strict : bool, default False
        Refuse columns that are not part of the canonical table (otherwise they are dropped).
    log : ProblemLog, optional
        Where problems go; if omitted, a :class:`DataValidationError` is raised
        when any is found.

    Returns
    -------
    DataFrame
        The canonical columns in canonical order; optional columns missing from
        the input are added empty.
    """
    own_log = log is None
    log = ProblemLog() if log is None else log
    source = source or spec.name
    lines = np.arange(1, len(df) + 1) if lines is None else np.asarray(lines)
    renamed = {c: str(c).strip().lower() for c in df.columns}
    df = df.rename(columns=renamed)
    seen = set()
    for c in df.columns:
        if c in seen:
            log.add(Problem(source, 1, c, None, "column appears more than once in the header"))
        seen.add(c)
    for c in df.columns:
        if c in IDENTIFIER_COLUMNS:
            log.add(
                Problem(
                    source,
                    1,
                    c,
                    None,
                    "direct identifier column is not accepted; remove it before import",
                )
            )
    unknown = [c for c in df.columns if c not in spec.names and c not in IDENTIFIER_COLUMNS]
    if strict:
        for c in unknown:
            log.add(
                Problem(
                    source,
                    1,
                    c,
                    None,
                    f"unknown column in strict mode (table {spec.name} has: "
                    + ", ".join(spec.names)
                    + ")",
                )
            )
    out: dict[str, pd.Series] = {}
    df = df.loc[:, ~df.columns.duplicated()]
    for col in spec.columns:
        if col.name in df.columns:
            out[col.name] = _coerce_column(
                df[col.name].reset_index(drop=True), col, source=source, lines=lines, log=log
            )
        else:
            if col.required:
                log.add(Problem(source, 1, col.name, None, "required column is missing"))
            out[col.name] = pd.Series(
                pd.NA if col.kind != "float" else np.nan,
                index=range(len(df)),
                dtype=DTYPES[col.kind],
            )
    result = pd.DataFrame(out)
    for cs in spec.columns:
        if cs.kind == "int" and not cs.nullable and not result[cs.name].isna().any():
            result[cs.name] = result[cs.name].astype("int64")
    if own_log:
        log.raise_if_any()
    return result


def _lines_for(name: str, df: pd.DataFrame, lines: Mapping[str, np.ndarray] | None) -> np.ndarray:
    if lines is not None and name in lines:
        return np.asarray(lines[name])
    return np.arange(1, len(df) + 1)


def check_tables(
    tables: Mapping[str, pd.DataFrame],
    *,
    sources: Mapping[str, str] | None = None,
    lines: Mapping[str, np.ndarray] | None = None,
    log: ProblemLog,
) -> None:
    """Check rules across rows and tables of coerced canonical tables.

    Rules: unique keys; every per-patient row refers to a known patient; every
    patient's site is a known site (when a sites table is given); exactly one
    of q5a/q5b on ALSFRS visits with items; items complete per instrument; the
    original ALSFRS leaves q10..q12 empty; reported totals equal the item sum;
    no visit or event before onset beyond :data:`ONSET_TOLERANCE_DAYS`; no
    visit after death; treatments stop on or after they start.
    """
    sources = dict(sources or {})

    def src(name: str) -> str:
        return sources.get(name, name)

    patient_ids = None
    if "patients" in tables:
        patient_ids = pd.Index(tables["patients"]["patient_id"].dropna().unique())
    for name, df in tables.items():
        spec = TABLES[name]
        ln = _lines_for(name, df, lines)
        if len(df) and all(k in df.columns for k in spec.key):
            dup = df.duplicated(list(spec.key), keep="first").to_numpy()
            if dup.any():  # the row-wise join is slow: only build it when needed
                keyvals = df[list(spec.key)].astype("string").fillna("").agg("/".join, axis=1)
                log.add_mask(
                    dup,
                    source=src(name),
                    lines=ln,
                    column=",".join(spec.key),
                    values=keyvals,
                    rule="duplicate key: this row repeats an earlier one",
                )
        if spec.per_patient and name != "patients" and patient_ids is not None and len(df):
            unknown = ~df["patient_id"].isin(patient_ids).fillna(True).to_numpy(dtype=bool)
            unknown &= df["patient_id"].notna().to_numpy()
            log.add_mask(
                unknown,
                source=src(name),
                lines=ln,
                column="patient_id",
                values=df["patient_id"],
                rule="patient_id not found in patients",
            )
    if "sites" in tables and len(tables["sites"]) and "patients" in tables:
        p = tables["patients"]
        bad = ~p["site_id"].isin(tables["sites"]["site_id"]).fillna(True).to_numpy(dtype=bool)
        bad &= p["site_id"].notna().to_numpy()
        log.add_mask(
            bad,
            source=src("patients"),
            lines=_lines_for("patients", p, lines),
            column="site_id",
            values=p["site_id"],
            rule="site_id not found in sites",
        )
    if "visits" in tables:
        _check_visits(
            tables["visits"], src("visits"), _lines_for("visits", tables["visits"], lines), log
        )
    _check_time_order(tables, src, lines, log)
    if "treatments" in tables:
        t = tables["treatments"]
        bad = (
            (t["stop_day"].notna() & (t["stop_day"] < t["start_day"]))
            .fillna(False)
            .to_numpy(dtype=bool)
        )
        log.add_mask(
            bad,
            source=src("treatments"),
            lines=_lines_for("treatments", t, lines),
            column="stop_day",
            values=t["stop_day"],
            rule="stop_day is before start_day",
        )


def _check_visits(v: pd.DataFrame, source: str, ln: np.ndarray, log: ProblemLog) -> None:
    if not len(v):
        return
    present = v[[*list(ALSFRS_R_ITEMS), "q10_alsfrs"]].notna().to_numpy()
    col = {c: i for i, c in enumerate([*ALSFRS_R_ITEMS, "q10_alsfrs"])}
    is_r = (v["instrument"] == "alsfrs_r").fillna(False).to_numpy(dtype=bool)
    is_o = (v["instrument"] == "alsfrs").fillna(False).to_numpy(dtype=bool)
    a, b = present[:, col["q5a"]], present[:, col["q5b"]]
    log.add_mask(
        a & b,
        source=source,
        lines=ln,
        column="q5a,q5b",
        values=None,
        rule="both q5a and q5b are filled; exactly one applies (q5b only with gastrostomy)",
    )
    shared = [c for c in ALSFRS_ITEMS if c not in ("q5a", "q5b", "q10_alsfrs")]
    r_only = ["q10", "q11", "q12"]
    any_item = present[:, [col[c] for c in shared + r_only + ["q5a", "q5b", "q10_alsfrs"]]].any(
        axis=1
    )
    has_total = v["total_reported"].notna().to_numpy()
    log.add_mask(
        (any_item | has_total) & ~(is_r | is_o),
        source=source,
        lines=ln,
        column="instrument",
        values=None,
        rule="instrument is required when ALSFRS items or a total are given (alsfrs_r or alsfrs)",
    )
    log.add_mask(
        any_item & ~(a | b),
        source=source,
        lines=ln,
        column="q5a,q5b",
        values=None,
        rule="item 5 is missing: fill q5a (no gastrostomy) or q5b (with gastrostomy)",
    )
    for c in shared:
        log.add_mask(
            any_item & ~present[:, col[c]],
            source=source,
            lines=ln,
            column=c,
            values=None,
            rule="item missing: ALSFRS items are recorded all together or not at all",
        )
    for c in r_only:
        log.add_mask(
            is_r & any_item & ~present[:, col[c]],
            source=source,
            lines=ln,
            column=c,
            values=None,
            rule="item missing: ALSFRS-R items are recorded all together",
        )
        log.add_mask(
            is_o & present[:, col[c]],
            source=source,
            lines=ln,
            column=c,
            values=v[c],
            rule="original ALSFRS (0-40) visit must leave q10..q12 empty; use q10_alsfrs",
        )
    log.add_mask(
        is_o & any_item & ~present[:, col["q10_alsfrs"]],
        source=source,
        lines=ln,
        column="q10_alsfrs",
        values=None,
        rule="item missing: the original ALSFRS needs its respiratory item q10_alsfrs",
    )
    items = v[[c for c in ALSFRS_R_ITEMS]].to_numpy(dtype="float64", na_value=np.nan)
    q5 = np.where(a, items[:, col["q5a"]], items[:, col["q5b"]])
    base = np.nansum(items[:, [col[c] for c in shared]], axis=1) + np.nan_to_num(q5)
    total = np.where(
        is_r,
        base + np.nansum(items[:, [col[c] for c in r_only]], axis=1),
        base + v["q10_alsfrs"].to_numpy(dtype="float64", na_value=np.nan),
    )
    rep = v["total_reported"].to_numpy(dtype="float64", na_value=np.nan)
    complete = any_item & (a ^ b)
    with np.errstate(invalid="ignore"):
        bad = complete & np.isfinite(rep) & (np.abs(rep - total) > TOTAL_TOLERANCE + 1e-9)
    log.add_mask(
        bad,
        source=source,
        lines=ln,
        column="total_reported",
        values=v["total_reported"],
        rule="reported total disagrees with the sum of the items",
    )
    with np.errstate(invalid="ignore"):
        over = is_o & np.isfinite(rep) & (rep > 40)
    log.add_mask(
        over,
        source=source,
        lines=ln,
        column="total_reported",
        values=v["total_reported"],
        rule="original ALSFRS totals lie between 0 and 40",
    )


def _check_time_order(
    tables: Mapping[str, pd.DataFrame],
    src: object,
    lines: Mapping[str, np.ndarray] | None,
    log: ProblemLog,
) -> None:
    assert callable(src)
    for name in ("visits", "events", "biomarkers"):
        if name in tables and len(tables[name]):
            d = tables[name]
            early = (d["day"] < -ONSET_TOLERANCE_DAYS).fillna(False).to_numpy(dtype=bool)
            log.add_mask(
                early,
                source=src(name),
                lines=_lines_for(name, d, lines),
                column="day",
                values=d["day"],
                rule=f"more than {ONSET_TOLERANCE_DAYS} days before symptom onset",
            )
    if (
        "visits" in tables
        and "events" in tables
        and len(tables["events"])
        and len(tables["visits"])
    ):
        e, v = tables["events"], tables["visits"]
        death = (
            e.loc[e["event"] == "death"]
            .drop_duplicates("patient_id")
            .set_index("patient_id")["day"]
        )
        dday = v["patient_id"].map(death).to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            after = np.isfinite(dday) & (v["day"].to_numpy(dtype="float64") > dday)
        log.add_mask(
            after,
            source=src("visits"),
            lines=_lines_for("visits", v, lines),
            column="day",
            values=v["day"],
            rule="visit after the patient's recorded death",
        )


def validate_tables(
    raw: Mapping[str, pd.DataFrame],
    *,
    sources: Mapping[str, str] | None = None,
    lines: Mapping[str, np.ndarray] | None = None,
    strict: bool = False,
    limit: int = 200,
) -> dict[str, pd.DataFrame]:
    """Coerce and check a set of raw tables; raise listing every problem.

    Parameters
    ----------
    raw : mapping of str to DataFrame
        Raw tables keyed by canonical table name. Required tables that are
        absent are an error; optional ones are created empty.
    sources, lines : mappings, optional
        File names and per-row line numbers for messages.
    strict : bool, default False
        Refuse unknown columns.
    limit : int, default 200
        Maximum number of problems listed.

    Returns
    -------
    dict of str to DataFrame
        Canonical tables for every name in :data:`alsnet.schema.TABLES`.

    Raises
    ------
    DataValidationError
        When any rule is broken; nothing is returned.
    """
    log = ProblemLog(limit=limit)
    sources = dict(sources or {})
    out: dict[str, pd.DataFrame] = {}
    for name in raw:
        if name not in TABLES:
            log.add(
                Problem(
                    sources.get(name, name),
                    None,
                    None,
                    None,
                    "unknown table; expected one of " + ", ".join(TABLES),
                )
            )
    for name, spec in TABLES.items():
        if name in raw:
            ln = None if lines is None else lines.get(name)
            out[name] = coerce_table(
                raw[name], spec, source=sources.get(name, name), lines=ln, strict=strict, log=log
            )
        elif spec.required:
            log.add(
                Problem(
                    sources.get(name, name + ".csv"), None, None, None, "required table is missing"
                )
            )
        else:
            out[name] = empty_table(spec)
    if not log:
        check_tables(out, sources=sources, lines=lines, log=log)
    log.raise_if_any()
    return out
