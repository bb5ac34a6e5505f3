"""CLI commands: ``alsnet trial ...`` (platform trials)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from alsnet.cli._common import DbOption, console, handle_errors
from alsnet.trials._errors import TrialDesignError

if TYPE_CHECKING:
    from alsnet.trials.adaptive import AdaptiveDesign, AdaptiveResult
    from alsnet.trials.design import PlatformDesign

__all__ = ["register"]

trial_app = typer.Typer(
    name="trial",
    help="Platform trials: group-sequential boundaries, randomisation, analyses.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


def _parse_timing(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise TrialDesignError(
            f"timing: {text!r} must be comma-separated numbers, e.g. 0.25,0.5,0.75,1"
        ) from None


def bounds(
    looks: Annotated[int, typer.Option("--looks", "-k", min=1, help="Number of analyses K.")],
    alpha: Annotated[float, typer.Option("--alpha", help="One-sided type I error.")] = 0.025,
    spending: Annotated[
        str,
        typer.Option(
            "--spending", help="obf | pocock | ld-obf | ld-pocock | hsd:GAMMA (e.g. hsd:-4)."
        ),
    ] = "ld-obf",
    timing: Annotated[
        str | None,
        typer.Option(
            "--timing",
            help="Information fractions, comma-separated (K values, or K-1 with the final 1 "
            "implied). Default: equally spaced.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help='Print {"z": [...], "alpha_spent": [...]}.')
    ] = False,
) -> None:
    """One-sided group-sequential efficacy boundaries (alpha_spent is per look)."""
    from alsnet.trials.boundaries import gs_bounds

    b = gs_bounds(looks, alpha=alpha, spending=spending, timing=_parse_timing(timing))
    if as_json:
        typer.echo(json.dumps({"z": list(b.z), "alpha_spent": list(b.alpha_spent)}))
        return
    table = Table(title=f"{b.spending} boundaries, one-sided alpha {b.alpha:g}")
    for col in ("look", "timing", "z", "nominal p", "alpha spent", "cumulative alpha"):
        table.add_column(col, justify="right")
    for k in range(b.looks):
        table.add_row(
            str(k + 1),
            f"{b.timing[k]:.4f}",
            f"{b.z[k]:.4f}",
            f"{b.nominal_p[k]:.6f}",
            f"{b.alpha_spent[k]:.6f}",
            f"{b.cumulative_alpha[k]:.6f}",
        )
    console.print(table)


def _parse_stratum(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise TrialDesignError(f"stratum: {part!r} must look like factor=level")
        out[key.strip()] = value.strip()
    return out


def randomise_cmd(
    log: Annotated[Path, typer.Option("--log", help="Allocation log (JSON lines).")],
    patient: Annotated[str, typer.Option("--patient", help="Pseudonymous patient id.")],
    stratum: Annotated[
        str | None,
        typer.Option("--stratum", help="Stratum levels, e.g. riluzole=yes,site=A."),
    ] = None,
    design: Annotated[
        Path | None,
        typer.Option("--design", help="Design file (JSON/YAML); needed to start a new log."),
    ] = None,
) -> None:
    """Randomise the next patient and append the allocation to a tamper-evident log."""
    from alsnet.trials.randomise import AllocationDesign, randomise

    d = AllocationDesign.from_file(design) if design is not None else None
    entry = randomise(log, patient, _parse_stratum(stratum), design=d)
    typer.echo(
        json.dumps(
            {
                "patient": entry["patient"],
                "arm": entry["arm"],
                "seq": entry["seq"],
                "sha256": entry["sha256"],
            }
        )
    )


def verify_log_cmd(
    log: Annotated[Path, typer.Argument(help="Allocation log (JSON lines).")],
    expected_head: Annotated[
        str | None,
        typer.Option("--expected-head", help="SHA-256 of the last entry recorded elsewhere."),
    ] = None,
) -> None:
    """Verify an allocation log (hash chain and every allocation); exit 2 if broken."""
    from alsnet.trials.randomise import verify_log

    st = verify_log(log, expected_head=expected_head)
    counts = ", ".join(f"{a}: {n}" for a, n in st.counts.items())
    console.print(f"OK: {st.n_allocations} allocations ({counts}); head {st.head}", highlight=False)


def validate_cmd(
    design: Annotated[str, typer.Argument(help="Design file (YAML) or shipped example name.")],
) -> None:
    """Validate a platform-trial design file; exit 2 naming the field if it is invalid."""
    from alsnet.trials.design import PlatformDesign, load_design
    from alsnet.trials.simulate import enrolment_schedule

    d = load_design(design)
    if not isinstance(d, PlatformDesign):
        _print_adaptive_design(d)
        return
    sched = enrolment_schedule(d)
    table = Table(title=f"{d.name} (version {d.version}): valid")
    for col in ("regimen", "entry month", "n", "looks (months)"):
        table.add_column(col, justify="right")
    for r, lk in zip(d.regimens, sched.looks, strict=True):
        table.add_row(r.name, f"{r.entry_month:g}", str(r.n), ", ".join(f"{t:.1f}" for t in lk))
    console.print(table)
    console.print(f"scenarios: {', '.join(d.scenarios) or '(none)'}", highlight=False)


def _print_adaptive_design(d: AdaptiveDesign) -> None:
    table = Table(title=f"{d.name} (version {d.version}, adaptive binary outcome): valid")
    for col in ("look", "with data", "randomised", "superiority", "inferiority"):
        table.add_column(col, justify="right")
    for k in range(d.n_looks):
        table.add_row(
            str(k + 1),
            str(d.data_looks[k]),
            str(d.randomised_at_looks[k]),
            f"{d.superiority[k]:g}",
            f"{d.inferiority[k]:g}",
        )
    console.print(table)
    console.print(f"arms: {', '.join(d.arms)}; scenarios: {', '.join(d.scenarios)}")


OutcomeSourceOpt = Annotated[
    str | None,
    typer.Option(
        "--outcome-source",
        help="parametric, bootstrap (resample a registry cohort) or twin (digital-twin "
        "control courses) [default: the design's outcomes.source].",
        show_default=False,
    ),
]
CohortOpt = Annotated[
    Path | None,
    typer.Option(
        "--cohort",
        help="Registry cohort (canonical CSV layout) for the bootstrap and twin sources "
        "[default: the design's synthetic cohort].",
        show_default=False,
    ),
]


def _outcome_cohort(outcome_source: str | None, cohort_dir: Path | None) -> Any:
    """Check ``--outcome-source`` and read ``--cohort`` (None when not given)."""
    if outcome_source not in (None, "parametric", "bootstrap", "twin"):
        raise TrialDesignError(
            f"--outcome-source: must be parametric, bootstrap or twin, got {outcome_source!r}"
        )
    if cohort_dir is None:
        return None
    from alsnet.io.canonical import read_csv

    return read_csv(cohort_dir, keep_ids=True)


def simulate_cmd(
    design: Annotated[str, typer.Argument(help="Design file (YAML) or shipped example name.")],
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario name in the design.")],
    sims: Annotated[int, typer.Option("--sims", min=2, help="Simulated trials.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Root seed.")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write RESULT.json here.", show_default=False)
    ] = None,
    backend: Annotated[
        str,
        typer.Option(
            "--backend", help="local (processes on this machine) or ray (RAY_ADDRESS or local)."
        ),
    ] = "local",
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "--workers",
            min=1,
            help="Parallel workers [default: all cores].",
            show_default=False,
        ),
    ] = None,
    outcome_source: OutcomeSourceOpt = None,
    cohort_dir: CohortOpt = None,
) -> None:
    """Simulate a design's operating characteristics under a scenario."""
    from alsnet.trials.design import load_design
    from alsnet.trials.simulate import SimulationResult, simulate

    if backend not in ("local", "ray"):
        raise TrialDesignError(f"backend: must be local or ray, got {backend!r}")
    cohort = _outcome_cohort(outcome_source, cohort_dir)
    d = load_design(design)
    res = simulate(
        d,
        scenario,
        n_sims=sims,
        seed=seed,
        backend=backend,
        n_jobs=jobs,
        outcome_source=outcome_source,
        cohort=cohort,
    )
    if out is not None:
        out.write_text(res.to_json() + "\n", encoding="utf-8")
    if not isinstance(res, SimulationResult):
        _print_adaptive_result(res)
        return
    df = res.summary()
    table = Table(title=f"{d.name} / {res.scenario}: {sims} trials in {res.elapsed_s:.1f} s")
    cols = [
        "regimen",
        "true_drr",
        "p_success",
        "p_early_futility",
        "mean_n",
        "mean_duration_months",
        "mean_drr",
    ]
    if "p_success_survival" in df.columns:  # designs with a survival stage
        cols.append("p_success_survival")
    for col in cols:
        table.add_column(col, justify="right")
    for _, row in df.iterrows():
        cells = [str(row["regimen"]), f"{row['true_drr']:.2f}"]
        for col in cols[2:]:
            cells.append(f"{row[col]:.3f} ± {row[col + '_se']:.3f}")
        table.add_row(*cells)
    console.print(table)


