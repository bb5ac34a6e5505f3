"""Registry → window features → prognostic score → PROCOVA on re-randomised trials."""

from __future__ import annotations

import numpy as np
import pytest

from alsnet.synth import synthesize
from alsnet.twin import TARGET, PrognosticScore, procova_ancova, procova_variance, window_features


def test_score_from_history_shrinks_trial_variance_as_predicted() -> None:
    f = window_features(synthesize(1500, seed=21))
    f = f.loc[f[TARGET].notna()]
    X, y = f.drop(columns=TARGET), f[TARGET].to_numpy()
    half = len(y) // 2
    score_model = PrognosticScore(model="ridge").fit(X.iloc[:half], y[:half])  # "historical"
    s, yt = score_model.predict(X.iloc[half:]), y[half:]  # "trial" patients, unseen
    r = float(np.corrcoef(s, yt)[0, 1])
    assert r > 0.3
    n = len(yt)
    rng = np.random.default_rng(0)
    reps = 2000
    arms = np.argsort(rng.random((reps, n)), axis=1) < n // 2  # 1:1 re-randomisations
    t = arms.astype(float)
    # ANCOVA y ~ 1 + t + s for every re-randomisation (normal equations, vectorised)
    X3 = np.stack([np.ones((reps, n)), t, np.broadcast_to(s, (reps, n))], axis=2)
    beta = np.linalg.solve(
        np.einsum("rni,rnj->rij", X3, X3), np.einsum("rni,n->ri", X3, yt)[..., None]
    )[..., 0]
    diff = (t @ yt) / t.sum(1) - ((1 - t) @ yt) / (1 - t).sum(1)
    ratio = beta[:, 1].var() / diff.var()
    # PROCOVA variance ratio 1 - rho^2 (Schuler), rho = corr(outcome, score)
    assert ratio == pytest.approx(1 - r**2, abs=0.06)
    v = procova_variance(rho=r, sigma=float(yt.std()))
    assert n * beta[:, 1].var() == pytest.approx(v, rel=0.15)
    # no treatment effect was added: the analysis keeps its nominal level
    res = procova_ancova(yt, arms[0].astype(int), s)
    assert abs(res.estimate) < 4 * res.se
