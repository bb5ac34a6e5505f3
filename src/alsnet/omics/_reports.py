"""HTML reports of sample QC (``omics ingest``) and of subtyping (``omics subtype``).

Plotly figures rendered with :func:`alsnet.report.render_report`; the consensus plots come
from :mod:`alsnet.omics.pl`. Reports compute nothing beyond small projections (PCA) of what
they plot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from markupsafe import Markup

if TYPE_CHECKING:
    import anndata
    import plotly.graph_objects as go

    from alsnet.omics._consensus import ConsensusResult

__all__ = [
    "embedding",
    "embedding_scatter",
    "pca",
    "write_qc_report",
    "write_subtype_report",
]

FloatArray = npt.NDArray[np.float64]


def pca(x: FloatArray, n_components: int = 2, n_top_genes: int = 1000) -> FloatArray:
    """Principal-component scores of the ``n_top_genes`` most variable columns of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    top = np.argsort(x.var(axis=0))[::-1][: min(n_top_genes, x.shape[1])]
    xc = x[:, top] - x[:, top].mean(axis=0)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # small SVD: BLAS threads only contend
        u, s, _ = np.linalg.svd(xc, full_matrices=False)
    r = min(n_components, s.size)
    out = np.zeros((x.shape[0], n_components))
    out[:, :r] = u[:, :r] * s[:r]
    return out


def embedding(x: FloatArray, *, rng: int = 0) -> tuple[FloatArray, str]:
    """2-D embedding: UMAP when umap-learn is installed (on 20 PCs), else PCA.

    Returns
    -------
    coords : ndarray, shape (n_samples, 2)
    method : {"UMAP", "PCA"}
    """
    try:
        import umap
    except ImportError:
        return pca(x, 2), "PCA"
    pcs = pca(x, min(20, max(2, x.shape[0] - 1)))
    n_neighbors = max(2, min(15, x.shape[0] - 1))
    coords = umap.UMAP(n_neighbors=n_neighbors, random_state=rng).fit_transform(pcs)
    return np.asarray(coords, dtype=np.float64), "UMAP"


def embedding_scatter(
    coords: FloatArray,
    colour: Sequence[Any] | pd.Series | npt.NDArray[Any],
    *,
    title: str,
    method: str = "PCA",
) -> go.Figure:
    """Scatter of a 2-D embedding, one trace per value of ``colour`` (no sample ids shown)."""
    import plotly.graph_objects as go

    labels = pd.Series(np.asarray(colour, dtype=object)).fillna("missing").astype(str)
    fig = go.Figure()
    for lab in sorted(labels.unique()):
        m = (labels == lab).to_numpy()
        fig.add_trace(
            go.Scattergl(
                x=coords[m, 0],
                y=coords[m, 1],
                mode="markers",
                name=f"{lab} (n={int(m.sum())})",
                marker={"size": 6, "opacity": 0.8},
                hoverinfo="name",
            )
        )
    fig.update_layout(title=title, xaxis_title=f"{method} 1", yaxis_title=f"{method} 2")
    return fig


def _by_group(values: pd.Series, groups: pd.Series, *, title: str, y: str) -> go.Figure:
    import plotly.graph_objects as go

    fig = go.Figure()
    g = groups.astype(str)
    for lab in sorted(g.unique()):
        m = (g == lab).to_numpy()
        fig.add_trace(
            go.Box(y=values.to_numpy()[m], name=lab, boxpoints="all", jitter=0.4, pointpos=0)
        )
    fig.update_layout(title=title, yaxis_title=y, showlegend=False)
    return fig


def _correlation_heatmap(lcpm: FloatArray, order: npt.NDArray[np.intp]) -> go.Figure:
    import plotly.graph_objects as go

    corr = np.corrcoef(lcpm[order])
    fig = go.Figure(
        go.Heatmap(z=corr, colorscale="Viridis", colorbar={"title": "Pearson r"}, hoverinfo="z")
    )
    fig.update_layout(
        title="Sample-sample correlation of log-CPM (samples ordered by site)",
        xaxis={"showticklabels": False, "title": "sample"},
        yaxis={"showticklabels": False, "title": "sample", "autorange": "reversed"},
    )
    return fig


