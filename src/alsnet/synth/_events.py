"""Diagnosis, registry follow-up and clinical milestones, consistent with function.

* Diagnosis: log-normal delay (median 9 months), shorter for fast progressors.
* Milestones are crossing times of the *latent* items: gastrostomy when the
  latent swallowing item q3 falls to ``gastrostomy_q3_threshold``, NIV when q12
  falls below 4 (``niv_q12_threshold``), PAV when q12 reaches the "night and day"
  level; each is accepted with a probability.
* Death: ``T = D50 + dx * w`` with ``w`` ~ N(death_position_mean, death_position_sd)
  in units of the patient's own course, so faster progressors die sooner. It is
  drawn conditional on survival to the first registry visit (a registry only sees
  patients alive at enrolment). A tracheostomy (site-dependent probability) comes
  shortly before that time and postpones death.
* Follow-up ends at the earliest of death, loss to follow-up (constant hazard)
  and the administrative end of the registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from alsnet.synth._common import DAYS_PER_MONTH, FloatArray, IntArray, copula_choice
from alsnet.synth._patients import Baseline
from alsnet.synth._sites import SiteSpec
from alsnet.synth._trajectories import (
    ITEM_NAMES,
    Progression,
    time_at_total,
    total_at_item_level,
)
from alsnet.synth.params import SynthParams

__all__ = ["Course", "draw_course"]

_NEVER = np.inf


@dataclass(frozen=True)
class Course:
    """Per-patient timeline in days since onset (``inf`` = never happens).

    Attributes
    ----------
    diagnosis_day, first_visit_day : ndarray of int
        Day of diagnosis and of the first registry visit.
    el_escorial : ndarray of int
        Index into the schema's El Escorial vocabulary.
    end_day : ndarray of float
        Last day of observation: min(death, loss to follow-up, administrative end).
    death_day, dropout_day, admin_end_day : ndarray of float
        Latent death, loss to follow-up and administrative end.
    gastrostomy_day, niv_day, pav_day, tracheostomy_day : ndarray of float
        Latent milestone days (``inf`` = never).
    """

    diagnosis_day: IntArray
    first_visit_day: IntArray
    el_escorial: IntArray
    death_day: FloatArray
    dropout_day: FloatArray
    admin_end_day: FloatArray
    gastrostomy_day: FloatArray
    niv_day: FloatArray
    pav_day: FloatArray
    tracheostomy_day: FloatArray

    @property
    def end_day(self) -> FloatArray:
        """Last day of observation (days since onset)."""
        return np.minimum(np.minimum(self.death_day, self.dropout_day), self.admin_end_day)

    def observed(self, day: FloatArray) -> np.ndarray:
        """True where a latent event day falls within follow-up."""
        return np.isfinite(day) & (day <= self.end_day)


def _milestone(
    item: str,
    level: float,
    accept: float,
    prog: Progression,
    earliest: FloatArray,
    rng: np.random.Generator,
) -> FloatArray:
    """Day the latent ``item`` falls to ``level`` (not before ``earliest``) if accepted."""
    total = total_at_item_level(ITEM_NAMES.index(item), level, prog.gamma)
    months = time_at_total(total, prog.d50, prog.dx)
    day = np.maximum(np.round(months * DAYS_PER_MONTH), earliest)
    take = rng.random(day.shape[0]) < accept
    return np.where(take & (total > 0.0), day, _NEVER)


def draw_course(
    base: Baseline,
    prog: Progression,
    sites: Sequence[SiteSpec],
    params: SynthParams,
    rng: np.random.Generator,
) -> Course:
    """Draw diagnosis, enrolment, milestones, death and censoring of each patient.

    Parameters
    ----------
    base : Baseline
        Baseline characteristics.
    prog : Progression
        Latent courses.
    sites : sequence of SiteSpec
        Site case mix (referral delay, tracheostomy rate).
    params : SynthParams
        Parameters.
    rng : numpy.random.Generator
        Random source.
    """
    n = prog.d50.shape[0]
    ref = np.array([s.referral_delay_factor for s in sites])[base.site]
    rho = params.diagnostic_delay_speed_rho
    latent = -rho * prog.speed + np.sqrt(1.0 - rho**2) * rng.standard_normal(n)
    delay: FloatArray = np.asarray(
        ref
        * params.diagnostic_delay_median_months
        * np.exp(params.diagnostic_delay_sd_log * latent),
        dtype=np.float64,
    )
    # nobody is diagnosed after losing most function: cap at the latent total of 20
    latest = np.maximum(time_at_total(np.full(n, 20.0), prog.d50, prog.dx), 1.0)
    delay = np.clip(delay, 1.0, latest)
    diagnosis = np.round(delay * DAYS_PER_MONTH).astype(np.int64)
    el = copula_choice(params.el_escorial_probs, prog.speed, params.el_escorial_speed_rho, rng)
    late = rng.random(n) < params.late_referral_probability
    wait: FloatArray = rng.exponential(params.first_visit_delay_mean_days, n) + np.where(
        late, rng.exponential(params.late_referral_mean_days, n), 0.0
    )
    first = diagnosis + np.round(wait).astype(np.int64)

    # death, conditional on being alive 30 days after the first visit
    t_min = (first + 30) / DAYS_PER_MONTH
    z_lo = ((t_min - prog.d50) / prog.dx - params.death_position_mean) / params.death_position_sd
    u = ndtr(z_lo) + rng.random(n) * (1.0 - ndtr(z_lo))
    w = params.death_position_mean + params.death_position_sd * ndtri(np.clip(u, 0.0, 1 - 1e-12))
    death = np.maximum(np.round((prog.d50 + prog.dx * w) * DAYS_PER_MONTH), first + 30.0)
    p_trach = np.array([s.tracheostomy_probability for s in sites])[base.site]
    trach_take = rng.random(n) < p_trach
    trach = np.maximum(death - np.round(rng.uniform(0.0, 30.0, n)), first + 1.0)
    extension = params.tracheostomy_extension_median_months * np.exp(0.7 * rng.standard_normal(n))
    death = np.where(trach_take, trach + np.round(extension * DAYS_PER_MONTH) + 1, death)
    trach = np.where(trach_take, trach, _NEVER)

    gastro = _milestone(
        "q3",
        params.gastrostomy_q3_threshold,
        params.gastrostomy_acceptance,
        prog,
        diagnosis.astype(np.float64),
        rng,
    )
    niv = _milestone(
        "q12",
        params.niv_q12_threshold,
        params.niv_acceptance,
        prog,
        diagnosis.astype(np.float64),
        rng,
    )
    pav = _milestone(
        "q12",
        params.pav_q12_threshold,
        params.pav_probability,
        prog,
        diagnosis.astype(np.float64),
        rng,
    )
    pav = np.where(np.isfinite(niv), np.maximum(pav, niv), _NEVER)
    # invasive ventilation replaces NIV from the tracheostomy on
    niv = np.where(niv >= trach, _NEVER, niv)
    pav = np.where(pav >= trach, _NEVER, pav)

    months_rate = params.dropout_rate_per_month
    dropout = (
        first + np.round(rng.exponential(1.0 / months_rate, n) * DAYS_PER_MONTH)
        if months_rate > 0
        else np.full(n, _NEVER)
    )
    years = rng.uniform(params.follow_up_min_years, params.follow_up_max_years, n)
    admin = first + np.round(years * 365.25)
    return Course(
        diagnosis_day=diagnosis,
        first_visit_day=first,
        el_escorial=el,
        death_day=death.astype(np.float64),
        dropout_day=np.asarray(dropout, dtype=np.float64),
        admin_end_day=admin.astype(np.float64),
        gastrostomy_day=gastro,
        niv_day=niv,
        pav_day=pav,
        tracheostomy_day=trach,
    )
