"""CLI commands: ``alsnet omics simulate``, ``cluster``, ``ingest`` and ``subtype``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from alsnet.cli._common import DbOption, console, handle_errors
from alsnet.exceptions import AlsnetError

__all__ = ["parse_k", "register"]

omics_app = typer.Typer(
    name="omics",
    help="Molecular stratification: simulate transcriptomes, consensus subtypes with a batch gate.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

GATE_KEYS = ("site", "platform", "tissue")


def parse_k(spec: str) -> list[int]:
    """Parse ``"2..6"``, ``"2,3,5"`` or ``"4"`` into a sorted list of k (each >= 2).

    Raises
    ------
    typer.BadParameter
        On malformed input or k < 2.
    """
    try:
        if ".." in spec:
            lo, hi = (int(s) for s in spec.split("..", 1))
            ks = list(range(lo, hi + 1))
        else:
            ks = [int(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        raise typer.BadParameter(f"--k must look like 2..6, 2,3,4 or 3; got {spec!r}") from None
    if not ks or min(ks) < 2:
        raise typer.BadParameter(f"--k needs values >= 2; got {spec!r}")
    return sorted(set(ks))


def _finite(v: float) -> float | None:
    return None if not math.isfinite(v) else float(v)


def _read_h5ad(path: Path) -> Any:
    """Read an AnnData file, naming it when it does not exist."""
    import anndata

    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    return anndata.read_h5ad(path)


@omics_app.command("simulate")
@handle_errors
def simulate_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .h5ad file.")],
    patients: Annotated[int, typer.Option("--patients", "-n", min=1, help="Patients.")] = 200,
    genes: Annotated[int, typer.Option("--genes", "-g", min=10, help="Genes.")] = 2000,
    sites: Annotated[int, typer.Option("--sites", min=1, help="Sites (batches).")] = 3,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed.")] = 0,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write DIR/report.html (PCA by subtype and batch)."),
    ] = None,
) -> None:
    """Simulate multi-site ALS transcriptomes with known subtypes; write an .h5ad file."""
    from alsnet.omics import simulate_transcriptome

    adata = simulate_transcriptome(patients, genes, n_sites=sites, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(out)
    if report is not None:
        from alsnet.omics._reports import write_simulation_report

        write_simulation_report(adata, report / "report.html")
    console.print(
        f"wrote {adata.n_obs} samples x {adata.n_vars} genes "
        f"({patients} patients, {sites} sites, seed {seed}) to {out}",
        highlight=False,
    )


@omics_app.command("cluster")
@handle_errors
def cluster_cmd(
    path: Annotated[Path, typer.Argument(help="Input .h5ad with raw counts in X.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Result JSON file.")],
    batch_key: Annotated[
        str, typer.Option("--batch-key", help="obs column corrected by ComBat.")
    ] = "site",
    k: Annotated[str, typer.Option("--k", help="k values: 2..6, 2,3,4 or 3.")] = "2..6",
    resamples: Annotated[int, typer.Option("--resamples", min=2, help="Subsamples per k.")] = 50,
    correct: Annotated[
        bool, typer.Option("--correct/--no-correct", help="ComBat on the batch key.")
    ] = True,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed.")] = 0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Directory for report.html.")
    ] = None,
) -> None:
    """VST -> ComBat (unless --no-correct) -> consensus clustering -> batch QC gate."""
    ks = parse_k(k)
    adata = _read_h5ad(path)
    if batch_key not in adata.obs.columns:
        raise AlsnetError(
            f"batch key {batch_key!r} is not an obs column (have: {', '.join(adata.obs.columns)})"
        )
    res, _ = _correct_and_cluster(
        adata, batch_key=batch_key, correct=correct, ks=ks, resamples=resamples, seed=seed
    )
    result: dict[str, Any] = {
        "input": str(path),
        "n_samples": int(adata.n_obs),
        "n_genes": int(adata.n_vars),
        "batch_key": batch_key,
        "corrected": correct,
        "k": res.k,
        "pac": {str(kk): _finite(v) for kk, v in res.pac.items()},
        "cophenetic": {str(kk): _finite(v) for kk, v in res.cophenetic.items()},
        "ari": {key: _finite(v) for key, v in res.gate.ari.items()},
        "max_batch_ari": res.gate.max_ari,
        "published": res.published,
        "reason": res.gate.reason,
        "cluster_sizes": {str(lab): int(n) for lab, n in zip(*_sizes(res.labels), strict=True)},
        "labels": dict(zip(adata.obs_names.astype(str), res.labels.astype(str), strict=True)),
        "resamples": resamples,
        "seed": seed,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n")
    state = "published" if res.published else f"NOT published: {res.gate.reason}"
    console.print(f"k = {res.k}, {state}; wrote {out}", highlight=False)
    if report is not None:
        from alsnet.omics.pl import write_cluster_report

        html = write_cluster_report(
            res,
            report / "report.html",
            provenance={
                "input": path.name,
                "batch key": batch_key,
                "ComBat": correct,
                "seed": seed,
            },
        )
        console.print(f"report: {html}", highlight=False)


def _correct_and_cluster(
    adata: Any,
    *,
    batch_key: str | None,
    correct: bool,
    ks: list[int],
    resamples: int,
    seed: int,
    method: str = "hierarchical",
) -> tuple[Any, str]:
    """VST -> ComBat on ``batch_key`` (if ``correct``) -> consensus clustering with the gate.

    Shared by ``omics cluster`` and ``omics subtype``; returns the result and the layer used.
    """
    from alsnet.omics import pp, tl

    if ks[-1] >= adata.n_obs:
        raise AlsnetError(f"k up to {ks[-1]} needs more than {adata.n_obs} samples")
    pp.vst(adata)
    layer = "vst"
    if correct and batch_key is not None:
        pp.combat(adata, batch_key=batch_key)
        layer = "combat"
    keys = [batch_key] if batch_key is not None else []
    gate_keys = keys + [g for g in GATE_KEYS if g != batch_key]
    res = tl.consensus_cluster(
        adata,
        layer=layer,
        k_values=ks,
        n_resamples=resamples,
        batch_keys=gate_keys,
        rng=seed,
        method=method,  # type: ignore[arg-type]
    )
    return res, layer


def _read_with_warnings(counts: Path, meta: Path | None, fmt: str, batch: str | None) -> Any:
    """:func:`alsnet.omics.io.read_omics`, printing its warnings on stderr."""
    import warnings

    from alsnet.cli._common import err_console
    from alsnet.exceptions import AlsnetWarning
    from alsnet.omics.io import read_omics

    if fmt not in ("auto", "csv", "featurecounts", "h5ad"):
        raise typer.BadParameter(f"--format must be auto, csv, featurecounts or h5ad; got {fmt!r}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AlsnetWarning)
        adata = read_omics(counts, meta, format=fmt, batch_key=batch)  # type: ignore[arg-type]
    for w in caught:
        err_console.print(f"[yellow]warning:[/] {w.message}", markup=True, highlight=False)
    return adata


def _link_patients(adata: Any, db: str, meta: Path | None) -> int:
    """Mark ``obs["in_registry"]``; print how many samples link to no registry patient."""
    from alsnet.cli._common import err_console
    from alsnet.omics.io import read_metadata, registry_patient_ids, unknown_patients

    if "patient_id" not in adata.obs.columns:
        raise AlsnetError("--db needs a 'patient_id' column in the sample metadata")
    unknown = unknown_patients(adata.obs, registry_patient_ids(db))
    adata.obs["in_registry"] = ~adata.obs_names.isin(unknown)
    if len(unknown):
        lines = read_metadata(meta).attrs["lines"] if meta is not None else {}
        where = ", ".join(str(lines.get(s, s)) for s in unknown[:10])
        more = ", ..." if len(unknown) > 10 else ""
        err_console.print(
            f"[yellow]warning:[/] {len(unknown)} sample(s) have a patient_id not found in the "
            f"registry patients table (metadata lines {where}{more})",
            markup=True,
            highlight=False,
        )
    return len(unknown)


def _batch_column(adata: Any, columns: list[str], source: str) -> str | None:
    """The ComBat batch column: one metadata column, or the combination of several.

    Checks (via :func:`alsnet.omics.io.check_batch`) that it exists, is complete and has at
    least two samples per batch; a combination is stored as ``obs["a+b"]`` = ``"x/y"``.
    """
    from alsnet.omics.io import check_batch

    if not columns:
        return None
    for col in columns:
        check_batch(adata.obs, col, source)
    if len(columns) == 1:
        return columns[0]
    key = "+".join(columns)
    adata.obs[key] = adata.obs[columns].astype(str).agg("/".join, axis=1).astype("category")
    check_batch(adata.obs, key, source)
    return key


FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help="Count format: auto, csv, featurecounts or h5ad.")
]
MetaOpt = Annotated[
    Path | None, typer.Option("--meta", "-m", help="Sample metadata CSV (sample_id, ...).")
]


@omics_app.command("ingest")
@handle_errors
def ingest_cmd(
    counts: Annotated[
        Path, typer.Argument(help="Counts: genes x samples CSV/TSV, featureCounts or .h5ad.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .h5ad file.")],
    meta: MetaOpt = None,
    fmt: FormatOpt = "auto",
    batch: Annotated[
        str | None, typer.Option("--batch", help="Batch column to check (>= 2 samples each).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Directory for the QC report.html.")
    ] = None,
    drop_outliers: Annotated[
        bool, typer.Option("--drop-outliers", help="Drop QC outliers before writing.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Read counts + metadata, QC the samples, write an .h5ad (optionally a QC report).

    With --db, samples are linked to registry patients by pseudonym (patient_id) and those
    without a registry patient are reported.
    """
    from alsnet.omics.qc import sample_qc

    adata = _read_with_warnings(counts, meta, fmt, batch)
    if db is not None:
        _link_patients(adata, db, meta)
    qc = sample_qc(adata)
    for col in ("library_size", "detected_genes", "median_correlation"):
        adata.obs[f"qc_{col}"] = qc[col].to_numpy()
    if report is not None:
        from alsnet.omics._reports import write_qc_report

        html = write_qc_report(
            adata, qc, report / "report.html", provenance={"counts": counts.name}
        )
        console.print(f"QC report: {html}", highlight=False)
    n_out = int(qc["outlier"].sum())
    if drop_outliers and n_out:
        adata = adata[~qc["outlier"].to_numpy()].copy()
        if batch is not None:
            from alsnet.omics.io import check_batch

            check_batch(adata.obs, batch, f"{counts.name} after dropping outliers")
    out.parent.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(out)
    dropped = f", {n_out} dropped" if drop_outliers else ""
    console.print(
        f"wrote {adata.n_obs} samples x {adata.n_vars} genes to {out} "
        f"({n_out} QC outlier(s){dropped})",
        highlight=False,
    )


