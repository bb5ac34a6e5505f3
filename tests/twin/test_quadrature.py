"""Accuracy of ``TwinModel.predict_mean``'s quadrature, pinned against references.

The default grid (``n_quad=11``: 11 x 3 nodes, 27 x 2 for the event-free
probability, recentred on each patient's posterior moments) is compared with a
31 x 31 recentred grid and with Monte Carlo draws of :meth:`TwinModel.predict`.
The tolerances are the benchmark's (``benchmarks/eval_twin_quadrature.py``, 100,000
patients: 99th percentile of the error < 0.1 ALSFRS-R points, < 0.2 FVC points,
< 0.01 event-free probability); the former 5 x 5 grid on the Laplace
approximation fails them on the same patients.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alsnet.cohort import Cohort
from alsnet.synth import synthesize
from alsnet.twin import model as model_mod
from alsnet.twin.model import OUTCOMES, TwinModel

DAYS = [365.0, 730.0, 1095.0, 1460.0]
# 99th percentile and maximum of |default - reference| (points; probability for event_free)
TOL = {"alsfrs_r_total": (0.1, 1.0), "fvc_pct": (0.2, 2.0), "event_free": (0.01, 0.05)}


@contextlib.contextmanager
def _grid(shape: tuple[int, int], rotated: tuple[int, int]) -> Iterator[None]:
    orig = model_mod._grid_shape
    model_mod._grid_shape = lambda n, rot: rotated if rot else shape
    try:
        yield
    finally:
        model_mod._grid_shape = orig


@contextlib.contextmanager
def _laplace_only() -> Iterator[None]:
    orig = TwinModel._quadrature

    def quad(self: TwinModel, *args: Any, **kw: Any) -> Any:
        kw["recentre"] = False
        return orig(self, *args, **kw)

    TwinModel._quadrature = quad  # type: ignore[method-assign]
    try:
        yield
    finally:
        TwinModel._quadrature = orig  # type: ignore[method-assign]


def _early(c: Cohort, days: float = 91.0) -> Cohort:
    """Visits of the first ``days`` after each patient's first visit; no events."""
    v = c.visits
    first = v.groupby("patient_id")["day"].transform("min")
    tabs = c.copy_tables()
    tabs["visits"] = v.loc[v["day"] <= first + days].reset_index(drop=True)
    tabs["events"] = tabs["events"].iloc[:0]
    return Cohort.from_tables(tabs)


@pytest.fixture(scope="module")
def setting() -> tuple[TwinModel, dict[str, Cohort | pd.DataFrame]]:
    cohort = synthesize(1500, seed=21)
    ids = pd.Index(cohort.patients["patient_id"])
    model = TwinModel(n_mc_iter=2, mc_draws=40).fit(cohort.subset(ids[:500]))
    test = cohort.subset(ids[500:])
    return model, {"visits": _early(test), "baseline": test.patients}


@pytest.fixture(scope="module")
def reference(setting: Any) -> dict[tuple[str, str], np.ndarray]:
    model, cases = setting
    with _grid((31, 31), (93, 10)):
        return {
            (case, o): model.predict_mean(data, DAYS, o)
            for case, data in cases.items()
            for o in OUTCOMES
        }


@pytest.mark.parametrize("case", ["visits", "baseline"])
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_default_quadrature_matches_high_order_grid(
    setting: Any, reference: Any, case: str, outcome: str
) -> None:
    model, cases = setting
    assert model.n_quad == 11
    err = np.abs(model.predict_mean(cases[case], DAYS, outcome) - reference[case, outcome])
    p99, top = TOL[outcome]
    assert np.quantile(err, 0.99) < p99, (case, outcome, np.quantile(err, 0.99))
    assert err.max() < top, (case, outcome, err.max())


@pytest.mark.parametrize("outcome", ["alsfrs_r_total", "fvc_pct"])
def test_former_laplace_grid_fails_the_tolerance(
    setting: Any, reference: Any, outcome: str
) -> None:
    """The test above can fail: the former 5 x 5 grid on the Laplace approximation."""
    model, cases = setting
    with _grid((5, 5), (15, 3)), _laplace_only():
        old = model.predict_mean(cases["visits"], DAYS, outcome)
    err = np.abs(old - reference["visits", outcome])
    p99, top = TOL[outcome]
    assert np.quantile(err, 0.99) > p99 or err.max() > top


def test_recentred_grid_is_gauss_hermite_on_a_gaussian_posterior(setting: Any) -> None:
    """No data: the posterior is the prior, recentring must not move the grid."""
    model, cases = setting
    _, _, cond = model._prepare(cases["baseline"].iloc[:50], [100.0])
    _, _, visited = model._prepare(cases["visits"], [100.0])
    for along in (None, model.events_.gamma):
        a0, b0, w0 = model._nodes(cond, 0, 50, along, recentre=False)
        # moments of a Gauss-Hermite-weighted Gaussian are exact: recentring is a no-op
        q = model._quadrature(cond, 0, 50, along)
        np.testing.assert_allclose(q.a, a0, rtol=1e-12)
        np.testing.assert_allclose(q.b, b0, rtol=1e-12)
        np.testing.assert_allclose(q.wt, w0, rtol=1e-12)
        # with data the grid moves to the weighted mean of the (small) first grid
        p = visited.post
        lap = (p.theta[:50], p.v11[:50], p.v12[:50], p.v22[:50])
        q1, informed = model._grid(visited, 0, 50, None, *lap, model_mod._FIRST_GRID)
        assert informed
        a2, _, w2 = model._nodes(visited, 0, 50, along)
        if along is None:  # symmetric grid: the nodes' plain mean is the centre
            np.testing.assert_allclose(a2.mean(axis=1), (q1.wt * q1.a).sum(axis=1), rtol=1e-10)
        np.testing.assert_allclose(w2.sum(axis=1), 1.0)


def test_default_quadrature_matches_monte_carlo(setting: Any) -> None:
    """An independent integration: posterior draws (importance resampling)."""
    model, cases = setting
    data = cases["visits"]
    ids = data.patients["patient_id"].to_numpy()[:60]
    sub = data.subset(ids)
    big = TwinModel(n_draws=40_000)
    big.__dict__.update({k: v for k, v in model.__dict__.items() if k != "n_draws"})
    draws = big.predict(sub, DAYS, seed=3)
    for o in OUTCOMES:
        quad = model.predict_mean(sub, DAYS, o)
        rows = draws[draws["outcome"] == o]
        mc = rows["mean"].to_numpy()
        if o == "event_free":  # no noise: mean of P(event-free | draw), tolerance as above
            assert np.abs(quad - mc).max() < TOL[o][0], (o, np.abs(quad - mc).max())
            continue
        # MC standard error from the 80 % interval width (normal-equivalent SD); the
        # resampled draws repeat, so count a quarter of them as independent
        sd = (rows["q90"] - rows["q10"]).to_numpy() / 2.563
        se = np.maximum(sd, 0.05) / np.sqrt(big.n_draws / 4)
        z = np.abs(quad - mc) / se
        assert np.quantile(z, 0.95) < 3.0, (o, np.quantile(z, 0.95))
