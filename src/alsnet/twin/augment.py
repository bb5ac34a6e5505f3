"""Twin-augmented control arms (issue 4, item 5b).

Two ways to use the twins of the concurrently randomised patients:

1. **As a covariate** — PROCOVA (:func:`alsnet.twin.procova_ancova`): ANCOVA of the
   outcome on the arm and the twin's predicted untreated outcome. Unbiased for any
   twin (even a biased one); the twin only buys precision. :func:`twin_covariate`
   is a thin wrapper.
2. **As prior information** — :func:`twin_prior_control`: a normal *power prior*
   (Ibrahim & Chen 2000) with a fixed, pre-specified discount ``a0`` on the control
   mean, whose "external data" are the twins' predicted untreated outcomes ``m_i``
   of *all* randomised patients (every one of them is control-eligible: their
   twin forecasts the untreated course). With per-observation variances taken
   equal, the posterior mean of the control mean is

   ``μ̂_c = (n_c ȳ_c + a0 Σ_{i ∈ all} m_i) / (n_c + a0 n)``,

   so each twin counts as ``a0`` of a real control patient (``a0 = 0``: ordinary
   two-arm comparison; ``a0 = 1``: twins as real controls). The effect estimate is
   ``Δ̂ = ȳ_t − μ̂_c``. Its variance is estimated without trusting the twin
   (sandwich over the arms, since Δ̂ is a sum of per-patient terms):

   ``Var(Δ̂) = s²_t(y − n_t a0 m / D) / n_t + n_c s²_c(y + a0 m) / D²``,
   ``D = n_c + a0 n``, with ``s²`` the within-arm sample variances;
   the test uses a t reference with Welch-Satterthwaite degrees of freedom
   (``a0 = 0`` gives exactly Welch's unequal-variance t-test).

   If the twin is unbiased (E m_i = E y_i(0)) Δ̂ is unbiased and the type I error
   stays at the nominal level; a twin biased by ``b`` points biases Δ̂ by
   ``−b · a0 n / D`` and the type I error inflates. :func:`simulate_augmented`
   measures both by vectorised simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from alsnet.exceptions import DataValidationError, Problem
from alsnet.twin.procova import ProcovaResult, procova_ancova

__all__ = [
    "AugmentedResult",
    "OperatingCharacteristics",
    "augmented_estimate",
    "simulate_augmented",
    "twin_covariate",
    "twin_prior_control",
]


@dataclass(frozen=True)
class AugmentedResult:
    """Treatment effect with a twin power-prior control.

    Attributes
    ----------
    effect : float
        ``ȳ_t − μ̂_c`` (outcome units; positive = treated higher).
    se : float
        Sandwich standard error.
    ci_low, ci_high : float
        Two-sided ``1 − alpha`` t interval.
    p_value : float
        Two-sided p-value of no effect.
    control_mean : float
        ``μ̂_c``.
    effective_controls : float
        ``n_c + a0 n``: real plus discounted twin controls.
    a0 : float
    n_treated, n_control : int
    """

    effect: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    control_mean: float
    effective_controls: float
    a0: float
    n_treated: int
    n_control: int


def augmented_estimate(
    y: np.ndarray, treated: np.ndarray, twin: np.ndarray, a0: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised core of :func:`twin_prior_control` over the last axis.

    Parameters
    ----------
    y, treated, twin : ndarray, shape (..., n)
        Outcomes, arm indicators (bool) and twin forecasts; leading axes are
        independent trials (every trial must have ≥ 2 patients per arm).
    a0 : float
        Discount (≥ 0).

    Returns
    -------
    effect, se, control_mean, df : ndarray, shape (...)
        ``df``: Welch-Satterthwaite degrees of freedom of ``se``.
    """
    t = np.asarray(treated, dtype=bool)
    c = ~t
    y = np.asarray(y, dtype="float64")
    m = np.asarray(twin, dtype="float64")
    n_t = t.sum(axis=-1)
    n_c = c.sum(axis=-1)
    n = n_t + n_c
    d = n_c + a0 * n
    ybar_t = np.sum(y * t, axis=-1) / n_t
    mu_c = (np.sum(y * c, axis=-1) + a0 * np.sum(m, axis=-1)) / d

    def arm_var(x: np.ndarray, arm: np.ndarray, k: np.ndarray) -> np.ndarray:
        mean = np.sum(x * arm, axis=-1) / k
        return np.asarray(np.sum(((x - mean[..., None]) * arm) ** 2, axis=-1) / (k - 1))

    vt = arm_var(y - (n_t * a0 / d)[..., None] * m, t, n_t)
    vc = arm_var(y + a0 * m, c, n_c)
    part_t, part_c = vt / n_t, n_c * vc / d**2
    se = np.sqrt(part_t + part_c)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = (part_t + part_c) ** 2 / (part_t**2 / (n_t - 1) + part_c**2 / (n_c - 1))
    return ybar_t - mu_c, se, mu_c, np.where(np.isfinite(df), df, n - 2)


