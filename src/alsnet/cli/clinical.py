"""CLI commands: clinical (``alsnet stage``, ``alsnet encals``)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
import typer

from alsnet.cli._common import console, handle_errors
from alsnet.clinical import STAGE_COLUMNS, encals_table, stage_visits
from alsnet.exceptions import DataValidationError, Problem
from alsnet.schema import ALSFRS_R_ITEMS, TABLES, ColumnSpec, TableSpec
from alsnet.validation import ProblemLog, check_tables, coerce_table

__all__ = ["register"]

InputOption = Annotated[
    Path, typer.Option("--input", "-i", help="Input CSV file.", dir_okay=False, show_default=False)
]
OutOption = Annotated[
    Path, typer.Option("--out", "-o", help="Output CSV file.", dir_okay=False, show_default=False)
]

#: Item columns that must be present in the header (plus q5a and/or q5b).
_REQUIRED_ITEMS = tuple(c for c in ALSFRS_R_ITEMS if c not in ("q5a", "q5b"))
#: Flags accepted next to the items.
_FLAGS = TableSpec(
    "stage flags",
    (
        ColumnSpec("gastrostomy", "flag", doc="gastrostomy in place at the visit (0/1)"),
        ColumnSpec("dead", "flag", doc="patient dead at the visit day (0/1)"),
    ),
    key=(),
    per_patient=False,
)


def _stage_spec() -> TableSpec:
    """The visits spec with items required and ``instrument`` optional."""
    visits = TABLES["visits"]
    cols = []
    for c in visits.columns:
        if c.name in _REQUIRED_ITEMS:
            c = replace(c, required=True)
        elif c.name == "instrument":
            c = replace(c, required=False)
        cols.append(c)
    return TableSpec(visits.name, tuple(cols), key=visits.key, doc=visits.doc)


def _read_csv(path: Path) -> pd.DataFrame:
    """Read every cell as text, so the output repeats the input exactly."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataValidationError(
            [Problem(str(path), None, None, None, f"not a readable CSV file ({exc})")]
        ) from None
    return df


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write atomically: a failed write leaves no partial output file."""
    tmp = path.with_name(path.name + ".part")
    try:
        df.to_csv(tmp, index=False, float_format="%.10g")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _lines(n: int) -> np.ndarray:
    """File line of each data row (header = line 1)."""
    return np.arange(2, n + 2)


def _coerce_for_staging(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Validate and type the columns staging reads; raise listing every problem."""
    log = ProblemLog()
    lines = _lines(len(raw))
    names = {str(c).strip().lower(): c for c in raw.columns}
    spec = _stage_spec()
    if "q5a" not in names and "q5b" not in names:
        log.add(Problem(source, 1, "q5a,q5b", None, "required column is missing (q5a or q5b)"))
    wanted = [names[c] for c in spec.names if c in names]
    visits = coerce_table(raw[wanted], spec, source=source, lines=lines, log=log)
    flags = coerce_table(
        raw[[names[c] for c in _FLAGS.names if c in names]],
        _FLAGS,
        source=source,
        lines=lines,
        log=log,
    )
    if not log:
        visits["instrument"] = visits["instrument"].fillna("alsfrs_r")
        check_tables(
            {"visits": visits}, sources={"visits": source}, lines={"visits": lines}, log=log
        )
    log.raise_if_any()
    for c in _FLAGS.names:
        if c in names:
            visits[c] = flags[c]
    return visits


@handle_errors
def stage(input: InputOption, out: OutOption) -> None:
    """Add ALSFRS-R totals, domains, King's and MiToS stages to a visits CSV.

    The input needs patient_id, day and q1..q12 (with q5a and/or q5b); optional
    columns are instrument (default alsfrs_r), gastrostomy and dead (0/1). All
    input columns and rows are written back unchanged, followed by alsfrs_r_total,
    bulbar, fine_motor, gross_motor, respiratory, kings (1,2,3,4A,4B,5),
    kings_regions (0-3; a visit with no region involved is reported as King's 1)
    and mitos (0-5). Invalid input writes nothing and exits with code 1.
    """
    raw = _read_csv(input)
    visits = _coerce_for_staging(raw, input.name)
    staged = stage_visits(visits)
    result = raw.copy()
    for c in STAGE_COLUMNS:
        result[c] = staged[c].to_numpy()
    _write_csv(result, out)
    console.print(f"staged {len(result)} visit(s) -> {out}", highlight=False)


@handle_errors
def encals(
    input: InputOption,
    out: OutOption,
    errors: Annotated[
        str,
        typer.Option(
            "--errors",
            help="raise: refuse invalid rows (nothing written); "
            "flag: write NaN and an encals_error column for them.",
        ),
    ] = "raise",
) -> None:
    """ENCALS survival predictions (Westeneng 2018) for each row of a CSV.

    Input columns: age_onset (years), delta_fs (points/month, positive = decline),
    diagnostic_delay_months, fvc_pct (% predicted), bulbar_onset,
    definite_el_escorial, ftd, c9orf72 (0/1). Adds encals_lp,
    encals_median_months (months since onset), encals_s12/s24/s36/s60,
    tricals_lp and tricals_eligible (TRICALS profile within -6.0 to -2.0).
    """
    if errors not in ("raise", "flag"):
        raise typer.BadParameter("must be 'raise' or 'flag'", param_hint="--errors")
    mode: Literal["raise", "flag"] = "flag" if errors == "flag" else "raise"
    raw = _read_csv(input)
    names = {c: str(c).strip().lower() for c in raw.columns}
    table = raw.rename(columns=names)
    result = encals_table(table, errors=mode, source=input.name, lines=_lines(len(raw)))
    result = result.rename(columns={v: k for k, v in names.items()})
    _write_csv(result, out)
    console.print(f"scored {len(result)} patient(s) -> {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to app."""
    app.command("stage")(stage)
    app.command("encals")(encals)