#: Exit code of ``omics subtype`` when the batch QC gate refuses the clustering.
GATE_REFUSED_EXIT = 3


@omics_app.command("subtype")
@handle_errors
def subtype_cmd(
    counts: Annotated[
        Path, typer.Argument(help="Counts: genes x samples CSV/TSV, featureCounts or .h5ad.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    meta: MetaOpt = None,
    batch: Annotated[
        list[str] | None,
        typer.Option(
            "--batch",
            help="Metadata column corrected by ComBat; repeat to correct their combination "
            "(e.g. --batch site --batch platform).",
        ),
    ] = None,
    k: Annotated[str, typer.Option("--k", help="k values: 2..6, 2,3,4 or a fixed 3.")] = "2..6",
    fmt: FormatOpt = "auto",
    resamples: Annotated[int, typer.Option("--resamples", min=2, help="Subsamples per k.")] = 50,
    drop_outliers: Annotated[
        bool, typer.Option("--drop-outliers", help="Drop QC outliers before clustering.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed.")] = 0,
    method: Annotated[
        str,
        typer.Option(
            "--method", help="Base clusterer: hierarchical (Ward), kmeans or nmf (Brunet)."
        ),
    ] = "hierarchical",
) -> None:
    """Ingest -> VST -> ComBat on --batch -> consensus clustering -> batch QC gate.

    DIR gets assignments.csv (sample_id, subtype, probability = normalised item consensus:
    the sample's mean consensus with its cluster over its mean consensus with every cluster),
    patients.csv (per-patient labels across tissues, "discordant" when they disagree) and
    report.html. If the gate refuses (ARI vs site/platform/tissue above 0.2, or a cluster of
    >= 10 samples >= 90 % from one batch level holding <= 50 % of the samples), only the
    report is written and the command exits with code 3.
    """
    import pandas as pd

    from alsnet.omics import tl
    from alsnet.omics._reports import write_subtype_report
    from alsnet.omics.qc import sample_qc

    if method not in ("hierarchical", "kmeans", "nmf"):
        raise typer.BadParameter(f"--method must be hierarchical, kmeans or nmf; got {method!r}")
    ks = parse_k(k)
    adata = _read_with_warnings(counts, meta, fmt, None)
    qc = sample_qc(adata)
    if drop_outliers and qc["outlier"].any():
        adata = adata[~qc["outlier"].to_numpy()].copy()
    batch_key = _batch_column(adata, batch or [], (meta or counts).name)
    res, layer = _correct_and_cluster(
        adata,
        batch_key=batch_key,
        correct=True,
        ks=ks,
        resamples=resamples,
        seed=seed,
        method=method,
    )
    prob = tl.membership_probability(res.consensus[res.k], res.labels)
    assignments = pd.DataFrame(
        {"sample_id": adata.obs_names.astype(str), "subtype": res.labels, "probability": prob}
    )
    patients = None
    if "patient_id" in adata.obs.columns:
        patients = tl.patient_labels(adata.obs, res.labels, prob)
    purity = tl.batch_purity(res.labels, adata.obs, batch_keys=list(res.gate.ari))
    suspect = purity.loc[purity["suspect"]]
    refusal = res.gate.reason or "; ".join(
        f"cluster {r.cluster} is {r.share_in_cluster:.0%} {r.batch} = {r.level} "
        f"({r.share_overall:.0%} of all samples)"
        for r in suspect.itertuples()
    )
    if not res.gate.reason and refusal:
        refusal = (
            f"clusters made of one batch: {refusal}; correct it (--batch, repeat for a "
            "combination such as --batch site --batch platform) and recluster"
        )
    out.mkdir(parents=True, exist_ok=True)
    html = write_subtype_report(
        res,
        adata,
        assignments,
        out / "report.html",
        layer=layer,
        site_key=batch[0] if batch else "site",
        patients=patients,
        purity=purity,
        refusal=refusal,
        provenance={"counts": counts.name, "batch": batch_key or "none", "seed": seed},
    )
    if refusal:
        from alsnet.cli._common import err_console

        err_console.print(
            f"[bold red]refused:[/] subtypes not published: {refusal}. Report: {html}",
            markup=True,
            highlight=False,
        )
        raise typer.Exit(code=GATE_REFUSED_EXIT)
    assignments.to_csv(out / "assignments.csv", index=False)
    if patients is not None:
        patients.reset_index().to_csv(out / "patients.csv", index=False)
    sizes = ", ".join(f"{lab}: {n}" for lab, n in zip(*_sizes(res.labels), strict=True))
    console.print(
        f"k = {res.k} ({sizes}), published; wrote {out / 'assignments.csv'} and {html}",
        highlight=False,
    )


@omics_app.command("match")
@handle_errors
def match_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    db: DbOption = None,
    input_dir: Annotated[
        Path | None,
        typer.Option("--input", "-i", help="Canonical CSV directory instead of --db."),
    ] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Rule table (YAML); default: shipped table.")
    ] = None,
    draws: Annotated[
        int,
        typer.Option("--draws", min=0, help="Genotype imputations for expected counts (0: none)."),
    ] = 100,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Seed of the imputations.")] = 0,
) -> None:
    """Match registry patients to genotype/biomarker-targeted studies (matches.csv + report)."""
    from alsnet.omics._match_reports import write_match_report
    from alsnet.omics.priors import expected_eligible
    from alsnet.omics.rules import evaluate_rules, load_rules

    if db is not None and input_dir is not None:
        raise typer.BadParameter("give --db or --input, not both")
    ruleset = load_rules(rules)
    if input_dir is not None:
        from alsnet.io.canonical import read_csv

        cohort = read_csv(input_dir)
        source = input_dir.name
    else:
        from alsnet.cli._common import default_db_url
        from alsnet.registry import Store

        with Store.open(db or default_db_url(), create=False) as store:
            cohort = store.load()
        source = "registry"
    res = evaluate_rules(ruleset, cohort)
    expected = expected_eligible(ruleset, cohort, n_draws=draws, rng=seed) if draws > 0 else None
    out.mkdir(parents=True, exist_ok=True)
    res.matches.to_csv(out / "matches.csv", index=False)
    res.summary().to_csv(out / "summary.csv", index=False)
    if expected is not None:
        expected.to_csv(out / "expected.csv", index=False)
    html = write_match_report(
        res,
        out / "report.html",
        expected=expected,
        provenance={"data": source, "data fingerprint": cohort.fingerprint[:16], "seed": seed},
    )
    for row in res.summary().itertuples(index=False):
        console.print(
            f"  {row.study_id:<30} eligible {row.eligible:>6}  untested {row.untested:>6}",
            highlight=False,
        )
    for sid in res.unmet():
        console.print(f"[yellow]warning:[/] no patient meets study {sid}", highlight=False)
    console.print(f"wrote {out / 'matches.csv'} and {html}", highlight=False)


