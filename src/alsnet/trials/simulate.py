"""Patient-level platform-trial simulation, vectorised across simulated trials.

Model (per simulated trial; all arrays are shaped ``(n_sims, n_patients, ...)``):

- **Enrolment**: a deterministic platform schedule computed once per design
  (:func:`enrolment_schedule`): patients arrive every ``1 / accrual_per_month`` months and go
  to the open regimens (entered, not full) in turn (round robin: equal randomisation rates
  across open regimens, so the earliest regimen fills first). Within a regimen, arms follow
  permuted blocks of ``active + placebo`` (e.g. 3:1), drawn per trial.
- **ALSFRS-R**: patient slope ``b_i ~ N(slope_mean * population_slope_r, slope_sd^2)``
  (points/month), multiplied by the scenario's DRR for active patients; observations
  ``y_ij = b_i t_j + e_ij`` with ``e_ij ~ N(0, residual_sd^2)`` at the visit weeks
  (``t_j`` in months; a patient intercept cancels in the slope and is omitted).
- **Death** (or permanent ventilation): exponential with the rate giving
  ``mortality_24w`` at 24 weeks, times the scenario's hazard ratio for active patients.
  **Dropout**: exponential at ``dropout_per_month``. Visits after either are missing.
- **Analysis** at each look (calendar time T), using only data observed by T: each patient's
  slope by OLS on their visits (needs >= 2 visits); variance components by moments
  (pooled residual variance; between-patient slope variance from group-centred slopes);
  inverse-variance weighted mean slope of the regimen's active patients and of its controls
  (own placebo, or own plus concurrent shared placebo); ``log DRR`` = log ratio of the means
  with a delta-method variance; posterior ``log DRR ~ N(estimate, se^2)`` (flat prior), so
  ``Pr(DRR < c) = Phi((log c - estimate) / se)``.
- **Frequentist decisions** (``design.frequentist``, MAMS designs such as MND-SMART):
  ``z = -log DRR / se``; efficacy when ``z`` crosses the group-sequential bound of the look
  (or, with ``spending: none``, ``z > Phi^-1(1 - alpha)`` at the final look only); futility at
  interim ``k`` when the one-sided p-value exceeds ``futility_p[k]``.
- **Bayesian decisions** (otherwise): at interims stop for futility when
  Pr(DRR < futility.drr) < futility.threshold (and for early success if allowed); at the
  final look success when Pr(DRR < success.drr) > success.threshold.
- A regimen stopped at time T enrols nobody after T; its enrolled patients are still followed
  and still serve as shared controls.

This is a fast approximation of HEALEY's Bayesian shared-parameter model (no calendar-time
random walk, no regimen random effects, no survival component in the DRR estimate, no
non-concurrent controls). Reallocation of a stopped regimen's slots to other regimens is not
modelled (the enrolment schedule is fixed).

Reproducibility: the simulations are split into fixed blocks of :data:`BLOCK_SIZE` trials,
each with its own stream from ``numpy.random.SeedSequence(seed).spawn(n_blocks)``; chunks,
processes and backends (:mod:`alsnet.trials.backends`: local processes or Ray) only group
blocks, so results do not depend on ``n_chunks``, ``n_jobs`` or ``backend``.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from alsnet.trials.backends import group_blocks, resolve_jobs, run_chunks, spawn_blocks
from alsnet.trials.design import WEEKS_TO_MONTHS, PlatformDesign, Scenario

if TYPE_CHECKING:
    from alsnet.trials.adaptive import AdaptiveDesign, AdaptiveResult, AdaptiveScenario

__all__ = [
    "BLOCK_SIZE",
    "EnrolmentSchedule",
    "SimulationResult",
    "enrolment_schedule",
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
    """Enrolment times and look times for ``design`` (see the module docstring)."""
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

    def summary(self) -> pd.DataFrame:
        """One row per regimen: true DRR, each metric and its Monte Carlo SE."""
        data: dict[str, Any] = {"regimen": list(self.regimens), "true_drr": list(self.true_drr)}
        for m in _METRICS:
            data[m] = getattr(self, m)
            data[f"{m}_se"] = getattr(self, f"{m}_se")
        return pd.DataFrame(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (RESULT.json): ``sims``, ``seed``, ``elapsed_s``, ``regimens``."""
        rows = []
        for i, name in enumerate(self.regimens):
            row: dict[str, Any] = {"name": name, "true_drr": float(self.true_drr[i])}
            for m in _METRICS:
                row[m] = _json_float(getattr(self, m)[i])
                row[f"{m}_se"] = _json_float(getattr(self, f"{m}_se")[i])
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


