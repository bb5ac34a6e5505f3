"""Tests of frozen VST normalisation (against closed forms and pydeseq2)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsnet.exceptions import DataValidationError
from alsnet.omics import pp, simulate_transcriptome
from alsnet.omics.pp import VarianceStabilizer, fit_dispersion_trend, vst_formula


def _nb_counts(
    means: np.ndarray, a0: float, a1: float, n: int, rng: np.random.Generator
) -> np.ndarray:
    disp = a0 + a1 / means
    r = 1.0 / disp
    return rng.negative_binomial(r, r / (r + means), size=(n, means.size)).astype(np.int64)


def test_vst_variance_is_stabilised_closed_form() -> None:
    """For NB data on the trend, Var(vst) ~ a0 / ln(2)^2 whatever the mean (delta method)."""
    rng = np.random.default_rng(0)
    a0, a1 = 0.08, 4.07
    means = np.geomspace(30, 5000, 12)
    counts = _nb_counts(means, a0, a1, 4000, rng)
    v = vst_formula(counts.astype(float), a0, a1).var(axis=0)
    np.testing.assert_allclose(v, a0 / np.log(2) ** 2, rtol=0.12)
    # whereas log2 of the counts is far from stable
    lv = np.log2(counts + 1.0).var(axis=0)
    assert lv[0] / lv[-1] > 3


def test_vst_formula_limits() -> None:
    """vst(q) -> log2(q) for large q; vst is increasing."""
    q = np.array([1e6, 1e7])
    np.testing.assert_allclose(vst_formula(q, 0.1, 2.0), np.log2(q), atol=0.01)
    grid = np.linspace(0, 100, 101)
    assert np.all(np.diff(vst_formula(grid, 0.1, 2.0)) > 0)


def test_native_trend_recovers_parameters() -> None:
    rng = np.random.default_rng(1)
    a0, a1 = 0.08, 4.07
    means = 349 * np.exp(1.78 * rng.standard_normal(3000))
    counts = _nb_counts(means, a0, a1, 200, rng)
    model = VarianceStabilizer(backend="native").fit(counts)
    assert model.a0_ == pytest.approx(a0, rel=0.1)
    assert model.a1_ == pytest.approx(a1, rel=0.15)
    np.testing.assert_allclose(model.size_factors_, 1.0, atol=0.05)


def test_trend_fit_exact_on_noiseless_input() -> None:
    means = np.geomspace(1, 1e4, 200)
    a0, a1 = fit_dispersion_trend(0.05 + 2.0 / means, means)
    assert a0 == pytest.approx(0.05, rel=1e-6) and a1 == pytest.approx(2.0, rel=1e-6)


def test_frozen_transform_is_per_sample() -> None:
    rng = np.random.default_rng(2)
    means = np.geomspace(20, 3000, 300)
    train = _nb_counts(means, 0.1, 3.0, 40, rng)
    new = _nb_counts(means, 0.1, 3.0, 7, rng)
    model = VarianceStabilizer().fit(train)
    batch = model.transform(new)
    one = model.transform(new[3:4])
    np.testing.assert_allclose(one[0], batch[3])
    # a sample sequenced twice as deep gets a twice larger size factor and the same VST
    np.testing.assert_allclose(model.size_factors(2 * new), 2 * model.size_factors(new))
    np.testing.assert_allclose(model.transform(2 * new), batch)
    # transform(train) reproduces the training size factors
    np.testing.assert_allclose(model.size_factors(train), model.size_factors_)


def test_median_of_ratios_hand_computed() -> None:
    counts = np.array([[10, 20, 40], [20, 40, 80], [5, 10, 20]], dtype=float)
    model = VarianceStabilizer().fit(counts)
    # geometric means are 10, 20, 40; every ratio in a row is equal: 1, 2, 0.5
    np.testing.assert_allclose(model.size_factors_, [1.0, 2.0, 0.5])


def test_matches_pydeseq2_vst_transform_on_new_samples() -> None:
    """Same trend coefficients -> identical frozen VST of new samples as pydeseq2."""
    pytest.importorskip("pydeseq2")
    from pydeseq2.dds import DeseqDataSet

    rng = np.random.default_rng(3)
    means = np.geomspace(50, 5000, 60)
    train = _nb_counts(means, 0.08, 4.0, 25, rng)
    new = _nb_counts(means, 0.08, 4.0, 6, rng)
    assert (new > 0).all()
    genes = [f"g{i}" for i in range(means.size)]
    dds = DeseqDataSet(
        counts=pd.DataFrame(train, columns=genes, index=[f"s{i}" for i in range(25)]),
        metadata=pd.DataFrame({"c": ["a"] * 25}, index=[f"s{i}" for i in range(25)]),
        design="~1",
        quiet=True,
    )
    dds.fit_size_factors()
    dds.vst_fit_type = "parametric"
    dds.uns["vst_trend_coeffs"] = pd.Series([0.07, 3.5], index=["a0", "a1"])
    expected = dds.vst_transform(new)

    model = VarianceStabilizer().fit(train)
    np.testing.assert_allclose(model.size_factors_, dds.obs["size_factors"].to_numpy())
    model.a0_, model.a1_ = 0.07, 3.5
    np.testing.assert_allclose(model.transform(new), expected, rtol=1e-10)


@pytest.mark.slow
def test_native_trend_close_to_pydeseq2_fit() -> None:
    pytest.importorskip("pydeseq2")
    rng = np.random.default_rng(4)
    means = 349 * np.exp(1.78 * rng.standard_normal(300))
    counts = _nb_counts(means, 0.08, 4.07, 40, rng)
    native = VarianceStabilizer(backend="native").fit(counts)
    ref = VarianceStabilizer(backend="pydeseq2").fit(counts)
    assert native.a0_ == pytest.approx(ref.a0_, rel=0.3)
    a = native.transform(counts)
    b = ref.transform(counts)
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.999


@pytest.mark.parametrize("bad", [-1.0, 2.5, np.nan])
def test_bad_counts_raise(bad: float) -> None:
    counts = np.full((5, 4), 10.0)
    counts[2, 1] = bad
    with pytest.raises(DataValidationError, match="non-negative whole numbers"):
        VarianceStabilizer().fit(counts)


def test_gene_mismatch_raises() -> None:
    rng = np.random.default_rng(5)
    df = pd.DataFrame(_nb_counts(np.full(5, 100.0), 0.1, 1.0, 6, rng), columns=list("abcde"))
    model = VarianceStabilizer().fit(df)
    with pytest.raises(DataValidationError, match="gene ids differ"):
        model.transform(df[list("abced")])
    with pytest.raises(DataValidationError, match="expected 5 genes"):
        model.transform(df.iloc[:, :4])


def test_anndata_vst_records_params() -> None:
    pytest.importorskip("anndata")
    adata = simulate_transcriptome(20, 80, seed=0)
    model = pp.vst(adata, key_added="norm")
    assert adata.layers["norm"].shape == adata.shape
    assert adata.uns["norm"]["params"]["backend"] == "native"
    np.testing.assert_allclose(adata.layers["norm"], model.transform(adata.X))
    np.testing.assert_allclose(adata.obs["norm_size_factor"], model.size_factors_)
