"""Canonical CSV/Parquet import and export: round trips, file problems, dates, pseudonyms."""

from __future__ import annotations

import codecs
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cohorts import cohort_tables, realistic, tiny, tiny_tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alsnet.cohort import Cohort
from alsnet.exceptions import DataValidationError, IdentifierError, Problem
from alsnet.io import (
    SecretError,
    layout_markdown,
    pseudonymise,
    read_csv,
    read_parquet,
    write_csv,
    write_parquet,
)
from alsnet.schema import TABLES

SECRET = b"0123456789abcdef-site-secret"
ROOT = Path(__file__).resolve().parents[2]


def assert_same(a: Cohort, b: Cohort) -> None:
    assert a.fingerprint == b.fingerprint
    for name in TABLES:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True)


def write_raw(d: Path, tables: dict[str, pd.DataFrame]) -> None:
    for name, df in tables.items():
        df.to_csv(d / f"{name}.csv", index=False, lineterminator="\n")


def problems(exc: pytest.ExceptionInfo[DataValidationError]) -> list[Problem]:
    return exc.value.problems


def one(exc: pytest.ExceptionInfo[DataValidationError]) -> Problem:
    assert len(exc.value.problems) == 1, exc.value
    return exc.value.problems[0]


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("make", [tiny, realistic])
def test_csv_round_trip_is_lossless(tmp_path: Path, make: object) -> None:
    c = make()  # type: ignore[operator]
    paths = write_csv(c, tmp_path)
    assert [p.name for p in paths] == [f"{n}.csv" for n in TABLES]
    assert_same(c, read_csv(tmp_path))


@pytest.mark.parametrize("make", [tiny, realistic])
def test_parquet_round_trip_is_lossless(tmp_path: Path, make: object) -> None:
    c = make()  # type: ignore[operator]
    paths = write_parquet(c, tmp_path)
    assert [p.name for p in paths] == [f"{n}.parquet" for n in TABLES]
    assert_same(c, read_parquet(tmp_path))


def _round_trip(tables: dict[str, pd.DataFrame]) -> None:
    c = Cohort.from_tables(tables)
    with tempfile.TemporaryDirectory() as d:
        write_csv(c, d)
        assert_same(c, read_csv(d))
        write_parquet(c, Path(d) / "pq")
        assert_same(c, read_parquet(Path(d) / "pq"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohort_tables())
def test_round_trip_property(tables: dict[str, pd.DataFrame]) -> None:
    _round_trip(tables)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cohort_tables())
def test_round_trip_property_many(tables: dict[str, pd.DataFrame]) -> None:
    _round_trip(tables)


def test_written_layout_headers_and_floats(tmp_path: Path) -> None:
    c = tiny()
    write_csv(c, tmp_path)
    for name, spec in TABLES.items():
        text = (tmp_path / f"{name}.csv").read_bytes().decode("utf-8")
        assert text.splitlines()[0] == ",".join(spec.names)
        if not len(c.tables[name]):
            assert text == ",".join(spec.names) + "\r\n"  # header-only
    visits = (tmp_path / "visits.csv").read_text().splitlines()
    # second visit of A1: q1 = 3.5 (half point), NfL 42.25, empty cells for missing values
    assert visits[2].startswith("A1,390,alsfrs_r,3.5,4.0,")
    assert visits[2].endswith(",42.25")
    assert ",," in visits[2]


