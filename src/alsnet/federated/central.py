"""Coordinator-side ("central") functions: combine released site aggregates.

Each is a pure function of the sites' payloads (see :mod:`alsnet.federated.partial`) and
equals the pooled computation: cross-tabs by summation, Kaplan-Meier on the coarsest
grid common to all sites, and the site-stratified Cox score and information by summation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alsnet.federated.results import KMResult, SummaryResult

__all__ = [
    "common_cuts",
    "cox_combine",
    "km_central",
    "lmm_combine",
    "lmm_profile",
    "summary_central",
]


def _sum_cells(arrays: list[Any]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Sum nested count lists; NaN where any site suppressed; count suppressing sites."""
    stacked = np.array([np.array(a, dtype=object) for a in arrays], dtype=object)
    isnone = np.vectorize(lambda v: v is None, otypes=[bool])(stacked)
    vals = np.where(isnone, 0, stacked).astype(np.float64)
    total = vals.sum(axis=0)
    n_supp = isnone.sum(axis=0).astype(np.int64)
    total[n_supp > 0] = np.nan
    return total, n_supp


def summary_central(payloads: Mapping[str, Mapping[str, Any]]) -> SummaryResult:
    """Pool site summaries: sum released counts; exact pooled mean and SD from moments."""
    sites = tuple(sorted(payloads))
    first = payloads[sites[0]]
    by: list[str] = list(first["by"])
    levels: list[list[str]] = [list(lv) for lv in first["levels"]]
    for s in sites:
        if list(payloads[s]["by"]) != by:
            raise ValueError(f"site {s} answered a different summary")
    n = int(sum(int(payloads[s]["n"]) for s in sites))
    if by:
        total, n_supp = _sum_cells([payloads[s]["counts"] for s in sites])
        idx = pd.MultiIndex.from_product(levels, names=by)
        table = idx.to_frame(index=False)
        table["count"] = pd.array(
            np.where(np.isnan(total.ravel()), -1, total.ravel()).astype(np.int64), dtype="Int64"
        )
        table.loc[np.isnan(total.ravel()), "count"] = pd.NA
        table["suppressed_sites"] = n_supp.ravel()
    else:
        table = pd.DataFrame({"count": pd.array([n], dtype="Int64"), "suppressed_sites": [0]})
    rows = []
    names = list(first.get("numeric", {}))
    for name in names:
        m = [payloads[s]["numeric"][name] for s in sites]
        k = sum(int(x["n"]) for x in m)
        s1 = sum(float(x["sum"]) for x in m)
        s2 = sum(float(x["sumsq"]) for x in m)
        mean = s1 / k
        var = (s2 - k * mean * mean) / (k - 1) if k > 1 else float("nan")
        rows.append({"variable": name, "n": k, "mean": mean, "sd": float(np.sqrt(max(var, 0.0)))})
    numeric = pd.DataFrame(rows, columns=["variable", "n", "mean", "sd"]).set_index("variable")
    return SummaryResult(table=table, numeric=numeric, n=n, sites=sites)


def common_cuts(payloads: Mapping[str, Mapping[str, Any]]) -> npt.NDArray[np.int64]:
    """Released KM times usable as cuts by every site.

    A time is usable for a site unless it falls strictly inside one of the site's released
    blocks (``from_days <= t < time_days``); dyadic blocks make the result the ends of the
    coarsest blocks common to all sites.
    """
    ends = [np.asarray(p["time_days"], dtype=np.int64) for p in payloads.values()]
    universe = np.unique(np.concatenate([*ends, np.zeros(0, np.int64)]))
    ok = np.ones(universe.size, dtype=bool)
    for p in payloads.values():
        lo = np.asarray(p["from_days"], dtype=np.int64)
        hi = np.asarray(p["time_days"], dtype=np.int64)
        if lo.size:
            inside = (universe[:, None] >= lo[None, :]) & (universe[:, None] < hi[None, :])
            ok &= ~inside.any(axis=1)
    return universe[ok]


def km_central(payloads: Mapping[str, Mapping[str, Any]]) -> KMResult:
    """Pooled Kaplan-Meier from the sites' coarsened counts.

    Every site's counts are merged onto :func:`common_cuts`; the estimate equals the
    product-limit estimator on pooled data whose times are rounded up to the grid and then
    to the next common cut (``S(t_j) = prod_{i<=j} (1 - d_i / n_i)``).
    """
    sites = tuple(sorted(payloads))
    grids = {int(payloads[s]["grid_days"]) for s in sites}
    if len(grids) != 1:
        raise ValueError("sites answered on different Kaplan-Meier grids")
    cuts = common_cuts(payloads)
    d = np.zeros(cuts.size, dtype=np.int64)
    c = np.zeros(cuts.size, dtype=np.int64)
    n = 0
    for s in sites:
        p = payloads[s]
        n += int(p["n"])
        t = np.asarray(p["time_days"], dtype=np.int64)
        j = np.searchsorted(cuts, t, side="left")
        np.add.at(d, j, np.asarray(p["events"], dtype=np.int64))
        np.add.at(c, j, np.asarray(p["censored"], dtype=np.int64))
    exits = d + c
    at_risk = n - (np.cumsum(exits) - exits)
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(np.where(at_risk > 0, 1.0 - d / at_risk, 1.0))
    table = pd.DataFrame(
        {
            "time_days": cuts,
            "n_at_risk": at_risk,
            "events": d,
            "censored": c,
            "survival": surv,
        }
    )
    return KMResult(table=table, grid_days=grids.pop(), n=n, sites=sites)


