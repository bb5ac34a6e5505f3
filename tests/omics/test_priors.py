"""Ancestry-aware genotype priors: published figures, conditioning and calibration."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsnet.omics.priors import (
    carrier_prior,
    expected_eligible,
    genotype_posterior,
    impute_genotypes,
)
from alsnet.omics.rules import parse_rules

# Zou et al., JNNP 2017 (reference cohort-figures.md §6): (familial, sporadic), order
# C9orf72, SOD1, TARDBP, FUS.
PUBLISHED = {
    "EUR": [(0.337, 0.051), (0.148, 0.012), (0.042, 0.008), (0.028, 0.003)],
    "EAS": [(0.023, 0.003), (0.300, 0.015), (0.015, 0.002), (0.064, 0.009)],
}


@pytest.mark.parametrize("anc", ["EUR", "EAS"])
def test_prior_uses_published_frequencies(anc: str) -> None:
    p = carrier_prior([anc, anc, anc], [1, 0, math.nan], familial_share=0.1)
    fam = np.array([f for f, _ in PUBLISHED[anc]])
    spor = np.array([s for _, s in PUBLISHED[anc]])
    np.testing.assert_allclose(p[0, 1:], fam)
    np.testing.assert_allclose(p[1, 1:], spor)
    np.testing.assert_allclose(p[2, 1:], 0.1 * fam + 0.9 * spor)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_posterior_conditions_on_tests() -> None:
    pats = pd.DataFrame(
        {
            "patient_id": ["neg_c9", "pos_sod1", "none_tested", "all_neg"],
            "ancestry": ["EUR"] * 4,
            "family_history": [0, 0, 0, 0],
            "c9orf72": [0.0, math.nan, math.nan, 0.0],
            "sod1": [math.nan, math.nan, math.nan, 0.0],
            "tardbp": [math.nan, math.nan, math.nan, 0.0],
            "fus": [math.nan, math.nan, math.nan, 0.0],
        }
    )
    genetics = pd.DataFrame(
        {
            "patient_id": ["pos_sod1"],
            "gene": ["SOD1"],
            "variant": ["p.Ala5Val"],
            "pathogenicity": ["likely_pathogenic"],
        }
    )
    post = genotype_posterior({"patients": pats, "genetics": genetics}).set_index("patient_id")
    assert post.loc["neg_c9", "p_C9orf72"] == 0.0
    assert post.loc["neg_c9", "p_SOD1"] == pytest.approx(0.012 / (1 - 0.051))
    assert post.loc["pos_sod1", "p_SOD1"] == 1.0
    assert post.loc["pos_sod1", "p_C9orf72"] == 0.0
    assert post.loc["none_tested", "p_C9orf72"] == pytest.approx(0.051)
    assert post.loc["all_neg", "p_none"] == 1.0
    assert post.loc["none_tested", "untested_genes"] == 4
    assert post.loc["all_neg", "untested_genes"] == 0


def _simulate(n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Truth from the published table; each gene tested at random (MCAR, 50 %)."""
    anc = rng.choice(["EUR", "EAS"], size=n, p=[0.7, 0.3])
    fam = (rng.random(n) < 0.1).astype(float)
    probs = np.zeros((n, 5))
    for a, rows in PUBLISHED.items():
        sel = anc == a
        for j, (f, s) in enumerate(rows, start=1):
            probs[sel, j] = np.where(fam[sel] == 1, f, s)
    probs[:, 0] = 1 - probs[:, 1:].sum(axis=1)
    cum = np.cumsum(probs, axis=1)
    truth = (rng.random((n, 1)) >= cum).sum(axis=1).clip(0, 4)
    pats = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "site_id": "S",
            "ancestry": anc,
            "family_history": fam,
        }
    )
    for j, col in enumerate(["c9orf72", "sod1", "tardbp", "fus"], start=1):
        tested = rng.random(n) < 0.5
        pats[col] = np.where(tested, (truth == j).astype(float), np.nan)
    return pats, truth