def test_float_text_round_trips_exactly(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["visits"]["fvc_l"] = [0.1 + 0.2, 1 / 3, 2.675]
    c = Cohort.from_tables(tables)
    write_csv(c, tmp_path)
    back = read_csv(tmp_path).visits["fvc_l"].to_numpy()
    assert back.tolist() == [0.1 + 0.2, 1 / 3, 2.675]  # bit-exact


def test_quoted_fields_with_commas_and_newlines(tmp_path: Path) -> None:
    tables = tiny_tables()
    tables["genetics"] = pd.DataFrame(
        {
            "patient_id": ["A1"],
            "gene": ["SOD1"],
            "variant": ['c.272A>C, "p.D91A"\nsecond line'],
            "pathogenicity": ["pathogenic"],
        }
    )
    write_raw(tmp_path, tables)
    c = read_csv(tmp_path)
    assert c.genetics["variant"].tolist() == ['c.272A>C, "p.D91A"\nsecond line']


# --------------------------------------------------------------------------- file problems
@pytest.fixture
def site(tmp_path: Path) -> Path:
    write_raw(tmp_path, tiny_tables())
    return tmp_path


def test_missing_required_file(site: Path) -> None:
    (site / "visits.csv").unlink()
    with pytest.raises(DataValidationError) as exc:
        read_csv(site)
    p = one(exc)
    assert (p.source, p.rule) == ("visits.csv", "required file is missing")


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="directory not found"):
        read_csv(tmp_path / "nope")


def test_zero_byte_file(site: Path) -> None:
    (site / "patients.csv").write_bytes(b"")
    with pytest.raises(DataValidationError) as exc:
        read_csv(site)
    p = one(exc)
    assert p.source == "patients.csv" and "empty (0 bytes)" in p.rule


def test_header_only_required_file_is_refused(site: Path) -> None:
    (site / "patients.csv").write_text(",".join(TABLES["patients"].names) + "\n")
    with pytest.raises(DataValidationError) as exc:
        read_csv(site)
    p = one(exc)
    assert (p.source, p.row) == ("patients.csv", 1)
    assert "header but no data rows" in p.rule


def test_patients_without_visits_round_trip(site: Path, tmp_path: Path) -> None:
    (site / "visits.csv").write_text(",".join(TABLES["visits"].names) + "\n")
    c = read_csv(site)
    assert len(c.visits) == 0 and len(c.patients) > 0
    write_csv(c, tmp_path / "out")
    assert read_csv(tmp_path / "out") == c


def test_header_only_events_and_optional_tables_mean_no_rows(site: Path) -> None:
    (site / "events.csv").write_text("patient_id,event,day\n")
    (site / "genetics.csv").write_text("patient_id,gene,variant,pathogenicity\n")
    c = read_csv(site)
    assert len(c.events) == 0 and len(c.genetics) == 0 and len(c.visits) == 3


def test_not_utf8_names_line_of_first_bad_byte(site: Path) -> None:
    text = (site / "patients.csv").read_text()
    lines = text.splitlines(keepends=True)
    lines[2] = lines[2].replace("B2", "Bé")
    (site / "patients.csv").write_bytes("".join(lines).encode("latin-1"))
    with pytest.raises(DataValidationError) as exc:
        read_csv(site)
    p = one(exc)
    assert (p.source, p.row) == ("patients.csv", 3)
    assert "not UTF-8" in p.rule and "0xe9" in p.rule


def test_utf8_bom_is_accepted(site: Path) -> None:
    data = (site / "patients.csv").read_bytes()
    (site / "patients.csv").write_bytes(codecs.BOM_UTF8 + data)
    assert read_csv(site).patients["patient_id"].tolist() == ["A1", "B2"]


@pytest.mark.parametrize(("sep", "word"), [(";", "semicolon"), ("\t", "tab")])
def test_wrong_delimiter(site: Path, sep: str, word: str) -> None:
    tiny_tables()["visits"].to_csv(site / "visits.csv", sep=sep, index=False)
    with pytest.raises(DataValidationError) as exc:
        read_csv(site)
    p = one(exc)
    assert (p.source, p.row) == ("visits.csv", 1)
    assert "wrong delimiter" in p.rule and word in p.rule and "comma-separated" in p.rule


def test_truncated_row_names_line_and_first_missing_column(site: Path) -> None:
    lines = (site / "events.csv").read_text().splitlines()
    assert lines[1] == "B2,death,700"
    (site / "events.csv").write_text(lines[0] + "\n" + "B2,death\n")
    with pytest.raises(DataValidationError) as exc:
        read_csv(site)
    p = one(exc)
    assert (p.source, p.row, p.column) == ("events.csv", 2, "day")
    assert "truncated row" in p.rule and "2 field(s)" in p.rule and "header has 3" in p.rule


