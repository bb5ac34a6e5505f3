"""CLI commands: `alsnet twin procova` (PROCOVA power / sample size), `alsnet twin dream`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from alsnet.cli._common import console, handle_errors

__all__ = ["register"]

twin_app = typer.Typer(
    name="twin",
    help="Digital twins: PROCOVA calculator, DREAM prognostic-score benchmark.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

DEFAULT_DREAM = Path("/work/shared/data/dream-als/als.csv.gz")


@twin_app.command("procova")
@handle_errors
def procova_cmd(
    rho: Annotated[
        float, typer.Option(help="Correlation of outcome and prognostic score, in [0, 1).")
    ],
    n: Annotated[
        int | None,
        typer.Option(help="Total sample size; omit to solve for the sample size.", min=4),
    ] = None,
    delta: Annotated[
        float | None, typer.Option(help="Treatment effect to detect, outcome units.")
    ] = None,
    sigma: Annotated[float, typer.Option(help="Outcome SD per arm, outcome units.")] = 1.0,
    alpha: Annotated[float, typer.Option(help="Type I error rate.")] = 0.05,
    power: Annotated[float, typer.Option(help="Target power (sample-size mode).")] = 0.8,
    ratio: Annotated[float, typer.Option(help="Allocation ratio treated:control.")] = 1.0,
    one_sided: Annotated[bool, typer.Option("--one-sided", help="One-sided test.")] = False,
) -> None:
    """PROCOVA (Schuler et al. 2022): power at --n, or the sample size for --power.

    Variance reduction 1 − ρ², so N_adj ≈ N·(1 − ρ²) at equal variances; power
    from the noncentral t with n − 3 degrees of freedom.
    """
    from alsnet.twin.procova import (
        adjusted_sample_size,
        procova_power,
        procova_sample_size,
        procova_variance,
    )

    alt: Literal["two-sided", "one-sided"] = "one-sided" if one_sided else "two-sided"
    alloc = ratio / (1 + ratio)
    v_adj = procova_variance(rho=rho, sigma=sigma, allocation=alloc)
    v_un = procova_variance(rho=0.0, sigma=sigma, allocation=alloc)
    console.print(
        f"PROCOVA, rho = {rho:g}: variance factor 1 - rho^2 = {v_adj / v_un:.4f} "
        f"(n*Var = {v_adj:.4g} vs {v_un:.4g} unadjusted), allocation {ratio:g}:1"
    )
    if n is not None:
        console.print(
            f"an adjusted trial of N = {n} has the power of an unadjusted one of "
            f"N = {n / (1 - rho**2):.1f}; the unadjusted power of N = {n} needs "
            f"N_adj = {adjusted_sample_size(n, rho):.1f}"
        )
    if delta is None:
        if n is None:
            raise typer.BadParameter("give --n and/or --delta")
        return
    table = Table(title=f"delta = {delta:g}, sigma = {sigma:g}, alpha = {alpha:g} ({alt})")
    if n is not None:
        for col in ("design", "N", "power (t)", "power (normal)"):
            table.add_column(col, justify="right")
        for label, r in (("unadjusted", 0.0), ("PROCOVA", rho)):
            pt, pn = (
                float(
                    procova_power(
                        n=n,
                        delta=delta,
                        sigma=sigma,
                        rho=r,
                        alpha=alpha,
                        ratio=ratio,
                        alternative=alt,
                        method=meth,
                    )
                )
                for meth in ("t", "normal")
            )
            table.add_row(label, str(n), f"{pt:.4f}", f"{pn:.4f}")
    else:
        s = procova_sample_size(
            delta=delta,
            sigma=sigma,
            rho=rho,
            alpha=alpha,
            power=power,
            ratio=ratio,
            alternative=alt,
        )
        for col in ("design", "N total", "treated", "control", "power"):
            table.add_column(col, justify="right")
        table.add_row(
            "PROCOVA", str(s.n_total), str(s.n_treated), str(s.n_control), f"{s.power:.4f}"
        )
        table.add_row("unadjusted", str(s.n_unadjusted), "", "", f">= {power:g}")
    console.print(table)


@twin_app.command("dream")
@handle_errors
def dream_cmd(
    data: Annotated[
        Path, typer.Option(help="DREAM ALS table (als.csv.gz from CASIdata).", dir_okay=False)
    ] = DEFAULT_DREAM,
    candidates: Annotated[
        str, typer.Option(help="Comma-separated candidate models to cross-validate.")
    ] = "mean,ridge,forest,boosting,ensemble",
    model: Annotated[
        str | None, typer.Option(help="Model to test once (default: the fixed default).")
    ] = None,
    folds: Annotated[int, typer.Option(help="Cross-validation folds.", min=2)] = 5,
    seed: Annotated[int, typer.Option(help="Seed of folds and models.")] = 0,
    n_estimators: Annotated[int, typer.Option(help="Random-forest trees.", min=1)] = 500,
    cv_only: Annotated[bool, typer.Option("--cv-only", help="Skip the test rows.")] = False,
) -> None:
    """DREAM ALS benchmark: CV on the 1,197 training rows, then the 625 test rows once."""
    from threadpoolctl import threadpool_limits

    from alsnet.twin.dream import load_dream, run_dream_benchmark

    d = load_dream(data)
    cands = tuple(c.strip() for c in candidates.split(",") if c.strip())
    with threadpool_limits(1):
        res = run_dream_benchmark(
            d,
            candidates=cands,
            chosen=model,
            folds=folds,
            seed=seed,
            n_estimators=n_estimators,
            n_jobs=2,
            evaluate_test=not cv_only,
        )
    table = Table(title=f"DREAM ALS: {res.n_train} training / {res.n_test} test rows")
    for col in ("model", "split", "RMSD", "Pearson r"):
        table.add_column(col, justify="left" if col in ("model", "split") else "right")
    for m, split, r, c in res.summary().itertuples(index=False):
        table.add_row(str(m), str(split), f"{r:.4f}", f"{c:.3f}")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``twin`` sub-app to ``app``."""
    app.add_typer(twin_app, name="twin")
