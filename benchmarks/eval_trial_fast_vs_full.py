"""Fast in-simulation analysis vs the full (Laplace) DRR model on the *same* simulated trials.

Why is alsnet's simulator 2-4 points more powerful than the published HEALEY operating
characteristics (README "Further published scenarios")? This script measures it instead of
guessing: for a few ``healey`` scenarios it draws N trials with the simulator's own
patient-level draws (:func:`alsnet.trials.simulate._draw_block`, the same blocks and seeds as
:func:`alsnet.trials.simulate.simulate`) and analyses regimen A at its final look with

- ``fast``: the simulator's fast analysis (:func:`alsnet.trials.simulate._analyse`:
  precision-weighted OLS slopes, log ratio of the means combined with the exponential log HR of
  death by inverse variance, normal posterior), concurrent controls (what the simulator does);
  ``fast-own``: the same with the regimen's own placebo only;
- ``mean-flat`` / ``mean-conc``: a likelihood (Laplace) version of the same mean model: the
  shared-parameter model with the DRR on the *mean* slope and the hazard only (between-patient
  slope SD not scaled by the DRR), flat prior on log DRR / HEALEY's ``DRR ~ U(0, 2)`` (written
  here, :func:`_fit_mean_only`; ``mean-conc`` is an independent implementation of
  ``full-conc``, so the two agree up to optimiser tolerance);
- ``full-*``: the full shared-parameter DRR model as the live analysis fits it
  (:func:`alsnet.trials.model.fit_drr_laplace`, default ``slope_effect="mean"``: the DRR scales
  the mean slope and the hazard; HEALEY priors) with own placebo only, concurrent controls,
  all placebo with the live analysis's
  calendar-period random walk (periods cut where a regimen starts or stops enrolling,
  :func:`alsnet.trials.analyse._periods`; SD 0.5), and all placebo with a regimen (population)
  effect (``rho`` indexed by the regimen a control was randomised in, a random walk over A, B, C
  in entry order with SD ``--regimen-sd``: a stand-in for HEALEY's ``eta_r``);
- ``patient-conc``: ``fit_drr_laplace(slope_effect="patient")``, concurrent controls: a patient's
  slope ``b_i DRR`` (HEALEY's literal ``beta_i exp(theta)``), so the DRR scales the slope's mean
  *and* its between-patient SD (the live analysis's model before the mean-slope default).

Each scenario is drawn twice from the same random numbers, whatever the design's
``outcome.treatment_effect``: ``multiplicative`` (an active patient's slope is ``DRR x b_i``,
so its between-patient SD shrinks too) and ``additive`` (the SAP's simulations and the
``healey`` example: ``(DRR - 1) x mean slope`` added to every active slope; same mean, SD
unchanged).

Success: ``Pr(DRR < 1) > 0.979`` (the design's threshold), and at each analysis's own threshold
calibrated to one-sided type I ``--alpha`` on ``--null-sims`` null trials (same seeds). Interim
futility is ignored: every trial reaches its final look (P(early futility) is <= 0.01 in the
power scenarios; the simulator's own figures with interims are printed for reference), so the
null rate is the type I error without futility stopping (non-binding in HEALEY). At A's final
look in these scenarios every placebo patient randomised so far is concurrent (+/- 5.9 months),
so "concurrent" and "all" controls are the same patients.

Per scenario and analysis it prints: P(success) with MC SE; the difference from ``fast`` with the
paired SE and McNemar's discordant counts (fast only / other only); decision agreement; mean and
SD over trials of the log-DRR estimate; mean posterior SD; ``SD(estimate) / mean posterior SD``
(1 = calibrated, > 1 = posterior too narrow); mean control patients with >= 2 visits.

Run (2 processes filling a cache, then the tables; about 25 min on the shared 2-core machine)::

    B=benchmarks/eval_trial_fast_vs_full.py; C=/tmp/fvf
    .venv/bin/python $B --fill --cache $C --sims 4000 --scenarios null &
    .venv/bin/python $B --fill --cache $C --sims 1000 &
    wait; .venv/bin/python $B --cache $C --sims 1000 --null-sims 4000 --seed 2026

(or simply ``.venv/bin/python $B`` in one process). Options: ``--scenarios a,b``,
``--effects multiplicative``, ``--regimen-sd 0.07``, ``--alpha 0.025``, ``--csv rows.csv``.

Measured (seed 2026, 1,000 trials per power row, 4,000 null; shared loaded 2-core machine,
about 2-6 min per 1,000 trials): P(success) at 0.979, fast with multiplicative / additive
draws vs published: slow30 0.808 / 0.743 vs 0.77, function only 0.773 / 0.702 vs 0.72, survival
harm 0.735 / 0.667 vs 0.68, 3 months apart 0.711 / 0.654 vs 0.67, 6 months apart 0.639 / 0.575
vs 0.56 (multiplicative - additive +5.7 to +7.1 points, paired SE 0.008); null 0.025 (fast,
null-calibrated threshold 0.9780). The patient-slope model (``patient-conc``; the full model
before the mean-slope default, cache version 1): 0.836-0.977 (multiplicative) and 0.260-0.394
(additive, mean log DRR -0.158 for a mean slope ratio of -0.354). The mean-slope full model:
see docs/trials.md "Fast vs full analysis".
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special

from alsnet.exceptions import ConvergenceError
from alsnet.trials import load_design
from alsnet.trials._errors import TrialDesignError
from alsnet.trials.analyse import _periods
from alsnet.trials.backends import spawn_blocks
from alsnet.trials.design import WEEKS_TO_MONTHS, PlatformDesign
from alsnet.trials.model import DrrData, _start, _Summaries, _summaries, fit_drr_laplace
from alsnet.trials.simulate import (
    BLOCK_SIZE,
    _analyse,
    _concat,
    _context,
    _draw_block,
    _event_stats,
    _Outcomes,
    _prepare,
    _run_chunk,
    enrolment_schedule,
)

#: scenario -> published P(success) of regimen A (SAP Appendix I; reference/platform-trials.md §1)
PUBLISHED = {
    "null": 0.024,
    "slow30": 0.77,
    "slow30_function_only": 0.72,
    "slow30_harm_survival": 0.68,
    "slow30_stagger3": 0.67,
    "slow30_stagger6": 0.56,
}

#: bump when the per-trial results change meaning (invalidates ``--cache`` files)
CACHE_VERSION = 2

#: analyses: label -> description (column order of the table)
METHODS = {
    "fast": "fast analysis, concurrent controls (what the simulator uses)",
    "fast-own": "fast analysis, own placebo only",
    "mean-flat": "DRR on the mean slope only, flat prior on log DRR, concurrent controls",
    "mean-conc": "DRR on the mean slope only, HEALEY prior DRR ~ U(0, 2), concurrent controls",
    "full-own": "full model, own placebo only",
    "full-conc": "full model, concurrent controls, no time adjustment",
    "full-period": "full model, all placebo, calendar-period random walk (SD 0.5)",
    "full-regimen": "full model, all placebo, regimen effect (random walk over regimens)",
    "patient-conc": "DRR on every patient's slope (slope_effect='patient'), concurrent controls",
}

#: how the treatment effect is drawn: alsnet's simulator multiplies an active patient's slope
#: by the DRR (its between-patient SD shrinks too); HEALEY's SAP simulations add a constant to
#: the slope so that the mean slope ratio is the DRR (SD unchanged)
EFFECTS = ("multiplicative", "additive")


@dataclass
class _Fit:
    est: np.ndarray
    sd: np.ndarray
    n_ctrl: np.ndarray


def _draws(
    design: PlatformDesign, scenario: str, n_sims: int, seed: int, effect: str
) -> tuple[PlatformDesign, _Outcomes, dict[str, np.ndarray]]:
    """The simulator's draws of ``n_sims`` trials (same blocks/seeds as ``simulate``).

    ``effect="additive"`` uses the same random numbers with the slope DRR removed from the draw
    and ``(DRR - 1) * mean slope`` added to every active patient's slope instead. The design's
    own ``outcome.treatment_effect`` (``additive`` in the ``healey`` example) is overridden for
    the draws; the reference run of the simulator with interims uses ``effect``.
    """
    mult = dataclasses.replace(
        design, outcome=dataclasses.replace(design.outcome, treatment_effect="multiplicative")
    )
    des, sc, _ = _prepare(mult, scenario, None, None, None)
    sched = enrolment_schedule(des)
    seeds, sizes = spawn_blocks(n_sims, seed, BLOCK_SIZE)
    draw_sc = sc
    if effect == "additive":
        draw_sc = dataclasses.replace(sc, drr=(1.0,) * len(sc.drr))
    elif effect != "multiplicative":
        raise ValueError(f"effect: must be one of {EFFECTS}, got {effect!r}")
    parts = [
        _draw_block(des, draw_sc, sched, n, np.random.default_rng(ss), None)
        for ss, n in zip(seeds, sizes, strict=True)
    ]
    oc = _concat(parts)
    if effect == "additive":
        if sc.time_trend != 0.0:
            raise ValueError("effect='additive' is not implemented with a time trend")
        t = np.asarray(des.visit_weeks) * WEEKS_TO_MONTHS
        mean = des.outcome.slope_mean * np.asarray(sc.population_slope)[sched.regimen]
        delta = np.where(oc.active, (np.asarray(sc.drr)[sched.regimen] - 1.0) * mean, 0.0)
        d = delta[..., None]
        ct = np.concatenate([[0.0], np.cumsum(t)])
        ctt = np.concatenate([[0.0], np.cumsum(t * t)])
        # y + d t: cumulative sums of y, t y and y^2 shift in closed form
        oc = dataclasses.replace(
            oc,
            cy=oc.cy + d * ct,
            cty=oc.cty + d * ctt,
            cyy=oc.cyy + 2.0 * d * oc.cty + d * d * ctt,
        )
    # the simulator proper (with interims; draws as ``effect``) on the same seeds, for reference
    des_eff = dataclasses.replace(
        des, outcome=dataclasses.replace(des.outcome, treatment_effect=effect)
    )
    sim = _run_chunk(des_eff, sc, None, False, list(seeds), list(sizes))
    return des, oc, sim


def _fast(
    des: PlatformDesign,
    oc: _Outcomes,
    k_obs: np.ndarray,
    surv: tuple[np.ndarray, np.ndarray],
    own: bool = False,
) -> _Fit:
    sched = enrolment_schedule(des)
    ctrl = None
    if own:  # own placebo only
        ctrl = sched.regimen[:, None] == np.arange(len(des.regimens))[None, :]
    ctx = _context(des, sched, oc, ctrl)
    est, se = _analyse(des, ctx, oc, k_obs, surv)
    plc = (~oc.active) & (k_obs >= 2)
    return _Fit(est[:, 0], se[:, 0], (plc * ctx.ctrl[:, 0]).sum(axis=1).astype(float))


def _neg_logpost_mean_only(
    x: np.ndarray,
    sm: _Summaries,
    act: np.ndarray,
    ev: np.ndarray,
    expo: np.ndarray,
    flat: bool = False,
) -> float:
    """Minus the log posterior of the DRR model with the DRR on the *mean* slope only.

    As :func:`alsnet.trials.model.fit_drr_laplace` (intercepts and slopes integrated out, same
    priors, exponential events) except that an active patient's slope is
    ``N(-mu_b DRR, sigma_b^2)`` instead of ``N(-mu_b DRR, sigma_b^2 DRR^2)``: the between-patient
    spread carries no information on the DRR (an additive effect). ``flat``: a flat prior on
    ``log DRR`` instead of ``DRR ~ U(0, 2)`` (whose density on the log scale is ``e^theta``).
    """
    theta, mu_b, lsb, lse, llam = x
    h = sm.has2
    m = np.exp(theta * act)
    inv_sxx = np.where(h, 1.0 / np.where(h, sm.sxx, 1.0), 0.0)
    v = np.where(h, math.exp(2 * lsb) + math.exp(2 * lse) * inv_sxx, 1.0)
    r = np.where(h, sm.slope + mu_b * m, 0.0)
    lp = float(np.sum(np.where(h, -0.5 * np.log(v) - 0.5 * r * r / v, 0.0)))
    dof = float(np.where(h, sm.k - 2.0, 0.0).sum())
    lp += -dof * lse - 0.5 * float(sm.rss.sum()) / math.exp(2 * lse)
    lam0 = math.exp(llam)
    lp += float(np.sum(ev * (llam + theta * act) - lam0 * m * expo))
    lp += (0.0 if flat else theta) - 0.5 * (mu_b - 1.0) ** 2 + lsb + lse + 0.01 * llam - lam0
    return -lp


def _fit_mean_only(data: DrrData, flat: bool = False) -> tuple[float, float]:
    """Posterior mode and Laplace SD of log DRR under :func:`_neg_logpost_mean_only`."""
    sm = _summaries(data)
    act = data.active.astype(np.float64)
    ev = data.event.astype(np.float64)
    args = (sm, act, ev, data.exposure_months, flat)
    x0 = _start(data, sm, 1)
    res = optimize.minimize(_neg_logpost_mean_only, x0, args=args, method="BFGS")
    x = np.asarray(res.x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ConvergenceError("mean-only DRR fit did not converge")
    # central finite-difference Hessian of the negative log posterior
    d = x.size
    hess = np.empty((d, d))
    step = 1e-4 * np.maximum(1.0, np.abs(x))
    f = lambda z: _neg_logpost_mean_only(z, *args)  # noqa: E731
    for a in range(d):
        for b in range(a, d):
            ea, eb = np.eye(d)[a] * step[a], np.eye(d)[b] * step[b]
            hess[a, b] = hess[b, a] = (
                f(x + ea + eb) - f(x + ea - eb) - f(x - ea + eb) + f(x - ea - eb)
            ) / (4 * step[a] * step[b])
    var = float(np.linalg.inv(hess)[0, 0])
    if not (math.isfinite(var) and var > 0):
        raise ConvergenceError("mean-only DRR fit: Hessian not positive definite")
    return float(x[0]), math.sqrt(var)


def _full(
    des: PlatformDesign,
    oc: _Outcomes,
    k_obs: np.ndarray,
    surv: tuple[np.ndarray, np.ndarray],
    regimen_sd: float,
) -> tuple[dict[str, _Fit], int]:
    """Laplace fits per trial for regimen A (index 0); returns the fits and the failure count."""
    sched = enrolment_schedule(des)
    t = np.asarray(des.visit_weeks) * WEEKS_TO_MONTHS
    n_s = k_obs.shape[0]
    reg = sched.regimen
    conc = _context(des, sched, oc).ctrl[:, 0] > 0  # (P,) concurrent-control eligibility of A
    names = np.array([r.name for r in des.regimens])
    ev, expo = surv
    y_all = np.diff(oc.cy, axis=-1)  # (S, P, V) visit values (intercept omitted, cancels)
    fits = {
        m: _Fit(np.full(n_s, np.nan), np.full(n_s, np.nan), np.zeros(n_s))
        for m in METHODS
        if m.startswith(("full", "mean", "patient"))
    }
    fails = 0
    for i in range(n_s):
        seen = k_obs[i] > 0  # randomised by the look
        act = oc.active[i] & (reg == 0) & seen
        plc = ~oc.active[i] & seen
        sets: dict[str, tuple[np.ndarray, str | float | None]] = {
            "mean-flat": (act | (plc & conc), "flat"),
            "mean-conc": (act | (plc & conc), "mean"),
            "full-own": (act | (plc & (reg == 0)), None),
            "full-conc": (act | (plc & conc), None),
            "full-period": (act | plc, "calendar"),
            "full-regimen": (act | plc, regimen_sd),
            "patient-conc": (act | (plc & conc), "patient"),
        }
        for label, (rows_mask, adj) in sets.items():
            rows = np.flatnonzero(rows_mask)
            kk = k_obs[i, rows]
            pi, vi = np.nonzero(np.arange(t.size)[None, :] < kk[:, None])
            period: np.ndarray | None = None
            psd = 0.5
            if adj == "calendar":
                days = sched.enrol_month[rows] * 7.0 / WEEKS_TO_MONTHS  # as the live analysis
                alloc = pd.DataFrame({"regimen": names[reg[rows]], "calendar_day": days})
                period = _periods(des, alloc)
            elif isinstance(adj, float):
                period, psd = reg[rows], adj
            data = DrrData.from_arrays(
                pi,
                t[vi],
                y_all[i, rows[pi], vi],
                oc.active[i, rows],
                ev[i, rows] > 0,
                expo[i, rows],
                period=period,
            )
            f = fits[label]
            try:
                if adj in ("mean", "flat"):
                    f.est[i], f.sd[i] = _fit_mean_only(data, flat=adj == "flat")
                elif adj == "patient":
                    post = fit_drr_laplace(data, slope_effect="patient")
                    f.est[i], f.sd[i] = post.log_drr_mean, post.log_drr_sd
                else:
                    post = fit_drr_laplace(data, period_sd=psd)
                    f.est[i], f.sd[i] = post.log_drr_mean, post.log_drr_sd
            except (ConvergenceError, TrialDesignError, np.linalg.LinAlgError):
                fails += 1
                continue
            f.n_ctrl[i] = float(np.sum(~oc.active[i, rows] & (kk >= 2)))
    return fits, fails


def run_fits(
    scenario: str, n_sims: int, seed: int, regimen_sd: float, effect: str = "multiplicative"
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Every analysis of regimen A at its final look in ``n_sims`` trials of ``scenario``.

    Returns per-trial arrays ``{analysis}_est`` (posterior mean/mode of log DRR), ``{analysis}_sd``
    (posterior SD) and ``{analysis}_nctrl`` (control patients with >= 2 visits), and ``info``
    (published P(success), the simulator's own P(success) and P(early futility) with interims on
    the same seeds, Laplace failures, final-look month, seconds).
    """
    t0 = time.perf_counter()
    design = load_design("healey")
    assert isinstance(design, PlatformDesign)
    des, oc, sim = _draws(design, scenario, n_sims, seed, effect)
    sched = enrolment_schedule(des)
    t = np.asarray(des.visit_weeks) * WEEKS_TO_MONTHS
    final = sched.looks[0][-1]
    since = final - sched.enrol_month
    k_cal = np.searchsorted(t, since + 1e-9, side="right")[None, :]
    k_obs = np.minimum(k_cal, oc.k_surv)  # no regimen stopped: everyone randomised is followed
    enrolled = np.ones_like(oc.active)
    surv = _event_stats(oc, enrolled, np.broadcast_to(since, k_obs.shape), float(t[-1]))
    full, fails = _full(des, oc, k_obs, surv, regimen_sd)
    fits = {
        "fast": _fast(des, oc, k_obs, surv),
        "fast-own": _fast(des, oc, k_obs, surv, own=True),
        **full,
    }
    arrays: dict[str, np.ndarray] = {}
    for m in METHODS:
        arrays[f"{m}_est"], arrays[f"{m}_sd"] = fits[m].est, fits[m].sd
        arrays[f"{m}_nctrl"] = fits[m].n_ctrl
    info = {
        "published": PUBLISHED.get(scenario, float("nan")),
        "sim_p_success": float(sim["success"][:, 0].mean()),
        "sim_p_futility": float(sim["futile"][:, 0].mean()),
        "laplace_failures": float(fails),
        "final_look_month": float(final),
        "elapsed_s": time.perf_counter() - t0,
    }
    return arrays, info


