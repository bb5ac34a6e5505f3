"""The ``alsnet`` command line (Typer). Commands are thin wrappers over the Python API."""

from __future__ import annotations

import importlib

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="alsnet",
    help="alsnet: registry, clinical scores and synthetic cohorts for an ALS research network.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

#: Modules under alsnet.cli that each define ``register(app)``.
_COMMAND_MODULES = (
    "clinical",
    "synth",
    "data",
    "db",
    "demo",
    "twin",
    "trial",
    "omics",
    "federated",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"alsnet.cli.{_name}").register(app)


def main() -> None:
    """Entry point of the ``alsnet`` script."""
    app()
