"""Site-side ("partial") functions: pure functions of one site's cohort and policy.

Each returns plain, JSON-ready aggregates that have already passed the site's disclosure
checks, or raises :class:`~alsnet.federated.errors.PrivacyThresholdError`. Nothing else
leaves a site. The coordinator combines them with :mod:`alsnet.federated.central`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alsnet.cohort import Cohort
from alsnet.federated.data import (
    CATEGORICAL,
    DAYS_PER_MONTH,
    categorical_codes,
    covariate_matrix,
    numeric_values,
    survival_times,
)
from alsnet.federated.disclosure import check_params, check_rows, km_blocks, suppression_mask
from alsnet.federated.errors import PrivacyThresholdError
from alsnet.federated.policy import Policy

__all__ = [
    "CoxData",
    "LMMData",
    "cox_data",
    "cox_partial",
    "efron_derivatives",
    "km_partial",
    "lmm_aggregates",
    "lmm_data",
    "lmm_frame",
    "lmm_partial",
    "lmm_stats",
    "summary_partial",
]

FloatArray = npt.NDArray[np.float64]

#: Longest follow-up covered by the Kaplan-Meier grid (days); fixes the dyadic tree.
KM_MAX_DAYS = 36500


def _released(counts: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]) -> list[Any]:
    """Counts as nested lists with suppressed cells as None."""
    out = counts.astype(object)
    out[mask] = None
    return list(out.tolist())


def summary_partial(
    cohort: Cohort,
    policy: Policy,
    *,
    by: Sequence[str] = (),
    numeric: Sequence[str] = (),
) -> dict[str, Any]:
    """Counts (or a cross-tab) and numeric moments of one site, suppressed per policy.

    Parameters
    ----------
    cohort : Cohort
        The site's data.
    policy : Policy
        The site's disclosure policy.
    by : sequence of str, length 0-2
        Categorical variables of :data:`alsnet.federated.data.CATEGORICAL`.
    numeric : sequence of str
        Variables of :data:`alsnet.federated.data.NUMERIC`; releases n, sum and sum of
        squares (exact pooled mean and SD), only when n >= ``min_rows``.

    Returns
    -------
    dict
        ``n`` (patients), ``levels`` (per variable), ``counts`` (nested lists, None =
        suppressed), ``row_totals``/``col_totals`` for 2-D tables and ``numeric``.
    """
    if len(by) > 2:
        raise ValueError("summary supports at most two 'by' variables")
    if len(set(by)) != len(by):
        raise ValueError("'by' variables must differ")
    n = len(cohort.patients)
    check_rows(n, policy, "summary")
    out: dict[str, Any] = {"n": n, "by": list(by), "levels": [list(CATEGORICAL[b]) for b in by]}
    m = policy.min_cell
    if len(by) == 1:
        codes = categorical_codes(cohort, by[0]).codes
        counts = np.bincount(codes, minlength=len(CATEGORICAL[by[0]])).astype(np.int64)
        out["counts"] = _released(counts, suppression_mask(counts, m))
    elif len(by) == 2:
        a = categorical_codes(cohort, by[0]).codes.astype(np.int64)
        b = categorical_codes(cohort, by[1]).codes.astype(np.int64)
        ka, kb = len(CATEGORICAL[by[0]]), len(CATEGORICAL[by[1]])
        counts = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb).astype(np.int64)
        out["counts"] = _released(counts, suppression_mask(counts, m))
        rows, cols = counts.sum(axis=1), counts.sum(axis=0)
        out["row_totals"] = _released(rows, suppression_mask(rows, m))
        out["col_totals"] = _released(cols, suppression_mask(cols, m))
    moments: dict[str, Any] = {}
    for name in numeric:
        x = numeric_values(cohort, name)
        check_rows(int(x.size), policy, f"summary of {name}")
        moments[name] = {
            "n": int(x.size),
            "sum": float(x.sum()),
            "sumsq": float(np.square(x).sum()),
        }
    out["numeric"] = moments
    return out


def km_partial(cohort: Cohort, policy: Policy, *, grid_days: int = 30) -> dict[str, Any]:
    """Kaplan-Meier counts of one site on a coarsened time grid.

    Survival times (onset to death, censored at last contact) are rounded up to multiples
    of ``grid_days``; grid intervals are then pooled into dyadic blocks
    (:func:`~alsnet.federated.disclosure.km_blocks`) so that every released number of
    events and censorings is 0 or >= ``min_cell``.

    Returns
    -------
    dict
        ``n`` (patients at risk at day 0), ``grid_days``, and per released block holding
        any exit: ``from_days`` and ``time_days`` (first and last grid time of the block;
        exits are counted at ``time_days``), ``events``, ``censored``.
    """
    if isinstance(grid_days, bool) or not isinstance(grid_days, int) or grid_days < 1:
        raise ValueError("grid_days must be a whole number of days >= 1")
    if grid_days < policy.min_km_grid_days:
        raise PrivacyThresholdError(
            f"site {policy.site_id}: Kaplan-Meier grid of {grid_days} days is finer than the "
            f"policy's min_km_grid_days {policy.min_km_grid_days}; refused"
        )
    st = survival_times(cohort)
    n = len(st)
    check_rows(n, policy, "Kaplan-Meier")
    k = -(-st["time_days"].to_numpy() // grid_days)  # ceil, in grid steps
    ev = st["event"].to_numpy().astype(bool)
    size = 1 << int(np.ceil(np.log2(KM_MAX_DAYS // grid_days + 2)))
    d = np.bincount(k[ev], minlength=size).astype(np.int64)
    c = np.bincount(k[~ev], minlength=size).astype(np.int64)
    blocks = km_blocks(d, c, policy.min_cell)
    cd = np.concatenate([[0], np.cumsum(d)])
    cc = np.concatenate([[0], np.cumsum(c)])
    lo = np.array([b[0] for b in blocks], dtype=np.int64)
    hi = np.array([b[1] for b in blocks], dtype=np.int64)
    return {
        "n": n,
        "grid_days": grid_days,
        "from_days": (lo * grid_days).tolist(),
        "time_days": (hi * grid_days).tolist(),
        "events": (cd[hi + 1] - cd[lo]).tolist(),
        "censored": (cc[hi + 1] - cc[lo]).tolist(),
    }


@dataclass(frozen=True, slots=True)
class CoxData:
    """A site's complete-case Cox design, sorted by time (kept at the site).

    Attributes
    ----------
    covariates : tuple of str
        Covariate names (columns of ``x``).
    x : ndarray, shape (n, p)
        Covariates, centred at the site mean (the partial likelihood is unchanged).
    time_days : ndarray of int, shape (n,)
        Follow-up from onset, ascending.
    event : ndarray of bool, shape (n,)
        Death indicator.
    """

    covariates: tuple[str, ...]
    x: FloatArray
    time_days: npt.NDArray[np.int64]
    event: npt.NDArray[np.bool_]

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.time_days.size)

    @property
    def n_events(self) -> int:
        """Number of deaths."""
        return int(self.event.sum())


def cox_data(cohort: Cohort, covariates: Sequence[str]) -> CoxData:
    """Build a site's complete-case Cox design from its cohort."""
    if not covariates:
        raise ValueError("cox needs at least one covariate")
    if len(set(covariates)) != len(covariates):
        raise ValueError("covariates must differ")
    st = survival_times(cohort)
    x = covariate_matrix(cohort, covariates).reindex(st.index)
    ok = x.notna().all(axis=1).to_numpy()
    st, x = st.loc[ok], x.loc[ok]
    order = np.argsort(st["time_days"].to_numpy(), kind="stable")
    xv = x.to_numpy(dtype=np.float64)[order]
    if xv.shape[0]:
        xv = xv - xv.mean(axis=0)
    return CoxData(
        covariates=tuple(covariates),
        x=xv,
        time_days=st["time_days"].to_numpy()[order].astype(np.int64),
        event=st["event"].to_numpy()[order].astype(bool),
    )


