"""Bad PRO-ACT input: one DataValidationError naming file, line, column and rule."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from alsnet.exceptions import DataValidationError, Problem
from alsnet.io.proact import read_proact
from alsnet.testing.synthetic_proact import make_proact_truth, write_truth


@pytest.fixture(scope="module")
def truth():
    return make_proact_truth(n_subjects=12, seed=5, traps=False)


def _csv_dir(truth, tmp_path: Path) -> Path:
    write_truth(truth, tmp_path, layout="proact")
    return tmp_path


def _edit(path: Path, line: int, column: str, value: str) -> None:
    """Set one cell (line numbers as in the file: header = 1)."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    rows[line - 1][rows[0].index(column)] = value
    with path.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def _problems(path: Path, **kw: object) -> list[Problem]:
    with pytest.raises(DataValidationError) as err:
        read_proact(path, **kw)
    return err.value.problems


def _only(problems: list[Problem], source: str) -> Problem:
    mine = [p for p in problems if p.source == source]
    assert len(mine) == 1, problems
    return mine[0]


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("abc", "must be a number"),
        ("5", "between 0 and 4"),
        ("2.3", "multiple of 0.5"),
        ("0", None),
    ],
)
def test_bad_item_named_by_file_line_column(truth, tmp_path, value, rule):
    d = _csv_dir(truth, tmp_path)
    _edit(d / "PROACT_ALSFRS.csv", 4, "Q3_Swallowing", value)
    if rule is None:  # a valid 0 is accepted (and stays 0: zero is a score, not missing)
        cohort = read_proact(d)
        assert (cohort.visits["q3"] == 0).any()
        return
    p = _only(_problems(d), "PROACT_ALSFRS.csv")
    assert (p.row, p.column, p.value) == (4, "Q3_Swallowing", value)
    assert rule in p.rule


def test_non_numeric_delta_and_several_problems_collected(truth, tmp_path):
    d = _csv_dir(truth, tmp_path)
    _edit(d / "PROACT_ALSFRS.csv", 3, "ALSFRS_Delta", "day 7")
    _edit(d / "PROACT_FVC.csv", 2, "Subject_Liters_Trial_1", "n/a")
    probs = _problems(d)
    assert {(p.source, p.row, p.column) for p in probs} == {
        ("PROACT_ALSFRS.csv", 3, "ALSFRS_Delta"),
        ("PROACT_FVC.csv", 2, "Subject_Liters_Trial_1"),
    }
    assert "day 7" in str(DataValidationError(probs))


def test_truncated_file(truth, tmp_path):
    d = _csv_dir(truth, tmp_path)
    path = d / "PROACT_ALSFRS.csv"
    text = path.read_text()
    n_lines = text.count("\n")
    path.write_text(text[: text.rstrip("\n").rfind(",", 0, len(text) - 30)])  # cut the last row
    p = _only(_problems(d), "PROACT_ALSFRS.csv")
    assert p.row == n_lines and "truncated row" in p.rule and p.column


def test_wrong_delimiter(truth, tmp_path):
    d = _csv_dir(truth, tmp_path)
    path = d / "PROACT_DEATHDATA.csv"
    path.write_text(path.read_text().replace(",", ";"))
    p = _only(_problems(d), "PROACT_DEATHDATA.csv")
    assert p.row == 1 and "wrong delimiter" in p.rule and "semicolon" in p.rule


def test_extra_field(truth, tmp_path):
    d = _csv_dir(truth, tmp_path)
    path = d / "PROACT_TREATMENT.csv"
    lines = path.read_text().split("\n")
    lines[2] += ",surplus"
    path.write_text("\n".join(lines))
    p = _only(_problems(d), "PROACT_TREATMENT.csv")
    assert p.row == 3 and "fields" in p.rule


def test_canonical_rule_located_in_source_file(truth, tmp_path):
    """A rule checked on canonical tables (weight range) still names file and line."""
    d = _csv_dir(truth, tmp_path)
    _edit(d / "PROACT_VITALSIGNS.csv", 3, "Weight", "900")
    _edit(d / "PROACT_VITALSIGNS.csv", 3, "Weight_Units", "Kilograms")
    p = _only(_problems(d), "PROACT_VITALSIGNS.csv")
    assert p.row == 3 and p.column == "weight_kg" and "between 20 and 300" in p.rule


