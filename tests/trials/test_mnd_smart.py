"""MND-SMART example: frequentist MAMS rules, explicit stage looks, type I error, CLI."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.trials import PlatformDesign, TrialDesignError, example_names, load_design, simulate
from alsnet.trials.design import WEEKS_TO_MONTHS
from alsnet.trials.simulate import enrolment_schedule

ALPHA = 0.025


def _raw() -> dict[str, Any]:
    path = Path(__file__).parents[2] / "src/alsnet/trials/examples/mnd-smart.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def test_example_as_published() -> None:
    assert {"healey", "mnd-smart"} <= set(example_names())
    d = load_design("mnd-smart")
    assert [r.name for r in d.regimens] == ["trazodone", "memantine"]
    # 2:1 within each regimen, placebo shared by both: 1:1:1 overall, about 177 per arm
    assert d.allocation == (2, 1) and d.control_sharing.rule == "all"
    per_arm = sum(r.n for r in d.regimens) / 3
    assert abs(per_arm - 177) < 1
    assert d.frequentist is not None
    assert d.frequentist.alpha == ALPHA and d.frequentist.spending == "none"
    assert d.frequentist.futility_p == (0.5, 0.2)
    # stage 2: 100/arm (150 regimen patients) at 12 months; stage 3: 150/arm at 18 months
    assert d.interims.looks == ((75, 26.0), (150, 52.0))
    assert d.interims.final == (225, 78.0)
    # stage 4: survival tested after a positive ALSFRS-R result, at 113 placebo deaths
    assert d.survival_stage is not None and d.survival_stage.placebo_deaths == 113
    assert d.survival_stage.test == "logrank"
    assert {"null", "alternative"} <= set(d.scenarios)
    assert load_design("healey").frequentist is None


def test_stage_look_times_by_hand() -> None:
    d = load_design("mnd-smart")
    sched = enrolment_schedule(d)
    # the two regimens alternate, one patient every 1/15 month: regimen 0's n-th patient
    # (1-based) arrives at 2 (n - 1) / 15 months, regimen 1's at (2 (n - 1) + 1) / 15
    for r in range(2):
        expected = [(2 * (n - 1) + r) / 15 + w * WEEKS_TO_MONTHS for n, w in ((75, 26), (150, 52))]
        expected.append((2 * 224 + r) / 15 + 78 * WEEKS_TO_MONTHS)
        np.testing.assert_allclose(sched.looks[r], expected, atol=1e-9)


def _null_rate(d: PlatformDesign, n_sims: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    res = simulate(d, "null", n_sims=n_sims, seed=seed)
    return res.p_success, res.p_success_se


def test_type1_without_futility_equals_alpha() -> None:
    """No futility, efficacy only at the final: size is alpha exactly (asymptotically)."""
    d = load_design("mnd-smart")
    assert d.frequentist is not None
    d = dataclasses.replace(d, frequentist=dataclasses.replace(d.frequentist, futility_p=()))
    p, se = _null_rate(d, 4000, seed=11)
    assert np.all(np.abs(p - ALPHA) < 3.5 * np.sqrt(ALPHA * (1 - ALPHA) / 4000)), (p, se)


def test_type1_with_obf_spending_equals_alpha() -> None:
    """Early efficacy with O'Brien-Fleming bounds from boundaries.gs_bounds keeps alpha."""
    raw = _raw()
    raw["frequentist"] = {"alpha": ALPHA, "spending": "obf"}
    d = PlatformDesign.from_dict(raw)
    p, _ = _null_rate(d, 4000, seed=12)
    assert np.all(np.abs(p - ALPHA) < 3.5 * np.sqrt(ALPHA * (1 - ALPHA) / 4000)), p


def test_null_design_controls_type1_and_stage1_futility_is_half() -> None:
    d = load_design("mnd-smart")
    res = simulate(d, "null", n_sims=2000, seed=1)
    # binding futility can only remove rejections: per-arm size <= alpha (within MC error)
    assert np.all(res.p_success <= ALPHA + 2 * np.sqrt(ALPHA * (1 - ALPHA) / 2000))
    # stage 1 stops when the one-sided p > 0.5, i.e. z < 0: probability 1/2 under the null
    for r in range(2):
        p1 = res.futility_by_look[r][0][0]
        assert abs(p1 - 0.5) < 3.5 * np.sqrt(0.25 / 2000), p1
    # stopped arms enrol fewer patients than the 266 of a regimen
    assert np.all(res.mean_n < 266)


def test_alternative_power() -> None:
    res = simulate(load_design("mnd-smart"), "alternative", n_sims=1000, seed=2)
    assert res.true_drr == (0.65, 1.0)
    assert res.p_success[0] > 0.9
    assert res.p_success[1] < 0.05
    assert abs(res.mean_drr[0] - 0.65) < 0.03


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r["frequentist"].update(futility_p=[1.5]), r"frequentist\.futility_p\[0\]"),
        (lambda r: r["frequentist"].update(alpha=0.7), r"frequentist\.alpha"),
        (lambda r: r["frequentist"].update(spending="nope"), r"frequentist\.spending"),
        (lambda r: r["frequentist"].update(extra=1), r"frequentist\.extra: unknown field"),
        (
            lambda r: r["interims"]["looks"].append({"n": 250, "weeks": 78}),
            r"interims\.looks\[2\]: interim after the final",
        ),
        (lambda r: r["interims"].update(final={"n": 300, "weeks": 78}), r"interims\.final"),
        (lambda r: r["interims"].update(looks=[[0, 26]]), r"interims\.looks\[0\]\.n"),
        (lambda r: r["interims"].update(looks=[[75]]), r"interims\.looks\[0\]"),
    ],
)
def test_bad_design_names_field(edit: Any, message: str) -> None:
    raw = copy.deepcopy(_raw())
    edit(raw)
    with pytest.raises(TrialDesignError, match=message):
        PlatformDesign.from_dict(raw)


def test_cli_validate_and_simulate(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["trial", "validate", "mnd-smart"])
    assert res.exit_code == 0, res.output
    assert "valid" in res.output
    out = tmp_path / "r.json"
    args = ["trial", "simulate", "mnd-smart", "--scenario", "null", "--sims", "2000"]
    res = runner.invoke(app, [*args, "--seed", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["sims"] == 2000 and data["seed"] == 1
    names = [r["name"] for r in data["regimens"]]
    assert names == ["trazodone", "memantine"]
    for row in data["regimens"]:
        assert row["true_drr"] == 1.0
        assert row["p_success"] <= ALPHA + 2 * row["p_success_se"] + 1e-12
        assert row["p_early_futility_se"] > 0
        # stage 4 needs an ALSFRS-R success first
        assert row["p_success_survival"] <= row["p_success"]
