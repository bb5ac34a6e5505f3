"""Platform trials: group-sequential boundaries, CAFS, randomisation.

Public API (re-exported here):

- :func:`gs_bounds`, :class:`GroupSequentialBounds`, :func:`crossing_probabilities`,
  :func:`spending_function` — one-sided group-sequential efficacy boundaries.
- :class:`AllocationDesign`, :func:`allocate`, :func:`randomise`, :func:`verify_log`,
  :class:`LogStatus` — live randomisation with a tamper-evident allocation log.
- :func:`cafs`, :func:`cafs_scores`, :class:`CafsResult` — combined assessment of function
  and survival.
- :class:`PlatformDesign`, :func:`load_design`, :func:`example_names` — platform-trial design
  files (YAML; shipped examples ``healey`` and ``mnd-smart``).
- :func:`simulate`, :class:`SimulationResult` — vectorised platform-trial simulation with a
  fast DRR analysis, on local processes or Ray (``backend=``, ``n_jobs=``).
- :class:`AdaptiveDesign`, :func:`simulate_adaptive`, :class:`AdaptiveResult` — adaptr-style
  adaptive multi-arm trials with a binary outcome (example ``adaptr-readme``); ``simulate``
  dispatches to it for adaptive designs.
- :class:`DrrData`, :func:`fit_drr_laplace`, :func:`fit_drr_mcmc`, :class:`DrrPosterior` —
  the shared-parameter DRR model on patient-level data (Laplace; NumPyro MCMC).
- :func:`analyse_trial`, :class:`TrialAnalysis` — interim/final analysis of a live trial.
- :func:`calibrate`, :class:`CalibrationResult` — success threshold for a target type I error.
- Reports (``alsnet.trials.report``): ``oc_report``, ``dsmb_report``.
"""

from __future__ import annotations

from alsnet.trials._errors import AllocationLogError, TrialDesignError
from alsnet.trials.adaptive import AdaptiveDesign, AdaptiveResult, simulate_adaptive
from alsnet.trials.analyse import TrialAnalysis, analyse_trial
from alsnet.trials.boundaries import (
    SPENDING_CHOICES,
    GroupSequentialBounds,
    crossing_probabilities,
    gs_bounds,
    spending_function,
)
from alsnet.trials.cafs import CafsResult, cafs, cafs_scores
from alsnet.trials.calibrate import CalibrationResult, calibrate
from alsnet.trials.design import PlatformDesign, Scenario, example_names, load_design
from alsnet.trials.model import DrrData, DrrPosterior, fit_drr_laplace, fit_drr_mcmc
from alsnet.trials.randomise import AllocationDesign, LogStatus, allocate, randomise, verify_log
from alsnet.trials.simulate import SimulationResult, simulate

__all__ = [
    "SPENDING_CHOICES",
    "AdaptiveDesign",
    "AdaptiveResult",
    "AllocationDesign",
    "AllocationLogError",
    "CafsResult",
    "CalibrationResult",
    "DrrData",
    "DrrPosterior",
    "GroupSequentialBounds",
    "LogStatus",
    "PlatformDesign",
    "Scenario",
    "SimulationResult",
    "TrialAnalysis",
    "TrialDesignError",
    "allocate",
    "analyse_trial",
    "cafs",
    "cafs_scores",
    "calibrate",
    "crossing_probabilities",
    "example_names",
    "fit_drr_laplace",
    "fit_drr_mcmc",
    "gs_bounds",
    "load_design",
    "randomise",
    "simulate",
    "simulate_adaptive",
    "spending_function",
    "verify_log",
]
