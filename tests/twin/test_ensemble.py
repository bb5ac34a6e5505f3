"""TwinEnsemble: bootstrap resampling, mixture quantiles, persistence, coverage gain."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsnet.exceptions import AlsnetError, NotFittedError
from alsnet.synth import synthesize
from alsnet.twin import TwinEnsemble, TwinModel
from alsnet.twin.ensemble import bootstrap_cohort

DAYS = [500.0, 900.0]


@pytest.fixture(scope="module")
def fitted() -> TwinEnsemble:
    return TwinEnsemble(n_members=3, n_draws=600, model_params={"n_mc_iter": 2}).fit(
        synthesize(150, seed=4)
    )


@pytest.fixture(scope="module")
def targets() -> pd.DataFrame:
    return synthesize(6, seed=99).patients


def test_bootstrap_cohort_moves_every_row_with_its_patient() -> None:
    c = synthesize(40, seed=2)
    ids = c.patients["patient_id"].to_numpy()
    boot = bootstrap_cohort(c, ids, np.random.default_rng(5))
    new = boot.patients["patient_id"].astype(str)
    assert len(new) == len(ids) and new.is_unique
    orig = new.str.split("~b").str[0]
    # the same draw, recomputed independently
    draw = ids[np.random.default_rng(5).integers(0, len(ids), size=len(ids))]
    assert sorted(orig) == sorted(draw.astype(str))
    for name in ("visits", "events"):
        per_orig = c.tables[name].groupby("patient_id").size()
        per_new = boot.tables[name].groupby(boot.tables[name]["patient_id"].astype(str)).size()
        expect = orig.map(per_orig).fillna(0).astype(int).to_numpy()
        got = new.map(per_new).fillna(0).astype(int).to_numpy()
        np.testing.assert_array_equal(got, expect)
    # one copy's visits equal the original patient's visits (values, order)
    pick = new[orig.duplicated(keep=False).to_numpy()].iloc[0]
    src = pick.split("~b")[0]
    a = boot.visits.loc[boot.visits["patient_id"] == pick].drop(columns="patient_id")
    b = c.visits.loc[c.visits["patient_id"] == src].drop(columns="patient_id")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    assert boot.sites is c.sites


def test_one_member_reproduces_its_twin_model(targets: pd.DataFrame) -> None:
    ens = TwinEnsemble(n_members=1, n_draws=300, model_params={"n_mc_iter": 1})
    ens.fit(synthesize(120, seed=6))
    member = ens.members_[0]
    assert isinstance(member, TwinModel) and member.n_draws == 300
    got = ens.predict(targets, DAYS, seed=3)
    want = member.predict(targets, DAYS, seed=3)
    pd.testing.assert_frame_equal(got, want)


def test_mixture_quantiles_match_brute_force_sampling(
    fitted: TwinEnsemble, targets: pd.DataFrame
) -> None:
    """Pooled quantiles solve mean_b F_b(q) = p, F_b from each member's own sampler."""
    big = TwinEnsemble(n_members=3, n_draws=30_000)
    big.members_ = fitted.members_
    big.n_patients_, big.n_obs_, big.fingerprint_ = 0, 0, ""
    pred = big.predict(targets, [700.0], outcomes=("alsfrs_r_total",), seed=1)
    draws = [m.sample(targets, [700.0], 20_000, seed=10 + j) for j, m in enumerate(fitted.members_)]
    tot = [d["alsfrs_r_total"][:, :, 0] for d in draws]  # (patients, n) per member
    for col, p in (("q025", 0.025), ("q10", 0.10), ("q50", 0.5), ("q90", 0.9), ("q975", 0.975)):
        q = pred[col].to_numpy()
        cdf = np.mean([np.mean(t <= q[:, None], axis=1) for t in tot], axis=0)
        cdf_lo = np.mean([np.mean(t < q[:, None] - 0.05, axis=1) for t in tot], axis=0)
        # clipped at 0/48 the distribution has atoms: p lies between F(q-) and F(q)
        assert np.all(cdf >= p - 0.01), (col, cdf)
        assert np.all(cdf_lo <= p + 0.01), (col, cdf_lo)
    pooled_mean = np.mean(np.concatenate(tot, axis=1), axis=1)
    np.testing.assert_allclose(pred["mean"], pooled_mean, atol=0.4)  # SIR draws: effective size < n
    # the mixture is at least as wide as the narrowest member
    single = [m.predict(targets, [700.0], outcomes=("alsfrs_r_total",)) for m in fitted.members_]
    width = pred["q90"] - pred["q10"]
    assert np.all(width >= np.min([s["q90"] - s["q10"] for s in single], axis=0) - 0.3)


