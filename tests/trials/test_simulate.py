"""Platform-trial simulation: closed-form size and power, monotone power, reproducibility, CLI."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.trials import (
    PlatformDesign,
    SimulationResult,
    TrialDesignError,
    load_design,
    simulate,
)
from alsnet.trials.design import ControlSharing
from alsnet.trials.simulate import _control_masks, enrolment_schedule

SLOPE, SD_B, SD_E = -1.03, 0.76, 1.77
VISITS = [0, 4, 8, 12, 16, 20, 24]


def _fixed_design(threshold: float = 0.975) -> PlatformDesign:
    """One regimen of 160 (3:1), no interims, no deaths or dropout: complete data."""
    return PlatformDesign.from_dict(
        {
            "name": "fixed",
            "regimens": [{"name": "A", "n": 160}],
            "allocation": {"active": 3, "placebo": 1},
            "control_sharing": {"rule": "own"},
            "dropout_per_month": 0.0,
            "visit_weeks": VISITS,
            "interims": None,
            "success": {"threshold": threshold},
            "futility": None,
            "outcome": {
                "slope_mean": SLOPE,
                "slope_sd": SD_B,
                "residual_sd": SD_E,
                "mortality_24w": 0.0,
            },
            "scenarios": {
                "null": {},
                "d85": {"drr": [0.85]},
                "d70": {"drr": [0.70]},
            },
        }
    )


def _closed_form_power(drr: float, threshold: float) -> float:
    """Delta-method power of the log-ratio test with known variance components."""
    t = np.array(VISITS) * 12 / 52
    sxx = float(((t - t.mean()) ** 2).sum())
    var_a = ((SD_B * drr) ** 2 + SD_E**2 / sxx) / 120
    var_p = (SD_B**2 + SD_E**2 / sxx) / 40
    se = math.sqrt(var_a / (SLOPE * drr) ** 2 + var_p / SLOPE**2)
    return float(stats.norm.cdf(-math.log(drr) / se - stats.norm.ppf(threshold)))


def test_type_one_error_fixed_design_matches_nominal() -> None:
    # Pr(DRR < 1) > s  <=>  z > Phi^-1(s): the normal-approximation test has size 1 - s
    r = simulate(_fixed_design(0.975), "null", n_sims=4000, seed=11)
    assert abs(r.p_success[0] - 0.025) < 4 * math.sqrt(0.025 * 0.975 / 4000) + 0.004
    assert r.p_early_futility[0] == 0.0
    assert r.mean_n[0] == 160 and r.mean_n_se[0] == 0.0
    # second-order ratio bias: E[m_a / m_p] ~ 1 + CV(m_p)^2 (CV 0.13 with 40 placebo)
    t = np.array(VISITS) * 12 / 52
    cv2 = (SD_B**2 + SD_E**2 / float(((t - t.mean()) ** 2).sum())) / 40 / SLOPE**2
    assert r.mean_drr[0] == pytest.approx(1.0 + cv2, abs=0.01)


def test_power_matches_delta_method_closed_form() -> None:
    expected = _closed_form_power(0.70, 0.975)
    assert 0.55 < expected < 0.75  # a mid-range check point, sensitive to the variance
    r = simulate(_fixed_design(0.975), "d70", n_sims=2000, seed=5)
    assert abs(r.p_success[0] - expected) < 4 * r.p_success_se[0] + 0.02
    assert r.mean_drr[0] == pytest.approx(0.70, abs=0.02)


def test_power_increases_with_effect() -> None:
    d = _fixed_design(0.975)
    p = [simulate(d, s, n_sims=1000, seed=3).p_success[0] for s in ("null", "d85", "d70")]
    assert p[0] < p[1] < p[2]
    assert p[2] - p[0] > 0.4


def test_chunk_and_worker_invariance() -> None:
    d = load_design("healey")
    a = simulate(d, "slow30", n_sims=500, seed=42, n_chunks=1)
    b = simulate(d, "slow30", n_sims=500, seed=42, n_chunks=2)
    c = simulate(d, "slow30", n_sims=500, seed=42, n_chunks=2, n_workers=2)
    for m in ("p_success", "p_early_futility", "mean_n", "mean_duration_months", "mean_drr"):
        np.testing.assert_array_equal(getattr(a, m), getattr(b, m))
        np.testing.assert_array_equal(getattr(a, m), getattr(c, m))
    other = simulate(d, "slow30", n_sims=500, seed=43)
    assert not np.array_equal(a.mean_drr, other.mean_drr)


def test_healey_null_futility_and_summary() -> None:
    d = load_design("healey")
    r = simulate(d, "null", n_sims=500, seed=1)
    assert isinstance(r, SimulationResult)
    assert r.regimens == ("A", "B", "C")
    # futility stops cut sample size and duration below the maximum (160; entry + 17.5 months)
    assert (r.p_early_futility > 0.15).all()
    assert (r.mean_n < 160).all()
    assert (r.p_success < 0.08).all()
    df = r.summary()
    assert list(df["regimen"]) == ["A", "B", "C"]
    assert {"p_success_se", "mean_drr_se", "true_drr"} <= set(df.columns)
    assert "p_success" in repr(r) and "<table" in r._repr_html_()


def test_control_sharing_and_drift() -> None:
    d = load_design("healey")
    shared = simulate(d, "slow30", n_sims=1000, seed=9)
    own = simulate(
        dataclasses.replace(d, control_sharing=ControlSharing(rule="own")),
        "slow30",
        n_sims=1000,
        seed=9,
    )
    # sharing the concurrent placebo of the other regimens (about 3x the controls) adds power
    assert shared.p_success[0] > own.p_success[0] + 0.05
    pooled = dataclasses.replace(d, control_sharing=ControlSharing(rule="all"))
    assert _control_masks(pooled, enrolment_schedule(pooled)).all()
    sched = enrolment_schedule(d)
    conc = _control_masks(d, sched)
    # HEALEY's regimens enrol side by side, so +/-5.9 months covers every patient
    assert conc.all()
    short = dataclasses.replace(d, control_sharing=ControlSharing(window_months=0.0))
    sm = _control_masks(short, sched)
    a_hi = sched.enrol_month[sched.regimen == 0].max()
    assert (sm[:, 0] == ((sched.regimen == 0) | (sched.enrol_month <= a_hi + 1e-9))).all()
    # a regimen population progressing more slowly than the shared controls inflates type I
    drift = simulate(d, "drift_slower", n_sims=1000, seed=9)
    null = simulate(d, "null", n_sims=1000, seed=9)
    assert drift.p_success[0] > null.p_success[0] + 0.02
    assert drift.mean_drr[0] < null.mean_drr[0] - 0.04


def _check_result_json(data: dict[str, Any], sims: int, seed: int) -> None:
    assert data["sims"] == sims and data["seed"] == seed and data["elapsed_s"] >= 0
    keys = {"name", "p_success", "p_early_futility", "mean_n", "mean_duration_months"}
    keys |= {"mean_drr", "true_drr"}
    for row in data["regimens"]:
        assert keys <= set(row)
        for k in keys - {"name", "true_drr"}:
            assert f"{k}_se" in row


def test_cli_simulate_writes_result_json(tmp_path: Path) -> None:
    out = tmp_path / "RESULT.json"
    res = CliRunner().invoke(
        app,
        [
            "trial",
            "simulate",
            "healey",
            "--scenario",
            "slow25",
            "--sims",
            "300",
            "--seed",
            "7",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    _check_result_json(data, 300, 7)
    assert [r["true_drr"] for r in data["regimens"]] == [0.75, 1.0, 1.0]
    direct = simulate(load_design("healey"), "slow25", n_sims=300, seed=7)
    assert data["regimens"][0]["p_success"] == direct.p_success[0]


def test_cli_validate(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["trial", "validate", "healey"])
    assert ok.exit_code == 0 and "valid" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {"name": "x", "regimens": [{"name": "A", "n": 40}], "success": {"threshold": 2}}
        )
    )
    res = runner.invoke(app, ["trial", "validate", str(bad)])
    assert res.exit_code == 2
    assert "success.threshold" in res.output or "success.threshold" in (res.stderr or "")
    missing = runner.invoke(app, ["trial", "simulate", "nope", "--scenario", "null"])
    assert missing.exit_code == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("scenario", "published", "margin"),
    [("null", 0.024, 0.010), ("slow25", 0.61, 0.04), ("slow30", 0.77, 0.04)],
)
def test_healey_reproduces_published_operating_characteristics(
    scenario: str, published: float, margin: float
) -> None:
    # SAP Appendix I, Table 6.1.1 (reference/platform-trials.md §1); the margin allows for
    # the normal approximation standing in for HEALEY's Bayesian shared-parameter model
    r = simulate(load_design("healey"), scenario, n_sims=4000, seed=2026)
    assert abs(r.p_success[0] - published) < margin + 3 * r.p_success_se[0]
    if scenario == "null":
        # Table 6.1.2: futility stops at interims 1/2/3 had mean estimated DRR 1.35/1.21/1.16
        drr_at_stop = [d for _, d in r.futility_by_look[0]]
        np.testing.assert_allclose(drr_at_stop[:3], [1.35, 1.21, 1.16], atol=0.06)
        assert 0.2 < r.p_early_futility[0] < 0.4  # published 0.28
    else:
        assert r.p_early_futility[0] < 0.03  # published 0.01 / 0.00
        assert r.mean_drr[0] == pytest.approx(r.true_drr[0], abs=0.03)


def test_deaths_enter_the_shared_drr_estimate() -> None:
    """A hazard-only effect moves the DRR estimate by the inverse-variance share of deaths."""
    base = _fixed_design(0.975)
    outcome = dataclasses.replace(base.outcome, mortality_24w=0.30)
    design = dataclasses.replace(base, outcome=outcome)
    hz = dataclasses.replace(base.scenarios["null"], hazard_ratio=(0.5,))
    design = dataclasses.replace(design, scenarios={**base.scenarios, "hz": hz})
    null = simulate(design, "null", n_sims=1500, seed=3)
    only_hazard = simulate(design, "hz", n_sims=1500, seed=3)
    # expected deaths in 24 weeks: 0.3 x 120 (active, halved) and 0.3 x 40 (placebo)
    d_a, d_p = 0.5 * 0.3 * 120 * 0.85, 0.3 * 40
    prec_h = 1.0 / (1.0 / d_a + 1.0 / d_p)
    t = np.array(VISITS) * 12 / 52
    sxx = float(((t - t.mean()) ** 2).sum())
    prec_s = 1.0 / ((SD_B**2 + SD_E**2 / sxx) / SLOPE**2 * (1 / 120 + 1 / 40))
    expected = math.exp(math.log(0.5) * prec_h / (prec_h + prec_s))
    assert null.mean_drr[0] == pytest.approx(1.0, abs=0.04)
    assert only_hazard.mean_drr[0] == pytest.approx(expected, abs=0.05)
    assert only_hazard.p_success[0] > 2 * null.p_success[0]


def test_another_regimens_effect_does_not_change_a_null_regimens_type_i_error() -> None:
    """MND-SMART, multiplicative effect: trazodone's DRR 0.65 shrinks its slope spread.

    Pooling the between-patient slope variance over every arm made memantine's (null) SE
    too small once trazodone worked (type I 0.034 vs 0.021 under the global null); each
    comparison now pools only its own active arm and the placebo patients.
    """
    d = load_design("mnd-smart")
    assert d.outcome.treatment_effect == "multiplicative"
    null = simulate(d, "null", n_sims=4000, seed=11)
    alt = simulate(d, "alternative", n_sims=4000, seed=11)
    i = [r.name for r in d.regimens].index("memantine")
    se = float(np.hypot(null.p_success_se[i], alt.p_success_se[i]))
    assert abs(alt.p_success[i] - null.p_success[i]) < 2.5 * se + 0.002


def test_additive_effect_keeps_the_slope_spread_and_costs_power() -> None:
    """Same mean slope ratio, but the additive (SAP) draw keeps the active slope SD: less power."""
    d = load_design("healey")
    assert d.outcome.treatment_effect == "additive"
    mult = dataclasses.replace(
        d, outcome=dataclasses.replace(d.outcome, treatment_effect="multiplicative")
    )
    a = simulate(d, "slow30", n_sims=2000, seed=3)
    m = simulate(mult, "slow30", n_sims=2000, seed=3)
    assert a.mean_drr[0] == pytest.approx(0.70, abs=0.03)
    assert m.mean_drr[0] == pytest.approx(0.70, abs=0.03)
    assert m.p_success[0] - a.p_success[0] > 0.03
    with pytest.raises(TrialDesignError, match=r"outcome\.treatment_effect"):
        dataclasses.replace(d.outcome, treatment_effect="sideways")
