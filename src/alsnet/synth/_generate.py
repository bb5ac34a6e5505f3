"""The generator: :func:`synthesize` builds a validated synthetic network cohort."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsnet.cohort import Cohort
from alsnet.schema import EL_ESCORIAL
from alsnet.synth._care import (
    biomarkers_table,
    biosamples_table,
    consent_matrix,
    consents_table,
    treatments_table,
)
from alsnet.synth._events import Course, draw_course
from alsnet.synth._genetics import genetics_table
from alsnet.synth._patients import Baseline, draw_baseline
from alsnet.synth._sites import DEFAULT_SITES, SiteSpec, assign_sites, sites_table
from alsnet.synth._trajectories import draw_progression
from alsnet.synth._visits import draw_levels, schedule_visits, visits_table
from alsnet.synth.params import SynthParams

__all__ = ["synthesize", "synthesize_tables"]

logger = logging.getLogger(__name__)

_STREAMS = (
    "sites",
    "baseline",
    "progression",
    "course",
    "levels",
    "visits",
    "measures",
    "genetics",
    "care",
    "consents",
    "samples",
    "biomarkers",
)


def _rngs(seed: int | np.random.Generator) -> dict[str, np.random.Generator]:
    """One independent generator per stage, so stages do not shift each other's draws."""
    root = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return dict(zip(_STREAMS, root.spawn(len(_STREAMS)), strict=True))


def _patients_table(
    pids: np.ndarray, base: Baseline, course: Course, sites: Sequence[SiteSpec]
) -> pd.DataFrame:
    g = base.genes
    gen_anc = base.ancestry.copy()
    gen_anc[~g.tested] = None
    return pd.DataFrame(
        {
            "patient_id": pids,
            "site_id": np.array([s.site_id for s in sites], dtype=object)[base.site],
            "sex": np.where(base.male, "M", "F"),
            "age_onset": base.age_onset,
            "onset_region": base.region,
            "diagnosis_day": course.diagnosis_day,
            "el_escorial": np.asarray(EL_ESCORIAL, dtype=object)[course.el_escorial],
            "criteria_version": "revised_el_escorial",
            "ftd": base.ftd.astype(np.int64),
            "family_history": base.familial.astype(np.int64),
            "c9orf72": g.flag("C9orf72"),
            "sod1": g.flag("SOD1"),
            "fus": g.flag("FUS"),
            "tardbp": g.flag("TARDBP"),
            "ancestry": base.ancestry,
            "genetic_ancestry": gen_anc,
            "anchor": "onset",
        }
    )


def _events_table(pids: np.ndarray, course: Course) -> pd.DataFrame:
    end = course.end_day
    died = course.death_day <= np.minimum(course.dropout_day, course.admin_end_day)
    lost = course.dropout_day < np.minimum(course.death_day, course.admin_end_day)
    parts = []
    for name, day, seen in (
        ("gastrostomy", course.gastrostomy_day, course.observed(course.gastrostomy_day)),
        ("niv", course.niv_day, course.observed(course.niv_day)),
        ("pav", course.pav_day, course.observed(course.pav_day)),
        ("tracheostomy", course.tracheostomy_day, course.observed(course.tracheostomy_day)),
        ("death", course.death_day, died),
        ("lost_to_follow_up", course.dropout_day, lost & (course.dropout_day <= end)),
    ):
        idx = np.flatnonzero(seen)
        parts.append(
            pd.DataFrame({"patient_id": pids[idx], "event": name, "day": day[idx].astype(np.int64)})
        )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["patient_id", "day"], kind="stable").reset_index(drop=True)


