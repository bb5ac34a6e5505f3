"""Event part of the joint twin model: Weibull proportional hazards with shared parameters.

The composite endpoint (death, tracheostomy or permanent assisted ventilation;
:data:`ENDPOINTS`) has, with ``t`` in months since onset, the cumulative hazard::

    H(t | x, theta) = t^k * exp(eta),   eta = x^T beta + theta^T gamma,

where ``x`` holds an intercept and baseline covariates and ``theta`` the
patient's latent ALSFRS-R course (log D50, log dx), which links progression and
dropout by death (shared-parameter joint model). ``theta`` is not known: the
likelihood of each patient averages over draws from the posterior of ``theta``
given the ALSFRS-R visits, so the fit does not suffer the regression dilution of
plugging in a point estimate. Follow-up is left-truncated at the first contact
(a registry only sees patients alive at enrolment) and right-censored at the
last contact::

    L_i = mean_d [ h(T_i | theta_id)^delta_i * S(T_i | theta_id) / S(E_i | theta_id) ].

Fitted by maximum likelihood (L-BFGS with the analytic gradient, vectorised
over patients and draws).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from alsnet.clinical.progression import DAYS_PER_MONTH

__all__ = ["ENDPOINTS", "EventTimes", "WeibullPH", "event_times", "fit_weibull_ph"]

logger = logging.getLogger(__name__)

#: Event types that make up the composite endpoint.
ENDPOINTS: tuple[str, ...] = ("death", "tracheostomy", "pav")


@dataclass(frozen=True)
class EventTimes:
    """Follow-up of each patient, months since onset (arrays aligned with ``ids``).

    Attributes
    ----------
    entry : ndarray
        First contact (first visit; diagnosis when there is no visit; 0 if unknown).
    last_alive : ndarray
        Last contact known to be event-free (latest visit, non-endpoint event or
        diagnosis), never before ``entry``.
    endpoint : ndarray
        First endpoint (``inf`` when none is recorded).
    """

    entry: np.ndarray
    last_alive: np.ndarray
    endpoint: np.ndarray


def _group_reduce(fn: np.ufunc, code: np.ndarray, day: np.ndarray, n: int) -> np.ndarray:
    """``fn`` (fmin or fmax) of ``day`` per group ``code`` (0..n-1; -1 and NaN skipped)."""
    out = np.full(n, np.nan)
    ok = (code >= 0) & ~np.isnan(day)
    fn.at(out, code[ok], day[ok])
    return out


def event_times(
    ids: pd.Index,
    diagnosis_day: np.ndarray,
    visits: pd.DataFrame | None,
    events: pd.DataFrame | None,
    *,
    visit_rows: np.ndarray | None = None,
) -> EventTimes:
    """Entry, last event-free contact and first endpoint of each patient in ``ids``.

    Parameters
    ----------
    ids : Index
        Patient ids to report, in order.
    diagnosis_day : ndarray, shape (len(ids),)
        Day of diagnosis (days since onset; NaN unknown), aligned with ``ids``.
    visits, events : DataFrame or None
        Canonical tables (days since onset).
    visit_rows : ndarray of int, optional
        ``ids.get_indexer(visits["patient_id"])`` when the caller has it (unique
        ``ids``); saves hashing the ids again.

    Returns
    -------
    EventTimes
        Months since onset.
    """
    ids = ids if isinstance(ids, pd.Index) else pd.Index(ids)
    uniq = ids if ids.is_unique else ids.unique()
    n = len(uniq)
    first = np.full(n, np.nan)
    last = np.full(n, np.nan)
    if visits is not None and len(visits):
        code = visit_rows if visit_rows is not None and uniq is ids else None
        if code is None:
            code = uniq.get_indexer(pd.Index(visits["patient_id"]))
        day = visits["day"].to_numpy(dtype="float64", na_value=np.nan)
        first = _group_reduce(np.fmin, code, day, n)
        last = _group_reduce(np.fmax, code, day, n)
    endpoint = np.full(n, np.inf)
    if events is not None and len(events):
        is_end = events["event"].isin(list(ENDPOINTS)).to_numpy(dtype=bool)
        code = uniq.get_indexer(pd.Index(events["patient_id"]))
        day = events["day"].to_numpy(dtype="float64", na_value=np.nan)
        endpoint = _group_reduce(np.fmin, np.where(is_end, code, -1), day, n)
        endpoint = np.where(np.isnan(endpoint), np.inf, endpoint)
        last = np.fmax(last, _group_reduce(np.fmax, np.where(is_end, -1, code), day, n))
    if uniq is not ids:
        take = uniq.get_indexer(ids)
        first, last, endpoint = first[take], last[take], endpoint[take]
    diag = np.asarray(diagnosis_day, dtype="float64")
    entry = np.where(np.isnan(first), diag, first)
    entry = np.where(np.isnan(entry), 0.0, np.maximum(entry, 0.0))
    last = np.fmax(last, diag)
    last = np.where(np.isnan(last), entry, np.maximum(last, entry))
    last = np.minimum(last, endpoint)
    return EventTimes(entry / DAYS_PER_MONTH, last / DAYS_PER_MONTH, endpoint / DAYS_PER_MONTH)


@dataclass(frozen=True)
class WeibullPH:
    """Fitted Weibull proportional-hazards model.

    Attributes
    ----------
    shape : float
        Weibull shape ``k`` (> 1: hazard rises with time since onset).
    beta : ndarray, shape (p,)
        Coefficients of the fixed design (first column usually the intercept).
    gamma : ndarray, shape (q,)
        Coefficients of the per-draw latent covariates (log hazard per unit).
    loglik : float
        Maximised log-likelihood (draw-averaged).
    n, n_events : int
        Patients and events used.
    """

    shape: float
    beta: np.ndarray
    gamma: np.ndarray
    loglik: float
    n: int
    n_events: int

    def eta(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Log hazard ratio ``x beta + w gamma``; ``x`` (n, p), ``w`` (n, ..., q)."""
        lead = x @ self.beta
        extra = w @ self.gamma
        return np.asarray(lead.reshape(lead.shape + (1,) * (extra.ndim - 1)) + extra)

    def cumhaz(self, t: np.ndarray, eta: np.ndarray | float) -> np.ndarray:
        """Cumulative hazard at months ``t`` (broadcast with ``eta``)."""
        return np.asarray(np.power(np.maximum(t, 0.0), self.shape) * np.exp(eta))


