"""Benchmark: MND-SMART with the stage-4 survival test (``survival_stage``).

Run with ``.venv/bin/python benchmarks/bench_mnd_smart_survival.py [--sims N] [--jobs J]``.
Prints, per scenario (null, alternative, slow25) and regimen: P(success) on ALSFRS-R at
stage 3 (``p_success``), P(success on ALSFRS-R and then on survival)
(``p_success_survival``), the mean duration without and with the survival stage, the mean
months to the survival data cut and the control deaths there, and the elapsed time. With
``--sensitivity`` it repeats the alternative for design variants: no 72-month cap, no
dropout (survival follow-up complete), median survival 18 / 36 months.

Measured (2 jobs on a shared 2-core machine with load about 8, seed 0, 10,000 trials each;
the same numbers as ``alsnet trial simulate mnd-smart --scenario S --sims 10000 --out r.json``):

=========== ========= ========= ================== ============= ================ ======
scenario    regimen   p_success p_success_survival duration (mo) incl. stage 4    deaths
=========== ========= ========= ================== ============= ================ ======
null        trazodone 0.023     0.000              26.5          26.9             105
null        memantine 0.021     0.001              26.6          27.0             105
alternative trazodone 0.982     0.824              47.6          69.9             97
alternative memantine 0.034     0.001              26.9          27.6             111
slow25      trazodone 0.820     0.429              46.1          64.6             98
slow25      memantine 0.031     0.001              26.9          27.5             111
=========== ========= ========= ================== ============= ================ ======

Elapsed (``elapsed_s``): 23.9 s (null), 28.7 s (alternative), 27.3 s (slow25).

``--sensitivity --sims 4000`` (alternative, trazodone; P(success on survival), mean months
to the survival data cut, control deaths there): shipped design 0.82 / 70.6 / 97; no cap
0.866 / 112.9 / 104 (the 113 deaths are often never observed: dropout censors survival and
the placebo shrinks when memantine stops early); no dropout 0.876 / 63.7 / 108; median
survival 18 months 0.858 / 63.9 / 104; 36 months 0.746 / 72.0 / 79.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from alsnet.trials import PlatformDesign, SimulationResult, load_design, simulate


def _row(r: SimulationResult, i: int) -> str:
    return (
        f"{r.regimens[i]:>10s} p_success {r.p_success[i]:.3f}±{r.p_success_se[i]:.3f}  "
        f"p_success_survival {r.p_success_survival[i]:.3f}±{r.p_success_survival_se[i]:.3f}  "
        f"duration {r.mean_duration_months[i]:.1f} / incl. survival "
        f"{r.mean_duration_survival_months[i]:.1f} months  "
        f"cut at {r.mean_survival_months[i]:.1f} months with "
        f"{r.mean_survival_deaths[i]:.0f} control deaths"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sims", type=int, default=10000)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sensitivity", action="store_true")
    args = ap.parse_args()
    d = load_design("mnd-smart")
    assert isinstance(d, PlatformDesign) and d.survival_stage is not None
    for sc in ("null", "alternative", "slow25"):
        t0 = time.perf_counter()
        res = simulate(d, sc, n_sims=args.sims, seed=args.seed, n_jobs=args.jobs)
        print(f"{sc}: {args.sims} trials in {time.perf_counter() - t0:.1f} s")
        for i in range(len(res.regimens)):
            print("  " + _row(res, i))
    if not args.sensitivity:
        return
    ss, out = d.survival_stage, d.outcome
    variants = {
        "no cap": dataclasses.replace(d, survival_stage=dataclasses.replace(ss, max_months=None)),
        "no dropout": dataclasses.replace(d, dropout_per_month=0.0),
        "median 18": dataclasses.replace(
            d, outcome=dataclasses.replace(out, median_survival_months=18.0)
        ),
        "median 36": dataclasses.replace(
            d, outcome=dataclasses.replace(out, median_survival_months=36.0)
        ),
    }
    for name, dv in variants.items():
        res = simulate(dv, "alternative", n_sims=args.sims, seed=args.seed, n_jobs=args.jobs)
        print(f"alternative, {name}:")
        print("  " + _row(res, 0))


if __name__ == "__main__":
    main()
