"""DRR shared-parameter model: Laplace fit vs NumPyro MCMC (time, agreement) on simulated data.

Run: ``.venv/bin/python benchmarks/bench_drr_model.py [--no-mcmc]``. Prints a markdown table:
per data set size, the Laplace fit time, the MCMC time (2 chains x 500 warm-up + 500 draws,
JIT compilation included) and both posteriors (DRR mean, Pr(DRR < 1), Pr(DRR < 0.9)).
Data: :func:`alsnet.trials.model.simulate_drr_data` with true DRR 0.85, 3:1 allocation.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from alsnet.trials.model import fit_drr_laplace, fit_drr_mcmc, simulate_drr_data


def main(argv: list[str]) -> int:
    mcmc = "--no-mcmc" not in argv
    try:
        import numpyro  # noqa: F401
    except ImportError:
        print("numpyro not installed: MCMC columns skipped (pip install 'alsnet[bayes]')")
        mcmc = False
    print(
        "| patients | Laplace s | Laplace DRR | Pr<1 | Pr<0.9 | MCMC s | MCMC DRR | Pr<1 | Pr<0.9 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for n in (160, 480, 2000):
        d = simulate_drr_data(n * 3 // 4, n // 4, drr=0.85, rng=np.random.default_rng(n))
        t0 = time.perf_counter()
        reps = 20
        for _ in range(reps):
            lap = fit_drr_laplace(d)
        t_lap = (time.perf_counter() - t0) / reps
        cells = [
            f"{n:,}",
            f"{t_lap:.3f}",
            f"{lap.drr_mean:.3f}",
            f"{lap.pr_below(1.0):.3f}",
            f"{lap.pr_below(0.9):.3f}",
        ]
        if mcmc and n <= 480:
            t0 = time.perf_counter()
            mc = fit_drr_mcmc(d, num_chains=2, num_warmup=500, num_samples=500, seed=1)
            t_mc = time.perf_counter() - t0
            cells += [
                f"{t_mc:.1f}",
                f"{mc.drr_mean:.3f}",
                f"{mc.pr_below(1.0):.3f}",
                f"{mc.pr_below(0.9):.3f}",
            ]
        else:
            cells += ["–"] * 4
        print("| " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
