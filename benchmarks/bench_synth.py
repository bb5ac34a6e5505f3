"""Timing of the synthetic cohort generator (plain script, prints a small table).

Run: ``.venv/bin/python benchmarks/bench_synth.py``
"""

from __future__ import annotations

import time

from alsnet.cohort import Cohort
from alsnet.synth import synthesize_tables


def main() -> None:
    print(f"{'patients':>9} {'visits':>8} {'generate s':>11} {'validate s':>11} {'total s':>8}")
    for n in (1_000, 10_000, 18_000):
        t0 = time.perf_counter()
        tables = synthesize_tables(n, seed=1)
        t1 = time.perf_counter()
        Cohort.from_tables(tables)
        t2 = time.perf_counter()
        nv = len(tables["visits"])
        print(f"{n:>9} {nv:>8} {t1 - t0:>11.2f} {t2 - t1:>11.2f} {t2 - t0:>8.2f}")


if __name__ == "__main__":
    main()
