"""Registry visits and their measurements: ALSFRS-R items, FVC, weight/BMI, serum NfL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsnet.synth._common import DAYS_PER_MONTH, FloatArray, IntArray
from alsnet.synth._events import Course
from alsnet.synth._patients import Baseline
from alsnet.synth._sites import SiteSpec
from alsnet.synth._trajectories import Progression, integer_items, item_fractions, total_at
from alsnet.synth.params import SynthParams

__all__ = ["PatientLevels", "VisitGrid", "draw_levels", "schedule_visits", "visits_table"]


@dataclass(frozen=True)
class VisitGrid:
    """Flattened visits: patient index and day since onset of each visit."""

    patient: IntArray
    day: IntArray


@dataclass(frozen=True)
class PatientLevels:
    """Patient-level measurement parameters (arrays of length n).

    Attributes
    ----------
    fvc_onset : ndarray of float
        FVC % predicted at onset.
    fvc_loss : ndarray of float
        Relative FVC loss per unit of relative ALSFRS-R loss.
    fvc_pred_l : ndarray of float
        Predicted FVC (L) for the patient.
    weight_onset : ndarray of float
        Weight at onset (kg).
    log_nfl : ndarray of float
        Patient-level log serum NfL (log pg/mL) at age 55.
    """

    fvc_onset: FloatArray
    fvc_loss: FloatArray
    fvc_pred_l: FloatArray
    weight_onset: FloatArray
    log_nfl: FloatArray


def draw_levels(
    base: Baseline, prog: Progression, params: SynthParams, rng: np.random.Generator
) -> PatientLevels:
    """Draw patient-level FVC, weight and NfL parameters."""
    n = prog.d50.shape[0]
    fvc0 = np.clip(params.fvc_onset_mean + params.fvc_onset_sd * rng.standard_normal(n), 60, 140)
    loss = params.fvc_loss_factor_median * np.exp(
        params.fvc_loss_factor_sd_log * rng.standard_normal(n)
    )
    loss = loss * np.where(base.region == "respiratory", 1.6, 1.0)
    h_cm = base.height_m * 100.0
    pred = np.where(
        base.male,
        0.0576 * h_cm - 0.0269 * base.age_onset - 4.34,
        0.0443 * h_cm - 0.0260 * base.age_onset - 2.89,
    )
    bmi0 = np.clip(params.bmi_onset_mean + params.bmi_onset_sd * rng.standard_normal(n), 17, 45)
    rho = params.nfl_speed_rho
    log_nfl = np.log(params.nfl_median_pg_ml) + params.nfl_sd_log * (
        rho * prog.speed + np.sqrt(1.0 - rho**2) * rng.standard_normal(n)
    )
    return PatientLevels(
        fvc_onset=fvc0,
        fvc_loss=loss,
        fvc_pred_l=np.clip(pred, 1.5, 7.0),
        weight_onset=bmi0 * base.height_m**2,
        log_nfl=log_nfl,
    )


def schedule_visits(course: Course, params: SynthParams, rng: np.random.Generator) -> VisitGrid:
    """Visits every ``visit_interval_days`` from the first visit, until follow-up ends.

    Scheduled visits deviate by a jitter (clipped to ±30 days, so days stay unique
    per patient), later visits are missed with ``missed_visit_probability``, and
    no visit is kept on or after the day of death or after loss to follow-up or
    the administrative end.
    """
    first = course.first_visit_day.astype(np.float64)
    end = course.end_day
    k_max = int(np.ceil(params.follow_up_max_years * 365.25 / params.visit_interval_days)) + 1
    n = first.shape[0]
    k = np.arange(k_max, dtype=np.float64)[None, :]
    jitter = np.clip(
        np.round(params.visit_jitter_sd_days * rng.standard_normal((n, k_max))), -30, 30
    )
    jitter[:, 0] = 0.0
    day = first[:, None] + k * params.visit_interval_days + jitter
    keep = day <= end[:, None]
    keep &= day < course.death_day[:, None]
    missed = rng.random((n, k_max)) < params.missed_visit_probability
    missed[:, 0] = False
    keep &= ~missed
    pi, ki = np.nonzero(keep)
    return VisitGrid(patient=pi.astype(np.int64), day=day[pi, ki].astype(np.int64))


def visits_table(
    patient_ids: np.ndarray,
    grid: VisitGrid,
    base: Baseline,
    prog: Progression,
    course: Course,
    levels: PatientLevels,
    sites: Sequence[SiteSpec],
    params: SynthParams,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The canonical ``visits`` table with ALSFRS-R items and measurements.

    ALSFRS-R: latent total plus Gaussian noise (SD chosen so that, after rounding,
    the total varies with ``residual_sd_total``), split into items and rounded
    to integers adding up to the rounded total. Consistency rules: q5b from the
    gastrostomy on (q5a before), q12 = 4 before NIV, 1-3 on NIV, 1 on PAV, 0 after a
    tracheostomy. Serum NfL only at sites with a biobank.
    """
    p, day = grid.patient, grid.day
    m = p.shape[0]
    t = day / DAYS_PER_MONTH
    latent = total_at(t, prog.d50[p], prog.dx[p])
    sd = np.sqrt(max(params.residual_sd_total**2 - 1.0 / 12.0, 0.0))
    noisy = np.clip(latent + sd * rng.standard_normal(m), 0.0, 48.0)
    lost = item_fractions(1.0 - noisy / 48.0, prog.gamma[p])
    items = integer_items(4.0 * (1.0 - lost), noisy).astype(np.float64)

    gastro = day >= course.gastrostomy_day[p]
    niv = day >= course.niv_day[p]
    trach = day >= course.tracheostomy_day[p]
    q12 = items[:, 11]
    q12 = np.where(niv, np.clip(q12, 1.0, 3.0), 4.0)
    q12 = np.where(day >= course.pav_day[p], 1.0, q12)
    items[:, 11] = np.where(trach, 0.0, q12)

    no_frs = rng.random(m) < params.alsfrs_missing_probability
    items[no_frs] = np.nan
    cols = {f"q{j}": items[:, j - 1] for j in (1, 2, 3, 4)}
    cols["q5a"] = np.where(gastro, np.nan, items[:, 4])
    cols["q5b"] = np.where(gastro, items[:, 4], np.nan)
    cols.update({f"q{j}": items[:, j - 1] for j in range(6, 13)})
    total = items.sum(axis=1)

    # function actually lost (latent, without visit noise) drives FVC and weight
    f_latent = 1.0 - latent / 48.0
    fvc = levels.fvc_onset[p] * (1.0 - levels.fvc_loss[p] * f_latent)
    fvc = np.clip(fvc + params.fvc_noise_sd * rng.standard_normal(m), 5.0, 180.0)
    fvc = np.where(rng.random(m) < params.fvc_missing_probability, np.nan, np.round(fvc, 1))
    fvc_l = np.round(fvc / 100.0 * levels.fvc_pred_l[p], 2)
    bulbar_lost = lost[:, :3].mean(axis=1)
    weight = levels.weight_onset[p] * (
        1.0 - params.weight_loss_factor * f_latent - params.weight_loss_factor_bulbar * bulbar_lost
    )
    weight = weight + params.weight_noise_sd * rng.standard_normal(m)
    weight = np.where(
        rng.random(m) < params.weight_missing_probability,
        np.nan,
        np.round(np.clip(weight, 25.0, 250.0), 1),
    )
    bmi = np.round(weight / base.height_m[p] ** 2, 1)

    has_bank = np.array([s.biobank is not None for s in sites])[base.site[p]]
    first = day == course.first_visit_day[p]
    measured = has_bank & (first | (rng.random(m) < params.nfl_measurement_probability))
    log_nfl = (
        levels.log_nfl[p]
        + params.nfl_age_per_year * (base.age_onset[p] + t / 12 - 55.0)
        + params.nfl_visit_sd_log * rng.standard_normal(m)
    )
    nfl = np.where(measured, np.round(np.exp(log_nfl), 1), np.nan)

    caregiver_p = np.where(base.ftd[p], 0.6, 0.08)
    r = rng.random(m)
    respondent = np.where(
        r < caregiver_p, "caregiver", np.where(r > 0.98, "clinician", "patient")
    ).astype(object)
    r = rng.random(m)
    mode = np.where(r < 0.85, "in_person", np.where(r < 0.95, "phone", "video")).astype(object)
    respondent[no_frs] = None
    mode[no_frs] = None
    instrument = np.full(m, "alsfrs_r", dtype=object)
    instrument[no_frs] = None

    out = pd.DataFrame({"patient_id": patient_ids[p], "day": day, "instrument": instrument})
    for c in ("q1", "q2", "q3", "q4", "q5a", "q5b", "q6", "q7", "q8", "q9", "q10", "q11", "q12"):
        out[c] = cols[c]
    out["total_reported"] = total
    out["respondent"] = respondent
    out["mode"] = mode
    out["fvc_l"] = fvc_l
    out["fvc_pct"] = fvc
    out["weight_kg"] = weight
    out["bmi"] = bmi
    out["nfl_serum_pg_ml"] = nfl
    return out
