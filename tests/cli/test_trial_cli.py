"""`alsnet trial ...` through typer's CliRunner."""

from __future__ import annotations

import json

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