def test_visit_long_before_onset(truth, tmp_path):
    d = _csv_dir(truth, tmp_path)
    a = truth.tables["ALSFRS"]
    hist = truth.tables["ALSHISTORY"]
    sid = a["subject_id"].iloc[0]
    onset = int(hist.loc[hist["subject_id"] == sid, "Onset_Delta"].iloc[0])
    _edit(d / "PROACT_ALSFRS.csv", 2, "ALSFRS_Delta", str(onset - 100))
    p = _only(_problems(d), "PROACT_ALSFRS.csv")
    assert p.row == 2 and p.column == "day" and "before symptom onset" in p.rule


def test_unknown_unit_strict_only(truth, tmp_path):
    d = _csv_dir(truth, tmp_path)
    _edit(d / "PROACT_VITALSIGNS.csv", 2, "Weight_Units", "stone")
    cohort = read_proact(d)  # lenient: the weight is dropped and counted
    assert len(cohort.visits)
    p = _only(_problems(d, strict=True), "PROACT_VITALSIGNS.csv")
    assert (p.row, p.column, p.value) == (2, "Weight_Units", "stone")


def test_subject_died_must_be_yes_or_no(truth, tmp_path):
    d = _csv_dir(truth, tmp_path)
    _edit(d / "PROACT_DEATHDATA.csv", 2, "Subject_Died", "maybe")
    p = _only(_problems(d), "PROACT_DEATHDATA.csv")
    assert (p.row, p.column, p.value) == (2, "Subject_Died", "maybe")


# --------------------------------------------------------------------------- DREAM
def _dream_dir(truth, tmp_path: Path) -> list[Path]:
    return write_truth(truth, tmp_path, layout="dream", seed=5)


def _dream_line(path: Path, feature: str) -> int:
    for i, line in enumerate(path.read_text().split("\n"), start=1):
        if f"|{feature}|" in line:
            return i
    raise AssertionError(feature)


def test_dream_non_numeric_value(truth, tmp_path):
    paths = _dream_dir(truth, tmp_path)
    path = paths[1]
    line = _dream_line(path, "Q1_Speech")
    rows = path.read_text().split("\n")
    f = rows[line - 1].split("|")
    f[3] = "three"
    rows[line - 1] = "|".join(f)
    path.write_text("\n".join(rows))
    p = _only(_problems(tmp_path), path.name)
    assert (p.row, p.column, p.value) == (line, "feature_value[Q1_Speech]", "three")
    assert "must be a number" in p.rule


def test_dream_wrong_delimiter_and_truncation(truth, tmp_path):
    paths = _dream_dir(truth, tmp_path)
    paths[0].write_text(paths[0].read_text().replace("|", ","))
    text = paths[1].read_text().rstrip("\n")
    paths[1].write_text(text[: text.rfind("|")])
    probs = _problems(tmp_path)
    p0 = _only(probs, paths[0].name)
    assert p0.row == 1 and "wrong delimiter" in p0.rule and "comma" in p0.rule
    p1 = _only(probs, paths[1].name)
    assert p1.row == text.count("\n") + 1 and "truncated" in p1.rule
    assert p1.column == "feature_delta"


def test_dream_unknown_feature_strict(truth, tmp_path):
    paths = _dream_dir(truth, tmp_path)
    with paths[0].open("a") as fh:
        sid = paths[0].read_text().split("\n")[1].split("|")[0]
        fh.write(f"{sid}|ALSFRS|Q13_Mood|3||0\n")
    read_proact(tmp_path)  # lenient: counted and skipped
    n = paths[0].read_text().rstrip("\n").count("\n") + 1
    p = _only(_problems(tmp_path, strict=True), paths[0].name)
    assert (p.row, p.column, p.value) == (n, "feature_name", "Q13_Mood")
