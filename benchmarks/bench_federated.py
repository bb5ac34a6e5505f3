"""Timings of federated analyses (in-process).

Run: .venv/bin/python benchmarks/bench_federated.py
"""

from __future__ import annotations

import time

import numpy as np

from alsnet.federated import simulate_network, split_sites
from alsnet.federated.partial import CoxData, efron_derivatives
from alsnet.synth import synthesize


def _random_site(rng: np.random.Generator, n: int, p: int) -> CoxData:
    x = rng.normal(size=(n, p))
    t = rng.exponential(np.exp(-0.1 * x[:, 0]) * 900).astype(np.int64) + 1
    order = np.argsort(t, kind="stable")
    return CoxData(tuple(f"x{i}" for i in range(p)), x[order], t[order], rng.random(n)[order] < 0.7)


def bench_cox_core(n_sites: int = 10, n: int = 2000, p: int = 10) -> tuple[float, int]:
    rng = np.random.default_rng(0)
    sites = [_random_site(rng, n, p) for _ in range(n_sites)]
    t0 = time.perf_counter()
    beta = np.zeros(p)
    it = 0
    while it < 50:
        it += 1
        u = np.zeros(p)
        info = np.zeros((p, p))
        for s in sites:
            _, us, is_ = efron_derivatives(s, beta)
            u += us
            info += is_
        step = np.linalg.solve(info, u)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return time.perf_counter() - t0, it


def main() -> None:
    rows = []
    dt, it = bench_cox_core()
    rows.append(("cox core, 10 sites x 2000 pts, 10 covariates", dt, f"{it} Newton steps"))
    cohorts = split_sites(synthesize(2000, seed=0))
    co = simulate_network(cohorts)
    for name, fn in [
        (
            "summary by sex x age_band (5 sites, 2000 pts)",
            lambda: co.summary(by=["sex", "age_band"]),
        ),
        ("km grid 30 d (5 sites, 2000 pts)", lambda: co.km(grid_days=30)),
        (
            "cox 5 covariates, signed messages (5 sites, 2000 pts)",
            lambda: co.cox(
                ["age_onset", "sex_male", "bulbar_onset", "ftd", "diagnosis_delay_months"]
            ),
        ),
    ]:
        t0 = time.perf_counter()
        fn()
        rows.append((name, time.perf_counter() - t0, ""))
    print(f"{'benchmark':58s} {'seconds':>8s}  note")
    for name, sec, note in rows:
        print(f"{name:58s} {sec:8.3f}  {note}")


if __name__ == "__main__":
    main()
