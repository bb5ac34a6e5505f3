"""Digital-twin trajectory model: D50 sigmoids with empirical-Bayes patient effects.

Each patient's ALSFRS-R total follows the D50 model (cohort-figures.md §1)::

    y_ij = 48 / (1 + exp((t_ij - D50_i) / dx_i)) + e_ij,   e_ij ~ N(0, sigma^2),

with ``t`` in months since onset. The patient parameters
``theta_i = (log D50_i, log dx_i)`` are drawn from ``N(B^T x_i, Sigma)``, where
``x_i`` holds an intercept and standardised baseline covariates (age at onset,
bulbar onset, diagnostic delay; optionally log(1 + ΔFS) at the first ALSFRS-R
visit, off by default because it double-counts that visit, see
:data:`DEFAULT_COVARIATES`). Missing covariates are set to the training mean.

Fitting is empirical Bayes with a Laplace approximation: alternate (a)
damped Gauss-Newton steps for every patient's MAP ``theta_i`` given the population
prior (vectorised over all patients with :func:`numpy.bincount`) and (b) closed-form
updates of ``B`` (least squares), ``Sigma`` (mean outer product of prior residuals
plus posterior covariances) and ``sigma`` (residual sum of squares plus the
linearised posterior-variance term).

Predictions condition on every ALSFRS-R visit in the input: each patient's MAP
and Laplace covariance give draws of ``theta``; the sigmoid at the requested days
plus ``N(0, sigma^2)`` noise, clipped to 0-48, gives predictive quantiles of an
observed total. The Laplace approximation is corrected by sampling-importance-
resampling against the exact posterior. Population-parameter uncertainty is
ignored (plug-in).
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from alsnet.clinical.alsfrs import alsfrs_scores
from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.cohort import Cohort
from alsnet.exceptions import AlsnetError, NotFittedError

__all__ = [
    "COVARIATES",
    "DEFAULT_COVARIATES",
    "MODEL_VERSION",
    "QUANTILES",
    "TwinModel",
    "twin_covariates",
]

logger = logging.getLogger(__name__)

#: Format version of saved models (bump when the JSON layout changes).
MODEL_VERSION = "twin-d50-1"

#: Baseline covariates available to the population regression (before standardisation).
COVARIATES: tuple[str, ...] = ("age_onset", "bulbar_onset", "log1p_delta_fs", "diagnosis_delay")

#: Default covariates. ΔFS is left out: it is a function of the first visit, which the
#: likelihood already uses, so the prior would count that visit twice and the
#: intervals come out too narrow (held-out synthetic 12-month coverage 72% / 87% for
#: nominal 80% / 95% with it, 80% / 94% without; RMSE 6.1 vs 5.8 points).
DEFAULT_COVARIATES: tuple[str, ...] = ("age_onset", "bulbar_onset", "diagnosis_delay")

#: Predictive quantile levels reported by :meth:`TwinModel.predict`.
QUANTILES: tuple[float, ...] = (0.025, 0.10, 0.50, 0.90, 0.975)
_QCOLS = ("q025", "q10", "q50", "q90", "q975")
_TOP = 48.0
_CLIP = 60.0
_T_DF = 5.0
_T_SCALE = 1.2


def _observations(cohort: Cohort) -> pd.DataFrame:
    """ALSFRS-R totals with a day: columns patient_id, month (since onset), y."""
    v = cohort.visits
    total = alsfrs_scores(v)["alsfrs_r_total"].to_numpy(dtype="float64")
    day = v["day"].to_numpy(dtype="float64", na_value=np.nan)
    ok = ~np.isnan(total) & ~np.isnan(day)
    return pd.DataFrame(
        {
            "patient_id": v["patient_id"].to_numpy()[ok],
            "month": day[ok] / DAYS_PER_MONTH,
            "y": total[ok],
        }
    )


def twin_covariates(patients: pd.DataFrame, obs: pd.DataFrame) -> pd.DataFrame:
    """Raw (unstandardised) baseline covariates of :data:`COVARIATES`, one row per patient.

    Parameters
    ----------
    patients : DataFrame
        Canonical patients table.
    obs : DataFrame
        Observations with ``patient_id``, ``month`` (months since onset) and ``y``
        (ALSFRS-R total, points).

    Returns
    -------
    DataFrame
        Indexed by ``patient_id`` (order of ``patients``): ``age_onset`` (years),
        ``bulbar_onset`` (0/1; NaN unknown), ``log1p_delta_fs`` (log(1 + ΔFS),
        ΔFS = (48 − first total) / months since onset at the first visit, floored at
        0; NaN without a visit at month > 0) and ``diagnosis_delay`` (months).
    """
    first = obs.sort_values(["patient_id", "month"], kind="stable").drop_duplicates("patient_id")
    first = first.set_index("patient_id")
    pid = patients["patient_id"]
    m = pid.map(first["month"]).to_numpy(dtype="float64", na_value=np.nan)
    y = pid.map(first["y"]).to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        dfs = np.where(m > 0, np.maximum(_TOP - y, 0.0) / m, np.nan)
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
            "log1p_delta_fs": np.log1p(dfs),
            "diagnosis_delay": patients["diagnosis_day"].to_numpy(dtype="float64", na_value=np.nan)
            / DAYS_PER_MONTH,
        },
        index=pd.Index(pid.to_numpy(), name="patient_id"),
    )


def _curve(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sigmoid value and its derivatives in (log D50, log dx) at months ``t``."""
    d50, dx = np.exp(a), np.exp(b)
    u = np.clip((t - d50) / dx, -_CLIP, _CLIP)
    s = 1.0 / (1.0 + np.exp(u))
    w = _TOP * s * (1.0 - s)
    return _TOP * s, w * d50 / dx, w * u