def _validate(y: np.ndarray, treated: np.ndarray, twin: np.ndarray, a0: float) -> None:
    probs = []
    if not (y.shape == treated.shape == twin.shape) or y.ndim != 1:
        probs.append(Problem("twin_prior_control", None, None, None, "inputs need one shape (n,)"))
    elif np.isnan(y).any() or np.isnan(twin).any():
        probs.append(Problem("twin_prior_control", None, None, None, "missing outcome or twin"))
    elif min(int(treated.sum()), int((~treated).sum())) < 2:
        probs.append(
            Problem("twin_prior_control", None, None, None, "each arm needs at least 2 patients")
        )
    if not (np.isfinite(a0) and a0 >= 0):
        probs.append(Problem("twin_prior_control", None, "a0", None, "a0 must be >= 0"))
    if probs:
        raise DataValidationError(probs)


def twin_prior_control(
    outcome: ArrayLike,
    treated: ArrayLike,
    twin: ArrayLike,
    *,
    a0: float = 0.5,
    alpha: float = 0.05,
) -> AugmentedResult:
    """Treatment effect with the twins as a discounted (power-prior) control.

    Parameters
    ----------
    outcome : array_like, shape (n,)
        Observed outcome per randomised patient.
    treated : array_like of bool/0-1, shape (n,)
    twin : array_like, shape (n,)
        The twin's predicted mean untreated outcome of each patient, from
        baseline data only (same units as ``outcome``).
    a0 : float, default 0.5
        Fixed discount: each twin counts as ``a0`` of a control patient. Must be
        pre-specified; 0 switches the twins off.
    alpha : float, default 0.05

    Returns
    -------
    AugmentedResult

    Raises
    ------
    DataValidationError
        Shape mismatch, missing values, an arm with fewer than 2 patients, a0 < 0.
    """
    y = np.asarray(outcome, dtype="float64")
    t = np.asarray(treated).astype(bool)
    m = np.asarray(twin, dtype="float64")
    _validate(y, t, m, a0)
    eff, se, mu, df = augmented_estimate(y, t, m, a0)
    q = stats.t.ppf(1 - alpha / 2, df)
    p = 2 * stats.t.sf(abs(float(eff) / float(se)), df)
    n_t, n_c = int(t.sum()), int((~t).sum())
    return AugmentedResult(
        float(eff),
        float(se),
        float(eff - q * se),
        float(eff + q * se),
        float(p),
        float(mu),
        n_c + a0 * len(y),
        float(a0),
        n_t,
        n_c,
    )


def twin_covariate(
    outcome: ArrayLike, treated: ArrayLike, twin: ArrayLike, *, alpha: float = 0.05
) -> ProcovaResult:
    """The twin as a covariate: PROCOVA ANCOVA (:func:`alsnet.twin.procova_ancova`)."""
    return procova_ancova(outcome, treated, twin, alpha=alpha)


@dataclass(frozen=True)
class OperatingCharacteristics:
    """Rejection rates of :func:`simulate_augmented`, with Monte-Carlo SEs.

    Attributes
    ----------
    rejection : dict of str to float
        Two-sided rejection rate per method: ``"control only"`` (a0 = 0, Welch-type
        sandwich), ``"twin covariate"`` (ANCOVA on the twin) and ``"twin prior"``.
    mc_se : dict of str to float
        Monte-Carlo standard error of each rate.
    mean_effect : dict of str to float
        Mean estimated effect per method.
    """

    rejection: dict[str, float]
    mc_se: dict[str, float]
    mean_effect: dict[str, float]


