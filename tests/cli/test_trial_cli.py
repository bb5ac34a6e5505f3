"""`alsnet trial ...` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alsnet.cli import app

runner = CliRunner()


def test_bounds_json_hsd() -> None:
    res = runner.invoke(
        app,
        ["trial", "bounds", "--looks", "5", "--alpha", "0.025", "--spending", "hsd:-4", "--json"],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert set(out) == {"z", "alpha_spent"}
    assert [round(v, 2) for v in out["z"]] == [3.25, 2.99, 2.69, 2.37, 2.03]
    assert [round(v, 4) for v in out["alpha_spent"]] == [0.0006, 0.0013, 0.0028, 0.0063, 0.0140]


def test_bounds_json_timing_and_table() -> None:
    res = runner.invoke(
        app,
        ["trial", "bounds", "--looks", "3", "--spending", "obf", "--timing", "0.5,0.75", "--json"],
    )
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert len(out["z"]) == 3 and sum(out["alpha_spent"]) == pytest.approx(0.025)
    res = runner.invoke(app, ["trial", "bounds", "--looks", "4", "--spending", "pocock"])
    assert res.exit_code == 0, res.output
    assert "2.3" in res.stdout and "pocock" in res.stdout


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        (["--spending", "nope"], "spending"),
        (["--alpha", "0.9"], "alpha"),
        (["--timing", "0.5,0.4"], "increasing"),
        (["--timing", "a,b"], "timing"),
    ],
)
def test_bounds_bad_input(args: list[str], msg: str) -> None:
    res = runner.invoke(app, ["trial", "bounds", "--looks", "3", *args])
    assert res.exit_code == 2
    assert msg in res.stderr


def test_randomise_and_verify_log(tmp_path: Path) -> None:
    design = tmp_path / "design.json"
    design.write_text(
        json.dumps({"arms": ["active", "placebo"], "ratio": [3, 1], "strata": ["riluzole"]})
    )
    log = tmp_path / "alloc.jsonl"
    arms = []
    for i in range(6):
        args = ["trial", "randomise", "--log", str(log), "--patient", f"P{i}"]
        args += ["--stratum", "riluzole=yes"]
        if i == 0:
            args += ["--design", str(design)]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        arms.append(json.loads(res.stdout)["arm"])
    assert set(arms) <= {"active", "placebo"}
    res = runner.invoke(app, ["trial", "verify-log", str(log)])
    assert res.exit_code == 0 and "6 allocations" in res.stdout
    # duplicate patient refused; tampered log refused and reported
    res = runner.invoke(
        app,
        ["trial", "randomise", "--log", str(log), "--patient", "P1", "--stratum", "riluzole=yes"],
    )
    assert res.exit_code == 2 and "already randomised" in res.stderr
    lines = log.read_text().splitlines(keepends=True)
    del lines[2]
    log.write_text("".join(lines))
    res = runner.invoke(app, ["trial", "verify-log", str(log)])
    assert res.exit_code == 2 and "line 3" in res.stderr
    res = runner.invoke(
        app,
        ["trial", "randomise", "--log", str(log), "--patient", "P9", "--stratum", "riluzole=no"],
    )
    assert res.exit_code == 2
    res = runner.invoke(
        app, ["trial", "randomise", "--log", str(log), "--patient", "P9", "--stratum", "riluzole"]
    )
    assert res.exit_code == 2 and "factor=level" in res.stderr


def test_simulate_bootstrap_source_from_a_cohort_directory(tmp_path: Path) -> None:
    from alsnet.io.canonical import write_csv
    from alsnet.synth import synthesize

    write_csv(synthesize(600, seed=4), tmp_path / "cohort")
    out = tmp_path / "r.json"
    args = ["trial", "simulate", "healey", "--scenario", "null", "--sims", "40", "--jobs", "1"]
    r = CliRunner().invoke(
        app,
        [
            *args,
            "--outcome-source",
            "bootstrap",
            "--cohort",
            str(tmp_path / "cohort"),
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(out.read_text())["outcome_source"] == "bootstrap"
    bad = CliRunner().invoke(app, [*args, "--outcome-source", "magic"])
    assert bad.exit_code != 0 and "--outcome-source" in bad.output


def test_calibrate_accepts_the_bootstrap_source(tmp_path: Path) -> None:
    from alsnet.io.canonical import write_csv
    from alsnet.synth import synthesize

    write_csv(synthesize(600, seed=4), tmp_path / "cohort")
    out = tmp_path / "cal.json"
    args = ["trial", "calibrate", "healey", "--sims", "200", "--out", str(out)]
    r = CliRunner().invoke(
        app, [*args, "--outcome-source", "bootstrap", "--cohort", str(tmp_path / "cohort")]
    )
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert 0.5 < res["threshold"] < 1.0
