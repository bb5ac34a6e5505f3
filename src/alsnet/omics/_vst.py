"""Frozen DESeq2-style normalisation: median-of-ratios size factors and the parametric VST.

Training fixes the gene-wise log geometric means (for the size factors of any later sample)
and the dispersion trend ``alpha(mu) = a0 + a1 / mu``; the transform of a new sample depends
on that sample and the frozen state only (no leakage between samples). The VST is DESeq2's
closed form for the parametric trend (Anders & Huber 2010; Love et al. 2014)::

    vst(q) = log2((1 + a1 + 2 a0 q + 2 sqrt(a0 q (1 + a1 + a0 q))) / (4 a0))

where ``q`` is a normalised count.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from alsnet.exceptions import ConvergenceError, DataValidationError, Problem
from alsnet.omics._counts import as_count_matrix

__all__ = [
    "VarianceStabilizer",
    "fit_dispersion_trend",
    "median_of_ratios",
    "vst_formula",
]

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]


def vst_formula(normed: FloatArray, a0: float, a1: float) -> FloatArray:
    """DESeq2's parametric variance-stabilising transform of normalised counts (log2 scale)."""
    q = np.asarray(normed, dtype=np.float64)
    return np.log2(
        (1.0 + a1 + 2.0 * a0 * q + 2.0 * np.sqrt(a0 * q * (1.0 + a1 + a0 * q))) / (4.0 * a0)
    )


def median_of_ratios(
    counts: FloatArray, logmeans: FloatArray, use: npt.NDArray[np.bool_]
) -> FloatArray:
    """Size factors of ``counts`` against frozen log geometric means (DESeq2).

    ``s_i = exp(median_g(log k_ig - logmeans_g))`` over genes ``use`` with ``k_ig > 0``.

    Raises
    ------
    DataValidationError
        If a sample has no positive count among the reference genes.
    """
    sub = counts[:, use]
    with np.errstate(divide="ignore"):
        ratios = np.log(sub) - logmeans[use]
    ratios[sub <= 0] = np.nan
    empty = np.isnan(ratios).all(axis=1)
    if empty.any():
        raise DataValidationError(
            [
                Problem("counts", int(i) + 1, None, None, "sample has no counts on reference genes")
                for i in np.flatnonzero(empty)[:10]
            ],
            truncated=max(0, int(empty.sum()) - 10),
        )
    return np.exp(_row_nanmedian(ratios))


