"""Per-patient baseline predictors for the ENCALS model, from canonical tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsnet.clinical.alsfrs import alsfrs_scores
from alsnet.clinical.progression import DAYS_PER_MONTH, days_to_months, delta_fs

__all__ = ["encals_baseline"]


def encals_baseline(patients: pd.DataFrame, visits: pd.DataFrame) -> pd.DataFrame:
    """ENCALS predictors of every patient at the first ALSFRS-R visit.

    The baseline visit is each patient's earliest visit (smallest ``day``) with
    an ALSFRS-R total; ΔFS is taken there (points/month, positive = decline).
    FVC % predicted is the measurement closest in time to that visit (ties: the
    earlier one). Diagnostic delay is ``diagnosis_day`` in months.

    Parameters
    ----------
    patients : DataFrame
        Canonical patients table.
    visits : DataFrame
        Canonical visits table.

    Returns
    -------
    DataFrame
        One row per patient (order of ``patients``) with ``patient_id``,
        ``baseline_day`` and the columns that
        :func:`alsnet.clinical.encals_table` reads: ``age_onset`` (years),
        ``delta_fs``, ``diagnostic_delay_months``, ``fvc_pct``,
        ``bulbar_onset``, ``definite_el_escorial``, ``ftd``, ``c9orf72``
        (empty when unknown). Patients without an ALSFRS-R visit get NaN.
    """
    total = alsfrs_scores(visits)["alsfrs_r_total"].to_numpy()
    v = pd.DataFrame(
        {
            "patient_id": visits["patient_id"].to_numpy(),
            "day": visits["day"].to_numpy(dtype="float64"),
            "total": total,
            "fvc": visits["fvc_pct"].to_numpy(dtype="float64", na_value=np.nan)
            if "fvc_pct" in visits
            else np.nan,
        }
    )
    first = (
        v.loc[~np.isnan(v["total"])]
        .sort_values(["patient_id", "day"], kind="stable")
        .drop_duplicates("patient_id")
        .set_index("patient_id")
    )
    fv = v.loc[~np.isnan(v["fvc"]), ["patient_id", "day", "fvc"]]
    fv = fv.join(first["day"].rename("base_day"), on="patient_id")
    fv["gap"] = (fv["day"] - fv["base_day"]).abs()
    fvc = (
        fv.dropna(subset=["gap"])
        .sort_values(["patient_id", "gap", "day"], kind="stable")
        .drop_duplicates("patient_id")
        .set_index("patient_id")["fvc"]
    )
    pid = patients["patient_id"]
    base_day = pid.map(first["day"]).to_numpy(dtype="float64", na_value=np.nan)
    base_total = pid.map(first["total"]).to_numpy(dtype="float64", na_value=np.nan)
    out = pd.DataFrame(
        {
            "patient_id": pid.to_numpy(),
            "baseline_day": base_day,
            "age_onset": patients["age_onset"].to_numpy(dtype="float64", na_value=np.nan),
            "delta_fs": delta_fs(base_total, days_to_months(base_day)),
            "diagnostic_delay_months": patients["diagnosis_day"].to_numpy(
                dtype="float64", na_value=np.nan
            )
            / DAYS_PER_MONTH,
            "fvc_pct": pid.map(fvc).to_numpy(dtype="float64", na_value=np.nan),
            "bulbar_onset": (patients["onset_region"] == "bulbar")
            .fillna(False)
            .astype(int)
            .to_numpy(),
            "definite_el_escorial": (patients["el_escorial"] == "definite")
            .fillna(False)
            .astype(int)
            .to_numpy(),
            "ftd": patients["ftd"].to_numpy(dtype="float64", na_value=np.nan),
            "c9orf72": patients["c9orf72"].to_numpy(dtype="float64", na_value=np.nan),
        }
    )
    return out