def _inv2(h11: np.ndarray, h12: np.ndarray, h22: np.ndarray) -> tuple[np.ndarray, ...]:
    det = h11 * h22 - h12 * h12
    return h22 / det, -h12 / det, h11 / det


class _Posterior:
    """Per-patient MAP (n, 2) and Laplace covariance entries given a prior."""

    def __init__(self, theta: np.ndarray, v11: np.ndarray, v12: np.ndarray, v22: np.ndarray):
        self.theta, self.v11, self.v12, self.v22 = theta, v11, v12, v22


def _map_fit(
    idx: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    mu: np.ndarray,
    prec: np.ndarray,
    sigma: float,
    theta: np.ndarray,
    n_steps: int,
) -> tuple[_Posterior, float, float]:
    """Damped Gauss-Newton MAP of every patient at once.

    Returns the posterior, the total squared residual at the MAP and the linearised
    trace term sum_i tr(J_i^T J_i V_i).
    """
    n = mu.shape[0]
    p11, p12, p22 = prec[0, 0], prec[0, 1], prec[1, 1]
    w = 1.0 / sigma**2

    def objective(th: np.ndarray) -> np.ndarray:
        f = _curve(t, th[idx, 0], th[idx, 1])[0]
        rss = np.bincount(idx, (y - f) ** 2, minlength=n)
        d = th - mu
        pen = p11 * d[:, 0] ** 2 + 2 * p12 * d[:, 0] * d[:, 1] + p22 * d[:, 1] ** 2
        return np.asarray(w * rss + pen)

    theta = theta.copy()
    obj = objective(theta)
    for _ in range(n_steps):
        f, ja, jb = _curve(t, theta[idx, 0], theta[idx, 1])
        r = y - f
        h11 = w * np.bincount(idx, ja * ja, minlength=n) + p11
        h12 = w * np.bincount(idx, ja * jb, minlength=n) + p12
        h22 = w * np.bincount(idx, jb * jb, minlength=n) + p22
        d = theta - mu
        g1 = w * np.bincount(idx, ja * r, minlength=n) - (p11 * d[:, 0] + p12 * d[:, 1])
        g2 = w * np.bincount(idx, jb * r, minlength=n) - (p12 * d[:, 0] + p22 * d[:, 1])
        i11, i12, i22 = _inv2(h11, h12, h22)
        step = np.column_stack([i11 * g1 + i12 * g2, i12 * g1 + i22 * g2])
        step = np.clip(step, -1.0, 1.0)
        scale = np.ones(n)
        todo = np.ones(n, dtype=bool)
        for _ in range(8):  # step halving, vectorised over patients
            cand = theta + scale[:, None] * step
            new = objective(cand)
            better = todo & (new <= obj)
            theta[better] = cand[better]
            obj[better] = new[better]
            todo &= ~better
            if not todo.any():
                break
            scale[todo] *= 0.5
    f, ja, jb = _curve(t, theta[idx, 0], theta[idx, 1])
    a11 = np.bincount(idx, ja * ja, minlength=n)
    a12 = np.bincount(idx, ja * jb, minlength=n)
    a22 = np.bincount(idx, jb * jb, minlength=n)
    v11, v12, v22 = _inv2(w * a11 + p11, w * a12 + p12, w * a22 + p22)
    rss = float(np.sum((y - f) ** 2))
    trace = float(np.sum(a11 * v11 + 2 * a12 * v12 + a22 * v22))
    return _Posterior(theta, v11, v12, v22), rss, trace


