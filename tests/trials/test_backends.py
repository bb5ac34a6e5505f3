"""Backends: the same seed gives identical numbers on 1 core, 2 cores and Ray, for both engines."""

from __future__ import annotations

import numpy as np
import pytest

from alsnet.trials import SimulationResult, load_design, simulate
from alsnet.trials.adaptive import AdaptiveResult
from alsnet.trials.backends import group_blocks, resolve_jobs, run_chunks, spawn_blocks

HEALEY_FIELDS = ("p_success", "p_early_futility", "mean_n", "mean_duration_months", "mean_drr")
ADAPTIVE_FIELDS = ("p_success", "p_early_futility", "p_selected", "arm_mean_n")


def _same(a: SimulationResult | AdaptiveResult, b: SimulationResult | AdaptiveResult) -> None:
    if isinstance(a, SimulationResult):
        assert isinstance(b, SimulationResult)
        for f in HEALEY_FIELDS:
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
            np.testing.assert_array_equal(getattr(a, f"{f}_se"), getattr(b, f"{f}_se"))
    else:
        assert isinstance(b, AdaptiveResult)
        for f in ADAPTIVE_FIELDS:
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
        for f in ("p_superiority", "p_equivalence", "mean_n", "mean_n_se"):
            assert getattr(a, f) == getattr(b, f)


def test_blocks_and_chunks():
    seeds, sizes = spawn_blocks(1001, seed=5, block_size=250)
    assert sizes == [250, 250, 250, 250, 1]
    chunks = group_blocks(seeds, sizes, 2)
    assert [len(s) for s, _ in chunks] == [2, 3]
    assert [x for _, z in chunks for x in z] == sizes
    assert len(group_blocks(seeds, sizes, 99)) == 5  # never more chunks than blocks
    # block streams depend only on the root seed and the block index
    again, _ = spawn_blocks(2000, seed=5, block_size=250)
    first = np.random.default_rng(seeds[3]).random(3)
    np.testing.assert_array_equal(first, np.random.default_rng(again[3]).random(3))


def test_bad_backend_and_jobs():
    with pytest.raises(ValueError, match="backend: must be one of"):
        resolve_jobs("dask", None)
    with pytest.raises(ValueError, match="n_jobs: must be >= 1"):
        resolve_jobs("local", 0)
    assert resolve_jobs("local", None) >= 1


def _square(offset: int, x: int) -> int:
    return offset + x * x


def test_run_chunks_keeps_order_on_processes():
    chunks = [(i,) for i in range(5)]
    assert run_chunks(_square, (10,), chunks, n_jobs=2) == [10, 11, 14, 19, 26]
    assert run_chunks(_square, (10,), chunks, n_jobs=1) == [10, 11, 14, 19, 26]


@pytest.mark.parametrize(
    ("design", "scenario", "n_sims"), [("healey", "slow30", 500), ("adaptr-readme", "diff", 600)]
)
def test_same_numbers_on_one_and_two_cores(design, scenario, n_sims):
    d = load_design(design)
    one = simulate(d, scenario, n_sims=n_sims, seed=42, n_jobs=1, n_chunks=1)
    two = simulate(d, scenario, n_sims=n_sims, seed=42, n_jobs=2, n_chunks=3)
    _same(one, two)
    if isinstance(one, AdaptiveResult):  # and the seed matters
        other = simulate(d, scenario, n_sims=n_sims, seed=43, n_jobs=1)
        assert isinstance(other, AdaptiveResult)
        assert not np.array_equal(other.arm_mean_n, one.arm_mean_n)


@pytest.mark.slow
def test_same_numbers_on_ray():
    pytest.importorskip("ray")
    import ray

    try:
        for design, scenario in (("healey", "null"), ("adaptr-readme", "null")):
            d = load_design(design)
            local = simulate(d, scenario, n_sims=500, seed=8, n_jobs=1)
            on_ray = simulate(d, scenario, n_sims=500, seed=8, backend="ray", n_jobs=2)
            _same(local, on_ray)
    finally:
        ray.shutdown()