def write_qc_report(
    adata: anndata.AnnData,
    qc: pd.DataFrame,
    out_path: str | Path,
    *,
    group_key: str = "site",
    provenance: Mapping[str, object] | None = None,
) -> Path:
    """QC report: library size by site, detected genes, correlation heatmap, PCA by site.

    Parameters
    ----------
    adata : AnnData
        Raw counts in ``X`` (samples x genes) and ``obs``.
    qc : DataFrame
        Output of :func:`alsnet.omics.qc.sample_qc`.
    out_path : str or Path
        HTML file.
    group_key : str
        ``obs`` column to colour and group by (falls back to a single group if absent).
    provenance : mapping, optional
        Footer entries.
    """
    from alsnet.omics.qc import N_MADS, log_cpm
    from alsnet.report import Section, render_report

    groups = (
        adata.obs[group_key].astype(str)
        if group_key in adata.obs.columns
        else pd.Series(["all"] * adata.n_obs, index=adata.obs_names)
    )
    groups = groups.reset_index(drop=True)
    lcpm = log_cpm(adata.X)
    order = np.argsort(groups.to_numpy(), kind="stable")
    coords = pca(lcpm, 2)
    thresholds = adata.uns.get("qc", {}).get("thresholds", {})
    summary = pd.DataFrame(
        {
            "metric": ["library size (reads)", "detected genes", "median correlation"],
            "median": [
                float(qc["library_size"].median()),
                float(qc["detected_genes"].median()),
                float(qc["median_correlation"].median()),
            ],
            "flag below": [
                thresholds.get("low_library_size", np.nan),
                thresholds.get("low_detected_genes", np.nan),
                thresholds.get("low_correlation", np.nan),
            ],
            "samples flagged": [
                int(qc["low_library_size"].sum()),
                int(qc["low_detected_genes"].sum()),
                int(qc["low_correlation"].sum()),
            ],
        }
    )
    flagged = qc.loc[qc["outlier"]].reset_index(names="sample_id")
    flagged = flagged[
        ["sample_id", "library_size", "detected_genes", "median_correlation", "outlier"]
    ]
    intro = Markup(
        "<p>{} samples x {} genes. A metric is flagged when it lies more than {} scaled MADs "
        "below the median (log10 library size, detected genes, median log-CPM correlation); "
        "{} sample(s) flagged as outliers.</p>"
    ).format(adata.n_obs, adata.n_vars, N_MADS, int(qc["outlier"].sum()))
    lib = qc["library_size"].reset_index(drop=True) / 1e6
    det = qc["detected_genes"].reset_index(drop=True)
    sections = [
        Section("Summary", intro, tables=[summary, flagged]),
        Section(
            "Library size and detected genes",
            figures=[
                _by_group(lib, groups, title=f"Library size by {group_key}", y="million reads"),
                _by_group(det, groups, title=f"Detected genes by {group_key}", y="genes (>0)"),
            ],
        ),
        Section("Sample correlation", figures=[_correlation_heatmap(lcpm, order)]),
        Section(
            "PCA",
            figures=[
                embedding_scatter(coords, groups, title=f"PCA of log-CPM coloured by {group_key}")
            ],
        ),
    ]
    return render_report("Omics sample QC", sections, out_path, provenance=dict(provenance or {}))


