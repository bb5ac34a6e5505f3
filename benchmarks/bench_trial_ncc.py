"""Benchmark: control-sharing rules on the HEALEY design (concurrent, all, nonconcurrent).

Run with ``.venv/bin/python benchmarks/bench_trial_ncc.py [--sims N] [--workers W]
[--rules concurrent,all,nonconcurrent] [--scenarios null,slow30,...] [--period-months M]``.

For each scenario and rule, the HEALEY example design is simulated with its
``control_sharing.rule`` overridden (the window stays +/-5.9 months; a design dict override,
``healey.yaml`` itself is unchanged). Printed per row: P(success) of regimens A, B, C with
Monte Carlo SEs, A's mean estimated DRR, the mean number of placebo patients in A's stopping
analysis and the wall time. Published HEALEY values (SAP Appendix I, reference/platform-
trials.md section 1; the published model shares own + concurrent + non-concurrent placebo
with a calendar-time random walk): null type I 0.024; 30% slowing power 0.77; regimens 3/6
months apart power 0.67/0.56.

Measured (4,000 trials per row, seed 2026, 2 workers on a shared 2-core machine with load
average 6-8, commit 7fbb8a5), P(success) of regimen A (C for the drift scenario):

    scenario                 concurrent   all     nonconcurrent   published
    null                     0.025        0.025   0.024           0.024
    slow30                   0.790        0.790   0.759           0.77
    null_calendar_drift (C)  0.045        0.045   0.021           -
    slow30_stagger3          0.713        0.713   0.643           0.67
    slow30_stagger6          0.643        0.643   0.609           0.56

Wall time per 4,000 trials: concurrent 6-10 s, nonconcurrent 8-25 s (load-dependent);
``--speed --rules concurrent,nonconcurrent`` (10,000 null trials): 16.0 s and 29.5 s at
load average 3.6, 28.1 s and 45.8 s at load average 5.
``--rules own --scenarios slow30_stagger6`` gives 0.608 (type I of B and C 0.037, as for
nonconcurrent: with regimens 6 months apart no arm links the periods).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from alsnet.trials import PlatformDesign, load_design, simulate
from alsnet.trials.design import ControlSharing

SCENARIOS = ("null", "slow30", "null_calendar_drift", "slow30_stagger3", "slow30_stagger6")
PUBLISHED = {"null": 0.024, "slow30": 0.77, "slow30_stagger3": 0.67, "slow30_stagger6": 0.56}


def _with_rule(design: PlatformDesign, rule: str, period_months: float | None) -> PlatformDesign:
    cs = ControlSharing(
        rule=rule,
        window_months=design.control_sharing.window_months,
        period_months=period_months if rule == "nonconcurrent" else None,
    )
    return dataclasses.replace(design, control_sharing=cs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=4000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--rules", default="concurrent,all,nonconcurrent")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--period-months", type=float, default=None)
    ap.add_argument(
        "--speed", action="store_true", help="only time 10,000 null trials per rule instead"
    )
    args = ap.parse_args()
    base = load_design("healey")
    assert isinstance(base, PlatformDesign)
    if args.speed:
        for rule in args.rules.split(","):
            d = _with_rule(base, rule, args.period_months)
            t0 = time.perf_counter()
            simulate(d, "null", n_sims=10_000, seed=args.seed, n_jobs=args.workers)
            print(
                f"{rule:<15} 10,000 null trials, {args.workers} workers: "
                f"{time.perf_counter() - t0:.1f} s",
                flush=True,
            )
        return
    print(
        f"{'scenario':<21}{'rule':<15}{'P(success) A':>15}{'B':>13}{'C':>13}"
        f"{'pub.':>7}{'DRR A':>7}{'ctrl A':>8}{'s':>6}"
    )
    for sc in args.scenarios.split(","):
        for rule in args.rules.split(","):
            d = _with_rule(base, rule, args.period_months)
            t0 = time.perf_counter()
            r = simulate(d, sc, n_sims=args.sims, seed=args.seed, n_jobs=args.workers)
            dt = time.perf_counter() - t0
            ps = "".join(
                f"{p:>8.3f}±{se:.3f}" for p, se in zip(r.p_success, r.p_success_se, strict=True)
            )
            pub = PUBLISHED.get(sc)
            print(
                f"{sc:<21}{rule:<15}{ps}{'' if pub is None else f'{pub:.3f}':>7}"
                f"{r.mean_drr[0]:>7.3f}{r.mean_controls_n[0]:>8.1f}{dt:>6.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
