"""Tests of consensus clustering, PAC/cophenetic k choice and the batch QC gate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from alsnet.omics import OmicsSimParams, pp, simulate_transcriptome, tl

pytest.importorskip("anndata")


def test_pac_brute_force() -> None:
    rng = np.random.default_rng(0)
    c = rng.random((12, 12))
    c = (c + c.T) / 2
    np.fill_diagonal(c, 1)
    pairs = [(i, j) for i in range(12) for j in range(i + 1, 12)]
    want = np.mean([0.1 < c[i, j] < 0.9 for i, j in pairs])
    assert tl.pac_score(c) == pytest.approx(want)


def test_consensus_matrix_properties_on_separated_blobs() -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 0.3, (20, 2)), rng.normal(5, 0.3, (20, 2))])
    cons = tl.consensus_matrices(x, [2, 3], n_resamples=10, rng=0)
    for c in cons.values():
        np.testing.assert_allclose(c, c.T)
        np.testing.assert_allclose(np.diag(c), 1)
        assert c.min() >= 0 and c.max() <= 1
    # two perfectly separated groups: consensus 1 within, 0 between -> PAC 0 at k = 2
    assert tl.pac_score(cons[2]) == 0
    assert cons[2][:20, 20:].max() == 0


def test_gate_hand_cases() -> None:
    obs = pd.DataFrame({"site": list("aabbcc") * 5, "tissue": list("xyxyxy") * 5})
    same_as_site = obs["site"].to_numpy()
    g = tl.batch_gate(same_as_site, obs, batch_keys=["site", "tissue", "platform"])
    assert not g.published and g.ari["site"] == pytest.approx(1.0)
    assert "ARI vs site = 1.00" in g.reason and "platform" not in g.ari
    g2 = tl.batch_gate(obs["tissue"].to_numpy(), obs, batch_keys=["site"])
    assert g2.published and g2.reason == ""


@pytest.fixture(scope="module")
def corrected() -> Any:
    params = OmicsSimParams(platform_sd=0.0, module_lfc=1.0)
    adata = simulate_transcriptome(100, 1000, seed=0, params=params)
    pp.vst(adata)
    pp.combat(adata, batch_key="site")
    return adata


def test_recovers_subtypes_after_correction_and_pac_picks_true_k(corrected: Any) -> None:
    adata = corrected
    res = tl.consensus_cluster(
        adata, n_resamples=15, n_top_genes=300, n_pcs=10, k_values=(2, 3, 4, 5), rng=0
    )
    assert res.k == 3  # three simulated subtypes
    assert adjusted_rand_score(adata.obs["subtype"], res.labels) > 0.8
    assert res.published
    assert adata.uns["consensus"]["published"] is True
    assert list(adata.obs["consensus"].cat.categories) == ["1", "2", "3"]
    assert res.summary().loc[lambda d: d["chosen"], "k"].item() == 3
    assert res.summary()["cophenetic"].between(0, 1).all()


def test_nmf_consensus_recovers_subtypes_at_the_true_k(corrected: Any) -> None:
    from sklearn.decomposition import NMF

    adata = corrected
    res = tl.consensus_cluster(
        adata.copy(), method="nmf", n_resamples=8, n_top_genes=300, k_values=(3,), rng=0
    )
    assert adjusted_rand_score(adata.obs["subtype"], res.labels) > 0.8
    assert res.params["method"] == "nmf"
    # base clusterer: a sample joins its largest metagene (Brunet et al. 2004)
    x = np.abs(np.random.default_rng(0).normal(size=(30, 12)))
    w = NMF(3, init="nndsvda", max_iter=300, tol=1e-3, random_state=5).fit_transform(x)
    from alsnet.omics._consensus import _cluster

    np.testing.assert_array_equal(_cluster(x, 3, "nmf", 5), w.argmax(axis=1))


def test_gate_refuses_uncorrected_strong_site_effects() -> None:
    params = OmicsSimParams(site_sd=0.8, platform_sd=0.0, module_lfc=0.5)
    adata = simulate_transcriptome(80, 600, n_sites=3, seed=1, params=params)
    pp.vst(adata)
    res = tl.consensus_cluster(
        adata, layer="vst", n_resamples=8, n_top_genes=300, n_pcs=10, k_values=(2, 3, 4), rng=0
    )
    assert not res.published
    assert res.gate.ari["site"] > tl.MAX_BATCH_ARI
    assert "site" in res.gate.reason
    assert adata.uns["consensus"]["published"] is False


def test_bad_arguments() -> None:
    adata = simulate_transcriptome(10, 30, seed=0)
    with pytest.raises(ValueError, match="k_values"):
        tl.consensus_cluster(adata, layer=None, k_values=(1, 2))
