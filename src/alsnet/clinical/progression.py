"""ΔFS: the rate of ALSFRS-R decline from symptom onset to a visit.

Kimura et al., Neurology 2006: ΔFS = (48 − ALSFRS-R total) / months from symptom
onset to the visit. alsnet takes ΔFS **positive for decline**, in points/month,
with months = days / 365.25 × 12 (as in the ENCALS/TRICALS code).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from alsnet.clinical.alsfrs import alsfrs_scores
from alsnet.exceptions import DataValidationError, Problem

__all__ = ["DAYS_PER_MONTH", "days_to_months", "delta_fs", "delta_fs_at_first_visit"]

#: Days per month used throughout alsnet (365.25 / 12).
DAYS_PER_MONTH = 365.25 / 12


def days_to_months(days: ArrayLike) -> np.ndarray:
    """Convert days to months (days / 365.25 × 12).

    Parameters
    ----------
    days : array_like of float
        Durations in days.

    Returns
    -------
    ndarray of float
        Durations in months.
    """
    return np.asarray(days, dtype="float64") / DAYS_PER_MONTH


def delta_fs(
    total: ArrayLike, months_since_onset: ArrayLike, *, instrument_max: float = 48
) -> np.ndarray:
    """ΔFS = (instrument_max − total) / months since onset, positive = decline.

    Parameters
    ----------
    total : array_like of float
        ALSFRS-R total (0-48), or original ALSFRS total (0-40) with
        ``instrument_max=40``. Never mix the two scales in one call.
    months_since_onset : array_like of float
        Time from symptom onset to the visit of ``total``, months
        (use :func:`days_to_months` on day counts).
    instrument_max : float, default 48
        Maximum of the instrument: 48 for ALSFRS-R, 40 for the original ALSFRS.

    Returns
    -------
    ndarray of float
        Points per month, broadcast over the inputs. NaN (never inf) where the
        duration is ≤ 0 or any input is missing.

    Examples
    --------
    >>> delta_fs([36.0, 40.0], [12.0, 0.0]).tolist()
    [1.0, nan]
    """
    t = np.asarray(total, dtype="float64")
    m = np.asarray(months_since_onset, dtype="float64")
    t, m = np.broadcast_arrays(t, m)
    ok = m > 0
    safe = np.where(ok, m, 1.0)
    return np.where(ok, (instrument_max - t) / safe, np.nan)


def delta_fs_at_first_visit(visits: pd.DataFrame) -> pd.Series:
    """ΔFS of each patient at the first ALSFRS-R visit that has a total.

    The visit used is the patient's earliest visit (smallest ``day``) with an
    ALSFRS-R total (from items, or the reported total when items are incomplete;
    see :func:`alsnet.clinical.alsfrs_scores`). Original ALSFRS (0-40) visits are
    ignored. If that visit is on or before onset (``day`` ≤ 0), ΔFS is undefined
    and NaN; later visits are *not* used instead, so the visit never shifts
    silently.

    Parameters
    ----------
    visits : DataFrame
        Canonical visits: ``patient_id``, ``day`` (days since symptom onset) and
        the ALSFRS-R items (and optionally ``instrument``, ``total_reported``).

    Returns
    -------
    Series of float
        ``delta_fs`` in points/month (positive = decline), indexed by
        ``patient_id`` (every patient in ``visits``; NaN if no ALSFRS-R total).
    """
    missing = [c for c in ("patient_id", "day") if c not in visits.columns]
    if missing:
        raise DataValidationError(
            [Problem("visits", None, c, None, "required column is missing") for c in missing]
        )
    total = alsfrs_scores(visits)["alsfrs_r_total"].to_numpy()
    day = pd.to_numeric(visits["day"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    frame = pd.DataFrame({"patient_id": visits["patient_id"].to_numpy(), "day": day, "t": total})
    have = frame.loc[~np.isnan(total) & ~np.isnan(day)]
    first = have.sort_values(["patient_id", "day"], kind="stable").drop_duplicates("patient_id")
    dfs = pd.Series(
        delta_fs(first["t"].to_numpy(), days_to_months(first["day"].to_numpy())),
        index=pd.Index(first["patient_id"].to_numpy(), name="patient_id"),
        name="delta_fs",
    )
    patients = pd.Index(pd.unique(visits["patient_id"].to_numpy()), name="patient_id")
    return dfs.reindex(patients)
