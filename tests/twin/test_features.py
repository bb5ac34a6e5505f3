"""Registry window features: hand-computed values, brute force, order invariance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsnet import Cohort
from alsnet.clinical import alsfrs_scores
from alsnet.synth import synthesize
from alsnet.twin.features import TARGET, feature_columns, window_features

M = 365.25 / 12  # days per month


def _items(total_drop: dict[str, float]) -> dict[str, object]:
    it = {f"q{i}": 4.0 for i in range(1, 13) if i != 5} | {"q5a": 4.0}
    return {"instrument": "alsfrs_r", **it, **total_drop}


def _cohort() -> Cohort:
    pats = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C"],
            "site_id": "S",
            "sex": ["F", "M", None],
            "age_onset": [60.0, 50.0, 40.0],
            "onset_region": ["bulbar", "lower_limb", None],
            "diagnosis_day": [100, 152, 90],
            "el_escorial": "definite",
            "ftd": 0,
            "c9orf72": None,
            "sod1": None,
            "ancestry": "EUR",
        }
    )
    rows = [
        {"patient_id": "A", "day": 100, "fvc_pct": 90.0},  # before t0: ignored
        {
            "patient_id": "A",
            "day": 200,
            **_items({"q1": 2.0, "q2": 2.0}),
            "fvc_pct": 80.0,
            "weight_kg": 70.0,
        },  # 44
        {
            "patient_id": "A",
            "day": 260,
            **_items({"q1": 2.0, "q2": 2.0, "q7": 3.0, "q8": 3.0}),
            "weight_kg": 69.0,
        },  # 42
        {
            "patient_id": "A",
            "day": 290,
            **_items({"q1": 1.0, "q2": 1.0, "q7": 3.0, "q8": 3.0}),
            "fvc_pct": 70.0,
        },  # 40
        {"patient_id": "A", "day": 350, **_items({"q1": 1.0, "q2": 1.0, "q7": 2.0, "q8": 2.0})},
        {
            "patient_id": "A",
            "day": 500,
            **_items({"q1": 0.0, "q2": 0.0, "q7": 1.0, "q8": 1.0, "q9": 2.0, "q4": 3.0}),
        },  # 31
        {"patient_id": "A", "day": 600, **_items({k: 1.0 for k in ("q1", "q2", "q3", "q4")})},
        {"patient_id": "B", "day": 100, **_items({})},  # 48, the only visit
        {"patient_id": "C", "day": 50, "fvc_pct": 60.0},  # no ALSFRS-R: left out
    ]
    return Cohort.from_tables(
        {
            "patients": pats,
            "visits": pd.DataFrame(rows),
            "events": pd.DataFrame(columns=["patient_id", "event", "day"]),
        }
    )


def test_hand_computed_patient() -> None:
    f = window_features(_cohort())
    assert list(f.index) == ["A", "B"]
    assert list(f.columns) == [*feature_columns(), TARGET]
    a = f.loc["A"]
    assert a["onset_delta_days"] == 200
    assert a["age_at_window"] == pytest.approx(60 + 200 / 365.25)
    assert (a["sex_male"], a["onset_bulbar"], a["onset_limb"], a["onset_other"]) == (0, 1, 0, 0)
    assert a["delta_fs"] == pytest.approx(4 / (200 / M))
    assert a["diagnostic_delay_days"] == 100
    tot = [a[f"alsfrs_r_total_{s}"] for s in ("first", "last", "mean", "min", "max", "n")]
    assert tot == [44, 40, 42, 40, 44, 3]
    ref_slope = np.polyfit(np.array([0, 60, 90]) / M, [44, 42, 40], 1)[0]
    assert a["alsfrs_r_total_slope"] == pytest.approx(ref_slope)
    assert a["bulbar_first"] == 8 and a["bulbar_last"] == 6
    assert a["gross_motor_min"] == 10
    assert a["fvc_pct_first"] == 80 and a["fvc_pct_n"] == 2
    assert a["fvc_pct_slope"] == pytest.approx(-10 / (90 / M))
    assert a["weight_kg_slope"] == pytest.approx(-1 / (60 / M))
    assert np.isnan(a["bmi_mean"]) and a["bmi_n"] == 0 and a["nfl_serum_pg_ml_n"] == 0
    # target: first visit at >= 91 days (rel 150, total 38) to last at <= 365 (rel 300, 31)
    assert a[TARGET] == pytest.approx((31 - 38) / (150 / M))
    b = f.loc["B"]
    assert b["alsfrs_r_total_n"] == 1 and np.isnan(b["alsfrs_r_total_slope"])
    assert np.isnan(b[TARGET]) and b["sex_male"] == 1 and b["onset_limb"] == 1


def test_options() -> None:
    c = _cohort()
    f = window_features(c, window_days=60, target_method="ols")
    assert f.loc["A", "alsfrs_r_total_n"] == 2
    # OLS target over rel 150 and 300 equals the endpoint slope; add window visit at 90
    f2 = window_features(c, target_start_days=90, target_method="ols")
    ref = np.polyfit(np.array([90, 150, 300]) / M, [40, 38, 31], 1)[0]
    assert f2.loc["A", TARGET] == pytest.approx(ref)
    with pytest.raises(ValueError, match="window_days"):
        window_features(c, window_days=0)
    with pytest.raises(ValueError, match="target_method"):
        window_features(c, target_method="median")  # type: ignore[arg-type]


def _brute(cohort: Cohort, window: int) -> pd.DataFrame:
    v = cohort.visits.copy()
    v["total"] = alsfrs_scores(v)["alsfrs_r_total"].to_numpy()
    out = {}
    for pid, g in v.groupby("patient_id"):
        g = g.dropna(subset=["total"]).sort_values("day")
        if g.empty:
            continue
        rel = g["day"].to_numpy(float) - g["day"].min()
        w = g.loc[rel <= window]
        x = (w["day"].to_numpy(float) - g["day"].min()) / M
        slope = np.polyfit(x, w["total"], 1)[0] if len(w) >= 2 else np.nan
        out[pid] = {
            "first": w["total"].iloc[0],
            "last": w["total"].iloc[-1],
            "mean": w["total"].mean(),
            "n": len(w),
            "slope": slope,
        }
    return pd.DataFrame(out).T


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000), window=st.sampled_from([60, 91, 200]))
def test_matches_brute_force_and_ignores_row_order(seed: int, window: int) -> None:
    c = synthesize(30, seed=seed)
    f = window_features(c, window_days=window)
    ref = _brute(c, window).reindex(f.index)
    for s in ("first", "last", "mean", "n", "slope"):
        np.testing.assert_allclose(
            f[f"alsfrs_r_total_{s}"].to_numpy(float),
            ref[s].to_numpy(float),
            rtol=1e-9,
            atol=1e-9,
        )
    tables = c.copy_tables()
    tables["visits"] = tables["visits"].sample(frac=1.0, random_state=seed)
    shuffled = window_features(Cohort.from_tables(tables), window_days=window)
    pd.testing.assert_frame_equal(shuffled.sort_index(), f.sort_index())


def test_synthetic_target_is_predictable() -> None:
    f = window_features(synthesize(400, seed=2))
    ok = f[TARGET].notna()
    assert ok.mean() > 0.4
    # faster decline (higher ΔFS) goes with a more negative slope
    assert np.corrcoef(f.loc[ok, "delta_fs"], f.loc[ok, TARGET])[0, 1] < -0.2
