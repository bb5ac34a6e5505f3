"""King's clinical stage estimated from ALSFRS-R items.

Source: Balendra et al., ALS Frontotemporal Degener 2014;15:279 (rules as given in
the alsnet reference, clinical-scores.md §3):

* regions involved: bulbar (q1, q2 or q3 < 4), upper limb (q4 or q5a < 4),
  lower limb (q8 < 4); stages 1-3 = number of regions involved;
* 4A (nutritional failure): gastrostomy, i.e. q5b answered or a gastrostomy flag;
* 4B (respiratory failure): q10 == 0 or q12 < 4;
* 5: death (from events, never from ALSFRS-R);
* precedence 5 > 4B > 4A > region count.

**Project choice (not a published rule):** a visit with no region involved is
reported as stage 1, on the argument that a person diagnosed with ALS has at
least one clinically involved region. :func:`kings_regions` returns the raw
count (0-3) so analyses can find, exclude or recode these visits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from alsnet.clinical._items import any_of, cmp, flag_array, item_arrays

__all__ = ["KINGS_DTYPE", "KINGS_STAGES", "kings_regions", "kings_stage"]

#: King's stages in clinical order.
KINGS_STAGES: tuple[str, ...] = ("1", "2", "3", "4A", "4B", "5")
#: Ordered categorical dtype of :func:`kings_stage` (so stages compare and sort).
KINGS_DTYPE = pd.CategoricalDtype(list(KINGS_STAGES), ordered=True)


def region_count(it: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Region count (int) and whether it is determined by the answered items."""
    bulbar = any_of(cmp(it["q1"], "<", 4), cmp(it["q2"], "<", 4), cmp(it["q3"], "<", 4))
    q5a_t, q5a_known = cmp(it["q5a"], "<", 4)
    # Under a gastrostomy q5a is not asked (q5b is answered instead): not applicable.
    q5a_known = q5a_known | ~np.isnan(it["q5b"])
    upper = any_of(cmp(it["q4"], "<", 4), (q5a_t, q5a_known))
    lower = cmp(it["q8"], "<", 4)
    count = bulbar[0].astype(np.int64) + upper[0] + lower[0]
    known = bulbar[1] & upper[1] & lower[1]
    return count, known


def kings_regions(items_df: pd.DataFrame) -> pd.Series:
    """Number of King's regions involved (0-3) at each visit.

    Parameters
    ----------
    items_df : DataFrame
        ALSFRS-R items ``q1`` .. ``q12``, ``q5a``, ``q5b`` (points, 0-4).

    Returns
    -------
    Series of Int64
        Regions involved, aligned to ``items_df.index``, named ``kings_regions``.
        Missing when a region's involvement is not determined by the answered
        items (a region counts as involved as soon as one answered item is < 4).
        A count of 0 is reported by :func:`kings_stage` as stage 1 (project choice).
    """
    count, known = region_count(item_arrays(items_df))
    return pd.Series(
        pd.arrays.IntegerArray(count, ~known), index=items_df.index, name="kings_regions"
    )


def kings_stage(
    items_df: pd.DataFrame,
    *,
    gastrostomy: ArrayLike | pd.Series | None = None,
    dead: ArrayLike | pd.Series | None = None,
) -> pd.Series:
    """King's stage (1, 2, 3, 4A, 4B, 5) estimated from ALSFRS-R items.

    Parameters
    ----------
    items_df : DataFrame
        ALSFRS-R items ``q1`` .. ``q12``, ``q5a``, ``q5b`` (points, 0-4).
    gastrostomy : array_like or Series of 0/1, optional
        Gastrostomy in place at the visit (e.g. a gastrostomy event on or before
        the visit day). A Series is aligned on ``items_df.index``; missing = 0.
        An answered q5b also means a gastrostomy.
    dead : array_like or Series of 0/1, optional
        Patient dead at that day (stage 5). Missing = 0.

    Returns
    -------
    Series
        Ordered categorical with categories :data:`KINGS_STAGES`, aligned to
        ``items_df.index``, named ``kings``. Missing when the answered items do
        not determine the stage (e.g. q10/q12 missing, so 4B cannot be ruled out;
        original-ALSFRS visits have no q10..q12).

    Notes
    -----
    Precedence: 5 > 4B > 4A > number of regions. A visit with no region involved
    is reported as ``"1"`` (project choice; see :func:`kings_regions`).

    Examples
    --------
    >>> import pandas as pd
    >>> v = pd.DataFrame({f"q{i}": [4.0, 4.0] for i in (1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12)})
    >>> v["q5a"] = [3.0, 4.0]
    >>> kings_stage(v, dead=[0, 1]).tolist()
    ['1', '5']
    """
    idx = items_df.index
    code = kings_codes(
        item_arrays(items_df),
        flag_array(gastrostomy, idx, name="gastrostomy"),
        flag_array(dead, idx, name="dead"),
    )
    return pd.Series(pd.Categorical.from_codes(code, dtype=KINGS_DTYPE), index=idx, name="kings")


def kings_codes(it: dict[str, np.ndarray], gastrostomy: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """Codes into :data:`KINGS_STAGES` (-1 = undetermined) from item arrays and bool flags."""
    gastro = gastrostomy | ~np.isnan(it["q5b"])
    count, known = region_count(it)
    region_code = np.where(known, np.maximum(count, 1) - 1, -1)
    base = np.where(gastro, 3, region_code)
    resp_true, resp_known = any_of(cmp(it["q10"], "==", 0), cmp(it["q12"], "<", 4))
    code = np.where(resp_true, 4, np.where(resp_known, base, -1))
    return np.where(dead, 5, code).astype(np.int8)