def cox_combine(
    payloads: Mapping[str, Mapping[str, Any]],
) -> tuple[float, npt.NDArray[np.float64], npt.NDArray[np.float64], int, int]:
    """Sum the strata's log-likelihoods, scores and information matrices.

    Returns
    -------
    loglik, score, information, n, events
    """
    sites = sorted(payloads)
    ll = float(sum(float(payloads[s]["loglik"]) for s in sites))
    u = np.sum([np.asarray(payloads[s]["score"], dtype=np.float64) for s in sites], axis=0)
    info = np.sum([np.asarray(payloads[s]["information"], dtype=np.float64) for s in sites], axis=0)
    n = sum(int(payloads[s]["n"]) for s in sites)
    ev = sum(int(payloads[s]["events"]) for s in sites)
    return ll, u, info, n, ev


def lmm_combine(payloads: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Sum the sites' LMM aggregates (see :func:`alsnet.federated.partial.lmm_aggregates`)."""
    sites = sorted(payloads)

    def total(key: str) -> npt.NDArray[np.float64]:
        return np.sum([np.asarray(payloads[s][key], dtype=np.float64) for s in sites], 0)

    return {
        "ztvz": total("ztvz"),
        "rr": total("rr"),
        "rs": total("rs"),
        "ss": total("ss"),
        "xtvx": np.sum([np.asarray(payloads[s]["xtvx"], dtype=np.float64) for s in sites], 0),
        "xtvy": np.sum([np.asarray(payloads[s]["xtvy"], dtype=np.float64) for s in sites], 0),
        "ytvy": float(sum(float(payloads[s]["ytvy"]) for s in sites)),
        "logdet": float(sum(float(payloads[s]["logdet"]) for s in sites)),
        "n_obs": sum(int(payloads[s]["n_obs"]) for s in sites),
        "n": sum(int(payloads[s]["n"]) for s in sites),
    }


def lmm_profile(
    agg: Mapping[str, Any], theta: npt.ArrayLike, *, reml: bool = True
) -> dict[str, Any]:
    """Profiled -2 log-likelihood, beta and sigma^2 from summed aggregates at one theta.

    With ``A = sum X'H^-1X``, ``c = sum X'H^-1y``, ``q = sum y'H^-1y``, ``l = sum log|H_i|``
    (``V_i = sigma^2 H_i``): ``beta = A^-1 c``, ``RSS = q - c'beta``; REML profiles
    ``sigma^2 = RSS / (N - p)`` and ``-2 log L = (N - p)(1 + log 2 pi sigma^2) + l + log|A|``;
    ML uses ``sigma^2 = RSS / N`` and ``-2 log L = N (1 + log 2 pi sigma^2) + l``.

    The gradient in ``theta`` (lower Cholesky factor of ``D = G / sigma^2``) follows from
    ``dRSS = dq - 2 beta'dc + beta'dA beta`` and ``d log|A| = tr(A^-1 dA)``.

    Returns
    -------
    dict
        ``m2ll`` (-2 log L), ``grad`` (d m2ll / d theta), ``beta``, ``sigma2``
        (points^2), ``cov_beta`` (sigma^2 A^-1).
    """
    a = np.asarray(agg["xtvx"], dtype=np.float64)
    c = np.asarray(agg["xtvy"], dtype=np.float64)
    n_obs = int(agg["n_obs"])
    p = c.size
    chol = np.linalg.cholesky(a)
    beta = np.linalg.solve(a, c)
    rss = float(agg["ytvy"]) - float(c @ beta)
    dof = n_obs - p if reml else n_obs
    sigma2 = rss / dof
    m2ll = dof * (1.0 + np.log(2 * np.pi * sigma2)) + float(agg["logdet"])
    if reml:
        m2ll += 2.0 * float(np.log(np.diag(chol)).sum())
    th = np.asarray(theta, dtype=np.float64)
    lmat = np.array([[th[0], 0.0], [th[1], th[2]]])
    ainv = np.linalg.inv(a)
    rr, rs = np.asarray(agg["rr"]), np.asarray(agg["rs"])
    ss, pz = np.asarray(agg["ss"]), np.asarray(agg["ztvz"])
    grad = np.zeros(3)
    for k, (i, j) in enumerate(((0, 0), (1, 0), (1, 1))):
        e = np.zeros((2, 2))
        e[i, j] = 1.0
        dd = e @ lmat.T + lmat @ e.T
        da = -np.einsum("ab,abpq->pq", dd, rr)
        dc = -np.einsum("ab,abp->p", dd, rs)
        dq = -float((dd * ss).sum())
        dl = float((dd * pz).sum())
        drss = dq - 2.0 * float(beta @ dc) + float(beta @ da @ beta)
        grad[k] = dof * drss / rss + dl
        if reml:
            grad[k] += float(np.trace(ainv @ da))
    return {
        "m2ll": float(m2ll),
        "grad": grad,
        "beta": beta,
        "sigma2": sigma2,
        "cov_beta": sigma2 * ainv,
    }
