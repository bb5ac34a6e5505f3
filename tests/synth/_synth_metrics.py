"""Summary statistics of a cohort used by the calibration tests (computed independently
of the generator: only from the canonical tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsnet.cohort import Cohort

DAYS_PER_MONTH = 365.25 / 12.0
ITEMS = ["q1", "q2", "q3", "q4", "q5a", "q5b", "q6", "q7", "q8", "q9", "q10", "q11", "q12"]


def alsfrs_visits(cohort: Cohort) -> pd.DataFrame:
    """ALSFRS-R visits with a total (item sum) and months since onset."""
    v = cohort.visits
    v = v.loc[v["instrument"] == "alsfrs_r"].copy()
    v["total"] = v[ITEMS].sum(axis=1, min_count=1)
    v["month"] = v["day"] / DAYS_PER_MONTH
    return v


def ols_slopes(
    df: pd.DataFrame,
    value: str,
    *,
    window_days: float = 365.0,
    min_visits: int = 3,
    min_span_days: float = 180.0,
) -> pd.Series:
    """Per-patient OLS slope (units per month) over the first ``window_days`` of follow-up.

    Patients need ``min_visits`` non-missing values spanning ``min_span_days``.
    """
    d = df.loc[df[value].notna(), ["patient_id", "day", value]].copy()
    first = d.groupby("patient_id")["day"].transform("min")
    d = d.loc[d["day"] - first <= window_days]
    g = d.groupby("patient_id")
    n = g["day"].transform("size")
    span = g["day"].transform("max") - g["day"].transform("min")
    d = d.loc[(n >= min_visits) & (span >= min_span_days)].copy()
    d["t"] = d["day"] / DAYS_PER_MONTH
    g = d.groupby("patient_id")
    d["tc"] = d["t"] - g["t"].transform("mean")
    d["yc"] = d[value] - g[value].transform("mean")
    d["txy"] = d["tc"] * d["yc"]
    d["txx"] = d["tc"] ** 2
    s = d.groupby("patient_id")[["txy", "txx"]].sum()
    return s["txy"] / s["txx"]


def survival_from_onset(cohort: Cohort) -> pd.DataFrame:
    """Per patient: months from onset to death (event=1) or to last contact (event=0)."""
    p = cohort.patients[["patient_id"]].set_index("patient_id")
    e = cohort.events
    death = e.loc[e["event"] == "death"].set_index("patient_id")["day"]
    last = pd.concat([cohort.visits[["patient_id", "day"]], e[["patient_id", "day"]]])
    last = last.groupby("patient_id")["day"].max()
    p["event"] = p.index.isin(death.index).astype(int)
    p["day"] = death.reindex(p.index).fillna(last.reindex(p.index)).astype(float)
    p["months"] = p["day"] / DAYS_PER_MONTH
    return p


def kings_stage(cohort: Cohort) -> pd.DataFrame:
    """King's stage (1-4B numeric: 4A=4, 4B=4.5) of each ALSFRS-R visit (Balendra 2014)."""
    v = alsfrs_visits(cohort)
    e = cohort.events
    gas = e.loc[e["event"] == "gastrostomy"].set_index("patient_id")["day"]
    bulbar = (v[["q1", "q2", "q3"]] < 4).any(axis=1)
    upper = (v["q4"] < 4) | (v["q5a"] < 4)
    lower = v["q8"] < 4
    regions = bulbar.astype(int) + upper.astype(int) + lower.astype(int)
    stage = regions.clip(lower=1).astype(float)
    gastro = v["q5b"].notna() | (v["day"] >= v["patient_id"].map(gas).fillna(np.inf))
    stage = np.where(gastro, 4.0, stage)
    stage = np.where((v["q10"] == 0) | (v["q12"] < 4), 4.5, stage)
    v["kings"] = stage
    return v


def mitos_stage(cohort: Cohort) -> pd.DataFrame:
    """MiToS stage (0-4) of each ALSFRS-R visit (Chiò 2015, communicating = AND)."""
    v = alsfrs_visits(cohort)
    walk = (v["q8"] <= 1) | (v["q6"] <= 1)
    swallow = v["q3"] <= 1
    comm = (v["q1"] <= 1) & (v["q4"] <= 1)
    breath = (v["q10"] <= 1) | (v["q12"] <= 2)
    v["mitos"] = walk.astype(int) + swallow.astype(int) + comm.astype(int) + breath.astype(int)
    return v
