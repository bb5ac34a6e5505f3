"""The registry: SQLite / PostgreSQL store of canonical cohorts.

>>> from alsnet.registry import Store
>>> with Store.open("sqlite:///registry.db") as store:  # doctest: +SKIP
...     store.save(cohort, source="export.csv")
"""

from __future__ import annotations

from alsnet.registry._report import SaveReport
from alsnet.registry.store import Store

__all__ = ["SaveReport", "Store"]