def test_row_with_extra_fields(site: Path) -> None:
    (site / "events.csv").write_text("patient_id,event,day\nB2,death,700\nA1,niv,5,99\n")
    with pytest.raises(DataValidationError) as exc:
        read_csv(site)
    p = one(exc)
    assert (p.source, p.row, p.column) == ("events.csv", 3, None)
    assert "extra fields" in p.rule


def test_cell_problem_names_file_line_column_value_rule(site: Path) -> None:
    v = tiny_tables()["visits"]
    v.loc[1, "q3"] = 5.0
    v.to_csv(site / "visits.csv", index=False)
    with pytest.raises(DataValidationError) as exc:
        read_csv(site)
    p = one(exc)
    assert (p.source, p.row, p.column, p.value) == ("visits.csv", 3, "q3", "5.0")
    assert "between 0 and 4" in p.rule


def test_line_numbers_count_physical_lines_after_multiline_field(site: Path) -> None:
    (site / "genetics.csv").write_text(
        'patient_id,gene,variant,pathogenicity\nA1,SOD1,"two\nlines",pathogenic\n'
        "B2,FUS,p.R521C,not_a_class\n"
    )
    with pytest.raises(DataValidationError) as exc:
        read_csv(site)
    p = one(exc)
    assert (p.source, p.row, p.column, p.value) == (
        "genetics.csv",
        4,
        "pathogenicity",
        "not_a_class",
    )


@settings(max_examples=8, deadline=None)
@given(row=st.integers(0, 88), bad=st.sampled_from(["7", "-1", "x", "2.25"]))
def test_any_bad_numeric_cell_is_located(row: int, bad: str) -> None:
    """Property: corrupting one cell yields exactly that file/line/column/value."""
    c = realistic()
    with tempfile.TemporaryDirectory() as d:
        write_csv(c, d)
        v = pd.read_csv(Path(d) / "visits.csv", dtype=str, keep_default_na=False)
        v.loc[row, "weight_kg"] = bad
        v.to_csv(Path(d) / "visits.csv", index=False)
        with pytest.raises(DataValidationError) as exc:
            read_csv(d)
    p = one(exc)
    assert (p.source, p.row, p.column, p.value) == ("visits.csv", row + 2, "weight_kg", bad)


def test_unknown_files_ignored_or_refused_in_strict_mode(site: Path) -> None:
    (site / "notes.txt").write_text("hello")
    (site / "extra.csv").write_text("a,b\n1,2\n")
    assert len(read_csv(site).patients) == 2
    with pytest.raises(DataValidationError) as exc:
        read_csv(site, strict=True)
    assert {p.source for p in problems(exc)} == {"notes.txt", "extra.csv"}
    assert all("unknown file" in p.rule for p in problems(exc))


def test_unknown_column_refused_in_strict_mode(site: Path) -> None:
    p = tiny_tables()["patients"].assign(favourite_colour="blue")
    p.to_csv(site / "patients.csv", index=False)
    assert "favourite_colour" not in read_csv(site).patients.columns
    with pytest.raises(DataValidationError) as exc:
        read_csv(site, strict=True)
    pr = one(exc)
    assert (pr.source, pr.row, pr.column) == ("patients.csv", 1, "favourite_colour")


@pytest.mark.parametrize("col", ["dob", "date_of_birth"])
def test_date_of_birth_is_refused_as_identifier(site: Path, col: str) -> None:
    p = tiny_tables()["patients"].assign(**{col: ["1950-03-02", "1961-07-04"]})
    p.to_csv(site / "patients.csv", index=False)
    with pytest.raises(IdentifierError) as exc:
        read_csv(site)
    pr = one(exc)
    assert (pr.source, pr.row, pr.column) == ("patients.csv", 1, col)
    assert "identifier" in pr.rule
    assert "1950" not in str(exc.value)


