"""Benchmark: vectorised HEALEY platform-trial simulation and its operating characteristics.

Run with ``.venv/bin/python benchmarks/bench_trial_sim.py [--sims N] [--workers W]``.
Prints (1) the time for N HEALEY-like trials (3 concurrent regimens of 160, interims every
12 weeks, approximate Bayesian DRR analysis) and (2) each HEALEY scenario's P(success) and
P(early futility) for regimen A next to the published values (SAP Appendix I, Table 6.1.1 /
6.3; reference/platform-trials.md §1). The analysis is a normal approximation of HEALEY's
shared-parameter model (log slope ratio combined with the log hazard ratio of death by inverse
variance), not the Bayesian joint model itself, so agreement is approximate.

Measured (2 workers on a shared 2-core machine, seed 2026, 10,000 trials each):
10,000 trials in 10.8 s; regimen A P(success) null 0.021 (published 0.024), slow25 0.619
(0.61), slow30 0.791 (0.77), slow35 0.908 (0.88), drift_slower 0.067 (0.060, drift size
assumed); early futility under the null 0.31 (published 0.28); mean estimated DRR of null
futility stops at interims 1/2/3 1.32/1.19/1.13 (published 1.35/1.21/1.16); mean duration
13.0 months null / 15.0 effective (published 14 / 15). ``--more`` runs the further published
scenarios (mortality effect, drift faster, accrual, dropout, staggered starts).
"""

from __future__ import annotations

import argparse
import time

from alsnet.trials import load_design, simulate

# scenario -> (published P(success) of the effective/drifting regimen, P(early futility))
PUBLISHED = {
    "null": (0.024, 0.28),
    "slow25": (0.61, 0.01),
    "slow30": (0.77, 0.00),
    "slow35": (0.88, 0.00),
    "drift_slower": (0.060, None),
}

#: further published scenarios (SAP Appendix I tables 6.1.1, 6.3, 6.4): P(success) of A
PUBLISHED_MORE = {
    "slow30_function_only": 0.72,
    "slow30_harm_survival": 0.68,
    "drift_faster": 0.010,
    "drift_faster_slow30": 0.67,
    "null_accrual20": 0.025,
    "null_accrual60": 0.020,
    "slow30_accrual20": 0.77,
    "slow30_accrual60": 0.76,
    "slow30_dropout4": 0.74,
    "slow30_dropout6": 0.71,
    "slow30_stagger3": 0.67,
    "slow30_stagger6": 0.56,
}

PUBLISHED_FUTILITY_DRR = (1.35, 1.21, 1.16)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--more", action="store_true", help="only the further published scenarios")
    args = ap.parse_args()
    design = load_design("healey")
    if args.more:
        print(f"{'scenario':<22}{'P(success) A':>16}{'published':>11}{'dur A (mo)':>11}")
        for name, pub in PUBLISHED_MORE.items():
            r = simulate(design, name, n_sims=args.sims, seed=args.seed, n_workers=args.workers)
            print(
                f"{name:<22}{r.p_success[0]:>10.3f}±{r.p_success_se[0]:.3f}{pub:>11.3f}"
                f"{r.mean_duration_months[0]:>11.1f}"
            )
        return

    t0 = time.perf_counter()
    null = simulate(design, "null", n_sims=args.sims, seed=args.seed, n_workers=args.workers)
    dt = time.perf_counter() - t0
    print(f"HEALEY null, {args.sims} trials, {args.workers} workers: {dt:.1f} s")
    print()
    print("null, regimen A: futility stops by interim (published mean DRR, SAP Table 6.1.2)")
    for k, (p, d) in enumerate(null.futility_by_look[0]):
        pub = PUBLISHED_FUTILITY_DRR[k] if k < len(PUBLISHED_FUTILITY_DRR) else float("nan")
        print(f"  interim {k + 1}: P(stop) {p:.3f}, mean DRR {d:.2f} (published {pub:.2f})")
    print()
    head = (
        f"{'scenario':<13}{'P(success) A':>14}{'published':>11}{'P(early fut) A':>16}"
        f"{'published':>11}{'null B,C P(succ)':>18}{'mean DRR A':>12}{'mean n A':>10}"
        f"{'dur A (mo)':>11}{'s':>7}"
    )
    print(head)
    print("-" * len(head))
    for name, (pub_s, pub_f) in PUBLISHED.items():
        r = simulate(design, name, n_sims=args.sims, seed=args.seed, n_workers=args.workers)
        pf = "n/a" if pub_f is None else f"{pub_f:.2f}"
        others = (r.p_success[1] + r.p_success[2]) / 2
        print(
            f"{name:<13}{r.p_success[0]:>8.3f}±{r.p_success_se[0]:.3f}{pub_s:>11.3f}"
            f"{r.p_early_futility[0]:>10.3f}±{r.p_early_futility_se[0]:.3f}{pf:>11}"
            f"{others:>18.3f}{r.mean_drr[0]:>12.3f}{r.mean_n[0]:>10.1f}"
            f"{r.mean_duration_months[0]:>11.1f}{r.elapsed_s:>7.1f}"
        )


if __name__ == "__main__":
    main()
