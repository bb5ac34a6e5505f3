"""MiToS functional stage from ALSFRS-R items.

Source: Chiò et al., J Neurol Neurosurg Psychiatry 2015;86:38 (Table 1). A domain
is lost when:

* walking / self-care: q8 ≤ 1 or q6 ≤ 1;
* swallowing: q3 ≤ 1;
* communicating: q1 ≤ 1 **and** q4 ≤ 1 (both speech and handwriting lost);
* breathing: q10 ≤ 1 or q12 ≤ 2.

Stage = number of domains lost (0-4); 5 = death.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from alsnet.clinical._items import Cond, all_of, any_of, cmp, flag_array, item_arrays

__all__ = ["MITOS_DOMAINS", "mitos_domains", "mitos_stage"]

#: MiToS domains in the order of the paper.
MITOS_DOMAINS: tuple[str, ...] = ("walking_selfcare", "swallowing", "communicating", "breathing")


def _domains(it: dict[str, np.ndarray]) -> dict[str, Cond]:
    return {
        "walking_selfcare": any_of(cmp(it["q8"], "<=", 1), cmp(it["q6"], "<=", 1)),
        "swallowing": cmp(it["q3"], "<=", 1),
        "communicating": all_of(cmp(it["q1"], "<=", 1), cmp(it["q4"], "<=", 1)),
        "breathing": any_of(cmp(it["q10"], "<=", 1), cmp(it["q12"], "<=", 2)),
    }


def mitos_domains(items_df: pd.DataFrame) -> pd.DataFrame:
    """Which MiToS domains are lost at each visit.

    Parameters
    ----------
    items_df : DataFrame
        ALSFRS-R items ``q1`` .. ``q12`` (points, 0-4).

    Returns
    -------
    DataFrame
        One nullable boolean column per domain of :data:`MITOS_DOMAINS`, aligned
        to ``items_df.index``; missing where the answered items do not decide.
    """
    doms = _domains(item_arrays(items_df))
    return pd.DataFrame(
        {k: pd.arrays.BooleanArray(t, ~known) for k, (t, known) in doms.items()},
        index=items_df.index,
    )


def mitos_stage(items_df: pd.DataFrame, *, dead: ArrayLike | pd.Series | None = None) -> pd.Series:
    """MiToS stage (0-5): number of functional domains lost, 5 = death.

    Parameters
    ----------
    items_df : DataFrame
        ALSFRS-R items ``q1`` .. ``q12`` (points, 0-4).
    dead : array_like or Series of 0/1, optional
        Patient dead at that day. A Series is aligned on ``items_df.index``;
        missing = 0.

    Returns
    -------
    Series of Int64
        Aligned to ``items_df.index``, named ``mitos``; missing where a domain
        cannot be decided from the answered items (and the patient is not dead).

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({f"q{i}": [4.0] for i in range(1, 13)})
    >>> v["q1"] = 0.0  # speech lost, handwriting kept: communicating is NOT lost
    >>> mitos_stage(v).tolist()
    [0]
    """
    stage, undetermined = mitos_from_items(
        item_arrays(items_df), flag_array(dead, items_df.index, name="dead")
    )
    return pd.Series(
        pd.arrays.IntegerArray(stage, undetermined), index=items_df.index, name="mitos"
    )


def mitos_from_items(it: dict[str, np.ndarray], dead: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stage (int64) and undetermined mask from item arrays and a bool death flag."""
    n = len(dead)
    count = np.zeros(n, dtype=np.int64)
    known = np.ones(n, dtype=bool)
    for t, k in _domains(it).values():
        count += t
        known &= k
    return np.where(dead, 5, count), ~(known | dead)
