"""Digital twins: joint progression model, prognostic scores and their use in trials.

* :func:`window_features`: DREAM-style per-patient features of the first 3 months
  after the first ALSFRS-R visit, with the month 3-12 ALSFRS-R slope target.
* :func:`load_dream` / :func:`run_dream_benchmark`: the DREAM ALS Prediction Prize
  data (filled constants undone) and the CV-then-test-once benchmark.
* :class:`PrognosticScore`: scikit-learn regressor of the untreated outcome.
* :class:`TwinModel`: joint twin of ALSFRS-R (D50 sigmoid with empirical-Bayes patient
  effects), FVC % predicted (tied to the fraction of function lost) and the composite
  event (Weibull proportional hazards on covariates and the patient's course).
* :class:`TwinEnsemble`: bootstrap ensemble of TwinModels (same API) whose mixture
  forecasts carry the uncertainty of the population parameters (small cohorts).
* PROCOVA (Schuler et al. 2022): variance, power, sample size and the ANCOVA.
* Submodules (import explicitly): :mod:`alsnet.twin.baselines` (last slope, MixedLM,
  random forest, ENCALS survival), :mod:`alsnet.twin.evaluate` (held-out evaluation,
  misspecified cohort), :mod:`alsnet.twin.augment` (twin-augmented control) and
  :mod:`alsnet.twin.eligibility` (risk-window eligibility).
"""

from __future__ import annotations

from alsnet.twin.dream import (
    DREAM_REFERENCES,
    DreamBenchmark,
    DreamData,
    load_dream,
    pearson_r,
    rmsd,
    run_dream_benchmark,
    unfill_dream,
)
from alsnet.twin.ensemble import TwinEnsemble
from alsnet.twin.features import TARGET, WINDOW_VARIABLES, feature_columns, window_features
from alsnet.twin.model import TwinModel
from alsnet.twin.procova import (
    ProcovaResult,
    ResamplingCheck,
    SampleSize,
    adjusted_sample_size,
    procova_ancova,
    procova_control_size,
    procova_power,
    procova_resampling,
    procova_sample_size,
    procova_variance,
)
from alsnet.twin.prognostic import CANDIDATES, PrognosticScore, make_candidate

__all__ = [
    "CANDIDATES",
    "DREAM_REFERENCES",
    "TARGET",
    "WINDOW_VARIABLES",
    "DreamBenchmark",
    "DreamData",
    "ProcovaResult",
    "PrognosticScore",
    "ResamplingCheck",
    "SampleSize",
    "TwinEnsemble",
    "TwinModel",
    "adjusted_sample_size",
    "feature_columns",
    "load_dream",
    "make_candidate",
    "pearson_r",
    "procova_ancova",
    "procova_control_size",
    "procova_power",
    "procova_resampling",
    "procova_sample_size",
    "procova_variance",
    "rmsd",
    "run_dream_benchmark",
    "unfill_dream",
    "window_features",
]
