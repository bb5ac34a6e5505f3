"""OMOP CDM 5.4 export: DDL columns, required fields, concepts, hand-computed rows."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cohorts import realistic, tiny

from alsnet.io import write_omop
from alsnet.io.omop import OMOP_COLUMNS, load_concepts

# Transcribed from OHDSI/CommonDataModel inst/ddl/5.4/postgresql/OMOPCDM_postgresql_5.4_ddl.sql
DDL = """
CREATE TABLE person (
 person_id integer NOT NULL, gender_concept_id integer NOT NULL,
 year_of_birth integer NOT NULL, month_of_birth integer NULL, day_of_birth integer NULL,
 birth_datetime TIMESTAMP NULL, race_concept_id integer NOT NULL,
 ethnicity_concept_id integer NOT NULL, location_id integer NULL, provider_id integer NULL,
 care_site_id integer NULL, person_source_value varchar(50) NULL,
 gender_source_value varchar(50) NULL, gender_source_concept_id integer NULL,
 race_source_value varchar(50) NULL, race_source_concept_id integer NULL,
 ethnicity_source_value varchar(50) NULL, ethnicity_source_concept_id integer NULL );
CREATE TABLE observation_period (
 observation_period_id integer NOT NULL, person_id integer NOT NULL,
 observation_period_start_date date NOT NULL, observation_period_end_date date NOT NULL,
 period_type_concept_id integer NOT NULL );
CREATE TABLE condition_occurrence (
 condition_occurrence_id integer NOT NULL, person_id integer NOT NULL,
 condition_concept_id integer NOT NULL, condition_start_date date NOT NULL,
 condition_start_datetime TIMESTAMP NULL, condition_end_date date NULL,
 condition_end_datetime TIMESTAMP NULL, condition_type_concept_id integer NOT NULL,
 condition_status_concept_id integer NULL, stop_reason varchar(20) NULL,
 provider_id integer NULL, visit_occurrence_id integer NULL, visit_detail_id integer NULL,
 condition_source_value varchar(50) NULL, condition_source_concept_id integer NULL,
 condition_status_source_value varchar(50) NULL );
CREATE TABLE measurement (
 measurement_id integer NOT NULL, person_id integer NOT NULL,
 measurement_concept_id integer NOT NULL, measurement_date date NOT NULL,
 measurement_datetime TIMESTAMP NULL, measurement_time varchar(10) NULL,
 measurement_type_concept_id integer NOT NULL, operator_concept_id integer NULL,
 value_as_number NUMERIC NULL, value_as_concept_id integer NULL,
 unit_concept_id integer NULL, range_low NUMERIC NULL, range_high NUMERIC NULL,
 provider_id integer NULL, visit_occurrence_id integer NULL, visit_detail_id integer NULL,
 measurement_source_value varchar(50) NULL, measurement_source_concept_id integer NULL,
 unit_source_value varchar(50) NULL, unit_source_concept_id integer NULL,
 value_source_value varchar(50) NULL, measurement_event_id integer NULL,
 meas_event_field_concept_id integer NULL );
CREATE TABLE observation (
 observation_id integer NOT NULL, person_id integer NOT NULL,
 observation_concept_id integer NOT NULL, observation_date date NOT NULL,
 observation_datetime TIMESTAMP NULL, observation_type_concept_id integer NOT NULL,
 value_as_number NUMERIC NULL, value_as_string varchar(60) NULL,
 value_as_concept_id integer NULL, qualifier_concept_id integer NULL,
 unit_concept_id integer NULL, provider_id integer NULL, visit_occurrence_id integer NULL,
 visit_detail_id integer NULL, observation_source_value varchar(50) NULL,
 observation_source_concept_id integer NULL, unit_source_value varchar(50) NULL,
 qualifier_source_value varchar(50) NULL, value_source_value varchar(50) NULL,
 observation_event_id integer NULL, obs_event_field_concept_id integer NULL );
CREATE TABLE death (
 person_id integer NOT NULL, death_date date NOT NULL, death_datetime TIMESTAMP NULL,
 death_type_concept_id integer NULL, cause_concept_id integer NULL,
 cause_source_value varchar(50) NULL, cause_source_concept_id integer NULL );