def efron_derivatives(data: CoxData, beta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
    """Log partial likelihood, score and information of one stratum (Efron ties).

    For each distinct event time with ``d`` deaths D and risk set R, and ``l = 0..d-1``,
    ``phi_l = S0 - (l/d) T0`` (S over R, T over D of ``exp(x b)``), likewise ``psi_l`` with
    ``x exp(x b)`` and ``Omega_l`` with ``x x' exp(x b)``:
    ``loglik = sum(x_D b) - sum log phi_l``, ``U = sum(x_D) - sum psi_l/phi_l``,
    ``I = sum Omega_l/phi_l - psi_l psi_l'/phi_l^2``.

    Returns
    -------
    loglik : float
    score : ndarray, shape (p,)
    information : ndarray, shape (p, p)
    """
    x, t, e = data.x, data.time_days, data.event
    p = x.shape[1]
    if not e.any():
        return 0.0, np.zeros(p), np.zeros((p, p))
    eta = x @ beta
    shift = float(eta.max())
    w = np.exp(eta - shift)
    wx = w[:, None] * x
    wxx = wx[:, :, None] * x[:, None, :]
    # risk-set sums at each position i: sum over j >= i (times ascending)
    s0 = np.cumsum(w[::-1])[::-1]
    s1 = np.cumsum(wx[::-1], axis=0)[::-1]
    s2 = np.cumsum(wxx[::-1], axis=0)[::-1]
    ut = np.unique(t[e])
    start = np.searchsorted(t, ut, side="left")  # first index of each risk set
    tie = np.searchsorted(ut, t[e])  # event -> distinct event time
    k = ut.size
    dcount = np.bincount(tie, minlength=k)
    t0 = np.bincount(tie, weights=w[e], minlength=k)
    t1 = np.zeros((k, p))
    np.add.at(t1, tie, wx[e])
    t2 = np.zeros((k, p, p))
    np.add.at(t2, tie, wxx[e])
    # expand over l = 0..d-1 for each distinct time (events already grouped by tie order)
    kidx = np.repeat(np.arange(k), dcount)
    offs = np.cumsum(dcount) - dcount
    ell = np.arange(kidx.size) - offs[kidx]
    a = ell / dcount[kidx]
    phi = s0[start][kidx] - a * t0[kidx]
    psi = s1[start][kidx] - a[:, None] * t1[kidx]
    om = s2[start][kidx] - a[:, None, None] * t2[kidx]
    loglik = float(eta[e].sum() - (np.log(phi) + shift).sum())
    score = x[e].sum(axis=0) - (psi / phi[:, None]).sum(axis=0)
    r = psi / phi[:, None]
    info = (om / phi[:, None, None]).sum(axis=0) - r.T @ r
    return loglik, score, info


def cox_partial(data: CoxData, policy: Policy, *, beta: Sequence[float]) -> dict[str, Any]:
    """Score vector and information matrix of the site's stratum at ``beta``.

    Checks first that the site has at least ``min_rows`` patients, ``min_cell`` events and
    no more than ``max_param_ratio`` parameters per patient and per event.

    Returns
    -------
    dict
        ``n``, ``events``, ``loglik``, ``score`` (length p) and ``information`` (p x p).
    """
    p = len(data.covariates)
    b = np.asarray(beta, dtype=np.float64)
    if b.shape != (p,) or not np.isfinite(b).all():
        raise ValueError(f"beta must be {p} finite numbers")
    check_rows(data.n, policy, "Cox regression")
    check_params(p, data.n, data.n_events, policy)
    ll, u, info = efron_derivatives(data, b)
    return {
        "n": data.n,
        "events": data.n_events,
        "loglik": ll,
        "score": u.tolist(),
        "information": info.tolist(),
    }


@dataclass(frozen=True, slots=True)
class LMMData:
    """A site's per-patient sufficient statistics for the ALSFRS-R mixed model (kept at the site).

    For patient i with design ``X_i`` (intercept, months, covariates), random-effects design
    ``Z_i = [1, months]`` and response ``y_i`` (ALSFRS-R total, points):

    Attributes
    ----------
    terms : tuple of str
        Fixed-effect terms: ``intercept``, ``months``, then the covariates.
    ztz : ndarray, shape (m, 2, 2)
        ``Z_i' Z_i`` per patient.
    ztx : ndarray, shape (m, 2, p)
        ``Z_i' X_i`` per patient.
    zty : ndarray, shape (m, 2)
        ``Z_i' y_i`` per patient.
    xtx : ndarray, shape (p, p)
        ``sum_i X_i' X_i``.
    xty : ndarray, shape (p,)
        ``sum_i X_i' y_i``.
    yty : float
        ``sum_i y_i' y_i`` (points squared).
    n_obs : int
        Visits used.
    """

    terms: tuple[str, ...]
    ztz: FloatArray
    ztx: FloatArray
    zty: FloatArray
    xtx: FloatArray
    xty: FloatArray
    yty: float
    n_obs: int

    @property
    def n(self) -> int:
        """Number of patients."""
        return int(self.ztz.shape[0])


def lmm_frame(cohort: Cohort, covariates: Sequence[str]) -> pd.DataFrame:
    """Visit-level model frame: ``patient_id``, ``months``, ``alsfrs_r``, covariates.

    Visits without an ALSFRS-R total or before onset, and patients missing a covariate,
    are left out (complete cases). ``months`` = days since onset / (365.25 / 12).
    """
    from alsnet.clinical import alsfrs_scores

    if len(set(covariates)) != len(covariates):
        raise ValueError("covariates must differ")
    v = cohort.visits
    total = alsfrs_scores(v)["alsfrs_r_total"].to_numpy(dtype=np.float64)
    day = v["day"].to_numpy(dtype=np.float64)
    keep = ~np.isnan(total) & ~np.isnan(day) & (day >= 0)
    f = pd.DataFrame(
        {
            "patient_id": v["patient_id"].astype(str).to_numpy()[keep],
            "months": day[keep] / DAYS_PER_MONTH,
            "alsfrs_r": total[keep],
        }
    )
    if covariates:
        x = covariate_matrix(cohort, covariates)
        x = x.loc[x.notna().all(axis=1)]
        f = f.loc[f["patient_id"].isin(x.index)].reset_index(drop=True)
        f = pd.concat([f, x.reindex(f["patient_id"].to_numpy()).reset_index(drop=True)], axis=1)
    return f.sort_values(["patient_id", "months"], kind="stable").reset_index(drop=True)


def lmm_stats(frame: pd.DataFrame, covariates: Sequence[str]) -> LMMData:
    """Per-patient sufficient statistics of :func:`lmm_frame` output (vectorised)."""
    pid = frame["patient_id"].to_numpy()
    t = frame["months"].to_numpy(dtype=np.float64)
    y = frame["alsfrs_r"].to_numpy(dtype=np.float64)
    n_obs = t.size
    x = np.column_stack([np.ones(n_obs), t, frame[list(covariates)].to_numpy(np.float64)])
    z = x[:, :2]
    p = x.shape[1]
    if n_obs:
        starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])
        ztz = np.add.reduceat(z[:, :, None] * z[:, None, :], starts, axis=0)
        ztx = np.add.reduceat(z[:, :, None] * x[:, None, :], starts, axis=0)
        zty = np.add.reduceat(z * y[:, None], starts, axis=0)
    else:
        ztz, ztx, zty = np.zeros((0, 2, 2)), np.zeros((0, 2, p)), np.zeros((0, 2))
    return LMMData(
        terms=("intercept", "months", *covariates),
        ztz=ztz,
        ztx=ztx,
        zty=zty,
        xtx=x.T @ x,
        xty=x.T @ y,
        yty=float(y @ y),
        n_obs=int(n_obs),
    )


