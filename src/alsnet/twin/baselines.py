"""Baseline forecasters for the digital-twin evaluation.

Every forecaster follows the :class:`~alsnet.twin.TwinModel` API: ``fit(cohort)``
returns ``self`` and ``predict(data, days)`` returns a tidy frame with one row per
patient, day and outcome: ``patient_id, day`` (days since onset), ``outcome``,
``mean, q025, q10, q50, q90, q975`` (predictive distribution of an *observed*
value, measurement noise included) and ``n_obs`` (visits conditioned on).

* :class:`LastSlope`: extrapolate the slope of the visits seen so far; intervals
  from the spread of the same extrapolation's residuals on the training patients,
  as a function of the forecast gap.
* :class:`MixedModel`: linear mixed model (statsmodels ``MixedLM``, random
  intercept and slope on months since onset); predictive intervals from the
  fixed-effect, random-effect (posterior given the patient's visits) and residual
  variances.
* :class:`ForestBaseline`: random forest (scikit-learn) on the DREAM-style window
  features of :func:`alsnet.twin.window_features` plus the forecast horizon;
  intervals from quantiles of out-of-fold residuals (patient-grouped folds).
* :class:`EncalsSurvival`: the ENCALS linear predictor
  (:mod:`alsnet.clinical.encals`) turned into event-free survival either by the
  published baseline or by a Weibull model calibrated on the training patients.

Outcomes: ``alsfrs_r_total`` (points, 0-48) and ``fvc_pct`` (% predicted, ≥ 0).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import optimize, stats

from alsnet.clinical.alsfrs import alsfrs_scores
from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.cohort import Cohort
from alsnet.exceptions import AlsnetError, NotFittedError

__all__ = [
    "BOUNDS",
    "ENDPOINTS",
    "OUTCOMES",
    "QCOLS",
    "QUANTILES",
    "EncalsSurvival",
    "ForestBaseline",
    "LastSlope",
    "MixedModel",
    "event_times",
    "first_alsfrs_day",
    "observations",
]

logger = logging.getLogger(__name__)

#: Continuous outcomes the baselines forecast.
OUTCOMES: tuple[str, ...] = ("alsfrs_r_total", "fvc_pct")
#: (lower, upper) bound of each outcome.
BOUNDS: dict[str, tuple[float, float]] = {"alsfrs_r_total": (0.0, 48.0), "fvc_pct": (0.0, 200.0)}
#: Value at symptom onset assumed by the slope-from-onset fallback.
_ONSET_VALUE = {"alsfrs_r_total": 48.0, "fvc_pct": 100.0}
#: Predictive quantile levels and their column names (as TwinModel.predict).
QUANTILES: tuple[float, ...] = (0.025, 0.10, 0.50, 0.90, 0.975)
QCOLS: tuple[str, ...] = ("q025", "q10", "q50", "q90", "q975")
#: Events of the composite survival endpoint (ENCALS).
ENDPOINTS: tuple[str, ...] = ("death", "tracheostomy", "pav")
_COLUMNS = ["patient_id", "day", "outcome", "mean", *QCOLS, "n_obs"]


# ---------------------------------------------------------------- data helpers
def observations(cohort: Cohort, outcome: str) -> pd.DataFrame:
    """Observed values of one outcome: columns patient_id, day (since onset), y.

    Parameters
    ----------
    cohort : Cohort
        Canonical cohort.
    outcome : {"alsfrs_r_total", "fvc_pct"}
        ALSFRS-R total (from the items, :func:`alsnet.clinical.alsfrs_scores`)
        or FVC % predicted.

    Returns
    -------
    DataFrame
        Rows with a value and a day, sorted by patient and day.
    """
    v = cohort.visits
    if outcome == "alsfrs_r_total":
        y = alsfrs_scores(v)["alsfrs_r_total"].to_numpy(dtype="float64")
    elif outcome == "fvc_pct":
        y = (
            pd.to_numeric(v["fvc_pct"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            if "fvc_pct" in v.columns
            else np.full(len(v), np.nan)
        )
    else:
        raise ValueError(f"unknown outcome {outcome!r}; choose from {OUTCOMES}")
    day = v["day"].to_numpy(dtype="float64", na_value=np.nan)
    ok = ~np.isnan(y) & ~np.isnan(day)
    out = pd.DataFrame({"patient_id": v["patient_id"].to_numpy()[ok], "day": day[ok], "y": y[ok]})
    return out.sort_values(["patient_id", "day"], kind="stable").reset_index(drop=True)


def first_alsfrs_day(cohort: Cohort) -> pd.Series:
    """Day (since onset) of each patient's first ALSFRS-R total: the baseline ``t0``."""
    obs = observations(cohort, "alsfrs_r_total")
    return obs.groupby("patient_id", sort=False)["day"].min()


