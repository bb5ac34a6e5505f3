"""Throughput of assigning new samples with a frozen subtype classifier (prints a table).

A model (VST -> ComBat on site -> stability-selected panel -> calibrated logistic) is fitted
on 300 simulated patients x 20,000 genes; 600 held-out patients of the same simulation give
the new samples, tiled to the sizes below (tiling changes nothing for throughput).

Rows:
* ``panel input``: 100,000 samples x the model's genes (panel + size-factor genes);
* ``full input``: 5,000 samples x 20,000 genes (int32 AnnData; the model reads its columns);
* ``old path``: the general frozen transform (``VarianceStabilizer.transform`` +
  ``ComBat.transform`` on all genes, then the classifier) for 2,000 samples x 20,000 genes.

Target (issue 6): at least 10,000 samples per second.

Run: ``.venv/bin/python benchmarks/bench_omics_assign.py``
"""

from __future__ import annotations

import time

import numpy as np


def main(n_train: int = 300, n_test: int = 600, n_genes: int = 20_000) -> None:
    import anndata

    from alsnet.omics import pp, simulate_arrays
    from alsnet.omics.classify import fit_classifier
    from alsnet.omics.panel import stability_selector

    t0 = time.perf_counter()
    sim = simulate_arrays(n_train + n_test, n_genes, seed=0)
    pid = sim.obs["patient_id"].astype(str).to_numpy()
    cut = f"P{n_train:0{len(pid[0]) - 1}d}"
    tr = pid < cut
    genes = sim.var.index.astype(str)
    obs = sim.obs.copy()
    train = anndata.AnnData(X=sim.counts[tr], obs=obs[tr])
    train.var_names = genes
    test_counts = sim.counts[~tr].astype(np.int32)
    test_obs = obs[~tr]
    print(f"simulate {sim.counts.shape[0]} x {n_genes}: {time.perf_counter() - t0:.1f} s")

    t = time.perf_counter()
    model = fit_classifier(train, "subtype", selector=stability_selector(n_subsamples=50))
    t_fit = time.perf_counter() - t
    need = list(model.required_genes)
    cols = genes.get_indexer(need)
    held = anndata.AnnData(X=test_counts, obs=test_obs)
    held.var_names = genes
    acc = (model.assign(held)["subtype"].to_numpy() == test_obs["subtype"].astype(str)).mean()

    rows: list[tuple[str, int, int, float]] = []
    # panel input: 100,000 samples x required genes
    reps = int(np.ceil(100_000 / test_counts.shape[0]))
    big = np.tile(test_counts[:, cols], (reps, 1))[:100_000]
    site = np.tile(test_obs["site"].astype(str).to_numpy(), reps)[:100_000]
    t = time.perf_counter()
    model.predict_proba_counts(big, need, site)
    rows.append(("frozen assign, panel input", big.shape[0], big.shape[1], time.perf_counter() - t))
    del big

    # full input: 5,000 samples x 20,000 genes via AnnData
    reps = int(np.ceil(5_000 / test_counts.shape[0]))
    full = anndata.AnnData(
        X=np.tile(test_counts, (reps, 1))[:5_000],
        obs=test_obs.iloc[np.tile(np.arange(test_obs.shape[0]), reps)[:5_000]].reset_index(
            drop=True
        ),
    )
    full.obs_names = full.obs_names.astype(str)
    full.var_names = genes
    t = time.perf_counter()
    model.assign(full)
    rows.append(("frozen assign, full input", full.n_obs, full.n_vars, time.perf_counter() - t))
    del full

    # old general path on all genes
    vst = pp.VarianceStabilizer().fit(train.X)
    v = vst.transform(train.X)
    combat = pp.ComBat().fit(v, train.obs["site"].astype(str))
    sub = test_counts[:2000]
    t = time.perf_counter()
    corrected = combat.transform(vst.transform(sub), test_obs["site"].astype(str)[:2000])
    corrected[:, genes.get_indexer(list(model.genes))].mean()
    rows.append(("old VST+ComBat transform", sub.shape[0], n_genes, time.perf_counter() - t))

    print(
        f"\nmodel: {len(model.genes)} panel genes + {len(need) - len(model.genes)} size-factor "
        f"genes; fit {t_fit:.1f} s on {train.n_obs} samples; held-out accuracy {acc:.3f}\n"
    )
    print("| path | samples | genes in input | seconds | samples/s |")
    print("|---|---:|---:|---:|---:|")
    for name, n, g, s in rows:
        print(f"| {name} | {n:,} | {g:,} | {s:.2f} | {n / s:,.0f} |")
    print("\ntarget: >= 10,000 samples/s")


if __name__ == "__main__":
    main()
