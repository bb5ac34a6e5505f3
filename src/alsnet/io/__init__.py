"""Importers and exporters: canonical CSV/Parquet, pseudonyms, OMOP CDM 5.4.

- :func:`read_csv` / :func:`write_csv`, :func:`read_parquet` /
  :func:`write_parquet`: the canonical layout, lossless round trip.
- :func:`pseudonymise` / :func:`load_secret`: keyed pseudonyms for local ids.
- :func:`write_omop`: an OMOP CDM 5.4 export with synthetic dates.
- :func:`layout_markdown`: the canonical layout as Markdown.
"""

from __future__ import annotations

from alsnet.io.canonical import (
    layout_markdown,
    read_csv,
    read_parquet,
    write_csv,
    write_parquet,
)
from alsnet.io.omop import write_omop
from alsnet.io.pseudonym import SecretError, load_secret, pseudonymise

__all__ = [
    "SecretError",
    "layout_markdown",
    "load_secret",
    "pseudonymise",
    "read_csv",
    "read_parquet",
    "write_csv",
    "write_omop",
    "write_parquet",
]
