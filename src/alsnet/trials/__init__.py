"""Platform trials: group-sequential boundaries, CAFS, randomisation.

Public API (re-exported here):

- :func:`gs_bounds`, :class:`GroupSequentialBounds`, :func:`crossing_probabilities`,
  :func:`spending_function` — one-sided group-sequential efficacy boundaries.
"""

from __future__ import annotations

from alsnet.trials._errors import AllocationLogError, TrialDesignError
from alsnet.trials.boundaries import (
    SPENDING_CHOICES,
    GroupSequentialBounds,
    crossing_probabilities,
    gs_bounds,
    spending_function,
)

__all__ = [
    "SPENDING_CHOICES",
    "AllocationLogError",
    "GroupSequentialBounds",
    "TrialDesignError",
    "crossing_probabilities",
    "gs_bounds",
    "spending_function",
]
