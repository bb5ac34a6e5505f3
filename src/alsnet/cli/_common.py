"""Shared pieces of the command line: consoles, error handling, database location."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console

from alsnet.exceptions import AlsnetError, DataValidationError

__all__ = ["DbOption", "console", "default_db_url", "err_console", "handle_errors"]

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def default_db_url() -> str:
    """Database URL: ``$ALSNET_DB`` if set, else a SQLite file in the user data directory.

    ``ALSNET_DB`` may be a SQLAlchemy URL or a plain path to a SQLite file.
    """
    env = os.environ.get("ALSNET_DB")
    if env:
        return env if "://" in env else f"sqlite:///{Path(env).expanduser().resolve()}"
    from platformdirs import user_data_dir

    d = Path(user_data_dir("alsnet", appauthor=False))
    return f"sqlite:///{d / 'registry.db'}"


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (sqlite:///path.db or postgresql+psycopg://user@host/db). "
        "Default: $ALSNET_DB, else a SQLite file in the user data directory.",
        show_default=False,
    ),
]


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn alsnet errors into a message on stderr and a non-zero exit code.

    Exit codes: 1 = invalid input data (nothing written), 2 = other alsnet error.
    Tracebacks are never shown for these errors, so no data values leak.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DataValidationError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(code=1) from None
        except (AlsnetError, FileNotFoundError) as exc:
            err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            raise typer.Exit(code=2) from None

    return wrapper
