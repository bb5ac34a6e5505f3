"""`alsnet stage` and `alsnet encals` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alsnet.cli import app

HEADER = "patient_id,day,q1,q2,q3,q4,q5a,q5b,q6,q7,q8,q9,q10,q11,q12"
GOOD = f"""{HEADER},gastrostomy,note
P1,100,4,4,4,4,4,,4,4,4,4,4,4,4,,first
P1,200,1,3,3,3,,2,3,3,3,3,3,3,4,,
P2,50,0,2,1,1,3,,1,2,1,2,1,3,2,0,x
P2,80,3.5,4,4,4,4,,4,4,4,4,4,4,4,1,
P3,60,,,,,,,,,,,,,,,no ALSFRS
"""

runner = CliRunner()


def write(tmp_path: Path, text: str, name: str = "visits.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_stage_writes_scores_and_keeps_input(tmp_path: Path) -> None:
    src = write(tmp_path, GOOD)
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["stage", "--input", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    before = pd.read_csv(src, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(got[before.columns], before)
    new = [
        "alsfrs_r_total",
        "bulbar",
        "fine_motor",
        "gross_motor",
        "respiratory",
        "kings",
        "kings_regions",
        "mitos",
    ]
    assert list(got.columns) == [*before.columns, *new]
    assert got["alsfrs_r_total"].tolist() == ["48", "34", "19", "47.5", ""]
    assert got["bulbar"].tolist() == ["12", "7", "3", "11.5", ""]
    assert got["respiratory"].tolist() == ["12", "10", "6", "12", ""]
    assert got["kings"].tolist() == ["1", "4A", "4B", "4A", ""]
    assert got["kings_regions"].tolist() == ["0", "3", "3", "1", ""]
    assert got["mitos"].tolist() == ["0", "0", "4", "0", ""]


def test_stage_instrument_column_and_dead_flag(tmp_path: Path) -> None:
    text = f"""{HEADER},instrument,dead
P1,100,4,4,4,4,4,,4,4,4,4,4,4,4,alsfrs_r,1
P1,90,4,4,4,4,3,,4,4,4,4,4,4,4,,0
"""
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["stage", "-i", str(write(tmp_path, text)), "-o", str(out)])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert got["kings"].tolist() == ["5", "1"]
    assert got["mitos"].tolist() == ["5", "0"]
    assert got["instrument"].tolist() == ["alsfrs_r", ""]
    assert got["alsfrs_r_total"].tolist() == ["48", "47"]


@pytest.mark.parametrize(
    ("line", "column", "value", "rule"),
    [
        ("P1,100,5,4,4,4,4,,4,4,4,4,4,4,4", "q1", "5", "between 0 and 4"),
        ("P1,100,4,4,4,abc,4,,4,4,4,4,4,4,4", "q4", "abc", "must be a number"),
        ("P1,100,4,4,4,4,4,4,4,4,4,4,4,4,4", "q5a,q5b", None, "both q5a and q5b"),
        ("P1,100,4,4,4,4,4,,4,4,4,4,4,4,2.25", "q12", "2.25", "multiple of 0.5"),
    ],
)
def test_stage_bad_values(
    tmp_path: Path, line: str, column: str, value: str | None, rule: str
) -> None:
    src = write(tmp_path, f"{HEADER}\nP0,10,4,4,4,4,4,,4,4,4,4,4,4,4\n{line}\n")
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["stage", "--input", str(src), "--out", str(out)])
    assert res.exit_code == 1
    err = " ".join(res.stderr.split())
    assert "visits.csv, line 3" in err
    assert f"column '{column}'" in err
    if value is not None:
        assert f"value '{value}'" in err
    assert rule in err
    assert not out.exists()


def test_stage_missing_column(tmp_path: Path) -> None:
    text = "patient_id,day,q1,q2,q3,q4,q5a,q6,q7,q8,q9,q10,q11\nP1,1,4,4,4,4,4,4,4,4,4,4,4\n"
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["stage", "--input", str(write(tmp_path, text)), "--out", str(out)])
    assert res.exit_code == 1
    assert "column 'q12'" in res.stderr and "required column is missing" in res.stderr
    assert not out.exists()


ENCALS_HEADER = (
    "id,age_onset,delta_fs,diagnostic_delay_months,fvc_pct,bulbar_onset,"
    "definite_el_escorial,ftd,c9orf72"
)


def test_encals_cli(tmp_path: Path) -> None:
    src = write(
        tmp_path, f"{ENCALS_HEADER}\na,60,0.5,12,90,0,0,0,0\nb,70,1.2,6,70,1,1,0,1\n", "p.csv"
    )
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["encals", "--input", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out)
    assert got["id"].tolist() == ["a", "b"]
    assert got["encals_lp"].iloc[0] == pytest.approx(-4.6796, abs=1e-4)
    assert got["encals_median_months"].iloc[0] > got["encals_median_months"].iloc[1]
    assert got["tricals_eligible"].tolist() == [True, True]


def test_encals_cli_errors(tmp_path: Path) -> None:
    src = write(
        tmp_path, f"{ENCALS_HEADER}\na,60,0.5,0,90,0,0,0,0\nb,70,1.2,6,70,1,1,0,\n", "p.csv"
    )
    out = tmp_path / "out.csv"
    res = runner.invoke(app, ["encals", "--input", str(src), "--out", str(out)])
    assert res.exit_code == 1
    err = " ".join(res.stderr.split())
    assert "p.csv, line 2, column 'diagnostic_delay_months': value '0'" in err
    assert "p.csv, line 3, column 'c9orf72'" in err
    assert not out.exists()
    res = runner.invoke(app, ["encals", "-i", str(src), "-o", str(out), "--errors", "flag"])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out)
    assert got["encals_lp"].isna().all()
    assert got["encals_error"].str.contains("c9orf72").tolist() == [False, True]
