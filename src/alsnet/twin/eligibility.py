"""Risk-window eligibility (issue 4, item 5c): enrich a trial for informative patients.

* :func:`encals_window` — TRICALS-style: the ENCALS risk profile (TRICALS
  coefficients, no C9orf72; :mod:`alsnet.clinical.encals`) at the first ALSFRS-R
  visit must lie in a closed window, by default
  :data:`~alsnet.clinical.encals.TRICALS_ELIGIBLE_RANGE` (−6.0 to −2.0, as in
  TRICALS/MAGNET; see the reference clinical-scores.md §7).
* :func:`twin_window` — from a digital twin: the predicted mean ALSFRS-R decline
  over the next ``months`` after the screening day (each patient's last visit)
  must lie between two bounds (e.g. exclude patients too slow to show an effect
  and too fast to complete the trial).

Both return an :class:`Eligibility`: a boolean mask per patient, the score that
was compared and a reason for every ineligible patient (never a silent NaN: a
patient whose score cannot be computed is ineligible with the reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.cohort import Cohort

__all__ = ["Eligibility", "encals_window", "twin_window"]

_ENDPOINTS = ("death", "tracheostomy", "pav")


@dataclass(frozen=True)
class Eligibility:
    """Eligibility of each patient for a risk window.

    Attributes
    ----------
    eligible : Series of bool
        Index patient_id (order of ``cohort.patients``).
    score : Series of float
        Compared quantity (ENCALS risk profile, or predicted decline in points);
        NaN when it could not be computed.
    reason : Series of str
        Empty for eligible patients, otherwise why not.
    window : tuple of float
        (lower, upper) bounds, inclusive.
    """

    eligible: pd.Series
    score: pd.Series
    reason: pd.Series
    window: tuple[float, float]

    @property
    def share(self) -> float:
        """Share of patients eligible."""
        return float(self.eligible.mean()) if len(self.eligible) else float("nan")

    def table(self) -> pd.DataFrame:
        """patient_id, score, eligible, reason."""
        return pd.DataFrame(
            {"score": self.score, "eligible": self.eligible, "reason": self.reason}
        ).reset_index()


def _window(
    ids: pd.Index,
    score: np.ndarray,
    lo: float,
    hi: float,
    missing_reason: pd.Series,
    labels: tuple[str, str],
) -> Eligibility:
    if not lo <= hi:
        raise ValueError(f"window lower bound {lo} exceeds upper bound {hi}")
    ok = ~np.isnan(score)
    with np.errstate(invalid="ignore"):
        below, above = ok & (score < lo), ok & (score > hi)
    reason = np.where(
        ~ok,
        missing_reason.reindex(ids).fillna("score not available").to_numpy(dtype=object),
        np.where(below, labels[0], np.where(above, labels[1], "")),
    )
    eligible = ok & ~below & ~above
    return Eligibility(
        pd.Series(eligible, index=ids, name="eligible"),
        pd.Series(score, index=ids, name="score"),
        pd.Series(reason, index=ids, name="reason", dtype=object),
        (float(lo), float(hi)),
    )


def encals_window(
    cohort: Cohort, *, lower: float | None = None, upper: float | None = None
) -> Eligibility:
    """TRICALS risk-window eligibility from the ENCALS risk profile.

    Parameters
    ----------
    cohort : Cohort
    lower, upper : float, optional
        Window on the TRICALS risk profile (higher = worse prognosis); default
        :data:`~alsnet.clinical.encals.TRICALS_ELIGIBLE_RANGE`.

    Returns
    -------
    Eligibility
        Score = TRICALS risk profile at the first ALSFRS-R visit; missing or
        invalid predictors make a patient ineligible with the ENCALS message
        (column and rule, no value).
    """
    from alsnet.clinical.baseline import encals_baseline
    from alsnet.clinical.encals import TRICALS_ELIGIBLE_RANGE, encals_table

    lo, hi = TRICALS_ELIGIBLE_RANGE
    lo = lo if lower is None else lower
    hi = hi if upper is None else upper
    base = encals_baseline(cohort.patients, cohort.visits)
    tab = encals_table(base, errors="flag").set_index("patient_id")
    ids = pd.Index(tab.index, name="patient_id")
    score = tab["tricals_lp"].to_numpy(dtype="float64")
    err = tab["encals_error"].astype("string")
    missing = ("ENCALS predictors: " + err.fillna("")).where(err.notna(), "no ALSFRS-R visit")
    missing = missing.where(tab["baseline_day"].notna(), "no ALSFRS-R visit")
    return _window(
        ids,
        score,
        lo,
        hi,
        missing.astype(object),
        ("risk profile below the window (slow course)", "risk profile above the window (fast)"),
    )


def twin_window(
    model: Any,
    cohort: Cohort,
    *,
    lower: float,
    upper: float,
    months: float = 12.0,
    seed: int = 0,
) -> Eligibility:
    """Eligibility from the twin's predicted ALSFRS-R decline over ``months``.

    The screening day is each patient's last visit in ``cohort``; the score is
    the predicted mean total at screening minus the predicted mean total
    ``months`` later (points; positive = decline), conditioning on all visits.

    Parameters
    ----------
    model : fitted TwinModel (or any forecaster with ``predict(cohort, grid)``)
    cohort : Cohort
    lower, upper : float
        Inclusive window on the predicted decline, points.
    months : float, default 12
    seed : int, default 0
        Seed of the forecast draws.

    Returns
    -------
    Eligibility
        Patients without an ALSFRS-R visit or with a recorded death,
        tracheostomy or permanent ventilation are ineligible (with the reason).
    """
    from alsnet.twin.baselines import observations

    pats = cohort.patients.drop_duplicates("patient_id")
    ids = pd.Index(pats["patient_id"].to_numpy(), name="patient_id")
    has = ids.isin(observations(cohort, "alsfrs_r_total")["patient_id"])
    ended = ids.isin(cohort.events.loc[cohort.events["event"].isin(_ENDPOINTS), "patient_id"])
    last = cohort.visits.groupby("patient_id")["day"].max().reindex(ids)
    ok = has & ~ended
    use = ids[ok]
    screen = last.loc[use].to_numpy(dtype="float64")
    grid = pd.DataFrame(
        {
            "patient_id": np.concatenate([use.to_numpy(), use.to_numpy()]),
            "day": np.concatenate([screen, screen + months * DAYS_PER_MONTH]),
        }
    )
    score = np.full(len(ids), np.nan)
    if len(use):
        pred = model.predict(cohort.subset(use), grid, seed=seed)
        pred = pred.loc[pred["outcome"] == "alsfrs_r_total"]
        mean = pred.set_index(["patient_id", "day"])["mean"]
        now = mean.reindex(pd.MultiIndex.from_arrays([use, screen])).to_numpy()
        later = mean.reindex(
            pd.MultiIndex.from_arrays([use, screen + months * DAYS_PER_MONTH])
        ).to_numpy()
        score[ok] = now - later
    missing = pd.Series(
        np.where(~has, "no ALSFRS-R visit", np.where(ended, "endpoint event recorded", "")),
        index=ids,
        dtype=object,
    )
    return _window(
        ids,
        score,
        lower,
        upper,
        missing,
        ("predicted decline below the window (slow)", "predicted decline above the window (fast)"),
    )