def _print_adaptive_result(res: AdaptiveResult) -> None:
    title = (
        f"{res.design} / {res.scenario}: {res.sims} trials in {res.elapsed_s:.1f} s "
        f"({res.backend}, {res.n_jobs} jobs)"
    )
    table = Table(title=title)
    cols = ("arm", "true_y", "p_superior", "p_dropped", "p_selected", "mean_n")
    for col in cols:
        table.add_column(col, justify="right")
    for i, arm in enumerate(res.arms):
        table.add_row(
            arm,
            f"{res.true_ys[i]:.3f}",
            f"{res.p_success[i]:.3f} ± {res.p_success_se[i]:.3f}",
            f"{res.p_early_futility[i]:.3f} ± {res.p_early_futility_se[i]:.3f}",
            f"{res.p_selected[i]:.3f} ± {res.p_selected_se[i]:.3f}",
            f"{res.arm_mean_n[i]:.0f} ± {res.arm_mean_n_se[i]:.0f}",
        )
    console.print(table)
    console.print(
        f"P(superiority) {res.p_superiority:.3f} ± {res.p_superiority_se:.3f}, "
        f"P(equivalence) {res.p_equivalence:.3f} ± {res.p_equivalence_se:.3f}, "
        f"P(no decision) {res.p_max:.3f}, mean N {res.mean_n:.0f} ± {res.mean_n_se:.0f}",
        highlight=False,
    )


