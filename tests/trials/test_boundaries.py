"""Group-sequential boundaries against published values, closed forms and an MVN oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from alsnet.trials import (
    GroupSequentialBounds,
    TrialDesignError,
    crossing_probabilities,
    gs_bounds,
    spending_function,
)

# gsDesign(k=5, test.type=1, alpha=0.025, beta=0.1, sfu=sfHSD, sfupar=-4)
# (reference/platform-trials.md §8.1)
HSD4_Z = [3.25, 2.99, 2.69, 2.37, 2.03]
HSD4_SPENT = [0.0006, 0.0013, 0.0028, 0.0063, 0.0140]
HSD4_H1 = [0.0370, 0.1512, 0.2647, 0.2699, 0.1771]


def test_hsd_minus4_reproduces_gsdesign() -> None:
    b = gs_bounds(5, alpha=0.025, spending="hsd:-4")
    np.testing.assert_allclose(b.z, HSD4_Z, atol=0.005)
    np.testing.assert_allclose(b.alpha_spent, HSD4_SPENT, atol=0.00005)
    d = b.drift_for_power(0.9)
    np.testing.assert_allclose(b.crossing_probabilities(d), HSD4_H1, atol=0.00005)
    infl = b.inflation_factor(0.9)
    assert round(infl, 3) == 1.023
    assert round(infl * b.expected_information(0.0), 4) == 1.0197
    assert round(infl * b.expected_information(d), 4) == 0.7366


def test_classical_constants_jennison_turnbull() -> None:
    # K = 5 equally spaced, two-sided 0.05 ~ one-sided 0.025 (reference §8.2)
    assert [round(v, 3) for v in gs_bounds(5, spending="pocock").z] == [2.413] * 5
    assert [round(v, 3) for v in gs_bounds(5, spending="obf").z] == [
        4.562,
        3.226,
        2.634,
        2.281,
        2.040,
    ]


def test_ld_obf_gsdesign_values() -> None:
    # gsDesign(k=5, test.type=1, sfu=sfLDOF)$upper$bound (well-known values)
    b = gs_bounds(5, spending="ld-obf")
    np.testing.assert_allclose(b.z, [4.877, 3.357, 2.680, 2.290, 2.031], atol=0.0006)


def test_single_look_is_fixed_design() -> None:
    for sp in ("obf", "pocock", "ld-obf", "ld-pocock", "hsd:-4", "hsd:2"):
        b = gs_bounds(1, alpha=0.025, spending=sp)
        assert b.z[0] == pytest.approx(stats.norm.isf(0.025), abs=1e-8)
        assert b.alpha_spent[0] == pytest.approx(0.025, abs=1e-10)


def test_two_looks_against_bivariate_normal_closed_form() -> None:
    # P(cross at look 2) = P(Z1 < b1, Z2 >= b2) with corr sqrt(t1/t2)
    t = [0.3, 1.0]
    b = gs_bounds(2, alpha=0.05, spending="ld-pocock", timing=t)
    r = math.sqrt(0.3)
    cov = [[1.0, r], [r, 1.0]]
    p_none = stats.multivariate_normal(mean=[0, 0], cov=cov).cdf(list(b.z))
    p1 = stats.norm.sf(b.z[0])
    assert b.alpha_spent[0] == pytest.approx(p1, abs=1e-10)
    assert b.alpha_spent[1] == pytest.approx(1 - p_none - p1, abs=2e-6)


def _mvn_crossing(z: list[float], t: list[float], drift: float) -> np.ndarray:
    """Oracle: first-crossing probabilities from multivariate normal CDFs (Genz)."""
    tt = np.asarray(t)
    cov = np.sqrt(np.minimum.outer(tt, tt) / np.maximum.outer(tt, tt))
    mean = drift * np.sqrt(tt)
    surv = [1.0]
    for k in range(1, len(t) + 1):
        p = stats.multivariate_normal.cdf(
            np.asarray(z[:k]), mean=mean[:k], cov=cov[:k, :k], abseps=1e-7, releps=1e-7, rng=1
        )
        surv.append(float(p))
    return -np.diff(surv)


@settings(max_examples=15, deadline=None)
@given(
    gaps=st.lists(st.floats(0.1, 1.0), min_size=2, max_size=3),
    spending=st.sampled_from(["obf", "pocock", "ld-obf", "ld-pocock", "hsd:-4", "hsd:1"]),
    alpha=st.floats(0.005, 0.1),
    drift=st.floats(0.0, 4.0),
)
def test_crossing_matches_mvn_oracle(
    gaps: list[float], spending: str, alpha: float, drift: float
) -> None:
    t = list(np.cumsum(gaps) / np.sum(gaps))
    b = gs_bounds(len(t), alpha=alpha, spending=spending, timing=t)
    ours = b.crossing_probabilities(drift)
    np.testing.assert_allclose(ours, _mvn_crossing(list(b.z), t, drift), atol=2e-5)


@settings(max_examples=25, deadline=None)
@given(
    gaps=st.lists(st.floats(0.05, 1.0), min_size=1, max_size=8),
    spending=st.sampled_from(["ld-obf", "ld-pocock", "hsd:-4", "hsd:-1", "hsd:0", "hsd:3"]),
    alpha=st.floats(0.001, 0.2),
)
def test_cumulative_alpha_equals_spending_function(
    gaps: list[float], spending: str, alpha: float
) -> None:
    t = np.cumsum(gaps) / np.sum(gaps)
    b = gs_bounds(len(t), alpha=alpha, spending=spending, timing=list(t))
    np.testing.assert_allclose(
        b.cumulative_alpha, spending_function(spending, alpha)(t), rtol=1e-6, atol=1e-12
    )
    # a look can never spend more than its nominal level
    assert np.all(np.asarray(b.alpha_spent) <= np.asarray(b.nominal_p) * (1 + 1e-9))
    assert b.z[0] == pytest.approx(stats.norm.isf(b.alpha_spent[0]), rel=1e-8)


@settings(max_examples=10, deadline=None)
@given(k=st.integers(2, 8), alpha=st.floats(0.005, 0.1))
def test_shapes_and_monotonicity_equal_spacing(k: int, alpha: float) -> None:
    obf = gs_bounds(k, alpha=alpha, spending="obf")
    poc = gs_bounds(k, alpha=alpha, spending="pocock")
    ld = gs_bounds(k, alpha=alpha, spending="ld-obf")
    hsd = gs_bounds(k, alpha=alpha, spending="hsd:-4")
    assert sum(obf.alpha_spent) == pytest.approx(alpha, rel=1e-7)
    assert sum(poc.alpha_spent) == pytest.approx(alpha, rel=1e-7)
    # classical shapes: OBF z_k sqrt(t_k) constant; Pocock constant
    c = np.asarray(obf.z) * np.sqrt(obf.timing)
    np.testing.assert_allclose(c, c[0], rtol=1e-12)
    np.testing.assert_allclose(poc.z, poc.z[0], rtol=1e-12)
    for bb in (obf, ld, hsd):
        assert np.all(np.diff(bb.z) < 0)
    # final bounds: Pocock > OBF > fixed-sample z; Pocock spends the most early
    z_fix = stats.norm.isf(alpha)
    assert poc.z[-1] > obf.z[-1] > z_fix
    assert poc.alpha_spent[0] > obf.alpha_spent[0]


def test_timing_without_final_look_and_errors() -> None:
    a = gs_bounds(3, spending="hsd:-2", timing=[0.25, 0.6])
    b = gs_bounds(spending="hsd:-2", timing=[0.25, 0.6, 1.0])
    assert a == b
    assert a.timing == (0.25, 0.6, 1.0)
    with pytest.raises(TrialDesignError, match="spending"):
        gs_bounds(3, spending="fancy")
    with pytest.raises(TrialDesignError, match="alpha"):
        gs_bounds(3, alpha=0.7)
    with pytest.raises(TrialDesignError, match="increasing"):
        gs_bounds(3, timing=[0.5, 0.4, 1.0])
    with pytest.raises(TrialDesignError, match="final look"):
        gs_bounds(3, timing=[0.2, 0.4, 0.8])
    with pytest.raises(TrialDesignError, match="3 looks"):
        gs_bounds(3, timing=[0.5, 1.0, 1.0, 1.0])
    with pytest.raises(TrialDesignError, match="gamma"):
        gs_bounds(3, spending="hsd:x")
    with pytest.raises(ValueError):
        spending_function("obf", 0.025)


def test_result_object() -> None:
    b = gs_bounds(3, spending="ld-obf")
    assert isinstance(b, GroupSequentialBounds)
    s = b.summary()
    assert list(s.columns) == [
        "look",
        "timing",
        "z",
        "nominal_p",
        "alpha_spent",
        "cumulative_alpha",
    ]
    assert s["cumulative_alpha"].iloc[-1] == pytest.approx(0.025)
    assert repr(b).startswith("GroupSequentialBounds(ld-obf, K=3")
    d = b.to_dict()
    assert d["z"] == list(b.z) and d["alpha_spent"] == list(b.alpha_spent)
    with pytest.raises(AttributeError):
        b.alpha = 0.05  # type: ignore[misc]
    assert "<table" in b._repr_html_()


def test_closely_spaced_and_extreme_looks() -> None:
    # very early OBF look: almost nothing spent, finite huge bound
    b = gs_bounds(3, spending="ld-obf", timing=[0.001, 0.5, 1.0])
    assert np.isfinite(b.z).all() and b.z[0] > 30
    assert sum(b.alpha_spent) == pytest.approx(0.025, rel=1e-6)
    c = gs_bounds(3, spending="ld-pocock", timing=[0.5, 0.505, 1.0])
    assert sum(c.alpha_spent) == pytest.approx(0.025, rel=1e-6)
    p = crossing_probabilities([np.inf, 1.959964], [0.5, 1.0])
    assert p[0] == 0.0 and p[1] == pytest.approx(0.025, abs=1e-6)
