"""Platform-trial design files: parsing, validation messages, shipped examples, schedule."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from alsnet.trials import PlatformDesign, TrialDesignError, example_names, load_design
from alsnet.trials.design import WEEKS_TO_MONTHS
from alsnet.trials.simulate import enrolment_schedule

BASE: dict[str, Any] = {
    "name": "t",
    "regimens": [{"name": "A", "entry_month": 0, "n": 160}, {"name": "B", "n": 80}],
    "allocation": {"active": 3, "placebo": 1},
    "interims": {"first_n": 40, "every_weeks": 12},
    "success": {"threshold": 0.979},
    "futility": {"threshold": 0.05, "drr": 0.9},
    "scenarios": {"null": {}, "eff": {"drr": {"A": 0.7}}},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    d = copy.deepcopy(BASE)
    keys = path.split(".")
    node = d
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = value
    return d


def test_healey_example_as_published() -> None:
    assert "healey" in example_names()
    d = load_design("healey")
    assert [r.n for r in d.regimens] == [160, 160, 160]
    assert [r.entry_month for r in d.regimens] == [0, 1, 2]
    assert d.allocation == (3, 1)
    assert d.active_fraction == 0.75
    assert d.follow_up_weeks == 24
    assert d.visit_weeks == (0, 4, 8, 12, 16, 20, 24)
    assert d.interims.first_n == 40 and d.interims.every_weeks == 12
    assert d.success.threshold == 0.979 and d.success.drr == 1.0 and not d.success.early
    assert d.futility is not None
    assert (d.futility.threshold, d.futility.drr) == (0.05, 0.9)
    assert d.control_sharing.rule == "concurrent"
    assert (d.accrual_per_month, d.dropout_per_month) == (40, 0.02)
    assert (d.outcome.slope_mean, d.outcome.slope_sd, d.outcome.residual_sd) == (
        -1.03,
        0.76,
        1.77,
    )
    assert {"null", "slow25", "slow30", "slow35", "drift_slower", "harm"} <= set(d.scenarios)
    assert d.scenario("slow30").drr == (0.7, 1.0, 1.0)
    assert d.scenario("slow30").hazard_ratio == (0.7, 1.0, 1.0)  # defaults to the DRR
    assert d.scenario("drift_slower").population_slope[0] < 1.0


def test_load_from_file_and_defaults(tmp_path: Path) -> None:
    f = tmp_path / "d.yaml"
    f.write_text(yaml.safe_dump(BASE))
    d = load_design(f)
    assert d.regimens[1].entry_month == 0.0
    assert d.scenario("eff").drr == (0.7, 1.0)
    assert d.follow_up_months == pytest.approx(24 * 12 / 52)
    with pytest.raises(TrialDesignError, match="scenario: 'x' not in design"):
        d.scenario("x")
    with pytest.raises(FileNotFoundError, match="not a shipped example"):
        load_design(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("allocation", {"active": 0, "placebo": 1}, r"allocation\.active: must be a positive"),
        ("allocation", {"active": 3}, r"allocation\.placebo: missing"),
        ("interims", {"first_n": 80}, r"interims\.first_n: interim after the final"),
        ("interims", {"first_n": 10, "every_weeks": 0}, r"interims\.every_weeks: must be > 0"),
        ("success", {"threshold": 1.5}, r"success\.threshold: must be in \(0, 1\), got 1\.5"),
        ("futility", {"threshold": 0.0}, r"futility\.threshold: must be in \(0, 1\)"),
        ("control_sharing", {"rule": "pooled"}, r"control_sharing\.rule: must be one of"),
        ("accrual_per_month", -1, r"accrual_per_month: must be > 0"),
        ("visit_weeks", [0, 8, 4], r"visit_weeks: must start at 0 and strictly increase"),
        ("visit_weeks", [0, 12, 30], r"visit_weeks: last visit 30 is after follow_up_weeks"),
        ("scenarios", {"s": {"drr": [1.0]}}, r"scenarios\.s\.drr: needs one value per regimen"),
        ("scenarios", {"s": {"drr": {"Z": 0.5}}}, r"scenarios\.s\.drr\.Z: not a regimen"),
        ("scenarios", {"s": {"drr": {"A": -1}}}, r"scenarios\.s\.drr: values must be > 0"),
        ("regimens", [], r"regimens: must be a non-empty list"),
        ("regimens", [{"name": "A", "n": 9}, {"name": "A", "n": 9}], r"regimens: names"),
        ("regimens", [{"name": "A", "n": "x"}], r"regimens\[0\]\.n: must be a positive"),
        ("bogus", 1, r"bogus: unknown field"),
    ],
)
def test_validation_errors_name_field_and_reason(path: str, value: Any, message: str) -> None:
    with pytest.raises(TrialDesignError, match=message):
        PlatformDesign.from_dict(_with(path, value))


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=-2, max_value=3, allow_nan=False))
def test_threshold_rule(x: float) -> None:
    d = _with("success", {"threshold": x})
    if 0 < x < 1:
        assert PlatformDesign.from_dict(d).success.threshold == x
    else:
        with pytest.raises(TrialDesignError, match=r"success\.threshold"):
            PlatformDesign.from_dict(d)


def test_enrolment_schedule_healey() -> None:
    d = load_design("healey")
    s = enrolment_schedule(d)
    assert s.regimen.size == 480
    assert np.bincount(s.regimen).tolist() == [160, 160, 160]
    # platform accrual: one patient every 1/40 month, no gaps once regimen A is open
    np.testing.assert_allclose(np.diff(s.enrol_month), 1 / 40)
    for r, reg in enumerate(d.regimens):
        e = s.enrol_month[s.regimen == r]
        assert e.min() >= reg.entry_month
        assert sorted(s.order[s.regimen == r].tolist()) == list(range(160))
        lk = s.looks[r]
        fu = 24 * WEEKS_TO_MONTHS
        assert lk[-1] == pytest.approx(e.max() + fu)  # final: everyone could finish
        assert lk[0] == pytest.approx(np.sort(e)[39] + fu)  # first interim: 40 completers
        np.testing.assert_allclose(np.diff(lk[:-1]), 12 * WEEKS_TO_MONTHS)
        assert lk[-1] - lk[-2] >= 6 * WEEKS_TO_MONTHS  # no interim just before the final
        assert np.all(np.diff(lk) > 0)
    # equal randomisation across open regimens: A fills first (HEALEY durations ~15 months)
    assert [len(lk) for lk in s.looks] == [4, 4, 4]
    assert s.looks[0][-1] == pytest.approx(2 + 100 / (40 / 3) + 24 * WEEKS_TO_MONTHS, abs=0.05)
    # during the first month only A is open: 40 patients
    assert (s.regimen[s.enrol_month < 1 - 1e-9] == 0).all()
    assert 2.0 <= s.enrol_month[s.regimen == 2].min() <= 2.0 + 3 / 40
