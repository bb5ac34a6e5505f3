"""Per-sample quality control of raw count matrices: library size, detected genes, correlation.

Metrics (one row per sample):

``library_size``
    Total counts (reads assigned to genes).
``detected_genes``
    Genes with at least one count.
``median_correlation``
    Median Pearson correlation of the sample's log-CPM profile, ``log2(CPM + 1)``, with every
    other sample, over genes detected in at least half of the samples. A degraded or swapped
    sample correlates poorly with the rest.

Outlier rule (documented thresholds): a metric is flagged when it lies **below** the median
of all samples by more than ``max(N_MADS * MAD, floor)``, where MAD is the median absolute
deviation x 1.4826 (a robust SD) and the floor (:data:`MIN_DROP`) keeps statistically
detectable but practically irrelevant deviations (homogeneous data have a tiny MAD) from
being flagged. Metrics: ``log10(library_size)`` (floor 0.3 = two-fold fewer reads),
``log10(detected_genes)`` (floor 0.05 = 11 % fewer genes) and ``median_correlation`` (floor
0.05 in Pearson r). Only low values are a quality problem. A sample is an outlier when any
metric is flagged. With fewer than :data:`MIN_SAMPLES_FOR_FLAGS` samples the medians are too
noisy and nothing is flagged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alsnet.omics._counts import as_count_matrix

if TYPE_CHECKING:
    import anndata

__all__ = ["MIN_DROP", "MIN_SAMPLES_FOR_FLAGS", "N_MADS", "log_cpm", "qc_metrics", "sample_qc"]

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]

#: Flag a metric more than this many scaled MADs below the median (3 ~ 3 robust SDs: under
#: normality about 0.13 % of good samples are flagged per metric).
N_MADS = 3.0
#: Fewer samples than this: no outlier flags (medians and MADs too unstable).
MIN_SAMPLES_FOR_FLAGS = 5
#: Smallest drop below the median that is flagged, per metric (log10 reads, log10 genes, r).
MIN_DROP = {"low_library_size": 0.3, "low_detected_genes": 0.05, "low_correlation": 0.05}
_MAD_SCALE = 1.4826


def log_cpm(counts: Any) -> FloatArray:
    """``log2(counts per million + 1)`` of a samples x genes count matrix."""
    x = as_count_matrix(counts)
    lib = x.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        cpm = np.where(lib > 0, x / lib * 1e6, 0.0)
    return np.log2(cpm + 1.0)


def _median_correlation(lcpm: FloatArray, detected: npt.NDArray[np.bool_]) -> FloatArray:
    n = lcpm.shape[0]
    if n < 2:
        return np.full(n, np.nan)
    keep = detected.mean(axis=0) >= 0.5
    z = lcpm[:, keep]
    z = z - z.mean(axis=1, keepdims=True)
    norm = np.sqrt((z * z).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        z = z / norm[:, None]
    corr = z @ z.T
    np.fill_diagonal(corr, np.nan)
    out = np.full(n, np.nan)
    ok = ~np.isnan(corr).all(axis=1)  # constant profiles have no correlation
    if ok.any():
        out[ok] = np.nanmedian(corr[ok], axis=1)
    return out


def qc_metrics(counts: Any) -> pd.DataFrame:
    """Library size, detected genes and median sample-sample correlation (no flags).

    Parameters
    ----------
    counts : array-like, shape (n_samples, n_genes)
        Raw counts.

    Returns
    -------
    DataFrame
        Columns ``library_size`` (reads), ``detected_genes`` (genes with count > 0) and
        ``median_correlation`` (Pearson, log-CPM; see the module docstring).
    """
    x = as_count_matrix(counts)
    detected = x > 0
    return pd.DataFrame(
        {
            "library_size": x.sum(axis=1).astype(np.int64),
            "detected_genes": detected.sum(axis=1).astype(np.int64),
            "median_correlation": _median_correlation(log_cpm(x), detected),
        }
    )


def _low_outliers(
    v: FloatArray, n_mads: float, floor: float
) -> tuple[npt.NDArray[np.bool_], float]:
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return np.zeros(v.shape, dtype=bool), -np.inf
    med = float(np.median(finite))
    mad = float(np.median(np.abs(finite - med))) * _MAD_SCALE
    lower = med - max(n_mads * mad, floor)
    return np.asarray(v < lower), lower


def sample_qc(
    adata: anndata.AnnData,
    *,
    layer: str | None = None,
    n_mads: float = N_MADS,
    key_added: str = "qc",
) -> pd.DataFrame:
    """Per-sample QC metrics with MAD-based low-outlier flags.

    Parameters
    ----------
    adata : AnnData
        Raw counts in ``X`` (or ``layers[layer]``), samples x genes.
    layer : str, optional
        Layer holding the counts.
    n_mads : float
        Flag values more than ``n_mads`` scaled MADs (and at least :data:`MIN_DROP`) below
        the median (default :data:`N_MADS`).
    key_added : str
        Output: ``obs[key_added + "_outlier"]`` (bool) and ``uns[key_added]`` with
        ``params`` and the ``thresholds`` used.

    Returns
    -------
    DataFrame
        Index = ``obs_names``; columns ``library_size``, ``detected_genes``,
        ``median_correlation``, ``low_library_size``, ``low_detected_genes``,
        ``low_correlation`` and ``outlier``.

    Examples
    --------
    >>> from alsnet.omics import simulate_transcriptome
    >>> adata = simulate_transcriptome(20, 200, seed=0)
    >>> qc = sample_qc(adata)
    >>> list(qc.columns[:3])
    ['library_size', 'detected_genes', 'median_correlation']
    """
    x = adata.X if layer is None else adata.layers[layer]
    df = qc_metrics(x)
    df.index = adata.obs_names.copy()
    checks = {
        "low_library_size": np.log10(np.maximum(df["library_size"].to_numpy(np.float64), 1.0)),
        "low_detected_genes": np.log10(np.maximum(df["detected_genes"].to_numpy(np.float64), 1.0)),
        "low_correlation": df["median_correlation"].to_numpy(np.float64),
    }
    thresholds: dict[str, float] = {}
    for name, values in checks.items():
        if adata.n_obs < MIN_SAMPLES_FOR_FLAGS:
            df[name] = False
            thresholds[name] = -np.inf
            continue
        flags, lower = _low_outliers(values, n_mads, MIN_DROP[name])
        df[name] = flags
        thresholds[name] = lower if name == "low_correlation" else 10**lower
    df["outlier"] = df[list(checks)].any(axis=1)
    adata.obs[f"{key_added}_outlier"] = df["outlier"].to_numpy()
    adata.uns[key_added] = {
        "params": {"layer": "X" if layer is None else layer, "n_mads": n_mads},
        "thresholds": {k: float(v) for k, v in thresholds.items()},
    }
    logger.info("QC: %d of %d samples flagged as outliers", int(df["outlier"].sum()), len(df))
    return df
