"""Hand-built cohorts for the registry tests: a vectorised generator and a hypothesis strategy.

Both produce *valid* cohorts (they go through :meth:`Cohort.from_tables`); they
exercise every canonical table, missing values in every nullable column, floats
at full double precision and awkward text (quotes, commas, backslashes,
non-ASCII) that the bulk paths must carry unchanged.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from alsnet.cohort import Cohort
from alsnet.schema import ANCESTRIES, CONSENT_SCOPES, EL_ESCORIAL, ONSET_REGIONS, TABLES

__all__ = ["cohorts", "make_cohort", "with_changes"]

_R_ITEMS = ["q1", "q2", "q3", "q4", "q5a", "q6", "q7", "q8", "q9", "q10", "q11", "q12"]
SITES = pd.DataFrame(
    {
        "site_id": ["S01", "S02", "S03"],
        "role": ["hub", "spoke", "spoke"],
        "country": ["NL", "BE", None],
        "jurisdiction": ["eu_gdpr", "eu_gdpr", None],
    }
)


def _maybe(rng: np.random.Generator, values: np.ndarray, p_missing: float) -> pd.Series:
    s = pd.Series(values, dtype=object)
    s[rng.random(len(s)) < p_missing] = None
    return s


@functools.lru_cache(maxsize=32)
def make_cohort(
    n_patients: int, *, seed: int = 0, prefix: str = "P", with_sites: bool = True
) -> Cohort:
    """A realistic, valid cohort of ``n_patients`` built without Python loops over patients.

    About 10 visits per patient every 60-120 days from diagnosis, ALSFRS-R
    items declining at random rates, lung function and weight as unrounded
    floats, deaths after the last visit, and rows in every optional table.
    Cached: cohorts are immutable, so tests may share them.
    """
    rng = np.random.default_rng(seed)
    n = n_patients
    pid = np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), 6)).astype(object)
    dx = rng.integers(60, 700, n)
    c9 = (rng.random(n) < 0.08).astype(int)
    patients = pd.DataFrame(
        {
            "patient_id": pid,
            "site_id": rng.choice(SITES["site_id"].to_numpy(), n),
            "sex": rng.choice(["F", "M"], n),
            "age_onset": np.round(rng.uniform(25, 85, n), 1),
            "onset_region": rng.choice(np.array(ONSET_REGIONS[:5]), n),
            "diagnosis_day": dx,
            "el_escorial": rng.choice(np.array(EL_ESCORIAL), n),
            "criteria_version": _maybe(rng, rng.choice(["awaji", "gold_coast"], n), 0.3),
            "ftd": (rng.random(n) < 0.1).astype(int),
            "family_history": _maybe(rng, (rng.random(n) < 0.1).astype(int), 0.3),
            "c9orf72": c9,
            "sod1": _maybe(rng, np.zeros(n, dtype=int), 0.5),
            "ancestry": rng.choice(np.array(ANCESTRIES), n),
            "anchor": _maybe(rng, np.array(["onset"] * n), 0.5),
        }
    )
    # visits: k per patient, days increasing from diagnosis
    k = rng.integers(1, 20, n)
    owner = np.repeat(np.arange(n), k)
    m = owner.size
    first = np.concatenate([[0], np.cumsum(k)[:-1]])
    step = rng.integers(60, 121, m)
    step[first] = 0
    csum = np.cumsum(step)
    day = dx[owner] + csum - csum[first][owner]
    rate = rng.uniform(0.2, 1.5, n)[owner]
    t = (day - dx[owner]) / 30.4
    items = np.clip(4 - np.round(rng.normal(rate * t / 12, 0.4, (12, m)) * 2) / 2, 0, 4)
    no_frs = rng.random(m) < 0.05
    items[:, no_frs] = np.nan
    visits = pd.DataFrame({"patient_id": pid[owner], "day": day})
    visits["instrument"] = pd.Series("alsfrs_r", index=visits.index, dtype=object).mask(no_frs)
    gastro = rng.random(m) < 0.1
    for i, c in enumerate(_R_ITEMS):
        visits[c] = items[i]
    visits["q5b"] = np.where(gastro, visits["q5a"], np.nan)
    visits["q5a"] = np.where(gastro, np.nan, visits["q5a"])
    visits["total_reported"] = np.where(rng.random(m) < 0.7, np.nansum(items, axis=0), np.nan)
    visits.loc[no_frs, "total_reported"] = np.nan
    visits["fvc_pct"] = np.where(rng.random(m) < 0.6, rng.uniform(20, 130, m), np.nan)
    visits["weight_kg"] = np.where(
        rng.random(m) < 0.8, np.clip(rng.normal(75, 12, m), 35, 200), np.nan
    )
    visits["nfl_serum_pg_ml"] = np.where(rng.random(m) < 0.2, rng.lognormal(4, 0.6, m), np.nan)
    last = visits.groupby("patient_id", sort=False)["day"].max().to_numpy()
    dead = rng.random(n) < 0.4
    events = pd.concat(
        [
            pd.DataFrame(
                {
                    "patient_id": pid[dead],
                    "event": "death",
                    "day": last[dead] + 1 + rng.integers(0, 200, dead.sum()),
                }
            ),
            pd.DataFrame(
                {"patient_id": pid[~dead & (rng.random(n) < 0.3)], "event": "gastrostomy"}
            ).assign(day=lambda d: dx[np.searchsorted(pid, d["patient_id"])] + 200),
        ],
        ignore_index=True,
    )
    has_bm = rng.random(n) < 0.3
    biomarkers = pd.DataFrame(
        {
            "patient_id": pid[has_bm],
            "day": dx[has_bm],
            "analyte": "nfl",
            "matrix": rng.choice(["serum", "csf"], has_bm.sum()),
            "assay": _maybe(rng, np.array(["simoa"] * has_bm.sum()), 0.3),
            "value_pg_ml": rng.lognormal(4, 0.8, has_bm.sum()),
        }
    )
    genetics = pd.DataFrame(
        {
            "patient_id": pid[c9 == 1],
            "gene": "C9orf72",
            "variant": "repeat_expansion",
            "pathogenicity": "pathogenic",
        }
    )
    treated = rng.random(n) < 0.7
    stop = np.where(rng.random(treated.sum()) < 0.5, dx[treated] + 365, -1)
    treatments = pd.DataFrame(
        {
            "patient_id": pid[treated],
            "treatment": "riluzole",
            "start_day": dx[treated],
            "stop_day": pd.Series(stop, dtype="Int64").mask(stop < 0),
        }
    )
    sampled = rng.random(n) < 0.5
    biosamples = pd.DataFrame(
        {
            "patient_id": pid[sampled],
            "sample_id": np.char.add(pid[sampled].astype(str), "-B1").astype(object),
            "sample_type": "serum",
            "day": dx[sampled],
            "biobank": _maybe(rng, np.array(["UMCU biobank"] * sampled.sum()), 0.2),
            "consent_scope": "biobank",
        }
    )
    consents = pd.DataFrame(
        {
            "patient_id": pid,
            "scope": "registry",
            "granted": 1,
            "day": dx,
        }
    )
    tables = {
        "patients": patients,
        "visits": visits,
        "events": events,
        "biomarkers": biomarkers,
        "genetics": genetics,
        "treatments": treatments,
        "biosamples": biosamples,
        "consents": consents,
    }
    if with_sites:
        tables["sites"] = SITES
    return Cohort.from_tables(tables)


def with_changes(cohort: Cohort, **tables: pd.DataFrame) -> Cohort:
    """``cohort`` with some tables swapped for new frames (re-validated)."""
    out = cohort.copy_tables()
    out.update(tables)
    return Cohort.from_tables(out)


# ---------------------------------------------------------------- hypothesis
_TEXT = st.text(
    alphabet=st.characters(
        codec="utf-8",
        exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp"),  # no whitespace/control
    ),
    min_size=1,
    max_size=6,
)
_ITEM = st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0])


def _opt(s: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), s)


@st.composite
def _patient(draw: st.DrawFn, pid: str, site_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    out["patients"] = [
        {
            "patient_id": pid,
            "site_id": draw(st.sampled_from(site_ids)),
            "sex": draw(_opt(st.sampled_from(["F", "M"]))),
            "age_onset": draw(_opt(st.floats(10, 100))),
            "onset_region": draw(_opt(st.sampled_from(ONSET_REGIONS))),
            "diagnosis_day": draw(_opt(st.integers(-3650, 36500))),
            "el_escorial": draw(_opt(st.sampled_from(EL_ESCORIAL))),
            "ftd": draw(_opt(st.sampled_from([0, 1]))),
            "c9orf72": draw(_opt(st.sampled_from([0, 1]))),
            "sod1": draw(_opt(st.sampled_from([0, 1]))),
            "ancestry": draw(_opt(st.sampled_from(ANCESTRIES))),
            "genetic_ancestry": draw(_opt(st.sampled_from(ANCESTRIES))),
        }
    ]
    days = draw(st.lists(st.integers(-31, 5000), max_size=4, unique=True))
    visits = []
    for d in days:
        row: dict[str, Any] = {"patient_id": pid, "day": d}
        if draw(st.booleans()):
            row["instrument"] = "alsfrs_r"
            vals = [draw(_ITEM) for _ in _R_ITEMS]
            row.update(dict(zip(_R_ITEMS, vals, strict=True)))
            if draw(st.booleans()):
                row["q5b"], row["q5a"] = row["q5a"], None
            row["total_reported"] = draw(st.sampled_from([None, float(sum(vals))]))
        row["fvc_pct"] = draw(_opt(st.floats(0, 200)))
        row["weight_kg"] = draw(_opt(st.floats(20, 300)))
        row["respondent"] = draw(_opt(st.sampled_from(["patient", "caregiver"])))
        visits.append(row)
    out["visits"] = visits
    death = draw(_opt(st.integers(max(days, default=0), 6000)))
    out["events"] = [] if death is None else [{"patient_id": pid, "event": "death", "day": death}]
    out["biomarkers"] = [
        {"patient_id": pid, "day": d, "analyte": "nfl", "matrix": "serum",
         "assay": draw(_opt(_TEXT)), "value_pg_ml": draw(st.floats(0, 1e6))}
        for d in days[:1]
    ]  # fmt: skip
    out["genetics"] = [
        {"patient_id": pid, "gene": "SOD1", "variant": v, "pathogenicity": "vus"}
        for v in draw(st.lists(_TEXT, max_size=2, unique=True))
    ]
    starts = draw(st.lists(st.integers(-1000, 5000), max_size=2, unique=True))
    out["treatments"] = [
        {"patient_id": pid, "treatment": "trial", "start_day": s,
         "stop_day": draw(_opt(st.integers(s, 6000))), "trial_id": draw(_opt(_TEXT)),
         "arm": draw(_opt(_TEXT))}
        for s in starts
    ]  # fmt: skip
    out["biosamples"] = [
        {"patient_id": pid, "sample_id": f"{pid}#{j}", "sample_type": "dna",
         "day": draw(st.integers(-36500, 36500)), "biobank": draw(_opt(_TEXT)),
         "consent_scope": draw(_opt(st.sampled_from(CONSENT_SCOPES)))}
        for j in range(draw(st.integers(0, 2)))
    ]  # fmt: skip
    out["consents"] = [
        {"patient_id": pid, "scope": sc, "granted": draw(st.sampled_from([0, 1])), "day": 0}
        for sc in draw(st.lists(st.sampled_from(CONSENT_SCOPES), max_size=2, unique=True))
    ]
    return out


@st.composite
def cohorts(draw: st.DrawFn, max_patients: int = 4) -> Cohort:
    """Small valid cohorts with arbitrary ids, text and full-precision floats."""
    ids = draw(st.lists(_TEXT, min_size=1, max_size=max_patients, unique=True))
    with_sites = draw(st.booleans())
    site_ids = draw(st.lists(_TEXT, min_size=1, max_size=2, unique=True))
    rows: dict[str, list[dict[str, Any]]] = {}
    for pid in ids:
        for name, recs in draw(_patient(pid, site_ids)).items():
            rows.setdefault(name, []).extend(recs)
    tables = {
        name: pd.DataFrame(recs, columns=list(TABLES[name].names)) for name, recs in rows.items()
    }
    if with_sites:
        tables["sites"] = pd.DataFrame(
            {"site_id": site_ids, "role": ["hub"] + ["spoke"] * (len(site_ids) - 1),
             "country": [draw(_opt(_TEXT)) for _ in site_ids]}
        )  # fmt: skip
    return Cohort.from_tables(tables)
