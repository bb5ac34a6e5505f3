"""Benchmark: time and size of the demo report for synthetic cohorts.

Run with ``.venv/bin/python benchmarks/bench_report.py``. Uses
``alsnet.synth.synthesize`` and ``alsnet.clinical.stage_visits``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from alsnet.clinical import stage_visits
from alsnet.report import (
    alsfrs_trajectories,
    demo_report,
    km_by_onset,
    site_overview,
    stage_distribution,
)
from alsnet.report.summaries import add_death_stage
from alsnet.synth import synthesize


def _timed(fn, *args, **kw):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0


def main() -> None:
    print(
        f"{'patients':>8} {'visits':>8} {'site':>6} {'traj':>6} {'km':>6} {'stage':>6} "
        f"{'report s':>9} {'MB':>6}"
    )
    for n in (500, 2000, 5000):
        cohort = synthesize(n, seed=0)
        scored = stage_visits(cohort.visits, cohort.events)
        p, v, e, s = cohort.patients, cohort.visits, cohort.events, cohort.sites
        _, t_site = _timed(site_overview, p, v, s, e)
        _, t_traj = _timed(alsfrs_trajectories, scored, p)
        _, t_km = _timed(km_by_onset, p, e, v)
        _, t_stage = _timed(stage_distribution, add_death_stage(scored, e), stage="kings")
        with tempfile.TemporaryDirectory() as tmp:
            out, t_all = _timed(
                demo_report, cohort, scored, Path(tmp) / "r.html", provenance={"seed": 0}
            )
            mb = out.stat().st_size / 1e6
        print(
            f"{n:>8} {len(v):>8} {t_site:>6.2f} {t_traj:>6.2f} {t_km:>6.2f} {t_stage:>6.2f} "
            f"{t_all:>9.2f} {mb:>6.2f}"
        )


if __name__ == "__main__":
    main()
