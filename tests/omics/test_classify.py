"""Frozen subtype classifier: recovery, exact frozen transform, file integrity, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from alsnet.exceptions import AlsnetWarning, DataValidationError
from alsnet.omics import OmicsSimParams, simulate_transcriptome
from alsnet.omics._combat import ComBat
from alsnet.omics._vst import VarianceStabilizer, median_of_ratios, vst_formula
from alsnet.omics.classify import (
    FrozenModelError,
    MissingGenesError,
    fit_classifier,
    load_classifier,
)

anndata = pytest.importorskip("anndata")


@pytest.fixture(scope="module")
def split() -> tuple[anndata.AnnData, anndata.AnnData]:
    full = simulate_transcriptome(150, 600, seed=11, params=OmicsSimParams(module_lfc=0.5))
    train = (full.obs["patient_id"].astype(str) < "P100").to_numpy()
    return full[train].copy(), full[~train].copy()


@pytest.fixture(scope="module")
def model(split: tuple[anndata.AnnData, anndata.AnnData]):  # type: ignore[no-untyped-def]
    return fit_classifier(split[0], "subtype", seed=0)


def test_recovers_subtypes_of_new_patients(split, model) -> None:  # type: ignore[no-untyped-def]
    _, test = split
    out = model.assign(test)
    assert list(out.columns[:4]) == ["sample_id", "subtype", "probability", "status"]
    truth = test.obs["subtype"].astype(str).to_numpy()
    assert (out["subtype"].to_numpy() == truth).mean() >= 0.9
    probs = out[[f"p_{c}" for c in model.classes]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    # panel genes come from the true subtype modules (the simulator's truth)
    module = set(test.var_names[test.var["module"] != ""])
    assert len(set(model.genes) & module) / len(model.genes) >= 0.8


def test_frozen_transform_equals_step_by_step_reference(split, model) -> None:  # type: ignore[no-untyped-def]
    """The closed-form fast path equals VST + ComBat.transform + logistic done step by step."""
    train, test = split
    genes = list(train.var_names)
    vst = VarianceStabilizer().fit(train.X)
    use = np.isin(genes, model.sf_genes)
    v_train = vst_formula(
        train.X / median_of_ratios(train.X.astype(float), vst.logmeans_, use)[:, None],
        vst.a0_,
        vst.a1_,
    )
    combat = ComBat().fit(v_train, train.obs["site"].astype(str))
    x_test = test.X.astype(float)
    sf = median_of_ratios(x_test, vst.logmeans_, use)
    corrected = combat.transform(
        vst_formula(x_test / sf[:, None], vst.a0_, vst.a1_), test.obs["site"]
    )
    panel = corrected[:, [genes.index(g) for g in model.genes]]
    logits = (panel @ model.weights + model.intercept) / model.temperature
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    got = model.predict_proba_counts(test.X, genes, test.obs["site"].astype(str))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_input_layouts_give_identical_results(split, model) -> None:  # type: ignore[no-untyped-def]
    _, test = split
    base = model.assign(test)
    rng = np.random.default_rng(0)
    perm = rng.permutation(test.n_vars)
    shuffled = test[:, perm].copy()
    shuffled.X = sparse.csr_matrix(shuffled.X)
    other = model.assign(shuffled)
    np.testing.assert_allclose(other["probability"], base["probability"], rtol=1e-12)
    only = test[:, list(model.required_genes)].copy()
    np.testing.assert_allclose(model.assign(only)["probability"], base["probability"])


def test_unassigned_band(split, model) -> None:  # type: ignore[no-untyped-def]
    _, test = split
    out = model.assign(test, threshold=0.999999)
    assert (out["status"] == "unassigned").sum() == (out["probability"] < 0.999999).sum()
    assert model.threshold == 0.6
    with pytest.raises(ValueError, match="threshold"):
        model.assign(test, threshold=1.5)


def test_temperature_calibration_on_held_out(split, model) -> None:  # type: ignore[no-untyped-def]
    """Calibrated log-loss on new patients is no worse than the uncalibrated (T = 1)."""
    _, test = split
    p = model.predict_proba_counts(test.X, list(test.var_names), test.obs["site"].astype(str))
    y = np.searchsorted(np.array(model.classes), test.obs["subtype"].astype(str))
    rows = np.arange(y.size)
    logits = np.log(np.clip(p, 1e-300, 1)) * model.temperature
    raw = np.exp(logits - logits.max(axis=1, keepdims=True))
    raw /= raw.sum(axis=1, keepdims=True)
    nll_cal = -np.log(np.clip(p[rows, y], 1e-15, 1)).mean()
    nll_raw = -np.log(np.clip(raw[rows, y], 1e-15, 1)).mean()
    assert nll_cal <= nll_raw + 0.02


def test_save_load_round_trip_and_refusals(split, model, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, test = split
    path = model.save(tmp_path / "m.json")
    again = load_classifier(path)
    np.testing.assert_array_equal(
        again.assign(test)["probability"], model.assign(test)["probability"]
    )
    doc = json.loads(path.read_text())
    assert doc["format_version"] == 1 and doc["checksum"].startswith("sha256:")
    assert doc["meta"]["training_fingerprint"].startswith("sha256:")
    assert set(doc["meta"]["library_versions"]) >= {"alsnet", "numpy", "scikit-learn"}

    tampered = dict(doc)
    tampered["weights"] = [[w * 1.01 for w in row] for row in doc["weights"]]
    (tmp_path / "t.json").write_text(json.dumps(tampered))
    with pytest.raises(FrozenModelError, match="checksum"):
        load_classifier(tmp_path / "t.json")

    from alsnet.omics.classify import _checksum

    other = {k: v for k, v in doc.items() if k != "checksum"}
    other["format_version"] = 99
    other["checksum"] = _checksum(other)
    (tmp_path / "v.json").write_text(json.dumps(other))
    with pytest.raises(FrozenModelError, match="version 99"):
        load_classifier(tmp_path / "v.json")
    (tmp_path / "x.json").write_text("not json")
    with pytest.raises(FrozenModelError):
        load_classifier(tmp_path / "x.json")


def test_missing_genes_refused_or_imputed(split, model) -> None:  # type: ignore[no-untyped-def]
    _, test = split
    drop = model.genes[0]
    short = test[:, [g for g in test.var_names if g != drop]].copy()
    with pytest.raises(MissingGenesError, match=f"1 of the {len(model.required_genes)}") as err:
        model.assign(short)
    assert drop in str(err.value)
    with pytest.warns(AlsnetWarning, match="training mean"):
        out = model.assign(short, allow_missing=True)
    assert out["status"].notna().all()
    n_drop = int(0.06 * len(model.required_genes)) + 1
    gone = set(model.required_genes[:n_drop])
    many = test[:, [g for g in test.var_names if g not in gone]].copy()
    with pytest.raises(MissingGenesError, match="too many"):
        model.assign(many, allow_missing=True)


def test_unknown_batch_refused_or_adapted(split, model) -> None:  # type: ignore[no-untyped-def]
    _, test = split
    new = test.copy()
    new.obs["site"] = "site_new"
    with pytest.raises(DataValidationError, match="not seen in training"):
        model.assign(new)
    out = model.assign(new, unknown_batch="adapt")
    assert (out["subtype"].to_numpy() == test.obs["subtype"].astype(str).to_numpy()).mean() > 0.8
    missing_col = test.copy()
    del missing_col.obs["site"]
    with pytest.raises(DataValidationError, match="batch column"):
        model.assign(missing_col)


def test_rejects_non_count_input(split, model) -> None:  # type: ignore[no-untyped-def]
    _, test = split
    bad = test.copy()
    bad.X = bad.X.astype(float)
    col = list(bad.var_names).index(model.genes[0])
    bad.X[0, col] = -1.0
    with pytest.raises(DataValidationError, match="non-negative whole numbers"):
        model.assign(bad)


def test_fixed_gene_panel_and_binary_labels(split) -> None:  # type: ignore[no-untyped-def]
    train, test = split
    genes = list(train.var_names[train.var["module"] == "ALS-Ox"][:5])
    y = (train.obs["subtype"].astype(str) == "ALS-Ox").map({True: "Ox", False: "other"})
    train = train.copy()
    train.obs["ox"] = y.to_numpy()
    m = fit_classifier(train, "ox", genes=genes, seed=1)
    assert m.genes == tuple(genes) and m.classes == ("Ox", "other")
    out = m.assign(test)
    truth = np.where(test.obs["subtype"].astype(str) == "ALS-Ox", "Ox", "other")
    assert (out["subtype"].to_numpy() == truth).mean() > 0.8


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 40), st.floats(0.0, 0.9))
def test_row_nanmedian_equals_numpy(seed: int, width: int, nan_share: float) -> None:
    """The vectorised median used by the frozen VST equals np.nanmedian."""
    from alsnet.omics._vst import _row_nanmedian

    rng = np.random.default_rng(seed)
    a = rng.integers(-5, 5, size=(7, width)).astype(float)
    a[rng.random(a.shape) < nan_share] = np.nan
    a[:, 0] = 1.0  # at least one value per row
    np.testing.assert_allclose(_row_nanmedian(a.copy()), np.nanmedian(a, axis=1))
