"""A synthetic patient table with baseline features and a survival outcome (tests, benchmarks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["synthetic_prognostic_table"]


def synthetic_prognostic_table(n_patients: int = 600, *, seed: int = 3) -> pd.DataFrame:
    """Baseline-window features of a synthetic cohort with time to death or tracheostomy.

    Parameters
    ----------
    n_patients : int, default 600
        Patients of :func:`alsnet.synth.synthesize`.
    seed : int, default 3
        Seed of the synthetic cohort.

    Returns
    -------
    DataFrame
        :func:`alsnet.twin.features.window_features` indexed by patient, plus
        ``time_days`` (days from the first ALSFRS-R visit ``t0`` to the first death or
        tracheostomy, censored at the last visit), ``event`` (1.0 = event) and ``subtype`` (a label
        ``A``/``B``/``C`` drawn at random, unrelated to the outcome: noise).
    """
    from alsnet.synth import synthesize
    from alsnet.twin.features import window_features

    cohort = synthesize(n_patients, seed=seed)
    f = window_features(cohort)
    ev = cohort.events
    death = ev[ev["event"].isin(["death", "tracheostomy"])].groupby("patient_id")["day"].min()
    last = cohort.visits.groupby("patient_id")["day"].max()
    end = death.reindex(f.index).fillna(last.reindex(f.index))
    f["time_days"] = (end - f["onset_delta_days"]).astype(float)
    f["event"] = death.reindex(f.index).notna().astype(float)
    f["subtype"] = np.random.default_rng(0).choice(["A", "B", "C"], size=len(f))
    return f
