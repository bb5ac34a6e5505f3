"""CLI command ``alsnet synth``: write a calibrated synthetic network cohort."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from alsnet.cli._common import console, err_console, handle_errors

__all__ = ["register"]


class OutputFormat(enum.StrEnum):
    """File format of the written tables."""

    csv = "csv"
    parquet = "parquet"


def synth(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output directory (created if missing).")
    ],
    patients: Annotated[
        int, typer.Option("--patients", "-n", min=1, help="Number of patients.")
    ] = 2000,
    seed: Annotated[
        int, typer.Option("--seed", "-s", help="Random seed (same seed, same data).")
    ] = 0,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="csv or parquet.")
    ] = OutputFormat.csv,
) -> None:
    """Generate a synthetic ALS network cohort and write its canonical tables."""
    from alsnet.synth import synthesize

    try:
        from alsnet.io import canonical
    except ImportError:  # pragma: no cover - depends on the io package being installed
        err_console.print("[bold red]error:[/] alsnet.io.canonical is not available")
        raise typer.Exit(code=2) from None
    writer = canonical.write_csv if fmt is OutputFormat.csv else canonical.write_parquet
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"generating {patients} patients (seed {seed})", total=None)
        cohort = synthesize(patients, seed=seed)
        progress.update(task, description=f"writing {fmt.value} files to {out}")
        files = writer(cohort, out)
    console.print(
        f"{cohort!r}: wrote {len(files)} {fmt.value} files to {out} "
        f"(fingerprint {cohort.fingerprint[:12]})",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``alsnet synth`` to ``app``."""
    app.command("synth")(handle_errors(synth))