def _platform_design(design: str) -> PlatformDesign:
    from alsnet.trials.design import PlatformDesign, load_design

    d = load_design(design)
    if not isinstance(d, PlatformDesign):
        raise TrialDesignError(f"design {design!r}: this command needs a DRR platform design")
    return d


def calibrate_cmd(
    design: Annotated[str, typer.Argument(help="Design file (YAML) or shipped example name.")],
    target_alpha: Annotated[
        float, typer.Option("--target-alpha", help="One-sided type I error per regimen.")
    ] = 0.025,
    scenario: Annotated[str, typer.Option("--scenario", help="Null scenario name.")] = "null",
    sims: Annotated[int, typer.Option("--sims", min=10, help="Simulated trials.")] = 10000,
    seed: Annotated[int, typer.Option("--seed", help="Root seed.")] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the result JSON here.", show_default=False)
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Local processes.")] = 1,
    outcome_source: OutcomeSourceOpt = None,
    cohort_dir: CohortOpt = None,
) -> None:
    """Calibrate the success threshold to a target type I error (simulates once, then sorts)."""
    from alsnet.trials.calibrate import calibrate

    cohort = _outcome_cohort(outcome_source, cohort_dir)
    d = _platform_design(design)
    res = calibrate(
        d,
        target_alpha=target_alpha,
        scenario=scenario,
        n_sims=sims,
        seed=seed,
        n_workers=jobs,
        outcome_source=outcome_source,
        cohort=cohort,
    )
    if out is not None:
        out.write_text(json.dumps(res.to_dict(), indent=2) + "\n", encoding="utf-8")
    table = Table(
        title=f"{d.name} / {scenario}: {res.statistic} threshold for alpha {target_alpha:g} "
        f"({sims} trials, {res.elapsed_s:.1f} s)"
    )
    for col in ("regimen", "threshold", "95% interval", "alpha at common", "alpha at design"):
        table.add_column(col, justify="right")
    for i, name in enumerate(res.regimens):
        lo, hi = res.threshold_ci[i]
        table.add_row(
            name,
            f"{res.thresholds[i]:.5f}",
            f"{lo:.5f}-{hi:.5f}",
            f"{res.alpha_at_threshold[i]:.4f}",
            f"{res.alpha_at_design[i]:.4f}",
        )
    console.print(table)
    console.print(
        f"common threshold {res.threshold:.5f} (design: {res.design_threshold:g}); "
        f"MC SE of alpha {res.alpha_se:.4f}",
        highlight=False,
    )


