"""Tests of per-sample QC metrics, MAD outlier flags and the QC report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alsnet.omics import OmicsSimParams, simulate_transcriptome
from alsnet.omics.qc import N_MADS, log_cpm, qc_metrics, sample_qc

anndata = pytest.importorskip("anndata")


def test_metrics_brute_force() -> None:
    rng = np.random.default_rng(0)
    x = rng.poisson(rng.gamma(0.5, 20, size=(7, 30)))
    x[:, :3] = 0  # never detected
    x[2, 3:8] = 0
    df = qc_metrics(x)
    for i in range(7):
        assert df["library_size"][i] == sum(int(v) for v in x[i])
        assert df["detected_genes"][i] == sum(1 for v in x[i] if v > 0)
    lc = np.array([[np.log2(v / x[i].sum() * 1e6 + 1) for v in x[i]] for i in range(7)])
    np.testing.assert_allclose(log_cpm(x), lc)
    keep = (x > 0).mean(axis=0) >= 0.5
    corr = pd.DataFrame(lc[:, keep].T).corr().to_numpy()  # pandas Pearson as reference
    for i in range(7):
        others = [corr[i, j] for j in range(7) if j != i]
        assert df["median_correlation"][i] == pytest.approx(np.median(others))


@pytest.fixture(scope="module")
def sim() -> Any:
    return simulate_transcriptome(40, 800, seed=2, params=OmicsSimParams(platform_sd=0.0))


def test_clean_simulation_flags_almost_nothing(sim: Any) -> None:
    qc = sample_qc(sim.copy())
    assert qc["outlier"].mean() <= 0.05


def test_degraded_samples_are_flagged(sim: Any) -> None:
    adata = sim.copy()
    x = np.asarray(adata.X).copy()
    rng = np.random.default_rng(5)
    x[0] = rng.binomial(x[0], 0.1)  # 10x fewer reads (thinning)
    x[1] = rng.permutation(x[1])  # gene-swapped profile: uncorrelated with the rest
    x[2, rng.random(x.shape[1]) < 0.5] = 0  # half the genes lost
    adata.X = x
    qc = sample_qc(adata)
    assert qc["low_library_size"].iloc[0]
    assert qc["low_correlation"].iloc[1]
    assert qc["low_detected_genes"].iloc[2]
    assert qc["outlier"].iloc[:3].all()
    assert qc["outlier"].iloc[3:].mean() <= 0.05
    assert adata.obs["qc_outlier"].iloc[:3].all()
    assert adata.uns["qc"]["params"]["n_mads"] == N_MADS
    # the threshold is the documented one: median - max(3 MAD, floor) on log10 reads
    v = np.log10(qc["library_size"].to_numpy(float))
    mad = np.median(np.abs(v - np.median(v))) * 1.4826
    lower = 10 ** (np.median(v) - max(N_MADS * mad, 0.3))
    assert adata.uns["qc"]["thresholds"]["low_library_size"] == pytest.approx(lower)


def test_few_samples_no_flags() -> None:
    adata = anndata.AnnData(np.array([[1, 2, 3], [100, 200, 300], [0, 0, 1], [5, 5, 5]]))
    qc = sample_qc(adata)
    assert not qc["outlier"].any()


def test_qc_report(tmp_path: Path, sim: Any) -> None:
    from alsnet.omics._reports import write_qc_report

    adata = sim.copy()
    qc = sample_qc(adata)
    html = write_qc_report(adata, qc, tmp_path / "qc" / "report.html")
    text = html.read_text()
    for title in ("Library size by site", "Detected genes by site", "log-CPM", "PCA"):
        assert title in text
    # sample ids appear only in the table of flagged samples (for the data steward)
    flagged = set(qc.index[qc["outlier"]])
    assert all(s in text for s in flagged)
    assert not any(s in text for s in set(adata.obs_names) - flagged)
