"""Treatments, trial participation, consents, biosamples and CSF biomarkers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsnet.synth._common import BoolArray, FloatArray, IntArray
from alsnet.synth._events import Course
from alsnet.synth._patients import Baseline
from alsnet.synth._sites import SiteSpec
from alsnet.synth._visits import PatientLevels, VisitGrid
from alsnet.synth.params import SynthParams

__all__ = [
    "biomarkers_table",
    "biosamples_table",
    "consent_matrix",
    "consents_table",
    "treatments_table",
]

_TRIALS = ("SYN-PLATFORM-A", "SYN-PLATFORM-B", "SYN-RCT-C")
_OPTIONAL_SCOPES = ("data_sharing", "commercial", "recontact")
#: Trial entry rules: disease duration below 3 years and FVC of at least 60 % predicted.
_TRIAL_MAX_DURATION_DAYS = 1096
_TRIAL_MIN_FVC = 60.0


def _site_values(sites: Sequence[SiteSpec], attr: str, site: IntArray) -> np.ndarray:
    return np.array([getattr(s, attr) for s in sites])[site]


def _stop_day(start: FloatArray, planned: FloatArray, course: Course, p: IntArray) -> FloatArray:
    """Observed stop day: the planned stop if seen, death if first, else empty (NaN)."""
    end = course.end_day[p]
    died = np.isfinite(course.death_day[p]) & (course.death_day[p] <= end)
    stop = np.where(planned <= end, planned, np.where(died, end, np.nan))
    return np.where(np.isfinite(stop), np.maximum(stop, start), np.nan)


def _rows(
    pids: np.ndarray,
    p: IntArray,
    treatment: str,
    start: FloatArray,
    stop: FloatArray,
    course: Course,
    trial: np.ndarray | None = None,
    arm: np.ndarray | None = None,
) -> pd.DataFrame:
    seen = start <= course.end_day[p]
    p, start, stop = p[seen], start[seen], stop[seen]
    out = pd.DataFrame(
        {
            "patient_id": pids[p],
            "treatment": treatment,
            "start_day": start.astype(np.int64),
            "stop_day": pd.Series(np.round(np.where(np.isfinite(stop), stop, np.nan))).astype(
                "Int64"
            ),
            "trial_id": None if trial is None else trial[seen],
            "arm": None if arm is None else arm[seen],
        }
    )
    return out


def treatments_table(
    pids: np.ndarray,
    base: Baseline,
    course: Course,
    grid: VisitGrid,
    visits: pd.DataFrame,
    sites: Sequence[SiteSpec],
    params: SynthParams,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Riluzole, edaravone, tofersen and trial participation (canonical ``treatments``).

    Treatments start after diagnosis; a treatment is listed only if it started
    within follow-up; its stop day is empty while ongoing at the end of follow-up
    and equals the day of death for patients who died on it. Tofersen is given
    only to observed SOD1 carriers of a (likely) pathogenic variant at sites
    where it is available. Trial participants are randomised at a random visit
    meeting the entry rules (disease duration < 3 years, FVC >= 60 %, ALSFRS-R
    recorded); ``visits`` are the rows of ``grid`` in the same order.
    """
    n = pids.shape[0]
    dx = course.diagnosis_day.astype(np.float64)
    parts = []

    p = np.flatnonzero(rng.random(n) < params.riluzole_probability)
    start = dx[p] + np.round(rng.exponential(30.0, p.size))
    early = rng.random(p.size) < params.riluzole_stop_probability
    planned = np.where(early, start + np.round(rng.exponential(120.0, p.size)) + 7, np.inf)
    parts.append(_rows(pids, p, "riluzole", start, _stop_day(start, planned, course, p), course))

    p_eda = _site_values(sites, "edaravone_probability", base.site)
    p = np.flatnonzero(rng.random(n) < p_eda)
    start = dx[p] + np.round(rng.uniform(30.0, 365.0, p.size))
    planned = start + np.round(rng.exponential(300.0, p.size)) + 28
    parts.append(_rows(pids, p, "edaravone", start, _stop_day(start, planned, course, p), course))

    sod1 = base.genes.flag("SOD1").fillna(0).to_numpy(dtype=bool)
    avail = _site_values(sites, "tofersen_available", base.site).astype(bool)
    p = np.flatnonzero(sod1 & avail & (rng.random(n) < params.tofersen_probability))
    start = np.maximum(dx[p], course.first_visit_day[p]) + np.round(rng.uniform(0, 180, p.size))
    parts.append(
        _rows(
            pids, p, "tofersen", start, _stop_day(start, np.full(p.size, np.inf), course, p), course
        )
    )

    p_trial = _site_values(sites, "trial_probability", base.site)
    wants = rng.random(n) < p_trial
    # randomised at a random eligible visit: onset < 3 years, FVC >= 60 %, ALSFRS-R taken,
    # still followed 30 days later (HEALEY-like entry rules; platform-trials.md)
    vp = grid.patient
    ok = (
        wants[vp]
        & (grid.day <= _TRIAL_MAX_DURATION_DAYS)
        & (visits["fvc_pct"].to_numpy(dtype=np.float64, na_value=np.nan) >= _TRIAL_MIN_FVC)
        & visits["instrument"].notna().to_numpy()
        & (grid.day + 30 <= course.end_day[vp])
    )
    cand = np.flatnonzero(ok)
    cand = cand[np.argsort(rng.random(cand.size), kind="stable")]
    _, pos = np.unique(vp[cand], return_index=True)
    pick = cand[pos]
    p = vp[pick]
    start = grid.day[pick].astype(np.float64)
    trial = np.asarray(_TRIALS, dtype=object)[rng.integers(0, len(_TRIALS), p.size)]
    arm = np.where(rng.random(p.size) < params.trial_placebo_fraction, "placebo", "active")
    planned = start + params.trial_duration_days
    parts.append(
        _rows(
            pids,
            p,
            "trial",
            start,
            _stop_day(start, planned, course, p),
            course,
            trial,
            arm.astype(object),
        )
    )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["patient_id", "start_day"], kind="stable").reset_index(drop=True)