def report_cmd(
    results: Annotated[list[Path], typer.Argument(help="RESULT.json files of trial simulate.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory.")],
) -> None:
    """Compare simulation results (designs x scenarios) in one HTML report."""
    from alsnet.trials.report import oc_report

    loaded = []
    for p in results:
        try:
            loaded.append(json.loads(p.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            raise TrialDesignError(
                f"{p.name}: not valid JSON ({exc.msg}, line {exc.lineno})"
            ) from None
    path = oc_report(loaded, out / "oc_report.html")
    console.print(f"wrote {path}", highlight=False)


def analyse_cmd(
    design: Annotated[str, typer.Argument(help="Design file (YAML) or shipped example name.")],
    out: Annotated[Path, typer.Option("--out", help="Output directory (JSON + HTML).")],
    db: DbOption = None,
    input_dir: Annotated[
        Path | None,
        typer.Option(
            "--input", help="Canonical CSV directory instead of the registry.", show_default=False
        ),
    ] = None,
    allocation: Annotated[
        Path | None,
        typer.Option(
            "--allocation",
            help="Allocation CSV with columns patient_id,regimen,arm,randomised_day"
            "[,calendar_day]: arm is active or placebo; randomised_day is on the registry "
            "day axis of the patient (like visits.day); calendar_day (days since the platform "
            "opened) enables concurrent-control windows and the time adjustment. Default: "
            "treatments rows with treatment=trial, trial_id=--trial-id and "
            "arm=<regimen>:active|placebo.",
            show_default=False,
        ),
    ] = None,
    trial_id: Annotated[
        str | None,
        typer.Option(
            "--trial-id", help="trial_id in treatments [default: design name].", show_default=False
        ),
    ] = None,
    regimen: Annotated[
        list[str] | None,
        typer.Option(
            "--regimen", help="Regimen to analyse (repeatable) [default: all].", show_default=False
        ),
    ] = None,
    final: Annotated[
        bool, typer.Option("--final", help="Final analysis (default: interim).")
    ] = False,
    mcmc: Annotated[bool, typer.Option("--mcmc", help="Also fit by NumPyro MCMC.")] = False,
    scores: Annotated[
        Path | None,
        typer.Option(
            "--scores",
            help="CSV patient_id,score (twin forecast of the untreated "
            "ALSFRS-R slope) for PROCOVA.",
            show_default=False,
        ),
    ] = None,
    time_adjust: Annotated[
        bool | None,
        typer.Option(
            "--time-adjust/--no-time-adjust",
            help="Calendar-period adjustment [default: on for control sharing 'all'].",
            show_default=False,
        ),
    ] = None,
    look: Annotated[int, typer.Option("--look", min=1, help="Number of this look.")] = 1,
) -> None:
    """Interim or final analysis of a live trial; writes analysis.json and dsmb_report.html."""
    import pandas as pd

    from alsnet.cli._common import default_db_url
    from alsnet.trials.analyse import (
        allocation_from_cohort,
        allocation_from_frame,
        analyse_trial,
    )
    from alsnet.trials.report import dsmb_report

    d = _platform_design(design)
    if input_dir is not None:
        from alsnet.io.canonical import read_csv

        cohort = read_csv(input_dir)
    else:
        from alsnet.registry import Store

        with Store.open(db or default_db_url(), create=False) as store:
            cohort = store.load()
    if allocation is not None:
        alloc = allocation_from_frame(
            pd.read_csv(allocation, dtype={"patient_id": str, "regimen": str, "arm": str}),
            d,
            source=allocation.name,
        )
    else:
        alloc = allocation_from_cohort(cohort, trial_id or d.name, d)
    sc = None
    if scores is not None:
        frame = pd.read_csv(scores, dtype={"patient_id": str})
        if not {"patient_id", "score"} <= set(frame.columns):
            raise TrialDesignError(f"{scores.name}: needs columns patient_id,score")
        sc = frame.set_index("patient_id")["score"].astype(float)
    res = analyse_trial(
        d,
        cohort,
        alloc,
        final=final,
        regimens=regimen,
        mcmc=mcmc,
        scores=sc,
        time_adjustment=time_adjust,
        look=look,
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "analysis.json").write_text(
        json.dumps(res.to_dict(), indent=2, allow_nan=False) + "\n", encoding="utf-8"
    )
    dsmb_report(
        res,
        out / "dsmb_report.html",
        design=d,
        provenance={"data fingerprint": cohort.fingerprint[:16]},
    )
    table = Table(title=f"{d.name}: {res.look} analysis")
    for col in ("regimen", "n active", "n control", "DRR (95% CrI)", "Pr(DRR<1)", "decision"):
        table.add_column(col, justify="right")
    for _, row in res.summary().iterrows():
        table.add_row(
            str(row["regimen"]),
            str(row["n_active"]),
            str(row["n_control"]),
            f"{row['drr_mean']:.3f} ({row['drr_ci_low']:.3f}-{row['drr_ci_high']:.3f})",
            f"{row['pr_drr_lt_1']:.4f}",
            str(row["decision"]),
        )
    console.print(table)
    console.print(f"wrote {out / 'analysis.json'} and {out / 'dsmb_report.html'}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``alsnet trial`` and its sub-commands to ``app``."""
    trial_app.command("bounds")(handle_errors(bounds))
    trial_app.command("randomise")(handle_errors(randomise_cmd))
    trial_app.command("verify-log")(handle_errors(verify_log_cmd))
    trial_app.command("validate")(handle_errors(validate_cmd))
    trial_app.command("simulate")(handle_errors(simulate_cmd))
    trial_app.command("calibrate")(handle_errors(calibrate_cmd))
    trial_app.command("report")(handle_errors(report_cmd))
    trial_app.command("analyse")(handle_errors(analyse_cmd))
    app.add_typer(trial_app, name="trial")
