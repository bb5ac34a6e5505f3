"""DREAM-style baseline-window features from registry data (a canonical :class:`Cohort`).

Each patient's **window** starts at the first visit with an ALSFRS-R total (day
``t0``, the registry analogue of trial entry) and covers ``window_days`` days
(default 91, the first 3 months, as in the DREAM ALS Prediction Prize). Every
longitudinal variable is summarised over the visits in the window; the target is
the ALSFRS-R total slope over months 3-12 after ``t0``.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd

from alsnet.clinical.alsfrs import alsfrs_scores
from alsnet.clinical.progression import DAYS_PER_MONTH, delta_fs
from alsnet.cohort import Cohort

__all__ = [
    "STATS",
    "TARGET",
    "WINDOW_VARIABLES",
    "feature_columns",
    "window_features",
]

logger = logging.getLogger(__name__)

#: Longitudinal variables summarised over the window (visit columns or ALSFRS-R scores).
WINDOW_VARIABLES: tuple[str, ...] = (
    "alsfrs_r_total",
    "bulbar",
    "fine_motor",
    "gross_motor",
    "respiratory",
    "fvc_pct",
    "weight_kg",
    "bmi",
    "nfl_serum_pg_ml",
)

#: Per-variable summaries: first/last/mean/min/max value, slope (units/month), visit count.
STATS: tuple[str, ...] = ("first", "last", "mean", "min", "max", "slope", "n")

#: Name of the target column: ALSFRS-R total slope over months 3-12, points/month.
TARGET = "target_slope"

_STATIC = (
    "onset_delta_days",
    "age_at_window",
    "sex_male",
    "onset_bulbar",
    "onset_limb",
    "onset_other",
    "delta_fs",
    "diagnostic_delay_days",
)


def feature_columns() -> list[str]:
    """Names of the feature columns returned by :func:`window_features`, in order.

    Examples
    --------
    >>> feature_columns()[:3]
    ['onset_delta_days', 'age_at_window', 'sex_male']
    >>> len(feature_columns())
    71
    """
    return list(_STATIC) + [f"{v}_{s}" for v in WINDOW_VARIABLES for s in STATS]


def _long(visits: pd.DataFrame, t0: pd.Series) -> pd.DataFrame:
    """Long table (patient_id, rel_day, variable, value) of every non-missing measurement."""
    scores = alsfrs_scores(visits)
    wide = pd.DataFrame({"patient_id": visits["patient_id"].to_numpy()})
    wide["rel_day"] = visits["day"].to_numpy(dtype="float64") - visits["patient_id"].map(
        t0
    ).to_numpy(dtype="float64", na_value=np.nan)
    for v in WINDOW_VARIABLES:
        if v in scores.columns:
            wide[v] = scores[v].to_numpy(dtype="float64", na_value=np.nan)
        elif v in visits.columns:
            wide[v] = pd.to_numeric(visits[v], errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan
            )
        else:
            wide[v] = np.nan
    long = wide.melt(id_vars=["patient_id", "rel_day"], var_name="variable", value_name="value")
    return long.dropna(subset=["value", "rel_day"])


def _summaries(win: pd.DataFrame) -> pd.DataFrame:
    """Per (patient, variable) first/last/mean/min/max/OLS slope/n over a long table."""
    win = win.sort_values(["patient_id", "variable", "rel_day"], kind="stable")
    x = win["rel_day"].to_numpy() / DAYS_PER_MONTH
    y = win["value"].to_numpy()
    work = pd.DataFrame(
        {
            "patient_id": win["patient_id"].to_numpy(),
            "variable": win["variable"].to_numpy(),
            "x": x,
            "y": y,
            "xx": x * x,
            "xy": x * y,
        }
    )
    g = work.groupby(["patient_id", "variable"], sort=False, observed=True)
    agg = g.agg(
        first=("y", "first"),
        last=("y", "last"),
        mean=("y", "mean"),
        min=("y", "min"),
        max=("y", "max"),
        n=("y", "size"),
        sx=("x", "sum"),
        sy=("y", "sum"),
        sxx=("xx", "sum"),
        sxy=("xy", "sum"),
    )
    n = agg["n"].to_numpy(dtype="float64")
    den = n * agg["sxx"].to_numpy() - agg["sx"].to_numpy() ** 2
    num = n * agg["sxy"].to_numpy() - agg["sx"].to_numpy() * agg["sy"].to_numpy()
    ok = (n >= 2) & (den > 1e-9 * np.maximum(n * agg["sxx"].to_numpy(), 1.0))
    agg["slope"] = np.where(ok, num / np.where(ok, den, 1.0), np.nan)
    return agg[list(STATS)]


def _target(
    long: pd.DataFrame, start: float, end: float, method: Literal["endpoints", "ols"]
) -> pd.Series:
    """ALSFRS-R total slope (points/month) over visits with start ≤ rel_day ≤ end."""
    tot = long.loc[
        (long["variable"] == "alsfrs_r_total")
        & (long["rel_day"] >= start)
        & (long["rel_day"] <= end)
    ]
    if method == "ols":
        s = _summaries(tot)
        return s["slope"].droplevel("variable")
    tot = tot.sort_values(["patient_id", "rel_day"], kind="stable")
    g = tot.groupby("patient_id", sort=False)
    first_day, last_day = g["rel_day"].first(), g["rel_day"].last()
    first_val, last_val = g["value"].first(), g["value"].last()
    span = (last_day - first_day) / DAYS_PER_MONTH
    return ((last_val - first_val) / span.where(span > 0)).rename("slope")


def window_features(
    cohort: Cohort,
    *,
    window_days: int = 91,
    target_start_days: int = 91,
    target_end_days: int = 365,
    target_method: Literal["endpoints", "ols"] = "endpoints",
) -> pd.DataFrame:
    """Per-patient baseline-window features and the 3-12-month ALSFRS-R slope target.

    Parameters
    ----------
    cohort : Cohort
        Canonical cohort; reads ``patients`` and ``visits``.
    window_days : int, default 91
        Length of the feature window after the first ALSFRS-R visit, days
        (inclusive: visits with 0 ≤ day − t0 ≤ window_days).
    target_start_days, target_end_days : int, default 91 and 365
        Target period after t0, days (inclusive).
    target_method : {"endpoints", "ols"}, default "endpoints"
        "endpoints": (last − first ALSFRS-R total) / months between the first and
        the last visit in the target period (as DREAM's ``dFRS``); "ols":
        least-squares slope over all visits in the period.

    Returns
    -------
    DataFrame
        Indexed by ``patient_id`` (one row per patient with at least one ALSFRS-R
        total; patients without one are left out and counted in the log), with
        the columns of :func:`feature_columns` and ``target_slope``:

        ``onset_delta_days``
            Days from symptom onset to t0 (positive; DREAM's ``Onset.Delta``
            has the opposite sign).
        ``age_at_window``
            Age at t0, years (``age_onset`` + t0 / 365.25).
        ``sex_male``
            1 male, 0 female, NaN unknown.
        ``onset_bulbar``, ``onset_limb``, ``onset_other``
            One-hot onset region (limb = upper/lower/limb; bulbar_limb counts as
            both bulbar and limb); all 0 when unknown.
        ``delta_fs``
            ΔFS at t0, points/month, positive = decline (NaN when t0 ≤ 0).
        ``diagnostic_delay_days``
            ``diagnosis_day`` (days from onset to diagnosis).
        ``<variable>_<stat>``
            For each of :data:`WINDOW_VARIABLES` (ALSFRS-R total and domains,
            points; FVC % predicted; weight kg; BMI kg/m²; serum NfL pg/mL) the
            window's ``first``, ``last``, ``mean``, ``min``, ``max``, ``slope``
            (least squares, units per month; NaN with fewer than 2 distinct days)
            and ``n`` (measurements, 0 when none). Missing stays NaN.
        ``target_slope``
            ALSFRS-R total slope over the target period, points/month (negative =
            decline); NaN without two visits on distinct days in the period.

    Examples
    --------
    >>> from alsnet.synth import synthesize
    >>> f = window_features(synthesize(50, seed=1))
    >>> f.shape[1], f.index.name
    (72, 'patient_id')
    """
    if window_days <= 0 or target_end_days <= target_start_days:
        raise ValueError("need window_days > 0 and target_end_days > target_start_days")
    if target_method not in ("endpoints", "ols"):
        raise ValueError(f"target_method must be 'endpoints' or 'ols'; got {target_method!r}")
    visits, patients = cohort.visits, cohort.patients
    total = alsfrs_scores(visits)["alsfrs_r_total"].to_numpy()
    has = ~np.isnan(total)
    t0 = (
        pd.Series(visits["day"].to_numpy(dtype="float64")[has])
        .groupby(visits["patient_id"].to_numpy()[has])
        .min()
    )
    n_out = int(patients["patient_id"].nunique() - len(t0))
    if n_out:
        logger.info("window_features: %d patient(s) without an ALSFRS-R total left out", n_out)
    long = _long(visits, t0)
    win = long.loc[(long["rel_day"] >= 0) & (long["rel_day"] <= window_days)]
    summ = pd.DataFrame(_summaries(win).unstack("variable"))
    summ.columns = pd.Index([f"{c[1]}_{c[0]}" for c in summ.columns])

    pat = patients.set_index("patient_id").reindex(t0.index)
    t0v = t0.to_numpy()
    region = pat["onset_region"].astype("string")
    bulbar = region.isin(["bulbar", "bulbar_limb"]).fillna(False)
    limb = region.isin(["upper_limb", "lower_limb", "limb", "bulbar_limb"]).fillna(False)
    known = region.notna()
    sex = pat["sex"].astype("string")
    out = pd.DataFrame(index=pd.Index(t0.index, name="patient_id"))
    out["onset_delta_days"] = t0v
    out["age_at_window"] = pat["age_onset"].to_numpy(dtype="float64", na_value=np.nan) + (
        t0v / 365.25
    )
    out["sex_male"] = np.where(sex.isna(), np.nan, (sex == "M").fillna(False).astype(float))
    out["onset_bulbar"] = bulbar.astype(float).to_numpy()
    out["onset_limb"] = limb.astype(float).to_numpy()
    out["onset_other"] = (known & ~bulbar & ~limb).fillna(False).astype(float).to_numpy()
    first_total = summ["alsfrs_r_total_first"].reindex(out.index).to_numpy()
    out["delta_fs"] = delta_fs(first_total, t0v / DAYS_PER_MONTH)
    out["diagnostic_delay_days"] = pat["diagnosis_day"].to_numpy(dtype="float64", na_value=np.nan)
    out = out.join(summ)
    for col in feature_columns():
        if col not in out.columns:
            out[col] = np.nan
        if col.endswith("_n"):
            out[col] = out[col].fillna(0.0)
    out = out[feature_columns()].astype("float64")
    out[TARGET] = _target(long, target_start_days, target_end_days, target_method).reindex(
        out.index
    )
    return out
