"""Vectorised simulation of adaptive binary-outcome trials (adaptr's algorithm, no control).

Per block of simulated trials (all arrays ``(trials, arms)``), at each look ``k``:

1. Randomise the patients of batch ``k`` (those between ``randomised_at_looks[k-1]`` and
   ``randomised_at_looks[k]``) with the current allocation probabilities:
   ``Multinomial`` counts per arm for each segment between consecutive look sizes, and
   ``Binomial`` event counts given the scenario's true event probabilities. Only counts are
   kept, never patient rows.
2. Posteriors ``Beta(prior + events, prior + non-events)`` from the first ``data_looks[k]``
   patients (the lag: the most recently randomised have no outcome yet).
3. ``Pr(best)`` and ``Pr(all equivalent)`` by quadrature for every running trial at once
   (:mod:`alsnet.trials.adaptive.probs`); with ``n_draws`` set, adaptr's Monte Carlo
   estimates are sampled exactly in distribution from them.
4. adaptr's decisions (``run_trial`` without a common control): drop arms with
   ``Pr(best) < inferiority`` (recomputing among the remaining arms until none is below);
   stop for superiority when ``max Pr(best) > superiority``; else stop for equivalence when
   ``Pr(all equivalent) > equivalence.prob``; else reallocate (:func:`reallocate`).

A trial's size is the number **randomised** at its stopping look (adaptr's ``final_n``).
Trial duration in calendar time is not modelled (no accrual rate in adaptr's design), so
``mean_duration_months`` is ``null`` in RESULT.json; so are the DRR fields, which belong to
the HEALEY-type engine.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from alsnet.trials.adaptive.design import AdaptiveDesign, AdaptiveScenario
from alsnet.trials.adaptive.probs import best_and_equivalence, draw_estimates
from alsnet.trials.backends import resolve_jobs, run_blocks

__all__ = ["BLOCK_SIZE", "AdaptiveResult", "reallocate", "simulate_adaptive"]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Trials per random-number block (fixed, so results do not depend on chunking or workers).
BLOCK_SIZE = 250
_EPS = math.sqrt(np.finfo(float).eps)  # adaptr's .Machine$double.eps^0.5

# trial outcomes
MAX, SUPERIORITY, EQUIVALENCE = 0, 1, 2
# arm statuses
ACTIVE, INFERIOR, SUPERIOR, EQUIVALENT = 0, 1, 2, 3


def reallocate(
    p_best: FloatArray,
    active: BoolArray,
    *,
    min_probs: tuple[float, ...] | None = None,
    max_probs: tuple[float, ...] | None = None,
    soften_power: float = 1.0,
    rescale_limits: bool = False,
) -> FloatArray:
    """New allocation probabilities from Pr(best), vectorised ``adaptr:::reallocate_probs``.

    Allocation ∝ ``p_best ** soften_power`` over the active arms; arms below their floor are
    fixed at the floor (above their cap, at the cap) and the rest is shared again in
    proportion to ``p_best``, until every arm is within its limits. With ``rescale_limits``
    the floors and caps are scaled by ``n_arms / n_active`` (adaptr's ``rescale_probs =
    "limits"``). Inactive arms get 0.

    Parameters
    ----------
    p_best
        Probability that each arm is best, shape ``(T, K)``.
    active
        Arms still randomising, shape ``(T, K)``.

    Returns
    -------
    ndarray, shape (T, K)
        Allocation probabilities (rows sum to 1).
    """
    pb = np.where(active, p_best, 0.0)
    n_t, n_k = pb.shape
    if min_probs is None and max_probs is None:
        p = np.where(active, pb**soften_power, 0.0)
        return np.asarray(p / p.sum(axis=1, keepdims=True), dtype=np.float64)
    lo = np.full((n_t, n_k), np.nan) if min_probs is None else np.tile(min_probs, (n_t, 1))
    hi = np.full((n_t, n_k), np.nan) if max_probs is None else np.tile(max_probs, (n_t, 1))
    if rescale_limits:
        factor = n_k / active.sum(axis=1, keepdims=True)
        scale = factor - 1.0 > _EPS
        lo = np.where(scale, lo * factor, lo)
        hi = np.where(scale, 1.0 - (1.0 - hi) * factor, hi)
    final = np.where(active, np.nan, 0.0)
    for _ in range(4 * n_k + 4):
        undone = np.abs(np.nansum(final, axis=1) - 1.0) > _EPS
        if not undone.any():
            break
        rem = np.isnan(final)
        total_rem = 1.0 - np.nansum(final, axis=1, keepdims=True)
        rem_sum = np.sum(np.where(rem, pb, 0.0), axis=1, keepdims=True)
        n_rem = np.maximum(rem.sum(axis=1, keepdims=True), 1)
        share = np.where(rem_sum > 0, pb / np.where(rem_sum > 0, rem_sum, 1.0), 1.0 / n_rem)
        tmp = np.where(rem, total_rem * share, final)
        if soften_power < 1.0:
            powered = np.where(rem, np.maximum(tmp, 0.0) ** soften_power, 0.0)
            tot = powered.sum(axis=1, keepdims=True)
            tmp = np.where(rem, total_rem * powered / np.where(tot > 0, tot, 1.0), tmp)
        low = ~np.isnan(lo) & rem & (tmp < lo)
        tmp = np.where(low, lo, tmp)
        high = ~np.isnan(hi) & rem & (tmp > hi)
        tmp = np.where(high, hi, tmp)
        new_final = np.where(low, lo, np.where(high, hi, final))
        good = np.abs(tmp.sum(axis=1) - 1.0) <= _EPS
        new_final = np.where(good[:, None], tmp, new_final)
        all_set = ~np.isnan(new_final).any(axis=1)
        off = all_set & (np.abs(np.nansum(new_final, axis=1) - 1.0) > _EPS)
        rescaled = new_final / np.nansum(new_final, axis=1, keepdims=True)
        new_final = np.where(off[:, None], rescaled, new_final)
        final = np.where(undone[:, None], new_final, final)
    return np.asarray(np.where(np.isnan(final), 0.0, final), dtype=np.float64)


# ------------------------------------------------------------------------------- engine
def _segments(design: AdaptiveDesign) -> tuple[IntArray, IntArray, IntArray]:
    """Segment sizes, the look whose batch randomises each, and the segment ending each look."""
    bps = sorted({0, *design.data_looks, *design.randomised_at_looks})
    edges = np.array(bps, dtype=np.int64)
    hi = edges[1:]
    size = (edges[1:] - edges[:-1]).astype(np.int64)
    rand = np.array(design.randomised_at_looks)
    batch = np.searchsorted(rand, hi, side="left").astype(np.int64)
    data_end = np.searchsorted(hi, np.array(design.data_looks), side="left").astype(np.int64)
    return size, batch, data_end


def _probabilities(
    design: AdaptiveDesign,
    a: FloatArray,
    b: FloatArray,
    act: BoolArray,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray | None]:
    p, q = best_and_equivalence(
        a, b, act, diff=design.equivalence_diff, higher_is_better=design.higher_is_better
    )
    if design.n_draws is None:
        return p, (None if q is None else q.sum(axis=1))
    return draw_estimates(p, q, design.n_draws, rng)


def _run_block(
    design: AdaptiveDesign, true_ys: FloatArray, n: int, rng: np.random.Generator
) -> dict[str, NDArray[Any]]:
    """Simulate ``n`` trials; per-trial outcome, size, and per-arm status, n and Pr(best)."""
    n_k = len(design.arms)
    seg_size, seg_batch, data_end = _segments(design)
    seg_n = np.zeros((n, seg_size.size, n_k), dtype=np.int64)
    seg_e = np.zeros((n, seg_size.size, n_k), dtype=np.int64)
    start = np.full(n_k, 1.0 / n_k) if design.start_probs is None else np.array(design.start_probs)
    alloc = np.tile(start, (n, 1))
    active = np.ones((n, n_k), dtype=bool)
    running = np.ones(n, dtype=bool)
    status = np.zeros((n, n_k), dtype=np.int64)
    outcome = np.full(n, MAX, dtype=np.int64)
    stop_look = np.full(n, design.n_looks - 1, dtype=np.int64)
    pb_last = np.zeros((n, n_k))
    eq_prob = design.equivalence_prob
    for k in range(design.n_looks):
        idx = np.flatnonzero(running)
        if idx.size == 0:
            break
        for s in np.flatnonzero(seg_batch == k):
            c = rng.multinomial(int(seg_size[s]), alloc[idx])
            seg_n[idx, s] = c
            seg_e[idx, s] = rng.binomial(c, true_ys[None, :])
        j = int(data_end[k]) + 1
        nd = seg_n[idx, :j].sum(axis=1).astype(np.float64)
        ed = seg_e[idx, :j].sum(axis=1).astype(np.float64)
        a = design.prior_alpha + ed
        b = design.prior_beta + nd - ed
        act = active[idx].copy()
        pb, eq = _probabilities(design, a, b, act, rng)
        sub = np.arange(idx.size)
        while sub.size:
            inf = act[sub] & (pb[sub] < design.inferiority[k])
            hit = inf.any(axis=1)
            if not hit.any():
                break
            sub = sub[hit]
            act[sub] &= ~inf[hit]
            pb_s, eq_s = _probabilities(design, a[sub], b[sub], act[sub], rng)
            pb[sub] = pb_s
            if eq is not None and eq_s is not None:
                eq[sub] = eq_s
        newly_inferior = active[idx] & ~act
        st = status[idx]
        st[newly_inferior] = INFERIOR
        best = np.argmax(np.where(act, pb, -1.0), axis=1)
        sup = pb[np.arange(idx.size), best] > design.superiority[k]
        stop = sup.copy()
        st[np.flatnonzero(sup), best[sup]] = SUPERIOR
        outcome[idx[sup]] = SUPERIORITY
        if eq is not None and eq_prob is not None:
            eqs = ~sup & (eq > eq_prob[k])
            st[eqs[:, None] & act] = EQUIVALENT
            outcome[idx[eqs]] = EQUIVALENCE
            stop |= eqs
        status[idx] = st
        active[idx] = act
        pb_last[idx] = np.where(act, pb, 0.0)
        stop_look[idx[stop]] = k
        running[idx[stop]] = False
        go = idx[~stop]
        if go.size:
            alloc[go] = reallocate(
                pb[~stop],
                act[~stop],
                min_probs=design.min_probs,
                max_probs=design.max_probs,
                soften_power=design.soften_power,
                rescale_limits=design.rescale_probs == "limits",
            )
    rand = np.array(design.randomised_at_looks, dtype=np.int64)
    selected = np.where(
        outcome == SUPERIORITY,
        np.argmax(status == SUPERIOR, axis=1),
        np.argmax(np.where(status != INFERIOR, pb_last, -1.0), axis=1),
    )
    return {
        "outcome": outcome,
        "n": rand[stop_look],
        "arm_n": seg_n.sum(axis=1),
        "status": status,
        "selected": selected,
        "look": stop_look,
    }


def _run_chunk(
    design: AdaptiveDesign,
    true_ys: tuple[float, ...],
    seeds: list[np.random.SeedSequence],
    sizes: list[int],
) -> dict[str, NDArray[Any]]:
    """Run the blocks of one chunk (each with its own stream) and concatenate them."""
    ys = np.asarray(true_ys, dtype=np.float64)
    parts = [
        _run_block(design, ys, n, np.random.default_rng(ss))
        for ss, n in zip(seeds, sizes, strict=True)
    ]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


# ------------------------------------------------------------------------------- result
def _p_se(x: NDArray[Any]) -> tuple[float, float]:
    p = float(np.mean(x))
    return p, math.sqrt(p * (1.0 - p) / x.size)


def _m_se(x: NDArray[Any]) -> tuple[float, float]:
    return float(np.mean(x)), float(np.std(x, ddof=1) / math.sqrt(x.size)) if x.size > 1 else 0.0


@dataclass(frozen=True)
class AdaptiveResult:
    """Operating characteristics of an adaptive design, with Monte Carlo SEs (``*_se``).

    Trial level: ``p_superiority`` (an arm declared superior), ``p_equivalence`` (stopped for
    equivalence), ``p_max`` (no decision at the last look), ``mean_n`` (patients randomised).
    Per arm (indexed like ``arms``): ``p_success`` (declared superior), ``p_early_futility``
    (dropped for inferiority), ``p_selected`` (adaptr's ``select_strategy = "best"``: the
    superior arm, otherwise the remaining arm with the highest last Pr(best)), ``arm_mean_n``
    (patients randomised to the arm).
    """

    design: str
    scenario: str
    arms: tuple[str, ...]
    true_ys: tuple[float, ...]
    sims: int
    seed: int
    elapsed_s: float
    backend: str
    n_jobs: int
    p_superiority: float
    p_superiority_se: float
    p_equivalence: float
    p_equivalence_se: float
    p_max: float
    p_max_se: float
    mean_n: float
    mean_n_se: float
    p_success: FloatArray
    p_success_se: FloatArray
    p_early_futility: FloatArray
    p_early_futility_se: FloatArray
    p_selected: FloatArray
    p_selected_se: FloatArray
    arm_mean_n: FloatArray
    arm_mean_n_se: FloatArray

    def summary(self) -> pd.DataFrame:
        """One row per arm: true event probability, each per-arm metric and its MC SE."""
        data: dict[str, Any] = {"arm": list(self.arms), "true_y": list(self.true_ys)}
        for m in ("p_success", "p_early_futility", "p_selected", "arm_mean_n"):
            data[m] = getattr(self, m)
            data[f"{m}_se"] = getattr(self, f"{m}_se")
        return pd.DataFrame(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (RESULT.json), the HEALEY contract plus trial-level metrics.

        ``regimens`` entries carry ``name``, ``p_success``, ``p_early_futility`` (dropped for
        inferiority), ``mean_n`` (randomised to the arm) and their ``*_se``; the calendar-time
        and DRR fields (``mean_duration_months``, ``mean_drr``, ``true_drr``) are ``null``
        because this design has neither an accrual rate nor a DRR.
        """
        rows = []
        for i, name in enumerate(self.arms):
            rows.append(
                {
                    "name": name,
                    "true_y": float(self.true_ys[i]),
                    "true_drr": None,
                    "p_success": float(self.p_success[i]),
                    "p_success_se": float(self.p_success_se[i]),
                    "p_early_futility": float(self.p_early_futility[i]),
                    "p_early_futility_se": float(self.p_early_futility_se[i]),
                    "p_selected": float(self.p_selected[i]),
                    "p_selected_se": float(self.p_selected_se[i]),
                    "mean_n": float(self.arm_mean_n[i]),
                    "mean_n_se": float(self.arm_mean_n_se[i]),
                    "mean_duration_months": None,
                    "mean_duration_months_se": None,
                    "mean_drr": None,
                    "mean_drr_se": None,
                }
            )
        return {
            "design": self.design,
            "scenario": self.scenario,
            "sims": self.sims,
            "seed": self.seed,
            "elapsed_s": self.elapsed_s,
            "backend": self.backend,
            "n_jobs": self.n_jobs,
            "p_superiority": self.p_superiority,
            "p_superiority_se": self.p_superiority_se,
            "p_equivalence": self.p_equivalence,
            "p_equivalence_se": self.p_equivalence_se,
            "p_max": self.p_max,
            "p_max_se": self.p_max_se,
            "mean_n": self.mean_n,
            "mean_n_se": self.mean_n_se,
            "regimens": rows,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of :meth:`to_dict` (strict JSON)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def __repr__(self) -> str:
        return (
            f"AdaptiveResult({self.design}/{self.scenario}, sims={self.sims}: "
            f"P(superiority)={self.p_superiority:.3f}, P(equivalence)={self.p_equivalence:.3f}, "
            f"mean N={self.mean_n:.0f})"
        )

    def _repr_html_(self) -> str:
        return str(self.summary().to_html(index=False, float_format=lambda x: f"{x:.4f}"))


def simulate_adaptive(
    design: AdaptiveDesign,
    scenario: str | AdaptiveScenario,
    *,
    n_sims: int = 1000,
    seed: int = 0,
    backend: str = "local",
    n_jobs: int | None = None,
    n_chunks: int | None = None,
) -> AdaptiveResult:
    """Simulate ``n_sims`` adaptive trials of ``design`` under ``scenario``.

    Parameters
    ----------
    design
        An :class:`~alsnet.trials.adaptive.AdaptiveDesign`.
    scenario
        A scenario of ``design`` (by name) or an :class:`AdaptiveScenario`.
    n_sims
        Number of simulated trials (>= 2).
    seed
        Root seed; block ``b`` of :data:`BLOCK_SIZE` trials uses
        ``SeedSequence(seed).spawn(n_blocks)[b]``.
    backend, n_jobs
        ``"local"`` (processes on this machine; ``n_jobs=None`` = all cores) or ``"ray"``;
        see :mod:`alsnet.trials.backends`. Neither changes the results.
    n_chunks
        Work units the blocks are grouped into (default: one per job). Does not change the
        results.

    Returns
    -------
    AdaptiveResult

    Examples
    --------
    >>> from alsnet.trials import load_design
    >>> from alsnet.trials.adaptive import simulate_adaptive
    >>> res = simulate_adaptive(load_design("adaptr-readme"), "diff", n_sims=200, seed=1, n_jobs=1)
    >>> res.arms, res.true_ys
    (('A', 'B', 'C'), (0.25, 0.2, 0.3))
    >>> bool(res.p_selected[1] > 0.8)
    True
    """
    if n_sims < 2:
        raise ValueError("n_sims must be >= 2")
    sc = design.scenario(scenario) if isinstance(scenario, str) else scenario
    t0 = time.perf_counter()
    jobs = resolve_jobs(backend, n_jobs)
    res = run_blocks(
        _run_chunk,
        (design, sc.true_ys),
        n_sims,
        seed,
        BLOCK_SIZE,
        n_chunks=n_chunks,
        backend=backend,
        n_jobs=n_jobs,
    )
    elapsed = time.perf_counter() - t0
    log.info("simulated %d trials of %s/%s in %.2f s", n_sims, design.name, sc.name, elapsed)
    n_k = len(design.arms)
    sup = res["outcome"] == SUPERIORITY
    per_arm: dict[str, tuple[FloatArray, FloatArray]] = {}
    for key, x in (
        ("p_success", res["status"] == SUPERIOR),
        ("p_early_futility", res["status"] == INFERIOR),
        ("p_selected", res["selected"][:, None] == np.arange(n_k)[None, :]),
    ):
        p = x.mean(axis=0)
        per_arm[key] = (p, np.sqrt(p * (1.0 - p) / n_sims))
    arm_n = res["arm_n"].astype(np.float64)
    ps, ps_se = _p_se(sup)
    pe, pe_se = _p_se(res["outcome"] == EQUIVALENCE)
    pm, pm_se = _p_se(res["outcome"] == MAX)
    mn, mn_se = _m_se(res["n"].astype(np.float64))
    return AdaptiveResult(
        design=design.name,
        scenario=sc.name,
        arms=design.arms,
        true_ys=tuple(float(y) for y in sc.true_ys),
        sims=n_sims,
        seed=seed,
        elapsed_s=elapsed,
        backend=backend,
        n_jobs=jobs,
        p_superiority=ps,
        p_superiority_se=ps_se,
        p_equivalence=pe,
        p_equivalence_se=pe_se,
        p_max=pm,
        p_max_se=pm_se,
        mean_n=mn,
        mean_n_se=mn_se,
        p_success=per_arm["p_success"][0],
        p_success_se=per_arm["p_success"][1],
        p_early_futility=per_arm["p_early_futility"][0],
        p_early_futility_se=per_arm["p_early_futility"][1],
        p_selected=per_arm["p_selected"][0],
        p_selected_se=per_arm["p_selected"][1],
        arm_mean_n=arm_n.mean(axis=0),
        arm_mean_n_se=arm_n.std(axis=0, ddof=1) / math.sqrt(n_sims),
    )