def cached_fits(
    scenario: str,
    n_sims: int,
    seed: int,
    regimen_sd: float,
    effect: str,
    cache: Path | None,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """:func:`run_fits`, reusing ``cache/<key>.npz`` written by an identical earlier call."""
    if cache is None:
        return run_fits(scenario, n_sims, seed, regimen_sd, effect)
    key = f"{scenario}_{effect}_n{n_sims}_s{seed}_r{regimen_sd:g}_v{CACHE_VERSION}"
    path = cache / f"{key}.npz"
    if path.exists():
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files if not k.startswith("info_")}
            info = {k[5:]: float(z[k]) for k in z.files if k.startswith("info_")}
        return arrays, info
    arrays, info = run_fits(scenario, n_sims, seed, regimen_sd, effect)
    cache.mkdir(parents=True, exist_ok=True)
    payload: dict[str, np.ndarray] = dict(arrays)
    payload.update({f"info_{k}": np.asarray(v, dtype=np.float64) for k, v in info.items()})
    np.savez(path, **payload)  # type: ignore[arg-type]
    return arrays, info


def calibrated_z(null: dict[str, np.ndarray], alpha: float) -> dict[str, float]:
    """Per analysis, the z = -est/sd cut-off with P(z > cut) = ``alpha`` in the null trials."""
    out = {}
    for m in METHODS:
        z = -null[f"{m}_est"] / null[f"{m}_sd"]
        z = np.where(np.isfinite(z), z, -np.inf)
        out[m] = float(np.quantile(z, 1.0 - alpha, method="higher"))
    return out