"""


def ddl() -> dict[str, list[tuple[str, bool]]]:
    """Table -> [(column, not_null)] parsed from :data:`DDL`."""
    out = {}
    for name, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\);", DDL, flags=re.S):
        cols = [c.split() for c in body.replace("\n", " ").split(",")]
        out[name] = [(c[0], c[-2:] == ["NOT", "NULL"]) for c in cols]
    return out


def read(d: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(d / f"{table}.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def tiny_omop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("omop_tiny")
    write_omop(tiny(), d)
    return d


@pytest.fixture(scope="module")
def real_omop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("omop_real")
    write_omop(realistic(), d)
    return d


def test_columns_follow_ddl_and_required_fields_are_filled(real_omop: Path) -> None:
    spec = ddl()
    assert set(spec) == set(OMOP_COLUMNS)
    for table, cols in spec.items():
        df = read(real_omop, table)
        assert list(df.columns) == [c for c, _ in cols] == list(OMOP_COLUMNS[table])
        assert len(df) > 0
        for col, not_null in cols:
            if not_null:
                assert (df[col] != "").all(), (table, col)


def test_tiny_person_and_condition_by_hand(tiny_omop: Path) -> None:
    p = read(tiny_omop, "person")
    assert p["person_source_value"].tolist() == ["A1", "B2"]
    assert p["person_id"].tolist() == ["1", "2"]
    assert p["gender_concept_id"].tolist() == ["8532", "8507"]
    # 2000-01-01 minus 61.5 * 365.25 days = 1938-07-02; minus 48 * 365.25 days = 1952-01-01
    assert p["year_of_birth"].tolist() == ["1938", "1952"]
    assert (p["month_of_birth"] == "").all() and (p["birth_datetime"] == "").all()
    c = read(tiny_omop, "condition_occurrence")
    assert c["condition_concept_id"].tolist() == ["373182", "373182"]
    # diagnosis days 270 and 400 after 2000-01-01
    assert c["condition_start_date"].tolist() == ["2000-09-27", "2001-02-04"]


def test_tiny_observations_by_hand(tiny_omop: Path) -> None:
    o = read(tiny_omop, "observation")
    # A1: two ALSFRS-R visits x (12 items + total); B2: original ALSFRS, 10 items + total
    assert len(o) == 2 * 13 + 11
    r = o[o["person_id"] == "1"]
    first = r[r["observation_date"] == "2000-10-27"]  # day 300
    concepts = dict(
        zip(first["observation_source_value"], first["observation_concept_id"], strict=True)
    )
    assert concepts["alsfrs_r:q1"] == "42529071"
    assert concepts["alsfrs_r:q5a"] == "42529075"
    assert concepts["alsfrs_r:q12"] == "42529083"
    assert concepts["alsfrs_r:total"] == "42529084"
    totals = r[r["observation_concept_id"] == "42529084"]
    assert totals["value_as_number"].astype(float).tolist() == [47.0, 46.5]
    assert totals["observation_date"].tolist() == ["2000-10-27", "2001-01-25"]
    assert first["observation_type_concept_id"].unique().tolist() == ["32862"]  # patient
    o2 = o[o["person_id"] == "2"]
    assert (o2["observation_concept_id"] == "0").all()  # original ALSFRS: never ALSFRS-R
    tot = o2[o2["observation_source_value"] == "alsfrs:total"]
    assert tot["value_as_number"].astype(float).tolist() == [29.0]
    assert "alsfrs:q10_alsfrs" in set(o2["observation_source_value"])


def test_tiny_measurement_death_period_by_hand(tiny_omop: Path) -> None:
    m = read(tiny_omop, "measurement")
    assert m[
        [
            "person_id",
            "measurement_source_value",
            "value_as_number",
            "unit_source_value",
            "measurement_date",
        ]
    ].values.tolist() == [
        ["1", "fvc_pct", "88.5", "% predicted", "2000-10-27"],
        ["1", "nfl_serum_pg_ml", "42.25", "pg/mL", "2001-01-25"],
    ]
    assert (m["measurement_concept_id"] == "0").all()
    d = read(tiny_omop, "death")
    assert d[["person_id", "death_date"]].values.tolist() == [["2", "2001-12-01"]]  # day 700
    op = read(tiny_omop, "observation_period")
    assert op[["observation_period_start_date", "observation_period_end_date"]].values.tolist() == [
        ["2000-09-27", "2001-01-25"],
        ["2001-02-04", "2001-12-01"],
    ]


def test_origin_date_shifts_every_date(tmp_path: Path) -> None:
    write_omop(tiny(), tmp_path, origin_date="2010-06-15")
    d = read(tmp_path, "death")
    assert d["death_date"].tolist() == ["2012-05-15"]  # 2010-06-15 + 700 days
    assert read(tmp_path, "person")["year_of_birth"].tolist() == ["1948", "1962"]


def test_realistic_counts_and_ids(real_omop: Path) -> None:
    c = realistic()
    keep = c.patients.loc[c.patients["age_onset"].notna(), "patient_id"]
    person = read(real_omop, "person")
    assert sorted(person["person_source_value"]) == sorted(keep)
    pids = set(person["person_id"])
    for table in OMOP_COLUMNS:
        assert set(read(real_omop, table)["person_id"]) <= pids
    v = c.visits[c.visits["patient_id"].isin(keep)]
    obs = read(real_omop, "observation")
    r = v[v["instrument"] == "alsfrs_r"]
    items_r = [f"q{i}" for i in range(1, 13) if i != 5] + ["q5a", "q5b"]
    n_total_r = int((r[items_r].notna().any(axis=1) | r["total_reported"].notna()).sum())
    assert (obs["observation_concept_id"] == "42529084").sum() == n_total_r
    assert (obs["observation_source_value"].str.startswith("alsfrs_r:q")).sum() == int(
        r[items_r].notna().sum().sum()
    )
    o = v[v["instrument"] == "alsfrs"]
    items_o = [f"q{i}" for i in range(1, 10) if i != 5] + ["q5a", "q5b", "q10_alsfrs"]
    n_orig = int(o[items_o].notna().sum().sum()) + int(
        (o[items_o].notna().any(axis=1) | o["total_reported"].notna()).sum()
    )
    orig = obs[obs["observation_source_value"].str.startswith("alsfrs:")]
    assert len(orig) == n_orig and (orig["observation_concept_id"] == "0").all()
    meas = read(real_omop, "measurement")
    measures = ["fvc_l", "fvc_pct", "svc_l", "svc_pct", "weight_kg", "bmi", "nfl_serum_pg_ml"]
    b = c.biomarkers[c.biomarkers["patient_id"].isin(keep)]
    assert len(meas) == int(v[measures].notna().sum().sum()) + len(b)
    deaths = c.events[(c.events["event"] == "death") & c.events["patient_id"].isin(keep)]
    assert len(read(real_omop, "death")) == len(deaths)


def test_no_local_ids_or_free_text_leave(real_omop: Path) -> None:
    c = realistic()
    secret_like = set(c.patients["patient_id"]) | set(c.biosamples["sample_id"])
    free_text = (
        set(c.genetics["variant"]) | set(c.biosamples["biobank"].dropna()) | set(c.sites["site_id"])
    )
    for table in OMOP_COLUMNS:
        df = read(real_omop, table)
        for col in df.columns:
            cells = set(df[col])
            if col == "person_source_value":
                assert cells <= secret_like - set(c.biosamples["sample_id"])
                continue
            assert not cells & secret_like, (table, col)
            assert not cells & free_text, (table, col)


def luhn_ok(code: str) -> bool:
    """LOINC check digit (mod 10, equivalent to Luhn) of ``nnnnn-c``."""
    body, check = code.split("-")
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return (10 - total % 10) % 10 == int(check)


def test_concept_mapping_file() -> None:
    m = load_concepts()
    assert {"concept_id", "confidence", "code", "omop_table"} <= set(m.columns)
    assert set(m["confidence"]) <= {"secondary", "inferred", "recalled", "well_known", "unmapped"}
    alsfrs = m.loc[
        [f"alsfrs_r:q{i}" for i in (1, 2, 3, 4)]
        + ["alsfrs_r:q5a", "alsfrs_r:q5b"]
        + [f"alsfrs_r:q{i}" for i in range(6, 13)]
        + ["alsfrs_r:total"]
    ]
    assert alsfrs["concept_id"].tolist() == list(range(42529071, 42529085))
    # the reference gives speech, 5a, 5b, R-3 and total; intermediate ids are inferred
    sourced = {"alsfrs_r:q1", "alsfrs_r:q5a", "alsfrs_r:q5b", "alsfrs_r:q12", "alsfrs_r:total"}
    assert set(alsfrs.index[alsfrs["confidence"] == "secondary"]) == sourced
    assert (alsfrs.drop(index=list(sourced))["confidence"] == "inferred").all()
    loinc = m.loc[m["vocabulary"] == "LOINC", "code"]
    assert len(loinc) == 14 and all(luhn_ok(c) for c in loinc)
    assert m.at["als", "concept_id"] == 373182
    assert (m.loc[m["confidence"] == "unmapped", "concept_id"] == 0).all()


def test_luhn_helper_rejects_a_wrong_check_digit() -> None:
    assert luhn_ok("82940-8") and not luhn_ok("82940-7")
    assert np.all([luhn_ok(c) for c in ("82953-1", "82954-9", "82948-1")])


def test_cohort_without_scores_or_deaths(tmp_path: Path) -> None:
    from _cohorts import tiny_tables

    from alsnet.cohort import Cohort

    t = tiny_tables()
    t["visits"] = pd.DataFrame({"patient_id": ["A1"], "day": [5], "instrument": [None]})
    t["events"] = t["events"].iloc[:0]
    write_omop(Cohort.from_tables(t), tmp_path)
    assert len(read(tmp_path, "person")) == 2
    for table in ("observation", "measurement", "death"):
        df = read(tmp_path, table)
        assert len(df) == 0 and list(df.columns) == list(OMOP_COLUMNS[table])
    op = read(tmp_path, "observation_period")
    assert op["observation_period_start_date"].tolist() == ["2000-09-27", "2001-02-04"]


def test_synthetic_cohort_exports(tmp_path: Path) -> None:
    synth = pytest.importorskip("alsnet.synth")
    c = synth.synthesize(200, seed=3)
    write_omop(c, tmp_path)
    person = read(tmp_path, "person")
    assert len(person) == int(c.patients["age_onset"].notna().sum())
    obs = read(tmp_path, "observation")
    keep = set(person["person_source_value"])
    r = c.visits[(c.visits["instrument"] == "alsfrs_r") & c.visits["patient_id"].isin(keep)]
    items = [f"q{i}" for i in range(1, 13) if i != 5] + ["q5a", "q5b"]
    has = r[items].notna().any(axis=1) | r["total_reported"].notna()
    assert (obs["observation_concept_id"] == "42529084").sum() == int(has.sum())
