"""CLI commands: ``alsnet import ...`` and ``alsnet export ...`` (the registry's I/O edges)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from alsnet.cli._common import DbOption, console, default_db_url, err_console, handle_errors
from alsnet.cohort import Cohort
from alsnet.exceptions import AlsnetError

__all__ = ["register"]

import_app = typer.Typer(
    help="Import data into the registry (validated, one transaction).", no_args_is_help=True
)
export_app = typer.Typer(
    help="Export the registry to the canonical layout or OMOP CDM 5.4.", no_args_is_help=True
)

StrictOpt = Annotated[
    bool, typer.Option("--strict", help="Refuse unknown columns and ambiguous rows.")
]
KeepIdsOpt = Annotated[
    bool,
    typer.Option(
        "--keep-ids", help="Keep source ids (only for sources that are already pseudonymised)."
    ),
]
SecretOpt = Annotated[
    Path | None,
    typer.Option(
        "--secret-file",
        help="Per-site pseudonymisation key (default: $ALSNET_SITE_SECRET). "
        "Never stored in the database.",
    ),
]
ReplaceOpt = Annotated[
    bool,
    typer.Option("--replace", help="Replace stored patients whose data differ (default: refuse)."),
]


def _secret(keep_ids: bool, secret_file: Path | None) -> bytes | None:
    if keep_ids:
        return None
    from alsnet.io.pseudonym import load_secret

    try:
        return load_secret(secret_file)
    except AlsnetError as exc:
        raise AlsnetError(
            f"{exc}\nLocal ids must be pseudonymised at import: give --secret-file or set "
            "ALSNET_SITE_SECRET, or use --keep-ids if the source is already pseudonymised."
        ) from None


def _save(cohort: Cohort, db: str | None, source: str, replace: bool) -> None:
    from alsnet.registry import Store

    url = db or default_db_url()
    with (
        err_console.status(f"saving {len(cohort.patients):,} patients in one transaction"),
        Store.open(url) as store,
    ):
        rep = store.save(cohort, source=source, on_conflict="replace" if replace else "error")
    if rep.inserted == 0 and rep.replaced == 0:
        console.print(
            f"nothing changed: all {rep.unchanged} patients are already stored with identical data"
        )
    else:
        console.print(
            f"imported into {_redact(url)}: {rep.inserted} new, {rep.replaced} replaced, "
            f"{rep.unchanged} unchanged patients"
        )


def _import(
    kind: str,
    path: Path,
    read: Callable[..., Cohort],
    db: str | None,
    strict: bool,
    keep_ids: bool,
    secret_file: Path | None,
    replace: bool,
    **extra: object,
) -> None:
    """Read and validate with ``read`` (nothing is written on failure), then save."""
    with err_console.status(f"reading and validating {path}"):
        secret = _secret(keep_ids, secret_file)
        cohort = read(path, strict=strict, keep_ids=keep_ids, secret=secret, **extra)
    for value in extra.values():  # e.g. the PRO-ACT import report
        err_console.print(str(value), highlight=False)
    _save(cohort, db, f"{kind}:{path.name}", replace)


def _redact(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


@import_app.command("csv")
@handle_errors
def import_csv(
    path: Annotated[Path, typer.Argument(help="Directory in the canonical CSV layout.")],
    db: DbOption = None,
    strict: StrictOpt = False,
    keep_ids: KeepIdsOpt = False,
    secret_file: SecretOpt = None,
    replace: ReplaceOpt = False,
) -> None:
    """Import a directory in the canonical CSV layout (patients, visits, events, ...)."""
    from alsnet.io.canonical import read_csv

    _import("csv", path, read_csv, db, strict, keep_ids, secret_file, replace)


@import_app.command("parquet")
@handle_errors
def import_parquet(
    path: Annotated[Path, typer.Argument(help="Directory in the canonical Parquet layout.")],
    db: DbOption = None,
    strict: StrictOpt = False,
    keep_ids: KeepIdsOpt = False,
    secret_file: SecretOpt = None,
    replace: ReplaceOpt = False,
) -> None:
    """Import a directory in the canonical Parquet layout."""
    from alsnet.io.canonical import read_parquet

    _import("parquet", path, read_parquet, db, strict, keep_ids, secret_file, replace)


@import_app.command("proact")
@handle_errors
def import_proact(
    path: Annotated[
        Path,
        typer.Argument(
            help="PRO-ACT directory or file (DREAM long format, "
            "PROACT_<TABLE>.csv or F_PROACT_<TABLE>.csv)."
        ),
    ],
    db: DbOption = None,
    strict: StrictOpt = False,
    keep_ids: KeepIdsOpt = False,
    secret_file: SecretOpt = None,
    replace: ReplaceOpt = False,
) -> None:
    """Import PRO-ACT files you hold under its data-use agreement (re-anchored to symptom onset)."""
    from alsnet.io.proact import ImportReport, read_proact

    report = ImportReport()
    _import("proact", path, read_proact, db, strict, keep_ids, secret_file, replace, report=report)


def _load(db: str | None) -> Cohort:
    from alsnet.registry import Store

    with Store.open(db or default_db_url(), create=False) as store:
        return store.load()


def _export(
    write: Callable[[Cohort, Path], list[Path]], out: Path, db: str | None, what: str
) -> None:
    files = write(_load(db), out)
    console.print(f"wrote {len(files)} {what} to {out}")


@export_app.command("csv")
@handle_errors
def export_csv(
    out: Annotated[Path, typer.Argument(help="Output directory.")], db: DbOption = None
) -> None:
    """Export the registry in the canonical CSV layout."""
    from alsnet.io.canonical import write_csv

    _export(write_csv, out, db, "files")


@export_app.command("parquet")
@handle_errors
def export_parquet(
    out: Annotated[Path, typer.Argument(help="Output directory.")], db: DbOption = None
) -> None:
    """Export the registry in the canonical Parquet layout."""
    from alsnet.io.canonical import write_parquet

    _export(write_parquet, out, db, "files")


@export_app.command("omop")
@handle_errors
def export_omop(
    out: Annotated[Path, typer.Argument(help="Output directory.")], db: DbOption = None
) -> None:
    """Export demographics, ALSFRS-R (LOINC 82954-9 / 82953-1) and deaths as OMOP CDM 5.4 CSV."""
    from alsnet.io.omop import write_omop

    _export(write_omop, out, db, "OMOP tables")


def register(app: typer.Typer) -> None:
    """Add the ``import`` and ``export`` sub-commands to ``app``."""
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
