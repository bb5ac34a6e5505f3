"""One-sided group-sequential efficacy boundaries (O'Brien–Fleming, Pocock, alpha spending).

The sequential z-statistics :math:`Z_1, \\dots, Z_K` at information fractions
:math:`0 < t_1 < \\dots < t_K = 1` follow the canonical joint distribution
(Jennison & Turnbull 2000, ch. 3): multivariate normal with
:math:`\\mathrm{Cov}(Z_j, Z_k) = \\sqrt{t_j / t_k}` for :math:`j \\le k` and mean
:math:`\\theta \\sqrt{t_k}` (``drift`` :math:`\\theta` = expected final z-statistic).
Crossing probabilities are computed exactly (to about 1e-8) by the recursive numerical
integration of Armitage, McPherson and Rowe (1969) on the score scale
:math:`S_k = Z_k \\sqrt{t_k}`, whose increments are independent, using Simpson's rule on a
grid a small fraction of a standard deviation wide.

Boundary families
-----------------
``obf``
    Classical O'Brien–Fleming: :math:`b_k = c / \\sqrt{t_k}`, with ``c`` solved so the
    overall one-sided type I error equals ``alpha``.
``pocock``
    Classical Pocock: :math:`b_k = c` at every look.
``ld-obf``
    Lan–DeMets O'Brien–Fleming-type spending
    :math:`\\alpha(t) = 2 - 2\\Phi(\\Phi^{-1}(1 - \\alpha/2) / \\sqrt{t})`.
``ld-pocock``
    Lan–DeMets Pocock-type spending :math:`\\alpha(t) = \\alpha \\ln(1 + (e - 1) t)`.
``hsd:GAMMA``
    Hwang–Shih–DeCani spending
    :math:`\\alpha(t) = \\alpha (1 - e^{-\\gamma t}) / (1 - e^{-\\gamma})` (:math:`\\alpha t` at
    :math:`\\gamma = 0`); ``hsd:-4`` is gsDesign's default upper bound.

References
----------
Armitage P, McPherson CK, Rowe BC. Repeated significance tests on accumulating data.
J R Stat Soc A 1969;132:235–244.
Lan KKG, DeMets DL. Discrete sequential boundaries for clinical trials. Biometrika
1983;70:659–663.
Hwang IK, Shih WJ, DeCani JS. Group sequential designs using a family of type I error
probability spending functions. Stat Med 1990;9:1439–1445.
Jennison C, Turnbull BW. Group Sequential Methods with Applications to Clinical Trials.
Chapman & Hall/CRC, 2000.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, stats

from alsnet.trials._errors import TrialDesignError

__all__ = [
    "SPENDING_CHOICES",
    "GroupSequentialBounds",
    "crossing_probabilities",
    "gs_bounds",
    "spending_function",
]

FloatArray = NDArray[np.float64]

#: Spending names accepted by :func:`gs_bounds` (``hsd`` takes ``:GAMMA``).
SPENDING_CHOICES = ("obf", "pocock", "ld-obf", "ld-pocock", "hsd:GAMMA")

#: Grid step as a fraction of the narrower of the two normal scales being integrated.
_STEP_FRACTION = 1.0 / 10.0
#: Half-width of the integration range, in standard deviations of S_k.
_RANGE_SD = 8.5
#: Largest grid (points) per look; reached only for looks much closer than 1 % apart.
_MAX_POINTS = 2001
#: Largest finite boundary returned (P(Z > 37.5) underflows double precision).
_Z_MAX = 37.5


# --------------------------------------------------------------------------- spending


def spending_function(spending: str, alpha: float) -> Callable[[FloatArray], FloatArray]:
    """Cumulative one-sided alpha-spending function :math:`\\alpha(t)` of a named family.

    Parameters
    ----------
    spending : str
        ``"ld-obf"``, ``"ld-pocock"`` or ``"hsd:GAMMA"`` (e.g. ``"hsd:-4"``). The classical
        ``"obf"`` and ``"pocock"`` boundaries are not defined by a spending function.
    alpha : float
        Overall one-sided type I error, in (0, 0.5).

    Returns
    -------
    callable
        Maps information fractions ``t`` in [0, 1] (array) to cumulative alpha spent;
        ``alpha(0) = 0`` and ``alpha(1) = alpha``.

    Examples
    --------
    >>> f = spending_function("hsd:0", 0.025)
    >>> round(float(f(np.array([0.4]))[0]), 6)
    0.01
    """
    kind, gamma = _parse_spending(spending)
    _check_alpha(alpha)
    if kind == "ld-obf":
        zh = float(stats.norm.isf(alpha / 2.0))

        def f(t: FloatArray) -> FloatArray:
            t = np.asarray(t, dtype=float)
            with np.errstate(divide="ignore"):
                return np.where(t > 0, 2.0 * stats.norm.sf(zh / np.sqrt(t)), 0.0)

        return f
    if kind == "ld-pocock":
        return lambda t: alpha * np.log1p((math.e - 1.0) * np.asarray(t, dtype=float))
    if kind == "hsd":
        if gamma == 0.0:
            return lambda t: alpha * np.asarray(t, dtype=float)
        g = gamma
        return lambda t: alpha * np.expm1(-g * np.asarray(t, dtype=float)) / math.expm1(-g)
    raise TrialDesignError(
        f"spending: {spending!r} is a classical boundary, not a spending function; "
        "use ld-obf, ld-pocock or hsd:GAMMA"
    )


def _parse_spending(spending: str) -> tuple[str, float]:
    """Split ``"hsd:-4"`` into ``("hsd", -4.0)``; validate the name."""
    name = spending.strip().lower()
    if name in ("obf", "pocock", "ld-obf", "ld-pocock"):
        return name, 0.0
    if name.startswith("hsd:"):
        try:
            gamma = float(name[4:])
        except ValueError:
            raise TrialDesignError(
                f"spending: {spending!r}: HSD gamma must be a number, e.g. hsd:-4"
            ) from None
        if not math.isfinite(gamma) or abs(gamma) > 40:
            raise TrialDesignError(f"spending: {spending!r}: HSD gamma must be in [-40, 40]")
        return "hsd", gamma
    raise TrialDesignError(f"spending: {spending!r} is not one of {', '.join(SPENDING_CHOICES)}")


def _check_alpha(alpha: float) -> None:
    if not (0.0 < alpha < 0.5) or not math.isfinite(alpha):
        raise TrialDesignError(f"alpha: {alpha!r} must be in (0, 0.5) (one-sided)")


def _check_timing(looks: int | None, timing: Sequence[float] | FloatArray | None) -> FloatArray:
    """Information fractions as an array ending in 1 (``timing`` may omit the final 1)."""
    if looks is not None and (int(looks) != looks or looks < 1):
        raise TrialDesignError(f"looks: {looks!r} must be a positive integer")
    if timing is None:
        if looks is None:
            raise TrialDesignError("looks: give the number of looks or the timing")
        return np.arange(1, looks + 1, dtype=float) / looks
    t = np.asarray(list(timing), dtype=float)
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        raise TrialDesignError("timing: must be a non-empty list of finite numbers")
    if looks is not None and t.size == looks - 1:
        t = np.append(t, 1.0)
    if looks is not None and t.size != looks:
        raise TrialDesignError(
            f"timing: {t.size} values given for {looks} looks (give {looks} or {looks - 1})"
        )
    if np.any(t <= 0) or np.any(t > 1 + 1e-12):
        raise TrialDesignError("timing: information fractions must be in (0, 1]")
    if np.any(np.diff(t) <= 0):
        raise TrialDesignError("timing: information fractions must be strictly increasing")
    if abs(t[-1] - 1.0) > 1e-9:
        raise TrialDesignError(f"timing: the final look must be at 1 (got {t[-1]:g})")
    t[-1] = 1.0
    return t


# --------------------------------------------------------------------------- recursion


def _simpson(lo: float, hi: float, step: float) -> tuple[FloatArray, FloatArray]:
    """Simpson grid on [lo, hi] with spacing at most ``step``: points and weights."""
    n_int = max(2, math.ceil((hi - lo) / step))
    n_int += n_int % 2
    m = min(n_int + 1, _MAX_POINTS)
    x = np.linspace(lo, hi, m)
    h = (hi - lo) / (m - 1)
    w = np.ones(m)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return x, w * (h / 3.0)


class _Recursion:
    """Armitage–McPherson–Rowe recursion over looks on the score scale ``S = Z sqrt(t)``.

    ``g`` holds the sub-density of ``S_k`` on the continuation region (no crossing yet),
    pre-multiplied by the Simpson weights of ``s``.
    """

    def __init__(self, t: FloatArray, drift: float) -> None:
        self.t = t
        self.drift = float(drift)
        self.k = 0
        self.s: FloatArray = np.empty(0)
        self.g: FloatArray = np.empty(0)

    def cross(self, b: float) -> float:
        """P(no crossing before look k, Z_k >= b)."""
        t, k, d = self.t, self.k, self.drift
        if k == 0:
            return float(stats.norm.sf(b - d * math.sqrt(t[0])))
        delta = t[k] - t[k - 1]
        u = (b * math.sqrt(t[k]) - self.s - d * delta) / math.sqrt(delta)
        return float(self.g @ stats.norm.sf(u))

    def advance(self, b: float) -> None:
        """Truncate at ``Z_k < b`` and move to look k + 1."""
        t, k, d = self.t, self.k, self.drift
        sd = math.sqrt(t[k])
        mean = d * t[k]
        nxt = math.sqrt(t[k + 1] - t[k]) if k + 1 < t.size else sd
        hi = min(b * sd, mean + _RANGE_SD * sd)
        lo = min(mean - _RANGE_SD * sd, hi - sd)
        s, w = _simpson(lo, hi, _STEP_FRACTION * min(sd, nxt))
        if k == 0:
            dens = stats.norm.pdf(s, loc=mean, scale=sd)
        else:
            delta = t[k] - t[k - 1]
            sdd = math.sqrt(delta)
            z = (s[:, None] - self.s[None, :] - d * delta) / sdd
            dens = (np.exp(-0.5 * z * z) @ self.g) / (sdd * math.sqrt(2.0 * math.pi))
        self.s, self.g = s, w * dens
        self.k += 1


def crossing_probabilities(
    z: Sequence[float] | FloatArray, timing: Sequence[float] | FloatArray, drift: float = 0.0
) -> FloatArray:
    """Probability of first crossing each upper boundary, for a given drift.

    Parameters
    ----------
    z : sequence of float, length K
        Upper (efficacy) z-boundaries; ``inf`` means no stopping at that look.
    timing : sequence of float, length K
        Information fractions, strictly increasing in (0, 1] and ending at 1.
    drift : float, default 0
        Expected z-statistic at full information (0 under the null hypothesis).

    Returns
    -------
    numpy.ndarray, shape (K,)
        ``P(Z_1 < b_1, ..., Z_{k-1} < b_{k-1}, Z_k >= b_k)`` for each look k.

    Examples
    --------
    >>> p = crossing_probabilities([1.959964], [1.0])
    >>> round(float(p[0]), 6)
    0.025
    """
    t = _check_timing(None, timing)
    b = np.asarray(z, dtype=float)
    if b.shape != t.shape:
        raise TrialDesignError(f"z: {b.size} boundaries for {t.size} looks")
    rec = _Recursion(t, drift)
    out = np.empty(t.size)
    for k in range(t.size):
        out[k] = rec.cross(float(b[k]))
        if k + 1 < t.size:
            rec.advance(float(b[k]))
    return out


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, slots=True)
class GroupSequentialBounds:
    """One-sided group-sequential efficacy boundaries (frozen result).

    Attributes
    ----------
    spending : str
        Boundary family (``obf``, ``pocock``, ``ld-obf``, ``ld-pocock``, ``hsd:GAMMA``).
    alpha : float
        Overall one-sided type I error.
    timing : tuple of float
        Information fraction of each look (last = 1).
    z : tuple of float
        Efficacy boundary on the z-scale at each look (reject H0 when ``Z_k >= z_k``).
    alpha_spent : tuple of float
        Type I error spent at each look (per look, not cumulative), computed exactly from
        the boundaries under H0.
    """

    spending: str
    alpha: float
    timing: tuple[float, ...]
    z: tuple[float, ...]
    alpha_spent: tuple[float, ...]

    @property
    def looks(self) -> int:
        """Number of looks K."""
        return len(self.z)

    @property
    def cumulative_alpha(self) -> tuple[float, ...]:
        """Type I error spent up to and including each look."""
        return tuple(float(v) for v in np.cumsum(self.alpha_spent))

    @property
    def nominal_p(self) -> tuple[float, ...]:
        """One-sided nominal p-value threshold at each look, ``1 - Phi(z_k)``."""
        return tuple(float(v) for v in stats.norm.sf(np.asarray(self.z)))

    def crossing_probabilities(self, drift: float = 0.0) -> FloatArray:
        """P(first crossing at look k) when the expected final z-statistic is ``drift``."""
        return crossing_probabilities(self.z, self.timing, drift)

    def power(self, drift: float) -> float:
        """Probability of crossing any boundary at the given drift."""
        return float(self.crossing_probabilities(drift).sum())

    def drift_for_power(self, power: float = 0.9) -> float:
        """Drift (expected final z under H1) that gives ``power``.

        Examples
        --------
        >>> b = gs_bounds(1, alpha=0.025, spending="obf")
        >>> round(b.drift_for_power(0.9), 4)  # z_0.025 + z_0.1
        3.2415
        """
        if not (self.alpha < power < 1.0):
            raise TrialDesignError(f"power: {power!r} must be in (alpha, 1)")
        return float(optimize.brentq(lambda d: self.power(d) - power, 0.0, 15.0, xtol=1e-10))

    def inflation_factor(self, power: float = 0.9) -> float:
        """Maximum information relative to a fixed-sample design with the same alpha, power."""
        fixed = stats.norm.isf(self.alpha) + stats.norm.isf(1.0 - power)
        return float((self.drift_for_power(power) / fixed) ** 2)

    def expected_information(self, drift: float) -> float:
        """Expected information at stopping, as a fraction of the maximum information."""
        p = self.crossing_probabilities(drift)
        t = np.asarray(self.timing)
        return float(np.sum(t[:-1] * p[:-1]) + (1.0 - p[:-1].sum()))

    def summary(self) -> pd.DataFrame:
        """One row per look: timing, z, nominal p, alpha spent, cumulative alpha."""
        return pd.DataFrame(
            {
                "look": np.arange(1, self.looks + 1),
                "timing": self.timing,
                "z": self.z,
                "nominal_p": self.nominal_p,
                "alpha_spent": self.alpha_spent,
                "cumulative_alpha": self.cumulative_alpha,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (``z`` and per-look ``alpha_spent`` first)."""
        return {
            "z": list(self.z),
            "alpha_spent": list(self.alpha_spent),
            "cumulative_alpha": list(self.cumulative_alpha),
            "nominal_p": list(self.nominal_p),
            "timing": list(self.timing),
            "alpha": self.alpha,
            "spending": self.spending,
        }

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict())

    def __repr__(self) -> str:
        zs = ", ".join(f"{v:.3f}" for v in self.z)
        return (
            f"GroupSequentialBounds({self.spending}, K={self.looks}, "
            f"alpha={self.alpha:g}, z=[{zs}])"
        )

    def _repr_html_(self) -> str:
        return str(self.summary().to_html(index=False, float_format=lambda v: f"{v:.4f}"))


