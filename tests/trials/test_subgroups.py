"""Subgroup-restricted regimens: closed-form allocation, eligible shared controls, size, errors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from alsnet.trials import PlatformDesign, TrialDesignError, simulate
from alsnet.trials.simulate import _slot_schedule, _trial_controls, random_enrolment

P_SOD1 = 0.3
ENCALS = (-4.0, 1.5)
WINDOW = (-6.0, -2.0)


def _spec(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "name": "sub",
        "population": {
            "sod1": P_SOD1,
            "encals": {"mean": ENCALS[0], "sd": ENCALS[1]},
            "onset_region": {"bulbar": 0.3, "limb": 0.7},
        },
        "regimens": [
            {"name": "A", "n": 400},
            {"name": "B", "n": 400, "eligibility": {"sod1": 1}},
            {"name": "C", "n": 400, "eligibility": {"encals": list(WINDOW)}},
        ],
        "allocation": {"active": 3, "placebo": 1},
        "interims": None,
        "futility": None,
        "scenarios": {"null": {}},
    }
    d.update(over)
    return d


def test_allocation_matches_closed_form() -> None:
    d = PlatformDesign.from_dict(_spec())
    q = stats.norm.cdf(WINDOW[1], *ENCALS) - stats.norm.cdf(WINDOW[0], *ENCALS)
    assert d.eligible_fraction(2) == pytest.approx(q, rel=1e-12)
    assert d.eligible_fraction(1) == P_SOD1
    # while all three are open: a patient picks uniformly among the regimens they may enter
    p_b = P_SOD1 * (q / 3 + (1 - q) / 2)
    p_c = q * (P_SOD1 / 3 + (1 - P_SOD1) / 2)
    p_a = 1 - p_b - p_c
    enrol, elig = random_enrolment(d, 200, np.random.default_rng(4))
    slots = _slot_schedule(d)
    horizon = 300 / d.accrual_per_month  # 300 arrivals: nobody is full yet (n = 400 each)
    arrivals = 300 * 200
    for r, p in enumerate((p_a, p_b, p_c)):
        k = int((enrol[:, slots.regimen == r] < horizon - 1e-9).sum())
        assert abs(k / arrivals - p) < 4 * math.sqrt(p * (1 - p) / arrivals)
    # every patient of B is a carrier, every patient of C in the risk window
    assert elig[:, slots.regimen == 1, 1].all()
    assert elig[:, slots.regimen == 2, 2].all()
    assert not elig[:, slots.regimen == 0, 1].all()
    # enrolment times are increasing within a regimen and on the arrival grid
    e_a = enrol[:, slots.regimen == 0]
    assert (np.diff(e_a, axis=1) > 0).all()
    grid = e_a * d.accrual_per_month
    assert np.allclose(grid, np.round(grid))


def test_shared_controls_only_eligible_and_concurrent() -> None:
    d = PlatformDesign.from_dict(_spec())
    enrol, elig = random_enrolment(d, 20, np.random.default_rng(1))
    slots = _slot_schedule(d)
    ctrl = _trial_controls(d, enrol, elig, slots.regimen)
    own = slots.regimen[None, :, None] == np.arange(3)[None, None, :]
    assert (ctrl[own.repeat(20, axis=0)]).all()
    shared = ctrl & ~own
    assert not (shared & ~elig).any()  # a shared control is eligible for that regimen
    # A's population includes non-carriers: not all of them are B's controls
    assert not ctrl[:, slots.regimen == 0, 1].all()
    own_rule = PlatformDesign.from_dict(_spec(control_sharing={"rule": "own"}))
    assert (_trial_controls(own_rule, enrol, elig, slots.regimen) == own).all()


def test_subgroup_regimen_type_one_error_nominal() -> None:
    spec = _spec(
        regimens=[
            {"name": "A", "n": 160},
            {"name": "B", "n": 80, "eligibility": {"sod1": 1}},
        ],
        dropout_per_month=0.0,
        outcome={"mortality_24w": 0.0},
        success={"threshold": 0.975},
    )
    res = simulate(PlatformDesign.from_dict(spec), "null", n_sims=2000, seed=7, n_jobs=1)
    se = math.sqrt(0.025 * 0.975 / 2000)
    for r in range(2):
        assert abs(res.p_success[r] - 0.025) < 4 * se + 0.006
    assert res.mean_n[1] == 80
    # B's controls: its own 20 placebo plus carriers among A's concurrent placebo (40 x 0.3)
    assert 20 < res.mean_controls_n[1] < 20 + 40 * P_SOD1 + 1e-9
    assert res.mean_controls_n[0] > 40


@pytest.mark.parametrize(
    ("population", "eligibility", "message"),
    [
        ({"sod1": 0.0}, {"sod1": 1}, "regimens[1].eligibility.sod1: nobody can enter"),
        ({"sod1": 1.0}, {"sod1": 0}, "regimens[1].eligibility.sod1: nobody can enter"),
        ({"encals": {"mean": -4, "sd": 1}}, {"encals": [-2, -6]}, "empty window"),
        ({"encals": {"mean": -4, "sd": 0.1}}, {"encals": [5, 6]}, "nobody can enter"),
        ({"onset": {"bulbar": 0.0, "limb": 1.0}}, {"onset": "bulbar"}, "nobody can enter"),
        ({"onset": {"bulbar": 0.3, "limb": 0.7}}, {"onset": ["arm"]}, "unknown or no categories"),
        ({"sod1": 0.02}, {"fus": 1}, "regimens[1].eligibility.fus: not a trait"),
        ({"sod1": 0.02}, {"sod1": 2}, "a binary trait needs 0 or 1"),
        ({"sod1": 1.5}, {"sod1": 1}, "population.sod1: prevalence must be in [0, 1]"),
        ({"onset": {"bulbar": 0.3, "limb": 0.3}}, {}, "population.onset: category probab"),
    ],
)
def test_bad_subgroup_names_field_and_reason(
    population: dict[str, Any], eligibility: dict[str, Any], message: str
) -> None:
    spec = _spec(
        population=population,
        regimens=[{"name": "A", "n": 40}, {"name": "B", "n": 40, "eligibility": eligibility}],
    )
    with pytest.raises(TrialDesignError) as exc:
        PlatformDesign.from_dict(spec)
    assert message in str(exc.value)


def test_shipped_subgroup_example() -> None:
    from alsnet.trials import load_design

    d = load_design("healey-subgroups")
    assert isinstance(d, PlatformDesign) and d.has_subgroups
    assert d.eligible_fraction(3) == 0.02
    assert d.eligible_fraction(4) == pytest.approx(stats.norm.cdf(1.25) - stats.norm.cdf(-1.25))
    assert not load_design("healey").has_subgroups


def test_representative_schedule_of_a_subgroup_design() -> None:
    from alsnet.trials import load_design
    from alsnet.trials.simulate import enrolment_schedule

    d = load_design("healey-subgroups")
    assert isinstance(d, PlatformDesign)
    s = enrolment_schedule(d)
    assert (np.diff(s.enrol_month) >= 0).all()
    assert np.bincount(s.regimen).tolist() == [r.n for r in d.regimens]
    # 24 SOD1 carriers at 2% of 40/month, shared with other regimens early: > 2 years
    assert s.looks[3][-1] > 30.0 > s.looks[0][-1]