@omics_app.command("targets")
@handle_errors
def targets_cmd(
    path: Annotated[Path, typer.Argument(help="Input .h5ad with raw counts in X.")],
    subtype_key: Annotated[str, typer.Option("--subtype-key", help="obs column: subtype.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    genetic: Annotated[
        Path | None, typer.Option("--genetic", help="CSV gene,score: genetic evidence.")
    ] = None,
    druggable: Annotated[
        Path | None, typer.Option("--druggable", help="CSV gene,score: druggability.")
    ] = None,
    time_key: Annotated[
        str | None, typer.Option("--time-key", help="obs column: survival time.")
    ] = None,
    event_key: Annotated[
        str | None, typer.Option("--event-key", help="obs column: event observed (0/1).")
    ] = None,
    progression_key: Annotated[
        str | None, typer.Option("--progression-key", help="obs column: progression rate.")
    ] = None,
    patient_key: Annotated[
        str, typer.Option("--patient-key", help="obs column: patient id.")
    ] = "patient_id",
    method: Annotated[
        str, typer.Option("--method", help="DE method: auto, deseq2 or welch.")
    ] = "auto",
    weight: Annotated[
        list[str] | None,
        typer.Option("--weight", help="Evidence weight, e.g. --weight de=2 (repeatable)."),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Genes per subtype in the report.")] = 25,
) -> None:
    """Rank candidate targets per subtype by combined evidence (targets.csv + report)."""
    from alsnet.omics._match_reports import write_targets_report
    from alsnet.omics.targets import prioritise_targets, read_gene_scores

    if method not in ("auto", "deseq2", "welch"):
        raise typer.BadParameter(f"--method must be auto, deseq2 or welch; got {method!r}")
    weights: dict[str, float] | None = None
    if weight:
        weights = {}
        for spec in weight:
            key, _, val = spec.partition("=")
            try:
                weights[key.strip()] = float(val)
            except ValueError:
                raise typer.BadParameter(f"--weight must look like de=2; got {spec!r}") from None
    adata = _read_h5ad(path)
    res = prioritise_targets(
        adata,
        subtype_key,
        patient_key=patient_key,
        time_key=time_key,
        event_key=event_key,
        progression_key=progression_key,
        genetic=None if genetic is None else read_gene_scores(genetic, name="genetic"),
        druggable=None if druggable is None else read_gene_scores(druggable, name="druggable"),
        weights=weights,
        de_method=method,  # type: ignore[arg-type]
    )
    out.mkdir(parents=True, exist_ok=True)
    res.table.to_csv(out / "targets.csv", index=False)
    html = write_targets_report(
        res, out / "report.html", top=top, provenance={"input": path.name, "DE": res.de_method}
    )
    for sub, df in res.table.groupby("subtype", sort=False):
        genes = ", ".join(df.nsmallest(5, "rank")["gene"].astype(str))
        console.print(f"  {sub}: {genes}", highlight=False)
    console.print(f"wrote {out / 'targets.csv'} and {html}", highlight=False)


def _sizes(labels: Any) -> tuple[list[str], list[int]]:
    import numpy as np

    lab, n = np.unique(np.asarray(labels).astype(str), return_counts=True)
    return [str(x) for x in lab], [int(x) for x in n]


def register(app: typer.Typer) -> None:
    """Add ``alsnet omics`` to ``app``."""
    from alsnet.cli import omics_panel  # noqa: F401  (adds the panel and assign commands)

    app.add_typer(omics_app, name="omics")
