"""Errors raised by :mod:`alsnet.trials`."""

from __future__ import annotations

from alsnet.exceptions import AlsnetError

__all__ = ["AllocationLogError", "TrialDesignError"]


class TrialDesignError(AlsnetError, ValueError):
    """A trial design or analysis setting is invalid; the message names the field and reason."""


class AllocationLogError(AlsnetError, RuntimeError):
    """An allocation log is broken (edited, truncated in the middle, reordered) or would be."""
