"""SQLite engines run in WAL mode with foreign keys enforced."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from alsnet.registry.engine import make_engine, sqlite_path


def test_sqlite_pragmas(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_sqlite_transactions_include_reads_and_roll_back_ddl(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(RuntimeError), engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            assert conn.in_transaction()
            raise RuntimeError("boom")
        with engine.connect() as conn:
            assert "t" not in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///a/b.db", "a/b.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("postgresql+psycopg://u@h/db", None),
    ],
)
def test_sqlite_path(url: str, expected: str | None) -> None:
    got = sqlite_path(url)
    assert (None if got is None else str(got)) == expected
