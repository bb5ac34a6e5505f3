"""Demo report section of the molecular-stratification domain.

:func:`omics_demo` computes (simulated transcriptomes through the subtype pipeline, and the
shipped trial-matching rules over the demo registry); :func:`omics_section` lays it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from alsnet.cohort import Cohort
from alsnet.report.html import Section, Table

__all__ = ["OMICS_SECTION", "OmicsDemo", "omics_demo", "omics_section"]

#: Title of the demo's omics section.
OMICS_SECTION = "Molecular stratification"


@dataclass(frozen=True)
class OmicsDemo:
    """Results behind the demo's omics section (aggregates only)."""

    n_samples: int
    n_genes: int
    k: int
    published: bool
    ari: pd.DataFrame  # rows: truth, site, platform, tissue; columns: uncorrected, corrected
    coords: np.ndarray  # (n_samples, 2) PCA of the corrected data
    subtype: np.ndarray  # recovered subtype per sample
    site: np.ndarray  # site per sample
    matches: pd.DataFrame  # per-study counts from the shipped rule table
    rules_version: str


def omics_demo(cohort: Cohort, *, seed: int = 0, n_patients: int = 120) -> OmicsDemo:
    """Run the subtype pipeline on a small simulation and the matching rules on ``cohort``.

    The transcriptomes are simulated (``n_patients`` patients x 1,000 genes, 3 sites, 2
    platforms, 3 tissues): clustering without correction is gated out, clustering after
    ComBat on site x platform recovers the simulated subtypes.
    """
    from sklearn.metrics import adjusted_rand_score
    from threadpoolctl import threadpool_limits

    from alsnet.omics import pp, simulate_transcriptome, tl
    from alsnet.omics._reports import pca
    from alsnet.omics.rules import evaluate_rules, load_rules

    adata = simulate_transcriptome(n_patients, 1000, seed=seed)
    obs = adata.obs
    combo = obs["site"].astype(str) + "/" + obs["platform"].astype(str)
    # ComBat needs >= 2 samples per batch: fold rare site x platform cells into their
    # site's most common cell
    counts = combo.map(combo.value_counts())
    main = combo.groupby(obs["site"].astype(str)).agg(lambda c: c.value_counts().index[0])
    obs["site_platform"] = combo.where(counts >= 3, obs["site"].astype(str).map(main))
    pp.vst(adata)
    pp.combat(adata, batch_key="site_platform")
    keys = ["site", "platform", "tissue"]
    ari: dict[str, dict[str, float]] = {}
    with threadpool_limits(1):
        runs = {
            layer: tl.consensus_cluster(
                adata, layer=layer, k_values=range(2, 6), n_resamples=20, batch_keys=keys, rng=0
            )
            for layer in ("vst", "combat")
        }
    for layer, res in runs.items():
        col = "uncorrected" if layer == "vst" else "ComBat (site x platform)"
        ari[col] = {"truth": adjusted_rand_score(obs["subtype"].astype(str), res.labels)}
        ari[col].update({k: float(res.gate.ari[k]) for k in keys})
        ari[col]["k"] = float(res.k)
        ari[col]["published by the gate"] = float(res.gate.published)
    final = runs["combat"]
    rules = load_rules()
    summary = evaluate_rules(rules, cohort).summary()
    return OmicsDemo(
        n_samples=int(adata.n_obs),
        n_genes=int(adata.n_vars),
        k=int(final.k),
        published=bool(final.gate.published),
        ari=pd.DataFrame(ari),
        coords=pca(np.asarray(adata.layers["combat"]), 2),
        subtype=np.asarray(final.labels),
        site=obs["site"].astype(str).to_numpy(),
        matches=summary,
        rules_version=str(rules.version),
    )


def omics_section(res: OmicsDemo) -> Section:
    """Subtype recovery with the batch gate, and trial matching over the registry."""
    from alsnet.omics._reports import embedding_scatter

    text = Markup(
        "<p>Simulated transcriptomes ({} samples x {} genes from 3 sites, 2 platforms and 3 "
        "tissues) go through the frozen VST, ComBat on site x platform and consensus "
        "clustering (k = 2..5). Without correction the clusters follow the batches and the "
        "QC gate refuses them; after correction k = {} subtypes are {}. The shipped "
        "trial-matching rules (version {}) are evaluated over the demo registry.</p>"
    ).format(
        res.n_samples,
        res.n_genes,
        res.k,
        "published" if res.published else "refused",
        res.rules_version,
    )
    ari = res.ari.copy()
    ari.insert(0, "adjusted Rand index vs", ari.index)
    figs: list[Any] = [
        embedding_scatter(res.coords, res.subtype, title="Recovered subtypes (PCA, corrected)"),
        embedding_scatter(res.coords, res.site, title="The same samples by site"),
    ]
    return Section(
        OMICS_SECTION,
        text,
        figures=figs,
        tables=[
            Table(ari.reset_index(drop=True), "Clusters vs truth and batches", float_digits=2),
            Table(res.matches, "Trial matching: patients per study and status"),
        ],
    )
