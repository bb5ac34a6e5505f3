"""Engines for the registry: SQLite (WAL, foreign keys on) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

__all__ = ["make_engine", "sqlite_path"]

log = logging.getLogger(__name__)

#: Seconds a SQLite connection waits for another writer's lock before failing.
SQLITE_BUSY_TIMEOUT_S = 30.0
#: SQLite page cache per connection, in KiB (bulk inserts into indexed tables need room).
SQLITE_CACHE_KIB = 65536


def sqlite_path(url: str | sa.URL) -> Path | None:
    """File path of a SQLite URL, or ``None`` for in-memory or non-SQLite URLs."""
    u = sa.make_url(url)
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    if u.database.startswith("file:"):
        return None
    return Path(u.database)


def make_engine(url: str | sa.URL) -> sa.Engine:
    """Create an engine for a registry URL.

    SQLite connections run in WAL journal mode with foreign keys enforced, and
    every SQLAlchemy transaction starts with an explicit ``BEGIN`` so reads,
    temporary tables and DDL are part of it (pysqlite would otherwise begin
    only at the first write). PostgreSQL URLs are used as given; a
    ``-csearch_path=...`` option in the URL decides the schema.

    Parameters
    ----------
    url : str or URL
        ``sqlite:///path.db`` or ``postgresql+psycopg://user@host/db``.
    """
    u = sa.make_url(url)
    if u.get_backend_name() != "sqlite":
        return sa.create_engine(u, pool_pre_ping=True)
    engine = sa.create_engine(u, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let the "begin" hook below control transactions
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            if sqlite_path(u) is not None:
                cur.execute("PRAGMA journal_mode = WAL")
                cur.execute("PRAGMA synchronous = NORMAL")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine
