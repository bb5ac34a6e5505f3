"""Threshold calibration: agrees with the simulator exactly, reproduces alpha on fresh sims."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.trials import PlatformDesign, TrialDesignError, load_design, simulate
from alsnet.trials.calibrate import _quantile_threshold, calibrate, success_statistics


def _design(**over: Any) -> PlatformDesign:
    d: dict[str, Any] = {
        "name": "cal",
        "regimens": [{"name": "A", "n": 120}, {"name": "B", "entry_month": 1, "n": 120}],
        "allocation": {"active": 3, "placebo": 1},
        "interims": {"first_n": 40, "every_weeks": 12},
        "success": {"threshold": 0.979},
        "futility": {"threshold": 0.05, "drr": 0.9},
        "scenarios": {"null": {"drr": 1.0}},
    }
    d.update(over)
    return PlatformDesign.from_dict(d)


def test_statistics_reproduce_the_simulator_exactly() -> None:
    """Same seed: P(stat > design threshold) is the simulator's P(success), trial for trial."""
    d = _design()
    cal = calibrate(d, target_alpha=0.05, n_sims=1000, seed=4)
    sim = simulate(d, "null", n_sims=1000, seed=4)
    np.testing.assert_array_equal(cal.alpha_at_design, sim.p_success)


@pytest.mark.parametrize(
    ("case", "source"),
    [
        ("overrides", "parametric"),
        ("early-success", "bootstrap"),
        ("subgroups", "parametric"),
    ],
)
def test_statistics_follow_every_simulator_option(case: str, source: str) -> None:
    """Scenario overrides, outcome sources, subgroups: still the simulator's P(success)."""
    if case == "subgroups":
        d: PlatformDesign = load_design("healey-subgroups")  # type: ignore[assignment]
    elif case == "overrides":
        null = {"drr": 1.0, "accrual_per_month": 12, "dropout_per_month": 0.05, "time_trend": 0.02}
        d = _design(scenarios={"null": null})
    else:
        d = _design(success={"threshold": 0.979, "early": True})
    n = 250
    cal = calibrate(d, target_alpha=0.05, n_sims=n, seed=5, outcome_source=source)
    sim = simulate(d, "null", n_sims=n, seed=5, outcome_source=source)
    if case == "early-success":
        assert sim.p_early_success.max() > 0  # the early rule is exercised
        # a success stop also ends the stopped regimen's placebo enrolment in the simulator
        # (shared controls of the other regimen): equal up to that second-order effect
        np.testing.assert_allclose(cal.alpha_at_design, sim.p_success, atol=2 / n)
    else:
        np.testing.assert_array_equal(cal.alpha_at_design, sim.p_success)


def test_calibrated_threshold_gives_target_alpha_on_fresh_sims() -> None:
    d = _design()
    alpha, n = 0.05, 3000
    cal = calibrate(d, target_alpha=alpha, n_sims=n, seed=1)
    # on the calibration sims: at most alpha per regimen, the worst regimen close to it
    assert np.all(cal.alpha_at_threshold <= alpha + 1e-12)
    assert cal.alpha_at_threshold.max() > alpha - 3 / n
    assert cal.threshold == cal.thresholds.max()
    lo, hi = cal.threshold_ci[np.argmax(cal.thresholds)]
    assert lo <= cal.threshold <= hi
    fresh = dataclasses.replace(d, success=dataclasses.replace(d.success, threshold=cal.threshold))
    res = simulate(fresh, "null", n_sims=n, seed=99)
    se = math.sqrt(2 * alpha * (1 - alpha) / n)  # calibration + validation noise
    assert abs(float(res.p_success.max()) - alpha) < 3.5 * se
    assert np.all(res.p_success < alpha + 3.5 * se)


def test_frequentist_fixed_design_threshold_is_the_normal_quantile() -> None:
    """Fixed design, z = -log DRR / se is ~N(0, 1) under the null: z bound ~ Phi^-1(0.95)."""
    d = _design(
        regimens=[{"name": "A", "n": 400}],
        interims=None,
        futility=None,
        frequentist={"alpha": 0.05},
    )
    # asymptotic claim: 100 placebo patients (with 50, the estimated control slope variance
    # makes z about 3% over-dispersed and the calibrated cut about 1.75)
    cal = calibrate(d, target_alpha=0.05, n_sims=2000, seed=2)
    assert cal.statistic == "z"
    assert cal.threshold == pytest.approx(1.645, abs=0.12)
    stats = success_statistics(d, "null", n_sims=2000, seed=2)
    assert np.mean(stats[:, 0]) == pytest.approx(0.0, abs=0.08)
    assert np.std(stats[:, 0]) == pytest.approx(1.0, abs=0.08)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=20, max_size=200),
    st.sampled_from([0.01, 0.025, 0.05, 0.2]),
)
def test_quantile_threshold_is_the_smallest_valid_cut(values: list[float], alpha: float) -> None:
    x = np.asarray([*values, -np.inf])
    c, lo, hi = _quantile_threshold(x, alpha)
    assert np.mean(x > c) <= alpha
    # brute force: no smaller candidate (a data value below c) is also valid
    smaller = np.unique(x[x < c])
    assert all(np.mean(x > s) > alpha for s in smaller)
    assert lo <= c <= hi


def test_bad_settings_are_refused() -> None:
    d = _design()
    with pytest.raises(TrialDesignError, match="target_alpha"):
        calibrate(d, target_alpha=0.7, n_sims=100)
    with pytest.raises(TrialDesignError, match="sims"):
        calibrate(d, target_alpha=0.001, n_sims=100)
    gs = _design(frequentist={"alpha": 0.025, "spending": "ld-obf"})
    with pytest.raises(TrialDesignError, match="spending"):
        calibrate(gs, n_sims=100)


def test_cli_calibrate_writes_json(tmp_path: Path) -> None:
    design = tmp_path / "d.yaml"
    design.write_text(
        yaml.safe_dump(
            {
                "name": "cal",
                "regimens": [{"name": "A", "n": 80}],
                "interims": None,
                "futility": None,
                "scenarios": {"null": {"drr": 1.0}},
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "cal.json"
    args = ["trial", "calibrate", str(design), "--target-alpha", "0.05", "--sims", "500"]
    res = CliRunner().invoke(app, [*args, "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    direct = calibrate(PlatformDesign.from_file(design), target_alpha=0.05, n_sims=500, seed=3)
    assert data["threshold"] == pytest.approx(direct.threshold)
    assert "common threshold" in res.output
    bad = CliRunner().invoke(app, ["trial", "calibrate", "adaptr-readme", "--sims", "100"])
    assert bad.exit_code == 2
