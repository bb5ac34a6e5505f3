"""Shared pieces of the twin tests' simulations from the model itself."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.synth import synthesize


def patients_and_design(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Synthetic patients, their age at onset and the covariate matrix of the simulated truth.

    The matrix has the columns intercept, age at onset (years), bulbar onset (0/1) and
    diagnostic delay (months; missing delays are set to the mean).
    """
    pats = synthesize(n, seed=seed).patients.copy()
    age = pats["age_onset"].to_numpy(dtype="float64")
    bulbar = (pats["onset_region"] == "bulbar").fillna(False).to_numpy(dtype="float64")
    delay = pats["diagnosis_day"].to_numpy(dtype="float64", na_value=np.nan) / DAYS_PER_MONTH
    x = np.column_stack(
        [np.ones(n), age, bulbar, np.nan_to_num(delay, nan=float(np.nanmean(delay)))]
    )
    return pats, age, x
