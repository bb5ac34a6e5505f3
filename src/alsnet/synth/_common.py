"""Small shared helpers of the synthetic generator: array aliases, time units, draws."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

__all__ = [
    "DAYS_PER_MONTH",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "choice_by_rows",
    "copula_choice",
    "months_to_days",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Days per month (365.25 / 12), the convention of ENCALS/TRICALS code.
DAYS_PER_MONTH = 365.25 / 12.0


def months_to_days(months: FloatArray) -> IntArray:
    """Round a time in months since onset to whole days since onset."""
    return np.round(np.asarray(months, dtype=np.float64) * DAYS_PER_MONTH).astype(np.int64)


def copula_choice(
    probs: Sequence[float], score: FloatArray, rho: float, rng: np.random.Generator
) -> IntArray:
    """Draw categories with fixed marginal ``probs``, ordered by a latent ``score``.

    A Gaussian copula: ``latent = rho * score + sqrt(1 - rho**2) * N(0, 1)``; the
    category is found by comparing ``Phi(latent)`` with the cumulative ``probs``.
    With a standard-normal ``score`` the marginal distribution is exactly ``probs``;
    a high score favours the *first* categories.

    Parameters
    ----------
    probs : sequence of float
        Category probabilities (normalised here).
    score : ndarray of float, shape (n,)
        Standardised latent score per row.
    rho : float
        Correlation between the score and the latent variable, in [-1, 1].
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    ndarray of int, shape (n,)
        Category index per row.
    """
    p = np.asarray(probs, dtype=np.float64)
    cum = np.cumsum(p / p.sum())
    latent = rho * score + np.sqrt(1.0 - rho**2) * rng.standard_normal(score.shape[0])
    u = 1.0 - ndtr(latent)
    return np.minimum(np.searchsorted(cum, u, side="right"), p.size - 1).astype(np.int64)


def choice_by_rows(probs: FloatArray, rng: np.random.Generator) -> IntArray:
    """Draw one category per row of a (n, k) probability matrix (rows normalised here)."""
    p = probs / probs.sum(axis=1, keepdims=True)
    cum = np.cumsum(p, axis=1)
    u = rng.random(p.shape[0])[:, None]
    return np.minimum((u > cum).sum(axis=1), p.shape[1] - 1).astype(np.int64)
