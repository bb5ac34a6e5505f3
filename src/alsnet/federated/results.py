"""Frozen result objects of federated analyses (``summary()`` DataFrame, ``to_json()``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["CoxResult", "KMResult", "SummaryResult"]


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
