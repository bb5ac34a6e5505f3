"""Benchmark: score and stage 1,000,000 random ALSFRS-R visits; ENCALS on 1,000,000 patients.

Run with ``.venv/bin/python benchmarks/bench_scores.py``; prints a small table of seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from alsnet.clinical import (
    alsfrs_scores,
    encals_table,
    kings_stage,
    mitos_stage,
    stage_visits,
)

N = 1_000_000
ITEMS = ["q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12"]


def make_visits(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    items = rng.integers(0, 9, size=(n, len(ITEMS))) / 2.0
    v = pd.DataFrame(items, columns=ITEMS)
    gastro = rng.random(n) < 0.1
    v["q5a"] = np.where(gastro, np.nan, v["q5"])
    v["q5b"] = np.where(gastro, v["q5"], np.nan)
    v = v.drop(columns="q5")
    n_pat = n // 10
    v.insert(0, "patient_id", rng.integers(0, n_pat, n).astype(str))
    v.insert(1, "day", rng.integers(0, 3000, n))
    v.insert(2, "instrument", "alsfrs_r")
    ev = pd.DataFrame(
        {
            "patient_id": np.arange(n_pat).astype(str),
            "event": rng.choice(["gastrostomy", "death", "niv"], n_pat),
            "day": rng.integers(0, 3000, n_pat),
        }
    )
    return v, ev


def make_patients(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age_onset": rng.uniform(30, 85, n),
            "delta_fs": rng.gamma(2.0, 0.3, n),
            "diagnostic_delay_months": rng.uniform(2, 40, n),
            "fvc_pct": rng.uniform(40, 120, n),
            "bulbar_onset": rng.integers(0, 2, n),
            "definite_el_escorial": rng.integers(0, 2, n),
            "ftd": rng.integers(0, 2, n),
            "c9orf72": rng.integers(0, 2, n),
        }
    )


def best_of(fn: Callable[[], object], repeat: int = 3) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds (CPU time is robust to a shared machine)."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return min(wall), min(cpu)


def main() -> None:
    visits, events = make_visits(N)
    patients = make_patients(N)
    rows = [
        ("alsfrs_scores", lambda: alsfrs_scores(visits)),
        ("kings_stage", lambda: kings_stage(visits)),
        ("mitos_stage", lambda: mitos_stage(visits)),
        ("stage_visits (no events)", lambda: stage_visits(visits)),
        ("stage_visits (+ events)", lambda: stage_visits(visits, events)),
        ("encals_table", lambda: encals_table(patients)),
    ]
    print(f"{'step (1,000,000 rows)':<28} {'wall s (best of 3)':>20} {'cpu s':>8}")
    for name, fn in rows:
        wall, cpu = best_of(fn)
        print(f"{name:<28} {wall:>20.3f} {cpu:>8.3f}")


if __name__ == "__main__":
    main()
