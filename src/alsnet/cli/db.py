"""CLI commands: ``alsnet db ...`` (where the registry lives, its schema version and contents)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from alsnet.cli._common import DbOption, console, default_db_url, handle_errors

__all__ = ["register"]

db_app = typer.Typer(help="Inspect and migrate the registry database.", no_args_is_help=True)


@db_app.command("upgrade")
@handle_errors
def upgrade(db: DbOption = None) -> None:
    """Create the registry or migrate it to the newest schema (Alembic ``upgrade head``)."""
    from alsnet.registry import Store

    url = db or default_db_url()
    with Store.open(url, create=True) as store:
        console.print(f"{store!r}: schema at revision {store.revision}")


@db_app.command("status")
@handle_errors
def status(
    db: DbOption = None,
    imports: Annotated[bool, typer.Option("--imports", help="Also list past imports.")] = False,
) -> None:
    """Show the database location, schema revision and row counts per table."""
    from alsnet.registry import Store

    url = db or default_db_url()
    with Store.open(url, create=False) as store:
        console.print(f"{store!r}\nschema revision: {store.revision}")
        table = Table()
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name, n in store.counts().items():
            table.add_row(name, f"{n:,}")
        console.print(table)
        if imports:
            console.print(store.imports().to_string(index=False))


def register(app: typer.Typer) -> None:
    """Add the ``db`` sub-commands to ``app``."""
    app.add_typer(db_app, name="db")
