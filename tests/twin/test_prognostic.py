"""PrognosticScore: scikit-learn contract and learning on registry features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import check_estimator

from alsnet.synth import synthesize
from alsnet.twin.features import TARGET, window_features
from alsnet.twin.prognostic import CANDIDATES, PrognosticScore, make_candidate


@pytest.fixture(scope="module")
def registry_xy() -> tuple[pd.DataFrame, np.ndarray]:
    f = window_features(synthesize(700, seed=4))
    f = f.loc[f[TARGET].notna()]
    return f.drop(columns=TARGET), f[TARGET].to_numpy()


SKIP_WARN = pytest.mark.filterwarnings("ignore::sklearn.exceptions.SkipTestWarning")


@SKIP_WARN
@pytest.mark.parametrize("model", ["ridge"])
def test_check_estimator(model: str) -> None:
    res = check_estimator(PrognosticScore(model=model), on_fail=None)
    failed = [(r["check_name"], r["exception"]) for r in res if r["status"] == "failed"]
    assert failed == []


@SKIP_WARN
def test_forest_check_estimator() -> None:
    res = check_estimator(PrognosticScore(model="forest", n_estimators=5), on_fail=None)
    assert [r["check_name"] for r in res if r["status"] == "failed"] == []


def test_contract() -> None:
    m = PrognosticScore(model="ridge")
    assert m.get_params() == {
        "model": "ridge",
        "n_estimators": 500,
        "random_state": 0,
        "n_jobs": None,
    }
    with pytest.raises(NotFittedError):
        m.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="model"):
        PrognosticScore(model="svm").fit(np.zeros((5, 2)), np.arange(5.0))
    assert clone(m).get_params() == m.get_params()
    with pytest.raises(ValueError, match="model must be one of"):
        make_candidate("svm")


def test_learns_registry_target(registry_xy: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = registry_xy
    n = len(y) * 2 // 3
    means = PrognosticScore(model="mean").fit(X.iloc[:n], y[:n])
    assert np.allclose(means.predict(X.iloc[n:]), y[:n].mean())
    for model in ("ridge", "boosting"):
        m = PrognosticScore(model=model).fit(X.iloc[:n], y[:n])
        pred = m.predict(X.iloc[n:])
        rmse = np.sqrt(np.mean((pred - y[n:]) ** 2))
        base = np.sqrt(np.mean((y[:n].mean() - y[n:]) ** 2))
        assert rmse < 0.95 * base, model
        assert np.corrcoef(pred, y[n:])[0, 1] > 0.3, model
    # feature-name drift is refused
    with pytest.raises(ValueError, match="feature names"):
        m.predict(X.iloc[n:].rename(columns={"delta_fs": "dfs"}))


def test_seeded_and_nan_tolerant(registry_xy: tuple[pd.DataFrame, np.ndarray]) -> None:
    X, y = registry_xy
    X = X.iloc[:200].copy()
    X.iloc[::3, 5] = np.nan
    a = PrognosticScore(model="ensemble", n_estimators=20, random_state=1).fit(X, y[:200])
    b = PrognosticScore(model="ensemble", n_estimators=20, random_state=1).fit(X, y[:200])
    pa = a.predict(X)
    assert np.all(np.isfinite(pa))
    np.testing.assert_array_equal(pa, b.predict(X))
    assert set(CANDIDATES) == {"mean", "ridge", "forest", "boosting", "ensemble"}
