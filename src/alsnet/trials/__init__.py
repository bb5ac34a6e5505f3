"""Platform trials: group-sequential boundaries, CAFS, randomisation.

Public API (re-exported here):

- :func:`gs_bounds`, :class:`GroupSequentialBounds`, :func:`crossing_probabilities`,
  :func:`spending_function` — one-sided group-sequential efficacy boundaries.
- :func:`cafs`, :func:`cafs_scores`, :class:`CafsResult` — combined assessment of function
  and survival.
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
from alsnet.trials.cafs import CafsResult, cafs, cafs_scores

__all__ = [
    "SPENDING_CHOICES",
    "AllocationLogError",
    "CafsResult",
    "GroupSequentialBounds",
    "TrialDesignError",
    "cafs",
    "cafs_scores",
    "crossing_probabilities",
    "gs_bounds",
    "spending_function",
]
