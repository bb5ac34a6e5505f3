"""Fixtures of the registry tests: an open store on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alsnet.registry import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A freshly migrated, empty store (runs once per backend via ``db_url``)."""
    with Store.open(db_url) as s:
        yield s
