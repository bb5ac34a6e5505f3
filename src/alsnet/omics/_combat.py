"""ComBat batch correction (parametric empirical Bayes, Johnson, Li & Rabinovic 2007).

A scikit-learn-style transformer that is fitted on training data and then applied, frozen, to
new samples of the batches it has seen. With ``ref_batch`` the reference batch defines the
location and scale (as in ``sva::ComBat(ref.batch=)``) and is returned unchanged.

Model, per gene ``g``, sample ``j`` in batch ``i`` (standardised data ``z``)::

    z_ijg = (y_ijg - alpha_g) / sigma_g,   z_ijg ~ N(gamma_ig, delta_ig)
    gamma_ig ~ N(gamma_bar_i, tau2_i),     delta_ig ~ InvGamma(lambda_i, theta_i)

The posterior means ``gamma*`` and ``delta*`` are found by the fixed-point iteration of the
paper; the adjusted data are ``sigma_g (z - gamma*) / sqrt(delta*) + alpha_g``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from alsnet.exceptions import ConvergenceError, DataValidationError, Problem

__all__ = ["ComBat"]

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]


class ComBat(TransformerMixin, BaseEstimator):
    """Parametric empirical-Bayes ComBat on log-scale data (e.g. VST values).

    Parameters
    ----------
    ref_batch : str or None, default None
        Reference batch: its data are left unchanged and the other batches are mapped onto
        it. Without a reference, batches are mapped onto the sample-size-weighted mean.
    tol : float, default 1e-4
        Convergence tolerance of the fixed-point iteration (relative change, as in sva).
    max_iter : int, default 1000
        Maximum number of fixed-point iterations.

    Attributes
    ----------
    batches_ : ndarray of str
        Batch labels seen in ``fit`` (sorted).
    grand_mean_ : ndarray, shape (n_genes,)
        ``alpha_g``: the reference location.
    var_pooled_ : ndarray, shape (n_genes,)
        ``sigma_g**2``: the pooled (or reference-batch) residual variance.
    gamma_star_, delta_star_ : ndarray, shape (n_batches, n_genes)
        Posterior batch location and scale (on the standardised scale).
    gamma_hat_, delta_hat_ : ndarray, shape (n_batches, n_genes)
        Per-batch sample estimates before shrinkage.
    n_iter_ : int
        Fixed-point iterations used.
    n_features_in_ : int

    Notes
    -----
    Genes with zero pooled variance are passed through unchanged. Each batch needs at least
    two samples. Covariates (a design besides batch) are not supported in this version.

    References
    ----------
    Johnson WE, Li C, Rabinovic A. Adjusting batch effects in microarray expression data
    using empirical Bayes methods. Biostatistics 2007;8:118-127.
    """

    def __init__(
        self, *, ref_batch: str | None = None, tol: float = 1e-4, max_iter: int = 1000
    ) -> None:
        self.ref_batch = ref_batch
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X: Any, batch: Any) -> ComBat:
        """Estimate batch locations and scales from training data.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_genes)
            Log-scale expression (VST values).
        batch : array-like of str, shape (n_samples,)
            Batch label of each sample.
        """
        y = _as_matrix(X)
        b = np.asarray(batch).astype(str)
        if b.shape != (y.shape[0],):
            raise ValueError("batch must have one label per sample (row of X)")
        levels, codes, counts = np.unique(b, return_inverse=True, return_counts=True)
        small = levels[counts < 2]
        if small.size:
            raise DataValidationError(
                [
                    Problem(
                        "batch",
                        None,
                        None,
                        str(s),
                        "a batch needs at least 2 samples for "
                        "ComBat; merge it with a similar batch or drop it",
                    )
                    for s in small
                ]
            )
        if levels.size < 2:
            logger.info("ComBat: only one batch; the transform is the identity")
        ref: int | None = None
        if self.ref_batch is not None:
            hits = np.flatnonzero(levels == str(self.ref_batch))
            if hits.size == 0:
                raise DataValidationError(
                    [
                        Problem(
                            "batch",
                            None,
                            None,
                            str(self.ref_batch),
                            "reference batch not found among the batches",
                        )
                    ]
                )
            ref = int(hits[0])
        onehot = np.zeros((levels.size, y.shape[0]))
        onehot[codes, np.arange(y.shape[0])] = 1.0
        n_b = counts.astype(np.float64)
        means = (onehot @ y) / n_b[:, None]  # B_hat: batch means, shape (n_batches, n_genes)
        resid = y - means[codes]
        if ref is None:
            grand = (n_b / n_b.sum()) @ means
            var_pooled = (resid**2).mean(axis=0)
        else:
            grand = means[ref]
            var_pooled = (resid[codes == ref] ** 2).mean(axis=0)
        constant = var_pooled <= 0
        sd = np.sqrt(np.where(constant, 1.0, var_pooled))
        z = (y - grand) / sd
        z[:, constant] = 0.0
        s1 = onehot @ z
        s2 = onehot @ z**2
        gamma_hat = s1 / n_b[:, None]
        delta_hat = (s2 - n_b[:, None] * gamma_hat**2) / (n_b[:, None] - 1.0)
        gamma_star, delta_star, n_iter = _eb_posterior(
            gamma_hat,
            delta_hat,
            n_b,
            s1,
            s2,
            tol=self.tol,
            max_iter=self.max_iter,
            skip=constant,
        )
        if ref is not None:
            gamma_star[ref] = 0.0
            delta_star[ref] = 1.0
        gamma_star[:, constant] = 0.0
        delta_star[:, constant] = 1.0
        self.batches_ = levels
        self.grand_mean_ = grand
        self.var_pooled_ = var_pooled
        self.gamma_hat_ = gamma_hat
        self.delta_hat_ = delta_hat
        self.gamma_star_ = gamma_star
        self.delta_star_ = delta_star
        self.n_iter_ = n_iter
        self.n_features_in_ = y.shape[1]
        return self

    def transform(self, X: Any, batch: Any) -> FloatArray:
        """Adjust samples of known batches with the frozen estimates.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_genes)
            Log-scale expression on the training scale.
        batch : array-like of str, shape (n_samples,)
            Batch labels; every label must have been seen in ``fit``.

        Returns
        -------
        ndarray, shape (n_samples, n_genes)
        """
        check_is_fitted(self, "gamma_star_")
        y = _as_matrix(X)
        if y.shape[1] != self.n_features_in_:
            raise DataValidationError(
                [
                    Problem(
                        "X",
                        None,
                        None,
                        str(y.shape),
                        f"expected {self.n_features_in_} genes, as in training",
                    )
                ]
            )
        b = np.asarray(batch).astype(str)
        if b.shape != (y.shape[0],):
            raise ValueError("batch must have one label per sample (row of X)")
        idx = np.searchsorted(self.batches_, b)
        idx = np.clip(idx, 0, self.batches_.size - 1)
        unknown = self.batches_[idx] != b
        if unknown.any():
            raise DataValidationError(
                [
                    Problem(
                        "batch",
                        None,
                        None,
                        str(s),
                        "batch not seen in training; ComBat "
                        "cannot correct it (refit with this batch in the training data)",
                    )
                    for s in np.unique(b[unknown])[:10]
                ]
            )
        sd = np.sqrt(np.where(self.var_pooled_ <= 0, 1.0, self.var_pooled_))
        z = (y - self.grand_mean_) / sd
        adj = (z - self.gamma_star_[idx]) / np.sqrt(self.delta_star_[idx])
        out = adj * sd + self.grand_mean_
        constant = self.var_pooled_ <= 0
        out[:, constant] = y[:, constant]
        if self.ref_batch is not None:
            is_ref = b == str(self.ref_batch)
            out[is_ref] = y[is_ref]
        return np.asarray(out, dtype=np.float64)

    def fit_transform(self, X: Any, batch: Any = None, **fit_params: Any) -> FloatArray:
        """``fit(X, batch).transform(X, batch)``."""
        return self.fit(X, batch).transform(X, batch)


def _as_matrix(X: Any) -> FloatArray:
    arr = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    if arr.ndim != 2 or not np.isfinite(arr).all():
        raise DataValidationError(
            [Problem("X", None, None, None, "expected a finite 2-D samples x genes matrix")]
        )
    return arr


def _eb_posterior(
    gamma_hat: FloatArray,
    delta_hat: FloatArray,
    n_b: FloatArray,
    s1: FloatArray,
    s2: FloatArray,
    *,
    tol: float,
    max_iter: int,
    skip: npt.NDArray[np.bool_],
) -> tuple[FloatArray, FloatArray, int]:
    """Empirical-Bayes posterior of batch location/scale, all batches and genes at once.

    Priors by the method of moments over genes (``skip`` genes excluded): gamma ~ N(g_bar, t2),
    delta ~ InvGamma(a, b) with ``a = (2 s2 + m^2) / s2``, ``b = (m s2 + m^3) / s2``.
    The sum of squares ``sum_j (z_j - g)^2`` is ``S2 - 2 g S1 + n g^2``.
    """
    use = ~skip
    g_bar = gamma_hat[:, use].mean(axis=1)
    t2 = gamma_hat[:, use].var(axis=1, ddof=1)
    m = delta_hat[:, use].mean(axis=1)
    v = delta_hat[:, use].var(axis=1, ddof=1)
    a = (2.0 * v + m**2) / v
    b = (m * v + m**3) / v
    n = n_b[:, None]
    g_old = gamma_hat.copy()
    d_old = delta_hat.copy()
    for it in range(1, max_iter + 1):
        g_new = (t2[:, None] * n * gamma_hat + d_old * g_bar[:, None]) / (t2[:, None] * n + d_old)
        sum2 = s2 - 2.0 * g_new * s1 + n * g_new**2
        d_new = (0.5 * sum2 + b[:, None]) / (n / 2.0 + a[:, None] - 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.nanmax(
                np.concatenate(
                    [
                        np.abs(g_new - g_old)[:, use] / np.abs(g_old[:, use]),
                        np.abs(d_new - d_old)[:, use] / np.abs(d_old[:, use]),
                    ]
                )
            )
        g_old, d_old = g_new, d_new
        if change < tol:
            return g_new, d_new, it
    raise ConvergenceError(
        f"ComBat's empirical-Bayes iteration did not converge in {max_iter} iterations. "
        "Check: 1) the data are on a log scale (VST), 2) no batch is almost constant, "
        "3) raise max_iter"
    )