def lmm_data(cohort: Cohort, covariates: Sequence[str] = ()) -> LMMData:
    """Build a site's LMM sufficient statistics from its cohort."""
    return lmm_stats(lmm_frame(cohort, covariates), covariates)


def lmm_aggregates(data: LMMData, theta: Sequence[float]) -> dict[str, Any]:
    """Site aggregates of the mixed model at relative covariance parameters ``theta``.

    ``theta = (l11, l21, l22)`` is the lower Cholesky factor ``L`` of ``G / sigma^2`` (``G``
    the 2 x 2 covariance of random intercept and slope). With ``H_i = I + Z_i L L' Z_i'``
    (so ``V_i = sigma^2 H_i``) and ``M_i = I + L' Z_i' Z_i L``, Woodbury gives
    ``H_i^-1 = I - Z_i L M_i^-1 L' Z_i'`` and ``log|H_i| = log|M_i|``.

    For the gradient in ``theta`` (``dH_i = Z_i dD Z_i'``, ``D = L L'``), with
    ``P_i = Z_i'H_i^-1 Z_i``, ``R_i = Z_i'H_i^-1 X_i`` and ``s_i = Z_i'H_i^-1 y_i``:
    ``dA = -sum R_i' dD R_i``, ``dc = -sum R_i' dD s_i``, ``dq = -sum s_i' dD s_i`` and
    ``dl = sum tr(P_i dD)``; the site releases the sums these need.

    Returns
    -------
    dict
        ``xtvx`` = sum X'H^-1X (p x p), ``xtvy`` = sum X'H^-1y, ``ytvy`` = sum y'H^-1y,
        ``logdet`` = sum log|H_i|, ``ztvz`` = sum P_i (2 x 2), ``rr`` = sum R_i[a]' R_i[b]
        (2 x 2 x p x p), ``rs`` = sum R_i[a] s_i[b] (2 x 2 x p), ``ss`` = sum s_i s_i'
        (2 x 2), ``n_obs``, ``n``.
    """
    th = np.asarray(theta, dtype=np.float64)
    if th.shape != (3,) or not np.isfinite(th).all():
        raise ValueError("theta must be 3 finite numbers")
    lmat = np.array([[th[0], 0.0], [th[1], th[2]]])
    m = lmat.T @ data.ztz @ lmat + np.eye(2)  # (m, 2, 2)
    bx = np.einsum("ab,mbp->map", lmat.T, data.ztx)  # L' Z'X
    by = data.zty @ lmat  # (m, 2): L' Z'y
    bz = lmat.T @ data.ztz  # (m, 2, 2): L' Z'Z
    mbx = np.linalg.solve(m, bx)
    mby = np.linalg.solve(m, by[:, :, None])[:, :, 0]
    mbz = np.linalg.solve(m, bz)
    _, logdet = np.linalg.slogdet(m)
    # Z'H^-1 Z, Z'H^-1 X and Z'H^-1 y per patient, for the derivatives in theta
    zl = data.ztz @ lmat  # Z'Z L
    pz = data.ztz - zl @ mbz
    rx = data.ztx - zl @ mbx
    sy = data.zty - np.einsum("mab,mb->ma", zl, mby)
    return {
        "n": data.n,
        "n_obs": data.n_obs,
        "xtvx": (data.xtx - np.einsum("map,maq->pq", bx, mbx)).tolist(),
        "xtvy": (data.xty - np.einsum("map,ma->p", bx, mby)).tolist(),
        "ytvy": float(data.yty - np.einsum("ma,ma->", by, mby)),
        "logdet": float(logdet.sum()),
        "ztvz": pz.sum(axis=0).tolist(),
        "rr": np.einsum("map,mbq->abpq", rx, rx).tolist(),
        "rs": np.einsum("map,mb->abp", rx, sy).tolist(),
        "ss": np.einsum("ma,mb->ab", sy, sy).tolist(),
    }


def lmm_partial(data: LMMData, policy: Policy, *, theta: Sequence[float]) -> dict[str, Any]:
    """Disclosure-checked LMM aggregates of one site at ``theta``.

    Checks first that the site has at least ``min_rows`` patients and no more than
    ``max_param_ratio`` fixed-effect coefficients per patient (DataSHIELD's saturation
    rule, counted on patients rather than visits because visits of one patient are not
    independent).
    """
    check_rows(data.n, policy, "linear mixed model")
    check_params(len(data.terms), data.n, None, policy)
    return lmm_aggregates(data, theta)