# --------------------------------------------------------------------------- dates
def dated_site(d: Path) -> None:
    t = tiny_tables()
    p = t["patients"].drop(columns="diagnosis_day")
    p["onset_date"] = ["2020-01-15", "2019-12-31"]
    p["diagnosis_date"] = ["2020-02-14", "2021-02-04"]
    v = t["visits"].drop(columns="day")
    v.insert(1, "visit_date", ["2020-03-01", "2021-01-01", "2020-01-01"])
    e = pd.DataFrame({"patient_id": ["B2"], "event": ["death"], "event_date": ["2021-03-01"]})
    tr = pd.DataFrame(
        {
            "patient_id": ["A1"],
            "treatment": ["riluzole"],
            "start_date": ["2020-02-20"],
            "stop_date": [""],
        }
    )
    write_raw(d, {"patients": p, "visits": v, "events": e, "treatments": tr})


def test_site_dates_become_days_since_onset_and_are_dropped(tmp_path: Path) -> None:
    dated_site(tmp_path)
    c = read_csv(tmp_path)
    # hand-computed: 2020-01-15 -> 2020-03-01 = 16 (rest of Jan) + 29 (Feb 2020) + 1 = 46
    assert c.visits["day"].tolist() == [46, 352, 1]
    assert c.patients["diagnosis_day"].tolist() == [30, 401]
    assert c.events["day"].tolist() == [426]  # 2019-12-31 -> 2021-03-01: 1 + 366 + 59
    assert c.treatments["start_day"].tolist() == [36]
    assert c.treatments["stop_day"].isna().all()
    for df in c.tables.values():
        assert not [col for col in df.columns if "date" in col]
        for col in df.columns:
            if df[col].dtype == "string":
                assert not df[col].astype(str).str.contains(r"\d{4}-\d\d-\d\d").any()
    # the same cohort as if the site had sent days
    t = tiny_tables()
    t["patients"]["diagnosis_day"] = [30, 401]
    t["visits"]["day"] = [46, 352, 1]
    t["events"]["day"] = [426]
    t["treatments"] = pd.DataFrame(
        {"patient_id": ["A1"], "treatment": ["riluzole"], "start_day": [36]}
    )
    assert read_csv(tmp_path) == Cohort.from_tables(t)


def test_bad_date_names_file_line_column_but_not_value(tmp_path: Path) -> None:
    dated_site(tmp_path)
    v = pd.read_csv(tmp_path / "visits.csv", dtype=str, keep_default_na=False)
    v.loc[2, "visit_date"] = "2020-13-45"
    v.to_csv(tmp_path / "visits.csv", index=False)
    with pytest.raises(DataValidationError) as exc:
        read_csv(tmp_path)
    p = one(exc)
    assert (p.source, p.row, p.column, p.value) == ("visits.csv", 4, "visit_date", None)
    assert "ISO date" in p.rule
    assert "2020-13-45" not in str(exc.value)


def test_dates_without_onset_date_are_refused(tmp_path: Path) -> None:
    dated_site(tmp_path)
    p = pd.read_csv(tmp_path / "patients.csv", dtype=str).drop(columns="onset_date")
    p.to_csv(tmp_path / "patients.csv", index=False)
    with pytest.raises(DataValidationError) as exc:
        read_csv(tmp_path)
    assert {(q.source, q.column) for q in problems(exc)} >= {
        ("visits.csv", "visit_date"),
        ("events.csv", "event_date"),
    }
    assert all("onset_date" in q.rule for q in problems(exc))


def test_date_of_unknown_patient_and_missing_onset(tmp_path: Path) -> None:
    dated_site(tmp_path)
    p = pd.read_csv(tmp_path / "patients.csv", dtype=str, keep_default_na=False)
    p.loc[1, "onset_date"] = ""
    p.to_csv(tmp_path / "patients.csv", index=False)
    e = pd.DataFrame({"patient_id": ["ZZ"], "event": ["niv"], "event_date": ["2020-05-05"]})
    e.to_csv(tmp_path / "events.csv", index=False)
    with pytest.raises(DataValidationError) as exc:
        read_csv(tmp_path)
    found = {(q.source, q.row, q.column, q.rule.split(",")[0]) for q in problems(exc)}
    assert ("events.csv", 2, "event_date", "patient_id not found in patients.csv") in found
    assert ("visits.csv", 4, "visit_date", "the patient has no onset_date in patients.csv") in found
    assert (
        "patients.csv",
        3,
        "diagnosis_date",
        "the patient has no onset_date in patients.csv",
    ) in found


