"""Vectorised comparison of incoming and stored rows, grouped by an id column.

Each row is reduced to a 64-bit hash (:func:`pandas.util.hash_pandas_object`
over all columns, the id included); a group differs when one of its rows has no
equal-hash partner on the other side. Primary
keys make rows unique within a table, so sets and multisets agree. Both frames
must carry the same columns in the same order and the same dtypes (canonical
frames from :mod:`alsnet.registry._bulk`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["differing_ids", "differing_tables"]


def _row_hashes(df: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(df, index=False).to_numpy()


def differing_ids(incoming: pd.DataFrame, stored: pd.DataFrame, by: str) -> pd.Index:
    """Values of column ``by`` whose rows differ between ``incoming`` and ``stored``.

    Parameters
    ----------
    incoming, stored : DataFrame
        Frames with identical columns and dtypes.
    by : str
        Grouping column (``patient_id`` or ``site_id``); it is part of every
        row's hash, so a row matches only a row of the same id.

    Returns
    -------
    Index
        Ids with a row present on one side only (changed, added or removed rows).
    """
    if list(incoming.columns) != list(stored.columns):
        raise ValueError("incoming and stored frames must have the same columns")
    hi, hs = _row_hashes(incoming), _row_hashes(stored)
    only_in = incoming[by].to_numpy(dtype=object)[~np.isin(hi, hs)]
    only_st = stored[by].to_numpy(dtype=object)[~np.isin(hs, hi)]
    return pd.Index(pd.unique(np.concatenate([only_in, only_st])), dtype=object)


def differing_tables(
    incoming: Mapping[str, pd.DataFrame], stored: Mapping[str, pd.DataFrame], by: str
) -> dict[str, list[str]]:
    """Map each differing id to the (sorted) names of the tables where it differs."""
    out: dict[str, list[str]] = {}
    for name in incoming:
        for pid in differing_ids(incoming[name], stored[name], by):
            out.setdefault(str(pid), []).append(name)
    return {k: sorted(v) for k, v in sorted(out.items())}
