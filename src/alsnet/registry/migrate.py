"""Alembic migrations of the registry, run programmatically (no ``alembic.ini``).

The migration scripts ship inside the package (``alsnet/registry/migrations``);
:func:`alembic_config` points Alembic at them and hands over an open
connection, so migrations run inside the caller's transaction and land in the
connection's current schema (PostgreSQL ``search_path``).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

__all__ = ["MIGRATIONS_DIR", "alembic_config", "current_revision", "head_revision", "upgrade"]

#: Directory of the packaged Alembic environment.
MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")


def alembic_config(connection: sa.Connection | None = None, url: str | None = None) -> Config:
    """An Alembic :class:`~alembic.config.Config` for the packaged migrations.

    Parameters
    ----------
    connection : Connection, optional
        Connection the migrations run on (inside its current transaction).
    url : str, optional
        Database URL, used only when no connection is given.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision id of the packaged migrations."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no Alembic revisions found in " + str(MIGRATIONS_DIR))
    return head


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the database behind ``connection`` is at (``None`` if unversioned)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: sa.Connection, revision: str = "head") -> None:
    """Migrate the database behind ``connection`` to ``revision`` (default: head)."""
    command.upgrade(alembic_config(connection), revision)
