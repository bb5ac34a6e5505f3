"""Site-level analysis variables derived from a canonical :class:`~alsnet.cohort.Cohort`.

Survival is counted from symptom onset (day 0), with death as the event, censored at
the last contact: the later of the last visit and ``lost_to_follow_up``.

Cox covariates (:data:`COVARIATES`), one value per patient; patients missing a requested
covariate are left out of the model (complete cases).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from alsnet.cohort import Cohort
from alsnet.schema import EL_ESCORIAL, ONSET_REGIONS

__all__ = [
    "CATEGORICAL",
    "COVARIATES",
    "DAYS_PER_MONTH",
    "NUMERIC",
    "categorical_codes",
    "covariate_matrix",
    "split_sites",
    "survival_times",
]

DAYS_PER_MONTH = 365.25 / 12

#: Covariates usable in ``cox``: name -> meaning (units).
COVARIATES: dict[str, str] = {
    "age_onset": "age at symptom onset (years)",
    "sex_male": "sex recorded at birth: 1 = M, 0 = F",
    "bulbar_onset": "1 = onset_region is bulbar, 0 = any other region",
    "c9orf72": "C9orf72 repeat expansion: 1 = carrier, 0 = tested non-carrier (untested left out)",
    "sod1": "pathogenic SOD1 variant: 1/0 (untested left out)",
    "ftd": "frontotemporal dementia: 1/0",
    "family_history": "first- or second-degree relative with ALS/FTD: 1/0",
    "diagnosis_delay_months": "diagnosis_day / (365.25/12): months from onset to diagnosis",
}

_AGE_BANDS = ("<40", "40-49", "50-59", "60-69", "70-79", "80+")
_FLAG_LEVELS = ("0", "1", "missing")

#: Categorical variables for ``summary`` cross-tabs: name -> fixed levels.
CATEGORICAL: dict[str, tuple[str, ...]] = {
    "sex": ("F", "M", "missing"),
    "onset_region": (*ONSET_REGIONS, "missing"),
    "el_escorial": (*EL_ESCORIAL, "missing"),
    "age_band": (*_AGE_BANDS, "missing"),
    "c9orf72": _FLAG_LEVELS,
    "sod1": _FLAG_LEVELS,
    "ftd": _FLAG_LEVELS,
    "family_history": _FLAG_LEVELS,
    "died": ("0", "1"),
}

#: Numeric variables whose n, mean and SD ``summary`` can release.
NUMERIC: dict[str, str] = {
    "age_onset": "age at symptom onset (years)",
    "diagnosis_delay_months": "months from onset to diagnosis",
}


def survival_times(cohort: Cohort) -> pd.DataFrame:
    """Time from onset to death or last contact, one row per patient.

    Returns
    -------
    DataFrame
        Index ``patient_id``; columns ``time_days`` (int, days since onset) and ``event``
        (1 = died). Patients with no visit and no death or loss to follow-up, or with a
        negative time, are left out.
    """
    ev = cohort.events
    death = ev.loc[ev["event"] == "death"].groupby("patient_id")["day"].min()
    ltfu = ev.loc[ev["event"] == "lost_to_follow_up"].groupby("patient_id")["day"].max()
    last_visit = cohort.visits.groupby("patient_id")["day"].max()
    ids = pd.Index(cohort.patients["patient_id"].astype(str))
    last = pd.concat([last_visit.reindex(ids), ltfu.reindex(ids)], axis=1).max(axis=1, skipna=True)
    died = death.reindex(ids)
    time = died.where(died.notna(), last)
    out = pd.DataFrame(
        {"time_days": time.astype("Float64"), "event": died.notna().astype(np.int64)}, index=ids
    )
    out = out.loc[out["time_days"].notna() & (out["time_days"] >= 0)]
    out["time_days"] = out["time_days"].astype(np.int64)
    out.index.name = "patient_id"
    return out


def _patient_frame(cohort: Cohort) -> pd.DataFrame:
    p = cohort.patients.set_index(cohort.patients["patient_id"].astype(str))
    return p


def covariate_matrix(cohort: Cohort, names: Sequence[str]) -> pd.DataFrame:
    """Cox covariates of :data:`COVARIATES` as floats, indexed by ``patient_id``.

    Raises
    ------
    ValueError
        When a name is not in :data:`COVARIATES`.
    """
    unknown = [n for n in names if n not in COVARIATES]
    if unknown:
        raise ValueError(f"unknown covariate(s) {unknown}; known: {sorted(COVARIATES)}")
    p = _patient_frame(cohort)
    cols: dict[str, pd.Series] = {}
    for n in names:
        if n == "age_onset":
            s = p["age_onset"].astype("Float64")
        elif n == "sex_male":
            s = p["sex"].map({"M": 1.0, "F": 0.0}).astype("Float64")
        elif n == "bulbar_onset":
            s = (p["onset_region"] == "bulbar").astype("Float64").mask(p["onset_region"].isna())
        elif n == "diagnosis_delay_months":
            s = p["diagnosis_day"].astype("Float64") / DAYS_PER_MONTH
        else:
            s = p[n].astype("Float64")
        cols[n] = s
    return pd.DataFrame(cols, index=p.index).astype("float64")


def categorical_codes(cohort: Cohort, name: str) -> pd.Categorical:
    """Patient-level categorical variable ``name`` with the fixed levels of :data:`CATEGORICAL`."""
    if name not in CATEGORICAL:
        raise ValueError(f"unknown variable {name!r}; known: {sorted(CATEGORICAL)}")
    p = _patient_frame(cohort)
    if name == "age_band":
        bands = pd.cut(
            p["age_onset"].astype("float64"),
            [-np.inf, 40, 50, 60, 70, 80, np.inf],
            right=False,
            labels=list(_AGE_BANDS),
        )
        s = bands.astype(object)
    elif name == "died":
        dead = set(cohort.events.loc[cohort.events["event"] == "death", "patient_id"].astype(str))
        s = pd.Series(np.where(p.index.isin(list(dead)), "1", "0"), index=p.index, dtype=object)
    elif CATEGORICAL[name] == _FLAG_LEVELS:
        s = p[name].astype("Int64").astype("string").astype(object)
    else:
        s = p[name].astype(object)
    s = pd.Series(s, index=p.index).where(pd.notna(s), "missing")
    return pd.Categorical(s, categories=list(CATEGORICAL[name]))


def numeric_values(cohort: Cohort, name: str) -> np.ndarray:
    """Non-missing values of numeric variable ``name`` (see :data:`NUMERIC`)."""
    if name not in NUMERIC:
        raise ValueError(f"unknown numeric variable {name!r}; known: {sorted(NUMERIC)}")
    x = covariate_matrix(cohort, [name])[name].to_numpy()
    return x[~np.isnan(x)]


def split_sites(cohort: Cohort) -> Mapping[str, Cohort]:
    """Split a network cohort into one cohort per ``patients.site_id`` (for simulations)."""
    site = cohort.patients["site_id"].astype(str)
    pid = cohort.patients["patient_id"].astype(str)
    return {s: cohort.subset(pd.Index(pid[site == s].to_list())) for s in sorted(site.unique())}
