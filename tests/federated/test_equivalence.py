"""Federated summary, Kaplan-Meier and stratified Cox equal the pooled computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter

from alsnet.federated import simulate_network, survival_times
from alsnet.federated.data import categorical_codes, covariate_matrix

COVS = ["age_onset", "sex_male", "bulbar_onset", "diagnosis_delay_months", "c9orf72"]


def test_cox_equals_pooled_lifelines(site_cohorts):
    res = simulate_network(site_cohorts).cox(COVS)
    frames = []
    for s, c in site_cohorts.items():
        st = survival_times(c)
        f = pd.concat([st, covariate_matrix(c, COVS).reindex(st.index)], axis=1).dropna()
        f["site"] = s
        frames.append(f)
    df = pd.concat(frames)
    cph = CoxPHFitter().fit(
        df, "time_days", "event", strata=["site"], fit_options={"precision": 1e-12}
    )
    for cov in COVS:
        assert abs(res.coef[cov] / cph.params_[cov] - 1) < 1e-6
        assert abs(res.se[cov] / cph.standard_errors_[cov] - 1) < 1e-6
    assert res.n == len(df)
    assert res.events == int(df["event"].sum())
    assert abs(res.loglik - cph.log_likelihood_) < 1e-6 * abs(cph.log_likelihood_)
    out = res.to_json()
    assert set(out["coef"]) == set(COVS) and set(out["se"]) == set(COVS)


def test_km_equals_pooled_lifelines_on_released_grid(network, site_cohorts):
    res = simulate_network(site_cohorts).km(grid_days=30)
    st = survival_times(network)
    g = 30
    on_grid = -(-st["time_days"].to_numpy() // g) * g
    cuts = res.table["time_days"].to_numpy()
    assert len(cuts) >= 2
    rounded = cuts[np.searchsorted(cuts, on_grid)]
    kmf = KaplanMeierFitter().fit(rounded, st["event"])
    expected = kmf.survival_function_.iloc[:, 0].reindex(cuts).to_numpy()
    np.testing.assert_allclose(res.table["survival"].to_numpy(), expected, rtol=1e-6, atol=0)
    assert res.n == len(st)
    assert int(res.table["events"].sum()) == int(st["event"].sum())
    # every released count is 0 or at least min_cell (5)
    for col in ("events", "censored"):
        v = res.table[col].to_numpy()
        assert ((v == 0) | (v >= 5)).all()


def test_summary_equals_pooled_crosstab(network, site_cohorts):
    res = simulate_network(site_cohorts).summary(by=["sex", "age_band"], numeric=["age_onset"])
    pooled = pd.crosstab(
        np.asarray(categorical_codes(network, "sex")),
        np.asarray(categorical_codes(network, "age_band")),
    )
    released = res.table.dropna(subset=["count"])
    assert len(released) > 0
    for _, row in released.iterrows():
        if row["count"] == 0:
            continue
        assert row["count"] == pooled.loc[row["sex"], row["age_band"]]
    age = network.patients["age_onset"].astype(float)
    assert res.numeric.loc["age_onset", "n"] == len(age)
    assert abs(res.numeric.loc["age_onset", "mean"] - age.mean()) < 1e-9
    assert abs(res.numeric.loc["age_onset", "sd"] - age.std(ddof=1)) < 1e-9
