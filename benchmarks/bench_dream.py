"""DREAM ALS benchmark: CV of prognostic-score candidates on the 1,197 training rows,
then ONE evaluation of the chosen model (fixed in PrognosticScore's default) on the 625
test rows, next to the reference figures.

Then a paired comparison with the README's random-forest reference (500 trees, min
leaf 5, 33% of features per split; fitted on the training rows only, nothing tuned):
its test RMSD next to the published 0.509, and a paired bootstrap 95% CI of the RMSD
difference ours - RF (test patients resampled, 4,000 replicates). This quantifies the
uncertainty of the reported figures; it selects nothing.

Usage: .venv/bin/python benchmarks/bench_dream.py [PATH] [--cv-only | --skip-cv]
PATH defaults to /work/shared/data/dream-als/als.csv.gz (or $ALSNET_DREAM_DATA).
``--skip-cv`` skips the candidates' cross-validation (the chosen model is fixed in
the code, so its test figures do not depend on it).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from alsnet.twin import procova_resampling
from alsnet.twin.dream import (
    DREAM_REFERENCES,
    DreamData,
    load_dream,
    paired_rmsd_bootstrap,
    pearson_r,
    reference_forest_predictions,
    rmsd,
    run_dream_benchmark,
)

DEFAULT = "/work/shared/data/dream-als/als.csv.gz"


def _paired(path: str, data: DreamData, ours: np.ndarray, chosen: str) -> None:
    """Our test predictions vs the README random forest on the same 625 test rows."""
    yte = data.y[data.testset].to_numpy()
    raw = load_dream(path, unfill=False)
    print()
    print("Paired comparison on the same test rows (random forest: 500 trees, min leaf 5,")
    print("mtry 0.33, training rows only; 4,000 paired bootstrap replicates of the patients)")
    print(f"{'reference forest on':<34} {'test RMSD':>9} {'r':>6} {'ours - RF':>10} {'95% CI':>18}")
    for label, d in (
        ("features as ours (fills undone)", data),
        ("the file as distributed (filled)", raw),
    ):
        with threadpool_limits(1):
            rf = reference_forest_predictions(d, seed=0, n_jobs=2).to_numpy()
        cmp = paired_rmsd_bootstrap(yte, ours, rf, n_boot=4000, seed=0)
        print(
            f"{label:<34} {rmsd(yte, rf):9.4f} {pearson_r(yte, rf):6.3f}"
            f" {cmp.difference:+10.4f} [{cmp.ci_low:+.4f}, {cmp.ci_high:+.4f}]"
        )
    print(f"(ours: PrognosticScore({chosen}) test RMSD {rmsd(yte, ours):.4f}; published RF 0.509)")


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
        cands = ("mean",) if "--skip-cv" in sys.argv else ("mean", "ridge", "forest", "boosting")
        res = run_dream_benchmark(
            data,
            candidates=(*cands, "ensemble") if len(cands) > 1 else cands,
            folds=5,
            seed=0,
            n_jobs=2,
            evaluate_test="--cv-only" not in sys.argv,
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
    if len(res.test_predictions):
        _paired(path, data, res.test_predictions.to_numpy(), res.chosen)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
