"""Figures and the HTML report of a biomarker panel (Plotly, offline)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from markupsafe import Markup

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from alsnet.omics.classify import FrozenClassifier
    from alsnet.omics.panel import CVResult, StabilityResult

__all__ = ["roc_figure", "selection_figure", "write_panel_report"]


def selection_figure(result: StabilityResult, gene_ids: Sequence[str], top: int = 40) -> go.Figure:
    """Bar chart of the ``top`` selection frequencies with the threshold line."""
    import plotly.graph_objects as go

    tab = result.summary(gene_ids, top=top)
    fig = go.Figure(
        go.Bar(
            x=tab["gene"],
            y=tab["frequency"],
            marker_color=np.where(tab["selected"], "#1f77b4", "#bbbbbb").tolist(),
        )
    )
    fig.add_hline(
        y=result.threshold, line_dash="dash", annotation_text=f"threshold {result.threshold}"
    )
    fig.update_layout(
        title="Stability selection: share of subsamples selecting each gene",
        xaxis_title="gene",
        yaxis_title="selection frequency (0-1)",
        yaxis={"range": [0, 1.02]},
    )
    return fig


def _roc_points(score: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-score, kind="stable")
    pos = positive[order].astype(np.float64)
    tpr = np.concatenate([[0.0], np.cumsum(pos) / max(pos.sum(), 1.0)])
    fpr = np.concatenate([[0.0], np.cumsum(1 - pos) / max((1 - pos).sum(), 1.0)])
    return fpr, tpr


def roc_figure(results: Sequence[CVResult]) -> go.Figure:
    """One-vs-rest ROC curves of out-of-fold predictions, one trace per scheme and class."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for res in results:
        aucs = {str(k): float(v) for k, v in zip(res.auc["class"], res.auc["auc"], strict=True)}
        for j, c in enumerate(str(k) for k in res.classes):
            if c not in aucs:
                continue
            fpr, tpr = _roc_points(res.proba[:, j], res.y == c)
            fig.add_trace(
                go.Scatter(
                    x=fpr,
                    y=tpr,
                    mode="lines",
                    name=f"{res.scheme}: {c} (AUC {aucs[c]:.2f})",
                )
            )
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot"}, name="chance"))
    fig.update_layout(
        title="ROC curves, out-of-fold (one class vs the rest)",
        xaxis_title="false-positive rate",
        yaxis_title="true-positive rate",
    )
    return fig


def write_panel_report(
    out_path: str | Path,
    *,
    stability: StabilityResult,
    gene_ids: Sequence[str],
    cv_results: Sequence[CVResult],
    model: FrozenClassifier,
    provenance: Mapping[str, object] | None = None,
) -> Path:
    """Write the panel report: evaluation table, ROC curves, selection frequencies, model."""
    from alsnet.report import Section, Table, render_report

    evaluation = pd.concat([r.summary() for r in cv_results], ignore_index=True)
    panel = pd.DataFrame(
        {
            "gene": list(model.genes),
            "selection frequency": [
                float(stability.frequency[list(gene_ids).index(g)]) for g in model.genes
            ],
        }
    )
    folds = pd.concat([r.gene_frequency().rename(r.scheme) for r in cv_results], axis=1).fillna(0.0)
    folds = folds.reset_index(names="gene").head(30)
    stab_text = Markup(
        "<p>{} subsamples of half the patients; L1 penalty {:.3g}; on average {:.1f} genes "
        "per fit; threshold {}; expected false selections at most {:.2f} "
        "(Meinshausen-Buhlmann bound).{}</p>"
    ).format(
        stability.n_subsamples,
        stability.lam,
        stability.mean_selected,
        stability.threshold,
        stability.ev_bound,
        " No gene reached the threshold: the most frequent genes were kept (not stable)."
        if stability.fallback
        else "",
    )
    eval_text = Markup(
        "<p>Nested cross-validation: the whole pipeline (VST, ComBat, stability selection, "
        "inner grouped CV of the penalty and temperature) is refitted in every outer fold. "
        "AUC is one class vs the rest; 95% CIs from a bootstrap of patients.</p>"
    )
    sections: list[Any] = [
        Section(
            "Evaluation",
            eval_text,
            figures=[roc_figure(cv_results)],
            tables=[Table(evaluation, "AUC by scheme", float_digits=3)],
        ),
        Section(
            "Selection frequencies",
            stab_text,
            figures=[selection_figure(stability, gene_ids)],
            tables=[
                Table(panel, "Panel of the frozen model", float_digits=2),
                Table(folds, "Share of outer folds selecting each gene", float_digits=2),
            ],
        ),
        Section(
            "Frozen model",
            Markup("<p>{}</p><p>Unassigned below probability {}.</p>").format(
                repr(model), model.threshold
            ),
            tables=[
                Table(
                    pd.DataFrame(
                        {
                            "class": list(model.meta["class_counts"]),
                            "training samples": list(model.meta["class_counts"].values()),
                        }
                    ),
                    "Training classes",
                )
            ],
        ),
    ]
    return render_report("Biomarker panel", sections, out_path, provenance=dict(provenance or {}))


def write_assign_report(
    out_path: str | Path,
    table: pd.DataFrame,
    *,
    batches: Sequence[str] | None = None,
    model_version: str = "",
) -> Path:
    """Write the assignment report: status counts, probability histograms, subtype x batch.

    Parameters
    ----------
    out_path : str or Path
        HTML file to write.
    table : DataFrame
        Output of :meth:`FrozenClassifier.assign` (``subtype``, ``probability``,
        ``status``); sample ids are not shown.
    batches : sequence of str, optional
        Batch (site) of each row, for the subtype x batch table.
    model_version : str
        Shown in the provenance block.
    """
    import plotly.graph_objects as go

    from alsnet.report import Section, Table, render_report

    counts = (
        table.groupby(["subtype", "status"], dropna=False).size().rename("samples").reset_index()
    )
    hist = go.Figure()
    for sub in sorted(table["subtype"].astype(str).unique()):
        p = table.loc[table["subtype"].astype(str) == sub, "probability"].to_numpy()
        hist.add_trace(go.Histogram(x=p, name=f"{sub} (n={p.size})", opacity=0.7, nbinsx=20))
    hist.update_layout(
        barmode="overlay",
        title="Top class probability by assigned subtype",
        xaxis_title="probability",
        yaxis_title="samples",
    )
    tables = [Table(counts, "Samples by subtype and status")]
    if batches is not None:
        cross = pd.crosstab(pd.Series(list(batches), name="batch"), table["subtype"].to_numpy())
        tables.append(Table(cross.reset_index(), "Assigned subtype by batch"))
    text = Markup(
        "<p>{} samples assigned with a frozen classifier; {} below the probability threshold "
        "are reported as unassigned.</p>"
    ).format(len(table), int((table["status"] == "unassigned").sum()))
    return render_report(
        "alsnet omics assign",
        [Section("Assignments", text, figures=[hist], tables=tables)],
        out_path,
        provenance={"model": model_version} if model_version else None,
    )
