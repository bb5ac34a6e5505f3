"""DREAM loader (fills undone) and the benchmark runner; the real file is optional."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold

from alsnet.synth import synthesize
from alsnet.twin.dream import (
    DreamData,
    load_dream,
    pearson_r,
    rmsd,
    run_dream_benchmark,
    unfill_dream,
)
from alsnet.twin.features import TARGET, window_features

DREAM = Path("/work/shared/data/dream-als/als.csv.gz")


def _fake() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "testset": [False, True, False],
            "dFRS": [-0.5, -1.0, 0.1],
            "no.fvc.liters.data": [1, 0, 0],
            "lessthan2.fvc.liters": [1, 1, 0],
            "max.fvc.liters": [3.42, 2.0, 3.1],
            "num.fvc.liters.visits": [4, 1, 3],
            "fvc.liters.slope": [-0.05, -0.05, -0.2],
            "mean.slope.fvc.liters": [0.1, 0.2, 0.3],
            "lessthan2.alsfrs.score": [0, 1, 0],
            "no.alsfrs.score.data": [0, 0, 0],
            "alsfrs.score.slope": [-1.0, -0.42, -0.3],
            "speech.slope": [0.0, 0.1, 0.2],
            "max.speech": [4, 3, 4],
            "max.svc.liters": [3.7, 3.7, 4.1],
            "svc.liters.slope": [0.0, 0.0, 0.1],
            "Onset.Delta": [-500, -300, -900],
        }
    )


def test_unfill_rules() -> None:
    X = unfill_dream(_fake().drop(columns=["testset", "dFRS"]))
    assert X["max.fvc.liters"].isna().tolist() == [True, False, False]
    assert X["num.fvc.liters.visits"].isna().tolist() == [True, False, False]
    assert X["fvc.liters.slope"].isna().tolist() == [True, True, False]
    assert X["mean.slope.fvc.liters"].isna().tolist() == [True, True, False]
    assert X["alsfrs.score.slope"].isna().tolist() == [False, True, False]
    assert X["speech.slope"].isna().tolist() == [False, True, False]  # items follow ALSFRS
    assert X["max.speech"].tolist() == [4, 3, 4]
    assert X["max.svc.liters"].isna().tolist() == [True, True, False]
    assert X["svc.liters.slope"].isna().tolist() == [True, True, False]
    assert X["Onset.Delta"].tolist() == [-500, -300, -900]
    assert X["no.fvc.liters.data"].tolist() == [1, 0, 0]  # flags kept


def test_load_fake_file(tmp_path: Path) -> None:
    p = tmp_path / "als.csv.gz"
    _fake().to_csv(p, index=False)
    d = load_dream(p)
    assert d.X.shape == (3, 14)
    assert d.testset.tolist() == [False, True, False]
    assert d.y.tolist() == [-0.5, -1.0, 0.1]
    assert np.isnan(d.X["max.fvc.liters"].to_numpy()[0])
    raw = load_dream(p, unfill=False)
    assert raw.X.loc[0, "max.fvc.liters"] == 3.42
    with pytest.raises(FileNotFoundError):
        load_dream(tmp_path / "nope.csv")
    _fake().drop(columns="dFRS").to_csv(p, index=False)
    with pytest.raises(ValueError, match="dFRS"):
        load_dream(p)


@pytest.mark.skipif(not DREAM.exists(), reason=f"DREAM data not available at {DREAM}")
def test_real_file_matches_readme() -> None:
    d = load_dream(DREAM)
    assert d.X.shape == (1822, 369)
    assert int(d.testset.sum()) == 625
    tr = d.y[~d.testset]
    assert tr.mean() == pytest.approx(-0.680, abs=5e-4)
    assert tr.std() == pytest.approx(0.565, abs=5e-4)
    # README: 1,101 filled heights, 170 filled FVC, 407 filled respiratory rates, SVC 1,653
    assert int(d.X["max.height"].isna().sum()) == 1101
    assert int(d.X["mean.fvc.liters"].isna().sum()) == 170
    assert int(d.X["mean.resp.rate"].isna().sum()) == 407
    assert int(d.X["max.svc.liters"].isna().sum()) >= 1653
    # predict-the-mean RMSD on the test rows (README: 0.5660)
    assert rmsd(d.y[d.testset], np.full(625, tr.mean())) == pytest.approx(0.5660, abs=5e-4)
    assert pearson_r(d.y, -d.X["Onset.Delta"]) == pytest.approx(0.35, abs=0.02)


def test_metrics_by_hand() -> None:
    assert rmsd([1.0, 2.0, 3.0], [1.0, 2.0, 5.0]) == pytest.approx(np.sqrt(4 / 3))
    assert pearson_r([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]) == pytest.approx(1.0)
    assert np.isnan(pearson_r([1.0, 2.0], [1.0, 1.0]))


def test_benchmark_runner_on_registry_features() -> None:
    f = window_features(synthesize(300, seed=8))
    f = f.loc[f[TARGET].notna()]
    test = pd.Series(np.arange(len(f)) % 3 == 0, index=f.index)
    data = DreamData(X=f.drop(columns=TARGET), y=f[TARGET], testset=test)
    res = run_dream_benchmark(data, candidates=("mean", "ridge"), chosen="ridge", folds=4)
    assert list(res.cv["model"]) == ["mean", "ridge"]
    # brute force the "mean" candidate's out-of-fold RMSD
    ytr = f.loc[~test, TARGET].to_numpy()
    pred = np.empty_like(ytr)
    for tr, va in KFold(4, shuffle=True, random_state=0).split(ytr):
        pred[va] = ytr[tr].mean()
    cv = res.cv["cv_rmsd"].to_numpy()
    assert cv[0] == pytest.approx(rmsd(ytr, pred))
    assert cv[1] < cv[0]
    assert res.n_test == int(test.sum()) and np.isfinite(res.test_rmsd)
    assert res.test_rmsd == pytest.approx(rmsd(f.loc[test, TARGET], res.test_predictions))
    s = res.summary()
    assert {"4-fold CV", "test (once)", "reference test"} == set(s["split"])
    assert "DreamBenchmark(chosen='ridge'" in repr(res)
    js = json.loads(res.to_json())
    assert js["chosen"] == "ridge" and [c["model"] for c in js["cv"]] == ["mean", "ridge"]
    cv_only = run_dream_benchmark(data, candidates=("mean",), chosen="mean", evaluate_test=False)
    assert np.isnan(cv_only.test_rmsd)
    assert "test (once)" not in set(cv_only.summary()["split"])
