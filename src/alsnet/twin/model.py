"""Joint digital-twin model: ALSFRS-R, FVC % predicted and the composite event.

**ALSFRS-R.** Each patient's total follows the D50 model (cohort-figures.md §1)::

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
linearised posterior-variance term), then a few Monte-Carlo EM iterations with
exact posterior draws (sampling-importance-resampling, SIR).

**FVC % predicted** (:mod:`alsnet.twin._fvc`): ``fvc = a_i - b_i F_i(t) + e`` with
``F_i`` the fraction of function lost on the patient's ALSFRS-R sigmoid, random
``(a_i, b_i)`` and exact Gaussian conditioning given ``theta``; fitted by EM over
posterior draws of ``theta`` weighted by their FVC marginal likelihood.

**Composite event** (death, tracheostomy, permanent ventilation;
:mod:`alsnet.twin._events`): Weibull proportional hazards whose linear predictor
holds the baseline covariates and ``theta`` (shared-parameter joint model),
fitted by maximum likelihood averaged over posterior draws of ``theta``, with
left truncation at the first contact.

Predictions condition on every ALSFRS-R and FVC visit in the input and on
event-free survival up to the last contact: the posterior of ``theta`` is
proportional to prior x ALSFRS-R likelihood x FVC marginal likelihood (``a, b``
integrated out) x ``S(last) / S(first contact)``, and the FVC patient effects are
conditioned exactly for each draw of ``theta``. The event part is fitted after
the ALSFRS-R part (its draws of ``theta`` do not use the event times), which is
the usual two-stage shortcut of a shared-parameter model. ALSFRS-R and FVC
forecasts describe the course whether or not the event happens first (they are
not conditioned on being event-free at the forecast day). Population-parameter
uncertainty is ignored (plug-in).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import platform
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import expit, ndtr

from alsnet.clinical.alsfrs import alsfrs_scores
from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.cohort import Cohort
from alsnet.exceptions import (
    AlsnetError,
    AlsnetWarning,
    DataValidationError,
    NotFittedError,
    Problem,
)
from alsnet.schema import TABLES
from alsnet.twin._events import EventTimes, WeibullPH, event_times, fit_weibull_ph
from alsnet.twin._fvc import (
    FvcFit,
    FvcStats,
    fit_fvc,
    fvc_loglik,
    fvc_loglik_nodes,
    fvc_posterior,
    fvc_predictive_moments,
    fvc_stats,
)

__all__ = [
    "COVARIATES",
    "DEFAULT_COVARIATES",
    "MODEL_VERSION",
    "OUTCOMES",
    "QUANTILES",
    "TwinModel",
    "twin_covariates",
]

logger = logging.getLogger(__name__)

#: Format version of saved models (bump when the JSON layout changes).
MODEL_VERSION = "twin-joint-2"

#: Outcomes that :meth:`TwinModel.predict` can forecast.
OUTCOMES: tuple[str, ...] = ("alsfrs_r_total", "fvc_pct", "event_free")

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
# recentred quadrature grid: variance floor (fraction of the Laplace variance) and
# correlation cap of the moment-matched Gaussian
_RECENTRE_FLOOR = 1e-2
_RECENTRE_CORR = 0.99
_FIRST_GRID = (5, 3)  # nodes of the first grid, whose weighted moments place the second
_FVC_RANGE = (0.0, 200.0)
_MAX_PROBLEMS = 10
#: Posterior draws of theta per patient that the FVC EM and the event likelihood average over.
_EVENT_DRAWS = 40


def _refuse(source: str, column: str, values: np.ndarray, rows: np.ndarray, rule: str) -> None:
    """Raise :class:`DataValidationError` listing the rows of ``values`` (1-based rows)."""
    problems = [
        Problem(source, int(r) + 1, column, f"{v:g}", rule)
        for r, v in zip(rows[:_MAX_PROBLEMS], values[:_MAX_PROBLEMS], strict=True)
    ]
    raise DataValidationError(problems, truncated=max(len(rows) - _MAX_PROBLEMS, 0))


def _check_range(
    source: str, column: str, values: np.ndarray, lo: float, hi: float, unit: str
) -> None:
    """Refuse values outside [lo, hi] (NaN is allowed: missing)."""
    bad = np.flatnonzero((values < lo) | (values > hi))
    if bad.size:
        _refuse(source, column, values[bad], bad, f"must be within {lo:g}-{hi:g} {unit}")


def _check_patients(patients: pd.DataFrame) -> None:
    spec = TABLES["patients"].column("age_onset")
    age = patients["age_onset"].to_numpy(dtype="float64", na_value=np.nan)
    _check_range("patients", "age_onset", age, float(spec.lo or 0), float(spec.hi or 120), "years")


def _alsfrs_rows(v: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visits with an ALSFRS-R total and a day: row mask, month (since onset), total."""
    total = alsfrs_scores(v)["alsfrs_r_total"].to_numpy(dtype="float64")
    day = v["day"].to_numpy(dtype="float64", na_value=np.nan)
    if "total_reported" in v.columns:  # alsfrs_scores ignores impossible totals: refuse them
        rep = v["total_reported"].to_numpy(dtype="float64", na_value=np.nan)
        _check_range("visits", "total_reported", rep, 0.0, _TOP, "points")
    _check_range("visits", "alsfrs_r_total", total, 0.0, _TOP, "points")
    ok = ~np.isnan(total) & ~np.isnan(day)
    return ok, day[ok] / DAYS_PER_MONTH, total[ok]


