"""Calibration of the synthetic cohort against the reference figures.

One cohort of 3,000 patients (seed fixed) is summarised from its canonical tables
only, and each summary is compared with its published or own-summary target
(reference/cohort-figures.md). Tolerances are a few standard errors of the
statistic at this sample size plus a stated allowance for model mismatch:

* mean of ~1,900 per-patient slopes: SE about 0.018 points/month -> ±0.10;
* SD of slopes: SE about 0.015 -> ±0.10;
* shares of ~3,000 patients: SE <= 0.009 -> ±0.03;
* median NfL: SE about 2 pg/mL -> ±8 pg/mL;
* Spearman correlation of ~1,400 pairs: SE about 0.025 -> ±0.10.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _synth_metrics import (
    DAYS_PER_MONTH,
    alsfrs_visits,
    kings_stage,
    mitos_stage,
    ols_slopes,
    survival_from_onset,
)
from lifelines import KaplanMeierFitter
from lifelines.utils import concordance_index
from scipy.stats import spearmanr

from alsnet.cohort import Cohort
from alsnet.synth import synthesize

N = 3000


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return synthesize(N, seed=20240611)


@pytest.fixture(scope="module")
def slopes(cohort: Cohort) -> pd.Series:
    return ols_slopes(alsfrs_visits(cohort), "total")


def _entry_visits(cohort: Cohort) -> pd.DataFrame:
    """One random trial-eligible ALSFRS-R visit per patient: 12-36 months from onset, FVC >= 60%."""
    v = alsfrs_visits(cohort)
    ok = v.loc[(v["month"] >= 12) & (v["month"] <= 36) & (v["fvc_pct"] >= 60)]
    return ok.sample(frac=1.0, random_state=7).drop_duplicates("patient_id")


def test_slope_mean_sd_median(slopes: pd.Series) -> None:
    # own summary (PRO-ACT, >= 3 visits over >= 180 days): mean -1.01, SD 0.75, median -0.87
    assert len(slopes) > 1500
    assert -1.11 <= slopes.mean() <= -0.91
    assert 0.65 <= slopes.std() <= 0.85
    assert -0.97 <= slopes.median() <= -0.77
    # skewed towards fast decline: mean below median, as in PRO-ACT
    assert slopes.mean() < slopes.median()


def test_baseline_total_at_trial_like_entry(cohort: Cohort) -> None:
    # 37.9 ± 5.5 at trial entry (median 18 months from onset)
    e = _entry_visits(cohort)
    assert len(e) > 1000
    assert 36.5 <= e["total"].mean() <= 39.5
    assert 4.5 <= e["total"].std() <= 7.0
    assert 15 <= e["month"].median() <= 24


def test_trial_participants_enter_with_trial_like_baseline(cohort: Cohort) -> None:
    tr = cohort.treatments.loc[cohort.treatments["treatment"] == "trial"]
    v = alsfrs_visits(cohort)
    base = v.merge(
        tr[["patient_id", "start_day"]],
        left_on=["patient_id", "day"],
        right_on=["patient_id", "start_day"],
    )
    assert len(base) == len(tr) > 150
    assert (base["month"] <= 36.1).all() and (base["fvc_pct"] >= 60).all()
    assert 36.0 <= base["total"].mean() <= 41.0  # SE about 0.35 with ~250 participants
    assert set(tr["arm"]) == {"placebo", "active"}


def test_demographics(cohort: Cohort) -> None:
    p = cohort.patients
    assert abs((p["sex"] == "M").mean() - 0.60) <= 0.03
    bulbar = (p["onset_region"] == "bulbar").mean()
    assert 0.237 - 0.01 <= bulbar <= 0.30 + 0.01
    # age 56.3 ± 11.7 at trial entry, about 1.5 years after onset
    assert abs(p["age_onset"].mean() + 1.5 - 56.3) <= 1.5
    assert 10.5 <= p["age_onset"].std() <= 13.0
    assert 0.10 <= p["ftd"].mean() <= 0.16
    delay = p["diagnosis_day"] / DAYS_PER_MONTH
    assert 8.0 <= delay.median() <= 10.0
    assert (delay > 0).all()


def test_fvc_slope(cohort: Cohort) -> None:
    # own summary: mean -2.41 %/month (SD 2.2), median -1.94
    fs = ols_slopes(cohort.visits, "fvc_pct")
    assert -2.8 <= fs.mean() <= -2.0
    assert 1.7 <= fs.std() <= 2.7
    assert fs.mean() < fs.median()


def test_nfl_median_and_link_with_slope(cohort: Cohort, slopes: pd.Series) -> None:
    v = cohort.visits.dropna(subset=["nfl_serum_pg_ml"]).sort_values("day")
    first = v.drop_duplicates("patient_id").set_index("patient_id")["nfl_serum_pg_ml"]
    assert abs(first.median() - 78.5) <= 8.0
    # log-normal: log values roughly symmetric
    logs = np.log(first)
    assert abs(logs.mean() - logs.median()) < 0.1
    j = pd.concat([first, slopes.rename("slope")], axis=1).dropna()
    rho = spearmanr(j.iloc[:, 0], j["slope"]).statistic
    assert -0.53 <= rho <= -0.33  # PRO-ACT: rho = -0.43


def test_km_median_survival_from_onset(cohort: Cohort) -> None:
    s = survival_from_onset(cohort)
    km = KaplanMeierFitter().fit(s["months"], s["event"])
    assert 27.0 <= km.median_survival_time_ <= 40.0
    # survival from onset is longer than the 24-week trial horizon for nearly everyone
    assert km.predict(12.0) > 0.95


def _encals_lp_paper(
    delta_fs: pd.Series,
    delay_months: pd.Series,
    age: pd.Series,
    fvc: pd.Series,
    bulbar: pd.Series,
    definite: pd.Series,
    ftd: pd.Series,
    c9: pd.Series,
) -> pd.Series:
    """Independent transcription of the ENCALS paper-model LP (clinical-scores.md §7)."""
    return (
        -1.83666 * (delta_fs + 0.1) ** -0.5
        - 2.37341 * ((delay_months / 10) ** -0.5 + np.log(delay_months / 10))
        - 0.26697 * (age / 100) ** -2
        + 0.47685 * ((fvc / 100) ** -1 + (fvc / 100) ** -0.5)
        + 0.26887 * bulbar
        + 0.23278 * definite
        + 0.38831 * ftd
        + 0.25608 * c9
    )


def _baseline(cohort: Cohort) -> pd.DataFrame:
    p = cohort.patients.set_index("patient_id")
    v = alsfrs_visits(cohort).sort_values("day").drop_duplicates("patient_id")
    v = v.set_index("patient_id")
    f = cohort.visits.dropna(subset=["fvc_pct"]).sort_values("day").drop_duplicates("patient_id")
    out = pd.DataFrame(index=p.index)
    out["delta_fs"] = (48 - v["total"]) / (v["day"] / DAYS_PER_MONTH)
    out["delay"] = p["diagnosis_day"] / DAYS_PER_MONTH
    out["age"] = p["age_onset"]
    out["fvc"] = f.set_index("patient_id")["fvc_pct"]
    out["bulbar"] = (p["onset_region"] == "bulbar").astype(int)
    out["definite"] = (p["el_escorial"] == "definite").astype(int)
    out["ftd"] = p["ftd"].astype(int)
    out["c9"] = p["c9orf72"].fillna(0).astype(int)
    return out.dropna()


def test_encals_lp_predicts_synthetic_survival_own_formula(cohort: Cohort) -> None:
    b = _baseline(cohort)
    lp = _encals_lp_paper(b.delta_fs, b.delay, b.age, b.fvc, b.bulbar, b.definite, b.ftd, b.c9)
    s = survival_from_onset(cohort).loc[b.index]
    assert len(b) > 0.9 * N
    assert concordance_index(s["months"], -lp, s["event"]) > 0.65


def test_encals_concordance_with_clinical_module(cohort: Cohort) -> None:
    encals = pytest.importorskip(
        "alsnet.clinical.encals", reason="alsnet.clinical.encals is not available yet"
    )
    b = _baseline(cohort)
    lp = encals.encals_lp(
        b.age.to_numpy(),
        b.delta_fs.to_numpy(),
        b.delay.to_numpy(),
        b.fvc.to_numpy(),
        b.bulbar.to_numpy(),
        b.definite.to_numpy(),
        b.ftd.to_numpy(),
        b.c9.to_numpy(),
        model="paper",
    )
    lp = np.asarray(lp, dtype=float)
    own = _encals_lp_paper(b.delta_fs, b.delay, b.age, b.fvc, b.bulbar, b.definite, b.ftd, b.c9)
    np.testing.assert_allclose(lp, own.to_numpy(), rtol=1e-6, atol=1e-6)
    s = survival_from_onset(cohort).loc[b.index]
    assert concordance_index(s["months"], -lp, s["event"]) > 0.65
    km = KaplanMeierFitter().fit(s["months"], s["event"])
    assert 27.0 <= km.median_survival_time_ <= 40.0


def test_genetic_frequencies(cohort: Cohort) -> None:
    p = cohort.patients
    eur_spor = p.loc[(p["ancestry"] == "EUR") & (p["family_history"] == 0) & p["c9orf72"].notna()]
    eur_fam = p.loc[(p["ancestry"] == "EUR") & (p["family_history"] == 1) & p["c9orf72"].notna()]
    # Zou 2017, Europe: C9orf72 33.7% fALS / 5.1% sALS
    assert 0.03 <= eur_spor["c9orf72"].mean() <= 0.075
    assert 0.20 <= eur_fam["c9orf72"].mean() <= 0.48
    # SOD1, Europe: 1.2% sALS (n ~ 1,300 tested, SE 0.003); about 2% of all ALS, more among
    # the tested because familial patients are nearly always tested
    spor_sod1 = p.loc[(p["ancestry"] == "EUR") & (p["family_history"] == 0), "sod1"].dropna()
    assert 0.004 <= spor_sod1.mean() <= 0.025
    assert 0.01 <= p["sod1"].dropna().mean() <= 0.07
    asia = p.loc[p["ancestry"] == "EAS", "c9orf72"].dropna()
    assert asia.mean() < eur_spor["c9orf72"].mean()  # C9orf72 is rare in Asians
    # some patients are untested (flags empty)
    assert 0.1 <= p["c9orf72"].isna().mean() <= 0.6


def test_kings_and_mitos_progress_with_disease_duration(cohort: Cohort) -> None:
    k = kings_stage(cohort)
    k["year"] = (k["day"] / 365.25).astype(int)
    means = k.loc[k["year"] <= 4].groupby("year")["kings"].mean()
    assert (np.diff(means.to_numpy()) > 0).all()
    assert 1.0 <= means.iloc[0] <= 2.6 and means.iloc[-1] >= 3.0
    m = mitos_stage(cohort)
    m["year"] = (m["day"] / 365.25).astype(int)
    mm = m.loc[m["year"] <= 4].groupby("year")["mitos"].mean()
    assert (np.diff(mm.to_numpy()) > 0).all()
    assert mm.iloc[0] < 0.5
    # every stage occurs, and 4B (respiratory) only with NIV recorded in events
    assert set(np.unique(k["kings"])) == {1.0, 2.0, 3.0, 4.0, 4.5}


def test_onset_region_shapes_items(cohort: Cohort) -> None:
    v = alsfrs_visits(cohort).sort_values("day").drop_duplicates("patient_id")
    v = v.merge(cohort.patients[["patient_id", "onset_region"]], on="patient_id")
    v["q5"] = v["q5a"].fillna(v["q5b"])
    lost = (
        pd.DataFrame(
            {
                "bulbar": 12 - v[["q1", "q2", "q3"]].sum(axis=1),
                "fine": 12 - v[["q4", "q5", "q6"]].sum(axis=1),
                "gross": 12 - v[["q7", "q8", "q9"]].sum(axis=1),
                "resp": 12 - v[["q10", "q11", "q12"]].sum(axis=1),
                "region": v["onset_region"],
            }
        )
        .groupby("region")
        .mean()
    )
    assert lost.loc["bulbar", "bulbar"] > lost.loc["bulbar", ["fine", "gross", "resp"]].max()
    assert lost.loc["upper_limb", "fine"] > lost.loc["upper_limb", ["bulbar", "gross"]].max()
    assert lost.loc["lower_limb", "gross"] > lost.loc["lower_limb", ["bulbar", "fine"]].max()
    for region in ("bulbar", "upper_limb", "lower_limb"):
        assert lost.loc[region, "resp"] < lost.loc[region, ["bulbar", "fine", "gross"]].max()
