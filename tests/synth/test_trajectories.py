"""The D50 curve and the item split: closed forms, inverses and brute force."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alsnet.synth._trajectories import (
    integer_items,
    item_fractions,
    time_at_total,
    total_at,
    total_at_item_level,
)

finite = st.floats(allow_nan=False, allow_infinity=False)


def test_d50_closed_form() -> None:
    d50, dx = np.array([30.0]), np.array([8.0])
    assert total_at(np.array([30.0]), d50, dx)[0] == 24.0  # definition of D50
    # 48 / (1 + e) one time constant later
    np.testing.assert_allclose(total_at(np.array([38.0]), d50, dx), 48 / (1 + np.e))
    assert total_at(np.array([1e6]), d50, dx)[0] < 1e-9  # floor at 0, no overflow


@given(
    t=st.floats(0, 200),
    d50=st.floats(5, 120),
    dx=st.floats(1, 30),
)
def test_time_at_total_inverts_total_at(t: float, d50: float, dx: float) -> None:
    a, b = np.array([d50]), np.array([dx])
    total = total_at(np.array([t]), a, b)
    if 1e-6 < total[0] < 48 - 1e-6:
        np.testing.assert_allclose(time_at_total(total, a, b), [t], atol=1e-6 * max(1, t))


@settings(max_examples=60)
@given(
    f=st.lists(st.floats(0, 1), min_size=1, max_size=20),
    seed=st.integers(0, 2**31),
)
def test_item_fractions_add_up_and_keep_order(f: list[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    fa = np.array(f)
    gamma = np.exp(rng.normal(0, 0.7, (fa.size, 12)))
    lost = item_fractions(fa, gamma)
    np.testing.assert_allclose(lost.sum(axis=1), 12 * fa, atol=1e-8)
    assert (lost >= 0).all() and (lost <= 1 + 1e-12).all()
    # an item with a smaller exponent has lost at least as much
    order = np.argsort(gamma, axis=1)
    sorted_lost = np.take_along_axis(lost, order, axis=1)
    assert (np.diff(sorted_lost, axis=1) <= 1e-9).all()


def test_item_fractions_brute_force() -> None:
    gamma = np.array([[0.5, 1.0, 2.0] + [1.0] * 9])
    f = np.array([0.3])
    lost = item_fractions(f, gamma)
    grid = np.linspace(0, 1, 200001)
    sums = (grid[:, None] ** gamma[0]).sum(axis=1)
    s = grid[np.argmin(np.abs(sums - 12 * 0.3))]
    np.testing.assert_allclose(lost[0], s ** gamma[0], atol=1e-4)


@settings(max_examples=60)
@given(seed=st.integers(0, 2**31), m=st.integers(1, 30))
def test_integer_items_sum_to_rounded_total(seed: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    total = rng.uniform(0, 48, m)
    gamma = np.exp(rng.normal(0, 0.7, (m, 12)))
    items = 4 * (1 - item_fractions(1 - total / 48, gamma))
    ints = integer_items(items, total)
    assert ints.dtype.kind == "i"
    assert ((ints >= 0) & (ints <= 4)).all()
    np.testing.assert_array_equal(ints.sum(axis=1), np.round(total).astype(int))
    assert (np.abs(ints - items) < 1.0 + 1e-9).all()


def test_integer_items_hand_example() -> None:
    items = np.array([[3.6, 3.6, 3.8, 4.0]])
    # floors 3+3+3+4 = 13; two points go to the largest fractions (3.8, then the first 3.6)
    out = integer_items(items, np.array([15.0]))
    np.testing.assert_array_equal(out, [[4, 3, 4, 4]])


def test_total_at_item_level_matches_item_split() -> None:
    rng = np.random.default_rng(3)
    gamma = np.exp(rng.normal(0, 0.5, (50, 12)))
    for item, level in ((2, 2.0), (11, 3.5), (11, 1.5)):
        total = total_at_item_level(item, level, gamma)
        lost = item_fractions(1 - total / 48, gamma)
        np.testing.assert_allclose(4 * (1 - lost[:, item]), level, atol=1e-6)
