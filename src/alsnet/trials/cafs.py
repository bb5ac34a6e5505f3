"""CAFS: the combined assessment of function and survival (Berry et al. 2013).

Every participant is compared with every other; each pair scores +1 / 0 / -1:

1. **Survival first.** If both had the event (death or permanent assisted ventilation),
   the later event wins; equal event days tie (0). If exactly one had the event, the
   other wins: participants without an event are taken as alive at the end of follow-up,
   as in Berry et al. (2013) and the HEALEY SAP.
2. **Then function.** If neither had the event, compare the change in ALSFRS-R total from
   baseline at the last scheduled visit *both* attended; less decline wins, equal changes
   tie. A visit missed between two attended visits is filled by the last observation
   carried forward, so with monotone missingness (dropout) this is exactly "the last visit
   both attended", and otherwise the last visit both have a value up to.

Each participant's score is the sum of its pair scores; groups are compared by the
Wilcoxon rank-sum (Mann–Whitney) test on the ranks of the scores (higher = better).

The pairwise definition costs O(n²); here scores are computed in O(V n log n) for V
scheduled visits: deaths and survivors form a total order on survival, and the function
comparisons are counted level by level (pairs whose last common visit is v) with sorted
arrays and binary search.

References
----------
Berry JD, Miller R, Moore DH, et al. The Combined Assessment of Function and Survival
(CAFS): a new endpoint for ALS clinical trials. Amyotroph Lateral Scler Frontotemporal
Degener 2013;14:162–168.
Finkelstein DM, Schoenfeld DA. Combining mortality and longitudinal measures in clinical
trials. Stat Med 1999;18:1341–1354.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from alsnet.trials._errors import TrialDesignError

__all__ = ["CafsResult", "cafs", "cafs_scores"]

FloatArray = NDArray[np.float64]


def _as_inputs(
    died: ArrayLike, event_day: ArrayLike, alsfrs_change: ArrayLike
) -> tuple[NDArray[np.bool_], FloatArray, FloatArray]:
    d = np.asarray(died)
    if d.ndim != 1:
        raise TrialDesignError("died: must be one-dimensional (one flag per participant)")
    if d.dtype != bool:
        if not np.isin(d, (0, 1)).all():
            raise TrialDesignError("died: must be boolean or 0/1")
        d = d.astype(bool)
    n = d.size
    t = np.asarray(event_day, dtype=float)
    if t.shape != (n,):
        raise TrialDesignError(f"event_day: shape {t.shape}, expected ({n},)")
    if np.isnan(t[d]).any():
        raise TrialDesignError("event_day: missing for a participant with the event")
    c = np.asarray(alsfrs_change, dtype=float)
    if c.ndim == 1:
        c = c[:, None]
    if c.ndim != 2 or c.shape[0] != n:
        raise TrialDesignError(f"alsfrs_change: shape {c.shape}, expected ({n},) or ({n}, V)")
    return d, t, c


def _locf(c: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
    """Prepend the baseline change 0, carry values forward; return values and last level."""
    full = np.concatenate([np.zeros((c.shape[0], 1)), c], axis=1)
    seen = ~np.isnan(full)
    idx = np.where(seen, np.arange(full.shape[1]), 0)
    np.maximum.accumulate(idx, axis=1, out=idx)
    filled = np.take_along_axis(full, idx, axis=1)
    last = full.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1)
    return filled, last


def _wins_minus_losses(x: FloatArray, ref_sorted: FloatArray) -> FloatArray:
    """For each x: #(ref < x) - #(ref > x)."""
    less = np.searchsorted(ref_sorted, x, side="left")
    greater = ref_sorted.size - np.searchsorted(ref_sorted, x, side="right")
    return (less - greater).astype(float)


def cafs_scores(died: ArrayLike, event_day: ArrayLike, alsfrs_change: ArrayLike) -> FloatArray:
    """CAFS score of each participant: pairwise wins minus losses against all others.

    Parameters
    ----------
    died : array_like of bool, shape (n,)
        Whether the participant had the event (death or permanent assisted ventilation)
        during follow-up.
    event_day : array_like of float, shape (n,)
        Day of the event since randomisation; ignored (may be NaN) without an event.
    alsfrs_change : array_like of float, shape (n,) or (n, V)
        Change in ALSFRS-R total (points) from baseline, either at the end of follow-up
        (1-D) or at each of V scheduled post-baseline visits (2-D, NaN = not attended).
        Only used for comparisons between participants without an event.

    Returns
    -------
    numpy.ndarray of float, shape (n,)
        Scores in [-(n - 1), n - 1]; higher is better. They sum to 0.

    Examples
    --------
    >>> cafs_scores([True, False, False, True], [30, np.nan, np.nan, 90], [0, -3, -1, 0])
    array([-3.,  1.,  3., -1.])
    """
    d, t, c = _as_inputs(died, event_day, alsfrs_change)
    n = d.size
    score = np.zeros(n)
    n_dead = int(d.sum())
    n_alive = n - n_dead
    if n_dead:
        td = t[d]
        score[d] = 2.0 * stats.rankdata(td) - n_dead - 1.0 - n_alive
    if n_alive:
        alive = np.flatnonzero(~d)
        vals, last = _locf(c[alive])
        part = np.zeros(n_alive)
        for v in np.unique(last):
            members = np.flatnonzero(last >= v)
            owners = last[members] == v
            x = vals[members, v]
            all_sorted = np.sort(x)
            own_sorted = np.sort(x[owners])
            contrib = np.where(
                owners,
                _wins_minus_losses(x, all_sorted),
                _wins_minus_losses(x, own_sorted),
            )
            part[members] += contrib
        score[alive] = part + n_dead
    return score


