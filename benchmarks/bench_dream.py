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
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
