# ruff: noqa: B023  (lambdas are timed immediately, inside the loop)
"""Timings of alsnet.trials: boundaries, CAFS scoring, live randomisation.

Run: .venv/bin/python benchmarks/bench_trials.py
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from alsnet.trials import allocate, cafs, gs_bounds, randomise, verify_log
from alsnet.trials.randomise import AllocationDesign


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def cafs_brute(died: np.ndarray, day: np.ndarray, change: np.ndarray) -> np.ndarray:
    """O(n^2) vectorised-by-row pairwise CAFS (1-D change), for comparison."""
    s = np.zeros(died.size)
    key_day = np.where(died, day, np.inf)
    for i in range(died.size):
        with np.errstate(invalid="ignore"):
            surv = np.sign(key_day[i] - key_day)
        func = np.sign(change[i] - change)
        s[i] = np.where(died[i] | died, surv, func).sum()
    return s


def main() -> None:
    rows: list[tuple[str, str, float]] = []
    for sp in ("obf", "pocock", "ld-obf", "hsd:-4"):
        for k in (5, 10):
            rows.append((f"gs_bounds {sp}", f"K={k}", timed(lambda: gs_bounds(k, spending=sp))))
    rng = np.random.default_rng(0)
    for n in (1_000, 10_000, 100_000):
        died = rng.random(n) < 0.1
        day = np.where(died, rng.integers(1, 168, n), np.nan)
        change = rng.normal(-6, 4, (n, 6)).cumsum(axis=1) / 3
        treated = rng.random(n) < 0.75
        rows.append(
            (
                "cafs (V=6 visits)",
                f"n={n}",
                timed(lambda: cafs(died, day, change, treated), 1),
            )
        )
        if n <= 10_000:
            end = change[:, -1]
            rows.append(
                ("CAFS brute force O(n^2)", f"n={n}", timed(lambda: cafs_brute(died, day, end), 1))
            )
    strata = [
        {"site": str(rng.integers(0, 10)), "riluzole": str(rng.integers(0, 2))} for _ in range(1000)
    ]
    for method in ("blocks", "minimisation"):
        d = AllocationDesign(("a", "b"), (3, 1), method=method, strata=("site", "riluzole"))
        rows.append((f"allocate {method}", "n=1000", timed(lambda: allocate(d, strata), 1)))
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "log.jsonl"
            for i, s in enumerate(strata[:300]):
                randomise(log, f"P{i}", s, design=d if i == 0 else None)
            rows.append(
                (
                    f"verify_log ({method}, = append cost)",
                    "log of 300",
                    timed(lambda: verify_log(log), 3),
                )
            )
    print(f"{'operation':36s} {'size':12s} {'seconds':>10s}")
    for name, size, sec in rows:
        print(f"{name:36s} {size:12s} {sec:10.4f}")


if __name__ == "__main__":
    main()