def summarise(arrays: dict[str, np.ndarray], z_cut: dict[str, float]) -> pd.DataFrame:
    """A row per analysis: success rates at the cut-offs ``z_cut`` vs the fast analysis."""
    n = arrays["fast_est"].size

    def wins(m: str) -> np.ndarray:
        est, sd = arrays[f"{m}_est"], arrays[f"{m}_sd"]
        ok = np.isfinite(est) & np.isfinite(sd)
        return ok & (-est / np.where(ok, sd, 1.0) > z_cut[m])

    ref = wins("fast")
    rows = []
    for m in METHODS:
        w = wins(m)
        d = w.astype(float) - ref.astype(float)
        est, sd = arrays[f"{m}_est"], arrays[f"{m}_sd"]
        rows.append(
            {
                "analysis": m,
                "p_success": float(w.mean()),
                "p_success_se": float(w.std(ddof=1) / math.sqrt(n)),
                "diff_vs_fast": float(d.mean()),
                "diff_se": float(d.std(ddof=1) / math.sqrt(n)),
                "fast_only": int(np.sum(ref & ~w)),
                "other_only": int(np.sum(w & ~ref)),
                "agreement": float(np.mean(w == ref)),
                "mean_log_drr": float(np.nanmean(est)),
                "sd_log_drr": float(np.nanstd(est, ddof=1)),
                "mean_post_sd": float(np.nanmean(sd)),
                "sd_ratio": float(np.nanstd(est, ddof=1) / np.nanmean(sd)),
                "n_controls": float(np.nanmean(arrays[f"{m}_nctrl"])),
                "failed": int(np.sum(~(np.isfinite(est) & np.isfinite(sd)))),
            }
        )
    return pd.DataFrame(rows)