def event_times(cohort: Cohort, endpoints: Sequence[str] = ENDPOINTS) -> pd.DataFrame:
    """Time from onset to the first endpoint, censored at last contact.

    Returns
    -------
    DataFrame
        Indexed by patient_id: ``time_days`` (days since onset) and ``event``
        (bool). Last contact is the latest visit or non-endpoint event.
        Patients without any contact are left out.
    """
    ev = cohort.events
    hit = ev["event"].isin(list(endpoints)).to_numpy(dtype=bool)
    first = ev.loc[hit].groupby("patient_id")["day"].min()
    other = ev.loc[~hit].groupby("patient_id")["day"].max()
    last_visit = cohort.visits.groupby("patient_id")["day"].max()
    contact = pd.concat([last_visit, other], axis=1).max(axis=1)
    pid = cohort.patients["patient_id"]
    ev_day = pid.map(first).to_numpy(dtype="float64", na_value=np.nan)
    c_day = pid.map(contact).to_numpy(dtype="float64", na_value=np.nan)
    event = ~np.isnan(ev_day)
    out = pd.DataFrame(
        {"time_days": np.where(event, ev_day, c_day), "event": event},
        index=pd.Index(pid.to_numpy(), name="patient_id"),
    )
    return out.loc[out["time_days"].notna()]


def _grid(ids: pd.Index, days: ArrayLike | pd.DataFrame) -> pd.DataFrame:
    if isinstance(days, pd.DataFrame):
        grid = days[["patient_id", "day"]].reset_index(drop=True)
        if not grid["patient_id"].isin(ids).all():
            raise ValueError("days: patient_id not among the input patients")
    else:
        d = np.atleast_1d(np.asarray(days, dtype="float64"))
        grid = pd.DataFrame(
            {"patient_id": np.repeat(ids.to_numpy(), len(d)), "day": np.tile(d, len(ids))}
        )
    if grid["day"].isna().any():
        raise ValueError("days must not contain NaN")
    return grid.astype({"day": "float64"})


def _ids(data: Cohort | pd.DataFrame) -> pd.Index:
    pats = data.patients if isinstance(data, Cohort) else data
    return pd.Index(pats["patient_id"].drop_duplicates().to_numpy(), name="patient_id")


def _frame(
    grid: pd.DataFrame, outcome: str, mean: np.ndarray, q: np.ndarray, n_obs: np.ndarray
) -> pd.DataFrame:
    lo, hi = BOUNDS[outcome]
    out = grid[["patient_id", "day"]].copy()
    out["outcome"] = outcome
    out["mean"] = np.clip(mean, lo, hi)
    qs = np.sort(np.clip(q, lo, hi), axis=0)
    for col, row in zip(QCOLS, qs, strict=True):
        out[col] = row
    out["n_obs"] = n_obs
    return out[_COLUMNS]


def _covariates(patients: pd.DataFrame) -> pd.DataFrame:
    """Age at onset (years), bulbar onset (0/1) and diagnostic delay (months)."""
    region = patients["onset_region"].astype("string")
    bulbar = np.where(
        region.isna().to_numpy(),
        np.nan,
        region.isin(["bulbar", "bulbar_limb"]).fillna(False).to_numpy(dtype="float64"),
    )
    return pd.DataFrame(
        {
            "age_onset": patients["age_onset"].to_numpy(dtype="float64", na_value=np.nan),
            "bulbar_onset": bulbar,
            "diagnosis_delay": patients["diagnosis_day"].to_numpy(dtype="float64", na_value=np.nan)
            / DAYS_PER_MONTH,
        },
        index=pd.Index(patients["patient_id"].to_numpy(), name="patient_id"),
    )


def _truncate(cohort: Cohort, days_after_t0: float) -> Cohort:
    """Visits up to ``days_after_t0`` after each patient's first ALSFRS-R visit."""
    t0 = first_alsfrs_day(cohort)
    v = cohort.visits
    cut = v["patient_id"].map(t0).to_numpy(dtype="float64", na_value=np.nan) + days_after_t0
    keep = ~(v["day"].to_numpy(dtype="float64", na_value=np.nan) > cut)
    tabs = dict(cohort.tables)
    tabs["visits"] = v.loc[keep].reset_index(drop=True)
    return Cohort(tabs)


