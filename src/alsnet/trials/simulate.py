"""Patient-level platform-trial simulation, vectorised across simulated trials.

Model (per simulated trial; all arrays are shaped ``(n_sims, n_patients, ...)``):

- **Enrolment**: a deterministic platform schedule computed once per design
  (:func:`enrolment_schedule`): patients arrive every ``1 / accrual_per_month`` months and go
  to the open regimens (entered, not full) in turn (round robin: equal randomisation rates
  across open regimens, so the earliest regimen fills first). Within a regimen, arms follow
  permuted blocks of ``active + placebo`` (e.g. 3:1), drawn per trial.
- **Subgroup-restricted regimens** (a regimen with ``eligibility``; :func:`random_enrolment`):
  enrolment becomes trial-specific. Patients arrive every ``1 / accrual_per_month`` months
  with traits drawn from the design's ``population`` and are randomised with equal
  probability among the open regimens they are eligible for (none: not enrolled); looks
  follow each trial's own enrolment; a placebo patient of another regimen is a shared
  control of regimen ``r`` only if eligible for ``r`` (and concurrent, under
  ``concurrent``).
- **Outcome source**: the parametric model below, or an
  :class:`~alsnet.trials.outcomes.OutcomeLibrary` of registry-bootstrap or digital-twin
  control courses, resampled per patient (slope change x DRR, event time / hazard DRR).
- **Scenario overrides** (:func:`~alsnet.trials.scenarios.apply_scenario`): accrual,
  dropout, staggered entry months; ``time_trend`` multiplies the slope and death hazard by
  ``1 + time_trend * enrolment month`` (calendar drift).
- **ALSFRS-R**: patient slope ``b_i ~ N(slope_mean * population_slope_r, slope_sd^2)``
  (points/month), multiplied by the scenario's DRR for active patients; observations
  ``y_ij = b_i t_j + e_ij`` with ``e_ij ~ N(0, residual_sd^2)`` at the visit weeks
  (``t_j`` in months; a patient intercept cancels in the slope and is omitted).
- **Death** (or permanent ventilation): exponential with the rate giving
  ``mortality_24w`` at 24 weeks, times the scenario's hazard ratio for active patients
  (with ``outcome.median_survival_months``: Weibull with that median and
  ``survival_shape``, same hazard ratio). **Dropout**: exponential at
  ``dropout_per_month``. Visits after either are missing.
- **Analysis** at each look (calendar time T), using only data observed by T: each patient's
  slope by OLS on their visits (needs >= 2 visits); variance components by moments
  (pooled residual variance; between-patient slope variance from group-centred slopes);
  inverse-variance weighted mean slope of the regimen's active patients and of its controls
  (own placebo, or own plus concurrent shared placebo, or every placebo patient); ``log DRR``
  = log ratio of the means with a delta-method variance. Rule ``nonconcurrent``: the slope
  part is instead a weighted regression of the slopes of every patient on calendar-period
  and active-arm fixed effects (:mod:`alsnet.trials._ncc`). Posterior
  ``log DRR ~ N(estimate, se^2)`` (flat prior), so ``Pr(DRR < c) = Phi((log c - estimate) / se)``.
- **Frequentist decisions** (``design.frequentist``, MAMS designs such as MND-SMART):
  ``z = -log DRR / se``; efficacy when ``z`` crosses the group-sequential bound of the look
  (or, with ``spending: none``, ``z > Phi^-1(1 - alpha)`` at the final look only); futility at
  interim ``k`` when the one-sided p-value exceeds ``futility_p[k]``.
- **Bayesian decisions** (otherwise): at interims stop for futility when
  Pr(DRR < futility.drr) < futility.threshold (and for early success if allowed); at the
  final look success when Pr(DRR < success.drr) > success.threshold.
- A regimen stopped at time T enrols nobody after T; its enrolled patients are still followed
  and still serve as shared controls. Looks are processed per trial in calendar order.
- **Survival stage** (``design.survival_stage``, MND-SMART stage 4; after the looks): a
  regimen that succeeded on ALSFRS-R gets a one-sided log-rank test against its controls
  when they reach the required deaths (:mod:`alsnet.trials._survival_stage`);
  ``p_success`` stays the ALSFRS-R success, ``p_success_survival`` is success on both.

This is a fast approximation of HEALEY's Bayesian shared-parameter model: for Bayesian
designs the slope log-DRR is combined by inverse variance with the log hazard ratio of death
(exponential model on deaths and exposure up to the last scheduled visit), which is the
normal approximation of one DRR scaling both; no calendar-time random walk (rule
``nonconcurrent`` adjusts the slope and the death hazard for calendar periods by fixed
effects instead), no regimen random effects. Reallocation of a
stopped regimen's slots to other regimens is not modelled (the enrolment schedule is fixed).

Reproducibility: the simulations are split into fixed blocks of :data:`BLOCK_SIZE` trials,
each with its own stream from ``numpy.random.SeedSequence(seed).spawn(n_blocks)``; chunks,
processes and backends (:mod:`alsnet.trials.backends`: local processes or Ray) only group
blocks, so results do not depend on ``n_chunks``, ``n_jobs`` or ``backend``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from alsnet.trials import _ncc
from alsnet.trials._errors import TrialDesignError
from alsnet.trials._survival_stage import summarise as _survival_summary
from alsnet.trials._survival_stage import survival_stage as _survival_stage
from alsnet.trials._survival_stage import weibull_death_months
from alsnet.trials.backends import run_blocks
from alsnet.trials.design import WEEKS_TO_MONTHS, OutcomeSpec, PlatformDesign, Scenario
from alsnet.trials.outcomes import OutcomeLibrary
from alsnet.trials.scenarios import apply_scenario

if TYPE_CHECKING:
    from alsnet.cohort import Cohort
    from alsnet.trials.adaptive import AdaptiveDesign, AdaptiveResult, AdaptiveScenario

__all__ = [
    "BLOCK_SIZE",
    "EnrolmentSchedule",
    "SimulationResult",
    "enrolment_schedule",
    "random_enrolment",
    "simulate",
]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Trials per random-number block (fixed, so results do not depend on chunking).
BLOCK_SIZE = 250
_EPS = 1e-9


@dataclass(frozen=True)
class EnrolmentSchedule:
    """Deterministic enrolment of a design.

    Attributes
    ----------
    regimen
        Regimen index of each patient, shape ``(P,)``.
    enrol_month
        Calendar enrolment time of each patient (months), shape ``(P,)``.
    order
        Position of each patient within its regimen (0-based), shape ``(P,)``.
    looks
        Per regimen, the calendar times (months) of its looks; the last one is the final.
    """

    regimen: IntArray
    enrol_month: FloatArray
    order: IntArray
    looks: tuple[tuple[float, ...], ...]


def enrolment_schedule(design: PlatformDesign) -> EnrolmentSchedule:
    """Enrolment times and look times for ``design`` (see the module docstring).

    With subgroup-restricted regimens enrolment is random; the schedule returned is then one
    representative trial (:func:`random_enrolment` with seed 0), in enrolment order.
    """
    if design.has_subgroups:
        enrol, _ = random_enrolment(design, 1, np.random.default_rng(0))
        slots = _slot_schedule(design)
        looks = _trial_looks(design, enrol, slots.regimen)[0]
        by_time = np.argsort(enrol[0], kind="stable")
        return EnrolmentSchedule(
            slots.regimen[by_time],
            enrol[0][by_time],
            slots.order[by_time],
            tuple(tuple(float(x) for x in lk[np.isfinite(lk)]) for lk in looks),
        )
    regs = design.regimens
    r_count = len(regs)
    entry = np.array([r.entry_month for r in regs])
    cap = np.array([r.n for r in regs])
    enrolled = np.zeros(r_count, dtype=np.int64)
    regimen: list[int] = []
    times: list[float] = []
    order: list[int] = []
    dt = 1.0 / design.accrual_per_month
    k = 0
    last = -1
    total = int(cap.sum())
    # one loop step per arriving patient of the (single) design schedule, not per trial
    while len(regimen) < total:
        t = k * dt
        open_ = (entry <= t + 1e-12) & (enrolled < cap)
        if open_.any():
            cand = np.flatnonzero(open_)
            after = cand[cand > last]
            r = int(after[0] if after.size else cand[0])
            last = r
            regimen.append(r)
            times.append(t)
            order.append(int(enrolled[r]))
            enrolled[r] += 1
            k += 1
        else:
            nxt = entry[(entry > t) & (enrolled < cap)].min()
            k = math.ceil(nxt / dt - 1e-9)
    reg_a = np.array(regimen, dtype=np.int64)
    enr_a = np.array(times, dtype=np.float64)
    fu = design.follow_up_months
    every = design.interims.every_weeks * WEEKS_TO_MONTHS
    looks = []
    im = design.interims
    for r in range(r_count):
        enr_r = np.sort(enr_a[reg_a == r])
        done = enr_r + fu
        final = (
            float(done[-1])
            if im.final is None
            else float(enr_r[im.final[0] - 1] + im.final[1] * WEEKS_TO_MONTHS)
        )
        lk: list[float] = []
        fn = design.interims.first_n
        if im.looks is not None:
            lk = sorted(float(enr_r[n - 1] + w * WEEKS_TO_MONTHS) for n, w in im.looks)
            lk = [x for x in lk if x < final]
        elif fn is not None:
            t = float(done[fn - 1])
            while t < final - every / 2:
                lk.append(t)
                if design.interims.max_interims and len(lk) >= design.interims.max_interims:
                    break
                t += every
        lk.append(final)
        looks.append(tuple(lk))
    return EnrolmentSchedule(reg_a, enr_a, np.array(order, dtype=np.int64), tuple(looks))


# ---------------------------------------------------------------------------------- result
_METRICS = (
    "p_success",
    "p_early_futility",
    "mean_n",
    "mean_duration_months",
    "mean_drr",
)
#: Further operating characteristics (with ``*_se``); optional for backward compatibility.
_EXTRA_METRICS = (
    "p_early_success",
    "mean_placebo_n",
    "mean_controls_n",
    "bias_drr",
    "p_success_survival",
    "mean_survival_months",
    "mean_duration_survival_months",
    "mean_survival_deaths",
)


def _empty() -> FloatArray:
    return np.zeros(0)


def _json_float(x: float) -> float | None:
    """``x`` as a float, or None when it is NaN (JSON has no NaN)."""
    v = float(x)
    return None if math.isnan(v) else v


@dataclass(frozen=True)
class SimulationResult:
    """Operating characteristics per regimen, with Monte Carlo standard errors (``*_se``).

    Arrays are indexed like ``regimens``. ``p_success``: probability of success at any look;
    ``p_early_futility``: of stopping for futility at an interim; ``mean_n``: patients
    randomised to the regimen (active + own placebo); ``mean_duration_months``: from the
    regimen's entry to its stopping look; ``mean_drr``: mean estimated DRR at the stopping
    look; ``true_drr``: the scenario's DRR. ``futility_by_look[r][k]`` is
    ``(P(futility stop at interim k), mean estimated DRR of those stops)`` (NaN if none).

    Further: ``p_early_success`` (success at an interim); ``max_n`` (largest number of
    patients randomised to the regimen in any simulated trial; no SE); ``mean_placebo_n``
    (placebo exposure: the regimen's own placebo patients randomised); ``mean_controls_n``
    (placebo patients, own and shared, with >= 2 ALSFRS-R visits in the stopping analysis);
    ``bias_drr`` (``mean_drr - true_drr``; its SE is ``mean_drr_se``); ``outcome_source``.

    With a ``survival_stage`` (MND-SMART stage 4; ``p_success`` stays the ALSFRS-R
    success): ``p_success_survival`` (success on ALSFRS-R and then on survival, one-sided
    log-rank at the control-death trigger); ``mean_survival_months`` (from the regimen's
    entry to the survival data cut, among trials that held it); ``mean_duration_survival_months``
    (entry to the end of the regimen including the survival stage); ``mean_survival_deaths``
    (control deaths at the cut, among trials that held it). Empty arrays otherwise.
    """

    design: str
    scenario: str
    regimens: tuple[str, ...]
    sims: int
    seed: int
    elapsed_s: float
    true_drr: tuple[float, ...]
    p_success: FloatArray
    p_success_se: FloatArray
    p_early_futility: FloatArray
    p_early_futility_se: FloatArray
    mean_n: FloatArray
    mean_n_se: FloatArray
    mean_duration_months: FloatArray
    mean_duration_months_se: FloatArray
    mean_drr: FloatArray
    mean_drr_se: FloatArray
    futility_by_look: tuple[tuple[tuple[float, float], ...], ...] = ()
    p_early_success: FloatArray = field(default_factory=_empty)
    p_early_success_se: FloatArray = field(default_factory=_empty)
    mean_placebo_n: FloatArray = field(default_factory=_empty)
    mean_placebo_n_se: FloatArray = field(default_factory=_empty)
    mean_controls_n: FloatArray = field(default_factory=_empty)
    mean_controls_n_se: FloatArray = field(default_factory=_empty)
    bias_drr: FloatArray = field(default_factory=_empty)
    bias_drr_se: FloatArray = field(default_factory=_empty)
    max_n: FloatArray = field(default_factory=_empty)
    outcome_source: str = "parametric"
    p_success_survival: FloatArray = field(default_factory=_empty)
    p_success_survival_se: FloatArray = field(default_factory=_empty)
    mean_survival_months: FloatArray = field(default_factory=_empty)
    mean_survival_months_se: FloatArray = field(default_factory=_empty)
    mean_duration_survival_months: FloatArray = field(default_factory=_empty)
    mean_duration_survival_months_se: FloatArray = field(default_factory=_empty)
    mean_survival_deaths: FloatArray = field(default_factory=_empty)
    mean_survival_deaths_se: FloatArray = field(default_factory=_empty)

    def _metrics(self) -> tuple[str, ...]:
        extra = tuple(m for m in _EXTRA_METRICS if getattr(self, m).size == len(self.regimens))
        return _METRICS + extra

    def summary(self) -> pd.DataFrame:
        """One row per regimen: true DRR, each metric and its Monte Carlo SE."""
        data: dict[str, Any] = {"regimen": list(self.regimens), "true_drr": list(self.true_drr)}
        for m in self._metrics():
            data[m] = getattr(self, m)
            data[f"{m}_se"] = getattr(self, f"{m}_se")
        if self.max_n.size == len(self.regimens):
            data["max_n"] = self.max_n
        return pd.DataFrame(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (RESULT.json): ``sims``, ``seed``, ``elapsed_s``, ``regimens``."""
        rows = []
        for i, name in enumerate(self.regimens):
            row: dict[str, Any] = {"name": name, "true_drr": float(self.true_drr[i])}
            for m in self._metrics():
                row[m] = _json_float(getattr(self, m)[i])
                row[f"{m}_se"] = _json_float(getattr(self, f"{m}_se")[i])
            if self.max_n.size == len(self.regimens):
                row["max_n"] = _json_float(self.max_n[i])
            if self.futility_by_look:
                row["futility_by_look"] = [
                    {"p": p, "mean_drr": _json_float(d)} for p, d in self.futility_by_look[i]
                ]
            rows.append(row)
        return {
            "design": self.design,
            "scenario": self.scenario,
            "sims": self.sims,
            "seed": self.seed,
            "elapsed_s": self.elapsed_s,
            "outcome_source": self.outcome_source,
            "regimens": rows,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of :meth:`to_dict` (strict JSON: undefined values are ``null``)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def __repr__(self) -> str:
        ps = ", ".join(f"{n}={p:.3f}" for n, p in zip(self.regimens, self.p_success, strict=True))
        return f"SimulationResult({self.design}/{self.scenario}, sims={self.sims}, p_success: {ps})"

    def _repr_html_(self) -> str:
        return str(self.summary().to_html(index=False, float_format=lambda x: f"{x:.4f}"))


# ------------------------------------------------------------------------------- engine
@dataclass(frozen=True)
class _Outcomes:
    """Per-block draws: arms, cumulative visit sums, visits observed before death/dropout."""

    active: BoolArray  # (S, P)
    k_surv: IntArray  # (S, P) visits observed if followed to the end (>= 1)
    cy: FloatArray  # (S, P, V+1) cumulative sums of y over visits
    cty: FloatArray  # (S, P, V+1) cumulative sums of t*y
    cyy: FloatArray  # (S, P, V+1) cumulative sums of y^2
    exit: FloatArray  # (S, P) months from enrolment to death or dropout (inf = neither)
    death: BoolArray  # (S, P) the exit is a death (the trial's event endpoint)
    death_time: FloatArray  # (S, P) months to death even after dropout (inf: none drawn)


def _draw_block(
    design: PlatformDesign,
    scenario: Scenario,
    sched: EnrolmentSchedule,
    n: int,
    rng: np.random.Generator,
    library: OutcomeLibrary | None = None,
    enrol: FloatArray | None = None,
) -> _Outcomes:
    """Arms and outcomes of ``n`` trials; ``enrol`` (S, P) overrides ``sched.enrol_month``."""
    a, p = design.allocation
    bs = a + p
    t = np.asarray(design.visit_weeks) * WEEKS_TO_MONTHS
    n_pat = sched.regimen.size
    # permuted blocks within regimen: arm of a patient = template[permutation[order]]
    max_n = max(r.n for r in design.regimens)
    n_blocks = -(-max_n // bs)
    r_count = len(design.regimens)
    keys = rng.random((n, r_count, n_blocks, bs))
    perm = np.argsort(keys, axis=-1)
    template = np.array([True] * a + [False] * p)
    arms = template[perm].reshape(n, r_count, n_blocks * bs)
    active = arms[:, sched.regimen, sched.order]
    drr = np.asarray(scenario.drr)[sched.regimen]
    hr = np.asarray(scenario.hazard_ratio)[sched.regimen]
    pop = np.asarray(scenario.population_slope)[sched.regimen]
    # calendar-time drift: slope and hazard multiplier by enrolment month
    trend: FloatArray | float = 1.0
    if scenario.time_trend != 0.0:
        e = sched.enrol_month if enrol is None else enrol
        trend = np.maximum(1.0 + scenario.time_trend * np.where(np.isfinite(e), e, 0.0), 0.01)
    out = design.outcome
    drop = -math.log1p(-design.dropout_per_month) if design.dropout_per_month > 0 else 0.0
    if library is None:
        slope = out.slope_mean * pop * trend + out.slope_sd * rng.standard_normal((n, n_pat))
        if out.treatment_effect == "additive":  # shift: mean ratio DRR, SD unchanged
            slope = np.where(active, slope + (drr - 1.0) * out.slope_mean * pop * trend, slope)
        else:
            slope = np.where(active, slope * drr, slope)
        y = slope[:, :, None] * t + out.residual_sd * rng.standard_normal((n, n_pat, t.size))
        lam_death = -math.log1p(-out.mortality_24w) / (24.0 * WEEKS_TO_MONTHS)
        rate_d = lam_death * np.where(active, hr, 1.0) * trend
        rate = rate_d + drop
        if out.median_survival_months is not None:  # long-term Weibull survival model
            death = weibull_death_months(
                rng.exponential(1.0, (n, n_pat)),
                out.median_survival_months,
                out.survival_shape,
                np.where(active, hr, 1.0) * trend,
            )
            with np.errstate(divide="ignore"):
                dropout = rng.exponential(1.0, (n, n_pat)) / drop if drop > 0 else np.inf
            stop = np.minimum(death, dropout)
            is_death = np.broadcast_to(death <= dropout, stop.shape)
        else:
            with np.errstate(divide="ignore"):
                stop = rng.exponential(1.0, (n, n_pat)) / np.maximum(rate, 1e-300)
    else:
        if library.curves.shape[1] != t.size:
            raise ValueError("outcome library was built for other visit weeks")
        idx = rng.integers(0, library.curves.shape[0], (n, n_pat))
        if out.treatment_effect == "additive":  # shift by (DRR - 1) x the library's mean slope
            tc = t - t.mean()
            mean_slope = float(np.mean(library.curves @ tc) / (tc @ tc))
            y = library.curves[idx] * np.asarray(pop * trend)[..., None]
            y += (
                (np.where(active, drr, 1.0) - 1.0)[..., None]
                * mean_slope
                * (pop * trend)[..., None]
                * t
            )
        else:
            mult = pop * trend * np.where(active, drr, 1.0)
            y = library.curves[idx] * np.asarray(mult)[..., None]
        if library.residuals is not None:
            y += library.residuals[rng.integers(0, library.residuals.size, y.shape)]
        elif library.residual_sd > 0:
            y += library.residual_sd * rng.standard_normal(y.shape)
        death = library.event_months[idx] / (np.where(active, hr, 1.0) * trend)
        with np.errstate(divide="ignore"):
            dropout = rng.exponential(1.0, (n, n_pat)) / drop if drop > 0 else np.inf
        stop = np.minimum(death, dropout)
        is_death = np.broadcast_to(death <= dropout, stop.shape)
    k_surv = np.maximum(np.searchsorted(t, stop, side="left"), 1).astype(np.int64)
    zeros = np.zeros((n, n_pat, 1))
    cy = np.concatenate([zeros, np.cumsum(y, axis=-1)], axis=-1)
    cty = np.concatenate([zeros, np.cumsum(t * y, axis=-1)], axis=-1)
    cyy = np.concatenate([zeros, np.cumsum(y * y, axis=-1)], axis=-1)
    if library is None and out.median_survival_months is None:
        # competing risks: the exit is a death with probability rate_d / rate (drawn last,
        # so every earlier draw of the stream is unchanged)
        is_death = rng.random((n, n_pat)) * rate < rate_d
    if library is None and out.median_survival_months is None:  # death known until dropout
        death = np.where(is_death, stop, np.inf)
    stop = np.broadcast_to(stop, (n, n_pat))
    death_time = np.broadcast_to(death, (n, n_pat))
    return _Outcomes(active, k_surv, cy, cty, cyy, stop, is_death, death_time)


def _event_stats(
    oc: _Outcomes, enrolled: BoolArray, since_enrol: FloatArray, follow_up: float
) -> tuple[FloatArray, FloatArray]:
    """Deaths and exposure (months) per patient at a look, shape ``(S, P)`` each.

    Follow-up ends at the last scheduled visit (``follow_up`` months after enrolment).
    """
    window = np.where(enrolled, np.clip(since_enrol, 0.0, follow_up), 0.0)
    exposure = np.minimum(window, oc.exit)
    events = (oc.death & (oc.exit <= window)).astype(np.float64)
    return events, exposure


def _concat(parts: list[_Outcomes]) -> _Outcomes:
    return _Outcomes(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in _Outcomes.__dataclass_fields__)
    )


def _norm_cdf(x: FloatArray) -> FloatArray:
    return np.asarray(special.ndtr(x), dtype=np.float64)


@dataclass(frozen=True)
class _Context:
    """Per-chunk constants of the analysis (independent of the look)."""

    st_over_n: FloatArray  # (V+1,) sum(t)/n for the first k visits
    inv_n: FloatArray  # (V+1,) 1/n (0 for k = 0)
    sxx: FloatArray  # (V+1,) sum((t - mean t)^2)
    inv_sxx: FloatArray  # (V+1,) 1/sxx (0 for k < 2)
    has2: FloatArray  # (V+1,) 1 if k >= 2
    has3: FloatArray  # (V+1,) 1 if k >= 3
    dof: FloatArray  # (V+1,) max(k - 2, 0)
    gidx: IntArray  # (S*P,) flat (trial, regimen x arm) group index
    plc: FloatArray  # (S, P) 1 for placebo patients
    ctrl: FloatArray  # (P, R) control eligibility, or (S, P, R) per trial
    reg_of: IntArray  # (S, P) regimen of each patient
    ncc: _ncc.NccSetup | None = None  # rule nonconcurrent: period-adjusted slope analysis


def _context(
    design: PlatformDesign,
    sched: EnrolmentSchedule,
    oc: _Outcomes,
    ctrl: BoolArray | None = None,
) -> _Context:
    t = np.asarray(design.visit_weeks) * WEEKS_TO_MONTHS
    k = np.arange(t.size + 1)
    ct = np.concatenate([[0.0], np.cumsum(t)])
    ctt = np.concatenate([[0.0], np.cumsum(t * t)])
    n = np.maximum(k, 1).astype(np.float64)
    sxx = ctt - ct * ct / n
    has2 = (k >= 2).astype(np.float64)
    inv_sxx = np.where(k >= 2, 1.0 / np.where(k >= 2, sxx, 1.0), 0.0)
    n_s = oc.active.shape[0]
    n_g = 2 * len(design.regimens)
    grp = sched.regimen[None, :] * 2 + oc.active.astype(np.int64)
    return _Context(
        st_over_n=ct / n,
        inv_n=np.where(k >= 1, 1.0 / n, 0.0),
        sxx=sxx,
        inv_sxx=inv_sxx,
        has2=has2,
        has3=(k >= 3).astype(np.float64),
        dof=np.maximum(k - 2, 0).astype(np.float64),
        gidx=(np.arange(n_s)[:, None] * n_g + grp).ravel(),
        plc=(~oc.active).astype(np.float64),
        ctrl=(_control_masks(design, sched) if ctrl is None else ctrl).astype(np.float64),
        reg_of=np.broadcast_to(sched.regimen[None, :], (n_s, sched.regimen.size)),
    )


def _control_sums(ctx: _Context, *xs: FloatArray) -> list[FloatArray]:
    """Sums of per-patient values ``(S, P)`` over each regimen's eligible controls, ``(S, R)``.

    ``ctx.ctrl`` is ``(P, R)`` (the same controls in every trial) or ``(S, P, R)`` (per-trial
    control eligibility, subgroup regimens); callers mask placebo patients themselves.
    """
    if ctx.ctrl.ndim == 2:
        # einsum, not BLAS matmul: BLAS picks kernels by matrix shape, so sums would depend
        # on the chunking at the last bit and break seed-for-seed invariance
        return [np.einsum("sp,pr->sr", x, ctx.ctrl) for x in xs]
    return [np.einsum("sp,spr->sr", x, ctx.ctrl) for x in xs]


def _group_sums(ctx: _Context, x: FloatArray, n_s: int, n_g: int) -> FloatArray:
    out = np.bincount(ctx.gidx, weights=x.ravel(), minlength=n_s * n_g)
    return np.asarray(out, dtype=np.float64).reshape(n_s, n_g)


def _analyse(
    design: PlatformDesign,
    ctx: _Context,
    oc: _Outcomes,
    k_obs: IntArray,
    surv: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Estimated log DRR and its SE per trial and regimen, shape ``(S, R)`` each.

    The slope part compares precision-weighted mean ALSFRS-R slopes (log ratio, delta
    method). With ``surv`` (deaths and exposure per patient, from :func:`_event_stats`)
    the log hazard ratio of death (exponential model; one pseudo-death shared between the
    arms in proportion to exposure) is combined with it by inverse-variance weighting: the
    normal approximation of one DRR scaling both the slope and the hazard, as in HEALEY's
    shared-parameter model.
    """
    k = k_obs
    n_s, n_p = k.shape
    r_count = len(design.regimens)
    n_g = 2 * r_count
    flat = np.arange(n_s * n_p) * oc.cy.shape[-1] + k.ravel()
    sy = oc.cy.reshape(-1)[flat].reshape(n_s, n_p)
    sty = oc.cty.reshape(-1)[flat].reshape(n_s, n_p)
    syy = oc.cyy.reshape(-1)[flat].reshape(n_s, n_p)
    h = ctx.has2[k]
    inv_sxx = ctx.inv_sxx[k]
    sxy = sty - ctx.st_over_n[k] * sy
    s = sxy * inv_sxx  # OLS slope; 0 where fewer than 2 visits
    rss = ctx.has3[k] * (syy - sy * sy * ctx.inv_n[k] - s * sxy)
    dof_sum = ctx.dof[k].sum(axis=1)
    sig_e2 = np.where(
        dof_sum < 1, design.outcome.residual_sd**2, rss.sum(axis=1) / np.maximum(dof_sum, 1.0)
    )
    # between-patient slope variance (DerSimonian-Laird moment estimator on the per-patient
    # OLS slopes, within-patient variances sig_e2 / sxx, group-centred; group = regimen x
    # arm): precise patients (many visits) dominate, so early interims do not collapse it to
    # its floor. Regimen r's value pools r's active arm with every placebo patient
    # (exchangeable under the model): another regimen's effect never leaks into r's standard
    # error (a multiplicative effect shrinks its arm's slope variance; pooling every arm made
    # all SEs too small); the controls' value pools the placebo groups alone.
    e2 = sig_e2[:, None] * inv_sxx  # within-patient variance of the slope (0: no slope)
    v = h * e2
    u = np.where(v > 0, 1.0 / np.where(v > 0, v, 1.0), 0.0)
    g_n = _group_sums(ctx, h, n_s, n_g)
    g_u, g_us, g_uss, g_uu = (_group_sums(ctx, x, n_s, n_g) for x in (u, u * s, u * s * s, u * u))
    g_q = g_uss - g_us * g_us / np.maximum(g_u, _EPS)  # Cochran's Q per group
    g_c = g_u - g_uu / np.maximum(g_u, _EPS)
    g_df = np.maximum(g_n - 1.0, 0.0)
    pq, pc, pdf = (x[:, 0::2].sum(axis=1, keepdims=True) for x in (g_q, g_c, g_df))
    floor = 0.01 * design.outcome.slope_sd**2 + 1e-4
    sig_b2 = np.maximum(  # (S, R): regimen r's active arm
        (g_q[:, 1::2] + pq - g_df[:, 1::2] - pdf) / np.maximum(g_c[:, 1::2] + pc, _EPS), floor
    )
    sig_b2_pl = np.maximum((pq - pdf)[:, 0] / np.maximum(pc[:, 0], _EPS), floor)
    # weights: an active patient with its regimen's variance, a placebo patient with the
    # placebo variance (one weight per patient, whichever regimen it serves as control)
    var_b = np.where(
        ctx.plc > 0, sig_b2_pl[:, None], np.take_along_axis(sig_b2, ctx.reg_of, axis=1)
    )
    w = h / (var_b + e2)
    ws = w * s
    g_w = _group_sums(ctx, w, n_s, n_g)
    g_ws = _group_sums(ctx, ws, n_s, n_g)
    wa = g_w[:, 1::2]
    ma = g_ws[:, 1::2] / np.maximum(wa, _EPS)
    wp, wsp = _control_sums(ctx, w * ctx.plc, ws * ctx.plc)
    mp = wsp / np.maximum(wp, _EPS)
    ok = (wa > 0) & (wp > 0)
    # slopes are negative; clip so the log is defined (a non-declining mean is rare)
    est = np.log(np.maximum(-ma, 1e-3)) - np.log(np.maximum(-mp, 1e-3))
    var = 1.0 / np.maximum(wa, _EPS) / np.maximum(ma * ma, 1e-6) + 1.0 / np.maximum(
        wp, _EPS
    ) / np.maximum(mp * mp, 1e-6)
    if ctx.ncc is not None:  # rule nonconcurrent: all placebo, period-adjusted (_ncc)
        per = _ncc.periods(ctx.ncc, k >= 1)
        est, var, ok = _ncc.slope_log_drr(ctx.ncc, s, w, per)
    if surv is not None:
        ev, expo = surv
        d_a = _group_sums(ctx, ev, n_s, n_g)[:, 1::2]
        t_a = _group_sums(ctx, expo, n_s, n_g)[:, 1::2]
        d_p, t_p = _control_sums(ctx, ev * ctx.plc, expo * ctx.plc)
        has_t = (t_a > 0) & (t_p > 0) & (d_a + d_p > 0)
        # one pseudo-death shared in proportion to exposure: no bias towards either arm
        # under unequal allocation (a fixed 0.5 per arm would favour the larger arm)
        c_a = t_a / np.maximum(t_a + t_p, _EPS)
        da, dp = d_a + c_a, d_p + (1.0 - c_a)
        da, dp = np.maximum(da, _EPS), np.maximum(dp, _EPS)  # only where an arm is empty
        log_hr = np.log(da / np.maximum(t_a, _EPS)) - np.log(dp / np.maximum(t_p, _EPS))
        prec_h = np.where(has_t, 1.0 / (1.0 / da + 1.0 / dp), 0.0)
        if ctx.ncc is not None:  # piecewise-exponential hazard with period effects (_ncc)
            log_hr, prec_h, has_t = _ncc.hazard_log_hr(ctx.ncc, ev, expo, per)
        prec_s = 1.0 / np.maximum(var, _EPS)
        est = (est * prec_s + np.where(has_t, log_hr, 0.0) * prec_h) / (prec_s + prec_h)
        var = 1.0 / (prec_s + prec_h)
    se = np.where(ok, np.sqrt(var), np.nan)
    return np.where(ok, est, np.nan), se


def _control_masks(design: PlatformDesign, sched: EnrolmentSchedule) -> BoolArray:
    """Which patients may serve as controls of each regimen, shape ``(P, R)``."""
    r_count = len(design.regimens)
    own = sched.regimen[:, None] == np.arange(r_count)[None, :]
    if design.control_sharing.rule == "own":
        return own
    if design.control_sharing.rule == "all":
        return np.ones_like(own)
    wmo = design.control_sharing.window_months
    lo = np.array([sched.enrol_month[sched.regimen == r].min() for r in range(r_count)])
    hi = np.array([sched.enrol_month[sched.regimen == r].max() for r in range(r_count)])
    e = sched.enrol_month[:, None]
    return own | ((e >= lo[None, :] - wmo - 1e-9) & (e <= hi[None, :] + wmo + 1e-9))


def _slot_schedule(design: PlatformDesign) -> EnrolmentSchedule:
    """Fixed patient slots (regimen, order) for trial-specific (random) enrolment."""
    ns = [r.n for r in design.regimens]
    reg = np.repeat(np.arange(len(ns)), ns).astype(np.int64)
    order = np.concatenate([np.arange(k) for k in ns]).astype(np.int64)
    return EnrolmentSchedule(reg, np.zeros(reg.size), order, ())


def _eligible(design: PlatformDesign, n: int, m: int, rng: np.random.Generator) -> BoolArray:
    """Draw ``n x m`` patients' traits; eligibility for each regimen, shape ``(n, m, R)``."""
    vals: dict[str, Any] = {}
    for tr in design.population:
        if tr.kind == "binary":
            vals[tr.name] = (rng.random((n, m)) < tr.p).astype(np.int64)
        elif tr.kind == "categorical":
            cum = np.cumsum(tr.probs)
            cum[-1] = np.inf
            vals[tr.name] = np.searchsorted(cum, rng.random((n, m)), side="right")
        else:
            vals[tr.name] = tr.mean + tr.sd * rng.standard_normal((n, m))
    traits = {t.name: t for t in design.population}
    out = np.ones((n, m, len(design.regimens)), dtype=bool)
    for r, reg in enumerate(design.regimens):
        for name, crit in reg.eligibility:
            v = vals[name]
            tr = traits[name]
            if tr.kind == "binary":
                ok = v == crit
            elif tr.kind == "categorical":
                ok = np.isin(v, [tr.categories.index(c) for c in crit])
            else:
                ok = (v >= crit[0]) & (v <= crit[1])
            out[:, :, r] &= ok
    return out


def random_enrolment(
    design: PlatformDesign, n: int, rng: np.random.Generator
) -> tuple[FloatArray, BoolArray]:
    """Trial-specific enrolment of a design with subgroup-restricted regimens.

    Patients arrive every ``1 / accrual_per_month`` months with traits drawn from
    ``design.population``; each is randomised with equal probability among the open regimens
    (entered and not full) they are eligible for, and is not enrolled when there is none
    (screen failure). One loop step per arrival, vectorised over the ``n`` trials.

    Returns
    -------
    enrol : ndarray, shape (n, P)
        Enrolment month of each slot of :func:`_slot_schedule` (regimen-major order).
    eligible : ndarray, shape (n, P, R)
        Whether the patient in each slot could enter each regimen (shared-control rule).
    """
    regs = design.regimens
    r_count = len(regs)
    cap = np.array([r.n for r in regs])
    entry = np.array([r.entry_month for r in regs])
    n_max = int(cap.max())
    dt = 1.0 / design.accrual_per_month
    frac = np.array([design.eligible_fraction(i) for i in range(r_count)])
    k_max = int(2.0 * np.sum(cap / frac) + entry.max() / dt + 100)
    count = np.zeros((n, r_count), dtype=np.int64)
    enrol = np.full((n, r_count, n_max), np.inf)
    elig_slot = np.zeros((n, r_count, n_max, r_count), dtype=bool)
    batch = 512
    rows = np.arange(n)
    k = 0
    el_b = np.zeros((n, 0, r_count), dtype=bool)
    u_b = np.zeros((n, 0))
    while not (count >= cap).all():
        if k >= k_max:
            worst = int(np.argmin((count / cap).min(axis=0)))
            raise TrialDesignError(
                f"regimens[{worst}].eligibility: regimen {regs[worst].name!r} not filled after "
                f"{k_max} arrivals (eligible fraction {frac[worst]:.3g})"
            )
        j = k % batch
        if j == 0:
            el_b = _eligible(design, n, batch, rng)
            u_b = rng.random((n, batch))
        t = k * dt
        cand = el_b[:, j] & (entry <= t + 1e-12) & (count < cap)
        n_c = cand.sum(axis=1)
        who = n_c > 0
        if who.any():
            pick = np.argmax(np.cumsum(cand, axis=1) > (u_b[:, j] * n_c)[:, None], axis=1)
            s_i, r_i = rows[who], pick[who]
            c_i = count[s_i, r_i]
            enrol[s_i, r_i, c_i] = t
            elig_slot[s_i, r_i, c_i] = el_b[who, j]
            count[s_i, r_i] += 1
        k += 1
    slots = _slot_schedule(design)
    return enrol[:, slots.regimen, slots.order], elig_slot[:, slots.regimen, slots.order]


def _trial_looks(design: PlatformDesign, enrol: FloatArray, regimen: IntArray) -> FloatArray:
    """Look times per trial and regimen from trial-specific enrolment, ``(S, R, K)``, inf-padded."""
    im = design.interims
    fu = design.follow_up_months
    every = im.every_weeks * WEEKS_TO_MONTHS
    per_reg = []
    for r in range(len(design.regimens)):
        e = enrol[:, regimen == r]  # (S, n_r), increasing
        final = (
            e[:, -1] + fu
            if im.final is None
            else e[:, im.final[0] - 1] + im.final[1] * (WEEKS_TO_MONTHS)
        )
        if im.looks is not None:
            lk = np.sort(
                np.stack([e[:, n - 1] + w * WEEKS_TO_MONTHS for n, w in im.looks], axis=1), axis=1
            )
            lk = np.where(lk < final[:, None], lk, np.inf)
        elif im.first_n is not None:
            first = e[:, im.first_n - 1] + fu
            k_n = int(np.nanmax(np.ceil((final - first) / every))) + 1
            if im.max_interims:
                k_n = min(k_n, im.max_interims)
            lk = first[:, None] + every * np.arange(max(k_n, 0))[None, :]
            lk = np.where(lk < (final - every / 2)[:, None], lk, np.inf)
        else:
            lk = np.zeros((e.shape[0], 0))
        lk = np.sort(lk, axis=1)
        n_int = np.isfinite(lk).sum(axis=1)
        full = np.concatenate([lk, np.full((e.shape[0], 1), np.inf)], axis=1)
        full[np.arange(e.shape[0]), n_int] = final
        per_reg.append(full)
    k_all = max(x.shape[1] for x in per_reg)
    return np.stack(
        [np.pad(x, ((0, 0), (0, k_all - x.shape[1])), constant_values=np.inf) for x in per_reg],
        axis=1,
    )


def _trial_controls(
    design: PlatformDesign, enrol: FloatArray, eligible: BoolArray, regimen: IntArray
) -> BoolArray:
    """Per-trial control masks ``(S, P, R)``: own placebo, or eligible (concurrent) placebo."""
    r_count = len(design.regimens)
    own = (regimen[:, None] == np.arange(r_count)[None, :])[None, :, :]
    rule = design.control_sharing.rule
    if rule == "own":
        return np.broadcast_to(own, eligible.shape).copy()
    if rule == "all":
        return own | eligible
    wmo = design.control_sharing.window_months
    lo = np.stack([enrol[:, regimen == r].min(axis=1) for r in range(r_count)], axis=1)
    hi = np.stack([enrol[:, regimen == r].max(axis=1) for r in range(r_count)], axis=1)
    e = enrol[:, :, None]
    conc = (e >= lo[:, None, :] - wmo - 1e-9) & (e <= hi[:, None, :] + wmo + 1e-9)
    return own | (conc & eligible)


def _run_chunk(
    design: PlatformDesign,
    scenario: Scenario,
    library: OutcomeLibrary | None,
    success_stat: bool,
    seeds: list[np.random.SeedSequence],
    sizes: list[int],
) -> dict[str, FloatArray]:
    """Simulate the blocks ``seeds`` (sizes ``sizes``); per-trial outcomes, shape ``(S, R)``.

    Looks are processed per trial in calendar order (event ``j`` of every trial at once);
    with a deterministic schedule every trial has the same sequence of looks.

    With ``success_stat`` (threshold calibration, :mod:`alsnet.trials.calibrate`) success
    never stops a regimen and the only output is ``"success_stat"``: per trial and regimen
    the largest statistic the success rule compares with its threshold (``Pr(DRR <
    success.drr)``, or ``z`` for frequentist designs) over the looks at which success may be
    declared while the regimen was running (``-inf``: none).
    """
    r_count = len(design.regimens)
    random_enrol = design.has_subgroups
    if random_enrol:
        sched = _slot_schedule(design)
        parts, enrols, eligs = [], [], []
        for ss, n in zip(seeds, sizes, strict=True):
            rng = np.random.default_rng(ss)
            e_b, el_b = random_enrolment(design, n, rng)
            parts.append(_draw_block(design, scenario, sched, n, rng, library, e_b))
            enrols.append(e_b)
            eligs.append(el_b)
        oc = _concat(parts)
        enrol = np.concatenate(enrols)
        ctrl: BoolArray | None = _trial_controls(
            design, enrol, np.concatenate(eligs), sched.regimen
        )
        look_t = _trial_looks(design, enrol, sched.regimen)
    else:
        sched = enrolment_schedule(design)
        parts = [
            _draw_block(design, scenario, sched, n, np.random.default_rng(ss), library)
            for ss, n in zip(seeds, sizes, strict=True)
        ]
        oc = _concat(parts)
        n_s0 = oc.active.shape[0]
        enrol = np.broadcast_to(sched.enrol_month, (n_s0, sched.enrol_month.size))
        ctrl = None
        k_all = max(len(lk) for lk in sched.looks)
        look_t = np.full((n_s0, r_count, k_all), np.inf)
        for r, lk in enumerate(sched.looks):
            look_t[:, r, : len(lk)] = lk
    n_sims = oc.active.shape[0]
    ctx = _context(design, sched, oc, ctrl)
    cs = design.control_sharing
    if cs.rule == "nonconcurrent":
        nsu = _ncc.setup(sched.regimen, oc.active, enrol, r_count, cs.period_months)
        ctx = dataclasses.replace(ctx, ncc=nsu)
    t = np.asarray(design.visit_weeks) * WEEKS_TO_MONTHS
    # per trial: events sorted by calendar time (regimen, look index, final?)
    n_looks = np.isfinite(look_t).sum(axis=2)  # (S, R)
    k_all = look_t.shape[2]
    ev_t = look_t.reshape(n_sims, -1)
    ev_r = np.repeat(np.arange(r_count), k_all)[None, :].repeat(n_sims, axis=0)
    ev_k = np.tile(np.arange(k_all), r_count)[None, :].repeat(n_sims, axis=0)
    order = np.argsort(ev_t, axis=1, kind="stable")
    ev_t = np.take_along_axis(ev_t, order, axis=1)
    ev_r = np.take_along_axis(ev_r, order, axis=1)
    ev_k = np.take_along_axis(ev_k, order, axis=1)
    rows = np.arange(n_sims)
    ev_fin = ev_k == n_looks[rows[:, None], ev_r] - 1
    stop_time = np.full((n_sims, r_count), np.inf)
    success = np.zeros((n_sims, r_count), dtype=bool)
    early_success = np.zeros((n_sims, r_count), dtype=bool)
    futile = np.zeros((n_sims, r_count), dtype=bool)
    drr_hat = np.full((n_sims, r_count), np.nan)
    stop_look = np.full((n_sims, r_count), -1.0)
    n_ctrl = np.full((n_sims, r_count), np.nan)
    best = np.full((n_sims, r_count), -np.inf)
    suc_c = math.log(design.success.drr)
    fut = design.futility
    z_s = float(special.ndtri(design.success.threshold))
    fq = design.frequentist
    if fq is not None:
        eff_tab, fut_tab = _frequentist_tables(design, k_all)
    plc = ctx.plc
    for j in range(ev_t.shape[1]):
        when = ev_t[:, j]
        has = np.isfinite(when)
        if not has.any():
            break
        w_t = np.where(has, when, 0.0)
        rr = ev_r[:, j]
        look = ev_k[:, j]
        is_final = ev_fin[:, j]
        enrolled = enrol <= stop_time[:, sched.regimen]  # (S, P)
        if random_enrol:
            k_cal = np.searchsorted(t, w_t[:, None] - enrol + 1e-9, side="right")  # (S, P)
        else:  # the same look time in every trial
            k_cal = np.searchsorted(t, w_t[0] - sched.enrol_month + 1e-9, side="right")[None, :]
        k_obs = np.where(enrolled, np.minimum(k_cal, oc.k_surv), 0)
        surv = None
        if fq is None:  # Bayesian shared-parameter designs also use the deaths
            surv = _event_stats(oc, enrolled, w_t[:, None] - enrol, float(t[-1]))
        est, se = _analyse(design, ctx, oc, k_obs, surv)
        e_r, s_r = est[rows, rr], se[rows, rr]
        live = has & np.isinf(stop_time[rows, rr])
        valid = np.isfinite(e_r) & np.isfinite(s_r)
        s_safe = np.where(valid, s_r, 1.0)
        lose = np.zeros(n_sims, dtype=bool)
        if fq is not None:
            z = -e_r / s_safe
            k_r = n_looks[rows, rr]
            decide = live & valid & (z > eff_tab[k_r, look])
        else:
            win = valid & ((suc_c - e_r) / s_safe > z_s)
            decide = live & win & (is_final | design.success.early)
        if success_stat:
            # the threshold is applied afterwards: record the statistic, never stop for success
            if fq is not None:
                stat, eligible = z, is_final
            else:
                stat = _norm_cdf((suc_c - e_r) / s_safe)
                eligible = is_final | design.success.early
            upd = np.flatnonzero(live & valid & eligible)
            best[upd, rr[upd]] = np.maximum(best[upd, rr[upd]], stat[upd])
            decide = np.zeros(n_sims, dtype=bool)
        if fq is not None:
            lose = live & valid & ~decide & ~is_final & (z < fut_tab[k_r, look])
        elif fut is not None:
            p_fut = _norm_cdf((math.log(fut.drr) - e_r) / s_safe)
            lose = live & valid & ~decide & ~is_final & (p_fut < fut.threshold)
        stopping = decide | lose | (live & is_final)
        i = np.flatnonzero(stopping)
        ri = rr[i]
        success[i[decide[i]], ri[decide[i]]] = True
        early_success[i[decide[i] & ~is_final[i]], ri[decide[i] & ~is_final[i]]] = True
        futile[i[lose[i]], ri[lose[i]]] = True
        stop_time[i, ri] = when[i]
        drr_hat[i, ri] = np.exp(e_r[i])
        stop_look[i, ri] = look[i]
        used = plc * (k_obs >= 2)
        if ctx.ncc is None:
            (nc,) = _control_sums(ctx, used)
        else:  # placebo patients linked to the regimen's periods (_ncc)
            nc = _ncc.control_counts(ctx.ncc, k_obs >= 2, _ncc.periods(ctx.ncc, k_obs >= 1))
        n_ctrl[i, ri] = nc[i, ri]
    if success_stat:
        return {"success_stat": best}
    entry = np.array([rg.entry_month for rg in design.regimens])
    onehot = (sched.regimen[:, None] == np.arange(r_count)[None, :]).astype(np.float64)
    in_trial = (enrol <= stop_time[:, sched.regimen]).astype(np.float64)
    surv_out: dict[str, FloatArray] = {}
    if design.survival_stage is not None:  # event-driven survival test after ALSFRS-R success
        surv_out = _survival_stage(
            design.survival_stage,
            exit_months=oc.exit if design.survival_stage.censor_at_dropout else oc.death_time,
            death=oc.death
            if design.survival_stage.censor_at_dropout
            else np.isfinite(oc.death_time),
            active=oc.active,
            enrol=enrol,
            regimen=sched.regimen,
            controls=ctx.ctrl,
            stop_time=stop_time,
            success=success,
            entry=entry,
        )
    return surv_out | {
        "success": success.astype(np.float64),
        "early_success": early_success.astype(np.float64),
        "futile": futile.astype(np.float64),
        "n": in_trial @ onehot,
        "n_placebo": (in_trial * plc) @ onehot,
        "n_controls": n_ctrl,
        "duration": stop_time - entry[None, :],
        "drr": drr_hat,
        "look": stop_look,
    }


def _frequentist_tables(design: PlatformDesign, k_max: int) -> tuple[FloatArray, FloatArray]:
    """Efficacy and futility z bounds indexed ``[number of looks, look]`` (``(K+1, K)``)."""
    eff = np.full((k_max + 1, k_max), np.inf)
    fut = np.full((k_max + 1, k_max), -np.inf)
    for k in range(1, k_max + 1):
        e_k, f_k = _frequentist_bounds(
            design,
            EnrolmentSchedule(
                np.zeros(0, dtype=np.int64),
                np.zeros(0),
                np.zeros(0, dtype=np.int64),
                (tuple(range(k)),),
            ),
        )
        eff[k, :k] = e_k[0]
        fut[k, :k] = f_k[0]
    return eff, fut


def _frequentist_bounds(
    design: PlatformDesign, sched: EnrolmentSchedule
) -> tuple[list[list[float]], list[list[float]]]:
    """Per regimen and look: efficacy z bound and futility z bound (``-inf``: none)."""
    from alsnet.trials.boundaries import gs_bounds

    fq = design.frequentist
    assert fq is not None
    eff: list[list[float]] = []
    fut: list[list[float]] = []
    for lk in sched.looks:
        k = len(lk)
        if fq.spending == "none" or k == 1:
            z_fin = float(special.ndtri(1.0 - fq.alpha))
            eff.append([math.inf] * (k - 1) + [z_fin])
        else:
            eff.append([float(x) for x in gs_bounds(k, alpha=fq.alpha, spending=fq.spending).z])
        fp = fq.futility_p
        fut.append(
            [
                float(special.ndtri(1.0 - fp[min(i, len(fp) - 1)])) if fp else -math.inf
                for i in range(k)
            ]
        )
    return eff, fut


def _futility_by_look(
    res: dict[str, FloatArray], sched: EnrolmentSchedule
) -> tuple[tuple[tuple[float, float], ...], ...]:
    """Per regimen and interim: P(futility stop there) and mean estimated DRR of those stops."""
    out = []
    for r, lk in enumerate(sched.looks):
        rows = []
        for k in range(len(lk) - 1):
            hit = (res["futile"][:, r] > 0) & (res["look"][:, r] == k)
            d = float(np.mean(res["drr"][hit, r])) if hit.any() else float("nan")
            rows.append((float(hit.mean()), d))
        out.append(tuple(rows))
    return tuple(out)


def _mean_se(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    n = np.sum(np.isfinite(x), axis=0)
    m = np.nanmean(x, axis=0) if np.all(n > 0) else np.full(x.shape[1], np.nan)
    sd = np.nanstd(x, axis=0, ddof=1) if np.all(n > 1) else np.full(x.shape[1], np.nan)
    return np.asarray(m, dtype=np.float64), np.asarray(sd / np.sqrt(np.maximum(n, 1)))


@overload
def simulate(
    design: PlatformDesign,
    scenario: str | Scenario,
    *,
    n_sims: int = ...,
    seed: int = ...,
    n_chunks: int | None = ...,
    backend: str = ...,
    n_jobs: int | None = ...,
    n_workers: int | None = ...,
    outcome_source: str | OutcomeLibrary | None = ...,
    cohort: Cohort | None = ...,
    twin: Any = ...,
) -> SimulationResult: ...


@overload
def simulate(
    design: AdaptiveDesign,
    scenario: str | AdaptiveScenario,
    *,
    n_sims: int = ...,
    seed: int = ...,
    n_chunks: int | None = ...,
    backend: str = ...,
    n_jobs: int | None = ...,
    n_workers: int | None = ...,
    outcome_source: str | OutcomeLibrary | None = ...,
    cohort: Cohort | None = ...,
    twin: Any = ...,
) -> AdaptiveResult: ...


@overload
def simulate(
    design: PlatformDesign | AdaptiveDesign,
    scenario: str,
    *,
    n_sims: int = ...,
    seed: int = ...,
    n_chunks: int | None = ...,
    backend: str = ...,
    n_jobs: int | None = ...,
    n_workers: int | None = ...,
    outcome_source: str | OutcomeLibrary | None = ...,
    cohort: Cohort | None = ...,
    twin: Any = ...,
) -> SimulationResult | AdaptiveResult: ...


def simulate(
    design: PlatformDesign | AdaptiveDesign,
    scenario: str | Scenario | AdaptiveScenario,
    *,
    n_sims: int = 1000,
    seed: int = 0,
    n_chunks: int | None = None,
    backend: str = "local",
    n_jobs: int | None = None,
    n_workers: int | None = None,
    outcome_source: str | OutcomeLibrary | None = None,
    cohort: Cohort | None = None,
    twin: Any = None,
    sims: int | None = None,
) -> SimulationResult | AdaptiveResult:
    """Simulate ``n_sims`` platform trials under ``scenario`` and summarise per regimen.

    An :class:`~alsnet.trials.adaptive.AdaptiveDesign` (e.g. ``adaptr-readme``) is simulated
    by :func:`~alsnet.trials.adaptive.simulate_adaptive` and gives an
    :class:`~alsnet.trials.adaptive.AdaptiveResult`.

    Parameters
    ----------
    design
        The platform design.
    scenario
        A scenario of ``design`` (by name) or a :class:`~alsnet.trials.design.Scenario`.
    n_sims
        Number of simulated trials.
    seed
        Root seed; block ``b`` uses ``SeedSequence(seed).spawn(n_blocks)[b]``.
    n_chunks
        Number of chunks the blocks are grouped into (memory vs speed; default: about 1,000
        trials per chunk, at least one per job). Does not change the results.
    backend
        ``"local"`` (processes on this machine) or ``"ray"`` (Ray tasks; a local Ray
        instance unless ``RAY_ADDRESS`` names a cluster). See :mod:`alsnet.trials.backends`.
        Does not change the results.
    n_jobs
        Parallel workers (default: every available core). Does not change the results.
    n_workers
        Deprecated alias of ``n_jobs``.
    outcome_source
        ``"parametric"``, ``"bootstrap"``, ``"twin"`` or a prepared
        :class:`~alsnet.trials.outcomes.OutcomeLibrary` (default: the design's
        ``outcomes.source``). See :mod:`alsnet.trials.outcomes`.
    cohort
        Registry cohort for the ``bootstrap`` and ``twin`` sources (default: the synthetic
        cohort of the design's ``outcomes`` block).
    twin
        Fitted digital twin for the ``twin`` source (default: a
        :class:`~alsnet.twin.TwinModel` fitted on ``cohort``).
    sims
        Alias of ``n_sims``.

    Returns
    -------
    SimulationResult

    Examples
    --------
    >>> from alsnet.trials import load_design, simulate
    >>> res = simulate(load_design("healey"), "slow30", n_sims=250, seed=1)
    >>> res.regimens, res.true_drr
    (('A', 'B', 'C'), (0.7, 1.0, 1.0))
    >>> bool(res.p_success[0] > 0.5 > res.p_success[1])
    True
    >>> sorted(res.to_dict())
    ['design', 'elapsed_s', 'outcome_source', 'regimens', 'scenario', 'seed', 'sims']
    """
    if n_jobs is None and n_workers is not None:
        n_jobs = n_workers
    if sims is not None:
        n_sims = sims
    if not isinstance(design, PlatformDesign):
        from alsnet.trials.adaptive import simulate_adaptive

        if isinstance(scenario, Scenario):
            raise TypeError("an adaptive design needs an AdaptiveScenario or a scenario name")
        return simulate_adaptive(
            design,
            scenario,
            n_sims=n_sims,
            seed=seed,
            backend=backend,
            n_jobs=n_jobs,
            n_chunks=n_chunks,
        )
    if n_sims < 2:
        raise ValueError("n_sims must be >= 2")
    if not isinstance(scenario, str | Scenario):
        raise TypeError("a platform design needs a Scenario or a scenario name")
    t0 = time.perf_counter()
    design, sc, library = _prepare(design, scenario, outcome_source, cohort, twin)
    res = _simulate_trials(design, sc, library, n_sims, seed, n_chunks, backend, n_jobs)
    elapsed = time.perf_counter() - t0
    log.info("simulated %d trials of %s/%s in %.2f s", n_sims, design.name, sc.name, elapsed)
    ps, ps_se = _mean_se(res["success"])
    pf, pf_se = _mean_se(res["futile"])
    mn, mn_se = _mean_se(res["n"])
    md, md_se = _mean_se(res["duration"])
    mdrr, mdrr_se = _mean_se(res["drr"])
    pes, pes_se = _mean_se(res["early_success"])
    mpl, mpl_se = _mean_se(res["n_placebo"])
    mct, mct_se = _mean_se(res["n_controls"])
    true = np.asarray(sc.drr, dtype=np.float64)
    fbl: tuple[tuple[tuple[float, float], ...], ...] = ()
    if not design.has_subgroups:  # look times differ between trials otherwise
        fbl = _futility_by_look(res, enrolment_schedule(design))
    return SimulationResult(
        design=design.name,
        scenario=sc.name,
        regimens=tuple(r.name for r in design.regimens),
        sims=n_sims,
        seed=seed,
        elapsed_s=elapsed,
        true_drr=tuple(float(x) for x in sc.drr),
        p_success=ps,
        p_success_se=ps_se,
        p_early_futility=pf,
        p_early_futility_se=pf_se,
        mean_n=mn,
        mean_n_se=mn_se,
        mean_duration_months=md,
        mean_duration_months_se=md_se,
        mean_drr=mdrr,
        mean_drr_se=mdrr_se,
        futility_by_look=fbl,
        p_early_success=pes,
        p_early_success_se=pes_se,
        mean_placebo_n=mpl,
        mean_placebo_n_se=mpl_se,
        mean_controls_n=mct,
        mean_controls_n_se=mct_se,
        bias_drr=mdrr - true,
        bias_drr_se=mdrr_se,
        max_n=res["n"].max(axis=0),
        outcome_source="parametric" if library is None else library.source,
        **(_survival_summary(res) if "survival_success" in res else {}),
    )


def _prepare(
    design: PlatformDesign,
    scenario: str | Scenario,
    outcome_source: str | OutcomeLibrary | None,
    cohort: Cohort | None,
    twin: Any,
) -> tuple[PlatformDesign, Scenario, OutcomeLibrary | None]:
    """The design with the scenario's overrides applied, the scenario and the outcome library."""
    sc = design.scenario(scenario) if isinstance(scenario, str) else scenario
    if len(sc.drr) != len(design.regimens):
        raise TrialDesignError(f"scenario {sc.name}: needs one DRR per regimen")
    library = _resolve_library(design, outcome_source, cohort, twin)
    return apply_scenario(design, sc), sc, library


def _simulate_trials(
    design: PlatformDesign,
    sc: Scenario,
    library: OutcomeLibrary | None,
    n_sims: int,
    seed: int,
    n_chunks: int | None,
    backend: str,
    n_jobs: int | None,
    success_stat: bool = False,
) -> dict[str, FloatArray]:
    """Per-trial outputs of :func:`_run_chunk` for ``n_sims`` trials, shape ``(n_sims, R)`` each.

    ``design`` and ``sc`` come from :func:`_prepare`. The blocks of :data:`BLOCK_SIZE` trials
    are grouped into ``n_chunks`` chunks (default: about 1,000 trials per chunk, at least one
    per job); the results do not depend on the grouping, the backend or the jobs.
    """
    return run_blocks(
        _run_chunk,
        (design, sc, library, success_stat),
        n_sims,
        seed,
        BLOCK_SIZE,
        n_chunks=n_chunks,
        trials_per_chunk=1000,
        backend=backend,
        n_jobs=n_jobs,
    )


def _resolve_library(
    design: PlatformDesign,
    source: str | OutcomeLibrary | None,
    cohort: Cohort | None,
    twin: Any,
) -> OutcomeLibrary | None:
    """The outcome library of the requested source (None: parametric)."""
    if isinstance(source, OutcomeLibrary):
        return source
    name = design.outcomes.source if source is None else source
    if name == "parametric":
        return None
    if name not in ("bootstrap", "twin"):
        raise TrialDesignError(
            f"outcome_source: must be parametric, bootstrap, twin or an OutcomeLibrary, "
            f"got {name!r}"
        )
    from alsnet.trials import outcomes

    if cohort is None and twin is None:
        spec = dataclasses.replace(
            design,
            outcomes=OutcomeSpec(
                source=name,
                cohort_n=design.outcomes.cohort_n,
                cohort_seed=design.outcomes.cohort_seed,
            ),
        )
        return outcomes.library_for(spec)
    if cohort is None:
        raise TrialDesignError("outcome_source: a twin needs the cohort whose patients it draws")
    if name == "bootstrap":
        return outcomes.bootstrap_library(cohort, design)
    if twin is None:
        from alsnet.twin import TwinModel

        twin = TwinModel(random_state=design.outcomes.cohort_seed).fit(cohort)
    return outcomes.twin_library(twin, cohort, design, seed=design.outcomes.cohort_seed)
