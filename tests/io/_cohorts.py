"""Hand-built and hypothesis-generated canonical cohorts for io tests."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from alsnet.cohort import Cohort
from alsnet.schema import (
    ALSFRS_ITEMS,
    ALSFRS_R_ITEMS,
    ANCESTRIES,
    CONSENT_SCOPES,
    EL_ESCORIAL,
    GENES,
    ONSET_REGIONS,
    PATHOGENICITY,
    SAMPLE_TYPES,
    TREATMENTS,
)

R_ITEMS_NO_5 = [c for c in ALSFRS_R_ITEMS if c not in ("q5a", "q5b")]
O_ITEMS_NO_5 = [c for c in ALSFRS_ITEMS if c not in ("q5a", "q5b")]


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Two patients, three visits, one death: small enough to check by hand."""
    patients = pd.DataFrame(
        {
            "patient_id": ["A1", "B2"],
            "site_id": ["S1", "S1"],
            "sex": ["F", "M"],
            "age_onset": [61.5, 48.0],
            "onset_region": ["bulbar", "upper_limb"],
            "diagnosis_day": [270, 400],
            "el_escorial": ["probable", "definite"],
            "ftd": [0, 1],
            "c9orf72": pd.array([0, None], dtype="Int64"),
            "sod1": pd.array([None, 0], dtype="Int64"),
            "ancestry": ["EUR", "unknown"],
        }
    )
    items_a = dict.fromkeys(R_ITEMS_NO_5, 4.0) | {"q5a": 3.0, "q5b": None, "q10_alsfrs": None}
    items_b = dict.fromkeys(O_ITEMS_NO_5, 3.0) | {"q5a": None, "q5b": 2.0}
    visits = pd.DataFrame(
        [
            {
                "patient_id": "A1",
                "day": 300,
                "instrument": "alsfrs_r",
                **items_a,
                "total_reported": 47.0,
                "respondent": "patient",
                "fvc_pct": 88.5,
            },
            {
                "patient_id": "A1",
                "day": 390,
                "instrument": "alsfrs_r",
                **items_a,
                "q1": 3.5,
                "nfl_serum_pg_ml": 42.25,
            },
            {
                "patient_id": "B2",
                "day": 410,
                "instrument": "alsfrs",
                **items_b,
                "q10": None,
                "q11": None,
                "q12": None,
                "total_reported": 29.0,
            },
        ]
    )
    events = pd.DataFrame({"patient_id": ["B2"], "event": ["death"], "day": [700]})
    return {"patients": patients, "visits": visits, "events": events}


