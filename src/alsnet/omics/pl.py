"""Plots and the HTML report of a consensus clustering (Plotly, offline)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from markupsafe import Markup

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from alsnet.omics._consensus import ConsensusResult

__all__ = ["consensus_heatmap", "pac_curve", "write_cluster_report"]


def pac_curve(result: ConsensusResult) -> go.Figure:
    """PAC (proportion of ambiguous clustering, 0-1), cophenetic coefficient and silhouette by k."""
    import plotly.graph_objects as go

    ks = [int(k) for k in result.pac.index]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ks, y=result.pac.to_numpy(), mode="lines+markers", name="PAC"))
    fig.add_trace(
        go.Scatter(x=ks, y=result.cophenetic.to_numpy(), mode="lines+markers", name="cophenetic")
    )
    if result.silhouette is not None:
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=result.silhouette.reindex(result.pac.index).to_numpy(),
                mode="lines+markers",
                name="silhouette",
            )
        )
    fig.add_vline(x=result.k, line_dash="dash", annotation_text=f"chosen k = {result.k}")
    fig.update_layout(
        title="PAC (lower = more stable), cophenetic coefficient and silhouette by k",
        xaxis_title="number of clusters k",
        yaxis_title="score (0-1)",
        xaxis={"dtick": 1},
    )
    return fig


def consensus_heatmap(result: ConsensusResult, k: int | None = None) -> go.Figure:
    """Consensus matrix at ``k`` (default the chosen k), samples ordered by cluster label."""
    import plotly.graph_objects as go

    k = result.k if k is None else int(k)
    cons = np.asarray(result.consensus[k])
    if k == result.k:
        order = np.lexsort((-cons.mean(axis=1), result.labels))
    else:
        order = np.argsort(-cons.mean(axis=1), kind="stable")
    fig = go.Figure(
        go.Heatmap(
            z=cons[np.ix_(order, order)],
            zmin=0.0,
            zmax=1.0,
            colorscale="Blues",
            colorbar={"title": "consensus"},
        )
    )
    fig.update_layout(
        title=f"Consensus matrix, k = {k} (samples ordered by cluster)",
        xaxis={"showticklabels": False, "title": "sample"},
        yaxis={"showticklabels": False, "title": "sample", "autorange": "reversed"},
    )
    return fig


def write_cluster_report(
    result: ConsensusResult,
    out_path: str | Path,
    *,
    provenance: Mapping[str, object] | None = None,
    cluster_sizes: pd.Series | None = None,
) -> Path:
    """Write the HTML report of a consensus clustering: gate verdict, PAC curve, heatmap.

    Parameters
    ----------
    result : ConsensusResult
        Output of :func:`alsnet.omics.tl.consensus_cluster`.
    out_path : str or Path
        HTML file to write.
    provenance : mapping, optional
        Footer entries (input file, seed, ...).
    cluster_sizes : Series, optional
        Samples per cluster (defaults to counts of ``result.labels``).

    Returns
    -------
    Path
        The written file.
    """
    from alsnet.report import Section, render_report

    gate = result.gate
    verdict = (
        Markup("<p><strong>Published.</strong> No batch ARI exceeds {}.</p>").format(gate.max_ari)
        if gate.published
        else Markup("<p><strong>NOT published:</strong> {}.</p>").format(gate.reason)
    )
    sizes = (
        cluster_sizes
        if cluster_sizes is not None
        else pd.Series(result.labels).value_counts().sort_index()
    )
    ari = pd.DataFrame({"batch column": list(gate.ari), "ARI vs clusters": list(gate.ari.values())})
    size_df = pd.DataFrame({"cluster": sizes.index.astype(str), "samples": sizes.to_numpy()})
    sections: list[Any] = [
        Section(
            "Batch QC gate",
            Markup("<p>Chosen k = {} ({}).</p>").format(
                result.k, result.params.get("k_rule", "lowest PAC")
            )
            + verdict,
            tables=[ari, size_df],
        ),
        Section("Choice of k", figures=[pac_curve(result)], tables=[result.summary()]),
        Section("Consensus matrix", figures=[consensus_heatmap(result)]),
    ]
    return render_report(
        "Consensus clustering", sections, out_path, provenance=dict(provenance or {})
    )
