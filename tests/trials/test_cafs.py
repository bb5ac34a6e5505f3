"""CAFS against a brute-force O(n^2) pairwise oracle and scipy's Mann–Whitney test."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from alsnet.trials import TrialDesignError
from alsnet.trials.cafs import cafs, cafs_scores


def brute_force(died: np.ndarray, day: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Literal pairwise CAFS: survival first, else change at the last visit both attended."""
    n = died.size
    c = change if change.ndim == 2 else change[:, None]
    full = np.concatenate([np.zeros((n, 1)), c], axis=1)  # baseline change = 0
    score = np.zeros(n)
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            if died[i] and died[j]:
                s = np.sign(day[i] - day[j])
            elif died[i] != died[j]:
                s = -1.0 if died[i] else 1.0
            else:
                both = np.flatnonzero(~np.isnan(full[i]) & ~np.isnan(full[j]))
                v = both.max()
                s = np.sign(full[i, v] - full[j, v])
            score[i] += s
    return score


@st.composite
def trial_data(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 25))
    v = draw(st.integers(1, 6))
    died = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    day = np.array(draw(st.lists(st.integers(1, 12), min_size=n, max_size=n)), dtype=float)
    day[~died] = np.nan
    # small integer changes give many ties; dropout gives monotone missingness
    change = np.array(
        draw(st.lists(st.integers(-6, 2), min_size=n * v, max_size=n * v)), dtype=float
    ).reshape(n, v)
    last = np.array(draw(st.lists(st.integers(0, v), min_size=n, max_size=n)))
    change[np.arange(v)[None, :] >= last[:, None]] = np.nan
    return died, day, change


@settings(max_examples=150, deadline=None)
@given(trial_data())
def test_scores_match_brute_force(data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    died, day, change = data
    ours = cafs_scores(died, day, change)
    np.testing.assert_array_equal(ours, brute_force(died, day, change))
    assert ours.sum() == 0


@settings(max_examples=50, deadline=None)
@given(trial_data())
def test_one_dimensional_change_matches_brute_force(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    died, day, change = data
    end = np.nan_to_num(change[:, -1], nan=0.0)
    np.testing.assert_array_equal(cafs_scores(died, day, end), brute_force(died, day, end))


def test_hand_computed_example_with_intermittent_gap() -> None:
    # A: died day 10; B: died day 40; C: alive, visits -1, NaN (missed), -4
    # D: alive, dropped out after visit 1 with -2
    died = [True, True, False, False]
    day = [10, 40, np.nan, np.nan]
    change = [[np.nan] * 3, [np.nan] * 3, [-1, np.nan, -4], [-2, np.nan, np.nan]]
    # C vs D compared at visit 1 (last both attended): -1 > -2, C wins
    np.testing.assert_array_equal(cafs_scores(died, day, change), [-3, -1, 3, 1])
    # the gap is carried forward: C vs E (visit 2 attended, -3) compares -1 (LOCF) vs -3
    s = cafs_scores([False, False], [np.nan, np.nan], [[-1, np.nan, -4], [-5, -3, np.nan]])
    np.testing.assert_array_equal(s, [1, -1])


@settings(max_examples=40, deadline=None)
@given(trial_data(), st.sampled_from(["two-sided", "greater", "less"]), st.integers(0, 10**6))
def test_test_matches_scipy_mannwhitneyu(
    data: tuple[np.ndarray, np.ndarray, np.ndarray], alternative: str, seed: int
) -> None:
    died, day, change = data
    n = died.size
    if n < 2:
        return
    treated = np.random.default_rng(seed).permutation(np.arange(n) < max(1, n // 2))
    r = cafs(died, day, change, treated, alternative=alternative)  # type: ignore[arg-type]
    ref = stats.mannwhitneyu(
        r.scores[treated], r.scores[~treated], alternative=alternative, method="asymptotic"
    )
    if np.ptp(r.scores) == 0:
        assert r.pvalue == 1.0
        return
    assert r.statistic == pytest.approx(ref.statistic)
    assert r.pvalue == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)


def test_treatment_effect_detected_and_summary() -> None:
    rng = np.random.default_rng(5)
    n = 400
    treated = np.arange(n) < n // 2
    slope = rng.normal(-1.0, 0.5, n) * np.where(treated, 0.6, 1.0)  # points/month
    months = np.arange(1, 7)
    change = slope[:, None] * months[None, :] + rng.normal(0, 1.5, (n, 6))
    died = rng.random(n) < np.where(treated, 0.03, 0.08)
    day = np.where(died, rng.integers(1, 180, n), np.nan)
    r = cafs(died, day, change, treated, alternative="greater")
    assert r.win_probability > 0.6 and r.pvalue < 1e-6
    assert r.mean_rank_treated > r.mean_rank_control
    assert list(r.summary().columns)[:2] == ["n_treated", "n_control"]
    assert repr(r).startswith("CafsResult(n=200+200")


def test_bad_input() -> None:
    with pytest.raises(TrialDesignError, match="event_day"):
        cafs_scores([True], [np.nan], [0.0])
    with pytest.raises(TrialDesignError, match="alsfrs_change"):
        cafs_scores([True, False], [1, 2], [0.0])
    with pytest.raises(TrialDesignError, match="treated"):
        cafs([False, False], [np.nan, np.nan], [0, 1], [1, 1])