def _draw_block(
    design: PlatformDesign,
    scenario: Scenario,
    sched: EnrolmentSchedule,
    n: int,
    rng: np.random.Generator,
) -> _Outcomes:
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
    out = design.outcome
    slope = out.slope_mean * pop + out.slope_sd * rng.standard_normal((n, n_pat))
    slope = np.where(active, slope * drr, slope)
    y = slope[:, :, None] * t + out.residual_sd * rng.standard_normal((n, n_pat, t.size))
    lam_death = -math.log1p(-out.mortality_24w) / (24.0 * WEEKS_TO_MONTHS)
    rate = lam_death * np.where(active, hr, 1.0) + (
        -math.log1p(-design.dropout_per_month) if design.dropout_per_month > 0 else 0.0
    )
    with np.errstate(divide="ignore"):
        stop = rng.exponential(1.0, (n, n_pat)) / np.maximum(rate, 1e-300)
    k_surv = np.maximum(np.searchsorted(t, stop, side="left"), 1).astype(np.int64)
    zeros = np.zeros((n, n_pat, 1))
    cy = np.concatenate([zeros, np.cumsum(y, axis=-1)], axis=-1)
    cty = np.concatenate([zeros, np.cumsum(t * y, axis=-1)], axis=-1)
    cyy = np.concatenate([zeros, np.cumsum(y * y, axis=-1)], axis=-1)
    return _Outcomes(active, k_surv, cy, cty, cyy)


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
    ctrl: FloatArray  # (P, R) control eligibility


def _context(design: PlatformDesign, sched: EnrolmentSchedule, oc: _Outcomes) -> _Context:
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
        ctrl=_control_masks(design, sched).astype(np.float64),
    )


def _group_sums(ctx: _Context, x: FloatArray, n_s: int, n_g: int) -> FloatArray:
    out = np.bincount(ctx.gidx, weights=x.ravel(), minlength=n_s * n_g)
    return np.asarray(out, dtype=np.float64).reshape(n_s, n_g)


