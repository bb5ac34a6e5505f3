"""Latent ALSFRS-R courses: the D50 sigmoid per patient and its split into items.

The total follows the D50 model (cohort-figures.md §1)::

    L(t) = 48 / (1 + exp((t - D50) / dx)),   t in months since onset.

Each patient has a latent speed ``z`` ~ N(0, 1). The time constant is
``dx = dx_median * exp(-dx_sd_log * z)`` and ``D50 = r * dx`` with the ratio
``r = d50_ratio_median * exp(d50_ratio_speed_coupling * z + d50_ratio_sd_log *
N(0, 1))``: with a coupling of 0 the courses are time-scaled copies of each other
(fast progressors decline early *and* steeply, so early ΔFS predicts survival);
a positive coupling gives fast progressors a flatter start. Covariates (bulbar
onset, age, FTD, C9orf72, FUS, ATXN2) rescale the whole course by ``exp(eta)``.

Items: with ``f = 1 - L / 48`` the fraction of function lost, item ``j`` keeps
``x_j = 4 * (1 - s ** gamma_j)`` where ``s`` in [0, 1] solves
``sum_j s ** gamma_j = 12 f``, so the items always add up to ``L``. Small
``gamma_j`` makes an item fall early; the exponents depend on the onset region.
Item 5 is one latent item (reported as q5a or q5b).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alsnet.synth._common import FloatArray, IntArray
from alsnet.synth._patients import Baseline
from alsnet.synth.params import SynthParams

__all__ = [
    "ITEM_NAMES",
    "Progression",
    "draw_progression",
    "integer_items",
    "item_fractions",
    "time_at_total",
    "total_at",
    "total_at_item_level",
]

#: Latent items in order; "q5" is reported as q5a or q5b.
ITEM_NAMES: tuple[str, ...] = (
    "q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12",
)  # fmt: skip


@dataclass(frozen=True)
class Progression:
    """Latent course of each patient (arrays of length n).

    Attributes
    ----------
    d50 : ndarray of float
        Months from onset until the latent total reaches 24.
    dx : ndarray of float
        Time constant of decline (months).
    speed : ndarray of float
        Standardised speed score (higher = faster course, covariates included).
    gamma : ndarray of float, shape (n, 12)
        Item exponents (small = the item falls early).
    """

    d50: FloatArray
    dx: FloatArray
    speed: FloatArray
    gamma: FloatArray


def total_at(t_months: FloatArray, d50: FloatArray, dx: FloatArray) -> FloatArray:
    """Latent ALSFRS-R total (0-48 points) at ``t_months`` since onset (D50 model)."""
    e = np.clip((np.asarray(t_months) - d50) / dx, -700.0, 700.0)
    return np.asarray(48.0 / (1.0 + np.exp(e)), dtype=np.float64)


def time_at_total(total: FloatArray, d50: FloatArray, dx: FloatArray) -> FloatArray:
    """Months since onset at which the latent total falls to ``total`` (0 < total < 48)."""
    total = np.clip(np.asarray(total, dtype=np.float64), 1e-9, 48.0 - 1e-9)
    return np.asarray(d50 + dx * np.log(48.0 / total - 1.0), dtype=np.float64)


def draw_progression(base: Baseline, params: SynthParams, rng: np.random.Generator) -> Progression:
    """Draw each patient's D50 course and item exponents.

    Parameters
    ----------
    base : Baseline
        Baseline characteristics (onset region, age, FTD, genes).
    params : SynthParams
        Progression parameters.
    rng : numpy.random.Generator
        Random source.
    """
    n = base.age_onset.shape[0]
    z = rng.standard_normal(n)
    dx = params.dx_median_months * np.exp(-params.dx_sd_log * z)
    ratio = params.d50_ratio_median * np.exp(
        params.d50_ratio_speed_coupling * z + params.d50_ratio_sd_log * rng.standard_normal(n)
    )
    d50 = ratio * dx
    eta = (
        params.timescale_bulbar * (base.region == "bulbar")
        + params.timescale_respiratory * (base.region == "respiratory")
        + params.timescale_ftd * base.ftd
        + params.timescale_c9orf72 * base.carrier("C9orf72")
        + params.timescale_fus * base.carrier("FUS")
        + params.timescale_atxn2 * base.carrier("ATXN2")
        + params.timescale_age_per_year * (base.age_onset - 55.0)
    )
    scale = np.exp(eta)
    raw_speed = z - eta / params.dx_sd_log
    spread = max(float(raw_speed.std()), 1e-12)
    speed = np.asarray((raw_speed - raw_speed.mean()) / spread if n > 1 else z, dtype=np.float64)
    regions = list(params.item_exponents)
    table = np.array([params.item_exponents[r] for r in regions], dtype=np.float64)
    ridx = _region_index(base.region, regions)
    gamma = table[ridx] * np.exp(params.item_exponent_sd_log * rng.standard_normal((n, 12)))
    return Progression(d50=d50 * scale, dx=dx * scale, speed=speed, gamma=gamma)


def _region_index(region: np.ndarray, regions: list[str]) -> IntArray:
    out = np.zeros(region.shape[0], dtype=np.int64)
    for k, r in enumerate(regions):
        out[region == r] = k
    return out


def item_fractions(f: FloatArray, gamma: FloatArray, iterations: int = 40) -> FloatArray:
    """Solve ``sum_j s ** gamma_j = 12 f`` for ``s`` in [0, 1] (vectorised bisection).

    Parameters
    ----------
    f : ndarray of float, shape (m,)
        Fraction of function lost (0-1).
    gamma : ndarray of float, shape (m, 12)
        Item exponents.
    iterations : int
        Bisection steps (precision 2**-iterations).

    Returns
    -------
    ndarray of float, shape (m, 12)
        Lost fraction of each item, ``s ** gamma_j``; rows add up to ``12 f``.
    """
    target = 12.0 * np.clip(f, 0.0, 1.0)
    lo = np.zeros_like(target)
    hi = np.ones_like(target)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        val = np.exp(gamma * np.log(np.maximum(mid, 1e-300))[:, None]).sum(axis=1)
        up = val < target
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    s = 0.5 * (lo + hi)
    lost = np.exp(gamma * np.log(np.maximum(s, 1e-300))[:, None])
    # remove the remaining bisection error so rows add up exactly (matters only for tiny f)
    total = lost.sum(axis=1)
    scale = np.divide(target, total, out=np.zeros_like(target), where=total > 0)
    lost = np.minimum(lost * scale[:, None], 1.0)
    return np.asarray(lost, dtype=np.float64)


def total_at_item_level(item: int, level: float, gamma: FloatArray) -> FloatArray:
    """Latent total at which item ``item`` (0-based) falls to ``level`` (0-4 points).

    Parameters
    ----------
    item : int
        Index into :data:`ITEM_NAMES`.
    level : float
        Latent item score (0-4).
    gamma : ndarray of float, shape (n, 12)
        Item exponents of each patient.

    Returns
    -------
    ndarray of float, shape (n,)
        Latent total (points) at that moment; monotone, so the crossing time is
        :func:`time_at_total` of it.
    """
    s = (1.0 - level / 4.0) ** (1.0 / gamma[:, item])
    lost = np.exp(gamma * np.log(np.maximum(s, 1e-300))[:, None]).sum(axis=1)
    return np.asarray(48.0 - 4.0 * lost, dtype=np.float64)


def integer_items(items: FloatArray, total: FloatArray) -> IntArray:
    """Round continuous items (0-4) to integers that add up to ``round(total)``.

    Largest-remainder rounding: every item is floored, then the items with the
    largest fractional parts get one point each until the sum is reached.

    Parameters
    ----------
    items : ndarray of float, shape (m, k)
        Continuous item scores in [0, 4] whose rows add up to ``total``.
    total : ndarray of float, shape (m,)
        Row totals.
    """
    x = np.clip(items, 0.0, 4.0)
    fl = np.floor(x)
    frac = x - fl
    deficit = np.round(total).astype(np.int64) - fl.sum(axis=1).astype(np.int64)
    deficit = np.clip(deficit, 0, x.shape[1])
    order = np.argsort(-frac, axis=1, kind="stable")
    rank = np.empty_like(order)
    rows = np.arange(x.shape[0])[:, None]
    rank[rows, order] = np.arange(x.shape[1])[None, :]
    bump = (rank < deficit[:, None]) & (frac > 0)
    return (fl + bump).astype(np.int64)
