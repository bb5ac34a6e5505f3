"""Benchmark of the registry store: bulk save, no-op re-save and load on SQLite and PostgreSQL.

Run with ``.venv/bin/python benchmarks/bench_store.py [n_patients] [--cohort synth|tests]``
(default 10,000 patients from :func:`alsnet.synth.synthesize`; ``tests`` uses the
registry tests' generator, about 10 visits per patient).
PostgreSQL comes from ``$ALSNET_TEST_POSTGRES_URL`` or
``postgresql+psycopg://postgres@127.0.0.1:5432/test``; a throw-away database is
created and dropped. Targets: 10,000 patients saved in < 15 s (SQLite) and
< 30 s (PostgreSQL).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from alsnet.cohort import Cohort
from alsnet.registry import Store

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def make_cohort(n: int, kind: str) -> tuple[Cohort, str]:
    """Synthetic cohort from alsnet.synth (if available), else the registry tests' generator."""
    if kind == "synth":
        try:
            from alsnet.synth import synthesize

            return synthesize(n, seed=1), "alsnet.synth.synthesize"
        except ImportError:
            pass
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from registry._cohorts import make_cohort as fallback

    return fallback(n, seed=1), "tests/registry/_cohorts.make_cohort"


@contextmanager
def pg_database() -> Iterator[str | None]:
    """URL of a throw-away PostgreSQL database (None if no server answers)."""
    base = sa.make_url(os.environ.get("ALSNET_TEST_POSTGRES_URL", DEFAULT_PG))
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:
        print(f"PostgreSQL skipped: {exc.__class__.__name__}")
        yield None
        return
    name = f"alsnet_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def bench(url: str, cohort: Cohort) -> list[tuple[str, int, float]]:
    """Seconds for: open+migrate, first save, repeated save, full load."""
    out = []
    t = time.perf_counter()
    store = Store.open(url)
    out.append(("open (migrate)", 0, time.perf_counter() - t))
    with store:
        rep = store.save(cohort, source="bench")
        out.append(("save (all new)", sum(rep.rows.values()), rep.elapsed_s))
        rep2 = store.save(cohort, source="bench again")
        assert rep2.unchanged == len(cohort.patients) and not rep2.changed
        out.append(("save again (no-op)", 0, rep2.elapsed_s))
        t = time.perf_counter()
        loaded = store.load()
        n_rows = sum(len(df) for df in loaded.tables.values())
        out.append(("load", n_rows, time.perf_counter() - t))
        assert loaded == cohort
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n_patients", nargs="?", type=int, default=10_000)
    parser.add_argument("--cohort", choices=("synth", "tests"), default="synth")
    args = parser.parse_args()
    n = args.n_patients
    t = time.perf_counter()
    cohort, how = make_cohort(n, args.cohort)
    sizes = {k: len(v) for k, v in cohort.tables.items()}
    print(f"cohort: {n} patients from {how} in {time.perf_counter() - t:.1f} s")
    print("rows per table: " + ", ".join(f"{k}={v}" for k, v in sizes.items()))
    print(f"{'backend':<11} {'step':<20} {'rows':>9} {'seconds':>8} {'rows/s':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        results = {"sqlite": bench(f"sqlite:///{tmp}/bench/registry.db", cohort)}
    with pg_database() as pg:
        if pg is not None:
            results["postgresql"] = bench(pg, cohort)
    for backend, rows in results.items():
        for step, k, sec in rows:
            rate = f"{k / sec:9.0f}" if k else f"{'':>9}"
            print(f"{backend:<11} {step:<20} {k:>9} {sec:8.2f} {rate}")


if __name__ == "__main__":
    main()
