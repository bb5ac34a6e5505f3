"""Tests of membership probabilities, per-patient labels across tissues and the k choice."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from alsnet.omics import OmicsSimParams, pp, simulate_transcriptome, tl

anndata = pytest.importorskip("anndata")


def test_membership_probability_brute_force() -> None:
    rng = np.random.default_rng(0)
    n = 15
    c = rng.random((n, n))
    c = (c + c.T) / 2
    np.fill_diagonal(c, 1.0)
    labels = rng.choice(["a", "b", "c"], size=n)
    got = tl.membership_probability(c, labels)
    for i in range(n):
        item = {
            g: np.mean([c[i, j] for j in range(n) if j != i and labels[j] == g])
            for g in set(labels)
            if any(labels[j] == g for j in range(n) if j != i)
        }
        assert got[i] == pytest.approx(item[labels[i]] / sum(item.values()))


def test_membership_probability_limits() -> None:
    block = np.kron(np.eye(2), np.ones((3, 3)))  # two perfectly stable clusters
    np.testing.assert_allclose(tl.membership_probability(block, [0, 0, 0, 1, 1, 1]), 1.0)
    flat = np.full((6, 6), 0.5)  # no structure: tied to both clusters equally
    np.testing.assert_allclose(tl.membership_probability(flat, [0, 0, 0, 1, 1, 1]), 0.5)


def _obs(patients: list[str], tissues: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"patient_id": patients, "tissue": tissues})


def test_patient_label_rules() -> None:
    obs = _obs(
        ["a", "a", "b", "b", "c", "c", "c", "d", "d", "e"],
        ["fc", "mc", "fc", "mc", "fc", "mc", "sc", "fc", "mc", "fc"],
    )
    labels = ["1", "1", "1", "2", "2", "unassigned", "1", "unassigned", np.nan, "3"]
    prob = [0.9, 0.7, 0.9, 0.9, 0.6, 0.3, 0.95, 0.2, 0.1, 0.8]
    out = tl.patient_labels(obs, labels, prob)
    assert out.loc["a", "label"] == "1" and out.loc["a", "status"] == "concordant"
    assert out.loc["a", "probability"] == pytest.approx(0.8)
    assert out.loc["b", "label"] == tl.DISCORDANT and np.isnan(out.loc["b", "probability"])
    # c: one tissue unassigned, the two assigned disagree -> discordant
    assert out.loc["c", "status"] == "discordant"
    assert out.loc["d", "label"] == tl.UNASSIGNED and out.loc["d", "status"] == "unassigned"
    assert out.loc["e", "status"] == "single" and out.loc["e", "label"] == "3"
    assert out.loc["a", "tissues"] == "fc=1;mc=1"
    assert out["n_samples"].to_dict() == {"a": 2, "b": 2, "c": 3, "d": 2, "e": 1}


def test_one_tissue_unassigned_keeps_the_confident_label() -> None:
    obs = _obs(["a", "a", "a"], ["fc", "mc", "sc"])
    # below min_probability the motor-cortex "2" does not vote: the confident "1"s win
    out = tl.patient_labels(obs, ["1", "2", "1"], [0.9, 0.4, 0.8], min_probability=0.5)
    assert out.loc["a", "label"] == "1" and out.loc["a", "n_assigned"] == 2
    out2 = tl.patient_labels(obs[:2], ["1", "2"], [0.9, 0.4], min_probability=0.5)
    assert out2.loc["a", "label"] == "1" and out2.loc["a", "status"] == "single"
    assert tl.patient_labels(obs, ["1", "2", "1"], [0.9, 0.4, 0.8]).loc["a", "label"] == (
        tl.DISCORDANT
    )


def test_samples_without_patient_are_left_out() -> None:
    obs = pd.DataFrame({"patient_id": ["a", None, "a"], "tissue": ["fc", "fc", "mc"]})
    out = tl.patient_labels(obs, ["1", "2", "1"])
    assert list(out.index) == ["a"] and out.loc["a", "status"] == "concordant"


def test_patient_labels_bad_input() -> None:
    obs = _obs(["a", "b"], ["fc", "fc"])
    with pytest.raises(ValueError, match="3 labels for 2 samples"):
        tl.patient_labels(obs, ["1", "2", "3"])
    with pytest.raises(KeyError):
        tl.patient_labels(obs.drop(columns="patient_id"), ["1", "2"])


@pytest.fixture(scope="module")
def clustered() -> Any:
    """Corrected simulation (strong modules) clustered once; shared patient effects."""
    params = OmicsSimParams(platform_sd=0.0, module_lfc=1.0)
    adata = simulate_transcriptome(100, 1000, seed=4, params=params)
    pp.vst(adata)
    pp.combat(adata, batch_key="site")
    res = tl.consensus_cluster(adata, n_resamples=15, n_top_genes=300, n_pcs=10, rng=0)
    return adata, res


def test_patient_labels_on_simulated_tissues(clustered: Any) -> None:
    adata, res = clustered
    prob = tl.membership_probability(res.consensus[res.k], res.labels)
    out = tl.patient_labels(adata.obs, res.labels, prob)
    truth = adata.obs.groupby("patient_id", observed=True)["subtype"].first().astype(str)
    # the simulated subtype is a patient attribute: true labels are never discordant
    true_out = tl.patient_labels(adata.obs, adata.obs["subtype"].astype(str))
    assert (true_out["status"] != "discordant").all()
    multi = true_out["n_samples"] > 1
    assert (true_out.loc[multi, "status"] == "concordant").all()
    assert (true_out["label"] == truth.reindex(true_out.index)).all()
    # recovered clusters: tissues of a patient agree (shared patient effects + subtype)
    assert (out["status"] == "discordant").mean() < 0.05
    ok = out["status"].isin(["single", "concordant"])
    assert adjusted_rand_score(truth.reindex(out.index)[ok], out.loc[ok, "label"]) > 0.9
    # breaking one tissue of each multi-tissue patient makes exactly those discordant
    broken = res.labels.copy()
    first_extra = adata.obs.reset_index().groupby("patient_id", observed=True).cumcount() == 1
    idx = np.flatnonzero(first_extra.to_numpy())
    names = np.unique(res.labels)
    broken[idx] = np.array(
        [names[(np.searchsorted(names, v) + 1) % names.size] for v in res.labels[idx]]
    )
    out_b = tl.patient_labels(adata.obs, broken, prob)
    assert set(out_b.index[out_b["status"] == "discordant"]) == set(
        adata.obs["patient_id"].to_numpy()[idx]
    )


def test_choose_k_rule() -> None:
    pac = pd.Series({2: 0.0, 3: 0.01, 4: 0.2, 5: 0.04})
    sil = pd.Series({2: 0.21, 3: 0.25, 4: 0.40, 5: 0.10})
    assert tl.choose_k(pac, sil) == 3  # k = 4 is better separated but unstable
    assert tl.choose_k(pac, sil, pac_tolerance=0.0) == 2  # PAC alone
    assert tl.choose_k(pac, pd.Series({2: 0.2, 3: 0.2, 5: 0.2})) == 2  # ties -> smaller k


def _recovery(seed: int, n_patients: int, n_genes: int, resamples: int) -> tuple[int, float]:
    adata = simulate_transcriptome(n_patients, n_genes, seed=seed)  # default parameters
    adata.obs["batch"] = adata.obs["site"].astype(str) + "/" + adata.obs["platform"].astype(str)
    pp.vst(adata)
    pp.combat(adata, batch_key="batch")
    res = tl.consensus_cluster(adata, k_values=range(2, 7), n_resamples=resamples, rng=0)
    return res.k, adjusted_rand_score(adata.obs["subtype"], res.labels)


def test_k_choice_recovery_small() -> None:
    # default simulator (61/19/20 % subtypes, site + platform effects); before the rule
    # (lowest PAC, k-means base clusterer) this picked k = 2
    ks, aris = zip(*(_recovery(seed, 100, 800, 10) for seed in (0, 1)), strict=True)
    assert ks == (3, 3)
    assert min(aris) >= 0.8


@pytest.mark.slow
def test_k_choice_recovery_across_seeds() -> None:
    rows = [_recovery(seed, 200, 2000, 50) for seed in range(5)]
    ks = np.array([k for k, _ in rows])
    aris = np.array([a for _, a in rows])
    assert (ks == 3).sum() >= 4
    assert (aris >= 0.8).sum() >= 4


def test_batch_purity_brute_force() -> None:
    rng = np.random.default_rng(3)
    obs = pd.DataFrame({"site": rng.choice(["a", "b", "c"], 60, p=[0.5, 0.3, 0.2])})
    labels = rng.choice(["1", "2"], 60)
    labels[obs["site"].to_numpy() == "c"] = "3"  # cluster 3 = site c only
    out = tl.batch_purity(labels, obs, batch_keys=["site", "missing"])
    assert set(out["batch"]) == {"site"}
    for row in out.itertuples():
        members = obs["site"].to_numpy()[labels == row.cluster]
        assert row.n == members.size
        assert row.share_in_cluster == pytest.approx(np.mean(members == row.level))
        assert row.share_overall == pytest.approx(np.mean(obs["site"] == row.level))
        want = row.n >= 10 and row.share_in_cluster >= 0.9 and row.share_overall <= 0.5
        assert row.suspect == want
    assert out.set_index("cluster").loc["3", "suspect"] == bool((labels == "3").sum() >= 10)
