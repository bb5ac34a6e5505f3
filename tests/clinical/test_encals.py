"""ENCALS model: published coefficients, hand-computed S(t), medians, input domain."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alsnet.clinical import (
    ENCALS_COEFFICIENTS,
    ENCALS_KNOTS,
    ENCALS_SPLINE_GAMMA,
    ENCALS_TABLE_COLUMNS,
    TRICALS_ELIGIBLE_RANGE,
    encals_lp,
    encals_median,
    encals_spline,
    encals_survival,
    encals_table,
)
from alsnet.exceptions import DataValidationError


def hand_s(x: float, *, cube_kmax: bool = True) -> float:
    """s(x) written out term by term from Westeneng 2018 / the reference."""
    kmin, k1, k2, kmax = 0.081, 3.108, 3.638, 5.917
    lam1 = (kmax - k1) / (kmax - kmin)
    lam2 = (kmax - k2) / (kmax - kmin)

    def p3(u: float) -> float:
        return max(u, 0.0) ** 3

    def tail(u: float) -> float:
        return p3(u) if cube_kmax else max(u, 0.0)

    v1 = p3(x - k1) - lam1 * p3(x - kmin) - (1 - lam1) * tail(x - kmax)
    v2 = p3(x - k2) - lam2 * p3(x - kmin) - (1 - lam2) * tail(x - kmax)
    return -6.409 + 2.643 * x - 0.546 * v1 + 0.585 * v2


def hand_survival(lp: float, t: float) -> float:
    return 1.0 / (1.0 + math.exp(hand_s(math.log(t)) + lp))


def test_coefficients_as_published() -> None:
    assert dict(ENCALS_COEFFICIENTS["paper"]) == {
        "delta_fs": -1.83666,
        "diagnostic_delay_months": -2.37341,
        "age_onset": -0.26697,
        "fvc_pct": 0.47685,
        "bulbar_onset": 0.26887,
        "definite_el_escorial": 0.23278,
        "ftd": 0.38831,
        "c9orf72": 0.25608,
    }
    assert dict(ENCALS_COEFFICIENTS["tricals"]) == {
        "delta_fs": -1.839,
        "diagnostic_delay_months": -2.376,
        "age_onset": -0.264,
        "fvc_pct": 0.474,
        "bulbar_onset": 0.271,
        "definite_el_escorial": 0.238,
        "ftd": 0.415,
    }
    assert ENCALS_SPLINE_GAMMA == (-6.409, 2.643, -0.546, 0.585)
    assert ENCALS_KNOTS == (0.081, 3.108, 3.638, 5.917)
    kmin, k1, k2, kmax = ENCALS_KNOTS
    # the λ values in the public code
    assert round((kmax - k1) / (kmax - kmin), 4) == 0.4813
    assert round((kmax - k2) / (kmax - kmin), 4) == 0.3905
    assert TRICALS_ELIGIBLE_RANGE == (-6.0, -2.0)


@pytest.mark.parametrize("lp", [-7.0, -4.68, -3.0, -1.5])
@pytest.mark.parametrize("t", [0.5, 1.0, 6.0, 12.0, 25.0, 38.0, 60.0, 120.0, 500.0])
def test_survival_matches_hand_calculation(lp: float, t: float) -> None:
    assert encals_survival(lp, t) == pytest.approx(hand_survival(lp, t), rel=1e-12, abs=1e-15)


def test_survival_pinned_value() -> None:
    # LP = -4, t = 24 months: x = ln 24 = 3.1780538
    # v1 = 0.0700538^3 - 0.4813228 * 3.0970538^3 = -14.2978...
    # v2 = 0 - 0.3905072 * 3.0970538^3 = -11.6005...
    # s = -6.409 + 8.3996 + 7.8066 - 6.7863 = 3.0109 -> S = 1 / (1 + e^(3.0109 - 4)) = 0.7289
    assert hand_s(math.log(24)) == pytest.approx(3.0109, abs=1e-3)
    assert encals_survival(-4.0, 24.0) == pytest.approx(0.7289, abs=1e-4)


def test_survival_broadcasts_and_is_monotone() -> None:
    lp = np.array([-6.0, -4.5, -3.0])
    t = np.linspace(0.0, 600.0, 2001)
    s = encals_survival(lp[:, None], t[None, :])
    assert s.shape == (3, 2001)
    assert (s[:, 0] == 1.0).all()
    assert (np.diff(s, axis=1) < 0).all()  # decreasing in time
    assert (np.diff(s[:, 1:], axis=0) < 0).all()  # worse with higher LP
    assert np.isnan(encals_survival(np.nan, 12.0))
    with pytest.raises(ValueError, match=">= 0"):
        encals_survival(-4.0, -1.0)


def test_spline_is_strictly_increasing() -> None:
    x = np.linspace(-3, 9, 20001)
    assert (np.diff(encals_spline(x)) > 0).all()


def test_kmax_cube_only_matters_beyond_kmax() -> None:
    kmax = ENCALS_KNOTS[3]
    inside = np.linspace(-1.0, kmax, 50)
    buggy = np.array([hand_s(x, cube_kmax=False) for x in inside])
    np.testing.assert_allclose(encals_spline(inside), buggy, rtol=0, atol=1e-12)
    beyond = np.array([kmax + 0.2, kmax + 0.5, kmax + 2.0])  # (u^3 = u at u = 1)
    buggy = np.array([hand_s(x, cube_kmax=False) for x in beyond])
    assert (np.abs(encals_spline(beyond) - buggy) > 1e-3).all()
    assert math.exp(kmax) == pytest.approx(371.0, abs=0.5)
    # restricted cubic spline: exactly linear beyond k_max (only with the cube)
    tail = encals_spline(np.array([6.0, 7.0, 8.0]))
    assert tail[2] - tail[1] == pytest.approx(tail[1] - tail[0], rel=1e-9)


@given(st.floats(-12.0, 6.0))
def test_survival_at_median_is_one_half(lp: float) -> None:
    m = encals_median(np.array([lp]))
    assert m[0] > 0
    assert encals_survival(lp, m)[0] == pytest.approx(0.5, abs=1e-9)


def test_median_vectorised_and_ordered() -> None:
    lp = np.array([-8.0, -6.0, -4.68, -3.0, -2.0, np.nan])
    m = encals_median(lp)
    assert np.isnan(m[-1])
    assert (np.diff(m[:-1]) < 0).all()
    assert m[2] == pytest.approx(38.07, abs=0.05)  # grid solution of s(ln t) = 4.68


def hand_lp(a: float, dfs: float, d: float, f: float, b: int, e: int, ftd: int, c9: int) -> float:
    return (
        -1.83666 * (dfs + 0.1) ** -0.5
        - 2.37341 * ((d / 10) ** -0.5 + math.log(d / 10))
        - 0.26697 * (a / 100) ** -2
        + 0.47685 * ((f / 100) ** -1 + (f / 100) ** -0.5)
        + 0.26887 * b
        + 0.23278 * e
        + 0.38831 * ftd
        + 0.25608 * c9
    )


def test_lp_hand_calculation_and_direction() -> None:
    args = [
        (60, 0.5, 12, 90, 0, 0, 0, 0),
        (72, 1.4, 5.5, 60, 1, 1, 1, 1),
        (45, 0.0, 30, 110, 0, 1, 0, 1),
    ]
    cols = [np.array(c, dtype=float) for c in zip(*args, strict=True)]
    lp = encals_lp(*cols)
    np.testing.assert_allclose(lp, [hand_lp(*a) for a in args], rtol=1e-13)
    assert lp[0] == pytest.approx(-4.6796, abs=1e-4)
    # worse on every predictor -> higher LP
    assert lp[1] > lp[0] > lp[2]
    tri = encals_lp(*cols[:7], model="tricals")
    tri_none = encals_lp(*cols[:7], None, model="tricals")
    np.testing.assert_array_equal(tri, tri_none)
    assert tri[0] == pytest.approx(
        -1.839 * 0.6**-0.5
        - 2.376 * (1.2**-0.5 + math.log(1.2))
        - 0.264 * 0.6**-2
        + 0.474 * (1 / 0.9 + 0.9**-0.5),
        rel=1e-12,
    )


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("diagnostic_delay_months", 0.0, "greater than 0 months"),
        ("fvc_pct", -5.0, "greater than 0 %"),
        ("delta_fs", -0.1, "greater than -0.1"),
        ("age_onset", np.nan, "required"),
        ("ftd", 2.0, "0 or 1"),
        ("c9orf72", np.nan, "required"),
    ],
)
def test_out_of_domain_inputs_raise(column: str, value: float, rule: str) -> None:
    base = {
        "age_onset": [60.0, 61.0],
        "delta_fs": [0.5, 0.5],
        "diagnostic_delay_months": [12.0, 12.0],
        "fvc_pct": [90.0, 90.0],
        "bulbar_onset": [0.0, 0.0],
        "definite_el_escorial": [0.0, 0.0],
        "ftd": [0.0, 0.0],
        "c9orf72": [0.0, 0.0],
    }
    base[column][1] = value
    with pytest.raises(DataValidationError) as info:
        encals_lp(**{k: np.array(v) for k, v in base.items()})
    (p,) = info.value.problems
    assert (p.row, p.column) == (2, column)
    assert rule in p.rule


def patients() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "pid": ["a", "b", "c", "d"],
            "age_onset": ["60", "72", "45", "50"],
            "delta_fs": [0.5, 1.4, 0.0, 0.3],
            "diagnostic_delay_months": [12, 5.5, 30, 0],
            "fvc_pct": [90, 60, 110, 95],
            "bulbar_onset": [0, 1, 0, 0],
            "definite_el_escorial": [0, 1, 1, 0],
            "ftd": [0, 1, 0, 0],
            "c9orf72": [0, 1, None, 0],
        },
        index=[5, 3, 9, 1],
    )


def test_table_raise_names_every_problem() -> None:
    with pytest.raises(DataValidationError) as info:
        encals_table(patients(), source="cohort.csv", lines=np.array([2, 3, 4, 5]))
    found = {(p.source, p.row, p.column) for p in info.value.problems}
    assert found == {("cohort.csv", 4, "c9orf72"), ("cohort.csv", 5, "diagnostic_delay_months")}


def test_table_flag_mode_keeps_rows_and_columns() -> None:
    df = patients()
    out = encals_table(df, errors="flag")
    assert list(out.index) == list(df.index)
    pd.testing.assert_frame_equal(out[df.columns], df)
    assert list(out.columns) == [*df.columns, *ENCALS_TABLE_COLUMNS, "encals_error"]
    assert out["encals_lp"].iloc[0] == pytest.approx(hand_lp(60, 0.5, 12, 90, 0, 0, 0, 0))
    assert np.isnan(out["encals_lp"].iloc[2]) and np.isfinite(out["tricals_lp"].iloc[2])
    assert out["encals_lp"].iloc[3:].isna().all() and out["tricals_lp"].iloc[3:].isna().all()
    assert out["encals_error"].iloc[2] == "c9orf72: a value is required (missing)"
    assert "diagnostic_delay_months" in out["encals_error"].iloc[3]
    assert out["encals_error"].iloc[:2].isna().all()
    s = encals_survival(out["encals_lp"].to_numpy()[:2, None], np.array([12, 24, 36, 60]))
    np.testing.assert_allclose(out[["encals_s12", "encals_s24", "encals_s36", "encals_s60"]][:2], s)
    np.testing.assert_allclose(out["encals_median_months"][:2], encals_median(out["encals_lp"][:2]))
    tri = out["tricals_lp"].to_numpy()
    assert out["tricals_eligible"].iloc[:3].tolist() == list((tri[:3] >= -6) & (tri[:3] <= -2))
    assert pd.isna(out["tricals_eligible"].iloc[3])


def test_table_flag_mode_reports_non_numbers_and_missing_columns() -> None:
    df = patients().drop(columns="c9orf72")
    df["fvc_pct"] = ["90", "x", "110", "95"]
    out = encals_table(df, errors="flag")
    assert out["encals_lp"].isna().all()
    assert out["encals_error"].iloc[1].startswith("fvc_pct: must be a number")
    with pytest.raises(DataValidationError, match="required column is missing"):
        encals_table(df)
    with pytest.raises(DataValidationError, match="age_onset"):
        encals_table(df.drop(columns="age_onset"), errors="flag")
