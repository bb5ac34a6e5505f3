"""Prognostic score: a regression of the untreated outcome on baseline features.

:class:`PrognosticScore` follows the scikit-learn estimator contract and trains on
either registry window features (:func:`alsnet.twin.features.window_features`) or
the DREAM feature table (:func:`alsnet.twin.dream.load_dream`). Missing values
(NaN) are allowed. Its predictions are the prognostic covariate of a PROCOVA
analysis (:func:`alsnet.twin.procova_ancova`).
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import (
    HistGradientBoostingRegressor,
    RandomForestRegressor,
    VotingRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["CANDIDATES", "PrognosticScore", "make_candidate"]

#: Model families :class:`PrognosticScore` can fit.
CANDIDATES: tuple[str, ...] = ("mean", "ridge", "forest", "boosting", "ensemble")


def _ridge() -> Pipeline:
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        RidgeCV(alphas=np.logspace(-1, 4, 21)),
    )


def _forest(n_estimators: int, seed: int, n_jobs: int | None) -> Pipeline:
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        RandomForestRegressor(
            n_estimators=n_estimators,
            min_samples_leaf=5,
            max_features=0.33,
            random_state=seed,
            n_jobs=n_jobs,
        ),
    )


def _boosting(seed: int) -> HistGradientBoostingRegressor:
    return HistGradientBoostingRegressor(
        learning_rate=0.03,
        max_iter=300,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        random_state=seed,
    )


def make_candidate(
    model: str, *, n_estimators: int = 500, random_state: int = 0, n_jobs: int | None = None
) -> BaseEstimator:
    """Unfitted scikit-learn regressor of one candidate family.

    Parameters
    ----------
    model : {"mean", "ridge", "forest", "boosting", "ensemble"}
        "mean": the training mean; "ridge": median imputation with missing-value
        indicators, standardisation, ridge with the penalty chosen by efficient
        leave-one-out CV; "forest": random forest (min leaf 5, 33% of features per
        split); "boosting": histogram gradient boosting (learning rate 0.03, 300
        iterations, 15 leaves, min leaf 20, L2 1); "ensemble": the unweighted
        average of ridge, forest and boosting.
    n_estimators : int, default 500
        Trees of the random forest.
    random_state : int, default 0
        Seed of the forest and boosting.
    n_jobs : int or None
        Parallel jobs of the forest.

    Returns
    -------
    estimator
        An unfitted regressor accepting NaN in X.
    """
    if model == "mean":
        return DummyRegressor(strategy="mean")
    if model == "ridge":
        return _ridge()
    if model == "forest":
        return _forest(n_estimators, random_state, n_jobs)
    if model == "boosting":
        return _boosting(random_state)
    if model == "ensemble":
        return VotingRegressor(
            [
                ("ridge", _ridge()),
                ("forest", _forest(n_estimators, random_state, n_jobs)),
                ("boosting", _boosting(random_state)),
            ]
        )
    raise ValueError(f"model must be one of {CANDIDATES}; got {model!r}")


class PrognosticScore(RegressorMixin, BaseEstimator):
    """Prognostic score for PROCOVA: predicts the untreated outcome from baseline features.

    Parameters
    ----------
    model : {"mean", "ridge", "forest", "boosting", "ensemble"}, default "ensemble"
        Model family (see :func:`make_candidate`). The default was chosen by
        5-fold cross-validation on the 1,197 DREAM training rows only
        (``benchmarks/bench_dream.py``).
    n_estimators : int, default 500
        Trees of the random forest (forest and ensemble).
    random_state : int, RandomState or None, default 0
        Seed of every stochastic component (an int gives reproducible fits).
    n_jobs : int or None, default None
        Parallel jobs for the forest.

    Attributes
    ----------
    estimator_ : estimator
        The fitted scikit-learn regressor.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Feature names seen in ``fit`` (only when X had string column names).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)); y = X[:, 0] + 0.5 * rng.normal(size=200)
    >>> m = PrognosticScore(model="ridge").fit(X, y)
    >>> round(float(np.corrcoef(m.predict(X), y)[0, 1]), 2)
    0.89
    """

    _parameter_constraints: dict[str, list[Any]] = {  # noqa: RUF012
        "model": [StrOptions(set(CANDIDATES))],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        *,
        model: str = "ensemble",
        n_estimators: int = 500,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.model = model
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: ArrayLike | pd.DataFrame, y: ArrayLike) -> PrognosticScore:
        """Fit the score.

        Parameters
        ----------
        X : array_like or DataFrame, shape (n_patients, n_features)
            Baseline features; NaN marks a missing value.
        y : array_like, shape (n_patients,)
            Outcome (e.g. ALSFRS-R slope over months 3-12, points/month); no NaN.

        Returns
        -------
        PrognosticScore
            ``self``, fitted.
        """
        self._validate_params()
        Xa, ya = validate_data(self, X, y, ensure_all_finite="allow-nan", y_numeric=True)
        seed = self.random_state
        if not isinstance(seed, Integral):  # None or a RandomState: draw one integer seed
            seed = int(check_random_state(seed).randint(2**31 - 1))
        est = clone(
            make_candidate(
                self.model,
                n_estimators=self.n_estimators,
                random_state=int(seed),
                n_jobs=self.n_jobs,
            )
        )
        est.fit(Xa, ya)
        self.estimator_ = est
        return self

    def predict(self, X: ArrayLike | pd.DataFrame) -> np.ndarray:
        """Prognostic score of each patient, in outcome units.

        Parameters
        ----------
        X : array_like or DataFrame, shape (n_patients, n_features)
            Same features (and names, if fitted on a DataFrame) as in ``fit``.

        Returns
        -------
        ndarray of float, shape (n_patients,)
        """
        check_is_fitted(self, "estimator_")
        Xa = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        return np.asarray(self.estimator_.predict(Xa), dtype="float64")