def _split(params: np.ndarray, p: int) -> tuple[float, np.ndarray, np.ndarray]:
    return float(np.exp(params[0])), params[1 : 1 + p], params[1 + p :]


def fit_weibull_ph(
    entry: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    x: np.ndarray,
    w: np.ndarray | None = None,
    *,
    max_iter: int = 500,
) -> WeibullPH:
    """Maximum-likelihood Weibull PH with left truncation, averaging over latent draws.

    Parameters
    ----------
    entry : ndarray, shape (n,)
        Left-truncation time (months; 0 = followed from onset).
    time : ndarray, shape (n,)
        Event or censoring time (months), ``time >= entry``.
    event : ndarray of bool, shape (n,)
        True when ``time`` is an event.
    x : ndarray, shape (n, p)
        Fixed design (include a column of ones for the intercept).
    w : ndarray, shape (n, m, q), optional
        ``m`` equally weighted draws of ``q`` latent covariates per patient (e.g.
        posterior draws of log D50 and log dx). None: no latent covariates.
    max_iter : int, default 500
        L-BFGS iterations.

    Returns
    -------
    WeibullPH

    Raises
    ------
    ValueError
        No events, or times before entry.
    """
    entry = np.asarray(entry, dtype="float64")
    time = np.asarray(time, dtype="float64")
    d = np.asarray(event, dtype=bool)
    n, p = x.shape
    if w is None:
        w = np.zeros((n, 1, 0))
    m, q = w.shape[1], w.shape[2]
    if not d.any():
        raise ValueError("fit_weibull_ph: no events; the event part cannot be estimated")
    if (time < entry).any() or (time <= 0).any():
        raise ValueError("fit_weibull_ph: every time must be > 0 and >= its entry time")
    # centre the latent covariates (the intercept absorbs the shift) for conditioning
    ones = np.all(x == 1.0, axis=0)
    w_mean = w.reshape(-1, q).mean(axis=0) if (q and ones.any()) else np.zeros(q)
    wc = w - w_mean
    log_t = np.log(time)
    with np.errstate(divide="ignore"):
        log_e = np.where(entry > 0, np.log(np.maximum(entry, 1e-300)), -np.inf)
    df = d.astype("float64")

    def negll(params: np.ndarray) -> tuple[float, np.ndarray]:
        k, beta, gamma = _split(params, p)
        eta = (x @ beta)[:, None] + (wc @ gamma if q else 0.0)  # (n, m)
        tk = np.exp(k * log_t)
        ek = np.where(np.isfinite(log_e), np.exp(k * np.where(np.isfinite(log_e), log_e, 0.0)), 0.0)
        span = (tk - ek)[:, None]
        eeta = np.exp(eta)
        hz = eeta * span
        ll = df[:, None] * (np.log(k) + (k - 1.0) * log_t[:, None] + eta) - hz  # (n, m)
        top = ll.max(axis=1)
        om = np.exp(ll - top[:, None])
        tot = om.sum(axis=1)
        lse = top + np.log(tot)
        om /= tot[:, None]  # posterior weights of the draws
        de = df[:, None] - hz  # d ll / d eta
        tlog = tk * log_t
        elog = np.where(np.isfinite(log_e), ek * np.where(np.isfinite(log_e), log_e, 0.0), 0.0)
        dk = df[:, None] * (1.0 + k * log_t[:, None]) - eeta * k * (tlog - elog)[:, None]
        g_k = float(np.sum(om * dk))
        ode = np.sum(om * de, axis=1)
        g_beta = x.T @ ode
        g_gamma = np.einsum("nm,nmq->q", om * de, wc) if q else np.zeros(0)
        val = -(float(lse.sum()) - n * np.log(m))
        return val, -np.concatenate([[g_k], g_beta, g_gamma])

    start = np.zeros(1 + p + q)
    exposure = float(np.sum(time - entry)) or 1.0
    if ones.any():
        start[1 + int(np.argmax(ones))] = np.log(d.sum() / exposure)
    # the Weibull shape is kept in [0.1, 20] and the shared-parameter coefficients in
    # [-20, 20] (per unit of log D50 / log dx): with few events (tens of patients) the
    # likelihood can otherwise run off to a degenerate step-function hazard
    bounds = [(np.log(0.1), np.log(20.0))] + [(None, None)] * p + [(-20.0, 20.0)] * q
    res = minimize(
        negll,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter},
    )
    if not res.success:
        logger.warning("fit_weibull_ph: optimiser stopped early (%s)", res.message)
    k, beta, gamma = _split(res.x, p)
    beta = beta.copy()
    if q and ones.any():  # undo the centring: eta = x beta + (w - w_mean) gamma
        beta[int(np.argmax(ones))] -= float(w_mean @ gamma)
    return WeibullPH(
        shape=k,
        beta=beta,
        gamma=gamma.copy(),
        loglik=-float(res.fun),
        n=n,
        n_events=int(d.sum()),
    )
