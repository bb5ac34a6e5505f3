"""FVC part of the joint twin model: linear mixed model on the ALSFRS-R time scale.

FVC % predicted falls with the fraction of function lost on the patient's own
ALSFRS-R sigmoid, ``F_i(t) = 1 - S(t; theta_i)`` (0 at onset, 1 when the total
reaches 0)::

    fvc_ij = a_i - b_i * F_i(t_ij) + e_ij,   e_ij ~ N(0, sigma_f^2),
    (a_i, b_i) ~ N(B_f^T x_i, Sigma_f),

so ``a`` is FVC at onset and ``b`` the FVC lost over the whole course. The
ALSFRS-R patient effects give the time scale, which couples the two outcomes
(fast ALSFRS-R progressors lose FVC fast) without extra parameters. Given
``theta`` the model is linear-Gaussian: the patient effects have an exact
Gaussian posterior and the population parameters are fitted by EM with
per-patient sufficient statistics (:func:`numpy.bincount`, no Python loop over
patients). ``theta`` is not known: the EM averages over posterior draws of it
(given ALSFRS-R), each weighted by its FVC marginal likelihood
(:func:`fvc_loglik`), so noise in the time scale does not attenuate ``b``.
Observed values are floored at 0 when predicting; the floor is not in the
likelihood, so data with many FVC values at 0 bias ``b`` down.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FvcFit",
    "FvcStats",
    "fit_fvc",
    "fvc_loglik",
    "fvc_loglik_nodes",
    "fvc_posterior",
    "fvc_predictive_moments",
    "fvc_stats",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FvcStats:
    """Per-patient sufficient statistics of the FVC visits (leading shape of ``n``).

    ``n`` visits; sums of ``F``, ``F^2``, ``y``, ``F y`` and ``y^2`` (``y`` = FVC %).
    Arrays may carry extra trailing axes (e.g. posterior draws of ``theta``).
    """

    n: np.ndarray
    sf: np.ndarray
    sff: np.ndarray
    sy: np.ndarray
    sfy: np.ndarray
    syy: np.ndarray


def fvc_stats(
    idx: np.ndarray, f: np.ndarray, y: np.ndarray, n_patients: int, *, sorted_idx: bool = False
) -> FvcStats:
    """Sufficient statistics from visit rows.

    Parameters
    ----------
    idx : ndarray of int, shape (r,)
        Patient index of each visit.
    f : ndarray, shape (r,) or (r, m)
        Fraction of function lost at the visit (per draw of ``theta`` if 2-D).
    y : ndarray, shape (r,)
        FVC % predicted.
    n_patients : int
        Number of patients.
    sorted_idx : bool, default False
        ``idx`` is non-decreasing (the per-patient sums are then set up without a sort).
    """

    member = None
    if f.ndim > 1:
        from scipy import sparse

        if sorted_idx:
            indptr = np.zeros(n_patients + 1, dtype=np.int64)
            np.cumsum(np.bincount(idx, minlength=n_patients), out=indptr[1:])
            member = sparse.csr_matrix(
                (np.ones(idx.size), np.arange(idx.size), indptr), shape=(n_patients, idx.size)
            )
        else:
            member = sparse.csr_matrix(
                (np.ones(idx.size), (idx, np.arange(idx.size))), shape=(n_patients, idx.size)
            )

    def s(v: np.ndarray) -> np.ndarray:
        if member is None:
            return np.bincount(idx, v, minlength=n_patients)
        return np.asarray(member @ v)

    yy = y if f.ndim == 1 else y[:, None]
    cnt = np.bincount(idx, minlength=n_patients).astype("float64")
    sy = np.bincount(idx, y, minlength=n_patients)
    syy = np.bincount(idx, y * y, minlength=n_patients)
    if f.ndim > 1:
        cnt, sy, syy = cnt[:, None], sy[:, None], syy[:, None]
    return FvcStats(cnt, s(f), s(f * f), sy, s(f * yy), syy)


def _prior_means(st: FvcStats, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prior means of ``a`` and ``b`` shaped to broadcast against the statistics."""
    extra = st.sf.ndim - 1
    return (
        mu[:, 0].reshape((-1,) + (1,) * extra),
        mu[:, 1].reshape((-1,) + (1,) * extra),
    )