def consent_matrix(n: int, params: SynthParams, rng: np.random.Generator) -> dict[str, BoolArray]:
    """Consent granted at the first visit, per scope (arrays of length n)."""
    return {scope: rng.random(n) < prob for scope, prob in params.consent_probs.items()}


def consents_table(
    pids: np.ndarray,
    granted: dict[str, BoolArray],
    course: Course,
    params: SynthParams,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Consent decisions at the first visit, plus later withdrawals of optional scopes."""
    n = pids.shape[0]
    first = course.first_visit_day
    parts = [
        pd.DataFrame(
            {"patient_id": pids, "scope": scope, "granted": g.astype(np.int64), "day": first}
        )
        for scope, g in granted.items()
    ]
    end = np.minimum(course.end_day, first + 3650.0)
    for scope in _OPTIONAL_SCOPES:
        if scope not in granted:
            continue
        draw = rng.random(n) < params.consent_withdrawal_probability
        w = granted[scope] & draw & (end > first + 1)
        idx = np.flatnonzero(w)
        day = np.floor(rng.uniform(first[idx] + 1, end[idx])).astype(np.int64)
        parts.append(
            pd.DataFrame({"patient_id": pids[idx], "scope": scope, "granted": 0, "day": day})
        )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["patient_id", "day", "scope"], kind="stable").reset_index(drop=True)


def biosamples_table(
    pids: np.ndarray,
    base: Baseline,
    course: Course,
    grid: VisitGrid,
    nfl_measured: BoolArray,
    granted: dict[str, BoolArray],
    sites: Sequence[SiteSpec],
    params: SynthParams,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, BoolArray]:
    """Serum at every visit with an NfL draw, CSF and DNA at the first visit.

    Only patients at sites with a biobank who consented to the biobank (serum,
    CSF) or to genetics (DNA, tested patients) give samples.

    Returns
    -------
    biosamples : DataFrame
        Canonical ``biosamples`` table.
    csf : ndarray of bool, shape (n,)
        Patients with a CSF sample at the first visit.
    """
    n = pids.shape[0]
    bank = np.array([s.biobank or "" for s in sites], dtype=object)[base.site]
    has_bank = bank != ""
    bio = has_bank & granted.get("biobank", np.zeros(n, dtype=bool))
    gen = has_bank & granted.get("genetics", np.zeros(n, dtype=bool)) & base.genes.tested
    csf = bio & (rng.random(n) < params.csf_probability)

    sv = np.flatnonzero(nfl_measured & bio[grid.patient])
    p_serum = grid.patient[sv]
    serial = pd.Series(p_serum).groupby(p_serum).cumcount().to_numpy() + 1
    serum = pd.DataFrame(
        {
            "patient_id": pids[p_serum],
            "sample_id": pd.Series(pids[p_serum]).str.cat(
                pd.Series(serial).astype(str).str.zfill(3), sep="-S"
            ),
            "sample_type": "serum",
            "day": grid.day[sv],
            "biobank": bank[p_serum],
            "consent_scope": "biobank",
        }
    )
    parts = [serum]
    for mask, code, kind, scope in ((csf, "C", "csf", "biobank"), (gen, "D", "dna", "genetics")):
        idx = np.flatnonzero(mask)
        parts.append(
            pd.DataFrame(
                {
                    "patient_id": pids[idx],
                    "sample_id": pd.Series(pids[idx]) + f"-{code}001",
                    "sample_type": kind,
                    "day": course.first_visit_day[idx],
                    "biobank": bank[idx],
                    "consent_scope": scope,
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["patient_id", "day", "sample_id"], kind="stable").reset_index(drop=True)
    return out, csf


def biomarkers_table(
    pids: np.ndarray,
    base: Baseline,
    course: Course,
    levels: PatientLevels,
    csf: BoolArray,
    params: SynthParams,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """CSF NfL and pNfH at the first visit of patients with a CSF sample.

    CSF NfL is log-linked to the patient's serum level (serum-CSF correlation
    about 0.78, Lu et al. 2015) at roughly 60 times the serum concentration
    (assumption); pNfH follows CSF NfL.
    """
    idx = np.flatnonzero(csf)
    k = idx.size
    age = base.age_onset[idx] + course.first_visit_day[idx] / 365.25
    serum = levels.log_nfl[idx] + params.nfl_age_per_year * (age - 55.0)
    log_csf_nfl = serum + np.log(60.0) + 0.35 * rng.standard_normal(k)
    log_pnfh = log_csf_nfl - np.log(2.0) + 0.4 * rng.standard_normal(k)
    day = course.first_visit_day[idx]
    out = pd.DataFrame(
        {
            "patient_id": np.concatenate([pids[idx], pids[idx]]),
            "day": np.concatenate([day, day]),
            "analyte": np.repeat(np.array(["nfl", "pnfh"], dtype=object), k),
            "matrix": "csf",
            "assay": "elisa",
            "value_pg_ml": np.round(np.exp(np.concatenate([log_csf_nfl, log_pnfh])), 1),
        }
    )
    return out.sort_values(["patient_id", "analyte"], kind="stable").reset_index(drop=True)
