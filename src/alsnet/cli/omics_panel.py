"""CLI commands ``alsnet omics panel`` and ``alsnet omics assign`` (added to ``omics_app``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from alsnet.cli._common import console, handle_errors
from alsnet.cli.omics import _read_h5ad, omics_app
from alsnet.exceptions import AlsnetError

__all__ = ["assign_cmd", "panel_cmd"]


def _need(adata: Any, *cols: str | None) -> None:
    for c in cols:
        if c is not None and c not in adata.obs.columns:
            raise AlsnetError(
                f"column {c!r} is not in the sample metadata (have: {', '.join(adata.obs.columns)})"
            )


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@omics_app.command("panel")
@handle_errors
def panel_cmd(
    path: Annotated[Path, typer.Argument(help="Input .h5ad with raw counts in X.")],
    label: Annotated[str, typer.Option("--label", help="obs column with the class label.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    group: Annotated[
        str, typer.Option("--group", help="obs column with the patient (CV never splits it).")
    ] = "patient_id",
    site: Annotated[
        str | None,
        typer.Option("--site", help="obs column with the site: ComBat batch + leave-one-site-out."),
    ] = None,
    subsamples: Annotated[
        int, typer.Option("--subsamples", min=10, help="Stability-selection subsamples.")
    ] = 100,
    threshold: Annotated[
        float, typer.Option("--threshold", min=0.51, max=1.0, help="Selection frequency.")
    ] = 0.7,
    outer: Annotated[int, typer.Option("--outer", min=2, help="Outer CV folds.")] = 5,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed.")] = 0,
) -> None:
    """Stability-selected panel, nested CV (+ leave-one-site-out), frozen model and report."""
    import numpy as np

    from alsnet.omics._combat import ComBat
    from alsnet.omics._panel_report import write_panel_report
    from alsnet.omics._vst import VarianceStabilizer
    from alsnet.omics.classify import fit_classifier
    from alsnet.omics.panel import (
        cross_validate_panel,
        stability_selection,
        stability_selector,
    )

    adata = _read_h5ad(path)
    _need(adata, label, group, site)
    genes = adata.var_names.astype(str)
    selector = stability_selector(n_subsamples=subsamples, threshold=threshold)
    with console.status("stability selection on all samples"):
        v = VarianceStabilizer().fit_transform(adata.X)
        if site is not None:
            v = ComBat().fit_transform(v, adata.obs[site].astype(str).to_numpy())
        stab = stability_selection(
            v,
            adata.obs[label].astype(str).to_numpy(),
            adata.obs[group].astype(str).to_numpy(),
            n_subsamples=subsamples,
            threshold=threshold,
            rng=seed,
        )
    results = []
    with console.status("nested cross-validation grouped by patient"):
        results.append(
            cross_validate_panel(
                adata,
                label,
                group_key=group,
                batch_key=site,
                n_outer=outer,
                selector=selector,
                seed=seed,
            )
        )
    if site is not None and adata.obs[site].nunique() >= 2:
        with console.status("leave-one-site-out"):
            results.append(
                cross_validate_panel(
                    adata,
                    label,
                    scheme="site",
                    group_key=group,
                    batch_key=site,
                    site_key=site,
                    selector=selector,
                    seed=seed,
                )
            )
    with console.status("fitting the frozen model on all samples"):
        model = fit_classifier(
            adata,
            label,
            batch_key=site,
            group_key=group,
            genes=[genes[i] for i in stab.selected],
            seed=seed,
        )
    out.mkdir(parents=True, exist_ok=True)
    model_path = model.save(out / "model.json")
    doc = {
        "input": str(path),
        "label": label,
        "group": group,
        "site": site,
        "panel": list(model.genes),
        "selection_frequency": {
            str(genes[i]): float(stab.frequency[i])
            for i in np.argsort(-stab.frequency)[:100]
            if stab.frequency[i] > 0
        },
        "stability": {
            "threshold": stab.threshold,
            "lambda": stab.lam,
            "mean_selected": stab.mean_selected,
            "ev_bound": stab.ev_bound,
            "fallback": stab.fallback,
            "n_subsamples": stab.n_subsamples,
        },
        "evaluation": [
            {k: _clean(v) for k, v in row.items()}
            for r in results
            for row in r.summary().to_dict(orient="records")
        ],
        "fold_panels": {r.scheme: r.fold_genes for r in results},
        "model": model_path.name,
        "seed": seed,
    }
    (out / "panel.json").write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    report = write_panel_report(
        out / "report.html",
        stability=stab,
        gene_ids=list(genes),
        cv_results=results,
        model=model,
        provenance={"input": path.name, "label": label, "seed": seed},
    )
    for r in results:
        auc, lo, hi = r.macro_auc
        console.print(
            f"{r.scheme}: macro AUC {auc:.3f} (95% CI {lo:.3f}-{hi:.3f})", highlight=False
        )
    console.print(
        f"panel of {len(model.genes)} genes; wrote {model_path}, {out / 'panel.json'}, {report}",
        highlight=False,
    )


@omics_app.command("assign")
@handle_errors
def assign_cmd(
    model_path: Annotated[Path, typer.Argument(help="Frozen model (model.json).")],
    path: Annotated[Path, typer.Argument(help="Input .h5ad with raw counts in X.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output CSV.")],
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", min=0.0, max=1.0, help="Unassigned below this probability."),
    ] = None,
    allow_missing: Annotated[
        bool,
        typer.Option("--allow-missing", help="Impute < 5% missing model genes (with a warning)."),
    ] = False,
    adapt_batches: Annotated[
        bool,
        typer.Option("--adapt-batches", help="Estimate unseen batches from their own samples."),
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write DIR/report.html (counts, probabilities)."),
    ] = None,
) -> None:
    """Assign samples to subtypes with a frozen model: sample_id, subtype, probability, status."""
    from alsnet.omics.classify import load_classifier

    model = load_classifier(model_path)
    adata = _read_h5ad(path)
    table = model.assign(
        adata,
        threshold=threshold,
        allow_missing=allow_missing,
        unknown_batch="adapt" if adapt_batches else "error",
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    if report is not None:
        from alsnet.omics._panel_report import write_assign_report

        key = model.batch_key
        batches = adata.obs[key].astype(str).tolist() if key and key in adata.obs.columns else None
        write_assign_report(report / "report.html", table, batches=batches)
    n_un = int((table["status"] == "unassigned").sum())
    console.print(
        f"assigned {len(table) - n_un} of {len(table)} samples ({n_un} unassigned); wrote {out}",
        highlight=False,
    )
