"""Choice of k on the default simulator: old rule vs the current one, across seeds.

Default simulator (``OmicsSimParams()``: subtypes 61/19/20 %, 3 sites, 2 platforms with 10 %
of samples off their site's platform, 3 tissues), 200 patients (about 380 samples) x 2,000
genes. Pipeline: VST, ComBat on the batch column, consensus clustering (k = 2..6, 50
resamples, 1,000 top-variance genes, 20 PCs).

Rules compared:

* ``old``: k-means base clusterer (3 restarts), k = lowest PAC (ties to the smaller k);
* ``new``: Ward base clusterer, k = best silhouette among k with PAC <= min PAC + 0.05.

"ARI gate" is the batch gate (ARI vs site/platform/tissue <= 0.2); "one-batch cluster" is
True when :func:`alsnet.omics.tl.batch_purity` finds a cluster made of one site/platform/
tissue level (``alsnet omics subtype`` refuses those too).

Run: ``.venv/bin/python benchmarks/eval_omics_kchoice.py [n_seeds]`` (about 30 s per row on
a shared 2-core machine).
"""

from __future__ import annotations

import logging
import sys

import pandas as pd
from sklearn.metrics import adjusted_rand_score

from alsnet.omics import pp, simulate_transcriptome, tl

CONFIGS = (
    ("old", "site x platform", "kmeans", 0.0),
    ("new", "site x platform", "hierarchical", tl.PAC_TOLERANCE),
    ("new", "site", "hierarchical", tl.PAC_TOLERANCE),
)


def evaluate(seed: int, rule: str, batch: str, method: str, tol: float) -> dict[str, object]:
    """One row: k chosen, ARI vs the simulated subtypes, PAC and silhouette by k."""
    adata = simulate_transcriptome(200, 2000, seed=seed)
    adata.obs["site x platform"] = (
        adata.obs["site"].astype(str) + "/" + adata.obs["platform"].astype(str)
    )
    pp.vst(adata)
    pp.combat(adata, batch_key=batch)
    res = tl.consensus_cluster(
        adata,
        k_values=range(2, 7),
        n_resamples=50,
        method=method,  # type: ignore[arg-type]
        pac_tolerance=tol,
        rng=0,
    )
    assert res.silhouette is not None
    return {
        "seed": seed,
        "rule": rule,
        "ComBat on": batch,
        "k chosen": res.k,
        "ARI truth": adjusted_rand_score(adata.obs["subtype"].astype(str), res.labels),
        "PAC k=2..6": " ".join(f"{v:.2f}" for v in res.pac),
        "silhouette k=2..6": " ".join(f"{v:.2f}" for v in res.silhouette),
        "ARI gate": "pass" if res.published else "refuse",
        "one-batch cluster": bool(
            tl.batch_purity(res.labels, adata.obs, batch_keys=["site", "platform", "tissue"])[
                "suspect"
            ].any()
        ),
    }


def _markdown(df: pd.DataFrame) -> str:
    cells = [[f"{v:.2f}" if isinstance(v, float) else str(v) for v in row] for row in df.values]
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def main() -> None:
    logging.disable(logging.WARNING)
    n_seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    rows = [evaluate(seed, *cfg) for cfg in CONFIGS for seed in range(n_seeds)]
    df = pd.DataFrame(rows)
    print(_markdown(df))
    summary = df.groupby(["rule", "ComBat on"], sort=False).agg(
        seeds=("seed", "size"),
        k3=("k chosen", lambda k: int((k == 3).sum())),
        median_ari=("ARI truth", "median"),
        min_ari=("ARI truth", "min"),
    )
    print()
    print(_markdown(summary.reset_index()))


if __name__ == "__main__":
    main()
