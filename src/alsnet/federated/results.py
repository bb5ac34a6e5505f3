"""Frozen result objects of federated analyses (``summary()`` DataFrame, ``to_json()``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["CoxResult", "KMResult", "LMMResult", "SummaryResult"]


def _frame_json(df: pd.DataFrame) -> list[dict[str, Any]]:
    rows = df.astype(object).where(df.notna(), None).to_dict(orient="records")
    return [{str(k): v for k, v in r.items()} for r in rows]


@dataclass(frozen=True)
class SummaryResult:
    """Pooled counts and numeric moments over the sites.

    Attributes
    ----------
    table : DataFrame
        One row per cell: the ``by`` variables, ``count`` (pooled; missing when any site
        suppressed the cell) and ``suppressed_sites``.
    numeric : DataFrame
        Per numeric variable: ``n``, ``mean`` and ``sd`` (sample SD), exact pooled values.
    n : int
        Patients over all sites.
    sites : tuple of str
        Contributing sites.
    """

    table: pd.DataFrame
    numeric: pd.DataFrame
    n: int
    sites: tuple[str, ...]
    analysis: str = field(default="summary", init=False)

    def summary(self) -> pd.DataFrame:
        """The released table."""
        return self.table

    def __repr__(self) -> str:
        return f"SummaryResult(n={self.n}, cells={len(self.table)}, sites={len(self.sites)})"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "analysis": self.analysis,
            "n": self.n,
            "sites": list(self.sites),
            "table": _frame_json(self.table),
            "numeric": _frame_json(self.numeric.reset_index()),
        }


@dataclass(frozen=True)
class KMResult:
    """Pooled Kaplan-Meier estimate on the time grid common to all sites' releases.

    Attributes
    ----------
    table : DataFrame
        ``time_days`` (end of each released interval, days since onset), ``n_at_risk``,
        ``events``, ``censored`` and ``survival``.
    grid_days : int
        Base grid requested.
    n : int
        Patients over all sites.
    sites : tuple of str
        Contributing sites.
    """

    table: pd.DataFrame
    grid_days: int
    n: int
    sites: tuple[str, ...]
    analysis: str = field(default="km", init=False)

    def summary(self) -> pd.DataFrame:
        """The suppressed survival table."""
        return self.table

    def __repr__(self) -> str:
        return (
            f"KMResult(n={self.n}, events={int(self.table['events'].sum())}, "
            f"times={len(self.table)}, sites={len(self.sites)})"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "analysis": self.analysis,
            "grid_days": self.grid_days,
            "n": self.n,
            "sites": list(self.sites),
            "table": _frame_json(self.table),
        }


@dataclass(frozen=True)
class CoxResult:
    """Site-stratified Cox model (Efron ties) fitted by federated Newton steps.

    Attributes
    ----------
    coef, se : mapping of str to float
        Log hazard ratios and their standard errors, keyed by covariate.
    loglik : float
        Log partial likelihood at the estimate.
    n, events : int
        Patients and deaths contributing.
    iterations : int
        Newton steps taken.
    sites : tuple of str
        Contributing sites (strata).
    """

    coef: Mapping[str, float]
    se: Mapping[str, float]
    loglik: float
    n: int
    events: int
    iterations: int
    sites: tuple[str, ...]
    analysis: str = field(default="cox", init=False)

    def summary(self) -> pd.DataFrame:
        """Coefficients, SEs and hazard ratios, one row per covariate."""
        import numpy as np

        df = pd.DataFrame({"coef": pd.Series(self.coef), "se": pd.Series(self.se)})
        df["hazard_ratio"] = np.exp(df["coef"])
        df["z"] = df["coef"] / df["se"]
        df.index.name = "covariate"
        return df

    def __repr__(self) -> str:
        return (
            f"CoxResult(covariates={len(self.coef)}, n={self.n}, events={self.events}, "
            f"sites={len(self.sites)})"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form; ``coef`` and ``se`` are objects keyed by covariate."""
        return {
            "analysis": self.analysis,
            "coef": dict(self.coef),
            "se": dict(self.se),
            "loglik": self.loglik,
            "n": self.n,
            "events": self.events,
            "iterations": self.iterations,
            "sites": list(self.sites),
            "strata": "site",
            "ties": "efron",
        }


@dataclass(frozen=True)
class LMMResult:
    """Linear mixed model of ALSFRS-R total on months since onset, fitted federatedly.

    ``alsfrs_r_ij = x_ij' beta + b0_i + b1_i months_ij + e_ij`` with ``(b0_i, b1_i) ~ N(0,
    G)`` (unstructured) and ``e_ij ~ N(0, sigma^2)``; fitted by REML (or ML) from summed
    site aggregates, equal to the pooled fit.

    Attributes
    ----------
    coef, se : mapping of str to float
        Fixed effects (points; ``months`` in points per month) and SEs, keyed by term.
    re_cov : mapping of str to float
        ``intercept_var`` (points^2), ``slope_var`` ((points/month)^2), ``cov``
        (points^2/month) and ``residual_var`` (points^2).
    m2ll : float
        -2 log (restricted) likelihood at the estimate.
    method : {"reml", "ml"}
    n, n_obs : int
        Patients and visits contributing.
    iterations : int
        Optimiser iterations (each a few federated rounds).
    sites : tuple of str
        Contributing sites.
    """

    coef: Mapping[str, float]
    se: Mapping[str, float]
    re_cov: Mapping[str, float]
    m2ll: float
    method: str
    n: int
    n_obs: int
    iterations: int
    sites: tuple[str, ...]
    analysis: str = field(default="lmm", init=False)

    def summary(self) -> pd.DataFrame:
        """Fixed effects with SEs, one row per term."""
        df = pd.DataFrame({"coef": pd.Series(self.coef), "se": pd.Series(self.se)})
        df["z"] = df["coef"] / df["se"]
        df.index.name = "term"
        return df

    def __repr__(self) -> str:
        return (
            f"LMMResult(terms={len(self.coef)}, n={self.n}, visits={self.n_obs}, "
            f"sites={len(self.sites)})"
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form; ``coef`` and ``se`` are objects keyed by term."""
        return {
            "analysis": self.analysis,
            "outcome": "alsfrs_r_total",
            "time": "months since onset",
            "random_effects": "patient intercept and slope (unstructured)",
            "method": self.method,
            "coef": dict(self.coef),
            "se": dict(self.se),
            "variance_components": dict(self.re_cov),
            "m2ll": self.m2ll,
            "n": self.n,
            "n_obs": self.n_obs,
            "iterations": self.iterations,
            "sites": list(self.sites),
        }