def realistic_tables(n: int = 40, seed: int = 7) -> dict[str, pd.DataFrame]:
    """A varied cohort touching every table, built vectorised from ``seed``."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"ALS-{i:04d}" for i in range(n)])
    sites = pd.DataFrame(
        {
            "site_id": ["Zürich-Nord", "Łódź", "Leuven"],
            "role": ["hub", "spoke", "spoke"],
            "country": ["CH", "PL", "BE"],
            "jurisdiction": ["other", "eu_gdpr", "eu_gdpr"],
        }
    )
    age = np.round(rng.normal(62, 10, n).clip(25, 90), 2)
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "site_id": rng.choice(sites["site_id"], n),
            "sex": rng.choice(["F", "M"], n),
            "age_onset": np.where(rng.random(n) < 0.05, np.nan, age),
            "onset_region": rng.choice(list(ONSET_REGIONS), n),
            "diagnosis_day": rng.integers(60, 700, n),
            "el_escorial": rng.choice(list(EL_ESCORIAL), n),
            "criteria_version": rng.choice(["revised_el_escorial", "gold_coast", None], n),
            "ftd": rng.choice([0, 1], n, p=[0.9, 0.1]),
            "family_history": rng.choice([0, 1, None], n),
            "c9orf72": rng.choice([0, 1, None], n),
            "sod1": rng.choice([0, None], n),
            "ancestry": rng.choice(list(ANCESTRIES), n),
            "anchor": "onset",
        }
    )
    per = rng.integers(0, 6, n)
    pid = np.repeat(ids, per)
    k = len(pid)
    first = np.repeat(patients["diagnosis_day"].to_numpy(), per)
    step = np.concatenate([np.arange(m) for m in per]).astype(np.int64)
    day = first + 90 * step + rng.integers(0, 30, k)
    instrument = rng.choice(["alsfrs_r", "alsfrs", None], k, p=[0.75, 0.15, 0.1])
    half = rng.random((k, len(ALSFRS_R_ITEMS) + 1)) < 0.05
    vals = np.clip(4 - rng.integers(0, 3, (k, len(ALSFRS_R_ITEMS) + 1)) - 0.5 * half, 0, 4)
    cols = [*ALSFRS_R_ITEMS, "q10_alsfrs"]
    items = pd.DataFrame(vals, columns=cols)
    gastro = rng.random(k) < 0.2
    items.loc[gastro, "q5a"] = np.nan
    items.loc[~gastro, "q5b"] = np.nan
    is_r, is_o = instrument == "alsfrs_r", instrument == "alsfrs"
    items.loc[~is_r, ["q10", "q11", "q12"]] = np.nan
    items.loc[~is_o, "q10_alsfrs"] = np.nan
    items.loc[~(is_r | is_o), :] = np.nan
    total = items.sum(axis=1, min_count=1).where(rng.random(k) < 0.6)
    visits = pd.concat(
        [
            pd.DataFrame({"patient_id": pid, "day": day, "instrument": instrument}),
            items,
            pd.DataFrame(
                {
                    "total_reported": total,
                    "respondent": rng.choice(["patient", "caregiver", "clinician", None], k),
                    "mode": rng.choice(["in_person", "phone", None], k),
                    "fvc_l": np.where(rng.random(k) < 0.3, np.nan, rng.uniform(1, 5, k)),
                    "fvc_pct": np.where(rng.random(k) < 0.3, np.nan, rng.uniform(20, 120, k)),
                    "weight_kg": np.round(rng.uniform(45, 110, k), 1),
                    "nfl_serum_pg_ml": np.where(rng.random(k) < 0.5, np.nan, rng.gamma(3, 20, k)),
                }
            ),
        ],
        axis=1,
    )
    last = visits.groupby("patient_id")["day"].max().reindex(ids).fillna(800).to_numpy()
    dead = rng.random(n) < 0.4
    gast = rng.random(n) < 0.3
    events = pd.concat(
        [
            pd.DataFrame(
                {
                    "patient_id": ids[dead],
                    "event": "death",
                    "day": (last[dead] + rng.integers(1, 300, dead.sum())).astype(int),
                }
            ),
            pd.DataFrame(
                {
                    "patient_id": ids[gast],
                    "event": "gastrostomy",
                    "day": rng.integers(100, 900, gast.sum()),
                }
            ),
        ],
        ignore_index=True,
    )
    m = min(n, 6)
    genetics = pd.DataFrame(
        {
            "patient_id": ids[:m],
            "gene": rng.choice([g for g in GENES if g != "other"], m),
            "variant": [
                "repeat_expansion",
                'c.272A>C, "p.Asp91Ala"',
                "p.(Gly94Ala)",
                "c.1A>G; mosaic",
                'Ä variant, quoted "x"',
                "p.Ile114Thr",
            ][:m],
            "pathogenicity": rng.choice(list(PATHOGENICITY), m),
        }
    )
    treatments = pd.DataFrame(
        {
            "patient_id": ids[:m],
            "treatment": rng.choice(list(TREATMENTS), m),
            "start_day": [300, 310, 320, 330, 340, 350][:m],
            "stop_day": [400, None, 500, None, 341, None][:m],
            "trial_id": [None, "NCT0000001", None, "EudraCT 2020-001", None, None][:m],
            "arm": [None, "placebo", None, "active, 100 mg", None, None][:m],
        }
    )
    biosamples = pd.DataFrame(
        {
            "patient_id": ids[:m],
            "sample_id": [f"SMP-{i}" for i in range(m)],
            "sample_type": rng.choice(list(SAMPLE_TYPES), m),
            "day": rng.integers(0, 800, m),
            "biobank": ['Biobank "Nord", Zürich', "UMC biobank", None, "ÉCHANTILLONS", None, "x"][
                :m
            ],
            "consent_scope": rng.choice(list(CONSENT_SCOPES), m),
        }
    )
    biomarkers = pd.DataFrame(
        {
            "patient_id": np.repeat(ids[:m], 2),
            "day": np.repeat(rng.integers(100, 600, m), 2),
            "analyte": "nfl",
            "matrix": np.tile(["serum", "csf"], m),
            "assay": "simoa",
            "value_pg_ml": rng.gamma(3, 30, 2 * m),
        }
    )
    consents = pd.DataFrame(
        {"patient_id": ids[:m], "scope": "registry", "granted": 1, "day": rng.integers(0, 50, m)}
    )
    return {
        "sites": sites,
        "patients": patients,
        "visits": visits,
        "events": events,
        "genetics": genetics,
        "treatments": treatments,
        "biosamples": biosamples,
        "biomarkers": biomarkers,
        "consents": consents,
    }


# --------------------------------------------------------------------------- hypothesis
_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
free_text = st.text(_CHARS, min_size=1, max_size=12).filter(lambda s: s.strip() != "")
opt_text = st.one_of(st.none(), free_text)


def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def cohort_tables(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    """Small valid canonical tables with NaN/None, half points and awkward text."""
    n = draw(st.integers(1, 5))
    ids = [f"p{i}" for i in range(n)]
    site_ids = draw(st.lists(free_text, min_size=1, max_size=3, unique_by=str.strip))
    site_ids = [s.strip() for s in site_ids]
    sites = pd.DataFrame(
        {
            "site_id": site_ids,
            "role": [draw(_opt(st.sampled_from(["hub", "spoke"]))) for _ in site_ids],
            "country": [draw(opt_text) for _ in site_ids],
            "jurisdiction": [None] * len(site_ids),
        }
    )
    flag = _opt(st.sampled_from([0, 1]))
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "site_id": [draw(st.sampled_from(site_ids)) for _ in ids],
            "sex": [draw(_opt(st.sampled_from(["F", "M"]))) for _ in ids],
            "age_onset": [draw(_opt(st.floats(10, 100))) for _ in ids],
            "onset_region": [draw(st.sampled_from(ONSET_REGIONS)) for _ in ids],
            "diagnosis_day": [draw(_opt(st.integers(-3650, 36500))) for _ in ids],
            "el_escorial": [draw(st.sampled_from(EL_ESCORIAL)) for _ in ids],
            "ftd": [draw(flag) for _ in ids],
            "c9orf72": [draw(flag) for _ in ids],
            "sod1": [draw(flag) for _ in ids],
            "ancestry": [draw(st.sampled_from(ANCESTRIES)) for _ in ids],
        }
    )
    item = st.integers(0, 8).map(lambda x: x / 2)
    vrows = []
    for i, p in enumerate(ids):
        # at least one visit overall: a header-only visits.csv is refused at import
        days = draw(st.lists(st.integers(-31, 3000), min_size=int(i == 0), max_size=3, unique=True))
        for d in days:
            inst = draw(st.sampled_from(["alsfrs_r", "alsfrs", None]))
            row: dict[str, Any] = {"patient_id": p, "day": d, "instrument": inst}
            if inst is not None and draw(st.booleans()):
                names = R_ITEMS_NO_5 if inst == "alsfrs_r" else O_ITEMS_NO_5
                row |= {c: draw(item) for c in names}
                row["q5b" if draw(st.booleans()) else "q5a"] = draw(item)
                if draw(st.booleans()):
                    row["total_reported"] = float(
                        sum(v for c, v in row.items() if c.startswith("q"))
                    )
            row["fvc_l"] = draw(_opt(st.floats(0, 10)))
            row["nfl_serum_pg_ml"] = draw(_opt(st.floats(0, 1e5)))
            row["respondent"] = draw(_opt(st.sampled_from(["patient", "caregiver"])))
            vrows.append(row)
    visits = (
        pd.DataFrame(vrows, columns=["patient_id", "day", "instrument"])
        if not vrows
        else pd.DataFrame(vrows)
    )
    last = visits.groupby("patient_id")["day"].max().to_dict() if len(visits) else {}
    erows = []
    for p in ids:
        if draw(st.booleans()):
            erows.append(
                {
                    "patient_id": p,
                    "event": "death",
                    "day": int(last.get(p, 0)) + draw(st.integers(0, 500)),
                }
            )
    events = pd.DataFrame(erows, columns=["patient_id", "event", "day"])
    genetics = pd.DataFrame(
        [
            {
                "patient_id": p,
                "gene": draw(st.sampled_from(GENES)),
                "variant": draw(free_text),
                "pathogenicity": draw(st.sampled_from(PATHOGENICITY)),
            }
            for p in draw(st.lists(st.sampled_from(ids), max_size=3, unique=True))
        ],
        columns=["patient_id", "gene", "variant", "pathogenicity"],
    )
    samples = draw(st.lists(free_text, max_size=3, unique_by=str.strip))
    biosamples = pd.DataFrame(
        [
            {
                "patient_id": draw(st.sampled_from(ids)),
                "sample_id": s.strip(),
                "sample_type": draw(st.sampled_from(SAMPLE_TYPES)),
                "day": draw(st.integers(0, 999)),
                "biobank": draw(opt_text),
            }
            for s in samples
        ],
        columns=["patient_id", "sample_id", "sample_type", "day", "biobank"],
    )
    treatments = pd.DataFrame(
        [
            {
                "patient_id": p,
                "treatment": "trial",
                "start_day": 10,
                "stop_day": draw(_opt(st.integers(10, 999))),
                "trial_id": draw(opt_text),
                "arm": draw(opt_text),
            }
            for p in draw(st.lists(st.sampled_from(ids), max_size=2, unique=True))
        ],
        columns=["patient_id", "treatment", "start_day", "stop_day", "trial_id", "arm"],
    )
    return {
        "sites": sites,
        "patients": patients,
        "visits": visits,
        "events": events,
        "genetics": genetics,
        "biosamples": biosamples,
        "treatments": treatments,
    }


@functools.cache
def tiny() -> Cohort:
    """The :func:`tiny_tables` cohort."""
    return Cohort.from_tables(tiny_tables())


@functools.cache
def realistic(n: int = 40, seed: int = 7) -> Cohort:
    """The :func:`realistic_tables` cohort."""
    return Cohort.from_tables(realistic_tables(n, seed))
