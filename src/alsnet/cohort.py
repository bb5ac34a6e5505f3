"""The one data object of alsnet: an immutable, validated bundle of canonical tables."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from alsnet.schema import SCHEMA_VERSION, TABLES
from alsnet.validation import validate_tables

__all__ = ["Cohort"]


def _fingerprint(tables: Mapping[str, pd.DataFrame]) -> str:
    """SHA-256 over the tables' content, independent of row order."""
    h = hashlib.sha256(SCHEMA_VERSION.encode())
    for name in TABLES:
        df = tables[name]
        h.update(name.encode())
        if len(df):
            rows = pd.util.hash_pandas_object(df, index=False).to_numpy()
            h.update(np.sort(rows).tobytes())
    return h.hexdigest()


@dataclass(frozen=True, eq=False)
class Cohort:
    """Immutable bundle of canonical tables, validated once at construction.

    Build one with :meth:`from_tables` (validates and coerces) rather than the
    constructor. Tables are exposed as attributes (``cohort.visits``) and share
    the canonical column names of :mod:`alsnet.schema`; day columns count days
    since each patient's symptom onset.

    Attributes
    ----------
    tables : mapping of str to DataFrame
        Every canonical table (empty frames for tables without data).
    schema_version : str
        Version of :mod:`alsnet.schema` the tables follow.
    fingerprint : str
        SHA-256 of the content, independent of row order.

    Examples
    --------
    >>> import pandas as pd
    >>> from alsnet import Cohort
    >>> c = Cohort.from_tables({
    ...     "patients": pd.DataFrame({"patient_id": ["P1"], "site_id": ["S1"], "sex": ["F"],
    ...         "age_onset": [61.0], "onset_region": ["bulbar"], "diagnosis_day": [270],
    ...         "el_escorial": ["probable"], "ftd": [0], "c9orf72": [0], "sod1": [None],
    ...         "ancestry": ["EUR"]}),
    ...     "visits": pd.DataFrame({"patient_id": ["P1"], "day": [300],
    ...                             "instrument": ["alsfrs_r"]}),
    ...     "events": pd.DataFrame({"patient_id": [], "event": [], "day": []}),
    ... })
    >>> c
    Cohort(patients=1, visits=1, events=0, sites=0)
    """

    tables: Mapping[str, pd.DataFrame]
    schema_version: str = SCHEMA_VERSION
    fingerprint: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        frozen = {k: v for k, v in self.tables.items()}
        object.__setattr__(self, "tables", MappingProxyType(frozen))
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", _fingerprint(frozen))

    @classmethod
    def from_tables(
        cls,
        tables: Mapping[str, pd.DataFrame],
        *,
        strict: bool = False,
        sources: Mapping[str, str] | None = None,
        lines: Mapping[str, np.ndarray] | None = None,
    ) -> Cohort:
        """Validate raw tables and build a cohort.

        Parameters
        ----------
        tables : mapping of str to DataFrame
            At least ``patients``, ``visits`` and ``events``; any other table of
            :data:`alsnet.schema.TABLES` is optional.
        strict : bool, default False
            Refuse columns that are not canonical (otherwise they are dropped).
        sources, lines : mappings, optional
            File names and line numbers to use in error messages.

        Raises
        ------
        DataValidationError
            Listing every problem found; no cohort is built.
        """
        return cls(validate_tables(tables, strict=strict, sources=sources, lines=lines))

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name != "tables" and name in TABLES:
            return self.tables[name]
        raise AttributeError(name)

    def __repr__(self) -> str:
        return (
            f"Cohort(patients={len(self.tables['patients'])}, visits={len(self.tables['visits'])}, "
            f"events={len(self.tables['events'])}, sites={len(self.tables['sites'])})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Cohort) and self.fingerprint == other.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def copy_tables(self) -> dict[str, pd.DataFrame]:
        """Return deep copies of the tables (the cohort itself never changes)."""
        return {k: v.copy() for k, v in self.tables.items()}

    def subset(self, patient_ids: pd.Index | list[str]) -> Cohort:
        """Return a cohort restricted to ``patient_ids`` (sites are kept)."""
        ids = pd.Index(patient_ids)
        out = {}
        for name, df in self.tables.items():
            if TABLES[name].per_patient:
                out[name] = df.loc[df["patient_id"].isin(ids)].reset_index(drop=True)
            else:
                out[name] = df
        return Cohort(out)