class _Base:
    outcomes: tuple[str, ...]

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(cohort)")

    def _fitted(self, per_outcome: dict[str, Any], why: str) -> Self:
        """Mark fitted, or refuse when no outcome could be fitted (``why``: the reason)."""
        if not per_outcome:
            raise AlsnetError(f"{type(self).__name__}.fit: no outcome {why}")
        self.fitted_ = True
        return self

    def _prediction_grid(
        self, data: Cohort | pd.DataFrame, days: ArrayLike | pd.DataFrame
    ) -> tuple[pd.Index, pd.DataFrame]:
        """Check fitted; the patient ids of ``data`` and the (patient, day) grid to forecast."""
        self._check_fitted()
        ids = _ids(data)
        return ids, _grid(ids, days)

    def _check_outcomes(self) -> None:
        bad = set(self.outcomes) - set(OUTCOMES)
        if bad:
            raise ValueError(f"unknown outcomes {sorted(bad)}; choose from {OUTCOMES}")


# ------------------------------------------------------------------ last slope
def _slopes(cond: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Per patient: last day, last value and slope (units/month) of the visits given.

    Least-squares slope over the visits when they span at least one month;
    otherwise the slope from onset, (last − onset value) / months since onset.
    """
    g = cond.groupby("patient_id", sort=False)
    x = cond["day"].to_numpy() / DAYS_PER_MONTH
    y = cond["y"].to_numpy()
    work = pd.DataFrame(
        {"patient_id": cond["patient_id"].to_numpy(), "x": x, "y": y, "xx": x * x, "xy": x * y}
    )
    s = work.groupby("patient_id", sort=False).agg(
        n=("x", "size"), sx=("x", "sum"), sy=("y", "sum"), sxx=("xx", "sum"), sxy=("xy", "sum")
    )
    n = s["n"].to_numpy(dtype="float64")
    den = n * s["sxx"].to_numpy() - s["sx"].to_numpy() ** 2
    span = (g["day"].max() - g["day"].min()).reindex(s.index).to_numpy() / DAYS_PER_MONTH
    ols = (n * s["sxy"].to_numpy() - s["sx"].to_numpy() * s["sy"].to_numpy()) / np.where(
        den > 0, den, 1.0
    )
    last_day = g["day"].last().reindex(s.index).to_numpy()
    last_y = g["y"].last().reindex(s.index).to_numpy()
    months = np.maximum(last_day / DAYS_PER_MONTH, 0.5)
    onset = (last_y - _ONSET_VALUE[outcome]) / months
    slope = np.where((n >= 2) & (span >= 1.0) & (den > 0), ols, np.minimum(onset, 0.0))
    return pd.DataFrame(
        {"last_day": last_day, "last_y": last_y, "slope": slope, "n": n}, index=s.index
    )


@dataclass(frozen=True)
class _SpreadModel:
    """Residual spread of last-slope forecasts: s(g)² = var[0] + var[1]·g²."""

    var: np.ndarray
    zq: np.ndarray
    zmean: float
    median_slope: float


class LastSlope(_Base):
    """Last-slope extrapolation with gap-dependent empirical intervals.

    The forecast at day ``d`` is ``y_last + slope * (d − d_last) / 30.44``, the
    slope being the least-squares slope of the patient's visits (or the slope
    from onset when they span less than a month). Intervals: on the training
    patients the same forecast is made from the visits of the first
    ``cutoff_days`` after the first ALSFRS-R visit to every later visit up to
    ``max_gap_months``; the residual SD is modelled as
    ``s(g)² = a + b g²`` (g = gap in months) and the quantiles of the
    standardised residuals ``r / s(g)`` give the predictive quantiles.
    Patients without a visit of an outcome get the slope-from-onset forecast of
    the training median slope (documented fallback).

    Parameters
    ----------
    cutoff_days : float, default 91
        Conditioning window used to learn the residual spread, days.
    max_gap_months : float, default 24
        Longest forecast gap used to learn the residual spread, months.
    outcomes : tuple of str, default :data:`OUTCOMES`
        Outcomes to forecast (skipped at fit when the training data have none).
    """

    def __init__(
        self,
        *,
        cutoff_days: float = 91.0,
        max_gap_months: float = 24.0,
        outcomes: tuple[str, ...] = OUTCOMES,
    ) -> None:
        self.cutoff_days = cutoff_days
        self.max_gap_months = max_gap_months
        self.outcomes = tuple(outcomes)

    def fit(self, cohort: Cohort) -> LastSlope:
        """Learn the residual spread on ``cohort``; returns ``self``."""
        self._check_outcomes()
        t0 = first_alsfrs_day(cohort)
        self.params_: dict[str, _SpreadModel] = {}
        for outcome in self.outcomes:
            obs = observations(cohort, outcome)
            rel = obs["day"].to_numpy() - obs["patient_id"].map(t0).to_numpy(dtype="float64")
            cond = obs.loc[rel <= self.cutoff_days]
            if cond.empty:
                logger.info("LastSlope.fit: no %s visits; outcome skipped", outcome)
                continue
            sl = _slopes(cond, outcome)
            tgt = obs.loc[rel > self.cutoff_days]
            tgt = tgt.loc[tgt["patient_id"].isin(sl.index)]
            s = sl.reindex(tgt["patient_id"])
            gap = (tgt["day"].to_numpy() - s["last_day"].to_numpy()) / DAYS_PER_MONTH
            keep = gap <= self.max_gap_months
            lo, hi = BOUNDS[outcome]
            f = np.clip(s["last_y"].to_numpy() + s["slope"].to_numpy() * gap, lo, hi)
            r, gap = (tgt["y"].to_numpy() - f)[keep], gap[keep]
            if r.size < 10:
                raise AlsnetError(
                    f"LastSlope.fit: fewer than 10 {outcome} visits after the first "
                    f"{self.cutoff_days:g} days; cannot learn the forecast spread"
                )
            design = np.column_stack([np.ones_like(gap), gap**2])
            coef = np.linalg.lstsq(design, r**2, rcond=None)[0]
            coef = np.maximum(coef, [1e-6, 0.0])
            sd = np.sqrt(design @ coef)
            z = r / sd
            self.params_[outcome] = _SpreadModel(
                coef, np.quantile(z, QUANTILES), float(z.mean()), float(np.median(sl["slope"]))
            )
        return self._fitted(self.params_, "has visits to learn from")

    def predict(self, data: Cohort, days: ArrayLike | pd.DataFrame) -> pd.DataFrame:
        """Forecast every fitted outcome at ``days`` (days since onset)."""
        _, grid = self._prediction_grid(data, days)
        parts = []
        for outcome, p in self.params_.items():
            obs = observations(data, outcome)
            sl = _slopes(obs, outcome).reindex(grid["patient_id"])
            missing = sl["n"].isna().to_numpy()
            last_day = np.where(missing, 0.0, sl["last_day"].to_numpy())
            last_y = np.where(missing, _ONSET_VALUE[outcome], sl["last_y"].to_numpy())
            slope = np.where(missing, p.median_slope, sl["slope"].to_numpy())
            gap = np.maximum(grid["day"].to_numpy() - last_day, 0.0) / DAYS_PER_MONTH
            lo, hi = BOUNDS[outcome]
            f = np.clip(last_y + slope * gap, lo, hi)
            a, b = p.var
            sd = np.sqrt(a + b * gap**2)
            q = f[None, :] + sd[None, :] * p.zq[:, None]
            mean = f + sd * p.zmean
            n_obs = np.nan_to_num(sl["n"].to_numpy(dtype="float64")).astype(np.int64)
            parts.append(_frame(grid, outcome, mean, q, n_obs))
        return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------ linear mixed model
class MixedModel(_Base):
    """Linear mixed model per outcome, random intercept and slope (statsmodels MixedLM).

    ``y_ij = x_i'β + t_ij·(x_i'γ) + b0_i + b1_i·(t_ij − 24)/12 + e_ij`` with
    ``t`` in months since onset, ``x`` = (1, standardised age at onset, bulbar
    onset, standardised diagnostic delay; missing → training mean),
    ``b ~ N(0, G)`` and ``e ~ N(0, σ²)``, fitted by REML. A new patient's random
    effects get their Gaussian posterior given the visits in the input; the
    predictive variance at a day is ``z'V_b z + x'Cov(β̂)x + σ²``, normal quantiles
    clipped to the outcome's bounds.

    Parameters
    ----------
    max_patients : int, default 500
        Training patients used (a seeded random subset when there are more),
        bounding the fitting time (statsmodels loops over patients: about 10 s
        per outcome for 500 patients on one core). Five parameters of variance
        and 8 fixed effects are well determined by 500 patients.
    outcomes : tuple of str, default :data:`OUTCOMES`
    random_state : int, default 0
    """

    _TC = 24.0

    def __init__(
        self,
        *,
        max_patients: int = 500,
        outcomes: tuple[str, ...] = OUTCOMES,
        random_state: int = 0,
    ) -> None:
        self.max_patients = max_patients
        self.outcomes = tuple(outcomes)
        self.random_state = random_state

    def _x(self, patients: pd.DataFrame, ids: pd.Index) -> np.ndarray:
        raw = _covariates(patients.drop_duplicates("patient_id")).reindex(ids).to_numpy()
        z = (raw - self.x_mean_) / self.x_scale_
        return np.column_stack([np.ones(len(ids)), np.where(np.isnan(z), 0.0, z)])

    def _design(self, xp: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fixed = np.column_stack([xp, xp * t[:, None]])
        rand = np.column_stack([np.ones_like(t), (t - self._TC) / 12.0])
        return fixed, rand

    def fit(self, cohort: Cohort) -> MixedModel:
        """Fit one MixedLM per outcome; returns ``self``."""
        import warnings

        from statsmodels.regression.mixed_linear_model import MixedLM

        self._check_outcomes()
        raw = _covariates(cohort.patients).to_numpy()
        self.x_mean_ = np.where(np.isnan(raw).all(0), 0.0, np.nanmean(raw, axis=0))
        sd = np.nanstd(raw, axis=0)
        self.x_scale_ = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
        self.x_scale_[1] = 1.0  # bulbar stays 0/1 (centred)
        ids = pd.Index(cohort.patients["patient_id"].drop_duplicates().to_numpy())
        if len(ids) > self.max_patients:
            rng = np.random.default_rng(self.random_state)
            ids = ids[np.sort(rng.choice(len(ids), self.max_patients, replace=False))]
        xp_all = self._x(cohort.patients, ids)
        self.params_: dict[str, dict[str, np.ndarray | float]] = {}
        for outcome in self.outcomes:
            obs = observations(cohort, outcome)
            obs = obs.loc[obs["patient_id"].isin(ids)]
            if obs["patient_id"].nunique() < 10:
                logger.info("MixedModel.fit: too few patients with %s; skipped", outcome)
                continue
            pos = ids.get_indexer(pd.Index(obs["patient_id"].to_numpy()))
            t = obs["day"].to_numpy() / DAYS_PER_MONTH
            fixed, rand = self._design(xp_all[pos], t)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = MixedLM(obs["y"].to_numpy(), fixed, groups=pos, exog_re=rand).fit(
                    reml=True, method=["lbfgs"]
                )
            k = fixed.shape[1]
            g = np.asarray(res.cov_re, dtype="float64") + 1e-9 * np.eye(2)
            self.params_[outcome] = {
                "beta": np.asarray(res.fe_params, dtype="float64"),
                "cov_beta": np.asarray(res.cov_params(), dtype="float64")[:k, :k],
                "G": g,
                "sigma2": float(res.scale),
            }
        return self._fitted(self.params_, "has enough patients")

    def predict(self, data: Cohort, days: ArrayLike | pd.DataFrame) -> pd.DataFrame:
        """Forecast every fitted outcome at ``days`` (days since onset)."""
        ids, grid = self._prediction_grid(data, days)
        xp = self._x(data.patients, ids)
        gpos = ids.get_indexer(pd.Index(grid["patient_id"].to_numpy()))
        parts = []
        z = stats.norm.ppf(QUANTILES)
        for outcome, p in self.params_.items():
            beta, cb = np.asarray(p["beta"]), np.asarray(p["cov_beta"])
            gi = np.linalg.inv(np.asarray(p["G"]))
            s2 = float(p["sigma2"])
            obs = observations(data, outcome)
            obs = obs.loc[obs["patient_id"].isin(ids)]
            pos = ids.get_indexer(pd.Index(obs["patient_id"].to_numpy()))
            n = len(ids)
            t = obs["day"].to_numpy() / DAYS_PER_MONTH
            fixed, rand = self._design(xp[pos], t)
            r = obs["y"].to_numpy() - fixed @ beta
            z0, z1 = rand[:, 0], rand[:, 1]
            h11 = np.bincount(pos, z0 * z0, n) / s2 + gi[0, 0]
            h12 = np.bincount(pos, z0 * z1, n) / s2 + gi[0, 1]
            h22 = np.bincount(pos, z1 * z1, n) / s2 + gi[1, 1]
            det = h11 * h22 - h12 * h12
            v11, v12, v22 = h22 / det, -h12 / det, h11 / det
            c0, c1 = np.bincount(pos, z0 * r, n) / s2, np.bincount(pos, z1 * r, n) / s2
            m0, m1 = v11 * c0 + v12 * c1, v12 * c0 + v22 * c1
            tg = grid["day"].to_numpy() / DAYS_PER_MONTH
            fg, rg = self._design(xp[gpos], tg)
            mean = fg @ beta + rg[:, 0] * m0[gpos] + rg[:, 1] * m1[gpos]
            var = (
                rg[:, 0] ** 2 * v11[gpos]
                + 2 * rg[:, 0] * rg[:, 1] * v12[gpos]
                + rg[:, 1] ** 2 * v22[gpos]
                + np.einsum("ij,jk,ik->i", fg, cb, fg)
                + s2
            )
            q = mean[None, :] + np.sqrt(var)[None, :] * z[:, None]
            n_obs = np.bincount(pos, minlength=n)[gpos]
            parts.append(_frame(grid, outcome, mean, q, n_obs))
        return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------- random forest
class ForestBaseline(_Base):
    """Random forest on baseline-window features plus the forecast horizon.

    Features: :func:`alsnet.twin.window_features` over the first ``cutoff_days``
    after the first ALSFRS-R visit (``t0``) and the horizon (months from ``t0``
    to the forecast day); missing values are median-imputed with indicators.
    Training rows: up to ``rows_per_patient`` randomly chosen visits of each
    training patient between ``cutoff_days`` and ``max_horizon_months`` after
    ``t0`` (bounding the fitting time). Only the window is used at prediction
    time, also when the input holds later visits.

    Intervals: the training rows are split into ``n_folds`` patient-grouped
    folds; the out-of-fold residuals, in ``n_bins`` bins of the horizon, give
    empirical residual quantiles added to the forest's prediction.

    Parameters
    ----------
    cutoff_days : float, default 91
    max_horizon_months : float, default 24
    n_estimators : int, default 100
        Trees of the final forest (the fold forests have half as many).
    min_samples_leaf : int, default 5
    rows_per_patient : int, default 3
    n_folds : int, default 3
    n_bins : int, default 3
    outcomes : tuple of str, default :data:`OUTCOMES`
    random_state : int, default 0
    """

    def __init__(
        self,
        *,
        cutoff_days: float = 91.0,
        max_horizon_months: float = 24.0,
        n_estimators: int = 100,
        min_samples_leaf: int = 5,
        rows_per_patient: int = 3,
        n_folds: int = 3,
        n_bins: int = 3,
        outcomes: tuple[str, ...] = OUTCOMES,
        random_state: int = 0,
    ) -> None:
        self.cutoff_days = cutoff_days
        self.max_horizon_months = max_horizon_months
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.rows_per_patient = rows_per_patient
        self.n_folds = n_folds
        self.n_bins = n_bins
        self.outcomes = tuple(outcomes)
        self.random_state = random_state

    def _features(self, cohort: Cohort) -> tuple[pd.DataFrame, pd.Series]:
        from alsnet.twin.features import feature_columns, window_features

        f = window_features(cohort, window_days=round(self.cutoff_days))
        return f[feature_columns()], first_alsfrs_day(cohort)

    def _pipeline(self, seed: int, n_estimators: int) -> object:
        from sklearn.ensemble import RandomForestRegressor
        from sklearn.impute import SimpleImputer
        from sklearn.pipeline import make_pipeline

        return make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            RandomForestRegressor(
                n_estimators=n_estimators,
                min_samples_leaf=self.min_samples_leaf,
                max_features=0.33,
                max_samples=0.7,
                n_jobs=1,
                random_state=seed,
            ),
        )

    def fit(self, cohort: Cohort) -> ForestBaseline:
        """Fit one forest per outcome and its out-of-fold residual quantiles."""
        from sklearn.model_selection import GroupKFold

        self._check_outcomes()
        feats, t0 = self._features(cohort)
        rng = np.random.default_rng(self.random_state)
        self.models_: dict[str, object] = {}
        self.resid_: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for outcome in self.outcomes:
            obs = observations(cohort, outcome)
            obs = obs.loc[obs["patient_id"].isin(feats.index)]
            h = (obs["day"].to_numpy() - obs["patient_id"].map(t0).to_numpy()) / DAYS_PER_MONTH
            keep = (h * DAYS_PER_MONTH > self.cutoff_days) & (h <= self.max_horizon_months)
            obs, h = obs.loc[keep], h[keep]
            rank = pd.Series(rng.random(len(obs))).groupby(obs["patient_id"].to_numpy()).rank()
            keep = rank.to_numpy() <= self.rows_per_patient
            obs, h = obs.loc[keep], h[keep]
            if obs["patient_id"].nunique() < 3 * self.n_folds:
                logger.info("ForestBaseline.fit: too few patients with %s; skipped", outcome)
                continue
            x = feats.reindex(obs["patient_id"]).to_numpy()
            x = np.column_stack([x, h])
            y = obs["y"].to_numpy()
            groups = obs["patient_id"].to_numpy()
            oof = np.empty_like(y)
            for k, (tr, te) in enumerate(GroupKFold(self.n_folds).split(x, y, groups)):
                m = self._pipeline(self.random_state + 1 + k, max(self.n_estimators // 2, 1))
                m.fit(x[tr], y[tr])  # type: ignore[attr-defined]
                oof[te] = m.predict(x[te])  # type: ignore[attr-defined]
            edges = np.quantile(h, np.linspace(0, 1, self.n_bins + 1)[1:-1])
            b = np.searchsorted(edges, h)
            rq = np.stack([np.quantile((y - oof)[b == j], QUANTILES) for j in range(self.n_bins)])
            rmean = np.array([(y - oof)[b == j].mean() for j in range(self.n_bins)])
            model = self._pipeline(self.random_state, self.n_estimators)
            model.fit(x, y)  # type: ignore[attr-defined]
            self.models_[outcome] = model
            self.resid_[outcome] = (edges, np.column_stack([rmean, rq]))
        return self._fitted(self.models_, "has enough patients")

    def predict(self, data: Cohort, days: ArrayLike | pd.DataFrame) -> pd.DataFrame:
        """Forecast every fitted outcome at ``days`` (days since onset)."""
        _, grid = self._prediction_grid(data, days)
        feats, t0 = self._features(data)
        pid = grid["patient_id"]
        t0g = pid.map(t0).to_numpy(dtype="float64", na_value=np.nan)
        h = (grid["day"].to_numpy() - np.where(np.isnan(t0g), 0.0, t0g)) / DAYS_PER_MONTH
        x = np.column_stack([feats.reindex(pid).to_numpy(), h])
        parts = []
        for outcome, model in self.models_.items():
            pred = model.predict(x)  # type: ignore[attr-defined]
            edges, table = self.resid_[outcome]
            row = table[np.searchsorted(edges, h)]
            q = (pred[:, None] + row[:, 1:]).T
            counts = pid.map(observations(data, outcome).groupby("patient_id").size())
            n_obs = counts.fillna(0).to_numpy(dtype=np.int64)
            parts.append(_frame(grid, outcome, pred + row[:, 0], q, n_obs))
        return pd.concat(parts, ignore_index=True)


# ------------------------------------------------------------------------ ENCALS
_ENCALS_FILL = {"bulbar_onset": 0.0, "definite_el_escorial": 0.0, "ftd": 0.0, "c9orf72": 0.0}


class EncalsSurvival:
    """Event-free survival (death, tracheostomy, permanent ventilation) from ENCALS.

    The ENCALS linear predictor (paper model, Westeneng et al. 2018) is computed
    at the first ALSFRS-R visit (:func:`alsnet.clinical.baseline.encals_baseline`).
    Missing or out-of-domain predictors are replaced by the training median
    (continuous) or 0 (binary), a documented fallback so that every patient gets
    a prediction.

    Parameters
    ----------
    baseline : {"weibull", "published"}, default "weibull"
        ``"published"``: ``S(t) = 1 / (1 + exp(s(ln t) + LP))`` with the published
        spline baseline (:func:`alsnet.clinical.encals.encals_survival`).
        ``"weibull"``: ``S(t) = exp(−exp(a + b·LP) t^k)``, t in months since onset,
        with (a, b, log k) fitted by maximum likelihood on the training patients
        with delayed entry at their first ALSFRS-R visit (registry patients are
        seen only once they survived that long).
    """

    def __init__(self, *, baseline: Literal["weibull", "published"] = "weibull") -> None:
        if baseline not in ("weibull", "published"):
            raise ValueError(f"baseline must be 'weibull' or 'published', not {baseline!r}")
        self.baseline = baseline

    def _predictors(self, cohort: Cohort) -> pd.DataFrame:
        from alsnet.clinical.baseline import encals_baseline
        from alsnet.clinical.encals import ENCALS_PREDICTORS, encals_table

        base = encals_baseline(cohort.patients, cohort.visits)
        tab = encals_table(base, errors="flag")
        bad = tab["encals_lp"].isna().to_numpy()
        if bad.any():
            base = base.copy()
            for c in ENCALS_PREDICTORS:
                x = pd.to_numeric(base[c], errors="coerce").to_numpy(dtype="float64")
                fill = _ENCALS_FILL.get(c, self.medians_.get(c, np.nan))
                base[c] = np.where(bad & np.isnan(x), fill, x)
            tab = encals_table(base, errors="flag")
            still = tab["encals_lp"].isna().to_numpy()
            if still.any():
                for c in ENCALS_PREDICTORS:
                    fill = _ENCALS_FILL.get(c, self.medians_.get(c, np.nan))
                    base[c] = np.where(still, fill, base[c].to_numpy(dtype="float64"))
                tab = encals_table(base, errors="flag")
        return tab.set_index("patient_id")

    def fit(self, cohort: Cohort) -> EncalsSurvival:
        """Learn the imputation medians and (for ``"weibull"``) the calibration."""
        from alsnet.clinical.baseline import encals_baseline
        from alsnet.clinical.encals import ENCALS_PREDICTORS, encals_table

        base = encals_baseline(cohort.patients, cohort.visits)
        ok = encals_table(base, errors="flag")["encals_lp"].notna().to_numpy()
        src = base.loc[ok] if ok.any() else base
        self.medians_ = {
            c: float(pd.to_numeric(src[c], errors="coerce").median())
            for c in ENCALS_PREDICTORS
            if c not in _ENCALS_FILL
        }
        self.coef_ = np.array([0.0, 1.0, 0.0])
        if self.baseline == "weibull":
            tab = self._predictors(cohort)
            et = event_times(cohort)
            both = et.index.intersection(tab.index[tab["baseline_day"].notna()])
            lp = tab.loc[both, "encals_lp"].to_numpy(dtype="float64")
            entry = np.maximum(tab.loc[both, "baseline_day"].to_numpy(dtype="float64"), 1.0)
            t = et.loc[both, "time_days"].to_numpy(dtype="float64")
            d = et.loc[both, "event"].to_numpy(dtype=bool)
            keep = t > entry
            if d[keep].sum() < 5:
                raise AlsnetError(
                    "EncalsSurvival.fit: fewer than 5 events after the first visit; "
                    "use baseline='published'"
                )
            self.coef_ = _fit_weibull(
                lp[keep], entry[keep] / DAYS_PER_MONTH, t[keep] / DAYS_PER_MONTH, d[keep]
            )
        self.fitted_ = True
        return self

    def linear_predictor(self, cohort: Cohort) -> pd.Series:
        """ENCALS LP per patient (index patient_id; NaN without an ALSFRS-R visit)."""
        if not getattr(self, "fitted_", False):
            raise NotFittedError("this EncalsSurvival is not fitted yet; call fit(cohort)")
        return self._predictors(cohort)["encals_lp"].astype("float64")

    def survival(self, cohort: Cohort, months: ArrayLike) -> pd.DataFrame:
        """Probability of being event-free at ``months`` since onset.

        Returns
        -------
        DataFrame
            Index patient_id (input order), one column per month (float).
        """
        from alsnet.clinical.encals import encals_survival

        lp = self.linear_predictor(cohort)
        m = np.atleast_1d(np.asarray(months, dtype="float64"))
        x = lp.to_numpy()[:, None]
        if self.baseline == "published":
            s = encals_survival(x, m[None, :])
        else:
            a, b, logk = self.coef_
            s = np.exp(-np.exp(a + b * x) * np.maximum(m, 0.0)[None, :] ** np.exp(logk))
        return pd.DataFrame(s, index=lp.index, columns=m)


def _fit_weibull(lp: np.ndarray, entry: np.ndarray, t: np.ndarray, d: np.ndarray) -> np.ndarray:
    """ML fit of S(t) = exp(−exp(a + b·lp) t^k) with delayed entry; returns (a, b, log k)."""
    lt, le = np.log(t), np.log(entry)
    lpc = lp - lp.mean()

    def nll(p: np.ndarray) -> float:
        a, b, logk = p
        k = np.exp(logk)
        eta = a + b * lpc
        cum = np.exp(eta) * (np.exp(k * lt) - np.exp(k * le))
        loghaz = eta + logk + (k - 1.0) * lt
        return float(-(np.sum(d * loghaz) - np.sum(cum)))

    start = np.array([np.log(max(d.sum(), 1) / np.sum(t - entry)), 1.0, 0.0])
    res = optimize.minimize(
        nll, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-8}
    )
    res = optimize.minimize(nll, res.x, method="BFGS")
    a, b, logk = res.x
    return np.array([a - b * lp.mean(), b, logk])
