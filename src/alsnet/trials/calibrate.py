"""Calibrate a design's success threshold to a target type I error, without re-simulating.

The trials of a scenario (normally ``null``) are simulated **once** with the engine of
:mod:`alsnet.trials.simulate` (its look loop: same outcome model and source, scenario
overrides, enrolment including subgroup-restricted regimens, control sharing, fast DRR
analysis and futility rule). For every trial and regimen the engine records the statistic
the success rule compares with its threshold at each look — the posterior probability
``Pr(DRR < success.drr)`` (Bayesian designs) or ``z = -log DRR / se`` (frequentist designs
with ``spending: none``) — and whether the regimen was still running (not stopped for
futility). A regimen succeeds at threshold ``c`` exactly when the largest statistic over the
looks at which success may be declared (the final look; every look with ``success.early``)
while it was still running exceeds ``c``. So the type I error as a function of ``c`` is one
minus the empirical CDF of that maximum, and the calibrated threshold is its
``1 - alpha`` quantile, found by sorting.

Exactness: futility decisions do not depend on the success threshold, so the recorded
statistics are those of a re-simulation at any threshold, except that with ``success.early``
a regimen stopped early for success stops enrolling its placebo patients, which other
regimens may share; the calibration ignores that second-order effect (HEALEY allows no early
success by default).

Monte Carlo error: the calibrated threshold reproduces ``alpha`` on the calibration
simulations by construction; on fresh simulations its type I error scatters with SE about
``sqrt(2 alpha (1 - alpha) / n_sims)`` (calibration and validation noise).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from alsnet.trials._errors import TrialDesignError
from alsnet.trials.design import PlatformDesign, Scenario
from alsnet.trials.outcomes import OutcomeLibrary
from alsnet.trials.simulate import _prepare, _simulate_trials

if TYPE_CHECKING:
    from alsnet.cohort import Cohort

__all__ = ["CalibrationResult", "calibrate", "success_statistics"]

FloatArray = NDArray[np.float64]


def success_statistics(
    design: PlatformDesign,
    scenario: str | Scenario,
    *,
    n_sims: int,
    seed: int = 0,
    backend: str = "local",
    n_workers: int | None = 1,
    outcome_source: str | OutcomeLibrary | None = None,
    cohort: Cohort | None = None,
    twin: Any = None,
) -> FloatArray:
    """Per simulated trial and regimen, the largest success statistic it could act on.

    The trials are those of :func:`alsnet.trials.simulate.simulate` with the same arguments
    (scenario overrides, subgroup-restricted enrolment, outcome source), except that success
    never stops a regimen.

    Returns
    -------
    ndarray, shape (n_sims, n_regimens)
        Bayesian designs: max over eligible looks of ``Pr(DRR < success.drr)``; frequentist
        designs: the final ``z``. ``-inf`` where the regimen stopped for futility before any
        eligible look or the analysis was impossible. Same seed → same numbers, whatever
        ``n_workers`` (the block streams of :mod:`alsnet.trials.backends`).
    """
    if design.frequentist is not None and design.frequentist.spending != "none":
        raise TrialDesignError(
            "frequentist.spending: calibration supports 'none' (a single final z bound); "
            "group-sequential bounds are calibrated by their spending function"
        )
    d, sc, library = _prepare(design, scenario, outcome_source, cohort, twin)
    res = _simulate_trials(d, sc, library, n_sims, seed, None, backend, n_workers, True)
    return res["success_stat"]


@dataclass(frozen=True)
class CalibrationResult:
    """Calibrated success thresholds.

    Attributes
    ----------
    design, scenario : str
    statistic : str
        ``"posterior probability"`` (``Pr(DRR < success.drr)``) or ``"z"``.
    target_alpha : float
    sims, seed : int
    elapsed_s : float
    regimens : tuple of str
    thresholds : ndarray
        Per regimen: the smallest threshold whose type I error is <= ``target_alpha``.
    threshold : float
        The largest of them (controls the type I error of every regimen).
    alpha_at_threshold : ndarray
        Per regimen, the type I error on these simulations at ``threshold``.
    alpha_at_design : ndarray
        Per regimen, the type I error at the design's current threshold.
    design_threshold : float
    threshold_ci : ndarray, shape (R, 2)
        Per regimen, a 95% interval of the threshold (order statistics of the binomial
        count of exceedances).
    """

    design: str
    scenario: str
    statistic: str
    target_alpha: float
    sims: int
    seed: int
    elapsed_s: float
    regimens: tuple[str, ...]
    thresholds: FloatArray
    threshold: float
    alpha_at_threshold: FloatArray
    alpha_at_design: FloatArray
    design_threshold: float
    threshold_ci: FloatArray

    @property
    def alpha_se(self) -> float:
        """Binomial Monte Carlo SE of a type I error equal to the target."""
        a = self.target_alpha
        return math.sqrt(a * (1 - a) / self.sims)

    def summary(self) -> pd.DataFrame:
        """One row per regimen."""
        return pd.DataFrame(
            {
                "regimen": list(self.regimens),
                "threshold": self.thresholds,
                "threshold_ci_low": self.threshold_ci[:, 0],
                "threshold_ci_high": self.threshold_ci[:, 1],
                "alpha_at_common_threshold": self.alpha_at_threshold,
                "alpha_at_design_threshold": self.alpha_at_design,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "design": self.design,
            "scenario": self.scenario,
            "statistic": self.statistic,
            "target_alpha": self.target_alpha,
            "sims": self.sims,
            "seed": self.seed,
            "elapsed_s": self.elapsed_s,
            "threshold": self.threshold,
            "design_threshold": self.design_threshold,
            "alpha_se": self.alpha_se,
            "regimens": [
                {
                    "name": n,
                    "threshold": float(self.thresholds[i]),
                    "threshold_ci": [float(x) for x in self.threshold_ci[i]],
                    "alpha_at_threshold": float(self.alpha_at_threshold[i]),
                    "alpha_at_design_threshold": float(self.alpha_at_design[i]),
                }
                for i, n in enumerate(self.regimens)
            ],
        }

    def __repr__(self) -> str:
        return (
            f"CalibrationResult({self.design}/{self.scenario}, alpha={self.target_alpha:g}, "
            f"threshold={self.threshold:.5f}, sims={self.sims})"
        )


def _quantile_threshold(stat: FloatArray, alpha: float) -> tuple[float, float, float]:
    """Smallest c with mean(stat > c) <= alpha, and a 95% order-statistic interval."""
    n = stat.size
    srt = np.sort(stat)
    k = math.floor(alpha * n)  # allowed exceedances
    c = float(srt[n - k - 1])  # exactly k values lie strictly above (ties aside)
    half = 1.96 * math.sqrt(n * alpha * (1 - alpha))
    lo_i = min(max(n - math.ceil(k + half) - 1, 0), n - 1)
    hi_i = min(max(n - math.floor(k - half) - 1, 0), n - 1)
    return c, float(srt[lo_i]), float(srt[hi_i])


def calibrate(
    design: PlatformDesign,
    *,
    target_alpha: float = 0.025,
    scenario: str = "null",
    n_sims: int = 10_000,
    seed: int = 0,
    backend: str = "local",
    n_workers: int | None = 1,
    outcome_source: str | OutcomeLibrary | None = None,
    cohort: Cohort | None = None,
    twin: Any = None,
) -> CalibrationResult:
    """Success threshold giving ``target_alpha`` type I error per regimen under ``scenario``.

    Parameters
    ----------
    design : PlatformDesign
        Bayesian design (calibrates ``success.threshold``) or frequentist design with
        ``spending: none`` (calibrates the final z bound).
    target_alpha : float, default 0.025
        One-sided type I error per regimen.
    scenario : str, default "null"
        A scenario of the design in which the regimens of interest have DRR 1.
    n_sims : int, default 10000
        Simulated trials (once; no re-simulation per candidate threshold).
    seed : int, default 0
    backend, n_workers
        As in :func:`alsnet.trials.simulate.simulate`.
    outcome_source, cohort, twin
        As in :func:`alsnet.trials.simulate.simulate` (default: the design's outcome source).

    Returns
    -------
    CalibrationResult

    Examples
    --------
    >>> from alsnet.trials import load_design
    >>> res = calibrate(load_design("healey"), n_sims=500, seed=1)
    >>> 0.9 < res.threshold < 1.0
    True
    """
    if not 0.0 < target_alpha < 0.5:
        raise TrialDesignError(f"target_alpha: must be in (0, 0.5), got {target_alpha:g}")
    if n_sims < 10 or n_sims * target_alpha < 1:
        raise TrialDesignError(
            f"sims: {n_sims} trials cannot resolve alpha={target_alpha:g} (need sims*alpha >= 1)"
        )
    t0 = time.perf_counter()
    stats = success_statistics(
        design,
        scenario,
        n_sims=n_sims,
        seed=seed,
        backend=backend,
        n_workers=n_workers,
        outcome_source=outcome_source,
        cohort=cohort,
        twin=twin,
    )
    fq = design.frequentist
    if fq is not None:
        design_thr = float(special.ndtri(1.0 - fq.alpha))
        label = "z"
    else:
        design_thr = design.success.threshold
        label = "posterior probability"
    r_count = stats.shape[1]
    thr = np.empty(r_count)
    ci = np.empty((r_count, 2))
    for r in range(r_count):
        thr[r], ci[r, 0], ci[r, 1] = _quantile_threshold(stats[:, r], target_alpha)
    common = float(thr.max())
    return CalibrationResult(
        design=design.name,
        scenario=scenario,
        statistic=label,
        target_alpha=target_alpha,
        sims=n_sims,
        seed=seed,
        elapsed_s=time.perf_counter() - t0,
        regimens=tuple(r.name for r in design.regimens),
        thresholds=thr,
        threshold=common,
        alpha_at_threshold=np.mean(stats > common, axis=0),
        alpha_at_design=np.mean(stats > design_thr, axis=0),
        design_threshold=design_thr,
        threshold_ci=ci,
    )
