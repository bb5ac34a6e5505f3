"""The result of :meth:`alsnet.registry.Store.save`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import pandas as pd

__all__ = ["SaveReport"]


@dataclass(frozen=True)
class SaveReport:
    """What one :meth:`~alsnet.registry.Store.save` did.

    Attributes
    ----------
    inserted : int
        Patients new to the store (all their rows were written).
    unchanged : int
        Patients already stored with identical rows in every table (nothing written).
    replaced : int
        Patients stored with different rows whose rows were deleted and written
        anew (only with ``on_conflict="replace"``).
    rows : mapping of str to int
        Rows written per canonical table (0 everywhere for a repeated save).
    deleted : mapping of str to int
        Rows deleted per canonical table (rows of replaced patients, replaced sites).
    source : str
        The ``source`` label given to ``save``.
    fingerprint : str
        :attr:`alsnet.cohort.Cohort.fingerprint` of the saved cohort.
    import_id : int or None
        Id of the row written to the ``imports`` audit table.
    elapsed_s : float
        Wall-clock duration of the save, in seconds.
    """

    inserted: int
    unchanged: int
    replaced: int
    rows: Mapping[str, int]
    deleted: Mapping[str, int] = field(default_factory=dict)
    source: str = ""
    fingerprint: str = ""
    import_id: int | None = None
    elapsed_s: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", MappingProxyType(dict(self.rows)))
        object.__setattr__(self, "deleted", MappingProxyType(dict(self.deleted)))

    @property
    def changed(self) -> bool:
        """Whether the save wrote or deleted any row."""
        return any(self.rows.values()) or any(self.deleted.values())

    def __repr__(self) -> str:
        return (
            f"SaveReport(inserted={self.inserted}, unchanged={self.unchanged}, "
            f"replaced={self.replaced}, rows={sum(self.rows.values())}, "
            f"deleted={sum(self.deleted.values())}, elapsed_s={self.elapsed_s:.2f})"
        )

    def summary(self) -> pd.DataFrame:
        """Rows written and deleted per table (index ``table``, columns ``written``/``deleted``)."""
        names = list(dict.fromkeys([*self.rows, *self.deleted]))
        return pd.DataFrame(
            {
                "written": [int(self.rows.get(n, 0)) for n in names],
                "deleted": [int(self.deleted.get(n, 0)) for n in names],
            },
            index=pd.Index(names, name="table"),
        )
