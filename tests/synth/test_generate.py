"""The generated cohort: validity, clinical consistency rules, determinism, options."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from alsnet.cohort import Cohort
from alsnet.synth import (
    DEFAULT_SITES,
    SOURCES,
    SiteSpec,
    SynthParams,
    synthesize,
    synthesize_tables,
)


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return synthesize(600, seed=11)


def _first(events: pd.DataFrame, name: str) -> pd.Series:
    return events.loc[events["event"] == name].set_index("patient_id")["day"]


def test_valid_cohort_with_every_table(cohort: Cohort) -> None:
    for name in (
        "sites",
        "patients",
        "visits",
        "events",
        "genetics",
        "treatments",
        "biosamples",
        "consents",
        "biomarkers",
    ):
        assert len(cohort.tables[name]) > 0, name
    assert len(cohort.patients) == 600
    assert cohort.patients["patient_id"].is_unique
    s = cohort.sites
    assert (s["role"] == "hub").sum() == 1 and (s["role"] == "spoke").sum() >= 4
    assert s["jurisdiction"].nunique() >= 3


def test_q5b_exactly_from_gastrostomy(cohort: Cohort) -> None:
    v = cohort.visits.loc[cohort.visits["instrument"] == "alsfrs_r"]
    assert (v["q5a"].notna() ^ v["q5b"].notna()).all()
    g = v["patient_id"].map(_first(cohort.events, "gastrostomy")).astype(float)
    after = v["day"].to_numpy() >= g.fillna(np.inf).to_numpy()
    np.testing.assert_array_equal(v["q5b"].notna().to_numpy(), after)
    assert after.any()


def test_q12_below_4_only_on_ventilation(cohort: Cohort) -> None:
    v = cohort.visits.loc[cohort.visits["instrument"] == "alsfrs_r"]
    e = cohort.events
    start = pd.concat([_first(e, "niv"), _first(e, "pav"), _first(e, "tracheostomy")])
    start = start.groupby(level=0).min()
    vent = v["day"].to_numpy() >= v["patient_id"].map(start).astype(float).fillna(np.inf)
    np.testing.assert_array_equal(v["q12"].to_numpy() < 4, vent.to_numpy())
    trach = v["day"] >= v["patient_id"].map(_first(e, "tracheostomy")).astype(float).fillna(np.inf)
    assert (v.loc[trach, "q12"] == 0).all()
    assert (v.loc[~trach, "q12"] >= 1).all()


def test_items_are_integers_and_total_matches(cohort: Cohort) -> None:
    v = cohort.visits.loc[cohort.visits["instrument"] == "alsfrs_r"]
    items = v[["q1", "q2", "q3", "q4", "q6", "q7", "q8", "q9", "q10", "q11", "q12"]]
    q5 = v["q5a"].fillna(v["q5b"])
    assert ((items % 1) == 0).all().all()
    np.testing.assert_array_equal(items.sum(axis=1) + q5, v["total_reported"])
    missing = cohort.visits.loc[cohort.visits["instrument"].isna()]
    assert len(missing) > 0 and missing[["q1", "q12", "total_reported"]].isna().all().all()


def test_follow_up_ends_at_death_or_loss(cohort: Cohort) -> None:
    v, e, p = cohort.visits, cohort.events, cohort.patients
    last = v.groupby("patient_id")["day"].max()
    death = _first(e, "death")
    lost = _first(e, "lost_to_follow_up")
    assert (last.reindex(death.index) < death).all()
    assert (last.reindex(lost.index) <= lost).all()
    assert not set(death.index) & set(lost.index)
    first = v.groupby("patient_id")["day"].min()
    dx = p.set_index("patient_id")["diagnosis_day"]
    assert (first >= dx.reindex(first.index)).all()
    assert (e["day"] >= 0).all()
    # every milestone within follow-up
    end = pd.concat([last, e.groupby("patient_id")["day"].max()], axis=1).max(axis=1)
    assert (e["day"].to_numpy() <= e["patient_id"].map(end).to_numpy()).all()
    gaps = v.sort_values(["patient_id", "day"]).groupby("patient_id")["day"].diff().dropna()
    assert gaps.median() == pytest.approx(91, abs=5)


def test_genetics_table_matches_flags(cohort: Cohort) -> None:
    p = cohort.patients.set_index("patient_id")
    g = cohort.genetics
    for gene, col in (
        ("C9orf72", "c9orf72"),
        ("SOD1", "sod1"),
        ("FUS", "fus"),
        ("TARDBP", "tardbp"),
    ):
        carriers = set(g.loc[(g["gene"] == gene) & (g["pathogenicity"] != "vus"), "patient_id"])
        assert carriers == set(p.index[p[col] == 1]), gene
        assert p.loc[list(carriers), col].notna().all()
    assert set(g.loc[g["gene"] == "C9orf72", "variant"]) <= {"repeat_expansion"}
    untested = p["c9orf72"].isna()
    assert not set(g["patient_id"]) & set(p.index[untested])
    assert p.loc[untested, "genetic_ancestry"].isna().all()


def test_tofersen_only_for_sod1_carriers(cohort: Cohort) -> None:
    big = synthesize(3000, seed=5)
    t = big.treatments
    tof = t.loc[t["treatment"] == "tofersen", "patient_id"]
    assert len(tof) > 0
    p = big.patients.set_index("patient_id")
    assert (p.loc[tof, "sod1"] == 1).all()
    assert (p.loc[tof, "site_id"] != "JP01").all()  # not available there
    assert (t["stop_day"].isna() | (t["stop_day"] >= t["start_day"])).all()


def test_ancestry_follows_site(cohort: Cohort) -> None:
    p = cohort.patients
    jp = p.loc[p["site_id"] == "JP01", "ancestry"]
    nl = p.loc[p["site_id"] == "NL01", "ancestry"]
    assert (jp == "EAS").mean() > 0.9
    assert (nl == "EUR").mean() > 0.8
    sizes = p["site_id"].value_counts()
    assert sizes.idxmax() == "NL01"


def test_samples_consents_and_biomarkers(cohort: Cohort) -> None:
    b, c, p = cohort.biosamples, cohort.consents, cohort.patients
    assert b["sample_id"].is_unique
    site = p.set_index("patient_id")["site_id"]
    no_bank = {s.site_id for s in DEFAULT_SITES if s.biobank is None}
    assert not set(b["patient_id"].map(site)) & no_bank
    ok = c.loc[(c["scope"] == "biobank") & (c["granted"] == 1), "patient_id"]
    assert set(b.loc[b["consent_scope"] == "biobank", "patient_id"]) <= set(ok)
    assert set(b["sample_type"]) == {"serum", "csf", "dna"}
    assert (c.loc[c["scope"] == "registry", "granted"] == 1).all()
    assert set(cohort.biomarkers["analyte"]) == {"nfl", "pnfh"}
    # NfL is never measured at sites without a biobank
    v = cohort.visits
    assert v.loc[v["patient_id"].map(site).isin(no_bank), "nfl_serum_pg_ml"].isna().all()


def test_deterministic_for_a_seed() -> None:
    a = synthesize(150, seed=42)
    b = synthesize(150, seed=42)
    c = synthesize(150, seed=43)
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint
    g1 = synthesize(150, seed=np.random.default_rng(9))
    g2 = synthesize(150, seed=np.random.default_rng(9))
    assert g1.fingerprint == g2.fingerprint


def test_custom_sites_and_params() -> None:
    sites = [
        SiteSpec("A", "hub", "DE", "eu_gdpr", 2.0, {"EUR": 1.0}, biobank="A-bank"),
        SiteSpec("B", "spoke", "KR", "other", 1.0, {"EAS": 1.0}),
    ]
    params = SynthParams(male_fraction=1.0, missed_visit_probability=0.0)
    c = synthesize(90, seed=1, sites=sites, params=params)
    assert (c.patients["sex"] == "M").all()
    assert c.patients["site_id"].value_counts().to_dict() == {"A": 60, "B": 30}
    assert set(c.sites["site_id"]) == {"A", "B"}


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="male_fraction"):
        SynthParams(male_fraction=1.5)
    with pytest.raises(ValueError, match="sum to 1"):
        SynthParams(onset_region_probs={"bulbar": 0.5, "upper_limb": 0.2})
    with pytest.raises(ValueError, match="ancestry"):
        SiteSpec("X", "hub", "NL", "eu_gdpr", 1.0, {"EUR": 0.5})
    with pytest.raises(ValueError, match="role"):
        SiteSpec("X", "centre", "NL", "eu_gdpr", 1.0, {"EUR": 1.0})
    with pytest.raises(ValueError, match="n_patients"):
        synthesize_tables(0)


def test_every_parameter_has_a_source() -> None:
    names = {f.name for f in dataclasses.fields(SynthParams)}
    assert names == set(SOURCES)
    assert all(isinstance(v, str) and len(v) > 5 for v in SOURCES.values())