def _analyse(
    design: PlatformDesign,
    ctx: _Context,
    oc: _Outcomes,
    k_obs: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """Estimated log DRR and its SE per trial and regimen, shape ``(S, R)`` each."""
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
    # between-patient slope variance: group-centred slopes (group = regimen x arm)
    g_n = _group_sums(ctx, h, n_s, n_g)
    g_mean = _group_sums(ctx, s, n_s, n_g) / np.maximum(g_n, 1.0)
    resid = s - g_mean.reshape(-1)[ctx.gidx].reshape(n_s, n_p)
    n_has = g_n.sum(axis=1)
    n_groups = (g_n > 0).sum(axis=1)
    var_s = (h * resid * resid).sum(axis=1) / np.maximum(n_has - n_groups, 1.0)
    noise = sig_e2 * inv_sxx.sum(axis=1) / np.maximum(n_has, 1.0)
    sig_b2 = np.maximum(var_s - noise, 0.01 * design.outcome.slope_sd**2 + 1e-4)
    w = h / (sig_b2[:, None] + sig_e2[:, None] * inv_sxx)
    ws = w * s
    g_w = _group_sums(ctx, w, n_s, n_g)
    g_ws = _group_sums(ctx, ws, n_s, n_g)
    wa = g_w[:, 1::2]
    ma = g_ws[:, 1::2] / np.maximum(wa, _EPS)
    both = np.concatenate([w * ctx.plc, ws * ctx.plc]) @ ctx.ctrl  # (2S, R)
    wp = both[:n_s]
    mp = both[n_s:] / np.maximum(wp, _EPS)
    ok = (wa > 0) & (wp > 0)
    # slopes are negative; clip so the log is defined (a non-declining mean is rare)
    est = np.log(np.maximum(-ma, 1e-3)) - np.log(np.maximum(-mp, 1e-3))
    var = 1.0 / np.maximum(wa, _EPS) / np.maximum(ma * ma, 1e-6) + 1.0 / np.maximum(
        wp, _EPS
    ) / np.maximum(mp * mp, 1e-6)
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


def _run_chunk(
    design: PlatformDesign,
    scenario: Scenario,
    seeds: list[np.random.SeedSequence],
    sizes: list[int],
) -> dict[str, FloatArray]:
    """Simulate the blocks ``seeds`` (sizes ``sizes``); per-trial outcomes, shape ``(S, R)``."""
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
        (lt, r, i == len(lk) - 1, i) for r, lk in enumerate(sched.looks) for i, lt in enumerate(lk)
    )
    stop_time = np.full((n_sims, r_count), np.inf)
    success = np.zeros((n_sims, r_count), dtype=bool)
    futile = np.zeros((n_sims, r_count), dtype=bool)
    drr_hat = np.full((n_sims, r_count), np.nan)
    stop_look = np.full((n_sims, r_count), -1.0)
    suc_c = math.log(design.success.drr)
    fut = design.futility
    z_s = float(special.ndtri(design.success.threshold))
    fq = design.frequentist
    eff_z, fut_z = _frequentist_bounds(design, sched) if fq is not None else ((), ())
    for when in sorted({e[0] for e in events}):
        regs_here = [(r, is_final, i) for (lt, r, is_final, i) in events if lt == when]
        enrolled = sched.enrol_month[None, :] <= stop_time[:, sched.regimen]  # (S, P)
        k_cal = np.searchsorted(t, when - sched.enrol_month + 1e-9, side="right")  # (P,)
        k_obs = np.where(enrolled, np.minimum(k_cal[None, :], oc.k_surv), 0)
        est, se = _analyse(design, ctx, oc, k_obs)
        for r, is_final, look in regs_here:
            live = np.isinf(stop_time[:, r])
            e_r, s_r = est[:, r], se[:, r]
            valid = np.isfinite(e_r) & np.isfinite(s_r)
            lose = np.zeros(n_sims, dtype=bool)
            if fq is not None:
                z = -e_r / np.where(valid, s_r, 1.0)
                decide = live & valid & (z > eff_z[r][look])
                if not is_final:
                    lose = live & valid & ~decide & (z < fut_z[r][look])
            else:
                win = valid & ((suc_c - e_r) / np.where(valid, s_r, 1.0) > z_s)
                decide = live & (win if (is_final or design.success.early) else False)
            if fq is None and not is_final and fut is not None:
                p_fut = _norm_cdf((math.log(fut.drr) - e_r) / np.where(valid, s_r, 1.0))
                lose = live & valid & ~decide & (p_fut < fut.threshold)
            success[:, r] |= decide
            futile[:, r] |= lose
            stopping = decide | lose | (live & is_final)
            stop_time[stopping, r] = when
            drr_hat[stopping, r] = np.exp(e_r[stopping])
            stop_look[stopping, r] = look
    entry = np.array([rg.entry_month for rg in design.regimens])
    n_enr = np.stack(
        [
            (sched.enrol_month[None, sched.regimen == r] <= stop_time[:, r : r + 1]).sum(axis=1)
            for r in range(r_count)
        ],
        axis=1,
    ).astype(np.float64)
    return {
        "success": success.astype(np.float64),
        "futile": futile.astype(np.float64),
        "n": n_enr,
        "duration": stop_time - entry[None, :],
        "drr": drr_hat,
        "look": stop_look,
    }


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
    ['design', 'elapsed_s', 'regimens', 'scenario', 'seed', 'sims']
    """
    if n_jobs is None and n_workers is not None:
        n_jobs = n_workers
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
    sc = design.scenario(scenario) if isinstance(scenario, str) else scenario
    t0 = time.perf_counter()
    jobs = resolve_jobs(backend, n_jobs)
    seeds, sizes = spawn_blocks(n_sims, seed, BLOCK_SIZE)
    if n_chunks is None:
        n_chunks = max(1, round(n_sims / 1000), jobs)
    chunks = group_blocks(seeds, sizes, n_chunks)
    outs = run_chunks(_run_chunk, (design, sc), chunks, backend=backend, n_jobs=n_jobs)
    res = {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}
    elapsed = time.perf_counter() - t0
    log.info("simulated %d trials of %s/%s in %.2f s", n_sims, design.name, sc.name, elapsed)
    ps, ps_se = _mean_se(res["success"])
    pf, pf_se = _mean_se(res["futile"])
    mn, mn_se = _mean_se(res["n"])
    md, md_se = _mean_se(res["duration"])
    mdrr, mdrr_se = _mean_se(res["drr"])
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
        futility_by_look=_futility_by_look(res, enrolment_schedule(design)),
    )