def _md(tab: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(tab.columns) + " |", "|" + "---|" * len(tab.columns)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in tab.to_numpy()]
    return "\n".join(lines)


def _cell(r: pd.Series, ref: bool) -> str:
    txt = f"{r['p_success']:.3f}"
    return txt if ref else txt + f" ({r['diff_vs_fast']:+.3f} ± {r['diff_se']:.3f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--sims", type=int, default=1000, help="trials per power scenario")
    ap.add_argument("--null-sims", type=int, default=4000, help="null trials (calibration)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--scenarios", default=",".join(s for s in PUBLISHED if s != "null"))
    ap.add_argument("--effects", default=",".join(EFFECTS))
    ap.add_argument("--regimen-sd", type=float, default=0.07)
    ap.add_argument("--alpha", type=float, default=0.025, help="one-sided type I for calibration")
    ap.add_argument("--cache", type=Path, help="directory of per-trial results to reuse")
    ap.add_argument("--csv", help="write every row (scenario x effect x analysis) to this file")
    ap.add_argument(
        "--fill",
        action="store_true",
        help="only compute and cache the --scenarios (with --cache; no null, no tables)",
    )
    args = ap.parse_args(argv)
    if args.fill:
        if args.cache is None:
            ap.error("--fill needs --cache")
        for sc in args.scenarios.split(","):
            for eff in args.effects.split(","):
                if not (sc == "null" and eff == "additive"):
                    cached_fits(sc, args.sims, args.seed, args.regimen_sd, eff, args.cache)
        return 0
    design = load_design("healey")
    z_design = float(special.ndtri(design.success.threshold))  # type: ignore[union-attr]
    fixed = dict.fromkeys(METHODS, z_design)
    null, info = cached_fits(
        "null", args.null_sims, args.seed, args.regimen_sd, "multiplicative", args.cache
    )
    z_cal = calibrated_z(null, args.alpha)
    jobs = [("null", "-", null, info)]
    for sc in args.scenarios.split(","):
        for eff in args.effects.split(","):
            a, inf = cached_fits(sc, args.sims, args.seed, args.regimen_sd, eff, args.cache)
            jobs.append((sc, eff, a, inf))
    tables: dict[str, list[dict[str, str]]] = {"fixed": [], "calibrated": [], "calib": []}
    allrows = []
    for sc, eff, arrays, inf in jobs:
        n = arrays["fast_est"].size
        print(
            f"\n## {sc}, {eff} effect: N={n}, seed {args.seed}, published "
            f"{inf['published']}; simulator with interims P(success) "
            f"{inf['sim_p_success']:.3f}, P(early futility) {inf['sim_p_futility']:.3f}; "
            f"final look month {inf['final_look_month']:.1f}; Laplace failures "
            f"{inf['laplace_failures']:.0f}; {inf['elapsed_s']:.0f} s"
        )
        for kind, cut in (("fixed", fixed), ("calibrated", z_cal)):
            df = summarise(arrays, cut)
            label = (
                "threshold 0.979" if kind == "fixed" else f"null-calibrated (alpha {args.alpha})"
            )
            print(f"{label}:")
            print(df.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
            allrows.append(df.assign(scenario=sc, effect=eff, thresholds=kind, n=n))
            row = {"scenario": sc, "effect drawn": eff, "published": f"{inf['published']:g}"}
            crow = {"scenario": sc, "effect drawn": eff}
            for _, r in df.iterrows():
                row[str(r["analysis"])] = _cell(r, r["analysis"] == "fast")
                crow[str(r["analysis"])] = (
                    f"{r['mean_log_drr']:+.3f} / {r['mean_post_sd']:.3f} / {r['sd_ratio']:.2f}"
                )
            tables[kind].append(row)
            if kind == "fixed":
                tables["calib"].append(crow)
    thr = ", ".join(f"{m} {special.ndtr(z):.4f}" for m, z in z_cal.items())
    print(f"\nNull-calibrated thresholds on Pr(DRR < 1) ({args.null_sims} null trials): {thr}")
    print(
        "\nP(success) of regimen A at the final look, threshold 0.979 "
        "(difference from fast ± paired SE):\n"
    )
    print(_md(pd.DataFrame(tables["fixed"])))
    print(
        "\nP(success) at each analysis's null-calibrated threshold "
        "(difference from fast ± paired SE):\n"
    )
    print(_md(pd.DataFrame(tables["calibrated"])))
    print(
        "\nMean log-DRR estimate / mean posterior SD / (SD of the estimate ÷ mean posterior SD):\n"
    )
    print(_md(pd.DataFrame(tables["calib"])))
    if args.csv:
        pd.concat(allrows).to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