def test_day_and_date_together_are_refused(tmp_path: Path) -> None:
    dated_site(tmp_path)
    v = pd.read_csv(tmp_path / "visits.csv", dtype=str, keep_default_na=False)
    v["day"] = "1"
    v.to_csv(tmp_path / "visits.csv", index=False)
    with pytest.raises(DataValidationError) as exc:
        read_csv(tmp_path)
    p = one(exc)
    assert (p.source, p.row, p.column) == ("visits.csv", 1, "visit_date")
    assert "not both" in p.rule


# --------------------------------------------------------------------------- pseudonyms
def test_keep_ids_false_pseudonymises_consistently(tmp_path: Path) -> None:
    write_csv(realistic(), tmp_path)
    c = read_csv(tmp_path, keep_ids=False, secret=SECRET)
    local = realistic()
    expect = pseudonymise(local.patients["patient_id"], secret=SECRET, namespace="patient_id")
    assert c.patients["patient_id"].tolist() == expect.tolist()
    pids = set(c.patients["patient_id"])
    for name, spec in TABLES.items():
        if spec.per_patient and len(c.tables[name]):
            assert set(c.tables[name]["patient_id"]) <= pids
            assert c.tables[name]["patient_id"].str.fullmatch(r"P[0-9a-f]{20}").all()
    # same rows, only the ids changed: visits of a patient keep their days
    m = dict(zip(local.patients["patient_id"], expect, strict=True))
    pd.testing.assert_series_equal(
        c.visits["patient_id"],
        local.visits["patient_id"].map(m).astype("string"),
    )
    samples = pseudonymise(local.biosamples["sample_id"], secret=SECRET, namespace="sample_id")
    assert c.biosamples["sample_id"].tolist() == samples.tolist()
    assert not set(local.patients["patient_id"]) & set(c.patients["patient_id"])


def test_keep_ids_false_reads_secret_from_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_csv(tiny(), tmp_path)
    monkeypatch.delenv("ALSNET_SITE_SECRET", raising=False)
    with pytest.raises(SecretError, match="ALSNET_SITE_SECRET"):
        read_csv(tmp_path, keep_ids=False)
    monkeypatch.setenv("ALSNET_SITE_SECRET", SECRET.decode())
    assert read_csv(tmp_path, keep_ids=False) == read_csv(tmp_path, keep_ids=False, secret=SECRET)


# --------------------------------------------------------------------------- docs
def test_layout_doc_matches_schema() -> None:
    doc = (ROOT / "docs" / "canonical-layout.md").read_text(encoding="utf-8")
    assert doc == layout_markdown(), "regenerate docs/canonical-layout.md with layout_markdown()"


def test_layout_lists_every_column() -> None:
    text = layout_markdown()
    for name, spec in TABLES.items():
        assert f"## `{name}.csv`" in text
        for col in spec.columns:
            assert f"| `{col.name}` | {col.kind} |" in text
    assert "| `q1` | float | points | no | 0–4; step 0.5 |" in text
    assert np.all([f"`{v}`" in text for v in TABLES["events"].column("event").vocab])


def test_synthetic_cohort_round_trips(tmp_path: Path) -> None:
    synth = pytest.importorskip("alsnet.synth")
    c = synth.synthesize(200, seed=3)
    write_csv(c, tmp_path / "csv")
    assert_same(c, read_csv(tmp_path / "csv"))
    write_parquet(c, tmp_path / "pq")
    assert_same(c, read_parquet(tmp_path / "pq"))


def test_unbalanced_quote_is_reported_at_its_line(site: Path) -> None:
    (site / "events.csv").write_text('patient_id,event,day\nB2,death,700\nA1,"niv,5\nB2,pav,9\n')
    with pytest.raises(DataValidationError) as exc:
        read_csv(site)
    p = one(exc)
    assert (p.source, p.row, p.column) == ("events.csv", 3, "day")
    assert "unbalanced double quote" in p.rule