def test_mean_survival_and_sample_follow_the_members(
    fitted: TwinEnsemble, targets: pd.DataFrame
) -> None:
    pm = fitted.predict_mean(targets, DAYS)
    want = np.mean([m.predict_mean(targets, DAYS) for m in fitted.members_], axis=0)
    np.testing.assert_allclose(pm, want)
    s = fitted.survival(targets, [12.0, 24.0, 48.0])
    want_s = np.mean(
        [m.survival(targets, [12.0, 24.0, 48.0])["survival"] for m in fitted.members_], 0
    )
    np.testing.assert_allclose(s["survival"], want_s)
    assert (np.diff(s["survival"].to_numpy().reshape(-1, 3), axis=1) <= 1e-12).all()
    out = fitted.sample(targets, DAYS, 4000, seed=2)
    assert out["alsfrs_r_total"].shape == (len(targets), 4000, len(DAYS))
    assert out["event_day"].shape == (len(targets), 4000)
    mean = out["alsfrs_r_total"].mean(axis=1).ravel()
    np.testing.assert_allclose(mean, pm, atol=0.8)


def test_save_load_round_trip_and_tamper(
    fitted: TwinEnsemble, targets: pd.DataFrame, tmp_path: Path
) -> None:
    path = fitted.save(tmp_path / "ens.json")
    assert TwinEnsemble.is_ensemble_file(path)
    back = TwinEnsemble.load(path)
    assert back.n_members == 3 and len(back.members_) == 3
    assert back.fingerprint_ == fitted.fingerprint_ and back.n_obs_ == fitted.n_obs_
    pd.testing.assert_frame_equal(back.predict(targets, DAYS), fitted.predict(targets, DAYS))
    doc = json.loads(path.read_text())
    # outer checksum: any change to the content
    doc["ensemble"]["members"][1]["model"]["params"]["sigma"] *= 1.01
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(AlsnetError, match="checksum"):
        TwinEnsemble.load(bad)
    # a member changed and the outer checksum recomputed: the member's own checksum
    from alsnet.twin.model import _digest as _doc_digest

    doc["sha256"] = _doc_digest(doc["ensemble"])
    bad.write_text(json.dumps(doc))
    with pytest.raises(AlsnetError, match=r"member 1.*checksum"):
        TwinEnsemble.load(bad)
    doc = json.loads(path.read_text())
    doc["ensemble"]["ensemble_version"] = "twin-ensemble-0"
    doc["sha256"] = _doc_digest(doc["ensemble"])
    bad.write_text(json.dumps(doc))
    with pytest.raises(AlsnetError, match="version"):
        TwinEnsemble.load(bad)
    with pytest.raises(AlsnetError, match="not a TwinEnsemble"):
        TwinEnsemble.load(tmp_path / "missing.json")
    TwinModel().fit(synthesize(60, seed=1)).save(tmp_path / "single.json")
    assert not TwinEnsemble.is_ensemble_file(tmp_path / "single.json")


def test_bad_parameters_and_not_fitted(targets: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError):
        TwinEnsemble().predict(targets, DAYS)
    c = synthesize(30, seed=1)
    with pytest.raises(ValueError, match="n_members"):
        TwinEnsemble(n_members=0).fit(c)
    with pytest.raises(ValueError, match="n_draws"):
        TwinEnsemble(n_members=5, n_draws=3).fit(c)
    with pytest.raises(ValueError, match="random_state"):
        TwinEnsemble(model_params={"random_state": 1}).fit(c)
