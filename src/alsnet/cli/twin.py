"""CLI commands of the digital twin.

``alsnet twin fit`` / ``predict`` / ``evaluate`` (TwinModel and its held-out
evaluation against baselines), ``alsnet twin procova`` (PROCOVA power / sample
size) and ``alsnet twin dream`` (DREAM prognostic-score benchmark).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from alsnet.cli._common import DbOption, console, default_db_url, err_console, handle_errors
from alsnet.exceptions import AlsnetError

if TYPE_CHECKING:
    from alsnet.cohort import Cohort

__all__ = ["register"]

twin_app = typer.Typer(
    name="twin",
    help="Digital twins: fit, predict and evaluate forecasts; PROCOVA calculator; DREAM benchmark.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

DEFAULT_DREAM = Path("/work/shared/data/dream-als/als.csv.gz")

InputOption = Annotated[
    Path | None,
    typer.Option(
        "--input",
        help="Directory of canonical CSV files (patients.csv, visits.csv, events.csv, ...); "
        "instead of --db.",
        file_okay=False,
        show_default=False,
    ),
]
PREDICTION_COLUMNS = ("patient_id", "day", "outcome", "mean", "q025", "q10", "q50", "q90", "q975")


def _cohort(db: str | None, input_dir: Path | None) -> Cohort:
    """The cohort of --input (canonical CSV) or --db (registry store)."""
    if db is not None and input_dir is not None:
        raise typer.BadParameter("give either --db or --input, not both")
    if input_dir is not None:
        from alsnet.io.canonical import read_csv

        with err_console.status(f"reading {input_dir}"):
            return read_csv(input_dir, keep_ids=True)
    from alsnet.registry import Store

    with (
        err_console.status("loading the registry"),
        Store.open(db or default_db_url(), create=False) as store,
    ):
        return store.load()


def _parse_days(text: str) -> list[float]:
    try:
        days = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"--days must be comma-separated numbers, got {text!r}") from None
    if not days or any(not np.isfinite(d) or d < 0 for d in days):
        raise typer.BadParameter("--days needs one or more finite numbers >= 0")
    return days


def prediction_grid(cohort: Cohort, days: list[float]) -> pd.DataFrame:
    """patient_id and day (since onset) = each patient's last visit day + each of ``days``.

    Patients without a visit are anchored at their diagnosis day (documented
    fallback); a patient with neither is refused.
    """
    pats = cohort.patients.drop_duplicates("patient_id")
    last = cohort.visits.groupby("patient_id")["day"].max()
    pid = pats["patient_id"]
    anchor = pid.map(last).astype("float64")
    diag = pats["diagnosis_day"].astype("float64")
    anchor = anchor.fillna(pd.Series(diag.to_numpy(), index=anchor.index))
    if anchor.isna().any():
        bad = pid[anchor.isna().to_numpy()].astype(str).tolist()
        shown = ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise AlsnetError(
            f"{len(bad)} patient(s) have neither a visit nor a diagnosis day to count --days "
            f"from: {shown}"
        )
    d = np.asarray(days, dtype="float64")
    return pd.DataFrame(
        {
            "patient_id": np.repeat(pid.to_numpy(), len(d)),
            "day": (anchor.to_numpy()[:, None] + d[None, :]).ravel(),
        }
    )


@twin_app.command("fit")
@handle_errors
def fit_cmd(
    out: Annotated[Path, typer.Option("--out", help="Model file to write (JSON).", dir_okay=False)],
    db: DbOption = None,
    input_dir: InputOption = None,
    members: Annotated[
        int,
        typer.Option(
            "--members",
            min=1,
            help="Bootstrap members: > 1 fits a TwinEnsemble whose intervals include the "
            "uncertainty of the population parameters (advised below ~500 patients).",
        ),
    ] = 1,
) -> None:
    """Fit a TwinModel (or, with --members B, a TwinEnsemble) on --db or --input."""
    from threadpoolctl import threadpool_limits

    from alsnet.twin.ensemble import TwinEnsemble
    from alsnet.twin.model import TwinModel

    cohort = _cohort(db, input_dir)
    model: TwinModel | TwinEnsemble = (
        TwinModel() if members == 1 else TwinEnsemble(n_members=members)
    )
    with err_console.status(f"fitting on {len(cohort.patients):,} patients"), threadpool_limits(1):
        model.fit(cohort)
    model.save(out)
    kind = "TwinModel" if members == 1 else f"TwinEnsemble ({members} bootstrap members)"
    console.print(
        f"fitted {kind} on {model.n_patients_:,} patients ({model.n_obs_:,} ALSFRS-R "
        f"visits); wrote {out}"
    )


@twin_app.command("predict")
@handle_errors
def predict_cmd(
    model_path: Annotated[
        Path, typer.Argument(metavar="MODEL", help="Model file from `twin fit`.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Prediction CSV to write.", dir_okay=False)],
    days: Annotated[
        str, typer.Option(help="Comma-separated days after each patient's last visit.")
    ] = "90,180,365",
    db: DbOption = None,
    input_dir: InputOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the posterior draws.")] = 0,
) -> None:
    """Forecast every patient at --days after their last visit in the input.

    The CSV has one row per patient, day and outcome: patient_id, day (days since
    onset), outcome, mean, q025, q10, q50, q90, q975 (predictive distribution of
    an observed value, measurement noise included). Patients without any visit
    are anchored at their diagnosis day and get the covariate-only forecast.
    """
    from threadpoolctl import threadpool_limits

    from alsnet.twin.ensemble import TwinEnsemble
    from alsnet.twin.model import TwinModel

    if not model_path.is_file():
        raise AlsnetError(f"{model_path}: model file not found")
    d = _parse_days(days)
    loader = TwinEnsemble if TwinEnsemble.is_ensemble_file(model_path) else TwinModel
    model = loader.load(model_path)
    cohort = _cohort(db, input_dir)
    grid = prediction_grid(cohort, d)
    with err_console.status(f"forecasting {len(grid):,} patient-days"), threadpool_limits(1):
        pred = model.predict(cohort, grid, seed=seed)
    num = pred[list(PREDICTION_COLUMNS[3:])].to_numpy(dtype="float64")
    if pred.empty or np.isnan(num).any():
        raise AlsnetError("the model returned missing forecasts; nothing written")
    out.parent.mkdir(parents=True, exist_ok=True)
    pred[list(PREDICTION_COLUMNS)].to_csv(out, index=False)
    console.print(
        f"wrote {len(pred):,} rows ({pred['patient_id'].nunique():,} patients x {len(d)} days x "
        f"{pred['outcome'].nunique()} outcomes) to {out}"
    )


@twin_app.command("evaluate")
@handle_errors
def evaluate_cmd(
    report: Annotated[
        Path, typer.Option("--report", help="Directory for report.html and metrics.csv.")
    ],
    db: DbOption = None,
    input_dir: InputOption = None,
    split: Annotated[
        str, typer.Option(help="'patient' (random split) or 'site' (leave-one-site-out).")
    ] = "patient",
    seed: Annotated[int, typer.Option(help="Seed of the split.")] = 0,
    test_size: Annotated[float, typer.Option(help="Share of test patients (patient split).")] = (
        1 / 3
    ),
    models: Annotated[
        str, typer.Option(help="Comma-separated forecasters: twin, last-slope, lmm, rf.")
    ] = "twin,last-slope,lmm,rf",
    cutoff_days: Annotated[
        float, typer.Option(help="Conditioning window after the first ALSFRS-R visit, days.")
    ] = 91.0,
) -> None:
    """Held-out evaluation of the twin and its baselines, with an HTML report."""
    from threadpoolctl import threadpool_limits

    from alsnet.report.twin import metrics_table, write_evaluation
    from alsnet.twin.evaluate import DEFAULT_FORECASTERS, evaluate

    if split not in ("patient", "site"):
        raise typer.BadParameter("--split must be 'patient' or 'site'")
    names = [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in names if m not in DEFAULT_FORECASTERS]
    if unknown or not names:
        raise typer.BadParameter(
            f"unknown --models {unknown}; choose from {', '.join(DEFAULT_FORECASTERS)}"
        )
    cohort = _cohort(db, input_dir)
    with err_console.status("fitting and scoring on held-out patients"), threadpool_limits(1):
        ev = evaluate(
            cohort,
            forecasters={m: DEFAULT_FORECASTERS[m] for m in names},
            split=split,  # type: ignore[arg-type]
            seed=seed,
            test_size=test_size,
            cutoff_days=cutoff_days,
        )
    html, csv = write_evaluation(ev, report, provenance={"seed": seed})
    t = metrics_table(ev)
    table = Table(title=f"ALSFRS-R total, {ev.settings['n_test']:,} held-out patients")
    for c in t.columns:
        table.add_column(str(c), justify="left" if c == "model" else "right")
    for row in t.itertuples(index=False):
        table.add_row(
            *[v if isinstance(v, str) else ("–" if pd.isna(v) else f"{v:.3f}") for v in row]
        )
    console.print(table)
    console.print(f"wrote {html} and {csv}")


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
