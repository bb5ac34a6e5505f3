"""Run every benchmark script in this folder, one after another, and print their tables.

Run: ``.venv/bin/python benchmarks/run_all.py [--skip dream]``. Scripts that need data which is
absent (the DREAM file, a PostgreSQL server) say so and skip that part.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    skip = set(argv[argv.index("--skip") + 1].split(",")) if "--skip" in argv else set()
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, python {platform.python_version()}")
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        name = script.stem.removeprefix("bench_")
        if name in skip:
            continue
        print(f"\n=== {script.name} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script)])
        print(f"--- {script.name}: exit {rc}, {time.perf_counter() - t0:.1f} s", flush=True)
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