# --------------------------------------------------------------------------- solvers


def gs_bounds(
    looks: int | None = None,
    *,
    alpha: float = 0.025,
    spending: str = "ld-obf",
    timing: Sequence[float] | None = None,
) -> GroupSequentialBounds:
    """One-sided efficacy boundaries of a group-sequential design.

    Parameters
    ----------
    looks : int, optional
        Number of analyses K (interims + final). May be omitted when ``timing`` is given.
    alpha : float, default 0.025
        Overall one-sided type I error.
    spending : str, default "ld-obf"
        ``obf``, ``pocock`` (classical, constant shape, solved exactly for ``alpha``),
        ``ld-obf``, ``ld-pocock`` (Lan–DeMets spending) or ``hsd:GAMMA``
        (Hwang–Shih–DeCani spending).
    timing : sequence of float, optional
        Information fractions of the looks, strictly increasing in (0, 1] and ending at 1;
        the final 1 may be left out (gsDesign convention). Default: equally spaced.

    Returns
    -------
    GroupSequentialBounds

    Raises
    ------
    TrialDesignError
        For an unknown spending name, alpha outside (0, 0.5) or invalid timing.

    Examples
    --------
    >>> b = gs_bounds(5, alpha=0.025, spending="pocock")
    >>> round(b.z[0], 3)
    2.413
    >>> [round(v, 3) for v in gs_bounds(5, alpha=0.025, spending="obf").z]
    [4.562, 3.226, 2.634, 2.281, 2.04]
    """
    _check_alpha(alpha)
    kind, gamma = _parse_spending(spending)
    t = _check_timing(looks, timing)
    name = f"hsd:{gamma:g}" if kind == "hsd" else kind
    if kind in ("obf", "pocock"):
        shape = 1.0 / np.sqrt(t) if kind == "obf" else np.ones_like(t)

        def excess(c: float) -> float:
            return float(crossing_probabilities(c * shape, t).sum()) - alpha

        # Bonferroni brackets c: sf(c) <= alpha <= K sf(c) at the root
        lo, hi = float(stats.norm.isf(alpha)), float(stats.norm.isf(alpha / t.size))
        c = lo if t.size == 1 else optimize.brentq(excess, lo, hi + 1e-9, xtol=1e-11)
        z = np.minimum(c * shape, _Z_MAX)
    else:
        cum = spending_function(spending, alpha)(t)
        inc = np.diff(np.concatenate([[0.0], cum]))
        z = _solve_spending(t, inc)
    spent = crossing_probabilities(z, t)
    return GroupSequentialBounds(
        spending=name,
        alpha=float(alpha),
        timing=tuple(float(v) for v in t),
        z=tuple(float(v) for v in z),
        alpha_spent=tuple(float(v) for v in spent),
    )


def _solve_spending(t: FloatArray, inc: FloatArray) -> FloatArray:
    """Boundaries that spend exactly ``inc[k]`` at each look under H0."""
    rec = _Recursion(t, 0.0)
    z = np.empty(t.size)
    for k in range(t.size):
        target = float(inc[k])
        if target <= 1e-300:
            z[k] = _Z_MAX
        else:
            hi = min(float(stats.norm.isf(target)), _Z_MAX)
            if rec.cross(hi) >= target:
                z[k] = hi
            else:
                z[k] = optimize.brentq(
                    lambda b, tg=target: rec.cross(b) - tg, -10.0, hi, xtol=1e-12
                )
        if k + 1 < t.size:
            rec.advance(float(z[k]))
    return z
