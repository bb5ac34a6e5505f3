"""Held-out evaluation of the digital twin against baselines, on synthetic and misspecified data.

Run: ``.venv/bin/python benchmarks/bench_twin_eval.py`` (about 5 minutes on one core).

Prints three markdown tables:

1. ALSFRS-R accuracy / calibration and event prediction: rows = {synthetic,
   misspecified} x {twin, last-slope, LMM, RF, ENCALS}; 2,000 training and 1,000
   test patients per scenario (:func:`alsnet.twin.evaluate.evaluate` with a fixed
   training cohort). *Synthetic*: the alsnet generator (D50 sigmoid, Gaussian
   noise). *Misspecified*: :func:`alsnet.twin.evaluate.misspecified_cohort`
   (linear decline, Student-t(3) noise, SD 2.5 points).
2. The same for FVC % predicted (where the forecaster has it).
3. Twin-augmented control operating characteristics
   (:func:`alsnet.twin.augment.simulate_augmented`), unbiased and biased twin.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from alsnet.synth import synthesize
from alsnet.twin.augment import simulate_augmented
from alsnet.twin.evaluate import TwinEvaluation, evaluate, misspecified_cohort

N_TRAIN, N_TEST = 2000, 1000


def _split(c):  # type: ignore[no-untyped-def]
    ids = pd.Index(c.patients["patient_id"])
    return c.subset(ids[:N_TRAIN]), c.subset(ids[N_TRAIN : N_TRAIN + N_TEST])


def _fmt(x: float, d: int = 2) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{d}f}"


def _rows(label: str, ev: TwinEvaluation, outcome: str) -> list[str]:
    t = ev.table(outcome).set_index("model")
    out = []
    for model in t.index:
        r = t.loc[model]

        def g(c: str, r: pd.Series = r) -> float:
            return float(r[c]) if c in r.index and pd.notna(r[c]) else float("nan")

        cells = [
            _fmt(g("rmse_6m")),
            _fmt(g("rmse_12m")),
            _fmt(g("cov80_12m")),
            _fmt(g("cov95_12m")),
            _fmt(g("c_index"), 3),
            _fmt(g("ibs"), 3),
        ]
        if outcome != "alsfrs_r_total":
            cells = cells[:4]
        if all(c == "–" for c in cells):
            continue
        out.append(f"| {label} | {model} | " + " | ".join(cells) + " |")
    return out


def main() -> None:
    results = {}
    with threadpool_limits(1):
        for label, make in (
            ("synthetic", lambda: synthesize(N_TRAIN + N_TEST, seed=101)),
            ("misspecified", lambda: misspecified_cohort(N_TRAIN + N_TEST, seed=102)),
        ):
            train, test = _split(make())
            t = time.perf_counter()
            ev = evaluate(test, train=train, seed=0, n_fans=0)
            results[label] = (ev, time.perf_counter() - t)
    print(f"Held-out evaluation, {N_TRAIN:,} training / {N_TEST:,} test patients per scenario;")
    print("conditioning on the first 91 days after the first ALSFRS-R visit; RMSE in points;")
    print("coverage of the 80% / 95% predictive intervals at 12 months; C-index and IBS of")
    print("event-free survival (death, tracheostomy, PAV) over 1-24 months after the window.\n")
    print("| data | model | RMSE 6 mo | RMSE 12 mo | cov80 12 mo | cov95 12 mo | C-index | IBS |")
    print("|---|---|---|---|---|---|---|---|")
    for label, (ev, _) in results.items():
        print("\n".join(_rows(label, ev, "alsfrs_r_total")))
    print("\nFVC % predicted:\n")
    print("| data | model | RMSE 6 mo | RMSE 12 mo | cov80 12 mo | cov95 12 mo |")
    print("|---|---|---|---|---|---|")
    for label, (ev, _) in results.items():
        print("\n".join(_rows(label, ev, "fvc_pct")))
    print()
    for label, (ev, secs) in results.items():
        fit = ", ".join(f"{k} {v:.1f} s" for k, v in ev.timings.items())
        print(f"{label}: total {secs:.0f} s; fitting: {fit}")
    print("\nTwin-augmented control (80 treated, 40 control, rho 0.7, a0 0.5, 20,000 trials):\n")
    print("| twin | effect | control only | twin covariate (PROCOVA) | twin prior (a0 0.5) |")
    print("|---|---|---|---|---|")
    for bias in (0.0, 0.3):
        for eff in (0.0, 0.4):
            oc = simulate_augmented(
                n_treated=80, n_control=40, effect=eff, twin_bias=bias, n_sims=20_000, seed=7
            )
            cells = [
                f"{oc.rejection[k]:.3f} ± {oc.mc_se[k]:.3f}"
                for k in ("control only", "twin covariate", "twin prior")
            ]
            kind = "unbiased" if bias == 0 else f"biased +{bias:g} SD"
            print(f"| {kind} | {eff:g} SD | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
