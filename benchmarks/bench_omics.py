"""Speed of the omics pipeline at the issue's target size (plain script, prints a table).

500 samples x 20,000 genes: VST + ComBat (batch = site) + consensus clustering
(k = 2..6, 50 resamples of 80 %, k-means on 20 PCs of the 1,000 most variable genes).
Target (issue 6): under 3 minutes on 2 cores and under 8 GiB peak memory.
No frozen subtype classifier exists yet, so the throughput row times the frozen
VST + ComBat transform of 10,000 new samples ("frozen transform throughput").

Run: ``.venv/bin/python benchmarks/bench_omics.py``
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np

from alsnet.omics import pp, simulate_arrays, tl


def _peak_gib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / (1024**2) if sys.platform != "darwin" else kib / 1024**3


def main(n_samples: int = 500, n_genes: int = 20_000, n_new: int = 10_000) -> None:
    import anndata

    t0 = time.perf_counter()
    sim = simulate_arrays(int(n_samples / 1.8) + 20, n_genes, seed=0)
    keep = np.arange(n_samples)
    obs = sim.obs.iloc[keep].reset_index(drop=True)
    obs.index = obs.index.astype(str)
    adata = anndata.AnnData(X=sim.counts[keep].astype(np.float64), obs=obs)
    t_sim = time.perf_counter() - t0

    rows: list[tuple[str, float]] = [("simulate (not in target)", t_sim)]
    print(f"omics pipeline, {n_samples} samples x {n_genes} genes", flush=True)
    print(f"{'step':<36} {'seconds':>9}", flush=True)
    _row(*rows[0])
    t = time.perf_counter()
    vst_model = pp.vst(adata)
    rows.append(("VST fit + transform", time.perf_counter() - t))
    _row(*rows[-1])
    t = time.perf_counter()
    combat_model = pp.combat(adata, batch_key="site")
    rows.append(("ComBat fit + transform", time.perf_counter() - t))
    _row(*rows[-1])
    t = time.perf_counter()
    res = tl.consensus_cluster(adata, k_values=range(2, 7), n_resamples=50, rng=0)
    rows.append(("consensus clustering k=2..6 x 50", time.perf_counter() - t))
    _row(*rows[-1])
    _row("pipeline total (target < 180 s)", sum(s for _, s in rows[1:]))
    _row("peak RSS after pipeline (GiB)", _peak_gib())
    print(f"(chosen k = {res.k}, published = {res.published})", flush=True)

    # frozen transform of new samples: simulated in chunks of 2,000 (simulation not timed),
    # transformed 500 at a time (cache-friendlier than whole chunks)
    t_new = 0.0
    done = 0
    for chunk, start in enumerate(range(0, n_new, 2000)):
        m = min(2000, n_new - start)
        new = simulate_arrays(int(m / 1.8) + 100, n_genes, seed=100 + chunk)
        counts = new.counts[:m]
        batch = new.obs["site"].astype(str).to_numpy()[:m]
        del new
        t = time.perf_counter()
        for j in range(0, m, 500):
            combat_model.transform(vst_model.transform(counts[j : j + 500]), batch[j : j + 500])
        t_new += time.perf_counter() - t
        done += m
    _row(f"frozen VST+ComBat, {done:,} samples", t_new)
    print(f"   -> {done / t_new:,.0f} samples/s (target >= 10,000/s)", flush=True)
    _row("peak RSS overall (GiB)", _peak_gib())


def _row(name: str, value: float) -> None:
    print(f"{name:<36} {value:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
