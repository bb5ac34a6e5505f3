"""Timings of alsnet.io: pseudonyms, canonical CSV/Parquet round trip, OMOP export.

Run with ``.venv/bin/python benchmarks/bench_io.py``; prints a small table.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from alsnet.cohort import Cohort
from alsnet.io import pseudonymise, read_csv, read_parquet, write_csv, write_omop, write_parquet
from alsnet.schema import ALSFRS_R_ITEMS


def cohort(n: int, visits_per: int, seed: int = 0) -> Cohort:
    """ALSFRS-R-only cohort: ``n`` patients with ``visits_per`` visits each."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"L{i:07d}" for i in range(n)])
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "site_id": rng.choice(["S1", "S2", "S3"], n),
            "sex": rng.choice(["F", "M"], n),
            "age_onset": np.round(rng.uniform(30, 85, n), 1),
            "onset_region": rng.choice(["bulbar", "lower_limb", "upper_limb"], n),
            "diagnosis_day": rng.integers(100, 600, n),
            "el_escorial": "probable",
            "ftd": 0,
            "c9orf72": rng.choice([0, 1], n),
            "sod1": 0,
            "ancestry": "EUR",
        }
    )
    k = n * visits_per
    items = pd.DataFrame(
        rng.integers(1, 5, (k, len(ALSFRS_R_ITEMS))).astype(float), columns=list(ALSFRS_R_ITEMS)
    )
    items["q5b"] = np.nan
    visits = pd.concat(
        [
            pd.DataFrame(
                {
                    "patient_id": np.repeat(ids, visits_per),
                    "day": np.repeat(patients["diagnosis_day"].to_numpy(), visits_per)
                    + np.tile(np.arange(visits_per) * 90, n),
                    "instrument": "alsfrs_r",
                }
            ),
            items,
            pd.DataFrame({"fvc_pct": rng.uniform(30, 110, k), "weight_kg": rng.uniform(50, 90, k)}),
        ],
        axis=1,
    )
    events = pd.DataFrame({"patient_id": ids[: n // 3], "event": "death", "day": 5000})
    return Cohort.from_tables({"patients": patients, "visits": visits, "events": events})


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return float(best)


def bench_cohort(c: Cohort) -> list[tuple[str, float]]:
    size = f"{len(c.patients)} patients / {len(c.visits)} visits"
    with tempfile.TemporaryDirectory() as d:
        p = Path(d)
        return [
            (f"write_csv     {size}", timed(lambda: write_csv(c, p / "csv"))),
            (f"read_csv      {size}", timed(lambda: read_csv(p / "csv"), 1)),
            (f"write_parquet {size}", timed(lambda: write_parquet(c, p / "pq"))),
            (f"read_parquet  {size}", timed(lambda: read_parquet(p / "pq"), 1)),
            (f"write_omop    {size}", timed(lambda: write_omop(c, p / "omop"), 1)),
        ]


def main() -> None:
    rows = []
    ids = pd.Series([f"LOCAL-{i}" for i in range(100_000)])
    secret = b"benchmark-secret-0123456789"
    rows.append(("pseudonymise 100k ids", timed(lambda: pseudonymise(ids, secret=secret))))
    for n in (1_000, 5_000):
        rows += bench_cohort(cohort(n, 8))
    width = max(len(r[0]) for r in rows)
    print(f"{'operation':<{width}}  seconds")
    for name, sec in rows:
        print(f"{name:<{width}}  {sec:7.3f}")


if __name__ == "__main__":
    main()
