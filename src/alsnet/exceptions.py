"""Exceptions and warnings raised by alsnet.

Every error derives from :class:`AlsnetError` and from the matching builtin,
so ``except ValueError`` keeps working for callers that do not know alsnet.
Messages never contain patient values beyond what is needed to locate a problem
(file, row, column and the offending cell of *non-identifying* data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AlsnetError",
    "AlsnetWarning",
    "ConvergenceError",
    "DataValidationError",
    "IdentifierError",
    "NotFittedError",
    "Problem",
    "StoreError",
]


class AlsnetError(Exception):
    """Root of every alsnet error."""


class AlsnetWarning(UserWarning):
    """Root of every alsnet warning."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule at one place in the input.

    Attributes
    ----------
    source : str
        File name or table name.
    row : int or None
        1-based line number in the file (header = line 1) or 1-based row of the table.
    column : str or None
        Column name.
    value : str or None
        The offending value, rendered as text (never an identifier).
    rule : str
        The rule that was broken, phrased so a data steward can fix it.
    """

    source: str
    row: int | None
    column: str | None
    value: str | None
    rule: str

    def __str__(self) -> str:
        where = self.source
        if self.row is not None:
            where += f", line {self.row}"
        if self.column is not None:
            where += f", column {self.column!r}"
        val = "" if self.value is None else f": value {self.value!r}"
        return f"{where}{val}: {self.rule}"


class DataValidationError(AlsnetError, ValueError):
    """Input data broke one or more rules; nothing was written.

    Parameters
    ----------
    problems : sequence of Problem
        Every problem found (up to the reporting limit).
    truncated : int, default 0
        How many further problems were found but not listed.
    """

    def __init__(self, problems: Sequence[Problem], truncated: int = 0) -> None:
        self.problems = list(problems)
        self.truncated = truncated
        n = len(self.problems) + truncated
        lines = [f"{n} problem(s) found; nothing was written:"]
        lines += [f"  - {p}" for p in self.problems]
        if truncated:
            lines.append(f"  ... and {truncated} more")
        super().__init__("\n".join(lines))


class IdentifierError(DataValidationError):
    """A direct identifier (name, address, full date of birth, ...) was found in the input."""


class NotFittedError(AlsnetError, ValueError, AttributeError):
    """An estimator was used before ``fit``."""


class ConvergenceError(AlsnetError, ArithmeticError):
    """A numerical procedure did not converge."""


class StoreError(AlsnetError, RuntimeError):
    """The registry store refused an operation (schema mismatch, conflicting data, ...)."""
