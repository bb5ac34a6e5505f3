"""Panels: stability selection, AUC with CIs, nested CV vs leakage, prognostic value of NfL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from alsnet.omics import OmicsSimParams, simulate_transcriptome
from alsnet.omics.panel import (
    NflReference,
    auc_table,
    cross_validate_panel,
    harrell_c,
    l1_logistic_path,
    leaky_cross_validation,
    nfl_zscore,
    prognostic_value,
    stability_selection,
    stability_selector,
    weighted_auc,
)

pytest.importorskip("anndata")


# ------------------------------------------------------------------ building blocks
@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(4, 60), st.booleans())
def test_weighted_auc_matches_sklearn(seed: int, n: int, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 4, n).astype(float) if ties else rng.standard_normal(n)
    y = rng.random(n) < 0.4
    y[0], y[1] = True, False
    w = rng.integers(0, 4, size=(3, n)).astype(float)
    w[:, :2] = 1.0
    got = weighted_auc(s, y, w)
    for r in range(3):
        assert got[r] == pytest.approx(roc_auc_score(y, s, sample_weight=w[r]), abs=1e-12)


def test_l1_logistic_matches_sklearn() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((150, 12))
    y = (x[:, 0] - 0.8 * x[:, 3] + rng.standard_normal(150) > 0).astype(float)
    lam = 0.05
    beta, b0 = l1_logistic_path(
        x, y, np.ones((1, 150)), np.array([lam]), max_iter=20_000, tol=1e-12
    )
    ref = LogisticRegression(
        C=1.0 / (lam * 150), l1_ratio=1.0, solver="saga", tol=1e-10, max_iter=100_000
    ).fit(x, y)
    np.testing.assert_allclose(beta[0], ref.coef_[0], atol=2e-3)
    assert b0[0] == pytest.approx(ref.intercept_[0], abs=2e-3)
    np.testing.assert_array_equal(np.abs(beta[0]) > 1e-8, np.abs(ref.coef_[0]) > 1e-4)


def test_stability_selection_finds_the_informative_genes() -> None:
    rng = np.random.default_rng(2)
    n, p = 200, 300
    x = rng.standard_normal((n, p))
    y = np.where(x[:, :4].sum(axis=1) + rng.standard_normal(n) > 0, "a", "b")
    res = stability_selection(x, y, n_subsamples=50, rng=0, q_target=8)
    assert set(res.selected.tolist()) >= {0, 1, 2, 3}
    assert res.frequency[:4].min() >= 0.7
    assert (res.frequency[4:] >= 0.7).sum() <= 1
    assert not res.fallback
    assert res.ev_bound == pytest.approx(res.mean_selected**2 / ((2 * 0.7 - 1) * p))
    tab = res.summary([f"g{i}" for i in range(p)], top=5)
    assert set(tab["gene"][:4]) == {"g0", "g1", "g2", "g3"}


def test_auc_table_ci_covers_truth_and_groups() -> None:
    rng = np.random.default_rng(3)
    n = 400
    y = np.where(rng.random(n) < 0.5, "a", "b")
    score = rng.standard_normal(n) + (y == "b") * 1.0  # true AUC = Phi(1/sqrt(2)) = 0.760
    proba = np.column_stack([1 - score, score])
    tab = auc_table(y, proba, ["a", "b"], groups=np.arange(n) // 2, n_boot=500).set_index("class")
    assert tab.loc["b", "auc"] == pytest.approx(roc_auc_score(y == "b", score))
    assert tab.loc["b", "ci_low"] < 0.760 < tab.loc["b", "ci_high"]
    assert tab.loc["macro", "auc"] == tab.loc["b", "auc"]


# ------------------------------------------------------------------ leakage and recovery
@pytest.fixture(scope="module")
def null_data():  # type: ignore[no-untyped-def]
    return simulate_transcriptome(100, 800, seed=5, params=OmicsSimParams(module_lfc=0.0))


def test_leakage_selection_outside_cv_is_optimistic_nested_is_not(null_data) -> None:  # type: ignore[no-untyped-def]
    """Honesty rule: pure noise. Selecting genes on all samples gives an optimistic AUC;
    the nested pipeline (selection inside every fold) stays at chance."""
    leaky = leaky_cross_validation(null_data, "subtype", n_boot=300)
    nested = cross_validate_panel(
        null_data, "subtype", selector=stability_selector(n_subsamples=30), n_boot=300
    )
    auc_leaky, lo_leaky, _ = leaky.macro_auc
    auc, lo, hi = nested.macro_auc
    assert auc_leaky > 0.7 and lo_leaky > 0.6
    assert lo <= 0.5 <= hi
    assert auc < 0.6
    assert auc_leaky - auc > 0.15


@pytest.fixture(scope="module")
def signal_data():  # type: ignore[no-untyped-def]
    return simulate_transcriptome(100, 800, seed=6, params=OmicsSimParams(module_lfc=0.4))


def test_nested_cv_recovers_simulated_subtypes(signal_data) -> None:  # type: ignore[no-untyped-def]
    res = cross_validate_panel(
        signal_data, "subtype", selector=stability_selector(n_subsamples=30), n_boot=300
    )
    auc, lo, _ = res.macro_auc
    assert auc >= 0.85 and lo >= 0.75  # stated floor for module log2FC 0.4
    module = set(signal_data.var_names[signal_data.var["module"] != ""])
    chosen = [g for fold in res.fold_genes for g in fold]
    assert np.mean([g in module for g in chosen]) >= 0.8
    assert res.proba.shape == (signal_data.n_obs, 3)
    assert not np.isnan(res.proba).any()


def test_leave_one_site_out(signal_data) -> None:  # type: ignore[no-untyped-def]
    res = cross_validate_panel(
        signal_data,
        "subtype",
        scheme="site",
        selector=stability_selector(n_subsamples=30),
        n_boot=300,
    )
    assert len(res.fold_genes) == signal_data.obs["site"].nunique()
    assert res.macro_auc[0] >= 0.8


# ------------------------------------------------------------------ prognostic panels
def test_nfl_zscore_closed_form() -> None:
    ref = NflReference()
    z = nfl_zscore([8.0, 8.0 * np.exp(0.45), 16.0], [50.0, 50.0, 60.0], [25.0, np.nan, 30.0])
    expected_last = (np.log(16.0) - np.log(8.0) - 0.022 * 10 + 0.02 * 5) / 0.45
    np.testing.assert_allclose(z, [0.0, 1.0, expected_last])
    assert nfl_zscore([8.0], [50.0], reference=ref)[0] == 0.0


def test_harrell_c_matches_lifelines() -> None:
    from lifelines.utils import concordance_index

    rng = np.random.default_rng(4)
    t = rng.exponential(10, 120) + 0.1  # no tied times (tie conventions differ)
    e = rng.random(120) < 0.7
    r = rng.standard_normal(120) - 0.05 * t
    assert harrell_c(t, r, e)[0] == pytest.approx(concordance_index(t, -r, e), abs=1e-12)


@pytest.fixture(scope="module")
def synth_patients() -> pd.DataFrame:
    from alsnet.testing.prognostic import synthetic_prognostic_table

    return synthetic_prognostic_table(600, seed=3)


def test_nfl_adds_to_a_clinical_baseline(synth_patients: pd.DataFrame) -> None:
    """In the synthetic cohort NfL tracks the latent progression speed: it must improve a
    clinical baseline's slope and survival predictions; a random subtype must not."""
    res = prognostic_value(
        synth_patients,
        clinical=["age_at_window", "onset_bulbar", "alsfrs_r_total_first", "fvc_pct_first"],
        nfl="nfl_serum_pg_ml_first",
        age="age_at_window",
        bmi="bmi_first",
        subtype="subtype",
        slope="target_slope",
        time_col="time_days",
        event_col="event",
        n_boot=300,
    )
    tab = res.summary().set_index(["metric", "model"])
    nfl = tab.loc[("R2", "clinical + NfL")]
    assert nfl["gain"] > 0.02 and nfl["gain_ci_low"] > 0
    assert tab.loc[("RMSE", "clinical + NfL"), "gain_ci_high"] < 0
    assert tab.loc[("C-index", "clinical + NfL"), "gain_ci_low"] > 0
    sub = tab.loc[("R2", "clinical + NfL + subtype")]
    assert abs(sub["estimate"] - nfl["estimate"]) < 0.02
    assert set(res.predictions) == {"slope", "survival"}
