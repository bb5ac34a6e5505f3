"""Calibrate a design's success threshold to a target type I error, without re-simulating.

The trials of a scenario (normally ``null``) are simulated **once** with the engine of
:mod:`alsnet.trials.simulate` (same outcome model, enrolment, control sharing, fast DRR
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
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from alsnet.trials._errors import TrialDesignError
from alsnet.trials.backends import group_blocks, run_chunks, spawn_blocks
from alsnet.trials.design import WEEKS_TO_MONTHS, PlatformDesign, Scenario
from alsnet.trials.simulate import (
    BLOCK_SIZE,
    _analyse,
    _concat,
    _context,
    _draw_block,
    _event_stats,
    _norm_cdf,
    enrolment_schedule,
)

__all__ = ["CalibrationResult", "calibrate", "success_statistics"]

FloatArray = NDArray[np.float64]


def _chunk_statistics(
    design: PlatformDesign,
    scenario: Scenario,
    seeds: list[np.random.SeedSequence],
    sizes: list[int],
) -> FloatArray:
    """Max success statistic over the eligible looks per trial and regimen, shape ``(S, R)``."""
    sched = enrolment_schedule(design)
    parts = [
        _draw_block(design, scenario, sched, n, np.random.default_rng(ss))
        for ss, n in zip(seeds, sizes, strict=True)
    ]
    oc = _concat(parts)
    n_sims = oc.active.shape[0]
    r_count = len(design.regimens)
    ctx = _context(design, sched, oc)
    t = np.asarray(design.visit_weeks) * WEEKS_TO_MONTHS
    events = sorted(
        (lt, r, i == len(lk) - 1) for r, lk in enumerate(sched.looks) for i, lt in enumerate(lk)
    )
    stop_time = np.full((n_sims, r_count), np.inf)
    best = np.full((n_sims, r_count), -np.inf)
    suc_c = math.log(design.success.drr)
    fq = design.frequentist
    fut = design.futility
    fut_z: list[float] = []
    if fq is not None and fq.futility_p:
        fut_z = [float(special.ndtri(1.0 - p)) for p in fq.futility_p]
    look_no = np.zeros(r_count, dtype=np.int64)
    for when in sorted({e[0] for e in events}):
        here = [(r, fin) for (lt, r, fin) in events if lt == when]
        enrolled = sched.enrol_month[None, :] <= stop_time[:, sched.regimen]
        k_cal = np.searchsorted(t, when - sched.enrol_month + 1e-9, side="right")
        k_obs = np.where(enrolled, np.minimum(k_cal[None, :], oc.k_surv), 0)
        surv = None
        if fq is None:  # as in simulate: Bayesian designs also use the deaths
            surv = _event_stats(oc, enrolled, when - sched.enrol_month[None, :], float(t[-1]))
        est, se = _analyse(design, ctx, oc, k_obs, surv)
        for r, is_final in here:
            live = np.isinf(stop_time[:, r])
            e_r, s_r = est[:, r], se[:, r]
            valid = np.isfinite(e_r) & np.isfinite(s_r)
            s_safe = np.where(valid, s_r, 1.0)
            if fq is not None:
                stat = np.where(valid, -e_r / s_safe, -np.inf)
                eligible = is_final
            else:
                stat = np.where(valid, _norm_cdf((suc_c - e_r) / s_safe), -np.inf)
                eligible = is_final or design.success.early
            if eligible:
                best[:, r] = np.where(live, np.maximum(best[:, r], stat), best[:, r])
            lose = np.zeros(n_sims, dtype=bool)
            if not is_final:
                if fq is not None and fut_z:
                    zc = fut_z[min(int(look_no[r]), len(fut_z) - 1)]
                    lose = live & valid & (stat < zc)
                elif fq is None and fut is not None:
                    p_fut = _norm_cdf((math.log(fut.drr) - e_r) / s_safe)
                    lose = live & valid & (p_fut < fut.threshold)
            look_no[r] += 1
            stop_time[lose | (live & is_final), r] = when
    return best


def success_statistics(
    design: PlatformDesign,
    scenario: str | Scenario,
    *,
    n_sims: int,
    seed: int = 0,
    backend: str = "local",
    n_workers: int | None = 1,
) -> FloatArray:
    """Per simulated trial and regimen, the largest success statistic it could act on.

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
    if design.has_subgroups or design.outcomes.source != "parametric":
        raise TrialDesignError(
            "design: calibration supports the parametric outcome model and a fixed enrolment "
            "schedule (no subgroup-restricted regimens, outcomes.source: parametric)"
        )
    sc = design.scenario(scenario) if isinstance(scenario, str) else scenario
    seeds, sizes = spawn_blocks(n_sims, seed, BLOCK_SIZE)
    n_chunks = max(1, min(len(seeds), round(n_sims / 1000), n_workers or 1))
    chunks = group_blocks(seeds, sizes, n_chunks)
    outs = run_chunks(_chunk_statistics, (design, sc), chunks, backend=backend, n_jobs=n_workers)
    return np.concatenate(outs)


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
        design, scenario, n_sims=n_sims, seed=seed, backend=backend, n_workers=n_workers
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
