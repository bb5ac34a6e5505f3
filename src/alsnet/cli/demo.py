"""CLI command: ``alsnet demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from alsnet.cli._common import DbOption, console, handle_errors

__all__ = ["register"]


@handle_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("alsnet-demo"),
    patients: Annotated[
        int, typer.Option("--patients", min=10, help="Synthetic cohort size.")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic cohort.")] = 0,
    db: DbOption = None,
    trials: Annotated[
        int,
        typer.Option("--trials", min=0, help="Simulated platform trials per scenario (0: none)."),
    ] = 2000,
) -> None:
    """Synthetic network cohort → embedded store → scores → HTML report (DIR/report.html)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from alsnet.demo import run_demo

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("starting", total=None)
        result = run_demo(
            out,
            n_patients=patients,
            seed=seed,
            db_url=db,
            n_trials=trials,
            on_step=lambda s: progress.update(task, description=s),
        )
        progress.update(task, description="done")
    for name, sec in result.timings.items():
        console.print(f"  {name:<40} {sec:6.2f} s")
    console.print(
        f"[bold green]report:[/] {result.report}  "
        f"({result.n_patients} patients, {result.n_visits} visits, "
        f"{sum(result.timings.values()):.1f} s)"
    )


def register(app: typer.Typer) -> None:
    """Add ``demo`` to ``app``."""
    app.command("demo")(demo)