def write_subtype_report(
    result: ConsensusResult,
    adata: anndata.AnnData,
    assignments: pd.DataFrame,
    out_path: str | Path,
    *,
    layer: str = "combat",
    site_key: str = "site",
    patients: pd.DataFrame | None = None,
    purity: pd.DataFrame | None = None,
    refusal: str | None = None,
    provenance: Mapping[str, object] | None = None,
) -> Path:
    """Subtype report: gate verdict, PAC curve, consensus matrices, embeddings, patient labels.

    Parameters
    ----------
    result : ConsensusResult
        Output of :func:`alsnet.omics.tl.consensus_cluster`.
    adata : AnnData
        The clustered samples (``layers[layer]`` is embedded).
    assignments : DataFrame
        ``sample_id, subtype, probability``.
    out_path : str or Path
        HTML file.
    layer : str
        Layer embedded by UMAP/PCA.
    site_key : str
        ``obs`` column for the second colouring.
    patients : DataFrame, optional
        Per-patient labels (:func:`alsnet.omics.tl.patient_labels`), summarised by status.
    purity : DataFrame, optional
        :func:`alsnet.omics.tl.batch_purity` of the clusters (shown in the gate section).
    refusal : str, optional
        Why the subtypes are refused (default: the gate's reason).
    provenance : mapping, optional
        Footer entries.
    """
    from alsnet.omics.pl import consensus_heatmap, pac_curve
    from alsnet.report import Section, Table, render_report

    gate = result.gate
    reason = gate.reason if refusal is None else refusal
    verdict = (
        Markup(
            "<p><strong>Published.</strong> No batch ARI exceeds {} and no cluster is made of "
            "one batch.</p>"
        ).format(gate.max_ari)
        if not reason
        else Markup("<p><strong>NOT published:</strong> {}.</p>").format(reason)
    )
    x = np.asarray(adata.layers[layer], dtype=np.float64)
    coords, method = embedding(x)
    ari = pd.DataFrame({"batch column": list(gate.ari), "ARI vs clusters": list(gate.ari.values())})
    sizes = (
        assignments.groupby("subtype", observed=True)["probability"]
        .agg(samples="size", mean_probability="mean")
        .reset_index()
    )
    k_rule = Markup("<p>Chosen k = {}. Rule: {}.</p>").format(
        result.k, result.params.get("k_rule", "lowest PAC")
    )
    crosstabs = [
        Table(
            pd.crosstab(
                pd.Series(np.asarray(result.labels), name="subtype"),
                pd.Series(adata.obs[key].astype(str).to_numpy(), name=key),
            ).reset_index(),
            caption=f"Samples by subtype and {key} (a subtype made of one {key} is suspect "
            "even when the ARI is low)",
            float_digits=0,
        )
        for key in gate.ari
        if key in adata.obs.columns
    ]
    sections: list[Any] = [
        Section(
            "Batch QC gate",
            k_rule + verdict,
            tables=[
                ari,
                sizes,
                *(
                    [Table(purity, "Most frequent batch level per cluster", float_digits=2)]
                    if purity is not None
                    else []
                ),
                *crosstabs,
            ],
        ),
        Section("Choice of k", figures=[pac_curve(result)], tables=[result.summary()]),
        Section(
            "Consensus matrices",
            figures=[consensus_heatmap(result, k) for k in sorted(result.consensus)],
        ),
        Section(
            f"{method} embedding",
            Markup("<p>{} of the batch-corrected layer {!r}{}.</p>").format(
                method, layer, "" if method == "UMAP" else " (umap-learn not installed)"
            ),
            figures=[
                embedding_scatter(
                    coords, assignments["subtype"], title=f"{method} by subtype", method=method
                ),
                embedding_scatter(
                    coords,
                    adata.obs[site_key] if site_key in adata.obs else ["all"] * adata.n_obs,
                    title=f"{method} by {site_key}",
                    method=method,
                ),
            ],
        ),
    ]
    if patients is not None and len(patients):
        status = patients["status"].value_counts().rename_axis("status").reset_index(name="n")
        sections.append(
            Section(
                "Per-patient labels across tissues",
                Markup(
                    "<p>Patients with samples in several tissues get the shared label when "
                    "their assigned tissues agree, else <em>discordant</em>.</p>"
                ),
                tables=[status],
            )
        )
    return render_report(
        "Molecular subtypes", sections, out_path, provenance=dict(provenance or {})
    )


def write_simulation_report(adata: anndata.AnnData, out_path: str | Path) -> Path:
    """Report of a simulated data set: design counts and the known structure it holds.

    PCA of log-CPM expression coloured by the true subtype and by site/platform shows how
    strong the simulated batch effects are next to the biology (before any correction).
    """
    from markupsafe import Markup

    from alsnet.report import Section, Table, render_report

    counts = np.asarray(adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X)
    lib = counts.sum(axis=1, keepdims=True)
    lcpm = np.log2(counts / np.maximum(lib, 1) * 1e6 + 1.0)
    coords = pca(lcpm, 2)
    obs = adata.obs
    design = (
        obs.groupby(["site", "platform", "tissue"], observed=True)
        .size()
        .rename("samples")
        .reset_index()
    )
    subtypes = obs["subtype"].astype(str).value_counts().rename_axis("subtype").reset_index()
    figs = [
        embedding_scatter(coords, obs["subtype"], title="True subtype (log-CPM PCA)"),
        embedding_scatter(coords, obs["site"], title="Site"),
        embedding_scatter(coords, obs["platform"], title="Platform"),
        embedding_scatter(coords, obs["tissue"], title="Tissue"),
    ]
    text = Markup(
        "<p>{} samples x {} genes from {} patients. Uncorrected expression: if the site, "
        "platform or tissue panels separate as clearly as the subtype panel, clustering "
        "without batch correction will find batches.</p>"
    ).format(adata.n_obs, adata.n_vars, obs["patient_id"].nunique())
    return render_report(
        "alsnet omics simulate",
        [
            Section(
                "Simulated structure",
                text,
                figures=figs,
                tables=[
                    Table(subtypes.rename(columns={"count": "samples"}), "Samples per subtype"),
                    Table(design, "Samples per site, platform and tissue"),
                ],
            )
        ],
        out_path,
    )
