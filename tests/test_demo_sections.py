"""Computations behind the demo's federated, platform-trial and PROCOVA sections."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from statsmodels.stats.power import TTestIndPower

from alsnet import AlsnetError, Cohort
from alsnet.demo import (
    TRIAL_PUBLISHED,
    TRIAL_SCENARIOS,
    federated_comparison,
    procova_saving,
    trial_scenarios,
)
from alsnet.federated import split_sites, survival_times
from alsnet.federated.data import covariate_matrix
from alsnet.report.domains import trial_table
from alsnet.synth import synthesize


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return synthesize(600, seed=11)


def test_federated_equals_pooled(cohort: Cohort) -> None:
    res = federated_comparison(cohort)
    cmp = res.comparison
    assert set(cmp["analysis"]) == {"summary", "km", "cox"}
    assert (cmp["rel_diff"] < 1e-6).all()
    assert np.allclose(cmp["federated"], cmp["pooled"], rtol=1e-6, atol=1e-9)
    assert sum(res.site_sizes.values()) == len(cohort.patients)
    # independent pooled references computed here, not by the module under test
    if not res.refusals["summary"]:
        mean_age = cmp.set_index("quantity").loc["mean age_onset", "federated"]
        assert mean_age == pytest.approx(cohort.patients["age_onset"].mean(), rel=1e-12)
    cox = cmp[cmp["analysis"] == "cox"].set_index("quantity")
    covs = ["age_onset", "sex_male", "bulbar_onset", "diagnosis_delay_months"]
    assert list(cox.index) == [f"log HR {c}" for c in covs]
    frames = []
    for s, c in split_sites(cohort).items():
        if s in res.refusals["cox"]:
            continue
        st = survival_times(c)
        f = st.join(covariate_matrix(c, covs)).dropna()
        f["site"] = s
        frames.append(f)
    cph = CoxPHFitter().fit(pd.concat(frames), "time_days", "event", strata=["site"])
    for c in covs:
        assert cox.loc[f"log HR {c}", "federated"] == pytest.approx(cph.params_[c], rel=1e-5)
        assert cox.loc[f"log HR {c}", "se_federated"] == pytest.approx(
            cph.standard_errors_[c], rel=1e-5
        )


def test_federated_leaves_out_refusing_sites() -> None:
    small = synthesize(150, seed=3)
    res = federated_comparison(small)
    refused = res.refusals["cox"]
    assert refused  # a site with too few deaths for 4 covariates refuses Cox
    assert all("refused" in why for why in refused.values())
    cox = res.comparison[res.comparison["analysis"] == "cox"]
    assert len(cox) == 4 and (cox["rel_diff"] < 1e-6).all()


def test_trial_scenarios_table() -> None:
    n = 200
    res = trial_scenarios(n_sims=n, seed=5)
    assert tuple(res) == TRIAL_SCENARIOS
    table = trial_table(res, TRIAL_PUBLISHED)
    assert list(table["scenario"]) == ["null", "slow30"]
    assert list(table["published_p_success"]) == [0.024, 0.77]
    assert table["published_early_futility"].iloc[0] == 0.28
    assert list(table["true_drr"]) == [1.0, 0.7]
    assert (table["sims"] == n).all()
    # binomial Monte Carlo SE: sqrt(p (1 - p) / n) up to the n vs n - 1 divisor
    p = table["p_success"].to_numpy()
    assert np.allclose(table["p_success_se"], np.sqrt(p * (1 - p) / n), rtol=0.01)
    # a 30% slowing is detected far more often than the null's type I error
    assert p[1] > 0.5 > 0.1 > p[0]
    # the null stops some regimens early (N varies); a 30% slowing may complete every trial
    assert (table["mean_n"] > 0).all() and (table["mean_n_se"] >= 0).all()
    assert table["mean_n_se"].iloc[0] > 0
    # seeded: same seed, same numbers
    again = trial_table(trial_scenarios(n_sims=n, seed=5), TRIAL_PUBLISHED)
    assert again.equals(table)


def test_procova_saving(cohort: Cohort) -> None:
    res = procova_saving(cohort, seed=2)
    assert 0.1 < res.r < 0.95
    assert res.n_train + res.n_test > 100 and abs(res.n_train - res.n_test) <= 1
    assert res.mean_slope < 0 < res.sd_slope
    assert res.delta == pytest.approx(0.3 * abs(res.mean_slope))
    s = res.sample_size
    # unadjusted design against statsmodels' two-sample t power
    per_arm = TTestIndPower().solve_power(
        effect_size=res.delta / res.sd_slope, alpha=0.05, power=0.8
    )
    assert s.n_unadjusted == 2 * math.ceil(per_arm)
    # PROCOVA shrinks the variance by 1 - r^2: saving ≈ N r² (rounding, t quantiles)
    assert res.saving == s.n_unadjusted - s.n_total
    assert abs(res.saving - s.n_unadjusted * res.r**2) <= 4
    # same seed, same split
    assert procova_saving(cohort, seed=2).r == res.r


def test_procova_saving_needs_targets() -> None:
    with pytest.raises(AlsnetError, match="at least 20"):
        procova_saving(synthesize(20, seed=1), seed=0)


def test_omics_section_gates_uncorrected_and_recovers_corrected(cohort: Cohort) -> None:
    pytest.importorskip("anndata")
    from alsnet.omics.rules import evaluate_rules, load_rules
    from alsnet.report.omics_demo import omics_demo, omics_section

    res = omics_demo(cohort, seed=0, n_patients=90)
    raw, fixed = res.ari["uncorrected"], res.ari["ComBat (site x platform)"]
    assert raw["published by the gate"] == 0.0 and max(raw["site"], raw["platform"]) > 0.2
    assert fixed["published by the gate"] == 1.0 and fixed["truth"] > 0.8
    # the matching table is the rule engine's own summary of the same registry
    expected = evaluate_rules(load_rules(), cohort).summary()
    pd.testing.assert_frame_equal(res.matches, expected)
    section = omics_section(res)
    assert len(section.figures) == 2 and len(section.tables) == 2
