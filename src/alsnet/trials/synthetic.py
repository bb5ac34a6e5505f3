"""Synthetic live platform trial as registry tables (for tests, demos and dry runs of a DSMB).

:func:`simulate_live_trial` draws one trial of a design under a scenario with the same
outcome model as :mod:`alsnet.trials.simulate` (patient slopes, residual noise, exponential
death and dropout), adds a baseline ALSFRS-R and writes the result as canonical tables
(``patients``, ``visits`` with ``total_reported``, ``events``, ``treatments`` with
``treatment = "trial"`` and ``arm = "<regimen>:active|placebo"``) plus the allocation table
of :mod:`alsnet.trials.analyse` (with calendar days). Nothing here is real data.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from alsnet.cohort import Cohort
from alsnet.trials.design import WEEKS_TO_MONTHS, PlatformDesign
from alsnet.trials.simulate import enrolment_schedule

__all__ = ["simulate_live_trial"]

_DAYS_PER_MONTH = 7.0 / WEEKS_TO_MONTHS


def simulate_live_trial(
    design: PlatformDesign,
    scenario: str,
    *,
    seed: int = 0,
    data_cut_month: float | None = None,
    drift_per_month: float = 0.0,
) -> tuple[Cohort, pd.DataFrame]:
    """One synthetic trial of ``design`` under ``scenario`` as a registry cohort.

    Parameters
    ----------
    design : PlatformDesign
        Design (regimens, allocation, accrual, visits, outcome model).
    scenario : str
        Scenario of the design (true DRR, hazard ratio, population slope per regimen).
    seed : int, default 0
        Seed of the draws.
    data_cut_month : float, optional
        Calendar time of the data cut (months since the platform opened): only patients
        randomised and visits done by then are included (default: everything).
    drift_per_month : float, default 0
        Calendar-time drift: every patient's slope is multiplied by
        ``exp(drift_per_month * enrolment month)``.

    Returns
    -------
    cohort : Cohort
    allocation : DataFrame
        ``patient_id, regimen, arm, randomised_day, calendar_day``.
    """
    sc = design.scenario(scenario)
    rng = np.random.default_rng(seed)
    sched = enrolment_schedule(design)
    cut = math.inf if data_cut_month is None else data_cut_month
    keep = sched.enrol_month <= cut
    reg, enrol, order = sched.regimen[keep], sched.enrol_month[keep], sched.order[keep]
    n = reg.size
    a, p = design.allocation
    arms = np.empty(n, dtype=bool)
    for r in range(len(design.regimens)):
        m = reg == r
        k = int(order[m].max()) + 1 if m.any() else 0
        blocks = -(-k // (a + p))
        seq = np.concatenate(
            [rng.permutation(np.r_[np.ones(a, bool), np.zeros(p, bool)]) for _ in range(blocks)]
        )
        arms[m] = seq[order[m]] if k else arms[m]
    out = design.outcome
    drr = np.asarray(sc.drr)[reg]
    hr = np.asarray(sc.hazard_ratio)[reg]
    pop = np.asarray(sc.population_slope)[reg]
    slope = (out.slope_mean * pop + out.slope_sd * rng.standard_normal(n)) * np.exp(
        drift_per_month * enrol
    )
    if out.treatment_effect == "additive":  # as in the simulator: mean ratio DRR, SD unchanged
        shift = (drr - 1.0) * out.slope_mean * pop * np.exp(drift_per_month * enrol)
        slope = np.where(arms, slope + shift, slope)
    else:
        slope = np.where(arms, slope * drr, slope)
    base = np.clip(np.round(38.0 + 5.0 * rng.standard_normal(n)), 20, 48)
    t_m = np.asarray(design.visit_weeks) * WEEKS_TO_MONTHS
    lam = -math.log1p(-out.mortality_24w) / (24.0 * WEEKS_TO_MONTHS) * np.where(arms, hr, 1.0)
    death = rng.exponential(1.0, n) / np.maximum(lam, 1e-12)
    drop_rate = -math.log1p(-design.dropout_per_month) if design.dropout_per_month > 0 else 0.0
    drop = rng.exponential(1.0, n) / drop_rate if drop_rate > 0 else np.full(n, np.inf)
    y = base[:, None] + slope[:, None] * t_m + out.residual_sd * rng.standard_normal((n, t_m.size))
    seen = (t_m[None, :] <= np.minimum(death, drop)[:, None]) & (
        enrol[:, None] + t_m[None, :] <= cut
    )
    seen[:, 0] = True
    onset_day = rng.integers(180, 900, n)  # randomisation day since symptom onset
    ids = np.array([f"T{i:05d}" for i in range(n)])
    pi, vi = np.nonzero(seen)
    visits = pd.DataFrame(
        {
            "patient_id": ids[pi],
            "day": onset_day[pi] + np.round(t_m[vi] * _DAYS_PER_MONTH).astype(int),
            "instrument": "alsfrs_r",
            "total_reported": np.clip(np.round(y[pi, vi]), 0, 48),
        }
    )
    fu = design.follow_up_months
    died = (death <= np.minimum(drop, fu)) & (enrol + death <= cut)
    events = pd.DataFrame(
        {
            "patient_id": ids[died],
            "event": "death",
            "day": onset_day[died] + np.round(death[died] * _DAYS_PER_MONTH).astype(int),
        }
    )
    names = np.array([r.name for r in design.regimens])
    arm_txt = np.where(arms, "active", "placebo")
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "site_id": "S1",
            "sex": rng.choice(["F", "M"], n),
            "age_onset": np.round(rng.normal(60, 10, n).clip(25, 85), 1),
            "onset_region": rng.choice(["bulbar", "upper_limb", "lower_limb"], n),
            "diagnosis_day": np.minimum(onset_day - 30, 300),
            "el_escorial": "probable",
            "ftd": 0,
            "c9orf72": 0,
            "sod1": 0,
            "ancestry": "EUR",
        }
    )
    treatments = pd.DataFrame(
        {
            "patient_id": ids,
            "treatment": "trial",
            "start_day": onset_day,
            "trial_id": design.name,
            "arm": [f"{r}:{a_}" for r, a_ in zip(names[reg], arm_txt, strict=True)],
        }
    )
    cohort = Cohort.from_tables(
        {"patients": patients, "visits": visits, "events": events, "treatments": treatments}
    )
    allocation = pd.DataFrame(
        {
            "patient_id": ids,
            "regimen": names[reg],
            "arm": arm_txt,
            "randomised_day": onset_day,
            "calendar_day": np.round(enrol * _DAYS_PER_MONTH),
        }
    )
    return cohort, allocation
