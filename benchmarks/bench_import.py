"""Benchmark: import a 10,000-patient canonical CSV cohort into SQLite and PostgreSQL.

Times the same path as ``alsnet import csv DIR --keep-ids``: read and validate the CSV
files, then save in one transaction (bulk inserts / COPY). A second save of the same
cohort (the idempotent re-import) is timed too.

Run: ``.venv/bin/python benchmarks/bench_import.py [N_PATIENTS]``. PostgreSQL is taken from
``$ALSNET_TEST_POSTGRES_URL`` or 127.0.0.1:5432; a throw-away database is created and dropped.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from alsnet.io.canonical import read_csv, write_csv
from alsnet.registry import Store
from alsnet.synth import synthesize


def _pg_admin() -> sa.Engine | None:
    url = os.environ.get(
        "ALSNET_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    try:
        eng = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sa.text("select 1"))
        return eng
    except Exception:
        return None


def _time_import(directory: Path, url: str) -> tuple[float, float, float]:
    t0 = time.perf_counter()
    cohort = read_csv(directory, keep_ids=True)
    t1 = time.perf_counter()
    with Store.open(url) as store:
        store.save(cohort)
    t2 = time.perf_counter()
    with Store.open(url) as store:
        rep = store.save(cohort)
    t3 = time.perf_counter()
    assert rep.inserted == 0 and rep.replaced == 0
    return t1 - t0, t2 - t1, t3 - t2


def main(n: int = 10_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "cohort"
        cohort = synthesize(n, seed=1)
        write_csv(cohort, d)
        rows = sum(len(t) for t in cohort.tables.values())
        print(f"{n} patients, {len(cohort.visits)} visits, {rows} rows in all tables")
        print(
            f"{'store':<12} {'read+validate s':>16} {'save s':>8} {'total s':>8} "
            f"{'re-import s':>12}"
        )
        r, s, again = _time_import(d, f"sqlite:///{Path(tmp) / 'bench.db'}")
        print(f"{'SQLite':<12} {r:>16.2f} {s:>8.2f} {r + s:>8.2f} {again:>12.2f}")
        admin = _pg_admin()
        if admin is None:
            print(f"{'PostgreSQL':<12} (no server)")
            return
        name = f"alsnet_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            url = admin.url.set(database=name).render_as_string(hide_password=False)
            r, s, again = _time_import(d, url)
            print(f"{'PostgreSQL':<12} {r:>16.2f} {s:>8.2f} {r + s:>8.2f} {again:>12.2f}")
        finally:
            sa.create_engine(url).dispose()
            with admin.connect() as c:
                c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
