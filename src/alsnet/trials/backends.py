"""Execution backends for trial simulations: in-process, local processes, or a Ray cluster.

Simulations are split into fixed **blocks** of trials; block ``b`` draws its random numbers
from ``numpy.random.SeedSequence(seed).spawn(n_blocks)[b]`` (:func:`spawn_blocks`). Blocks are
grouped into **chunks** (:func:`group_blocks`), and chunks are the unit of work a backend runs
(:func:`run_chunks`). Because every block owns its stream and the engines keep block
boundaries, the results are identical whatever the number of chunks, processes or machines:
the same seed gives the same numbers on 1 core, 2 cores or a Ray cluster.

Backends
--------
``local``
    ``concurrent.futures.ProcessPoolExecutor`` on this machine, ``n_jobs`` processes (default:
    every core this process may use); with one job or one chunk, runs in this process.
``ray``
    Each chunk is a Ray remote task (``num_cpus=1``). Connects to the cluster in
    ``RAY_ADDRESS`` when set, otherwise starts a local Ray instance with ``n_jobs`` CPUs.
    Needs the optional extra ``cluster`` (``pip install 'alsnet[cluster]'``).
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "BACKENDS",
    "available_cores",
    "group_blocks",
    "run_blocks",
    "run_chunks",
    "spawn_blocks",
]

#: Names accepted by ``backend=``.
BACKENDS = ("local", "ray")

T = TypeVar("T")


def available_cores() -> int:
    """CPU cores this process may run on (respects affinity masks and cgroups' CPU sets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def spawn_blocks(
    n_sims: int, seed: int, block_size: int
) -> tuple[list[np.random.SeedSequence], list[int]]:
    """Seed sequences and sizes of the blocks of ``n_sims`` trials (last block may be smaller)."""
    if n_sims < 1:
        raise ValueError(f"n_sims must be >= 1, got {n_sims}")
    n_blocks = -(-n_sims // block_size)
    sizes = [block_size] * (n_blocks - 1) + [n_sims - block_size * (n_blocks - 1)]
    return np.random.SeedSequence(seed).spawn(n_blocks), sizes


def group_blocks(
    seeds: Sequence[np.random.SeedSequence], sizes: Sequence[int], n_chunks: int
) -> list[tuple[list[np.random.SeedSequence], list[int]]]:
    """Split consecutive blocks into ``n_chunks`` groups of nearly equal size (in order)."""
    n_blocks = len(seeds)
    n_chunks = max(1, min(n_chunks, n_blocks))
    cut = np.linspace(0, n_blocks, n_chunks + 1).round().astype(int)
    return [
        (list(seeds[cut[i] : cut[i + 1]]), list(sizes[cut[i] : cut[i + 1]]))
        for i in range(n_chunks)
    ]


def resolve_jobs(backend: str, n_jobs: int | None) -> int:
    """Number of parallel workers for ``backend`` (``None``: every available core)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend: must be one of {BACKENDS}, got {backend!r}")
    if n_jobs is not None and n_jobs < 1:
        raise ValueError(f"n_jobs: must be >= 1, got {n_jobs}")
    return available_cores() if n_jobs is None else int(n_jobs)


def run_chunks(
    fn: Callable[..., T],
    common: tuple[Any, ...],
    chunks: Sequence[tuple[Any, ...]],
    *,
    backend: str = "local",
    n_jobs: int | None = None,
) -> list[T]:
    """Run ``fn(*common, *chunk)`` for every chunk on ``backend``; results in chunk order.

    Parameters
    ----------
    fn
        A module-level (picklable) function.
    common
        Arguments shared by every chunk (e.g. the design and scenario); sent once to Ray.
    chunks
        Per-chunk arguments (e.g. the chunk's seed sequences and block sizes).
    backend
        ``"local"`` or ``"ray"`` (see the module docstring).
    n_jobs
        Parallel workers (``None``: all available cores; for Ray, the local instance's CPUs).
    """
    jobs = resolve_jobs(backend, n_jobs)
    if backend == "ray":
        return _run_ray(fn, common, chunks, n_jobs)
    if jobs == 1 or len(chunks) == 1:
        return [fn(*common, *c) for c in chunks]
    with ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=_mp_context(fn)) as ex:
        futs = [ex.submit(fn, *common, *c) for c in chunks]
        return [f.result() for f in futs]


def _mp_context(fn: Callable[..., Any]) -> multiprocessing.context.BaseContext:
    """Start workers from a fork server that has imported ``fn``'s module.

    Forking the caller is unsafe once it runs threads (JAX, BLAS pools, Ray clients): a
    child can inherit a held lock and hang. A fork server is a clean single-threaded
    process; preloading the engine module keeps worker start-up to a fork.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([fn.__module__])
    return ctx


def run_blocks(
    fn: Callable[..., dict[str, np.ndarray]],
    common: tuple[Any, ...],
    n_sims: int,
    seed: int,
    block_size: int,
    *,
    n_chunks: int | None = None,
    trials_per_chunk: int | None = None,
    backend: str = "local",
    n_jobs: int | None = None,
) -> dict[str, np.ndarray]:
    """Simulate ``n_sims`` trials in blocks; the engine's per-trial arrays, concatenated.

    Spawns the blocks (:func:`spawn_blocks`), groups them into chunks (:func:`group_blocks`),
    runs ``fn(*common, seeds, sizes)`` per chunk (:func:`run_chunks`) and concatenates each
    array of the returned dicts along the first (trial) axis.

    Parameters
    ----------
    n_chunks
        Chunks (default: one per job, or with ``trials_per_chunk`` about ``n_sims /
        trials_per_chunk`` and at least one per job). Does not change the results.
    """
    jobs = resolve_jobs(backend, n_jobs)
    seeds, sizes = spawn_blocks(n_sims, seed, block_size)
    if n_chunks is None:
        n_chunks = jobs
        if trials_per_chunk is not None:
            n_chunks = max(1, round(n_sims / trials_per_chunk), jobs)
    chunks = group_blocks(seeds, sizes, n_chunks)
    outs = run_chunks(fn, common, chunks, backend=backend, n_jobs=n_jobs)
    return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}


def _run_ray(
    fn: Callable[..., T],
    common: tuple[Any, ...],
    chunks: Sequence[tuple[Any, ...]],
    n_jobs: int | None,
) -> list[T]:
    try:
        import ray
    except ImportError:
        raise ImportError(
            "backend 'ray' needs Ray: pip install 'alsnet[cluster]' (or pip install ray)"
        ) from None
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(
                num_cpus=n_jobs or available_cores(),
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
    remote = ray.remote(num_cpus=1)(fn)
    common_refs = [ray.put(x) for x in common]
    refs = [remote.remote(*common_refs, *c) for c in chunks]
    return list(ray.get(refs))
