"""Disclosure checks applied at a site before anything is released.

* :func:`check_rows` - refuse results computed from too few patients.
* :func:`check_params` - refuse models with too many parameters per patient or event
  (DataSHIELD's GLM saturation rule).
* :func:`suppression_mask` - small-cell suppression of a count table with secondary
  suppression, so suppressed cells cannot be recovered from released margins.
* :func:`km_blocks` - the Kaplan-Meier event-time rule: counts are released on a fixed
  grid, coarsened into dyadic blocks so that every released count is 0 or at least
  ``min_cell``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from alsnet.federated.errors import PrivacyThresholdError
from alsnet.federated.policy import Policy

__all__ = ["check_params", "check_rows", "km_blocks", "suppression_mask"]


def check_rows(n: int, policy: Policy, what: str) -> None:
    """Refuse when fewer than ``policy.min_rows`` patients contribute to ``what``.

    Raises
    ------
    PrivacyThresholdError
        When ``n < policy.min_rows``.
    """
    if n < policy.min_rows:
        raise PrivacyThresholdError(
            f"site {policy.site_id}: {what} needs at least {policy.min_rows} patients "
            f"(policy min_rows); refused"
        )


def check_params(n_params: int, n_rows: int, n_events: int | None, policy: Policy) -> None:
    """Refuse a model whose parameters exceed ``max_param_ratio`` x patients (or events).

    Parameters
    ----------
    n_params : int
        Number of estimated coefficients.
    n_rows : int
        Patients contributing at the site.
    n_events : int or None
        Events contributing at the site (survival models), else None.
    """
    limit_n = policy.max_param_ratio * n_rows
    if n_params > limit_n:
        raise PrivacyThresholdError(
            f"site {policy.site_id}: {n_params} parameters for {n_rows} patients exceeds "
            f"max_param_ratio {policy.max_param_ratio}; refused"
        )
    if n_events is not None:
        if n_events < policy.min_cell:
            raise PrivacyThresholdError(
                f"site {policy.site_id}: fewer than {policy.min_cell} events (policy min_cell); "
                "refused"
            )
        if n_params > policy.max_param_ratio * n_events:
            raise PrivacyThresholdError(
                f"site {policy.site_id}: {n_params} parameters exceed max_param_ratio "
                f"{policy.max_param_ratio} x number of events; refused"
            )


def _protect_line(counts: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_], m: int) -> bool:
    """Add secondary suppressions to one line in place; return True when anything changed.

    A line with any suppressed cell must have at least two suppressed cells whose sum is at
    least ``m``, so that no suppressed cell can be solved from the line's (public) total.
    """
    if not mask.any():
        return False
    changed = False
    while mask.sum() < 2 or counts[mask].sum() < m:
        cand = np.flatnonzero(~mask & (counts > 0))
        if cand.size == 0:
            break
        mask[cand[np.argmin(counts[cand])]] = True
        changed = True
    return changed


def suppression_mask(counts: npt.ArrayLike, min_cell: int) -> npt.NDArray[np.bool_]:
    """Cells to suppress in a 1-D or 2-D table of counts.

    Primary suppression hides every count in ``1 .. min_cell - 1``. Secondary suppression
    then hides further cells (smallest first) until every row and column that holds a
    suppressed cell holds at least two, summing to at least ``min_cell``. Row and column
    totals are assumed public (they are released as 1-D tables), so a lone suppressed cell
    could otherwise be recovered by subtraction. Zeros are released.

    Parameters
    ----------
    counts : array_like of int, shape (k,) or (r, c)
        Non-negative counts.
    min_cell : int
        Smallest non-zero count that may be released.

    Returns
    -------
    ndarray of bool, same shape as ``counts``
        True where the cell must be suppressed.

    Examples
    --------
    >>> suppression_mask([12, 3, 40, 7], 5).tolist()
    [False, True, False, True]
    """
    c = np.asarray(counts, dtype=np.int64)
    if c.ndim not in (1, 2):
        raise ValueError("counts must be a 1-D or 2-D table")
    if (c < 0).any():
        raise ValueError("counts must be non-negative")
    two_d = c.ndim == 2
    c2 = c if two_d else c[None, :]
    mask = (c2 > 0) & (c2 < min_cell)
    changed = True
    while changed:
        changed = False
        for i in range(c2.shape[0]):
            changed |= _protect_line(c2[i], mask[i], min_cell)
        if two_d:
            for j in range(c2.shape[1]):
                col = mask[:, j].copy()
                if _protect_line(c2[:, j], col, min_cell):
                    mask[:, j] = col
                    changed = True
    return mask if two_d else mask[0]


def km_blocks(
    events: npt.ArrayLike, censored: npt.ArrayLike, min_cell: int
) -> list[tuple[int, int]]:
    """Dyadic blocks of grid intervals on which Kaplan-Meier counts may be released.

    The follow-up tail, from a grid index whose remainder holds 0 or at least
    ``min_cell`` events and censorings, is one block (the start giving the most blocks is
    chosen). Before it, the grid indices ``0 .. 2**L - 1`` form a binary tree: starting
    from the root, a block is split into its two halves when both hold 0 or at least
    ``min_cell`` events and 0 or at least ``min_cell`` censorings. Every released count,
    and every difference of released numbers at risk, is then 0 or at least ``min_cell``.
    Because dyadic blocks of different sites are nested or disjoint, the coordinator can
    merge all sites onto the coarsest common blocks and still compute an exact pooled
    estimate.

    Parameters
    ----------
    events, censored : array_like of int, shape (k,)
        Events and censorings per grid interval.
    min_cell : int
        Smallest non-zero count that may be released.

    Returns
    -------
    list of (first, last)
        Inclusive grid-index ranges of the released blocks holding any exit, ascending.

    Raises
    ------
    PrivacyThresholdError
        When the whole follow-up has 1 .. min_cell - 1 events or censorings.
    """
    d = np.asarray(events, dtype=np.int64)
    c = np.asarray(censored, dtype=np.int64)

    def passes(a: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        return (a == 0) | (a >= min_cell)

    if not (passes(d.sum(keepdims=True))[0] and passes(c.sum(keepdims=True))[0]):
        raise PrivacyThresholdError(
            f"Kaplan-Meier: fewer than {min_cell} events or censorings in all of follow-up"
        )
    if not (d + c).any():
        return []
    # tail: a start whose remainder passes is released as one block; the dyadic tree covers
    # the body before it. Try every passing start and keep the finest partition.
    rd, rc = np.cumsum(d[::-1])[::-1], np.cumsum(c[::-1])[::-1]
    starts = np.flatnonzero(passes(rd) & passes(rc) & ((rd + rc) > 0))
    last = int(np.flatnonzero((d + c) > 0).max())
    best: list[tuple[int, int]] = [(0, last)]
    for tail in starts[::-1]:
        blocks = _dyadic_body(d, c, int(tail), min_cell)
        if blocks is not None and len(blocks) + 1 > len(best):
            best = [*blocks, (int(tail), last)]
    return best


def _dyadic_body(
    d: npt.NDArray[np.int64], c: npt.NDArray[np.int64], tail: int, min_cell: int
) -> list[tuple[int, int]] | None:
    """Dyadic blocks of grid indices ``0 .. tail - 1`` (None when the body fails)."""
    size = 1 << max(int(np.ceil(np.log2(max(tail, 1)))), 0)
    cd = np.concatenate([[0], np.cumsum(np.pad(d[:tail], (0, size - tail)))])
    cc = np.concatenate([[0], np.cumsum(np.pad(c[:tail], (0, size - tail)))])

    def counts(lo: int, hi: int) -> tuple[int, int]:
        return int(cd[hi + 1] - cd[lo]), int(cc[hi + 1] - cc[lo])

    def ok(lo: int, hi: int) -> bool:
        a, b = counts(lo, hi)
        return (a == 0 or a >= min_cell) and (b == 0 or b >= min_cell)

    if tail == 0:
        return []
    if not ok(0, size - 1):
        return None
    out: list[tuple[int, int]] = []
    stack = [(0, size - 1)]
    while stack:  # loop over blocks (at most 2 x grid size), not patients
        lo, hi = stack.pop()
        if counts(lo, hi) == (0, 0):
            continue
        mid = (lo + hi) // 2
        if hi > lo and ok(lo, mid) and ok(mid + 1, hi):
            stack += [(mid + 1, hi), (lo, mid)]
        else:
            out.append((lo, min(hi, tail - 1)))
    return sorted(out)