class _Conditioned:
    """Everything known about the patients to predict: ids, posteriors and their data."""

    def __init__(
        self,
        ids: pd.Index,
        post: _Posterior,
        mu: np.ndarray,
        prec: np.ndarray,
        idx: np.ndarray,
        t: np.ndarray,
        y: np.ndarray,
        sigma: float,
    ):
        self.sigma = sigma
        self.ids, self.post, self.mu, self.prec = ids, post, mu, prec
        self.idx, self.t, self.y = idx, t, y
        self.n_obs = np.bincount(idx, minlength=len(ids))


class TwinModel:
    """ALSFRS-R digital twin: D50 sigmoid per patient with empirical-Bayes shrinkage.

    Parameters
    ----------
    max_iter : int, default 100
        Maximum outer iterations (MAP steps + population update).
    n_gn_steps : int, default 3
        Gauss-Newton steps per patient per outer iteration.
    tol : float, default 1e-5
        Convergence tolerance on the largest change of the population parameters.
    n_draws : int, default 1000
        Posterior draws per patient for predictive quantiles.
    conditioning_steps : int, default 30
        Gauss-Newton steps for each patient's MAP at prediction time.
    covariates : tuple of str, default :data:`DEFAULT_COVARIATES`
        Subset of :data:`COVARIATES` in the population regression.
    n_mc_iter : int, default 10
        Monte-Carlo EM iterations after the Laplace-EM phase (0 = Laplace only,
        which biases log D50 and sigma down by a few percent).
    mc_draws : int, default 100
        Posterior draws per patient in each Monte-Carlo EM iteration.
    random_state : int, default 0
        Seed of the Monte-Carlo EM draws (fit is deterministic given it).

    Attributes
    ----------
    coef_ : ndarray, shape (1 + n_covariates, 2)
        Population regression of (log D50, log dx) (D50, dx in months) on
        [1, standardised covariates].
    cov_ : ndarray, shape (2, 2)
        Between-patient covariance of (log D50, log dx).
    sigma_ : float
        Residual SD of an observed ALSFRS-R total, points.
    x_mean_, x_scale_ : ndarray, shape (n_covariates,)
        Covariate standardisation (missing covariates are set to the mean).
    n_patients_, n_obs_, n_iter_ : int
        Training patients, observations and outer iterations used.
    fingerprint_ : str
        :attr:`Cohort.fingerprint` of the training cohort.
    """

    def __init__(
        self,
        *,
        max_iter: int = 100,
        n_gn_steps: int = 3,
        tol: float = 1e-5,
        n_draws: int = 1000,
        conditioning_steps: int = 30,
        covariates: tuple[str, ...] = DEFAULT_COVARIATES,
        n_mc_iter: int = 10,
        mc_draws: int = 100,
        random_state: int = 0,
    ) -> None:
        self.n_mc_iter = n_mc_iter
        self.mc_draws = mc_draws
        self.random_state = random_state
        self.covariates = tuple(covariates)
        self.max_iter = max_iter
        self.n_gn_steps = n_gn_steps
        self.tol = tol
        self.n_draws = n_draws
        self.conditioning_steps = conditioning_steps
        self.library_versions_: dict[str, str] = {}

    # ------------------------------------------------------------------ helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("this TwinModel is not fitted yet; call fit(cohort) first")

    def _design(self, raw: pd.DataFrame) -> np.ndarray:
        z = (raw.to_numpy(dtype="float64") - self.x_mean_) / self.x_scale_
        z = np.where(np.isnan(z), 0.0, z)
        return np.column_stack([np.ones(len(raw)), z])

    def _condition(self, patients: pd.DataFrame, obs: pd.DataFrame) -> _Conditioned:
        ids = pd.Index(patients["patient_id"].drop_duplicates().to_numpy(), name="patient_id")
        obs = obs.loc[obs["patient_id"].isin(ids)]
        raw = twin_covariates(patients.drop_duplicates("patient_id"), obs)[list(self.covariates)]
        mu = self._design(raw) @ self.coef_
        idx = ids.get_indexer(pd.Index(obs["patient_id"].to_numpy()))
        t, y = obs["month"].to_numpy(dtype="float64"), obs["y"].to_numpy(dtype="float64")
        prec = np.linalg.inv(self.cov_)
        post, _, _ = _map_fit(idx, t, y, mu, prec, self.sigma_, mu.copy(), self.conditioning_steps)
        return _Conditioned(ids, post, mu, prec, idx, t, y, self.sigma_)

    def _posterior_draws(
        self, c: _Conditioned, lo: int, hi: int, n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Posterior draws of (log D50, log dx) for patients lo..hi-1, shape (k, n) each.

        Sampling-importance-resampling: proposals from a multivariate t (5 df, scale
        1.2) around each patient's Laplace approximation, weighted by the exact
        unnormalised posterior (Gaussian likelihood x population prior).
        """
        from scipy import sparse

        k = hi - lo
        post = c.post
        l11 = np.sqrt(post.v11[lo:hi])
        l21 = post.v12[lo:hi] / l11
        l22 = np.sqrt(np.maximum(post.v22[lo:hi] - l21**2, 0.0))
        df, scale = _T_DF, _T_SCALE
        z = rng.standard_normal((2, k, n)) * scale
        g = np.sqrt(rng.chisquare(df, (k, n)) / df)
        z = z / g
        a = post.theta[lo:hi, 0, None] + l11[:, None] * z[0]
        b = post.theta[lo:hi, 1, None] + l21[:, None] * z[0] + l22[:, None] * z[1]
        logq = -0.5 * (df + 2.0) * np.log1p((z[0] ** 2 + z[1] ** 2) / (df * scale**2))
        da, db = a - c.mu[lo:hi, 0, None], b - c.mu[lo:hi, 1, None]
        p = c.prec
        logp = -0.5 * (p[0, 0] * da**2 + 2 * p[0, 1] * da * db + p[1, 1] * db**2)
        sel = (c.idx >= lo) & (c.idx < hi)
        rows = c.idx[sel] - lo
        if rows.size:
            f = _curve(c.t[sel, None], a[rows], b[rows])[0]
            ll = -0.5 * ((c.y[sel, None] - f) / c.sigma) ** 2
            member = sparse.csr_matrix(
                (np.ones(rows.size), (rows, np.arange(rows.size))), shape=(k, rows.size)
            )
            logp = logp + np.asarray(member @ ll)
        logw = logp - logq
        w = np.exp(logw - logw.max(axis=1, keepdims=True))
        cw = np.cumsum(w, axis=1)
        cw /= cw[:, -1:]
        cw[:, -1] = 1.0
        u = rng.random((k, n))
        offset = np.arange(k)[:, None] * 2.0
        pick = np.searchsorted((cw + offset).ravel(), (u + offset).ravel(), side="left")
        pick = np.minimum(pick.reshape(k, n) - np.arange(k)[:, None] * n, n - 1)
        rix = np.arange(k)[:, None]
        return a[rix, pick], b[rix, pick]

    # --------------------------------------------------------------------- fit
    def fit(self, cohort: Cohort) -> TwinModel:
        """Fit the population model to every patient with at least one ALSFRS-R total.

        Parameters
        ----------
        cohort : Cohort
            Canonical cohort (reads ``patients`` and ``visits``).

        Returns
        -------
        TwinModel
            ``self``.

        Raises
        ------
        ValueError
            No patient has an ALSFRS-R total.
        """
        obs = _observations(cohort)
        patients = cohort.patients
        has = patients["patient_id"].isin(obs["patient_id"]).to_numpy()
        if not has.any():
            raise ValueError("TwinModel.fit: no patient has an ALSFRS-R total")
        if (~has).any():
            logger.info("TwinModel.fit: %d patient(s) without ALSFRS-R left out", int((~has).sum()))
        patients = patients.loc[has]
        ids = pd.Index(patients["patient_id"].to_numpy())
        unknown = set(self.covariates) - set(COVARIATES)
        if unknown:
            raise ValueError(f"unknown covariates {sorted(unknown)}; choose from {COVARIATES}")
        raw = twin_covariates(patients, obs)[list(self.covariates)]
        vals = raw.to_numpy(dtype="float64")
        self.x_mean_ = np.where(np.isnan(vals).all(0), 0.0, np.nanmean(vals, axis=0))
        sd = np.nanstd(vals, axis=0) if len(vals) > 1 else np.ones(vals.shape[1])
        self.x_scale_ = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
        X = self._design(raw)
        idx = ids.get_indexer(pd.Index(obs["patient_id"].to_numpy()))
        t, y = obs["month"].to_numpy(), obs["y"].to_numpy()
        n, k = X.shape
        coef = np.zeros((k, 2))
        coef[0] = np.log([30.0, 8.0])
        cov = np.diag([0.5**2, 0.5**2])
        sigma = 3.0
        theta = X @ coef
        xtx_inv_xt = np.linalg.pinv(X)
        it, converged = 0, False
        while it < self.max_iter and not converged:
            it += 1
            post, rss, trace = _map_fit(
                idx, t, y, X @ coef, np.linalg.inv(cov), sigma, theta, self.n_gn_steps
            )
            theta = post.theta
            new_coef = xtx_inv_xt @ theta
            res = theta - X @ new_coef
            new_cov = res.T @ res / n + np.array(
                [
                    [post.v11.mean(), post.v12.mean()],
                    [post.v12.mean(), post.v22.mean()],
                ]
            )
            new_cov += 1e-8 * np.eye(2)
            new_sigma = float(np.sqrt((rss + trace) / len(y)))
            change = max(
                np.abs(new_coef - coef).max(),
                np.abs(new_cov - cov).max(),
                abs(new_sigma - sigma) / sigma,
            )
            coef, cov, sigma = new_coef, new_cov, new_sigma
            converged = change < self.tol
        if not converged:
            logger.warning("TwinModel.fit: no convergence in %d iterations", self.max_iter)
        # Monte-Carlo EM polish: exact posterior draws (SIR) remove the Laplace bias.
        rng = np.random.default_rng(self.random_state)
        for _ in range(self.n_mc_iter):
            mu = X @ coef
            prec = np.linalg.inv(cov)
            post, _, _ = _map_fit(idx, t, y, mu, prec, sigma, theta, self.n_gn_steps)
            theta = post.theta
            cond = _Conditioned(ids, post, mu, prec, idx, t, y, sigma)
            a, b = self._posterior_draws(cond, 0, n, self.mc_draws, rng)
            ma, mb = a.mean(axis=1), b.mean(axis=1)
            coef = xtx_inv_xt @ np.column_stack([ma, mb])
            ra, rb = a - (X @ coef)[:, 0, None], b - (X @ coef)[:, 1, None]
            cov = np.array(
                [
                    [np.mean(ra * ra), np.mean(ra * rb)],
                    [np.mean(ra * rb), np.mean(rb * rb)],
                ]
            ) + 1e-8 * np.eye(2)
            f = _curve(t[:, None], a[idx], b[idx])[0]
            sigma = float(np.sqrt(np.mean((y[:, None] - f) ** 2)))
        self.coef_, self.cov_, self.sigma_ = coef, cov, sigma
        self.n_patients_, self.n_obs_, self.n_iter_ = n, len(y), it
        self.fingerprint_ = cohort.fingerprint
        return self

    # ----------------------------------------------------------------- predict
    def _prepare(
        self, data: Cohort | pd.DataFrame, days: ArrayLike | pd.DataFrame
    ) -> tuple[pd.DataFrame, np.ndarray, _Conditioned]:
        """Condition on the input's visits; return the prediction grid and posteriors."""
        self._check_fitted()
        if isinstance(data, Cohort):
            patients, obs = data.patients, _observations(data)
        else:
            patients = data
            obs = pd.DataFrame({"patient_id": pd.Series([], dtype=object), "month": [], "y": []})
        cond = self._condition(patients, obs)
        ids = cond.ids
        if isinstance(days, pd.DataFrame):
            grid = days[["patient_id", "day"]].reset_index(drop=True)
            pos = ids.get_indexer(pd.Index(grid["patient_id"].to_numpy()))
            if (pos < 0).any():
                raise ValueError("days: patient_id not among the input patients")
        else:
            d = np.atleast_1d(np.asarray(days, dtype="float64"))
            pos = np.repeat(np.arange(len(ids)), len(d))
            grid = pd.DataFrame({"patient_id": ids.to_numpy()[pos], "day": np.tile(d, len(ids))})
        if grid["day"].isna().any():
            raise ValueError("days must not contain NaN")
        return grid, pos, cond

    def predict(
        self,
        data: Cohort | pd.DataFrame,
        days: ArrayLike | pd.DataFrame,
        *,
        seed: int | np.random.Generator | None = 0,
        chunk_size: int = 2_000,
    ) -> pd.DataFrame:
        """Predictive distribution of an observed ALSFRS-R total at given days.

        Parameters
        ----------
        data : Cohort or DataFrame
            A cohort (conditions on all its ALSFRS-R visits) or a canonical
            patients table (no visits: covariate prior only). Patients without an
            ALSFRS-R visit get the covariate-only prediction (``n_obs`` = 0);
            missing covariates are set to the training mean. Never NaN.
        days : array-like or DataFrame
            Days since onset, the same for every patient, or a DataFrame with
            ``patient_id`` and ``day`` rows.
        seed : int, Generator or None, default 0
            Randomness of the posterior draws.
        chunk_size : int, default 2000
            Patients per batch of draws (bounds memory).

        Returns
        -------
        DataFrame
            patient_id, day (days since onset), outcome ("alsfrs_r_total"),
            mean, q025, q10, q50, q90, q975 (points, within 0-48) and n_obs
            (ALSFRS-R visits conditioned on).
        """
        rng = np.random.default_rng(seed)
        grid, pos, cond = self._prepare(data, days)
        day = grid["day"].to_numpy(dtype="float64")
        m = len(grid)
        mean = np.empty(m)
        q = np.empty((len(QUANTILES), m))
        order = np.argsort(pos, kind="stable")
        bounds = np.searchsorted(pos[order], np.arange(0, len(cond.ids) + chunk_size, chunk_size))
        for j, lo in enumerate(range(0, len(cond.ids), chunk_size)):
            hi = min(lo + chunk_size, len(cond.ids))
            rows = order[bounds[j] : bounds[j + 1]]
            if rows.size == 0:
                continue
            a, b = self._posterior_draws(cond, lo, hi, self.n_draws, rng)
            r = pos[rows] - lo
            f = _curve((day[rows] / DAYS_PER_MONTH)[:, None], a[r], b[r])[0]
            f = np.clip(f + self.sigma_ * rng.standard_normal(f.shape), 0.0, _TOP)
            mean[rows] = f.mean(axis=1)
            q[:, rows] = np.quantile(f, QUANTILES, axis=1)
        out = grid[["patient_id", "day"]].copy()
        out.insert(2, "outcome", "alsfrs_r_total")
        out["mean"] = mean
        for col, row in zip(_QCOLS, q, strict=True):
            out[col] = row
        out["n_obs"] = cond.n_obs[pos]
        return out

    def sample(
        self,
        data: Cohort | pd.DataFrame,
        days: ArrayLike,
        n: int,
        seed: int | np.random.Generator | None = 0,
        *,
        noise: bool = True,
    ) -> np.ndarray:
        """Draw trajectories of the ALSFRS-R total.

        Parameters
        ----------
        data : Cohort or DataFrame
            As in :meth:`predict`.
        days : array-like
            Days since onset, shared by all patients.
        n : int
            Trajectories per patient.
        seed : int, Generator or None, default 0
            Randomness.
        noise : bool, default True
            Add independent residual noise per time point (observed totals,
            clipped to 0-48); False gives latent sigmoid trajectories.

        Returns
        -------
        ndarray, shape (n_patients, n, n_days)
            Totals in points; patients in input order (first occurrence).
        """
        d = np.atleast_1d(np.asarray(days, dtype="float64"))
        rng = np.random.default_rng(seed)
        _, _, cond = self._prepare(data, d)
        a, b = self._posterior_draws(cond, 0, len(cond.ids), n, rng)
        f = _curve((d / DAYS_PER_MONTH)[None, None, :], a[:, :, None], b[:, :, None])[0]
        if noise:
            f = np.clip(f + self.sigma_ * rng.standard_normal(f.shape), 0.0, _TOP)
        return np.asarray(f)

    # ------------------------------------------------------------- persistence
    def _payload(self) -> dict[str, Any]:
        import scipy
        import sklearn

        import alsnet

        return {
            "model_version": MODEL_VERSION,
            "hyperparameters": {
                "max_iter": self.max_iter,
                "n_gn_steps": self.n_gn_steps,
                "tol": self.tol,
                "n_draws": self.n_draws,
                "conditioning_steps": self.conditioning_steps,
                "covariates": list(self.covariates),
                "n_mc_iter": self.n_mc_iter,
                "mc_draws": self.mc_draws,
                "random_state": self.random_state,
            },
            "params": {
                "coef": self.coef_.tolist(),
                "cov": self.cov_.tolist(),
                "sigma": self.sigma_,
                "x_mean": self.x_mean_.tolist(),
                "x_scale": self.x_scale_.tolist(),
                "n_patients": self.n_patients_,
                "n_obs": self.n_obs_,
                "n_iter": self.n_iter_,
            },
            "training_fingerprint": self.fingerprint_,
            "library_versions": {
                "alsnet": alsnet.__version__,
                "python": platform.python_version(),
                "numpy": np.__version__,
                "pandas": pd.__version__,
                "scipy": scipy.__version__,
                "sklearn": sklearn.__version__,
            },
        }

    @staticmethod
    def _digest(payload: dict[str, Any]) -> str:
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def save(self, path: str | Path) -> Path:
        """Write the fitted model as JSON with a SHA-256 checksum of its content.

        Parameters
        ----------
        path : str or Path
            Output file.

        Returns
        -------
        Path
            The written file.
        """
        self._check_fitted()
        payload = self._payload()
        doc = {"model": payload, "sha256": self._digest(payload)}
        p = Path(path)
        p.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | Path) -> TwinModel:
        """Read a model written by :meth:`save`, verifying version and checksum.

        Raises
        ------
        AlsnetError
            Unreadable file, unknown model version or checksum mismatch (the file
            was changed after saving).
        """
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            payload, digest = doc["model"], doc["sha256"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AlsnetError(f"{path}: not a TwinModel file ({exc})") from exc
        if cls._digest(payload) != digest:
            raise AlsnetError(f"{path}: checksum mismatch; the model file was modified")
        if payload.get("model_version") != MODEL_VERSION:
            raise AlsnetError(
                f"{path}: model version {payload.get('model_version')!r}, "
                f"this alsnet reads {MODEL_VERSION!r}"
            )
        model = cls(**payload["hyperparameters"])
        prm = payload["params"]
        model.coef_ = np.asarray(prm["coef"], dtype="float64")
        model.cov_ = np.asarray(prm["cov"], dtype="float64")
        model.sigma_ = float(prm["sigma"])
        model.x_mean_ = np.asarray(prm["x_mean"], dtype="float64")
        model.x_scale_ = np.asarray(prm["x_scale"], dtype="float64")
        model.n_patients_, model.n_obs_ = int(prm["n_patients"]), int(prm["n_obs"])
        model.n_iter_ = int(prm["n_iter"])
        model.fingerprint_ = payload["training_fingerprint"]
        model.library_versions_ = payload["library_versions"]
        return model
