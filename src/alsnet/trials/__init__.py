"""Platform trials: group-sequential boundaries, CAFS, randomisation.

Public API (re-exported here):

- :func:`gs_bounds`, :class:`GroupSequentialBounds`, :func:`crossing_probabilities`,
  :func:`spending_function` — one-sided group-sequential efficacy boundaries.
- :class:`AllocationDesign`, :func:`allocate`, :func:`randomise`, :func:`verify_log`,
  :class:`LogStatus` — live randomisation with a tamper-evident allocation log.
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
from alsnet.trials.randomise import AllocationDesign, LogStatus, allocate, randomise, verify_log

__all__ = [
    "SPENDING_CHOICES",
    "AllocationDesign",
    "AllocationLogError",
    "CafsResult",
    "GroupSequentialBounds",
    "LogStatus",
    "TrialDesignError",
    "allocate",
    "cafs",
    "cafs_scores",
    "crossing_probabilities",
    "gs_bounds",
    "randomise",
    "spending_function",
    "verify_log",
]