@dataclass(frozen=True, slots=True)
class CafsResult:
    """CAFS comparison of a treated and a control group (frozen result).

    Attributes
    ----------
    statistic : float
        Mann–Whitney U of the treated group (number of treated-control pairs in which the
        treated participant has the higher CAFS score, ties counting 1/2).
    pvalue : float
        Normal-approximation p-value with tie and continuity corrections (as
        ``scipy.stats.mannwhitneyu(method="asymptotic")``).
    win_probability : float
        ``U / (n_treated n_control)``: probability a treated participant ranks above a
        control (0.5 = no difference).
    mean_rank_treated, mean_rank_control : float
        Mean rank of the CAFS scores (1 = worst) in each group.
    n_treated, n_control : int
        Group sizes.
    alternative : str
        ``"two-sided"``, ``"greater"`` (treated better) or ``"less"``.
    scores : numpy.ndarray
        CAFS score of every participant, in input order.
    """

    statistic: float
    pvalue: float
    win_probability: float
    mean_rank_treated: float
    mean_rank_control: float
    n_treated: int
    n_control: int
    alternative: str
    scores: FloatArray

    def summary(self) -> pd.DataFrame:
        """One-row table of the test."""
        return pd.DataFrame(
            [
                {
                    "n_treated": self.n_treated,
                    "n_control": self.n_control,
                    "mean_rank_treated": self.mean_rank_treated,
                    "mean_rank_control": self.mean_rank_control,
                    "U": self.statistic,
                    "win_probability": self.win_probability,
                    "pvalue": self.pvalue,
                    "alternative": self.alternative,
                }
            ]
        )

    def __repr__(self) -> str:
        return (
            f"CafsResult(n={self.n_treated}+{self.n_control}, U={self.statistic:g}, "
            f"win_probability={self.win_probability:.3f}, pvalue={self.pvalue:.4g})"
        )


def cafs(
    died: ArrayLike,
    event_day: ArrayLike,
    alsfrs_change: ArrayLike,
    treated: ArrayLike,
    *,
    alternative: Literal["two-sided", "greater", "less"] = "two-sided",
) -> CafsResult:
    """CAFS scores, ranks and Wilcoxon rank-sum test of treated vs control.

    Parameters
    ----------
    died, event_day, alsfrs_change
        As in :func:`cafs_scores`.
    treated : array_like of bool, shape (n,)
        True for the active arm, False for control (placebo).
    alternative : {"two-sided", "greater", "less"}, default "two-sided"
        ``"greater"`` tests whether treated participants rank higher (do better).

    Returns
    -------
    CafsResult

    Examples
    --------
    >>> r = cafs([0, 0, 0, 0], [np.nan] * 4, [-1, -2, -6, -8], [1, 1, 0, 0])
    >>> r.win_probability
    1.0
    """
    scores = cafs_scores(died, event_day, alsfrs_change)
    g = np.asarray(treated)
    if g.shape != scores.shape or not np.isin(g, (0, 1)).all():
        raise TrialDesignError("treated: must be one boolean/0-1 flag per participant")
    g = g.astype(bool)
    n1, n0 = int(g.sum()), int((~g).sum())
    if n1 == 0 or n0 == 0:
        raise TrialDesignError("treated: both groups need at least one participant")
    if alternative not in ("two-sided", "greater", "less"):
        raise TrialDesignError(f"alternative: {alternative!r} is not two-sided/greater/less")
    ranks = stats.rankdata(scores)
    u = float(ranks[g].sum() - n1 * (n1 + 1) / 2.0)
    n = n1 + n0
    _, tie_counts = np.unique(scores, return_counts=True)
    tie_term = float(np.sum(tie_counts**3 - tie_counts)) / (n * (n - 1)) if n > 1 else 0.0
    var = n1 * n0 / 12.0 * ((n + 1) - tie_term)
    mu = n1 * n0 / 2.0
    if var <= 0:
        p = 1.0
    else:
        sd = math.sqrt(var)
        if alternative == "greater":
            p = float(stats.norm.sf((u - mu - 0.5) / sd))
        elif alternative == "less":
            p = float(stats.norm.cdf((u - mu + 0.5) / sd))
        else:
            z = (abs(u - mu) - 0.5) / sd
            p = float(min(1.0, 2.0 * stats.norm.sf(z)))
    return CafsResult(
        statistic=u,
        pvalue=p,
        win_probability=u / (n1 * n0),
        mean_rank_treated=float(ranks[g].mean()),
        mean_rank_control=float(ranks[~g].mean()),
        n_treated=n1,
        n_control=n0,
        alternative=alternative,
        scores=scores,
    )
