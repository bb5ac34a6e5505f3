"""Lossless save -> load round trips on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings

from alsnet.cohort import Cohort
from alsnet.registry import Store
from alsnet.registry.models import Base
from alsnet.schema import TABLES
from alsnet.synth import synthesize

from ._cohorts import cohorts, make_cohort


def _wipe(store: Store) -> None:
    with store.engine.begin() as conn:
        for t in reversed(Base.metadata.sorted_tables):
            conn.execute(t.delete())


def assert_same_tables(loaded: Cohort, saved: Cohort) -> None:
    """Every table equal in values and dtypes after sorting by its key."""
    for name, spec in TABLES.items():
        want = saved.tables[name].sort_values(list(spec.key)).reset_index(drop=True)
        got = loaded.tables[name]
        pd.testing.assert_frame_equal(got, want, check_exact=True, obj=name)
    assert loaded.fingerprint == saved.fingerprint


_SUPPRESS = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def _check_roundtrip(store: Store, c: Cohort) -> None:
    _wipe(store)
    rep = store.save(c)
    assert rep.inserted == len(c.patients)
    assert_same_tables(store.load(), c)
    again = store.save(c)  # hashes of stored rows equal hashes of the cohort's rows
    assert (again.inserted, again.unchanged, again.changed) == (0, len(c.patients), False)


@settings(max_examples=10, deadline=None, suppress_health_check=_SUPPRESS)
@given(c=cohorts())
def test_roundtrip_property(store: Store, c: Cohort) -> None:
    _check_roundtrip(store, c)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=_SUPPRESS)
@given(c=cohorts(max_patients=8))
def test_roundtrip_property_many(store: Store, c: Cohort) -> None:
    _check_roundtrip(store, c)


def test_roundtrip_realistic(store: Store) -> None:
    c = make_cohort(300, seed=21)
    store.save(c)
    assert_same_tables(store.load(), c)


def test_roundtrip_awkward_values(store: Store) -> None:
    c = make_cohort(3, seed=0).copy_tables()
    pid = c["patients"]["patient_id"].iloc[0]
    c["genetics"] = pd.DataFrame(
        {
            "patient_id": [pid] * 4,
            "gene": ["SOD1"] * 4,
            "variant": ['c.1"A>G', "p.(Ala5,Val)", "back\\slash", "NA"],
            "pathogenicity": ["vus"] * 4,
        }
    )
    v = c["visits"]
    v.loc[v.index[0], "fvc_pct"] = 0.1 + 0.2
    v.loc[v.index[1], "fvc_pct"] = 5e-324
    v.loc[v.index[2], "fvc_pct"] = 199.99999999999997
    cohort = Cohort.from_tables(c)
    store.save(cohort)
    assert_same_tables(store.load(), cohort)


def test_empty_cohort_roundtrip(store: Store) -> None:
    c = make_cohort(1, seed=0).subset([])
    rep = store.save(c)
    assert (rep.inserted, rep.unchanged) == (0, 0)
    assert store.load().patients.empty


def test_synthetic_cohort_roundtrip(store: Store) -> None:
    c = synthesize(300, seed=1)
    store.save(c)
    assert_same_tables(store.load(), c)
    assert store.save(c).unchanged == len(c.patients)


def test_sqlite_and_postgres_hold_identical_rows(sqlite_url: str, pg_url: str) -> None:
    c = make_cohort(40, seed=8)
    with Store.open(sqlite_url) as a, Store.open(pg_url) as b:
        a.save(c)
        b.save(c)
        la, lb = a.load(), b.load()
        for name in TABLES:
            pd.testing.assert_frame_equal(la.tables[name], lb.tables[name], check_exact=True)
        with a.engine.connect() as ca, b.engine.connect() as cb:
            for t in Base.metadata.sorted_tables:
                cols_a = [c["name"] for c in sa.inspect(ca).get_columns(t.name)]
                cols_b = [c["name"] for c in sa.inspect(cb).get_columns(t.name)]
                assert cols_a == cols_b, t.name
