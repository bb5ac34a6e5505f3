"""Twin timings on synthetic registry data: window features, prognostic-score fit/predict,
PROCOVA calculator. Usage: .venv/bin/python benchmarks/bench_twin.py [N_PATIENTS]
"""

from __future__ import annotations

import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from alsnet.synth import synthesize
from alsnet.twin import (
    TARGET,
    PrognosticScore,
    pearson_r,
    procova_sample_size,
    rmsd,
    window_features,
)


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rows: list[tuple[str, float, str]] = []
    t = time.perf_counter()
    cohort = synthesize(n, seed=0)
    rows.append(("synthesize", time.perf_counter() - t, f"{len(cohort.visits):,} visits"))
    t = time.perf_counter()
    f = window_features(cohort)
    rows.append(("window_features", time.perf_counter() - t, f"{f.shape[0]:,} x {f.shape[1]}"))
    f = f.loc[f[TARGET].notna()]
    X, y = f.drop(columns=TARGET), f[TARGET].to_numpy()
    half = len(y) // 2
    with threadpool_limits(1):
        for model in ("ridge", "boosting", "ensemble"):
            t = time.perf_counter()
            m = PrognosticScore(model=model, n_estimators=200, n_jobs=2).fit(
                X.iloc[:half], y[:half]
            )
            fit_s = time.perf_counter() - t
            t = time.perf_counter()
            p = m.predict(X.iloc[half:])
            pred_s = time.perf_counter() - t
            rows.append(
                (
                    f"PrognosticScore({model}) fit / predict",
                    fit_s,
                    f"predict {pred_s:.2f} s; hold-out RMSD {rmsd(y[half:], p):.3f}, "
                    f"r {pearson_r(y[half:], p):.3f} (mean-only RMSD "
                    f"{rmsd(y[half:], np.full(len(y) - half, y[:half].mean())):.3f})",
                )
            )
    t = time.perf_counter()
    for rho in np.linspace(0, 0.9, 10):
        procova_sample_size(delta=0.15, sigma=0.566, rho=float(rho))
    rows.append(("procova_sample_size x 10 (t search)", time.perf_counter() - t, ""))
    print(f"alsnet twin benchmark, {n:,} synthetic patients (seed 0)")
    print(f"{'step':<40} {'seconds':>8}  note")
    for name, s, note in rows:
        print(f"{name:<40} {s:8.2f}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
