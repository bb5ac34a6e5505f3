"""Tests of ComBat: brute-force reference, closed-form behaviour, frozen application."""

from __future__ import annotations

import numpy as np
import pytest

from alsnet.exceptions import DataValidationError
from alsnet.omics import pp, simulate_transcriptome
from alsnet.omics.pp import ComBat


def _combat_loop(y: np.ndarray, batch: np.ndarray, ref: str | None = None) -> np.ndarray:
    """Per-gene, per-batch transcription of sva::ComBat (parametric, no covariates)."""
    levels = sorted(set(batch))
    n, g = y.shape
    idx = {b: np.flatnonzero(batch == b) for b in levels}
    out = np.empty_like(y)
    bhat = np.array([[y[idx[b], j].mean() for j in range(g)] for b in levels])
    if ref is None:
        grand = sum(len(idx[b]) / n * bhat[i] for i, b in enumerate(levels))
        var = np.array(
            [
                sum(((y[idx[b], j] - bhat[i, j]) ** 2).sum() for i, b in enumerate(levels)) / n
                for j in range(g)
            ]
        )
    else:
        r = levels.index(ref)
        grand = bhat[r]
        var = np.array([((y[idx[ref], j] - bhat[r, j]) ** 2).mean() for j in range(g)])
    s = (y - grand) / np.sqrt(var)
    for b in levels:
        sb = s[idx[b]]
        nb = len(idx[b])
        ghat = sb.mean(axis=0)
        dhat = sb.var(axis=0, ddof=1)
        gbar, t2 = ghat.mean(), ghat.var(ddof=1)
        m, v = dhat.mean(), dhat.var(ddof=1)
        a, bb = (2 * v + m**2) / v, (m * v + m**3) / v
        for j in range(g):
            g_old, d_old = ghat[j], dhat[j]
            while True:
                g_new = (t2 * nb * ghat[j] + d_old * gbar) / (t2 * nb + d_old)
                ss = ((sb[:, j] - g_new) ** 2).sum()
                d_new = (0.5 * ss + bb) / (nb / 2 + a - 1)
                done = max(abs(g_new - g_old) / abs(g_old), abs(d_new - d_old) / d_old) < 1e-4
                g_old, d_old = g_new, d_new
                if done:
                    break
            if ref is not None and b == ref:
                g_new, d_new = 0.0, 1.0
            out[idx[b], j] = (sb[:, j] - g_new) / np.sqrt(d_new) * np.sqrt(var[j]) + grand[j]
    return out


def _batched(rng: np.random.Generator, n_per: int = 30, g: int = 40) -> tuple[np.ndarray, ...]:
    batch = np.repeat(np.array(["a", "b", "c"]), n_per)
    base = rng.normal(8, 2, g)
    shift = rng.normal(0, 1.0, (3, g))
    scale = np.exp(rng.normal(0, 0.4, (3, g)))
    code = np.repeat(np.arange(3), n_per)
    y = base + shift[code] + scale[code] * rng.standard_normal((3 * n_per, g))
    return y, batch, shift, scale


@pytest.mark.parametrize("ref", [None, "b"])
def test_matches_brute_force_transcription_of_sva(ref: str | None) -> None:
    """Genes converge independently in sva; the vectorised version stops when all have
    converged, so agreement is to the tolerance of the iteration."""
    rng = np.random.default_rng(0)
    y, batch, *_ = _batched(rng)
    got = ComBat(ref_batch=ref).fit_transform(y, batch)
    want = _combat_loop(y, batch, ref)
    np.testing.assert_allclose(got, want, atol=2e-3 * y.std())


def test_no_batch_effect_is_near_identity() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(5, 1, (600, 50)) + rng.normal(0, 2, 50)
    batch = np.repeat(["a", "b", "c"], 200)
    out = ComBat().fit_transform(y, batch)
    assert np.abs(out - y).mean() < 0.1  # SD 1; estimation noise of gamma about 0.07
    assert np.corrcoef(out.ravel(), y.ravel())[0, 1] > 0.995


def test_location_and_scale_are_removed() -> None:
    rng = np.random.default_rng(2)
    y, batch, _, _ = _batched(rng, n_per=300, g=60)
    out = ComBat().fit_transform(y, batch)
    means = np.array([out[batch == b].mean(axis=0) for b in "abc"])
    sds = np.array([out[batch == b].std(axis=0) for b in "abc"])
    pooled_sd = np.sqrt(
        np.mean([(y[batch == b] - y[batch == b].mean(0)) ** 2 for b in "abc"], axis=(0, 1))
    )
    # Every batch ends at the grand mean and the pooled SD (up to EB shrinkage and noise).
    np.testing.assert_allclose(means - means.mean(axis=0), 0, atol=0.1 * pooled_sd.max())
    np.testing.assert_allclose(sds / pooled_sd, 1, atol=0.15)


def test_reference_batch_unchanged_and_others_mapped_onto_it() -> None:
    rng = np.random.default_rng(3)
    y, batch, _, _ = _batched(rng, n_per=300, g=30)
    model = ComBat(ref_batch="a")
    out = model.fit_transform(y, batch)
    np.testing.assert_array_equal(out[batch == "a"], y[batch == "a"])
    ref_mean = y[batch == "a"].mean(axis=0)
    ref_sd = y[batch == "a"].std(axis=0)
    for b in "bc":
        np.testing.assert_allclose(out[batch == b].mean(axis=0), ref_mean, atol=0.15 * ref_sd.max())
        np.testing.assert_allclose(out[batch == b].std(axis=0) / ref_sd, 1, atol=0.15)


def test_frozen_transform_on_new_samples() -> None:
    rng = np.random.default_rng(4)
    y, batch, _, _ = _batched(rng)
    model = ComBat().fit(y[::2], batch[::2])
    full = model.transform(y, batch)
    np.testing.assert_allclose(model.transform(y[5:6], batch[5:6]), full[5:6])
    # transform of the training data = fit_transform
    np.testing.assert_allclose(full[::2], ComBat().fit_transform(y[::2], batch[::2]))


def test_bad_batches_raise() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(size=(7, 5))
    with pytest.raises(DataValidationError, match="at least 2 samples"):
        ComBat().fit(y, ["a", "a", "a", "b", "b", "b", "c"])
    model = ComBat().fit(y[:6], ["a", "a", "a", "b", "b", "b"])
    with pytest.raises(DataValidationError, match="not seen in training"):
        model.transform(y, ["a", "a", "a", "b", "b", "b", "z"])
    with pytest.raises(DataValidationError, match="reference batch not found"):
        ComBat(ref_batch="q").fit(y[:6], ["a", "a", "a", "b", "b", "b"])


def test_anndata_combat_removes_site_effects() -> None:
    pytest.importorskip("anndata")
    adata = simulate_transcriptome(150, 300, seed=6)
    pp.vst(adata)
    model = pp.combat(adata, batch_key="site", ref_batch="site_1")
    assert adata.uns["combat"]["params"]["ref_batch"] == "site_1"
    site = adata.obs["site"].astype(str).to_numpy()
    before = np.array([adata.layers["vst"][site == s].mean(0) for s in np.unique(site)])
    after = np.array([adata.layers["combat"][site == s].mean(0) for s in np.unique(site)])
    assert after.std(axis=0).mean() < 0.4 * before.std(axis=0).mean()
    assert model.batches_.tolist() == ["site_1", "site_2", "site_3"]
