"""DREAM ALS benchmark: CV of prognostic-score candidates on the 1,197 training rows,
then ONE evaluation of the chosen model (fixed in PrognosticScore's default) on the 625
test rows, next to the reference figures.

Usage: .venv/bin/python benchmarks/bench_dream.py [PATH] [--cv-only]
PATH defaults to /work/shared/data/dream-als/als.csv.gz (or $ALSNET_DREAM_DATA).
"""

from __future__ import annotations

import os
import sys
import time

from threadpoolctl import threadpool_limits

from alsnet.twin import procova_resampling
from alsnet.twin.dream import DREAM_REFERENCES, load_dream, run_dream_benchmark

DEFAULT = "/work/shared/data/dream-als/als.csv.gz"


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    path = args[0] if args else os.environ.get("ALSNET_DREAM_DATA", DEFAULT)
    if not os.path.exists(path):
        print(f"DREAM data not found at {path}; nothing to benchmark")
        return 0
    t0 = time.perf_counter()
    data = load_dream(path)
    # one BLAS/OpenMP thread: gradient boosting on a shared 2-core machine is ~10x faster
    with threadpool_limits(1):
        res = run_dream_benchmark(
            data, folds=5, seed=0, n_jobs=2, evaluate_test="--cv-only" not in sys.argv
        )
    print(f"DREAM ALS benchmark: {res.n_train} training rows, {res.n_test} test rows, seed 0")
    print()
    print(f"{'candidate':<12} {'CV RMSD':>8} {'CV r':>6} {'seconds':>8}")
    for m, r, c, s in res.cv.itertuples(index=False):
        print(f"{m:<12} {r:8.4f} {c:6.3f} {s:8.1f}")
    print()
    print(f"chosen before testing: {res.chosen}")
    print(f"{'model':<48} {'test RMSD':>9} {'r':>6}")
    print(
        f"{'alsnet PrognosticScore(' + res.chosen + ')':<48} {res.test_rmsd:9.4f} {res.test_r:6.3f}"
    )
    for name, r, c in DREAM_REFERENCES:
        print(f"{name:<48} {r:9.3f} {c:6.2f}")
    if len(res.test_predictions):
        yte = data.y[data.testset].to_numpy()
        chk = procova_resampling(
            yte, res.test_predictions.to_numpy(), n=200, effect=0.15, reps=4000, seed=0
        )
        print()
        print("PROCOVA check: 4,000 resampled 1:1 trials of n = 200 from the 625 test rows,")
        print("score = the chosen model (trained on the training rows); reference: RF score r 0.44")
        print(f"{'':<28} {'alsnet':>8} {'reference':>10}")
        print(f"{'SE unadjusted':<28} {chk.se_unadjusted:8.4f} {0.0799:10.4f}")
        print(f"{'SE PROCOVA':<28} {chk.se_adjusted:8.4f} {0.0717:10.4f}")
        print(f"{'variance ratio':<28} {chk.variance_ratio:8.3f} {0.806:10.3f}")
        print(f"{'1 - r^2 (pool)':<28} {1 - chk.rho**2:8.3f} {0.804:10.3f}")
        print(f"{'type I unadjusted':<28} {chk.type1_unadjusted:8.3f} {0.050:10.3f}")
        print(f"{'type I PROCOVA':<28} {chk.type1_adjusted:8.3f} {0.051:10.3f}")
        print(f"{'power +0.15/month unadj.':<28} {chk.power_unadjusted:8.3f} {0.464:10.3f}")
        print(f"{'power +0.15/month PROCOVA':<28} {chk.power_adjusted:8.3f} {0.544:10.3f}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