def test_imputation_is_calibrated_by_simulation() -> None:
    """Imputed SOD1 carrier counts cover the hidden truth at about the nominal rate, and
    posterior probabilities of untested patients match realised frequencies."""
    rng = np.random.default_rng(11)
    covered, prob_sum, hits, n_untested = 0, 0.0, 0, 0
    reps = 60
    for _ in range(reps):
        pats, truth = _simulate(800, rng)
        draws = impute_genotypes({"patients": pats}, 300, rng=rng)
        count = (draws == 2).sum(axis=1)  # SOD1 carriers per draw
        lo, hi = np.quantile(count, [0.05, 0.95])
        covered += lo <= (truth == 2).sum() <= hi
        post = genotype_posterior({"patients": pats})
        untested = pats["sod1"].isna().to_numpy()
        prob_sum += post["p_SOD1"].to_numpy()[untested].sum()
        hits += (truth[untested] == 2).sum()
        n_untested += untested.sum()
    # 90 % intervals: the coverage over 60 replicates lies in [0.78, 0.98] with prob > 0.95.
    assert 0.78 <= covered / reps <= 0.98
    # Expected vs realised carriers among untested patients (Poisson SD ~ sqrt(expected)).
    assert abs(hits - prob_sum) < 3.5 * math.sqrt(prob_sum)


def test_imputation_changes_nothing_when_everyone_is_tested() -> None:
    rng = np.random.default_rng(2)
    pats, truth = _simulate(300, rng)
    for j, col in enumerate(["c9orf72", "sod1", "tardbp", "fus"], start=1):
        pats[col] = (truth == j).astype(float)
    draws = impute_genotypes({"patients": pats}, 20, rng=1)
    assert (draws == truth[None, :]).all()
    rs = parse_rules(
        {
            "version": "1",
            "studies": [
                {"id": "sod1", "criteria": {"gene": "SOD1", "pathogenicity": ["pathogenic"]}}
            ],
        }
    )
    out = expected_eligible(rs, {"patients": pats}, n_draws=10)
    assert out.loc[0, "expected_eligible"] == out.loc[0, "eligible_observed"] == (truth == 2).sum()
    assert out.loc[0, "sd"] == 0.0


def test_expected_eligible_brackets_observed_and_upper_bound() -> None:
    from alsnet.omics.rules import load_rules
    from alsnet.synth import synthesize

    cohort = synthesize(300, seed=4)
    out = expected_eligible(load_rules(), cohort, n_draws=40, rng=0).set_index("study_id")
    row = out.loc["tofersen_sod1"]
    assert row["eligible_observed"] <= row["lower"] <= row["expected_eligible"] <= row["upper"]
    assert row["upper"] <= row["eligible_observed"] + row["untested_observed"]
    assert row["still_untested"] == 0
    assert out.loc["atlas_presymptomatic_sod1", "expected_eligible"] == 0


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["EUR", "EAS", "AFR", "unknown", None]),
            st.sampled_from([0.0, 1.0, math.nan]),
            *[st.sampled_from([0.0, 1.0, math.nan])] * 4,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_posterior_is_a_distribution_consistent_with_tests(rows: list[tuple]) -> None:
    genes = ["c9orf72", "sod1", "tardbp", "fus"]
    pats = pd.DataFrame(rows, columns=["ancestry", "family_history", *genes])
    pats.insert(0, "patient_id", [f"P{i}" for i in range(len(pats))])
    post = genotype_posterior({"patients": pats})
    p = post[["p_none", "p_C9orf72", "p_SOD1", "p_TARDBP", "p_FUS"]].to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (p >= 0).all()
    flags = pats[genes].to_numpy(dtype=float)
    carrier = (flags == 1).any(axis=1)
    for j in range(4):
        neg = flags[:, j] == 0
        assert (p[neg, j + 1] == 0).all()  # tested negative: never imputed a carrier
    first = np.argmax(flags == 1, axis=1)
    assert (p[carrier, first[carrier] + 1] == 1).all()
