"""Outcome sources of the platform-trial simulator: registry bootstrap and digital twin.

The parametric source (PRO-ACT calibrated :class:`~alsnet.trials.design.OutcomeModel`) is
drawn directly in :mod:`alsnet.trials.simulate`. The two other sources are summarised once,
before the simulation, as an :class:`OutcomeLibrary` of control (untreated) courses; the
simulator then resamples library rows with replacement for every simulated patient:

- **bootstrap** (:func:`bootstrap_library`): registry patients with at least 3 ALSFRS-R totals
  spanning at least 3/4 of the trial's follow-up from their first visit. Each contributes
  their observed OLS slope (points/month) over that window and the time from that first visit
  to their first death, tracheostomy or permanent assisted ventilation (months; ``inf`` when
  none is recorded). A simulated patient's visits are ``slope * t + e`` with ``e`` resampled
  from the pooled OLS residuals (rescaled by ``sqrt(n / (n - 2))`` for the fitted slope),
  as in HEALEY's simulations resampling PRO-ACT placebo patients.
- **twin** (:func:`twin_library`): a digital twin's ``sample()`` draws joint latent
  ALSFRS-R curves and event days for registry patients from a common disease duration at
  enrolment; the library holds the change from the enrolment value at each visit, the event
  time and the twin's residual SD.

A treatment with disease-progression rate ratio ``DRR`` multiplies the change from baseline
(the slope) by ``DRR``; a hazard effect ``HR`` divides the time to event by ``HR`` (exactly
proportional hazards for an exponential baseline; an accelerated-time approximation
otherwise). Units: months (1 month = 30.4375 days), ALSFRS-R points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from alsnet.trials._errors import TrialDesignError
from alsnet.trials.design import WEEKS_TO_MONTHS, PlatformDesign

if TYPE_CHECKING:
    from alsnet.cohort import Cohort

__all__ = ["OutcomeLibrary", "bootstrap_library", "library_for", "twin_library"]

DAYS_PER_MONTH = 30.4375
#: Events ending ALSFRS-R follow-up (the HEALEY composite: death or permanent ventilation).
ENDPOINT_EVENTS = ("death", "tracheostomy", "pav")
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class OutcomeLibrary:
    """Control courses to resample.

    Attributes
    ----------
    source
        ``"bootstrap"`` or ``"twin"``.
    curves
        Change of the ALSFRS-R total from the enrolment visit at each of the design's visit
        weeks (points), shape ``(L, V)``; ``curves[:, 0] == 0``.
    event_months
        Time from enrolment to the endpoint event (months; ``inf`` = none), shape ``(L,)``.
    residuals
        Pooled measurement residuals to resample (points), or None to draw
        ``N(0, residual_sd^2)``.
    residual_sd
        Residual SD (points) when ``residuals`` is None.
    n_patients
        Registry patients behind the library.
    """

    source: str
    curves: FloatArray
    event_months: FloatArray
    residuals: FloatArray | None
    residual_sd: float
    n_patients: int

    def __post_init__(self) -> None:
        if self.curves.ndim != 2 or self.curves.shape[0] != self.event_months.shape[0]:
            raise TrialDesignError("outcome library: curves (L, V) and event_months (L,) differ")
        if self.curves.shape[0] < 2:
            raise TrialDesignError(
                f"outcomes.source={self.source}: fewer than 2 usable registry patients"
            )


def _totals(cohort: Cohort) -> pd.DataFrame:
    """ALSFRS-R totals: patient_id, day."""
    from alsnet.clinical.alsfrs import alsfrs_scores

    v = cohort.visits
    total = alsfrs_scores(v)["alsfrs_r_total"].to_numpy(dtype="float64")
    day = v["day"].to_numpy(dtype="float64", na_value=np.nan)
    ok = np.isfinite(total) & np.isfinite(day)
    return pd.DataFrame(
        {"patient_id": v["patient_id"].to_numpy()[ok], "day": day[ok], "y": total[ok]}
    )


def _endpoint_day(cohort: Cohort) -> pd.Series:
    ev = cohort.events
    if ev is None or not len(ev):
        return pd.Series(dtype="float64")
    sel = ev[ev["event"].astype(str).isin(ENDPOINT_EVENTS)]
    return sel.groupby("patient_id")["day"].min().astype("float64")


def bootstrap_library(cohort: Cohort, design: PlatformDesign) -> OutcomeLibrary:
    """Per-patient observed slopes, pooled residuals and event times of a registry cohort.

    Parameters
    ----------
    cohort
        Registry cohort (visits with ALSFRS-R items or totals; events).
    design
        The trial design (its ``follow_up_weeks`` sets the slope window and its
        ``visit_weeks`` the library's visit grid).

    Returns
    -------
    OutcomeLibrary
        One row per usable patient (see the module docstring).

    Raises
    ------
    TrialDesignError
        When fewer than 2 patients have enough ALSFRS-R visits.
    """
    obs = _totals(cohort).sort_values(["patient_id", "day"], kind="stable")
    fu_days = design.follow_up_weeks * 7.0
    base = obs.groupby("patient_id")["day"].transform("min")
    rel = (obs["day"] - base).to_numpy(dtype="float64")
    obs = obs.assign(t=rel / DAYS_PER_MONTH)[rel <= fu_days + 45.0]
    g = obs.groupby("patient_id")
    n = g["t"].transform("size").to_numpy()
    span = g["t"].transform("max").to_numpy()
    keep = (n >= 3) & (span * DAYS_PER_MONTH >= 0.75 * fu_days)
    obs = obs[keep]
    g = obs.groupby("patient_id", sort=True)
    tm = g["t"].transform("mean")
    ym = g["y"].transform("mean")
    dt = obs["t"] - tm
    dy = obs["y"] - ym
    sxy = (dt * dy).groupby(obs["patient_id"]).sum()
    sxx = (dt * dt).groupby(obs["patient_id"]).sum()
    slope = (sxy / sxx).astype("float64")
    resid = (dy - dt * slope.reindex(obs["patient_id"]).to_numpy()).to_numpy(dtype="float64")
    k = g["t"].transform("size").to_numpy(dtype="float64")
    resid = resid * np.sqrt(k / np.maximum(k - 2.0, 1.0))
    first = g["day"].min()
    end = _endpoint_day(cohort).reindex(slope.index)
    ev = ((end - first) / DAYS_PER_MONTH).to_numpy(dtype="float64")
    ev = np.where(np.isnan(ev), np.inf, ev)
    ok = ev > 0  # an endpoint before the enrolment visit: not enrollable
    t_v = np.asarray(design.visit_weeks) * WEEKS_TO_MONTHS
    s = slope.to_numpy(dtype="float64")[ok]
    return OutcomeLibrary(
        source="bootstrap",
        curves=s[:, None] * t_v[None, :],
        event_months=ev[ok],
        residuals=resid,
        residual_sd=float(np.std(resid)),
        n_patients=int(ok.sum()),
    )


def twin_library(
    twin: Any,
    cohort: Cohort,
    design: PlatformDesign,
    *,
    enrol_month: float = 18.0,
    draws: int = 20,
    seed: int = 0,
) -> OutcomeLibrary:
    """Control courses drawn by a digital twin for a cohort's patients.

    Parameters
    ----------
    twin
        A fitted :class:`~alsnet.twin.TwinModel` (or any object with the same
        ``sample(data, days, n, seed, noise=...)``: a dict with ``"alsfrs_r_total"`` of shape
        ``(patients, n, days)`` and optionally ``"event_day"`` of shape ``(patients, n)``,
        or the totals array alone) and ``sigma_`` (residual SD, points).
    cohort
        Registry patients whose twins are drawn (conditioned on their data).
    design
        The trial design (visit weeks).
    enrol_month
        Disease duration at enrolment (months since onset), shared by all patients.
    draws
        Trajectories per patient.
    seed
        Seed of the twin's draws.

    Returns
    -------
    OutcomeLibrary
        ``patients * draws`` rows minus draws whose event precedes enrolment.
    """
    t_v = np.asarray(design.visit_weeks) * WEEKS_TO_MONTHS
    base_day = enrol_month * DAYS_PER_MONTH
    days = base_day + t_v * DAYS_PER_MONTH
    try:
        out = twin.sample(cohort, days, draws, seed, noise=False)
        latent = True
    except TypeError:
        out = twin.sample(cohort, days, draws, seed)
        latent = False
    if isinstance(out, dict):
        tot = np.asarray(out["alsfrs_r_total"], dtype=np.float64)
        ev_day = out.get("event_day")
    else:
        tot, ev_day = np.asarray(out, dtype=np.float64), None
    if tot.ndim != 3 or tot.shape[-1] != t_v.size:
        raise TrialDesignError(
            f"outcomes.source=twin: sample() gave totals of shape {tot.shape}, "
            f"expected (patients, {draws}, {t_v.size})"
        )
    curves = (tot - tot[..., :1]).reshape(-1, t_v.size)
    if ev_day is None:
        ev = np.full(curves.shape[0], np.inf)
    else:
        ev = (np.asarray(ev_day, dtype=np.float64).reshape(-1) - base_day) / DAYS_PER_MONTH
    ok = ev > 0
    sd = float(getattr(twin, "sigma_", 0.0)) if latent else 0.0
    return OutcomeLibrary(
        source="twin",
        curves=curves[ok],
        event_months=ev[ok],
        residuals=None,
        residual_sd=sd,
        n_patients=int(tot.shape[0]),
    )


def library_for(design: PlatformDesign) -> OutcomeLibrary | None:
    """The library of ``design.outcomes`` built from a synthetic registry (None: parametric).

    ``bootstrap`` resamples ``alsnet.synth.synthesize(cohort_n, seed=cohort_seed)``;
    ``twin`` fits a :class:`~alsnet.twin.TwinModel` on that cohort and draws its patients'
    twins (slow: pass a prepared library to :func:`~alsnet.trials.simulate` instead).
    """
    spec = design.outcomes
    if spec.source == "parametric":
        return None
    from alsnet.synth import synthesize

    cohort = synthesize(spec.cohort_n, seed=spec.cohort_seed)
    if spec.source == "bootstrap":
        return bootstrap_library(cohort, design)
    from alsnet.twin import TwinModel

    twin = TwinModel(random_state=spec.cohort_seed).fit(cohort)
    return twin_library(twin, cohort, design, seed=spec.cohort_seed)
