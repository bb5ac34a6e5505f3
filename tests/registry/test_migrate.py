"""Packaged Alembic migrations: head equals the models on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from alsnet.exceptions import StoreError
from alsnet.registry import Store
from alsnet.registry.engine import make_engine
from alsnet.registry.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    current_revision,
    head_revision,
    upgrade,
)
from alsnet.registry.models import Base


def _norm(sql: str) -> str:
    return re.sub(r"\s+", " ", sql.replace('"', "")).strip()


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()
    assert not list(Path(MIGRATIONS_DIR).glob("*.ini"))
    assert head_revision() == "0001"


def test_upgrade_head_matches_models(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            assert current_revision(conn) is None
            upgrade(conn)
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            assert compare_metadata(ctx, Base.metadata) == []
            names = set(sa.inspect(conn).get_table_names())
            assert names == {*Base.metadata.tables, "alembic_version"}
            insp = sa.inspect(conn)
            for name, t in Base.metadata.tables.items():
                live = {c["name"] for c in insp.get_check_constraints(name)}
                want = {c.name for c in t.constraints if isinstance(c, sa.CheckConstraint)}
                assert live == want, name
    finally:
        engine.dispose()


def test_sqlite_check_constraint_text_matches_models(sqlite_url: str) -> None:
    """SQLite keeps the DDL verbatim, so the frozen migration literals can be compared."""
    with Store.open(sqlite_url) as store, store.engine.connect() as conn:
        insp = sa.inspect(conn)
        for name, t in Base.metadata.tables.items():
            live = {c["name"]: _norm(c["sqltext"]) for c in insp.get_check_constraints(name)}
            want = {
                str(c.name): _norm(str(c.sqltext))
                for c in t.constraints
                if isinstance(c, sa.CheckConstraint)
            }
            assert live == want, name


@pytest.mark.postgres
def test_postgres_tables_land_in_the_search_path_schema(pg_url: str) -> None:
    with Store.open(pg_url) as store, store.engine.connect() as conn:
        schema = conn.execute(sa.text("select current_schema()")).scalar_one()
        assert schema.startswith("t_")
        assert "alembic_version" in sa.inspect(conn).get_table_names(schema=schema)
        assert "alembic_version" not in sa.inspect(conn).get_table_names(schema="public")


def test_downgrade_to_base_removes_everything(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            upgrade(conn)
            command.downgrade(alembic_config(conn), "base")
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
            assert current_revision(conn) is None
    finally:
        engine.dispose()


def test_open_is_idempotent_and_create_false_needs_head(db_url: str) -> None:
    with pytest.raises(StoreError, match=r"schema revision none|no registry database"):
        Store.open(db_url, create=False)
    with Store.open(db_url) as s:
        assert s.revision == head_revision()
    with Store.open(db_url) as s, Store.open(db_url, create=False) as s2:
        assert s.revision == s2.revision == head_revision()


def test_open_create_false_refuses_missing_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "r.db"
    with pytest.raises(StoreError, match="no registry database"):
        Store.open(f"sqlite:///{path}", create=False)
    assert not path.exists()
    with Store.open(f"sqlite:///{path}") as s:  # create=True makes parent dirs
        assert s.counts()["patients"] == 0
    assert path.is_file()


def test_unknown_revision_is_a_store_error(sqlite_url: str) -> None:
    with Store.open(sqlite_url) as s, s.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'zzzz'"))
    with pytest.raises(StoreError, match="revision zzzz"):
        Store.open(sqlite_url)
