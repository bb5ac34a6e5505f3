"""Time the PRO-ACT importer on synthetic files of growing size (all three layouts).

Run: ``.venv/bin/python benchmarks/bench_proact.py``. Prints subjects, source rows, seconds.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from alsnet.io.proact import ImportReport, read_proact
from alsnet.testing.synthetic_proact import make_proact_truth, write_truth


def main() -> None:
    print(f"{'layout':9} {'subjects':>8} {'rows read':>10} {'visits':>7} {'seconds':>8}")
    for n in (200, 2000):
        truth = make_proact_truth(n_subjects=n, seed=1)
        for layout in ("proact", "f_proact", "dream"):
            with tempfile.TemporaryDirectory() as d:
                write_truth(truth, Path(d), layout=layout, seed=1)
                report = ImportReport()
                t0 = time.perf_counter()
                cohort = read_proact(d, report=report)
                dt = time.perf_counter() - t0
                rows = sum(report.rows_read.values())
                print(f"{layout:9} {n:8d} {rows:10d} {len(cohort.visits):7d} {dt:8.2f}")


if __name__ == "__main__":
    main()