def _row_nanmedian(a: FloatArray) -> FloatArray:
    """Row medians ignoring NaN, equal to ``np.nanmedian(a, axis=1)`` but vectorised
    (``nanmedian`` falls back to a per-row loop on wide arrays); ``a`` is reordered in place.
    """
    valid = a.shape[1] - np.isnan(a).sum(axis=1)
    rows = np.arange(a.shape[0])
    if (valid == a.shape[1]).all():
        k = a.shape[1] // 2
        kth = (k,) if a.shape[1] % 2 else (k - 1, k)
        a.partition(kth, axis=1)
        return np.asarray((a[:, kth[0]] + a[:, kth[-1]]) / 2.0, dtype=np.float64)
    a.sort(axis=1)  # NaN sort last
    lo = a[rows, np.maximum(valid - 1, 0) // 2]
    hi = a[rows, valid // 2]
    return np.asarray((lo + hi) / 2.0, dtype=np.float64)


def _moments_dispersions(
    normed: FloatArray, size_factors: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Gene-wise method-of-moments dispersions (DESeq2 ``momentsDispEstimate``) and means."""
    m = normed.mean(axis=0)
    v = normed.var(axis=0, ddof=1)
    xim = float(np.mean(1.0 / size_factors))
    with np.errstate(divide="ignore", invalid="ignore"):
        disp = (v - xim * m) / m**2
    return disp, m


def fit_dispersion_trend(
    dispersions: FloatArray, means: FloatArray, *, min_disp: float = 1e-8, max_iter: int = 20
) -> tuple[float, float]:
    """Fit ``alpha(mu) = a0 + a1 / mu`` by a gamma-family GLM with outlier removal (DESeq2).

    Parameters
    ----------
    dispersions, means : ndarray, shape (n_genes,)
        Gene-wise dispersion estimates and mean normalised counts.
    min_disp : float
        Genes with dispersion below ``100 * min_disp`` are not used (as in DESeq2).
    max_iter : int
        Maximum number of outer iterations (refits after removing outlying genes).

    Returns
    -------
    (a0, a1) : tuple of float

    Raises
    ------
    ConvergenceError
        If a coefficient becomes non-positive.
    """
    ok = np.isfinite(dispersions) & (means > 0) & (dispersions >= 100 * min_disp)
    d = dispersions[ok]
    x = 1.0 / means[ok]
    keep = np.ones(d.size, dtype=bool)
    coef = np.array([0.1, 0.1])
    for _ in range(max_iter):
        old = coef.copy()
        coef = _gamma_identity_glm(x[keep], d[keep], start=np.array([1.0, 1.0]))
        if (coef <= 1e-10).any():
            raise ConvergenceError(
                "the dispersion trend fit gave a non-positive coefficient; check that the "
                "counts are raw counts, that there are enough genes (>= 50) and samples (>= 3)"
            )
        ratio = d / (coef[0] + coef[1] * x)
        keep = (ratio >= 1e-4) & (ratio < 15)
        if np.sum(np.log(coef / old) ** 2) < 1e-6:
            break
    return float(coef[0]), float(coef[1])


def _gamma_identity_glm(
    x: FloatArray, y: FloatArray, *, start: FloatArray, tol: float = 1e-10, max_iter: int = 100
) -> FloatArray:
    """IRLS of a gamma GLM with identity link ``E[y] = b0 + b1 x`` (weights ``1 / mu**2``)."""
    design = np.column_stack([np.ones_like(x), x])
    b = start
    for _ in range(max_iter):
        mu = design @ b
        mu = np.maximum(mu, 1e-12)
        w = 1.0 / mu**2
        xtw = design.T * w
        b_new = np.linalg.solve(xtw @ design, xtw @ y)
        if np.max(np.abs(b_new - b) / np.maximum(np.abs(b), 1e-12)) < tol:
            return np.asarray(b_new, dtype=np.float64)
        b = np.asarray(b_new, dtype=np.float64)
    return np.asarray(b, dtype=np.float64)


class VarianceStabilizer(TransformerMixin, BaseEstimator):
    """Frozen median-of-ratios normalisation + parametric VST (scikit-learn transformer).

    Parameters
    ----------
    backend : {"native", "pydeseq2"}, default "native"
        Who fits the dispersion trend. ``"native"`` uses method-of-moments gene-wise
        dispersions and DESeq2's gamma-GLM trend fit with outlier removal (vectorised, well
        under a second for 500 x 20,000). ``"pydeseq2"`` runs pydeseq2's ``vst_fit``
        (maximum-likelihood gene-wise dispersions, intercept design; needs the ``omics``
        extra; about a minute for 200 x 2,000 on one core here). The transform is the same
        closed form either way; the two trends differ mostly at low counts.
    min_disp : float, default 1e-8
        Minimum dispersion (DESeq2's ``minDisp``).

    Attributes
    ----------
    logmeans_ : ndarray, shape (n_genes,)
        Training log geometric means (natural log; ``-inf`` for genes with a zero).
    ref_genes_ : ndarray of bool, shape (n_genes,)
        Genes used for size factors (finite log geometric mean).
    a0_, a1_ : float
        Dispersion trend ``a0 + a1 / mean``.
    trend_type_ : {"parametric", "mean"}
        "mean" (``a1_ = 0``) when the parametric fit failed, as DESeq2 does (tiny data).
    size_factors_ : ndarray, shape (n_samples,)
        Size factors of the training samples.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Gene ids, if ``X`` was a DataFrame.
    """

    def __init__(
        self, *, backend: Literal["native", "pydeseq2"] = "native", min_disp: float = 1e-8
    ) -> None:
        self.backend = backend
        self.min_disp = min_disp

    def fit(self, X: Any, y: Any = None) -> VarianceStabilizer:
        """Learn the geometric means and the dispersion trend from training counts.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_genes)
            Raw counts (non-negative whole numbers).
        y : ignored
        """
        if self.backend not in ("pydeseq2", "native"):
            raise ValueError(f"backend must be 'pydeseq2' or 'native', not {self.backend!r}")
        self._set_features(X)
        counts = as_count_matrix(X)
        if counts.shape[0] < 3:
            raise DataValidationError(
                [Problem("counts", None, None, str(counts.shape[0]), "need at least 3 samples")]
            )
        with np.errstate(divide="ignore"):
            logmeans = np.log(counts).mean(axis=0)
        ref = np.isfinite(logmeans)
        if not ref.any():
            raise DataValidationError(
                [
                    Problem(
                        "counts",
                        None,
                        None,
                        None,
                        "every gene has a zero count in some "
                        "sample: median-of-ratios size factors are undefined",
                    )
                ]
            )
        self.logmeans_ = logmeans
        self.ref_genes_ = ref
        self.size_factors_ = median_of_ratios(counts, logmeans, ref)
        if self.backend == "native":
            normed = counts / self.size_factors_[:, None]
            disp, m = _moments_dispersions(normed, self.size_factors_)
            try:
                self.a0_, self.a1_ = fit_dispersion_trend(disp, m, min_disp=self.min_disp)
                self.trend_type_ = "parametric"
            except (ConvergenceError, np.linalg.LinAlgError):
                # As DESeq2: fall back to a constant (mean) dispersion.
                good = disp[np.isfinite(disp) & (disp > 0)]
                self.a0_ = float(max(good.mean(), self.min_disp)) if good.size else self.min_disp
                self.a1_ = 0.0
                self.trend_type_ = "mean"
                logger.warning(
                    "dispersion trend fit failed; using the mean dispersion %.3g", self.a0_
                )
        else:
            self.a0_, self.a1_ = _pydeseq2_trend(counts)
            self.trend_type_ = "parametric"
        logger.debug("VST trend a0=%.4g a1=%.4g (%s)", self.a0_, self.a1_, self.backend)
        return self

    def _set_features(self, X: Any) -> None:
        self.n_features_in_ = int(np.shape(X)[1])
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _check_features(self, X: Any) -> None:
        check_is_fitted(self, "logmeans_")
        if np.ndim(X) != 2 or np.shape(X)[1] != self.n_features_in_:
            raise DataValidationError(
                [
                    Problem(
                        "counts",
                        None,
                        None,
                        str(np.shape(X)),
                        f"expected {self.n_features_in_} genes, as in training",
                    )
                ]
            )
        names = getattr(self, "feature_names_in_", None)
        if (
            names is not None
            and isinstance(X, pd.DataFrame)
            and not np.array_equal(np.asarray(X.columns, dtype=object), names)
        ):
            missing = sorted(set(names) - set(X.columns))[:10]
            raise DataValidationError(
                [
                    Problem(
                        "counts",
                        None,
                        None,
                        ", ".join(map(str, missing)) or None,
                        "gene ids differ from training (missing or reordered); "
                        "reindex the counts to the training genes",
                    )
                ]
            )

    def size_factors(self, X: Any) -> FloatArray:
        """Size factors of new samples against the training geometric means."""
        self._check_features(X)
        return median_of_ratios(as_count_matrix(X), self.logmeans_, self.ref_genes_)

    def transform(self, X: Any) -> FloatArray:
        """Variance-stabilised values (log2 scale), shape (n_samples, n_genes)."""
        self._check_features(X)
        counts = as_count_matrix(X)
        sf = median_of_ratios(counts, self.logmeans_, self.ref_genes_)
        return vst_formula(counts / sf[:, None], self.a0_, self.a1_)


def _pydeseq2_trend(counts: FloatArray) -> tuple[float, float]:
    """Dispersion trend coefficients fitted by pydeseq2's ``vst_fit`` (intercept design)."""
    try:
        from pydeseq2.dds import DeseqDataSet
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "backend='pydeseq2' needs pydeseq2: pip install 'alsnet[omics]' "
            "(or use backend='native')"
        ) from exc
    n, g = counts.shape
    df = pd.DataFrame(
        counts.astype(np.int64),
        index=[f"s{i}" for i in range(n)],
        columns=[f"g{j}" for j in range(g)],
    )
    meta = pd.DataFrame({"group": ["a"] * n}, index=df.index)
    dds = DeseqDataSet(
        counts=df, metadata=meta, design="~1", fit_type="parametric", quiet=True, n_cpus=1
    )
    dds.vst_fit(use_design=False)
    coeffs = dds.uns["vst_trend_coeffs"]
    return float(coeffs["a0"]), float(coeffs["a1"])