def _normal_equations(
    st: FvcStats, mu: np.ndarray, prec: np.ndarray, sigma: float
) -> tuple[np.ndarray, ...]:
    """Posterior precision ``H = w Z'Z + P`` and ``r = w Z'y + P mu`` of ``(a, b)``.

    Returns ``h11, h12, h22, r1, r2`` shaped like the statistics (``w = 1 / sigma^2``,
    ``P`` the prior precision ``prec``).
    """
    w = 1.0 / sigma**2
    ma0, mb0 = _prior_means(st, mu)
    # Z = [1, -F]: Z'Z = [[n, -sF], [-sF, sFF]], Z'y = [sy, -sFy]
    h11 = w * st.n + prec[0, 0]
    h12 = -w * st.sf + prec[0, 1]
    h22 = w * st.sff + prec[1, 1]
    r1 = w * st.sy + prec[0, 0] * ma0 + prec[0, 1] * mb0
    r2 = -w * st.sfy + prec[0, 1] * ma0 + prec[1, 1] * mb0
    return h11, h12, h22, r1, r2


def fvc_posterior(
    st: FvcStats, mu: np.ndarray, cov: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact Gaussian posterior of (a, b) per patient (and per draw).

    Parameters
    ----------
    st : FvcStats
        Sufficient statistics, leading shape ``(n, ...)``.
    mu : ndarray, shape (n, 2)
        Prior means of (a, b).
    cov : ndarray, shape (2, 2)
        Prior covariance.
    sigma : float
        Residual SD (% predicted).

    Returns
    -------
    tuple of ndarray
        Posterior means ``ma, mb`` and covariance entries ``vaa, vab, vbb``,
        shaped like the statistics.
    """
    h11, h12, h22, r1, r2 = _normal_equations(st, mu, np.linalg.inv(cov), sigma)
    det = h11 * h22 - h12 * h12
    vaa, vab, vbb = h22 / det, -h12 / det, h11 / det
    return vaa * r1 + vab * r2, vab * r1 + vbb * r2, vaa, vab, vbb


def fvc_predictive_moments(
    st: FvcStats, mu: np.ndarray, cov: np.ndarray, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean and variance of a new FVC observation as polynomials in the kept fraction.

    Given the statistics (per patient and draw of ``theta``), a new observation
    ``a - b (1 - S) + e`` at kept fraction ``S`` has mean ``c0 + c1 S`` and
    variance ``v0 + v1 S + v2 S^2`` under the posterior of :func:`fvc_posterior`
    (``c0 = ma - mb``, ``c1 = mb``, ``v0 = vaa - 2 vab + vbb + sigma^2``,
    ``v1 = 2 (vab - vbb)``, ``v2 = vbb``), computed with fewer passes over memory.

    Returns
    -------
    tuple of ndarray
        ``c0, c1, v0, v1, v2`` (% predicted and its square), shaped like the statistics.
    """
    prec = np.linalg.inv(cov)
    w = 1.0 / sigma**2
    ma0, mb0 = _prior_means(st, mu)
    h11 = w * st.n + prec[0, 0]
    r1 = w * st.sy + prec[0, 0] * ma0 + prec[0, 1] * mb0
    h12 = st.sf * -w
    h12 += prec[0, 1]
    h22 = st.sff * w
    h22 += prec[1, 1]
    r2 = st.sfy * -w
    r2 += prec[0, 1] * ma0 + prec[1, 1] * mb0
    inv = h11 * h22
    inv -= h12 * h12
    np.reciprocal(inv, out=inv)  # 1 / det
    vbb = h11 * inv
    vab = np.multiply(h12, inv, out=h12)
    np.negative(vab, out=vab)
    vaa = np.multiply(h22, inv, out=h22)
    mb = vbb * r2
    mb += vab * r1
    ma = np.multiply(r2, vab, out=r2)
    ma += vaa * r1
    ma -= mb  # c0
    vaa -= 2.0 * vab  # v0
    vaa += vbb
    vaa += sigma**2
    vab -= vbb  # v1
    vab *= 2.0
    return ma, mb, vaa, vab, vbb


def fvc_loglik(st: FvcStats, mu: np.ndarray, cov: np.ndarray, sigma: float) -> np.ndarray:
    """Marginal log-likelihood of each patient's FVC visits, (a, b) integrated out.

    ``log N(y; Z mu, Z Sigma Z^T + sigma^2 I)`` from the sufficient statistics
    (0 for a patient without FVC); shaped like the statistics, so with a draw axis
    it weights draws of ``theta`` by how well their time scale fits the FVC.
    """
    prec = np.linalg.inv(cov)
    w = 1.0 / sigma**2
    ma0, mb0 = _prior_means(st, mu)
    h11, h12, h22, r1, r2 = _normal_equations(st, mu, prec, sigma)
    det = h11 * h22 - h12 * h12
    quad_r = (h22 * r1 * r1 - 2 * h12 * r1 * r2 + h11 * r2 * r2) / det  # r^T H^-1 r
    mpm = prec[0, 0] * ma0**2 + 2 * prec[0, 1] * ma0 * mb0 + prec[1, 1] * mb0**2
    quad = w * st.syy + mpm - quad_r
    logdet_cov = float(np.log(np.linalg.det(cov)))
    out = -0.5 * st.n * np.log(2 * np.pi * sigma**2) - 0.5 * (logdet_cov + np.log(det)) - 0.5 * quad
    return np.asarray(out)


def fvc_loglik_nodes(st: FvcStats, mu: np.ndarray, cov: np.ndarray, sigma: float) -> np.ndarray:
    """:func:`fvc_loglik` up to a constant per patient, for statistics with a draw axis.

    Only the terms that vary between draws (or quadrature nodes) of ``theta``, where
    ``n``, ``sy`` and ``syy`` have a singleton draw axis (as :func:`fvc_stats` returns
    them), so ``h11`` and ``r1`` are per patient. Eliminating ``a`` first,
    ``r^T H^-1 r = r1^2 / h11 + u^2 / s`` and ``log det H = log h11 + log s`` with
    ``e = h12 / h11``, ``s = h22 - e h12`` and ``u = r2 - e r1``; the result is
    ``(u^2 / s - log s) / 2``. Enough to weight the draws of each patient, with few
    passes over the (patients, draws) arrays.
    """
    prec = np.linalg.inv(cov)
    w = 1.0 / sigma**2
    ma0, mb0 = _prior_means(st, mu)
    h11 = w * st.n + prec[0, 0]  # (n, 1)
    r1 = w * st.sy + prec[0, 0] * ma0 + prec[0, 1] * mb0  # (n, 1)
    h12 = st.sf * -w
    h12 += prec[0, 1]
    e = h12 / h11
    schur = st.sff * w
    schur += prec[1, 1]
    h12 *= e
    schur -= h12
    u = st.sfy * -w
    u += prec[0, 1] * ma0 + prec[1, 1] * mb0
    e *= r1
    u -= e
    u *= u
    u /= schur
    u -= np.log(schur, out=schur)
    u *= 0.5
    return u


@dataclass(frozen=True)
class FvcFit:
    """Population parameters of the FVC part.

    Attributes
    ----------
    coef : ndarray, shape (p, 2)
        Regression of (a, b) (% predicted) on the design.
    cov : ndarray, shape (2, 2)
        Between-patient covariance of (a, b).
    sigma : float
        Residual SD of an observed FVC, % predicted.
    n_patients, n_obs, n_iter : int
        Patients and visits used; EM iterations.
    """

    coef: np.ndarray
    cov: np.ndarray
    sigma: float
    n_patients: int
    n_obs: int
    n_iter: int


def fit_fvc(
    idx: np.ndarray,
    f: np.ndarray,
    y: np.ndarray,
    x: np.ndarray,
    *,
    max_iter: int = 1000,
    tol: float = 1e-7,
) -> FvcFit:
    """Fit the FVC mixed model by EM.

    Parameters
    ----------
    idx : ndarray of int, shape (r,)
        Patient index (rows of ``x``) of each visit; every patient should have one.
    f : ndarray, shape (r,) or (r, m)
        Fraction of function lost at the visit (from the ALSFRS-R part); with
        ``m`` posterior draws of ``theta`` (given ALSFRS-R) per patient, the EM
        averages its E-step over them, each weighted by its FVC marginal
        likelihood (importance-sampling Monte-Carlo EM; no plug-in attenuation).
    y : ndarray, shape (r,)
        FVC % predicted.
    x : ndarray, shape (n, p)
        Design of the prior mean (intercept first).
    max_iter : int, default 1000
        EM iterations.
    tol : float, default 1e-7
        Stop when the largest relative parameter change is below this.

    Returns
    -------
    FvcFit
    """
    n = x.shape[0]
    st = fvc_stats(idx, f, y, n)
    pinv = np.linalg.pinv(x)
    coef = np.zeros((x.shape[1], 2))
    coef[0] = [float(np.mean(y)) + 20.0, 60.0]
    cov = np.diag([15.0**2, 40.0**2])
    sigma = max(float(np.std(y)) / 2.0, 1.0)
    it = 0
    if f.ndim == 1:
        st = fvc_stats(idx, f[:, None], y, n)
    for it in range(1, max_iter + 1):  # noqa: B007
        mu = x @ coef
        ma, mb, vaa, vab, vbb = fvc_posterior(st, mu, cov, sigma)
        # weights of the theta draws: their FVC marginal likelihood (self-normalised)
        ll = fvc_loglik(st, mu, cov, sigma)
        om = np.exp(ll - ll.max(axis=1, keepdims=True))
        om /= om.sum(axis=1, keepdims=True)

        def avg(v: np.ndarray, om: np.ndarray = om) -> np.ndarray:
            return np.asarray(np.sum(om * v, axis=1))

        new_coef = pinv @ np.column_stack([avg(ma), avg(mb)])
        ra = ma - (x @ new_coef[:, 0])[:, None]
        rb = mb - (x @ new_coef[:, 1])[:, None]
        new_cov = np.array(
            [
                [np.mean(avg(ra * ra + vaa)), np.mean(avg(ra * rb + vab))],
                [np.mean(avg(ra * rb + vab)), np.mean(avg(rb * rb + vbb))],
            ]
        ) + 1e-8 * np.eye(2)
        # E[(y - a + b F)^2] summed over a patient's visits
        rss = (
            st.syy
            - 2 * (ma * st.sy - mb * st.sfy)
            + (ma**2 + vaa) * st.n
            - 2 * (ma * mb + vab) * st.sf
            + (mb**2 + vbb) * st.sff
        )
        new_sigma = float(np.sqrt(max(avg(rss).sum(), 1e-12) / len(y)))
        change = max(
            float(np.max(np.abs(new_coef - coef) / (np.abs(coef) + 1.0))),
            float(np.max(np.abs(new_cov - cov) / (np.abs(cov).max() + 1.0))),
            abs(new_sigma - sigma) / sigma,
        )
        coef, cov, sigma = new_coef, new_cov, new_sigma
        if change < tol:
            break
    else:
        logger.warning("fit_fvc: EM did not converge in %d iterations", max_iter)
    return FvcFit(coef, cov, sigma, n, len(y), it)