def synthesize_tables(
    n_patients: int = 2000,
    *,
    seed: int | np.random.Generator = 0,
    sites: Sequence[SiteSpec] | None = None,
    params: SynthParams | None = None,
) -> dict[str, pd.DataFrame]:
    """Raw canonical tables of a synthetic cohort, before validation.

    Same arguments as :func:`synthesize`; useful to build deliberately broken
    inputs in tests. Most callers want :func:`synthesize`.
    """
    if n_patients < 1:
        raise ValueError(f"n_patients must be at least 1, got {n_patients}")
    sites = tuple(DEFAULT_SITES if sites is None else sites)
    if not sites:
        raise ValueError("at least one site is needed")
    params = SynthParams() if params is None else params
    r = _rngs(seed)
    width = max(6, len(str(n_patients)))
    pids = np.array([f"SYN{i:0{width}d}" for i in range(1, n_patients + 1)], dtype=object)

    site = assign_sites(n_patients, sites, r["sites"])
    base = draw_baseline(site, sites, params, r["baseline"])
    prog = draw_progression(base, params, r["progression"])
    course = draw_course(base, prog, sites, params, r["course"])
    levels = draw_levels(base, prog, params, r["levels"])
    grid = schedule_visits(course, params, r["visits"])
    visits = visits_table(pids, grid, base, prog, course, levels, sites, params, r["measures"])
    granted = consent_matrix(n_patients, params, r["consents"])
    samples, csf = biosamples_table(
        pids,
        base,
        course,
        grid,
        visits["nfl_serum_pg_ml"].notna().to_numpy(),
        granted,
        sites,
        params,
        r["samples"],
    )
    return {
        "sites": sites_table(sites),
        "patients": _patients_table(pids, base, course, sites),
        "visits": visits,
        "events": _events_table(pids, course),
        "genetics": genetics_table(pids, base.genes, r["genetics"]),
        "treatments": treatments_table(pids, base, course, grid, visits, sites, params, r["care"]),
        "biosamples": samples,
        "consents": consents_table(pids, granted, course, params, r["consents"]),
        "biomarkers": biomarkers_table(pids, base, course, levels, csf, params, r["biomarkers"]),
    }


def synthesize(
    n_patients: int = 2000,
    *,
    seed: int | np.random.Generator = 0,
    sites: Sequence[SiteSpec] | None = None,
    params: SynthParams | None = None,
) -> Cohort:
    """Generate a calibrated synthetic cohort of an ALS hub-and-spoke network.

    Patients are followed in a registry from about the time of diagnosis with
    visits every 3 months. Each has a latent D50 course of the ALSFRS-R total
    (Poesen/Steinbach/Grosskreutz model) split into items by onset region;
    gastrostomy, NIV, PAV, tracheostomy and death follow from that course.
    Defaults reproduce published figures (see :mod:`alsnet.synth.params` and
    ``tests/synth/test_calibration.py``): per-patient ALSFRS-R slope about
    -1.0 ± 0.75 points/month, total about 38 ± 5.5 at 18 months, median
    survival from onset about 30-36 months.

    Parameters
    ----------
    n_patients : int, default 2000
        Number of patients.
    seed : int or numpy.random.Generator, default 0
        Seed; the same seed gives the same cohort (same fingerprint).
    sites : sequence of SiteSpec, optional
        The network; default :data:`alsnet.synth.DEFAULT_SITES` (1 hub, 4 spokes).
    params : SynthParams, optional
        Parameters; default ``SynthParams()``.

    Returns
    -------
    Cohort
        Validated cohort with the tables sites, patients, visits, events,
        genetics, treatments, biosamples, consents and biomarkers. Days count
        from symptom onset.

    Examples
    --------
    >>> from alsnet.synth import synthesize
    >>> cohort = synthesize(50, seed=1)
    >>> len(cohort.patients)
    50
    """
    t0 = time.perf_counter()
    tables = synthesize_tables(n_patients, seed=seed, sites=sites, params=params)
    t1 = time.perf_counter()
    cohort = Cohort.from_tables(tables)
    logger.info(
        "synthesized %d patients, %d visits in %.2f s (validation %.2f s)",
        n_patients,
        len(tables["visits"]),
        t1 - t0,
        time.perf_counter() - t1,
    )
    return cohort
