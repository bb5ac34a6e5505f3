"""The demo workflow: synthetic network cohort → embedded store → scores → HTML report.

This module sits at the edge (it writes files and a database), like :mod:`alsnet.cli`;
the domain packages it calls stay pure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import alsnet

__all__ = ["DemoResult", "run_demo"]


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` produced.

    Attributes
    ----------
    out_dir : Path
        Output directory.
    report : Path
        The HTML report.
    db_url : str
        Store that holds the cohort.
    n_patients, n_visits : int
        Cohort size.
    fingerprint : str
        Content hash of the cohort.
    timings : dict of str to float
        Seconds spent per step.
    """

    out_dir: Path
    report: Path
    db_url: str
    n_patients: int
    n_visits: int
    fingerprint: str
    timings: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"DemoResult(patients={self.n_patients}, visits={self.n_visits}, "
            f"report={str(self.report)!r}, seconds={sum(self.timings.values()):.1f})"
        )


def run_demo(
    out_dir: str | Path = "alsnet-demo",
    *,
    n_patients: int = 2000,
    seed: int = 0,
    db_url: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the whole demo and return where everything went.

    Parameters
    ----------
    out_dir : path, default "alsnet-demo"
        Directory for the SQLite store, the canonical CSV export and ``report.html``.
    n_patients : int, default 2000
        Size of the synthetic network cohort.
    seed : int, default 0
        Seed of the synthetic cohort (same seed, same cohort, same report numbers).
    db_url : str, optional
        Store URL; default an embedded SQLite file ``out_dir/registry.db``.
    on_step : callable, optional
        Called with a short description before each step (for progress display).
    """
    from alsnet.clinical import stage_visits
    from alsnet.clinical.baseline import encals_baseline
    from alsnet.clinical.encals import encals_table
    from alsnet.io.canonical import write_csv
    from alsnet.registry import Store
    from alsnet.report.demo import demo_report
    from alsnet.synth import synthesize

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    url = db_url or f"sqlite:///{(out / 'registry.db').resolve()}"
    timings: dict[str, float] = {}
    step = on_step or (lambda _s: None)

    def timed(name: str, fn: Callable[[], object]) -> object:
        step(name)
        t0 = time.perf_counter()
        res = fn()
        timings[name] = time.perf_counter() - t0
        return res

    cohort = timed(f"synthesise {n_patients} patients", lambda: synthesize(n_patients, seed=seed))
    assert isinstance(cohort, alsnet.Cohort)

    def store_and_reload() -> alsnet.Cohort:
        with Store.open(url) as store:
            store.save(cohort, source=f"synth:seed={seed}", on_conflict="replace")
            return store.load(patient_ids=list(cohort.patients["patient_id"]))

    stored = timed("save to the store and load back", store_and_reload)
    assert isinstance(stored, alsnet.Cohort)
    timed("export canonical CSV", lambda: write_csv(stored, out / "canonical"))
    scored = timed("score and stage visits", lambda: stage_visits(stored.visits, stored.events))
    assert isinstance(scored, pd.DataFrame)
    encals = timed(
        "ENCALS prognosis",
        lambda: encals_table(encals_baseline(stored.patients, stored.visits), errors="flag"),
    )
    assert isinstance(encals, pd.DataFrame)
    encals.to_csv(out / "encals.csv", index=False)
    report = timed(
        "render report",
        lambda: demo_report(
            stored,
            scored,
            out / "report.html",
            provenance={
                "alsnet": alsnet.__version__,
                "seed": seed,
                "fingerprint": stored.fingerprint,
                "store": "embedded SQLite" if url.startswith("sqlite") else "PostgreSQL",
            },
            encals=encals,
        ),
    )
    assert isinstance(report, Path)
    return DemoResult(
        out, report, url, len(stored.patients), len(stored.visits), stored.fingerprint, timings
    )
