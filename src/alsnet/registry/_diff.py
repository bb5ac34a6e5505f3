"""Vectorised comparison of incoming and stored rows, grouped by an id column.

Each row is reduced to a 64-bit hash (:func:`pandas.util.hash_pandas_object`
over all columns); a group differs when its set of row hashes differs. Primary
keys make rows unique within a table, so sets and multisets agree. Both frames
must carry the same columns in the same order and the same dtypes (canonical
frames from :mod:`alsnet.registry._bulk`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

__all__ = ["differing_ids", "differing_tables"]


def _hashed(df: pd.DataFrame, by: str) -> pd.DataFrame:
    h = pd.util.hash_pandas_object(df, index=False).to_numpy()
    return pd.DataFrame({"id": df[by].astype(object).to_numpy(), "h": h})


def differing_ids(incoming: pd.DataFrame, stored: pd.DataFrame, by: str) -> pd.Index:
    """Values of column ``by`` whose rows differ between ``incoming`` and ``stored``.

    Parameters
    ----------
    incoming, stored : DataFrame
        Frames with identical columns and dtypes.
    by : str
        Grouping column (``patient_id`` or ``site_id``).

    Returns
    -------
    Index
        Ids with a row present on one side only (changed, added or removed rows).
    """
    if list(incoming.columns) != list(stored.columns):
        raise ValueError("incoming and stored frames must have the same columns")
    if incoming.empty and stored.empty:
        return pd.Index([], dtype=object)
    merged = _hashed(incoming, by).merge(
        _hashed(stored, by), on=["id", "h"], how="outer", indicator=True
    )
    return pd.Index(merged.loc[merged["_merge"] != "both", "id"].unique())


def differing_tables(
    incoming: Mapping[str, pd.DataFrame], stored: Mapping[str, pd.DataFrame], by: str
) -> dict[str, list[str]]:
    """Map each differing id to the (sorted) names of the tables where it differs."""
    out: dict[str, list[str]] = {}
    for name in incoming:
        for pid in differing_ids(incoming[name], stored[name], by):
            out.setdefault(str(pid), []).append(name)
    return {k: sorted(v) for k, v in sorted(out.items())}