def _ancova(y: np.ndarray, t: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS y ~ 1 + t + m for every row at once: effect of t and its classical SE."""
    n = y.shape[-1]
    x = np.stack([np.ones_like(m), t.astype("float64"), m], axis=-1)  # (..., n, 3)
    xtx = np.einsum("...ni,...nj->...ij", x, x)
    xty = np.einsum("...ni,...n->...i", x, y)
    beta = np.linalg.solve(xtx, xty[..., None])[..., 0]
    resid = y - np.einsum("...ni,...i->...n", x, beta)
    s2 = np.sum(resid**2, axis=-1) / (n - 3)
    inv = np.linalg.inv(xtx)
    return beta[..., 1], np.sqrt(s2 * inv[..., 1, 1])


def simulate_augmented(
    *,
    n_treated: int,
    n_control: int,
    effect: float = 0.0,
    twin_bias: float = 0.0,
    rho: float = 0.7,
    sigma: float = 1.0,
    a0: float = 0.5,
    alpha: float = 0.05,
    n_sims: int = 10_000,
    seed: int = 0,
    batch: int = 2_000,
) -> OperatingCharacteristics:
    """Operating characteristics of the twin-augmented control by simulation.

    Model: untreated outcome ``y_i(0) = u_i + e_i`` with ``u ~ N(0, ρ²σ²)``
    (what the twin can know) and ``e ~ N(0, (1 − ρ²)σ²)``; the twin predicts
    ``m_i = u_i + twin_bias``; treated outcomes add ``effect``. Every simulated
    trial is analysed three ways (see :class:`OperatingCharacteristics`).

    Parameters
    ----------
    n_treated, n_control : int
    effect : float, default 0
        True effect (0 = type I error).
    twin_bias : float, default 0
        Systematic error of the twin, outcome units.
    rho : float, default 0.7
        Correlation of twin and outcome.
    sigma : float, default 1
    a0 : float, default 0.5
    alpha : float, default 0.05
        Two-sided level.
    n_sims : int, default 10000
    seed : int, default 0
    batch : int, default 2000
        Trials simulated at once (bounds memory).

    Returns
    -------
    OperatingCharacteristics
    """
    if n_treated < 2 or n_control < 2:
        raise ValueError("each arm needs at least 2 patients")
    if not 0 <= rho < 1:
        raise ValueError("rho must lie in [0, 1)")
    rng = np.random.default_rng(seed)
    n = n_treated + n_control
    t = np.zeros(n, dtype=bool)
    t[:n_treated] = True
    q_anc = stats.t.ppf(1 - alpha / 2, n - 3)
    hits = {"control only": 0, "twin covariate": 0, "twin prior": 0}
    sums = dict.fromkeys(hits, 0.0)
    done = 0
    while done < n_sims:
        k = min(batch, n_sims - done)
        u = rho * sigma * rng.standard_normal((k, n))
        e = np.sqrt(1 - rho**2) * sigma * rng.standard_normal((k, n))
        y = u + e + effect * t
        m = u + twin_bias
        tt = np.broadcast_to(t, (k, n))
        for name, a in (("control only", 0.0), ("twin prior", a0)):
            eff, se, _, df = augmented_estimate(y, tt, m, a)
            hits[name] += int(np.sum(np.abs(eff / se) > stats.t.ppf(1 - alpha / 2, df)))
            sums[name] += float(eff.sum())
        eff, se = _ancova(y, tt, m)
        hits["twin covariate"] += int(np.sum(np.abs(eff / se) > q_anc))
        sums["twin covariate"] += float(eff.sum())
        done += k
    rate = {k: v / n_sims for k, v in hits.items()}
    return OperatingCharacteristics(
        rejection=rate,
        mc_se={k: float(np.sqrt(r * (1 - r) / n_sims)) for k, r in rate.items()},
        mean_effect={k: v / n_sims for k, v in sums.items()},
    )
