"""CLI commands: ``alsnet omics simulate`` and ``alsnet omics cluster``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from alsnet.cli._common import console, handle_errors
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


@omics_app.command("simulate")
@handle_errors
def simulate_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output .h5ad file.")],
    patients: Annotated[int, typer.Option("--patients", "-n", min=1, help="Patients.")] = 200,
    genes: Annotated[int, typer.Option("--genes", "-g", min=10, help="Genes.")] = 2000,
    sites: Annotated[int, typer.Option("--sites", min=1, help="Sites (batches).")] = 3,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed.")] = 0,
) -> None:
    """Simulate multi-site ALS transcriptomes with known subtypes; write an .h5ad file."""
    from alsnet.omics import simulate_transcriptome

    adata = simulate_transcriptome(patients, genes, n_sites=sites, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(out)
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
    import anndata

    from alsnet.omics import pp, tl

    ks = parse_k(k)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    adata = anndata.read_h5ad(path)
    if batch_key not in adata.obs.columns:
        raise AlsnetError(
            f"batch key {batch_key!r} is not an obs column (have: {', '.join(adata.obs.columns)})"
        )
    if ks[-1] >= adata.n_obs:
        raise AlsnetError(f"k up to {ks[-1]} needs more than {adata.n_obs} samples")
    pp.vst(adata)
    layer = "vst"
    if correct:
        pp.combat(adata, batch_key=batch_key)
        layer = "combat"
    gate_keys = [batch_key] + [g for g in GATE_KEYS if g != batch_key]
    res = tl.consensus_cluster(
        adata, layer=layer, k_values=ks, n_resamples=resamples, batch_keys=gate_keys, rng=seed
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


def _sizes(labels: Any) -> tuple[list[str], list[int]]:
    import numpy as np

    lab, n = np.unique(np.asarray(labels).astype(str), return_counts=True)
    return [str(x) for x in lab], [int(x) for x in n]


def register(app: typer.Typer) -> None:
    """Add ``alsnet omics`` to ``app``."""
    app.add_typer(omics_app, name="omics")
