"""Paired bootstrap of an RMSD difference and the DREAM random-forest reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from alsnet.twin.dream import (
    REFERENCE_FOREST,
    DreamData,
    paired_rmsd_bootstrap,
    reference_forest_predictions,
    rmsd,
)


def _data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    a = y + rng.normal(scale=0.8, size=n)
    b = 0.5 * a + rng.normal(scale=0.5, size=n)
    return y, a, b


def test_matches_a_brute_force_loop_with_the_same_draws() -> None:
    y, a, b = _data(50)
    res = paired_rmsd_bootstrap(y, a, b, n_boot=300, seed=3)
    rng = np.random.default_rng(3)
    diffs = []
    for _ in range(300):
        i = rng.integers(0, y.size, size=y.size)
        diffs.append(rmsd(y[i], a[i]) - rmsd(y[i], b[i]))
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    assert res.ci_low == pytest.approx(lo, abs=1e-12)
    assert res.ci_high == pytest.approx(hi, abs=1e-12)
    assert res.difference == pytest.approx(rmsd(y, a) - rmsd(y, b))
    assert (res.rmsd_a, res.rmsd_b) == (pytest.approx(rmsd(y, a)), pytest.approx(rmsd(y, b)))


def test_agrees_with_scipy_paired_percentile_bootstrap() -> None:
    y, a, b = _data(400, seed=1)
    res = paired_rmsd_bootstrap(y, a, b, n_boot=4000, seed=0)

    def stat(yy: np.ndarray, aa: np.ndarray, bb: np.ndarray, axis: int = -1) -> np.ndarray:
        da = np.sqrt(np.mean((yy - aa) ** 2, axis=axis))
        return np.asarray(da - np.sqrt(np.mean((yy - bb) ** 2, axis=axis)))

    ref = stats.bootstrap(
        (y, a, b), stat, paired=True, method="percentile", n_resamples=4000, random_state=7
    )
    width = res.ci_high - res.ci_low
    assert res.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.08 * width)
    assert res.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.08 * width)


def test_blocks_do_not_change_the_result() -> None:
    y, a, b = _data(30_000, seed=2)  # 2e6 / 30,000 = 66 replicates per block
    res = paired_rmsd_bootstrap(y, a, b, n_boot=200, seed=4)
    rng = np.random.default_rng(4)
    idx = rng.integers(0, y.size, size=(200, y.size))
    d = np.sqrt(((y - a) ** 2)[idx].mean(1)) - np.sqrt(((y - b) ** 2)[idx].mean(1))
    assert res.ci_low == pytest.approx(np.quantile(d, 0.025), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 40), seed=st.integers(0, 1000))
def test_identical_predictors_give_a_zero_interval(n: int, seed: int) -> None:
    y, a, _ = _data(n, seed)
    res = paired_rmsd_bootstrap(y, a, a.copy(), n_boot=50, seed=seed)
    assert res.difference == 0.0 and res.ci_low == 0.0 and res.ci_high == 0.0
    swapped = paired_rmsd_bootstrap(y, a, -a, n_boot=50, seed=seed)
    back = paired_rmsd_bootstrap(y, -a, a, n_boot=50, seed=seed)
    assert swapped.ci_low == pytest.approx(-back.ci_high)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pred_b": np.zeros(3)}, "equal length"),
        ({"level": 1.0}, "level"),
        ({"n_boot": 0}, "n_boot"),
        ({"y_true": np.array([np.nan, 1.0, 2.0, 3.0])}, "NaN"),
    ],
)
def test_refuses_bad_input(kwargs: dict[str, object], match: str) -> None:
    args: dict[str, object] = {"y_true": np.arange(4.0), "pred_a": np.ones(4), "pred_b": np.ones(4)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        paired_rmsd_bootstrap(**args)  # type: ignore[arg-type]


def test_reference_forest_fits_training_rows_only() -> None:
    rng = np.random.default_rng(0)
    n = 120
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    X.loc[::7, "x2"] = np.nan
    y = pd.Series(2.0 * X["x1"] + rng.normal(scale=0.1, size=n))
    test = pd.Series(np.arange(n) >= 90)
    pred = reference_forest_predictions(DreamData(X, y, test), seed=1)
    assert list(pred.index) == list(range(90, n)) and np.isfinite(pred).all()
    assert np.corrcoef(pred, y[test])[0, 1] > 0.9
    # test outcomes do not matter: scrambling them leaves the predictions unchanged
    y2 = y.copy()
    y2[test] = rng.permutation(y2[test].to_numpy())
    pd.testing.assert_series_equal(
        pred, reference_forest_predictions(DreamData(X, y2, test), seed=1)
    )
    assert REFERENCE_FOREST == {"n_estimators": 500, "min_samples_leaf": 5, "max_features": 0.33}