def _fvc_rows(v: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visits with an FVC % predicted and a day: row mask, month (since onset), FVC."""
    if "fvc_pct" not in v.columns:
        return np.zeros(len(v), dtype=bool), np.zeros(0), np.zeros(0)
    fvc = v["fvc_pct"].to_numpy(dtype="float64", na_value=np.nan)
    _check_range("visits", "fvc_pct", fvc, *_FVC_RANGE, "% predicted")
    day = v["day"].to_numpy(dtype="float64", na_value=np.nan)
    ok = ~np.isnan(fvc) & ~np.isnan(day)
    return ok, day[ok] / DAYS_PER_MONTH, fvc[ok]


def _observations(cohort: Cohort) -> pd.DataFrame:
    """ALSFRS-R totals with a day: columns patient_id, month (since onset), y."""
    v = cohort.visits
    ok, month, y = _alsfrs_rows(v)
    return pd.DataFrame({"patient_id": v["patient_id"].to_numpy()[ok], "month": month, "y": y})


def _fvc_observations(cohort: Cohort) -> pd.DataFrame:
    """FVC % predicted with a day: columns patient_id, month (since onset), y."""
    v = cohort.visits
    if "fvc_pct" not in v.columns:
        return _empty_obs()
    ok, month, y = _fvc_rows(v)
    return pd.DataFrame({"patient_id": v["patient_id"].to_numpy()[ok], "month": month, "y": y})


def _empty_obs() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": pd.Series([], dtype=object), "month": [], "y": []})


def _level(
    t: np.ndarray, a: np.ndarray, b: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """Fraction of function kept, ``S = 1 / (1 + exp((t - D50) / dx))``.

    ``a`` = log D50, ``b`` = log dx (months); with ``rows`` the parameters are
    exponentiated first and then gathered (``a[rows]``), which is cheaper.
    """
    ea, eb = np.exp(a), np.exp(-b)
    if rows is not None:
        ea, eb = ea[rows], eb[rows]
    u = np.asarray(ea - t)
    u *= eb
    return np.asarray(expit(u, out=u))


#: E[max(Z + z, 0)] for Z ~ N(0, 1) on a grid of z (linear interpolation error < 1e-6).
_G_Z = np.linspace(-8.0, 8.0, 4097)
_G = _G_Z * ndtr(_G_Z) + np.exp(-0.5 * _G_Z**2) / np.sqrt(2.0 * np.pi)


def _lookup(x: np.ndarray, grid: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Linear interpolation in a table on the uniform ``grid`` (clamped at its ends)."""
    h = (grid[-1] - grid[0]) / (grid.size - 1)
    u = np.asarray((x - grid[0]) / h)
    np.clip(u, 0.0, grid.size - 1.000001, out=u)
    i = u.astype(np.intp)
    u -= i
    slope = np.diff(table)
    return np.asarray(table[i] + u * slope[i])


def _pos_mean(mu: np.ndarray, sd: np.ndarray | float) -> np.ndarray:
    """E[max(X, 0)] for X ~ N(mu, sd^2), by interpolation in a standard table."""
    z = mu / sd
    return np.asarray(np.where(z >= _G_Z[-1], mu, sd * _lookup(z, _G_Z, _G)))


#: :data:`_G` and its slopes per grid step. Above the table ``G(z) = z`` to rounding
#: (``G(8) - 8 < 1e-16``): the last slope continues the table with slope ``Phi(8) = 1``.
_G_EXT = _G.copy()
_G_SLOPE = np.append(np.diff(_G), (_G_Z[1] - _G_Z[0]) * ndtr(_G_Z[-1]))
#: Upper clamp of the table coordinate in :func:`_pos_mean_var` (keeps the cast to int finite).
_X_MAX = 1e15


def _pos_mean_var(mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    """:func:`_pos_mean` given the variance (overwrites ``var``; fewer passes over memory).

    ``mu / sd`` above the table is extrapolated linearly (``G(z) = z``, so the result
    is ``mu``) instead of selected with :func:`numpy.where`.
    """
    sd = np.sqrt(var, out=var)
    x = np.divide(mu, sd)
    x -= _G_Z[0]
    x *= (_G_Z.size - 1) / (_G_Z[-1] - _G_Z[0])
    np.clip(x, 0.0, _X_MAX, out=x)
    i = x.astype(np.intp)
    np.minimum(i, _G_Z.size - 1, out=i)
    x -= i
    x *= _G_SLOPE[i]
    x += _G_EXT[i]
    x *= sd
    return x


def _interp_unit(s: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``table`` (values on a uniform grid of [0, 1]) at ``s``.

    ``s`` must lie in [0, 1]; it is overwritten with the result.
    """
    top = table.size - 1
    ext = np.append(table, table[-1])
    slope = np.append(np.diff(table), 0.0)
    s *= top
    i = s.astype(np.intp)
    s -= i
    s *= slope[i]
    s += ext[i]
    return s


def _kept(
    t: np.ndarray, ea: np.ndarray, eb: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """Fraction of function kept, ``S = 1 / (1 + exp((t - D50) / dx))``.

    As :func:`_level` but from ``ea = D50`` and ``eb = 1 / dx`` (the exponentials of
    the nodes, computed once) and with :func:`numpy.exp` (several times faster than
    :func:`scipy.special.expit`; equal to rounding). ``rows`` gathers ``ea[rows]``.
    """
    if rows is not None:
        ea, eb = ea[rows], eb[rows]
    v = np.subtract(t, ea)
    v *= eb
    with np.errstate(over="ignore"):  # exp -> inf: S = 0
        np.exp(v, out=v)
    v += 1.0
    return np.reciprocal(v, out=v)


def _clipped_mean_table(sd: float, n: int = 4097) -> tuple[np.ndarray, np.ndarray]:
    """E[clip(f + sd Z, 0, 48)] on a uniform grid of latent totals ``f`` in [0, 48]."""
    f = np.linspace(0.0, _TOP, n)
    return f, _pos_mean(f, sd) - _pos_mean(f - _TOP, sd)


def _patient_chunks(
    pos: np.ndarray, n_patients: int, chunk_size: int
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Chunks of patients ``lo:hi`` with the grid rows of their patients (``pos``: row → patient).

    Chunks without grid rows are skipped.
    """
    order = np.argsort(pos, kind="stable")
    bounds = np.searchsorted(pos[order], np.arange(0, n_patients + chunk_size, chunk_size))
    for j, lo in enumerate(range(0, n_patients, chunk_size)):
        rows = order[bounds[j] : bounds[j + 1]]
        if rows.size:
            yield lo, min(lo + chunk_size, n_patients), rows


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
    pid = patients["patient_id"]
    if obs.empty:
        m = y = np.full(len(pid), np.nan)
    else:
        first = obs.sort_values(["patient_id", "month"], kind="stable")
        first = first.drop_duplicates("patient_id").set_index("patient_id")
        m = pid.map(first["month"]).to_numpy(dtype="float64", na_value=np.nan)
        y = pid.map(first["y"]).to_numpy(dtype="float64", na_value=np.nan)
    return _covariate_frame(patients, m, y)


def _first_visit(
    idx: np.ndarray, month: np.ndarray, y: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Month and total of each patient's first visit (NaN without one).

    ``idx`` (patient row 0..n-1 of each visit; no NaN months). Ties in month go to
    the earlier row, as in :func:`twin_covariates`.
    """
    m = np.full(n, np.nan)
    first_y = np.full(n, np.nan)
    if idx.size:
        same = idx[1:] == idx[:-1]
        if np.all(idx[1:] >= idx[:-1]) and not np.any(same & (month[1:] < month[:-1])):
            order, si = np.arange(idx.size), idx  # already by patient and month (the usual case)
        else:
            order = np.argsort(month, kind="stable")
            order = order[np.argsort(idx[order], kind="stable")]
            si = idx[order]
        head = np.ones(si.size, dtype=bool)
        head[1:] = si[1:] != si[:-1]
        rows = order[head]
        m[idx[rows]], first_y[idx[rows]] = month[rows], y[rows]
    return m, first_y


def _covariate_frame(
    patients: pd.DataFrame, m: np.ndarray, y: np.ndarray, index: pd.Index | None = None
) -> pd.DataFrame:
    """:func:`twin_covariates` given the month ``m`` and total ``y`` of each first visit.

    ``index``: the patient ids as an index, if the caller has it already.
    """
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
        index=pd.Index(patients["patient_id"].to_numpy(), name="patient_id")
        if index is None
        else index,
    )


def _curve(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sigmoid value and its derivatives in (log D50, log dx) at months ``t``."""
    d50, dx = np.exp(a), np.exp(b)
    u = np.subtract(t, d50)
    u /= dx
    np.clip(u, -_CLIP, _CLIP, out=u)
    s = np.exp(u)
    s += 1.0
    np.reciprocal(s, out=s)  # 1 / (1 + exp(u)), as the division
    f = _TOP * s
    w = np.subtract(1.0, s, out=s)
    w *= f  # 48 s (1 - s)
    ja = w * d50
    ja /= dx
    u *= w
    return f, ja, u


def _inv2(h11: np.ndarray, h12: np.ndarray, h22: np.ndarray) -> tuple[np.ndarray, ...]:
    det = h11 * h22 - h12 * h12
    return h22 / det, -h12 / det, h11 / det


class _Posterior:
    """Per-patient MAP (n, 2) and Laplace covariance entries given a prior."""

    def __init__(self, theta: np.ndarray, v11: np.ndarray, v12: np.ndarray, v22: np.ndarray):
        self.theta, self.v11, self.v12, self.v22 = theta, v11, v12, v22


def _curve_value(t: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The first output of :func:`_curve` (fitted total, points) without the derivatives."""
    u = np.subtract(t, np.exp(a))
    u /= np.exp(b)
    np.clip(u, -_CLIP, _CLIP, out=u)
    np.exp(u, out=u)
    u += 1.0
    np.reciprocal(u, out=u)
    u *= _TOP
    return u


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

    Step halving re-evaluates only the patients whose step was not yet accepted
    (their visits in input order, so every patient's sums, and the result, are the
    same as evaluating everybody).
    """
    n = mu.shape[0]
    p11, p12, p22 = prec[0, 0], prec[0, 1], prec[1, 1]
    w = 1.0 / sigma**2

    def objective(
        a: np.ndarray,
        b: np.ndarray,
        i: np.ndarray,
        tt: np.ndarray,
        yy: np.ndarray,
        ma: np.ndarray,
        mb: np.ndarray,
    ) -> np.ndarray:
        """Negative log posterior (x2, up to a constant) at (log D50, log dx) = (a, b).

        ``i`` (patient row in ``a``), ``tt`` and ``yy``: their visits; ``ma, mb`` prior means.
        """
        f = _curve_value(tt, a[i], b[i])
        f -= yy
        f *= f
        rss = np.bincount(i, f, minlength=a.size)
        d0, d1 = a - ma, b - mb
        pen = p11 * d0**2 + 2 * p12 * d0 * d1 + p22 * d1**2
        return np.asarray(w * rss + pen)

    out = theta.copy()
    # active set: patients whose last accepted step moved theta by >= 1e-7 (converged
    # patients leave, so later steps cost only what the slow ones need); one array per
    # coordinate (contiguous gathers)
    act = np.arange(n)
    ia, ta, ya = idx, t, y
    a, b = theta[:, 0].copy(), theta[:, 1].copy()
    m0, m1 = mu[:, 0].copy(), mu[:, 1].copy()
    obj = objective(a, b, ia, ta, ya, m0, m1)
    for _ in range(n_steps):
        na = act.size
        if na == 0:
            break
        f, ja, jb = _curve(ta, a[ia], b[ia])
        r = ya - f
        h11 = w * np.bincount(ia, ja * ja, minlength=na) + p11
        h12 = w * np.bincount(ia, ja * jb, minlength=na) + p12
        h22 = w * np.bincount(ia, jb * jb, minlength=na) + p22
        d0, d1 = a - m0, b - m1
        g1 = w * np.bincount(ia, ja * r, minlength=na) - (p11 * d0 + p12 * d1)
        g2 = w * np.bincount(ia, jb * r, minlength=na) - (p12 * d0 + p22 * d1)
        i11, i12, i22 = _inv2(h11, h12, h22)
        s0 = np.clip(i11 * g1 + i12 * g2, -1.0, 1.0)
        s1 = np.clip(i12 * g1 + i22 * g2, -1.0, 1.0)
        # full step for everybody, then halving for the patients not yet improved
        ca, cb = a + s0, b + s1
        new = objective(ca, cb, ia, ta, ya, m0, m1)
        better = new <= obj
        moved = np.abs(s0)
        np.maximum(moved, np.abs(s1), out=moved)
        if better.all():
            a, b, obj = ca, cb, new
        else:
            a, b, obj = np.where(better, ca, a), np.where(better, cb, b), np.where(better, new, obj)
            rest = ~better
            moved[rest] = 0.0
            sub = np.flatnonzero(rest)
            vis = np.flatnonzero(rest[ia])
            loc = np.empty(na, dtype=np.intp)  # position among the patients in sub
            loc[sub] = np.arange(sub.size)
            si, st, sy = loc[ia[vis]], ta[vis], ya[vis]
            sm0, sm1, ss0, ss1 = m0[sub], m1[sub], s0[sub], s1[sub]
            scale = 0.5
            for _ in range(7):
                ca, cb = a[sub] + scale * ss0, b[sub] + scale * ss1
                new = objective(ca, cb, si, st, sy, sm0, sm1)
                better = new <= obj[sub]
                got = sub[better]
                a[got], b[got], obj[got] = ca[better], cb[better], new[better]
                moved[got] = np.maximum(np.abs(scale * ss0[better]), np.abs(scale * ss1[better]))
                if better.all():
                    break
                scale *= 0.5
                rest = ~better
                sub = sub[rest]
                vis = rest[si]
                si, st, sy = (np.cumsum(rest) - 1)[si[vis]], st[vis], sy[vis]
                sm0, sm1, ss0, ss1 = sm0[rest], sm1[rest], ss0[rest], ss1[rest]
        keep = moved >= 1e-7
        if not keep.all():
            # integer positions, each computed once (boolean indexing finds them anew
            # for every array)
            drop = np.flatnonzero(~keep)
            out[act[drop], 0], out[act[drop], 1] = a[drop], b[drop]
            kept = np.flatnonzero(keep)
            newpos = np.cumsum(keep) - 1
            vis = np.flatnonzero(keep[ia])
            ia, ta, ya = newpos[ia[vis]], ta[vis], ya[vis]
            act, a, b, obj, m0, m1 = (v[kept] for v in (act, a, b, obj, m0, m1))
    out[act, 0], out[act, 1] = a, b
    theta = out
    f, ja, jb = _curve(t, theta[idx, 0], theta[idx, 1])
    a11 = np.bincount(idx, ja * ja, minlength=n)
    a12 = np.bincount(idx, ja * jb, minlength=n)
    a22 = np.bincount(idx, jb * jb, minlength=n)
    v11, v12, v22 = _inv2(w * a11 + p11, w * a12 + p12, w * a22 + p22)
    rss = float(np.sum((y - f) ** 2))
    trace = float(np.sum(a11 * v11 + 2 * a12 * v12 + a22 * v22))
    return _Posterior(theta, v11, v12, v22), rss, trace


def _threads(n_threads: int | None) -> int:
    """Worker threads: ``n_threads``, or (None) the CPUs this process may use, at most 4.

    Raises
    ------
    ValueError
        ``n_threads`` < 1.
    """
    if n_threads is not None:
        if n_threads < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads}")
        return int(n_threads)
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 4))


#: Fewest patients per thread worth a thread of :func:`_map_fit_threads`.
_MIN_PATIENTS_PER_THREAD = 10_000


def _map_fit_threads(
    idx: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    mu: np.ndarray,
    prec: np.ndarray,
    sigma: float,
    n_steps: int,
    n_threads: int,
) -> _Posterior:
    """:func:`_map_fit` from the prior means, on contiguous blocks of patients in threads.

    Every patient's iterations depend on its own visits only, so the posterior is
    the same as in one call (NumPy releases the GIL inside its loops).
    """
    n = mu.shape[0]
    parts = min(n_threads, n // _MIN_PATIENTS_PER_THREAD)
    if parts <= 1:
        return _map_fit(idx, t, y, mu, prec, sigma, mu.copy(), n_steps)[0]
    cuts = np.linspace(0, n, parts + 1).astype(np.int64)
    block = np.searchsorted(cuts, idx, side="right") - 1

    def one(j: int) -> _Posterior:
        sel = block == j
        lo, hi = cuts[j], cuts[j + 1]
        m = mu[lo:hi]
        return _map_fit(idx[sel] - lo, t[sel], y[sel], m, prec, sigma, m.copy(), n_steps)[0]

    with ThreadPoolExecutor(parts) as ex:
        res = list(ex.map(one, range(parts)))
    return _Posterior(
        np.concatenate([r.theta for r in res]),
        np.concatenate([r.v11 for r in res]),
        np.concatenate([r.v12 for r in res]),
        np.concatenate([r.v22 for r in res]),
    )


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
        # FVC visits (idx_f, t_f, y_f) and prior means of (a, b); event part
        self.idx_f = np.zeros(0, dtype=np.int64)
        self.t_f = np.zeros(0)
        self.y_f = np.zeros(0)
        self.mu_f: np.ndarray | None = None
        self.n_obs_f = np.zeros(len(ids), dtype=np.int64)
        self.times: EventTimes | None = None
        self.eta0: np.ndarray | None = None
        self.events: WeibullPH | None = None
        self._order: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        #: per FVC observation, the ALSFRS-R observation of the same visit (-1: none)
        self.f_in_obs: np.ndarray | None = None
        self._obs_rank: np.ndarray | None = None

    def build_lookups(self) -> None:
        """Build the row lookups (before threads share this object)."""
        self.obs_rows(0, 0), self.fvc_rows(0, 0)
        if self.f_in_obs is not None and self._obs_rank is None:
            order = self._order["obs"][0]
            rank = np.empty_like(order)
            rank[order] = np.arange(order.size)
            self._obs_rank = rank

    def fvc_link(self, lo: int, hi: int, jf: np.ndarray) -> np.ndarray | None:
        """For FVC rows ``jf`` of patients lo..hi-1: the position in ``obs_rows(lo, hi)``
        of the ALSFRS-R observation on the same visit, or -1 (None: no such link)."""
        if self.f_in_obs is None:
            return None
        self.build_lookups()
        assert self._obs_rank is not None
        p = self.f_in_obs[jf]
        i0 = np.searchsorted(self._order["obs"][1], lo)
        return np.where(p >= 0, self._obs_rank[p] - i0, -1)

    def obs_rows(self, lo: int, hi: int) -> np.ndarray:
        """ALSFRS-R observations (positions in ``idx``) of patients lo..hi-1."""
        return _rows_between(self.idx, self._order, "obs", lo, hi)

    def fvc_rows(self, lo: int, hi: int) -> np.ndarray:
        """FVC observations (positions in ``idx_f``) of patients lo..hi-1."""
        return _rows_between(self.idx_f, self._order, "fvc", lo, hi)

    def survival_span(self, lo: int, hi: int) -> np.ndarray | None:
        """Baseline cumulative hazard from the first to the last contact, patients lo..hi-1.

        None when it is 0 for all of them (no event part, or no follow-up).
        """
        if self.events is None or self.times is None or self.eta0 is None:
            return None
        ev, tm = self.events, self.times
        # endpoint before the first contact: last_alive < entry, no weighting
        with np.errstate(over="ignore", invalid="ignore"):  # degenerate fits: inf / nan
            span = ev.cumhaz(tm.last_alive[lo:hi], 0.0) - ev.cumhaz(tm.entry[lo:hi], 0.0)
        span = np.maximum(span, 0.0)
        return span if np.any(span > 0) else None

    def survival_logw(self, lo: int, hi: int, a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
        """log S(last alive) - log S(first contact) per draw, patients lo..hi-1."""
        span = self.survival_span(lo, hi)
        if span is None:
            return 0.0
        assert self.events is not None and self.eta0 is not None
        g = self.events.gamma
        eta = self.eta0[lo:hi, None] + g[0] * a + g[1] * b
        with np.errstate(over="ignore", invalid="ignore"):  # degenerate fits: inf / nan
            return np.asarray(-span[:, None] * np.exp(eta))


class _Nodes:
    """Quadrature of one chunk of patients (see :meth:`TwinModel._quadrature`).

    ``a``, ``b``: nodes of (log D50, log dx), shape (k, m); ``wt``: normalised
    weights; ``ea = exp(a)`` (D50) and ``eb = exp(-b)`` (1 / dx), computed on first
    use; ``st``: FVC statistics at the nodes (None without FVC visits in the chunk);
    ``n2``: nodes on the second axis.
    """

    def __init__(
        self,
        a: np.ndarray,
        b: np.ndarray,
        wt: np.ndarray,
        st: FvcStats | None,
        n2: int,
        ea: np.ndarray | None = None,
        eb: np.ndarray | None = None,
    ):
        self.a, self.b, self.wt, self.st, self.n2 = a, b, wt, st, n2
        self._ea, self._eb = ea, eb

    @property
    def ea(self) -> np.ndarray:
        if self._ea is None:
            self._ea = np.exp(self.a)
        return self._ea

    @property
    def eb(self) -> np.ndarray:
        if self._eb is None:
            self._eb = np.exp(-self.b)
        return self._eb


def _grid_shape(n_quad: int, rotated: bool) -> tuple[int, int]:
    """Gauss-Hermite nodes on the (first, second) axis of a patient's grid.

    Plain grid: the first axis is log D50 alone (Cholesky order), the direction in
    which the sigmoid's level at a given month is steep (d u / d log D50 = -D50 / dx
    against d u / d log dx = -u, small near the transition), so it gets ``n_quad``
    nodes and the second axis ``max(3, n_quad // 3)``. Rotated grid (event-free
    probability, constant along the second axis, which only marginalises the
    recentred, near-Gaussian posterior): ``5 n_quad // 2`` and 2.
    """
    if rotated:
        return 5 * n_quad // 2, 2
    return n_quad, max(3, n_quad // 3)


@functools.lru_cache(maxsize=16)
def _gh_grid(n1: int, n2: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Product Gauss-Hermite grid (first axis major): nodes s1, s2, log weights, |s|^2 / 2."""
    x1, w1 = np.polynomial.hermite_e.hermegauss(n1)
    x2, w2 = np.polynomial.hermite_e.hermegauss(n2)
    s1, s2 = (v.ravel() for v in np.meshgrid(x1, x2, indexing="ij"))
    out = (s1, s2, np.log(np.outer(w1, w2).ravel()), 0.5 * (s1**2 + s2**2))
    for v in out:
        v.flags.writeable = False
    return out


def _rows_between(
    idx: np.ndarray, cache: dict[str, tuple[np.ndarray, np.ndarray]], key: str, lo: int, hi: int
) -> np.ndarray:
    """Positions of the entries of ``idx`` in [lo, hi) (stable: input order kept)."""
    if key not in cache:
        order = np.argsort(idx, kind="stable")
        cache[key] = order, idx[order]
    order, sidx = cache[key]
    i0, i1 = np.searchsorted(sidx, (lo, hi))
    return order[i0:i1]


def _member(rows: np.ndarray, k: int, *, sorted_rows: bool = False) -> Any:
    """Sparse (k, len(rows)) 0/1 matrix: ``member @ v`` sums the rows of ``v`` per patient.

    ``sorted_rows``: ``rows`` is non-decreasing (the CSR layout is then built directly).
    """
    from scipy import sparse

    if sorted_rows:
        indptr = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=k), out=indptr[1:])
        return sparse.csr_matrix(
            (np.ones(rows.size), np.arange(rows.size), indptr), shape=(k, rows.size)
        )
    return sparse.csr_matrix(
        (np.ones(rows.size), (rows, np.arange(rows.size))), shape=(k, rows.size)
    )


class TwinModel:
    """Joint digital twin: ALSFRS-R (D50 sigmoid), FVC % predicted and the composite event.

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
    conditioning_steps : int, default 200
        Gauss-Newton steps (at most) for each patient's MAP at prediction time; a
        patient stops once a step moves its ``theta`` by less than 1e-7. On the
        benchmark (100,000 patients, 1-2 visits each) every patient stops within 200
        steps; with 30, 0.4 % stopped early, up to 2e-3 from the optimum, and the
        extra steps on those few patients cost no measurable time.
    covariates : tuple of str, default :data:`DEFAULT_COVARIATES`
        Subset of :data:`COVARIATES` in the population regressions (ALSFRS-R
        prior, FVC prior and event hazard).
    n_mc_iter : int, default 10
        Monte-Carlo EM iterations after the Laplace-EM phase (0 = Laplace only,
        which biases log D50 and sigma down by a few percent).
    mc_draws : int, default 100
        Posterior draws per patient in each Monte-Carlo EM iteration; the last
        set is also the one the event likelihood averages over.
    n_quad : int, default 11
        Gauss-Hermite nodes along log D50 in :meth:`predict_mean` and
        :meth:`survival`; ``max(3, n_quad // 3)`` along the second axis (11 x 3
        nodes by default; ``5 n_quad // 2`` x 2 on the event grid). The grid is
        placed on a Gaussian with the posterior's mean and covariance (from a
        first grid on the Laplace approximation) and importance-corrected to the
        exact posterior. 11 keeps the 99th percentile of the error against a
        31 x 31 grid below 0.1 ALSFRS-R and 0.2 FVC points on the benchmark (see
        ``benchmarks/eval_twin_quadrature.py``).
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
    fvc_ : FvcFit or None
        FVC part (``coef`` of (a, b) in % predicted, ``cov``, ``sigma``); None when
        the training cohort has no FVC.
    events_ : WeibullPH or None
        Event part: ``shape``, ``beta`` (intercept + covariates), ``gamma`` (per unit
        of log D50 and log dx); time in months since onset. None without events.
    x_mean_, x_scale_ : ndarray, shape (n_covariates,)
        Covariate standardisation (missing covariates are set to the mean).
    n_patients_, n_obs_, n_iter_ : int
        Training patients, ALSFRS-R observations and outer iterations used.
    fingerprint_ : str
        :attr:`Cohort.fingerprint` of the training cohort.
    """

    fvc_: FvcFit | None
    events_: WeibullPH | None

    def __init__(
        self,
        *,
        max_iter: int = 100,
        n_gn_steps: int = 3,
        tol: float = 1e-5,
        n_draws: int = 1000,
        conditioning_steps: int = 200,
        covariates: tuple[str, ...] = DEFAULT_COVARIATES,
        n_mc_iter: int = 10,
        mc_draws: int = 100,
        n_quad: int = 11,
        random_state: int = 0,
    ) -> None:
        self.n_mc_iter = n_mc_iter
        self.mc_draws = mc_draws
        self.n_quad = n_quad
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

    def _condition(
        self,
        patients: pd.DataFrame,
        visits: pd.DataFrame | None,
        events: pd.DataFrame | None,
        n_threads: int = 1,
    ) -> _Conditioned:
        """Posterior of every patient given its visits (None: baseline covariates only)."""
        _check_patients(patients)
        ids = pd.Index(patients["patient_id"].to_numpy(), name="patient_id")
        pats = patients
        if not ids.is_unique:
            dup = patients["patient_id"].duplicated().to_numpy()
            pats = patients.loc[~dup]
            ids = pd.Index(pats["patient_id"].to_numpy(), name="patient_id")
        n = len(ids)
        idx = np.zeros(0, dtype=np.int64)
        t = y = np.zeros(0)
        code = ok_a = None
        if visits is not None:
            # one hash of the visits' ids; every table below is then indexed by integers
            code = ids.get_indexer(pd.Index(visits["patient_id"]))
            ok, t, y = _alsfrs_rows(visits)
            idx = code[ok]
            if (idx < 0).any():  # visits of patients not in the patients table
                t, y, idx = t[idx >= 0], y[idx >= 0], idx[idx >= 0]
                ok &= code >= 0
            ok_a = ok
        m, first_y = _first_visit(idx, t, y, n)
        raw = _covariate_frame(pats, m, first_y, ids)[list(self.covariates)]
        x = self._design(raw)
        mu = x @ self.coef_
        prec = np.linalg.inv(self.cov_)
        if len(y):
            post = _map_fit_threads(
                idx, t, y, mu, prec, self.sigma_, self.conditioning_steps, n_threads
            )
        else:  # baseline only: the posterior is the prior
            post = _Posterior(
                mu.copy(),
                np.full(n, self.cov_[0, 0]),
                np.full(n, self.cov_[0, 1]),
                np.full(n, self.cov_[1, 1]),
            )
        c = _Conditioned(ids, post, mu, prec, idx, t, y, self.sigma_)
        if self.fvc_ is not None:
            c.mu_f = x @ self.fvc_.coef
            if visits is not None and code is not None:
                ok, t_f, y_f = _fvc_rows(visits)
                idx_f = code[ok]
                keep = idx_f >= 0
                if keep.size and not keep.all():
                    idx_f, t_f, y_f = idx_f[keep], t_f[keep], y_f[keep]
                if idx_f.size:
                    c.idx_f, c.t_f, c.y_f = idx_f, t_f, y_f
                    c.n_obs_f = np.bincount(idx_f, minlength=n)
                    if ok_a is not None and idx.size:
                        # FVC on an ALSFRS-R visit: same patient and month (its sigmoid
                        # value at the quadrature nodes is computed once)
                        rows_f = np.flatnonzero(ok)[keep]
                        pos_a = np.cumsum(ok_a) - 1
                        c.f_in_obs = np.where(ok_a[rows_f], pos_a[rows_f], -1)
        if self.events_ is not None:
            c.events = self.events_
            diag = pats["diagnosis_day"].to_numpy(dtype="float64", na_value=np.nan)
            c.times = event_times(ids, diag, visits, events, visit_rows=code)
            c.eta0 = x @ self.events_.beta
        return c

    def _posterior_draws(
        self, c: _Conditioned, lo: int, hi: int, n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, FvcStats | None]:
        """Posterior draws of (log D50, log dx) for patients lo..hi-1, shape (k, n) each.

        Also the FVC sufficient statistics of the chosen draws (None without FVC).
        """
        a, b, _, st = self._sir(c, lo, hi, n, rng, keep_fit=False)
        return a, b, st

    def _sir(
        self,
        c: _Conditioned,
        lo: int,
        hi: int,
        n: int,
        rng: np.random.Generator,
        *,
        keep_fit: bool,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, FvcStats | None]:
        """Sampling-importance-resampling of ``theta`` for patients lo..hi-1.

        Proposals from a multivariate t (5 df, scale 1.2) around each patient's
        Laplace approximation, weighted by the exact unnormalised posterior
        (Gaussian likelihood x population prior x event-free survival from the
        first to the last contact). With ``keep_fit`` also returns the fitted
        totals at the patients' observations for the chosen draws (n_obs, n).
        """
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
        logp = logp + c.survival_logw(lo, hi, a, b)
        st = None
        if self.fvc_ is not None and c.mu_f is not None and c.idx_f.size:
            st = self._fvc_stats(c, lo, hi, a, b)
            logp = logp + fvc_loglik(st, c.mu_f[lo:hi], self.fvc_.cov, self.fvc_.sigma)
        sel = (c.idx >= lo) & (c.idx < hi)
        rows = c.idx[sel] - lo
        f = None
        if rows.size:
            d50, idx_ = np.exp(a), np.exp(-b)
            f = d50[rows]
            f -= c.t[sel, None]
            f *= idx_[rows]
            f = expit(f, out=f)
            f *= _TOP
            ll = c.y[sel, None] - f
            ll *= ll
            logp = logp + np.asarray(_member(rows, k) @ ll) * (-0.5 / c.sigma**2)
        logw = logp - logq
        logw[~np.isfinite(logw)] = -np.inf  # a draw of zero (or undefined) posterior density
        top = logw.max(axis=1, keepdims=True)
        none = ~np.isfinite(top[:, 0])
        if none.any():  # documented fallback: keep the Laplace proposal for these patients
            logger.warning(
                "twin: %d patient(s) with no draw of positive posterior weight (degenerate "
                "model?); their forecasts use the Laplace approximation",
                int(none.sum()),
            )
            logw[none] = 0.0  # uniform weights: the proposal's own draws
            top[none, 0] = 0.0
        w = np.exp(logw - top)
        cw = np.cumsum(w, axis=1)
        cw /= cw[:, -1:]
        cw[:, -1] = 1.0
        u = rng.random((k, n))
        offset = np.arange(k)[:, None] * 2.0
        pick = np.searchsorted((cw + offset).ravel(), (u + offset).ravel(), side="left")
        pick = np.minimum(pick.reshape(k, n) - np.arange(k)[:, None] * n, n - 1)
        rix = np.arange(k)[:, None]
        fit = None
        if keep_fit and f is not None:
            fit = np.take_along_axis(f, pick[rows], axis=1)
        if st is not None:  # statistics of the chosen draws: gather, do not recompute
            st = FvcStats(
                *(
                    v[rix, pick] if v.shape[1] == n and v.shape[1] > 1 else v
                    for v in (st.n, st.sf, st.sff, st.sy, st.sfy, st.syy)
                )
            )
        return a[rix, pick], b[rix, pick], fit, st

    def _fvc_stats(
        self, c: _Conditioned, lo: int, hi: int, a: np.ndarray, b: np.ndarray
    ) -> FvcStats:
        sel = (c.idx_f >= lo) & (c.idx_f < hi)
        rows = c.idx_f[sel] - lo
        lost = 1.0 - _level(c.t_f[sel, None], a, b, rows)
        return fvc_stats(rows, lost, c.y_f[sel], hi - lo)

    def _fvc_logw(
        self, c: _Conditioned, lo: int, hi: int, a: np.ndarray, b: np.ndarray
    ) -> np.ndarray | float:
        """FVC marginal log-likelihood per draw of theta (0 without FVC visits)."""
        if self.fvc_ is None or c.mu_f is None or c.idx_f.size == 0:
            return 0.0
        st = self._fvc_stats(c, lo, hi, a, b)
        return fvc_loglik(st, c.mu_f[lo:hi], self.fvc_.cov, self.fvc_.sigma)

    def _fvc_draws(
        self,
        c: _Conditioned,
        lo: int,
        hi: int,
        a: np.ndarray,
        b: np.ndarray,
        rng: np.random.Generator | None,
        st: FvcStats | None = None,
    ) -> tuple[np.ndarray, ...]:
        """FVC patient effects (a_f, b_f) given each draw of theta (shape of ``a``).

        With ``rng`` returns one draw per theta draw; without, the conditional
        posterior mean and covariance entries ``(ma, mb, vaa, vab, vbb)``.
        """
        assert self.fvc_ is not None and c.mu_f is not None
        if st is None:
            st = self._fvc_stats(c, lo, hi, a, b)
        ma, mb, vaa, vab, vbb = fvc_posterior(st, c.mu_f[lo:hi], self.fvc_.cov, self.fvc_.sigma)
        if rng is None:
            return ma, mb, vaa, vab, vbb
        z1, z2 = rng.standard_normal((2, *ma.shape))
        s11 = np.sqrt(vaa)
        s21 = vab / s11
        s22 = np.sqrt(np.maximum(vbb - s21**2, 0.0))
        return ma + s11 * z1, mb + s21 * z1 + s22 * z2

    # --------------------------------------------------------------------- fit
    def fit(self, cohort: Cohort) -> TwinModel:
        """Fit the joint model to every patient with at least one ALSFRS-R total.

        Parameters
        ----------
        cohort : Cohort
            Canonical cohort (reads ``patients``, ``visits`` and ``events``).

        Returns
        -------
        TwinModel
            ``self``. Without FVC values ``fvc_`` is None and without endpoint
            events ``events_`` is None (logged as warnings; those outcomes are
            then dropped from forecasts with an :class:`AlsnetWarning`).

        Raises
        ------
        ValueError
            No patient has an ALSFRS-R total; unknown covariates.
        DataValidationError
            Impossible values (ALSFRS-R total outside 0-48, FVC outside 0-200 %,
            age at onset outside the schema range).
        """
        unknown = set(self.covariates) - set(COVARIATES)
        if unknown:
            raise ValueError(f"unknown covariates {sorted(unknown)}; choose from {COVARIATES}")
        obs = _observations(cohort)
        patients = cohort.patients
        _check_patients(patients)
        has = patients["patient_id"].isin(obs["patient_id"]).to_numpy()
        if not has.any():
            raise ValueError("TwinModel.fit: no patient has an ALSFRS-R total")
        if (~has).any():
            logger.info("TwinModel.fit: %d patient(s) without ALSFRS-R left out", int((~has).sum()))
        patients = patients.loc[has]
        ids = pd.Index(patients["patient_id"].to_numpy())
        raw = twin_covariates(patients, obs)[list(self.covariates)]
        vals = raw.to_numpy(dtype="float64")
        allnan = np.isnan(vals).all(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            self.x_mean_ = np.where(allnan, 0.0, np.nanmean(vals, axis=0))
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
        self.fvc_, self.events_ = None, None
        a = b = np.zeros((n, 0))
        for j in range(max(self.n_mc_iter, 1)):
            mu = X @ coef
            prec = np.linalg.inv(cov)
            post, _, _ = _map_fit(idx, t, y, mu, prec, sigma, theta, self.n_gn_steps)
            theta = post.theta
            cond = _Conditioned(ids, post, mu, prec, idx, t, y, sigma)
            a, b, fit, _ = self._sir(cond, 0, n, self.mc_draws, rng, keep_fit=True)
            if j >= self.n_mc_iter:  # n_mc_iter == 0: draws for the event part only
                break
            ma, mb = a.mean(axis=1), b.mean(axis=1)
            coef = xtx_inv_xt @ np.column_stack([ma, mb])
            ra, rb = a - (X @ coef)[:, 0, None], b - (X @ coef)[:, 1, None]
            cov = np.array(
                [
                    [np.mean(ra * ra), np.mean(ra * rb)],
                    [np.mean(ra * rb), np.mean(rb * rb)],
                ]
            ) + 1e-8 * np.eye(2)
            assert fit is not None
            fit -= y[:, None]
            sigma = float(np.sqrt(np.mean(fit * fit)))
        self.coef_, self.cov_, self.sigma_ = coef, cov, sigma
        self.n_patients_, self.n_obs_, self.n_iter_ = n, len(y), it
        self.fingerprint_ = cohort.fingerprint
        self._fit_fvc(cohort, ids, X, a, b)
        self._fit_events(cohort, ids, patients, X, a, b)
        return self

    def _fit_fvc(
        self, cohort: Cohort, ids: pd.Index, X: np.ndarray, a: np.ndarray, b: np.ndarray
    ) -> None:
        """FVC part on the training patients with an FVC value, over posterior draws of theta."""
        fo = _fvc_observations(cohort)
        fo = fo.loc[fo["patient_id"].isin(ids)]
        if fo.empty:
            logger.warning("TwinModel.fit: no FVC values; the model forecasts no fvc_pct")
            return
        pidx = ids.get_indexer(pd.Index(fo["patient_id"].to_numpy()))
        used, local = np.unique(pidx, return_inverse=True)
        t = fo["month"].to_numpy(dtype="float64")
        m = min(_EVENT_DRAWS, a.shape[1])
        lost = 1.0 - _level(t[:, None], a[:, :m], b[:, :m], pidx)
        self.fvc_ = fit_fvc(local, lost, fo["y"].to_numpy(dtype="float64"), X[used])

    def _fit_events(
        self,
        cohort: Cohort,
        ids: pd.Index,
        patients: pd.DataFrame,
        X: np.ndarray,
        a: np.ndarray,
        b: np.ndarray,
    ) -> None:
        """Weibull PH of the composite endpoint, averaged over the theta draws."""
        events = cohort.tables.get("events")
        diag = patients["diagnosis_day"].to_numpy(dtype="float64", na_value=np.nan)
        tm = event_times(ids, diag, cohort.visits, events)
        event = np.isfinite(tm.endpoint)
        time = np.where(event, tm.endpoint, tm.last_alive)
        ok = (time > 0) & (time >= tm.entry)
        if (~ok).any():
            logger.info(
                "TwinModel.fit: %d patient(s) with an endpoint before the first contact "
                "left out of the event part",
                int((~ok).sum()),
            )
        if not (event & ok).any():
            logger.warning(
                "TwinModel.fit: no death, tracheostomy or permanent ventilation in the "
                "cohort; the model forecasts no event_free"
            )
            return
        m = min(_EVENT_DRAWS, a.shape[1])  # the SIR draws are exchangeable
        w = np.stack([a[ok, :m], b[ok, :m]], axis=2)
        self.events_ = fit_weibull_ph(tm.entry[ok], time[ok], event[ok], X[ok], w)

    # ----------------------------------------------------------------- predict
    def _prepare(
        self,
        data: Cohort | pd.DataFrame,
        days: ArrayLike | pd.DataFrame,
        n_threads: int | None = 1,
    ) -> tuple[pd.DataFrame, np.ndarray, _Conditioned]:
        """Condition on the input's visits; return the prediction grid and posteriors.

        ``n_threads``: threads for the conditioning (None: the usable CPUs, at most 4;
        the result does not depend on it).
        """
        self._check_fitted()
        if isinstance(data, Cohort):
            patients, visits, events = data.patients, data.visits, data.tables.get("events")
        else:
            patients, visits, events = data, None, None
        cond = self._condition(patients, visits, events, _threads(n_threads))
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

    def _outcomes(self, outcomes: Sequence[str], stacklevel: int = 3) -> list[str]:
        """Requested outcomes the fitted model can forecast (warns about the others)."""
        self._check_fitted()
        unknown = [o for o in outcomes if o not in OUTCOMES]
        if unknown:
            raise ValueError(f"unknown outcomes {unknown}; choose from {OUTCOMES}")
        keep = []
        for o in outcomes:
            if o == "fvc_pct" and self.fvc_ is None:
                warnings.warn(
                    "fvc_pct dropped: the training cohort had no FVC values",
                    AlsnetWarning,
                    stacklevel=stacklevel,
                )
            elif o == "event_free" and self.events_ is None:
                warnings.warn(
                    "event_free dropped: the training cohort had no death, tracheostomy or "
                    "permanent ventilation",
                    AlsnetWarning,
                    stacklevel=stacklevel,
                )
            else:
                keep.append(o)
        return keep

    def _event_free(
        self, c: _Conditioned, lo: int, pat: np.ndarray, month: np.ndarray, eta: np.ndarray
    ) -> np.ndarray:
        """P(event-free at ``month`` | theta, event-free at the last contact), per draw/node.

        ``pat`` are chunk-local patient rows (offset ``lo``), ``eta`` (rows, m).
        """
        assert c.times is not None and c.events is not None
        g = lo + pat
        last = c.times.last_alive[g]
        ev = c.events
        span = ev.cumhaz(month, 0.0) - ev.cumhaz(last, 0.0)
        s = np.exp(-np.maximum(span, 0.0)[:, None] * np.exp(eta))
        gone = month >= c.times.endpoint[g]
        s[gone] = 0.0
        return np.asarray(s)

    def predict(
        self,
        data: Cohort | pd.DataFrame,
        days: ArrayLike | pd.DataFrame,
        *,
        outcomes: Sequence[str] = OUTCOMES,
        seed: int | np.random.Generator | None = 0,
        chunk_size: int = 2_000,
    ) -> pd.DataFrame:
        """Predictive distribution of each outcome at given days, from posterior draws.

        Parameters
        ----------
        data : Cohort or DataFrame
            A cohort (conditions on all its ALSFRS-R and FVC visits and on
            event-free follow-up to the last contact) or a canonical patients
            table (covariate prior only, event-free at diagnosis). Patients
            without visits get the covariate-only forecast (``n_obs`` = 0);
            missing covariates are set to the training mean. Never NaN.
        days : array-like or DataFrame
            Days since onset, the same for every patient, or a DataFrame with
            ``patient_id`` and ``day`` rows.
        outcomes : sequence of str, default :data:`OUTCOMES`
            Outcomes to forecast; ones the model was fitted without (no FVC or no
            events in training) are dropped with an :class:`AlsnetWarning`.
        seed : int, Generator or None, default 0
            Randomness of the posterior draws.
        chunk_size : int, default 2000
            Patients per batch of draws (bounds memory).

        Returns
        -------
        DataFrame
            patient_id, day (days since onset), outcome, mean, q025, q10, q50, q90,
            q975 and n_obs; one block of grid rows per outcome, in the order of
            ``outcomes``. ``alsfrs_r_total``: an observed total (points, 0-48);
            ``fvc_pct``: an observed FVC (% predicted, floored at 0), both with
            measurement noise; ``event_free``: P(no death, tracheostomy or
            permanent ventilation by that day | event-free at the last contact) in
            ``mean`` *and in every quantile column* (0 from a recorded endpoint on).
            ``n_obs`` counts the visits conditioned on (FVC visits for
            ``fvc_pct``, ALSFRS-R visits otherwise).
        """
        todo = self._outcomes(outcomes)
        rng = np.random.default_rng(seed)
        grid, pos, cond = self._prepare(data, days)
        day = grid["day"].to_numpy(dtype="float64")
        month = day / DAYS_PER_MONTH
        m = len(grid)
        res = {o: (np.empty(m), np.empty((len(QUANTILES), m))) for o in todo}
        for lo, hi, rows in _patient_chunks(pos, len(cond.ids), chunk_size):
            a, b, st = self._posterior_draws(cond, lo, hi, self.n_draws, rng)
            r = pos[rows] - lo
            tm = month[rows, None]
            level = _level(tm, a, b, r)
            for o in todo:
                if o == "alsfrs_r_total":
                    f = _TOP * level
                    f = np.clip(f + self.sigma_ * rng.standard_normal(f.shape), 0.0, _TOP)
                elif o == "fvc_pct":
                    assert self.fvc_ is not None
                    af, bf = self._fvc_draws(cond, lo, hi, a, b, rng, st)
                    f = af[r] - bf[r] * (1.0 - level)
                    f = np.maximum(f + self.fvc_.sigma * rng.standard_normal(f.shape), 0.0)
                else:
                    assert cond.eta0 is not None and self.events_ is not None
                    g = self.events_.gamma
                    eta = cond.eta0[lo + r, None] + g[0] * a[r] + g[1] * b[r]
                    p = self._event_free(cond, lo, r, month[rows], eta).mean(axis=1)
                    res[o][0][rows] = p
                    res[o][1][:, rows] = p
                    continue
                res[o][0][rows] = f.mean(axis=1)
                res[o][1][:, rows] = np.quantile(f, QUANTILES, axis=1)
        return self._frame(grid, pos, cond, todo, res)

    def _frame(
        self,
        grid: pd.DataFrame,
        pos: np.ndarray,
        cond: _Conditioned,
        todo: list[str],
        res: dict[str, tuple[np.ndarray, np.ndarray]],
    ) -> pd.DataFrame:
        parts = []
        for o in todo:
            mean, q = res[o]
            out = grid[["patient_id", "day"]].copy()
            out.insert(2, "outcome", o)
            out["mean"] = mean
            for col, row in zip(_QCOLS, q, strict=True):
                out[col] = row
            out["n_obs"] = (cond.n_obs_f if o == "fvc_pct" else cond.n_obs)[pos]
            parts.append(out)
        if not parts:
            cols = ["patient_id", "day", "outcome", "mean", *_QCOLS, "n_obs"]
            return pd.DataFrame({c: [] for c in cols})
        return pd.concat(parts, ignore_index=True)

    def _nodes(
        self,
        c: _Conditioned,
        lo: int,
        hi: int,
        along: np.ndarray | None = None,
        *,
        recentre: bool = True,
    ) -> tuple[np.ndarray, ...]:
        """Quadrature nodes of theta (k, m) and normalised weights (k, m), patients lo..hi-1.

        Gauss-Hermite grid (shape :func:`_grid_shape`) on the posterior's mean and
        covariance (``recentre=False``: on the Laplace approximation), reweighted
        to the exact posterior (prior x likelihood x event-free survival to the
        last contact). With ``along`` (a direction in theta space, e.g. the event
        coefficients) the grid is rotated so its first axis follows
        ``along^T theta`` and gets ``5 n_quad // 2`` nodes (the event probability
        is steep in that direction and flat across it: 2 nodes there).
        """
        q = self._quadrature(c, lo, hi, along, recentre=recentre)
        return q.a, q.b, np.array(q.wt)

    def _quadrature(
        self,
        c: _Conditioned,
        lo: int,
        hi: int,
        along: np.ndarray | None = None,
        *,
        recentre: bool = True,
    ) -> _Nodes:
        """:meth:`_nodes` with what the forecasts reuse (``exp`` of the nodes, FVC statistics).

        A first grid on the Laplace approximation of the ALSFRS-R likelihood x prior
        gives the exact posterior's mean and covariance of ``theta`` (the weights
        include the FVC likelihood and the event-free survival, which the Laplace
        approximation leaves out); with ``recentre`` the returned grid is built
        again on that Gaussian (moment-matched adaptive Gauss-Hermite) and
        reweighted. Without data in the chunk the posterior is the prior and the
        first grid is returned.
        """
        post = c.post
        th = post.theta[lo:hi]
        v11, v12, v22 = post.v11[lo:hi], post.v12[lo:hi], post.v22[lo:hi]
        if not recentre:
            return self._grid(c, lo, hi, along, th, v11, v12, v22)[0]
        # first grid: small and unrotated (only its moments are used)
        q, informed = self._grid(c, lo, hi, None, th, v11, v12, v22, _FIRST_GRID)
        if not informed:  # the posterior is the prior: the grid stays (no data, cheap)
            return self._grid(c, lo, hi, along, th, v11, v12, v22)[0]
        wt = q.wt
        ma, mb = np.einsum("km,km->k", wt, q.a), np.einsum("km,km->k", wt, q.b)
        da, db = q.a - ma[:, None], q.b - mb[:, None]
        s11 = np.einsum("km,km->k", wt, da * da)
        s12 = np.einsum("km,km->k", wt, da * db)
        s22 = np.einsum("km,km->k", wt, db * db)
        # guard against a first grid that put (nearly) all weight on one node
        s11 = np.maximum(s11, _RECENTRE_FLOOR * v11)
        s22 = np.maximum(s22, _RECENTRE_FLOOR * v22)
        lim = _RECENTRE_CORR * np.sqrt(s11 * s22)
        s12 = np.clip(s12, -lim, lim)
        ok = np.isfinite(ma) & np.isfinite(mb) & np.isfinite(s11 + s12 + s22)
        if not ok.all():  # keep the Laplace grid where the first weights were undefined
            ma, mb = np.where(ok, ma, th[:, 0]), np.where(ok, mb, th[:, 1])
            s11, s12, s22 = np.where(ok, s11, v11), np.where(ok, s12, v12), np.where(ok, s22, v22)
        return self._grid(c, lo, hi, along, np.column_stack([ma, mb]), s11, s12, s22)[0]

    def _grid(
        self,
        c: _Conditioned,
        lo: int,
        hi: int,
        along: np.ndarray | None,
        th: np.ndarray,
        v11: np.ndarray,
        v12: np.ndarray,
        v22: np.ndarray,
        shape: tuple[int, int] | None = None,
    ) -> tuple[_Nodes, bool]:
        """Gauss-Hermite grid on N(th, V) for patients lo..hi-1, weighted to the posterior.

        Returns the nodes and whether any data informed the weights (False: the
        posterior is the prior N(th, V) itself and the weights are Gauss-Hermite's).
        The nodes are ordered first-axis-major: node ``i1 * n2 + i2`` for first-axis
        node ``i1`` and second-axis node ``i2`` (shape from :func:`_grid_shape`).
        Every node is an affine function of the standard grid ``s`` (``theta = th +
        T s``), so the nodes, the prior density and the hazard's linear predictor at
        all nodes are small matrix products (per-patient coefficients x per-node
        basis); terms constant within a patient are dropped (the weights are
        normalised per patient).
        """
        n1, n2 = _grid_shape(self.n_quad, along is not None) if shape is None else shape
        s1, s2, lw, half = _gh_grid(n1, n2)
        k = hi - lo
        l11 = np.sqrt(v11)
        l21 = v12 / l11
        l22 = np.sqrt(np.maximum(v22 - l21**2, 0.0))
        # T = L R: Cholesky factor of the Laplace covariance times the grid rotation R
        if along is None:
            t00, t01, t10, t11 = l11, np.zeros(k), l21, l22
        else:  # unit vector v = L^T along / |L^T along| in whitened space, and its normal
            v1 = l11 * along[0] + l21 * along[1]
            v2 = l22 * along[1]
            norm = np.hypot(v1, v2)
            norm = np.where(norm > 0, norm, 1.0)
            v1, v2 = v1 / norm, v2 / norm
            v1 = np.where((v1 == 0) & (v2 == 0), 1.0, v1)
            # z1 = v1 s1 - v2 s2, z2 = v2 s1 + v1 s2
            t00, t01 = l11 * v1, -l11 * v2
            t10, t11 = l21 * v1 + l22 * v2, l22 * v1 - l21 * v2
        basis = np.stack([np.ones_like(s1), s1, s2])
        a = np.column_stack([th[:, 0], t00, t01]) @ basis
        b = np.column_stack([th[:, 1], t10, t11]) @ basis
        jf = c.fvc_rows(lo, hi) if self.fvc_ is not None and c.mu_f is not None else c.idx_f[:0]
        jo = c.obs_rows(lo, hi)
        span = c.survival_span(lo, hi)
        if span is None and not jf.size and not jo.size:
            # no data in the chunk: the posterior is the prior, which is the Laplace
            # approximation itself, so the weights are the Gauss-Hermite weights
            wt = np.exp(lw - lw.max())
            return _Nodes(a, b, np.broadcast_to(wt / wt.sum(), a.shape), None, n2), False
        # prior: -(P delta)^T T s - s^T (T^T P T) s / 2 (+ constant), delta = theta_hat - mu
        p = c.prec
        d0, d1 = th[:, 0] - c.mu[lo:hi, 0], th[:, 1] - c.mu[lo:hi, 1]
        pd0, pd1 = p[0, 0] * d0 + p[0, 1] * d1, p[0, 1] * d0 + p[1, 1] * d1
        pt00, pt10 = p[0, 0] * t00 + p[0, 1] * t10, p[0, 1] * t00 + p[1, 1] * t10
        pt01, pt11 = p[0, 0] * t01 + p[0, 1] * t11, p[0, 1] * t01 + p[1, 1] * t11
        coef = np.column_stack(
            [
                -(t00 * pd0 + t10 * pd1),
                -(t01 * pd0 + t11 * pd1),
                -0.5 * (t00 * pt00 + t10 * pt10),
                -(t00 * pt01 + t10 * pt11),
                -0.5 * (t01 * pt01 + t11 * pt11),
                np.ones(k),
            ]
        )
        logp = coef @ np.stack([s1, s2, s1 * s1, s1 * s2, s2 * s2, lw + half])
        if span is not None:  # event-free from the first to the last contact
            assert c.eta0 is not None and c.events is not None
            g = c.events.gamma
            eta = np.column_stack(
                [
                    c.eta0[lo:hi] + g[0] * th[:, 0] + g[1] * th[:, 1],
                    g[0] * t00 + g[1] * t10,
                    g[0] * t01 + g[1] * t11,
                ]
            )
            haz = np.exp(eta @ basis)
            haz *= span[:, None]
            logp -= haz
        q = _Nodes(a, b, logp, None, n2)
        rows_o = c.idx[jo] - lo
        kept_o = _kept(c.t[jo, None], q.ea, q.eb, rows_o) if jo.size else None
        if jf.size:
            assert self.fvc_ is not None and c.mu_f is not None
            rows = c.idx_f[jf] - lo
            link = c.fvc_link(lo, hi, jf) if kept_o is not None else None
            shared = None if link is None else link >= 0
            if kept_o is not None and link is not None and shared is not None and shared.all():
                lost = kept_o[link]
            elif kept_o is not None and link is not None and shared is not None and shared.any():
                lost = np.empty((jf.size, a.shape[1]))
                lost[shared] = kept_o[link[shared]]
                other = ~shared
                lost[other] = _kept(c.t_f[jf[other], None], q.ea, q.eb, rows[other])
            else:
                lost = _kept(c.t_f[jf, None], q.ea, q.eb, rows)
            np.subtract(1.0, lost, out=lost)
            q.st = fvc_stats(rows, lost, c.y_f[jf], k, sorted_idx=True)
            logp += fvc_loglik_nodes(q.st, c.mu_f[lo:hi], self.fvc_.cov, self.fvc_.sigma)
        if kept_o is not None:
            res = kept_o
            res *= -_TOP
            res += c.y[jo, None]
            res *= res
            logp += np.asarray(_member(rows_o, k, sorted_rows=True) @ res) * (-0.5 / c.sigma**2)
        # row max and sum over the short node axis: a transposed copy and einsum are
        # 2-3x faster than reductions along it
        logp -= np.ascontiguousarray(logp.T).max(axis=0)[:, None]
        wt = np.exp(logp, out=logp)
        wt /= np.einsum("km->k", wt)[:, None]
        q.wt = wt
        return q, True

    def predict_mean(
        self,
        data: Cohort | pd.DataFrame,
        days: ArrayLike | pd.DataFrame,
        outcome: str = "alsfrs_r_total",
        *,
        chunk_size: int = 2_000,
        n_threads: int | None = 1,
    ) -> np.ndarray:
        """Fast predictive mean of one outcome (no random draws).

        The posterior of ``theta`` is integrated with a fixed Gauss-Hermite grid
        (``n_quad`` x ``max(3, n_quad // 3)`` nodes) on a Gaussian with each
        patient's posterior mean and covariance (found with a first grid on the
        Laplace approximation), importance-reweighted to the exact posterior; measurement
        noise and the 0-48 clip (ALSFRS-R) or floor at 0 (FVC) are integrated in
        closed form, as are the FVC patient effects given ``theta``.

        Parameters
        ----------
        data, days
            As in :meth:`predict`.
        outcome : {"alsfrs_r_total", "fvc_pct", "event_free"}
            Outcome.
        chunk_size : int, default 2000
            Patients per batch (bounds memory; batches that fit the CPU cache are
            fastest).
        n_threads : int or None, default 1
            Threads working on batches (and on the conditioning) at once; None: the
            CPUs this process may use, at most 4. The result does not depend on it.
            NumPy releases the GIL in its loops, so threads can use idle cores; on a
            busy shared machine they gained nothing (and cost ~5 % CPU), hence the
            default.

        Returns
        -------
        ndarray, shape (n_rows,)
            Aligned with the rows of ``predict(data, days, outcomes=(outcome,))``
            (patient-major: reshape to (n_patients, n_days) for shared ``days``).

        Raises
        ------
        ValueError
            Unknown outcome, or one the model was fitted without.

        Notes
        -----
        For ``event_free`` the grid is rotated so that the hazard depends on the
        first axis only (see :meth:`_nodes`): the survival function is evaluated
        once per first-axis node, with the weights summed over the second axis.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; choose from {OUTCOMES}")
        self._check_fitted()
        if (outcome == "fvc_pct" and self.fvc_ is None) or (
            outcome == "event_free" and self.events_ is None
        ):
            raise ValueError(f"{outcome}: the model was fitted without data for it")
        threads = _threads(n_threads)
        grid, pos, cond = self._prepare(data, days, threads)
        month = grid["day"].to_numpy(dtype="float64") / DAYS_PER_MONTH
        # days shared by every patient: each chunk is a (patients, days) block, no gathers
        n_days = 0 if isinstance(days, pd.DataFrame) else np.atleast_1d(np.asarray(days)).size
        along = self.events_.gamma if outcome == "event_free" and self.events_ else None
        table = _clipped_mean_table(self.sigma_) if outcome == "alsfrs_r_total" else None
        out = np.empty(len(grid))
        cond.build_lookups()  # before any thread

        def chunk(job: tuple[int, int, np.ndarray]) -> None:
            lo, hi, rows = job
            k = hi - lo
            q = self._quadrature(cond, lo, hi, along)
            wt, ea, eb = q.wt, q.ea, q.eb
            moments: tuple[np.ndarray, ...] = ()
            if outcome == "fvc_pct":
                moments = self._fvc_moments(cond, lo, hi, q)
            elif outcome == "event_free":
                ea, wt = self._event_rate(cond, lo, hi, q)  # ea: hazard rate at the nodes
            # forecast rows in blocks of at most k rows (one day of the chunk for shared
            # days): a few (k, m) arrays stay in the CPU cache, (k, days, m) ones did not
            if n_days:
                blocks = [(rows[j::n_days], None, month[rows[j]]) for j in range(n_days)]
            else:
                r_all = pos[rows] - lo
                blocks = [
                    (rows[i : i + k], r_all[i : i + k], month[rows[i : i + k], None])
                    for i in range(0, rows.size, k)
                ]
            for brows, r, tm in blocks:

                def take(v: np.ndarray, r: np.ndarray | None = r) -> np.ndarray:
                    """Per-patient node values (k, m) for the rows of the block."""
                    return v if r is None else v[r]

                if outcome == "alsfrs_r_total":
                    assert table is not None
                    val = _interp_unit(_kept(tm, take(ea), take(eb)), table[1])
                elif outcome == "fvc_pct":
                    val = self._fvc_value(_kept(tm, take(ea), take(eb)), moments, take)
                else:
                    val = self._event_free_value(cond, lo, take(ea), tm, r)
                out[brows] = np.einsum("km,km->k", val, take(wt))

        jobs = list(_patient_chunks(pos, len(cond.ids), chunk_size))
        if threads > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(min(threads, len(jobs))) as ex:
                list(ex.map(chunk, jobs))  # list(): re-raise the first error
        else:
            for job in jobs:
                chunk(job)
        return out

    def _fvc_moments(self, c: _Conditioned, lo: int, hi: int, q: _Nodes) -> tuple[np.ndarray, ...]:
        """Mean and variance of an observed FVC given a theta node, as polynomials in S.

        Mean ``c0 + c1 S``, variance ``v0 + v1 S + v2 S^2`` (``S``: fraction of
        function kept); returns ``(c0, c1, v0, v1, v2)``, each (k, m), or (k, 1) when
        no FVC visit in the chunk informs the nodes.
        """
        assert self.fvc_ is not None and c.mu_f is not None
        st = q.st
        if st is None:  # no FVC visit in this chunk: the prior of (a_f, b_f), whatever theta
            st = fvc_stats(np.zeros(0, dtype=np.intp), np.zeros((0, 1)), np.zeros(0), hi - lo)
        return fvc_predictive_moments(st, c.mu_f[lo:hi], self.fvc_.cov, self.fvc_.sigma)

    @staticmethod
    def _fvc_value(
        kept: np.ndarray, moments: tuple[np.ndarray, ...], take: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """E[max(observed FVC, 0) | theta node] (% predicted) from the kept fraction ``kept``.

        ``kept`` is overwritten; ``take`` gathers the rows of the per-patient moments.
        """
        c0, c1, v0, v1, v2 = moments
        var = take(v2) * kept
        var += take(v1)
        var *= kept
        var += take(v0)
        kept *= take(c1)
        kept += take(c0)
        return _pos_mean_var(kept, var)

    @staticmethod
    def _event_rate(c: _Conditioned, lo: int, hi: int, q: _Nodes) -> tuple[np.ndarray, np.ndarray]:
        """Hazard multiplier ``exp(eta)`` on the first-axis nodes (k, n1) and their weights.

        The hazard is constant along the grid's second axis (see :meth:`_quadrature`),
        so the weights are summed over it.
        """
        assert c.events is not None and c.eta0 is not None
        g = c.events.gamma
        a1, b1 = q.a[:, :: q.n2], q.b[:, :: q.n2]
        wt = q.wt[:, :: q.n2].copy()  # summed over the second axis (strided adds are
        for j in range(1, q.n2):  # several times faster than a sum over a short axis)
            wt += q.wt[:, j :: q.n2]
        return np.exp(c.eta0[lo:hi, None] + g[0] * a1 + g[1] * b1), wt

    @staticmethod
    def _event_free_value(
        c: _Conditioned, lo: int, rate: np.ndarray, tm: np.ndarray | float, r: np.ndarray | None
    ) -> np.ndarray:
        """P(event-free at month ``tm`` | node, event-free at the last contact), per row and node.

        ``rate`` (rows, n1) from :meth:`_event_rate`; ``r``: chunk-local patient of
        each row (None: the rows are the chunk's patients, ``tm`` a scalar).
        """
        assert c.times is not None and c.events is not None
        g = np.arange(lo, lo + rate.shape[0]) if r is None else lo + r
        last, end = c.times.last_alive[g], c.times.endpoint[g]
        month = np.ravel(tm)
        span = np.maximum(c.events.cumhaz(month, 0.0) - c.events.cumhaz(last, 0.0), 0.0)
        val = rate * -span[:, None]
        val = np.exp(val, out=val)
        val[month >= end] = 0.0  # from a recorded endpoint on
        return val

    def survival(self, data: Cohort | pd.DataFrame, months: ArrayLike) -> pd.DataFrame:
        """Event-free probability at given months since onset.

        Parameters
        ----------
        data : Cohort or DataFrame
            As in :meth:`predict`.
        months : array-like
            Months since onset.

        Returns
        -------
        DataFrame
            patient_id, month, survival: P(no death, tracheostomy or permanent
            ventilation by that month | data, event-free at the last contact);
            1 before the last contact, 0 from a recorded endpoint on;
            non-increasing in ``month`` and within [0, 1].

        Raises
        ------
        ValueError
            The model was fitted without events.
        """
        mo = np.atleast_1d(np.asarray(months, dtype="float64"))
        p = self.predict_mean(data, mo * DAYS_PER_MONTH, "event_free")
        n = len(p) // max(len(mo), 1)
        ids = self._ids(data)
        return pd.DataFrame(
            {
                "patient_id": np.repeat(ids, len(mo)),
                "month": np.tile(mo, n),
                "survival": np.clip(p, 0.0, 1.0),
            }
        )

    @staticmethod
    def _ids(data: Cohort | pd.DataFrame) -> np.ndarray:
        pats = data.patients if isinstance(data, Cohort) else data
        return np.asarray(pats["patient_id"].drop_duplicates().to_numpy())

    def sample(
        self,
        data: Cohort | pd.DataFrame,
        days: ArrayLike,
        n: int,
        seed: int | np.random.Generator | None = 0,
        *,
        noise: bool = True,
        chunk_size: int = 1_000,
    ) -> dict[str, np.ndarray]:
        """Draw joint trajectories: ALSFRS-R, FVC and the event day.

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
            Add independent measurement noise per time point (observed values,
            ALSFRS-R clipped to 0-48, FVC floored at 0); False gives latent curves.
        chunk_size : int, default 1000
            Patients per batch.

        Returns
        -------
        dict of str to ndarray
            ``"alsfrs_r_total"`` and ``"fvc_pct"`` of shape (n_patients, n, n_days)
            and ``"event_day"`` of shape (n_patients, n): day since onset of the
            first death, tracheostomy or permanent ventilation, ``np.inf`` when it
            falls after ``max(days)`` (the horizon). Patients in input order (first
            occurrence). Trajectories continue after the event (the untreated
            course); mask them with ``event_day`` when needed. ``fvc_pct`` or
            ``event_day`` is missing (with an :class:`AlsnetWarning`) when the model
            was fitted without that part.
        """
        d = np.atleast_1d(np.asarray(days, dtype="float64"))
        todo = self._outcomes(OUTCOMES)
        rng = np.random.default_rng(seed)
        _, _, cond = self._prepare(data, d)
        n_pat = len(cond.ids)
        tm = (d / DAYS_PER_MONTH)[None, None, :]
        out: dict[str, np.ndarray] = {"alsfrs_r_total": np.empty((n_pat, n, len(d)))}
        if "fvc_pct" in todo:
            out["fvc_pct"] = np.empty((n_pat, n, len(d)))
        if "event_free" in todo:
            out["event_day"] = np.empty((n_pat, n))
        for lo in range(0, n_pat, chunk_size):
            hi = min(lo + chunk_size, n_pat)
            a, b, st = self._posterior_draws(cond, lo, hi, n, rng)
            level = _level(tm, a[:, :, None], b[:, :, None])
            f = _TOP * level
            if noise:
                f = np.clip(f + self.sigma_ * rng.standard_normal(f.shape), 0.0, _TOP)
            out["alsfrs_r_total"][lo:hi] = f
            if "fvc_pct" in out:
                assert self.fvc_ is not None
                af, bf = self._fvc_draws(cond, lo, hi, a, b, rng, st)
                g = af[:, :, None] - bf[:, :, None] * (1.0 - level)
                if noise:
                    g = g + self.fvc_.sigma * rng.standard_normal(g.shape)
                out["fvc_pct"][lo:hi] = np.maximum(g, 0.0)
            if "event_day" in out:
                assert cond.eta0 is not None and cond.times is not None and self.events_ is not None
                ev = self.events_
                eta = cond.eta0[lo:hi, None] + ev.gamma[0] * a + ev.gamma[1] * b
                last = cond.times.last_alive[lo:hi, None]
                h = last**ev.shape + rng.exponential(1.0, a.shape) / np.exp(eta)
                day_ev = np.power(h, 1.0 / ev.shape) * DAYS_PER_MONTH
                rec = cond.times.endpoint[lo:hi, None] * DAYS_PER_MONTH
                day_ev = np.where(np.isfinite(rec), rec, day_ev)
                out["event_day"][lo:hi] = np.where(day_ev <= d.max(), day_ev, np.inf)
        return out

    # ------------------------------------------------------------- persistence
    def _payload(self) -> dict[str, Any]:
        import scipy
        import sklearn

        import alsnet

        fvc = None
        if self.fvc_ is not None:
            fvc = {
                "coef": self.fvc_.coef.tolist(),
                "cov": self.fvc_.cov.tolist(),
                "sigma": self.fvc_.sigma,
                "n_patients": self.fvc_.n_patients,
                "n_obs": self.fvc_.n_obs,
                "n_iter": self.fvc_.n_iter,
            }
        events = None
        if self.events_ is not None:
            events = {
                "shape": self.events_.shape,
                "beta": self.events_.beta.tolist(),
                "gamma": self.events_.gamma.tolist(),
                "loglik": self.events_.loglik,
                "n": self.events_.n,
                "n_events": self.events_.n_events,
            }
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
                "n_quad": self.n_quad,
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
                "fvc": fvc,
                "events": events,
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
        return write_signed(path, "model", self._payload())

    @classmethod
    def load(cls, path: str | Path) -> TwinModel:
        """Read a model written by :meth:`save`, verifying version and checksum.

        Raises
        ------
        AlsnetError
            Unreadable file, unknown model version or checksum mismatch (the file
            was changed after saving).
        """
        return cls._from_payload(read_signed(path, "model", "TwinModel", "model"), path)

    @classmethod
    def _from_payload(cls, payload: dict[str, Any], path: str | Path) -> TwinModel:
        """A fitted model from a verified :meth:`_payload` (``path`` names it in errors)."""
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
        fv = prm.get("fvc")
        model.fvc_ = None
        if fv is not None:
            model.fvc_ = FvcFit(
                np.asarray(fv["coef"], dtype="float64"),
                np.asarray(fv["cov"], dtype="float64"),
                float(fv["sigma"]),
                int(fv["n_patients"]),
                int(fv["n_obs"]),
                int(fv["n_iter"]),
            )
        ev = prm.get("events")
        model.events_ = None
        if ev is not None:
            model.events_ = WeibullPH(
                float(ev["shape"]),
                np.asarray(ev["beta"], dtype="float64"),
                np.asarray(ev["gamma"], dtype="float64"),
                float(ev["loglik"]),
                int(ev["n"]),
                int(ev["n_events"]),
            )
        model.fingerprint_ = payload["training_fingerprint"]
        model.library_versions_ = payload["library_versions"]
        return model


def _digest(payload: dict[str, Any]) -> str:
    """SHA-256 of a payload's canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_signed(path: str | Path, key: str, payload: dict[str, Any]) -> Path:
    """Write ``{key: payload, "sha256": checksum}`` as JSON; returns the path."""
    p = Path(path)
    doc = {key: payload, "sha256": _digest(payload)}
    p.write_text(json.dumps(doc, indent=1, sort_keys=True), encoding="utf-8")
    return p


def read_signed(path: str | Path, key: str, kind: str, what: str) -> dict[str, Any]:
    """Read a file written by :func:`write_signed` and verify its checksum.

    Raises
    ------
    AlsnetError
        Unreadable file or missing fields ("not a ``kind`` file"), or a checksum
        mismatch ("the ``what`` file was modified").
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        payload, digest = doc[key], doc["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AlsnetError(f"{path}: not a {kind} file ({exc})") from exc
    if _digest(payload) != digest:
        raise AlsnetError(f"{path}: checksum mismatch; the {what} file was modified")
    return dict(payload)
