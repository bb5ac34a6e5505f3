"""Preprocessing over AnnData: frozen VST normalisation and ComBat batch correction.

Each function fits a transformer on ``adata``, writes its output under ``key_added``
(``layers[key_added]`` and ``uns[key_added]["params"]``) and returns the fitted transformer,
which applies the same frozen state to new samples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from alsnet.omics._combat import ComBat
from alsnet.omics._vst import (
    VarianceStabilizer,
    fit_dispersion_trend,
    median_of_ratios,
    vst_formula,
)

if TYPE_CHECKING:
    import anndata

__all__ = [
    "ComBat",
    "VarianceStabilizer",
    "combat",
    "fit_dispersion_trend",
    "median_of_ratios",
    "vst",
    "vst_formula",
]


def _matrix(adata: anndata.AnnData, layer: str | None) -> Any:
    return adata.X if layer is None else adata.layers[layer]


def vst(
    adata: anndata.AnnData,
    *,
    layer: str | None = None,
    backend: Literal["native", "pydeseq2"] = "native",
    key_added: str = "vst",
) -> VarianceStabilizer:
    """Median-of-ratios normalisation and parametric VST, fitted on ``adata``.

    Parameters
    ----------
    adata : AnnData
        Raw counts in ``X`` (or ``layers[layer]``), samples x genes.
    layer : str, optional
        Layer holding the counts; ``None`` = ``X``.
    backend : {"native", "pydeseq2"}
        Dispersion-trend fitter (see :class:`VarianceStabilizer`).
    key_added : str
        Output: ``layers[key_added]`` (log2 scale), ``obs[key_added + "_size_factor"]`` and
        ``uns[key_added]`` with ``params``, ``a0``, ``a1``.

    Returns
    -------
    VarianceStabilizer
        Fitted; ``.transform(new_counts)`` applies the frozen normalisation to new samples.

    Examples
    --------
    >>> from alsnet.omics import simulate_transcriptome
    >>> adata = simulate_transcriptome(20, 100, seed=0)
    >>> model = vst(adata)
    >>> adata.layers["vst"].shape == adata.shape
    True
    """
    model = VarianceStabilizer(backend=backend)
    x = _matrix(adata, layer)
    model.fit(x)
    adata.layers[key_added] = vst_formula(
        np.asarray(x, dtype=np.float64) / model.size_factors_[:, None], model.a0_, model.a1_
    )
    adata.obs[f"{key_added}_size_factor"] = model.size_factors_
    adata.uns[key_added] = {
        "params": {"layer": "X" if layer is None else layer, "backend": backend},
        "a0": model.a0_,
        "a1": model.a1_,
    }
    return model


def combat(
    adata: anndata.AnnData,
    *,
    batch_key: str,
    layer: str | None = "vst",
    ref_batch: str | None = None,
    key_added: str = "combat",
) -> ComBat:
    """ComBat (parametric empirical Bayes) of log-scale data, fitted on ``adata``.

    Parameters
    ----------
    adata : AnnData
        Log-scale data in ``layers[layer]`` (default the VST layer) or ``X``.
    batch_key : str
        Column of ``obs`` with the batch (site, platform, ...).
    layer : str or None
        Input layer; ``None`` = ``X``.
    ref_batch : str, optional
        Reference batch (left unchanged; the others are mapped onto it).
    key_added : str
        Output: ``layers[key_added]`` and ``uns[key_added]["params"]``.

    Returns
    -------
    ComBat
        Fitted; ``.transform(new, batch)`` corrects new samples of the training batches.
    """
    model = ComBat(ref_batch=ref_batch)
    x = _matrix(adata, layer)
    batch = adata.obs[batch_key].astype(str).to_numpy()
    adata.layers[key_added] = model.fit(x, batch).transform(x, batch)
    adata.uns[key_added] = {
        "params": {
            "batch_key": batch_key,
            "layer": "X" if layer is None else layer,
            "ref_batch": "" if ref_batch is None else ref_batch,
        },
        "n_iter": model.n_iter_,
    }
    return model
