"""The fast paths of the twin model, pinned against straightforward reference code.

``predict_mean`` (quadrature as matrix products, exp-based sigmoid, first-axis
event nodes, threads), the conditioning (integer-coded visits, the line search
of :func:`_map_fit` on unimproved patients only, threads) and ``event_times``
are checked against the slower code they replaced, written out here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.cohort import Cohort
from alsnet.synth import synthesize
from alsnet.twin import model as model_mod
from alsnet.twin._events import ENDPOINTS, event_times
from alsnet.twin._fvc import (
    fvc_loglik,
    fvc_loglik_nodes,
    fvc_posterior,
    fvc_predictive_moments,
    fvc_stats,
)
from alsnet.twin.model import OUTCOMES, TwinModel

# --------------------------------------------------------------- references


def _reference_map_fit(
    idx: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    mu: np.ndarray,
    prec: np.ndarray,
    sigma: float,
    theta: np.ndarray,
    n_steps: int,
) -> tuple[np.ndarray, ...]:
    """The damped Gauss-Newton MAP as first written: every patient in every halving."""
    curve = model_mod._curve
    n = mu.shape[0]
    p11, p12, p22 = prec[0, 0], prec[0, 1], prec[1, 1]
    w = 1.0 / sigma**2
    act = np.arange(n)
    ia, ta, ya, mua = idx, t, y, mu

    def objective(th: np.ndarray) -> np.ndarray:
        f = curve(ta, th[ia, 0], th[ia, 1])[0]
        rss = np.bincount(ia, (ya - f) ** 2, minlength=act.size)
        d = th - mua
        pen = p11 * d[:, 0] ** 2 + 2 * p12 * d[:, 0] * d[:, 1] + p22 * d[:, 1] ** 2
        return np.asarray(w * rss + pen)

    theta = theta.copy()
    th = theta.copy()
    obj = objective(th)
    for _ in range(n_steps):
        na = act.size
        if na == 0:
            break
        f, ja, jb = curve(ta, th[ia, 0], th[ia, 1])
        r = ya - f
        h11 = w * np.bincount(ia, ja * ja, minlength=na) + p11
        h12 = w * np.bincount(ia, ja * jb, minlength=na) + p12
        h22 = w * np.bincount(ia, jb * jb, minlength=na) + p22
        d = th - mua
        g1 = w * np.bincount(ia, ja * r, minlength=na) - (p11 * d[:, 0] + p12 * d[:, 1])
        g2 = w * np.bincount(ia, jb * r, minlength=na) - (p12 * d[:, 0] + p22 * d[:, 1])
        det = h11 * h22 - h12 * h12
        i11, i12, i22 = h22 / det, -h12 / det, h11 / det
        step = np.clip(np.column_stack([i11 * g1 + i12 * g2, i12 * g1 + i22 * g2]), -1.0, 1.0)
        scale = np.ones(na)
        todo = np.ones(na, dtype=bool)
        moved = np.zeros(na)
        for _ in range(8):
            cand = th + scale[:, None] * step
            new = objective(cand)
            better = todo & (new <= obj)
            th[better] = cand[better]
            obj[better] = new[better]
            moved[better] = np.abs(scale[better, None] * step[better]).max(axis=1)
            todo &= ~better
            if not todo.any():
                break
            scale[todo] *= 0.5
        theta[act] = th
        keep = moved >= 1e-7
        if not keep.all():
            newpos = np.cumsum(keep) - 1
            rmask = keep[ia]
            ia, ta, ya = newpos[ia[rmask]], ta[rmask], ya[rmask]
            act, th, obj, mua = act[keep], th[keep], obj[keep], mua[keep]
    return (theta,)


def _reference_nodes(
    model: TwinModel,
    c: Any,
    lo: int,
    hi: int,
    along: np.ndarray | None,
    recentre: bool = True,
) -> tuple[np.ndarray, ...]:
    """Nodes and weights as first written, then recentred on the weighted moments."""
    post = c.post
    sl = slice(lo, hi)
    lap = (post.theta[sl], post.v11[sl], post.v12[sl], post.v22[sl])
    if not recentre:
        return _reference_grid(model, c, lo, hi, along, *lap)
    # first grid: small, unrotated
    a, b, wt = _reference_grid(model, c, lo, hi, None, *lap, shape=model_mod._FIRST_GRID)
    ma, mb = (wt * a).sum(axis=1), (wt * b).sum(axis=1)
    cov = [
        (wt * u * v).sum(axis=1)
        for u, v in (
            (a - ma[:, None],) * 2,
            (a - ma[:, None], b - mb[:, None]),
            (b - mb[:, None],) * 2,
        )
    ]
    s11 = np.maximum(cov[0], model_mod._RECENTRE_FLOOR * post.v11[sl])
    s22 = np.maximum(cov[2], model_mod._RECENTRE_FLOOR * post.v22[sl])
    lim = model_mod._RECENTRE_CORR * np.sqrt(s11 * s22)
    s12 = np.clip(cov[1], -lim, lim)
    return _reference_grid(model, c, lo, hi, along, np.column_stack([ma, mb]), s11, s12, s22)


def _reference_grid(
    model: TwinModel,
    c: Any,
    lo: int,
    hi: int,
    along: np.ndarray | None,
    theta: np.ndarray,
    v11: np.ndarray,
    v12: np.ndarray,
    v22: np.ndarray,
    shape: tuple[int, int] | None = None,
) -> tuple[np.ndarray, ...]:
    """Grid on N(theta, V) as first written: elementwise prior, hazard and likelihoods."""
    n1, n2 = shape or model_mod._grid_shape(model.n_quad, along is not None)
    x1, w1 = np.polynomial.hermite_e.hermegauss(n1)
    x2, w2 = np.polynomial.hermite_e.hermegauss(n2)
    s1, s2 = (v.ravel() for v in np.meshgrid(x1, x2, indexing="ij"))
    lw = np.log(np.outer(w1, w2).ravel())
    l11 = np.sqrt(v11)
    l21 = v12 / l11
    l22 = np.sqrt(np.maximum(v22 - l21**2, 0.0))
    if along is None:
        z1, z2 = s1[None, :], s2[None, :]
    else:
        v1 = l11 * along[0] + l21 * along[1]
        v2 = l22 * along[1]
        norm = np.hypot(v1, v2)
        norm = np.where(norm > 0, norm, 1.0)
        v1, v2 = (v1 / norm)[:, None], (v2 / norm)[:, None]
        v1 = np.where((v1 == 0) & (v2 == 0), 1.0, v1)
        z1, z2 = v1 * s1 - v2 * s2, v2 * s1 + v1 * s2
    a = theta[:, 0, None] + l11[:, None] * z1
    b = theta[:, 1, None] + l21[:, None] * z1 + l22[:, None] * z2
    da, db = a - c.mu[lo:hi, 0, None], b - c.mu[lo:hi, 1, None]
    p = c.prec
    logp = -0.5 * (p[0, 0] * da**2 + 2 * p[0, 1] * da * db + p[1, 1] * db**2)
    logp = logp + c.survival_logw(lo, hi, a, b)
    if model.fvc_ is not None and c.mu_f is not None and c.idx_f.size:
        sel = (c.idx_f >= lo) & (c.idx_f < hi)
        rows = c.idx_f[sel] - lo
        lost = 1.0 - model_mod._level(c.t_f[sel, None], a, b, rows)
        stats = fvc_stats(rows, lost, c.y_f[sel], hi - lo)
        logp = logp + fvc_loglik(stats, c.mu_f[lo:hi], model.fvc_.cov, model.fvc_.sigma)
    sel = (c.idx >= lo) & (c.idx < hi)
    rows = c.idx[sel] - lo
    if rows.size:
        f = 48.0 * model_mod._level(c.t[sel, None], a, b, rows)
        ll = -0.5 * ((c.y[sel, None] - f) / c.sigma) ** 2
        logp = logp + np.asarray(model_mod._member(rows, hi - lo) @ ll)
    logw = lw + logp + 0.5 * (s1**2 + s2**2)
    wt = np.exp(logw - logw.max(axis=1, keepdims=True))
    wt /= wt.sum(axis=1, keepdims=True)
    return a, b, wt


def _reference_predict_mean(
    model: TwinModel, data: Cohort | pd.DataFrame, days: Any, outcome: str
) -> np.ndarray:
    """predict_mean as first written: every node, elementwise, one patient chunk."""
    grid, pos, cond = model._prepare(data, days, 1)
    month = grid["day"].to_numpy(dtype="float64") / DAYS_PER_MONTH
    table = model_mod._clipped_mean_table(model.sigma_)
    along = model.events_.gamma if outcome == "event_free" and model.events_ else None
    a, b, wt = _reference_nodes(model, cond, 0, len(cond.ids), along)
    r = pos
    level = model_mod._level(month[:, None], a, b, r)
    if outcome == "alsfrs_r_total":
        val = model_mod._lookup(48.0 * level, *table)
    elif outcome == "fvc_pct":
        assert model.fvc_ is not None
        ma, mb, vaa, vab, vbb = model._fvc_draws(cond, 0, len(cond.ids), a, b, None)
        lost = 1.0 - level
        mu = ma[r] - mb[r] * lost
        var = vaa[r] - 2.0 * lost * vab[r] + lost**2 * vbb[r] + model.fvc_.sigma**2
        val = model_mod._pos_mean(mu, np.sqrt(var))
    else:
        assert cond.eta0 is not None and model.events_ is not None
        g = model.events_.gamma
        eta = cond.eta0[r, None] + g[0] * a[r] + g[1] * b[r]
        val = model._event_free(cond, 0, r, month, eta)
    return np.asarray(np.sum(val * wt[r], axis=1))


def _reference_event_times(
    ids: pd.Index, diag: np.ndarray, visits: pd.DataFrame, events: pd.DataFrame
) -> tuple[np.ndarray, ...]:
    """event_times as first written, with pandas groupby."""
    g = visits.groupby("patient_id", sort=False)["day"]
    first = g.min().reindex(ids).to_numpy(dtype="float64", na_value=np.nan)
    last = g.max().reindex(ids).to_numpy(dtype="float64", na_value=np.nan)
    is_end = events["event"].isin(list(ENDPOINTS)).to_numpy(dtype=bool)
    end = events.loc[is_end].groupby("patient_id")["day"].min().reindex(ids)
    endpoint = end.to_numpy(dtype="float64", na_value=np.inf)
    other = events.loc[~is_end].groupby("patient_id")["day"].max().reindex(ids)
    last = np.fmax(last, other.to_numpy(dtype="float64", na_value=np.nan))
    entry = np.where(np.isnan(first), diag, first)
    entry = np.where(np.isnan(entry), 0.0, np.maximum(entry, 0.0))
    last = np.fmax(last, diag)
    last = np.where(np.isnan(last), entry, np.maximum(last, entry))
    last = np.minimum(last, endpoint)
    return entry / DAYS_PER_MONTH, last / DAYS_PER_MONTH, endpoint / DAYS_PER_MONTH


# ----------------------------------------------------------------- fixtures


def _early(c: Cohort, days: float) -> Cohort:
    """Visits of the first ``days`` after each patient's first visit; events kept."""
    v = c.visits
    first = v.groupby("patient_id")["day"].transform("min")
    tabs = c.copy_tables()
    tabs["visits"] = v.loc[v["day"] <= first + days].reset_index(drop=True)
    return Cohort.from_tables(tabs)


@pytest.fixture(scope="module")
def fitted() -> tuple[TwinModel, Cohort]:
    cohort = synthesize(700, seed=11)
    ids = pd.Index(cohort.patients["patient_id"])
    model = TwinModel(n_mc_iter=2, mc_draws=40).fit(cohort.subset(ids[:500]))
    test = _early(cohort.subset(ids[500:]), 200.0)
    return model, test


# -------------------------------------------------------------------- tests


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_predict_mean_matches_reference_with_visits(fitted: Any, outcome: str) -> None:
    model, test = fitted
    assert len(test.visits) > len(test.patients)  # several visits, FVC and events conditioned
    assert test.visits["fvc_pct"].notna().any() and len(test.events)
    days = [200.0, 500.0, 900.0, 1500.0]
    ref = _reference_predict_mean(model, test, days, outcome)
    fast = model.predict_mean(test, days, outcome, chunk_size=37, n_threads=2)
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-12)
    # per-patient days (a DataFrame grid, unsorted) take the gather path
    rng = np.random.default_rng(0)
    ids = test.patients["patient_id"].to_numpy()
    grid = pd.DataFrame(
        {"patient_id": rng.choice(ids, 300), "day": rng.uniform(100.0, 2000.0, 300).round()}
    )
    ref = _reference_predict_mean(model, test, grid, outcome)
    fast = model.predict_mean(test, grid, outcome, chunk_size=29)
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_predict_mean_matches_reference_baseline_only(fitted: Any, outcome: str) -> None:
    model, test = fitted
    pats = test.patients
    days = [30.0, 400.0, 1200.0]
    ref = _reference_predict_mean(model, pats, days, outcome)
    fast = model.predict_mean(pats, days, outcome, chunk_size=50)
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-12)


def test_predict_mean_independent_of_chunks_and_threads(fitted: Any) -> None:
    model, test = fitted
    days = [250.0, 800.0]
    for o in OUTCOMES:
        one = model.predict_mean(test, days, o, chunk_size=10_000, n_threads=1)
        many = model.predict_mean(test, days, o, chunk_size=13, n_threads=3)
        np.testing.assert_array_equal(one, many)
    with pytest.raises(ValueError, match="n_threads"):
        model.predict_mean(test, days, n_threads=0)


def test_nodes_match_reference(fitted: Any) -> None:
    model, test = fitted
    _, _, cond = model._prepare(test, [100.0])
    for along in (None, model.events_.gamma):
        for recentre in (False, True):
            a, b, wt = model._nodes(cond, 10, 60, along, recentre=recentre)
            ra, rb, rw = _reference_nodes(model, cond, 10, 60, along, recentre)
            np.testing.assert_allclose(a, ra, rtol=1e-11, atol=1e-12)
            np.testing.assert_allclose(b, rb, rtol=1e-11, atol=1e-12)
            np.testing.assert_allclose(wt, rw, rtol=1e-9, atol=1e-15)


def test_map_fit_identical_to_full_line_search_and_threads(monkeypatch: Any) -> None:
    rng = np.random.default_rng(5)
    n = 400
    k = rng.integers(0, 6, n)  # some patients without visits
    idx = np.repeat(np.arange(n), k)
    perm = rng.permutation(idx.size)  # visits in any order
    idx = idx[perm]
    theta_true = np.column_stack([rng.normal(3.4, 0.4, n), rng.normal(2.0, 0.4, n)])
    t = rng.uniform(2.0, 60.0, idx.size)
    f = model_mod._curve(t, theta_true[idx, 0], theta_true[idx, 1])[0]
    y = np.clip(np.round(f + rng.normal(0, 2.5, idx.size)), 0, 48)
    mu = np.column_stack([rng.normal(3.4, 0.1, n), rng.normal(2.0, 0.1, n)])
    prec = np.linalg.inv(np.array([[0.16, 0.08], [0.08, 0.2]]))
    for steps in (3, 30):
        post, _, _ = model_mod._map_fit(idx, t, y, mu, prec, 2.0, mu.copy(), steps)
        (ref,) = _reference_map_fit(idx, t, y, mu, prec, 2.0, mu.copy(), steps)
        np.testing.assert_array_equal(post.theta, ref)
    monkeypatch.setattr(model_mod, "_MIN_PATIENTS_PER_THREAD", 50)
    split = model_mod._map_fit_threads(idx, t, y, mu, prec, 2.0, 30, 3)
    whole, _, _ = model_mod._map_fit(idx, t, y, mu, prec, 2.0, mu.copy(), 30)
    for x, z in zip(
        (split.theta, split.v11, split.v12, split.v22),
        (whole.theta, whole.v11, whole.v12, whole.v22),
        strict=True,
    ):
        np.testing.assert_array_equal(x, z)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 7), st.integers(0, 40), st.integers(0, 48)),
        min_size=0,
        max_size=40,
    ),
    st.booleans(),
)
def test_first_visit_matches_twin_covariates(rows: list[tuple[int, int, int]], srt: bool) -> None:
    if srt:
        rows = sorted(rows, key=lambda r: (r[0], r[1]))
    ids = [f"P{i}" for i in range(8)]
    obs = pd.DataFrame(
        {
            "patient_id": [ids[r[0]] for r in rows],
            "month": [r[1] / 2.0 for r in rows],  # ties on month with different totals
            "y": [float(r[2]) for r in rows],
        }
    )
    pats = synthesize(8, seed=1).patients.assign(patient_id=ids)
    ref = model_mod.twin_covariates(pats, obs)
    idx = np.array([r[0] for r in rows], dtype=np.int64)
    m, y = model_mod._first_visit(idx, obs["month"].to_numpy(), obs["y"].to_numpy(), 8)
    got = model_mod._covariate_frame(pats, m, y)
    pd.testing.assert_frame_equal(got, ref)


def test_event_times_matches_groupby_reference() -> None:
    rng = np.random.default_rng(2)
    ids = pd.Index([f"P{i}" for i in range(60)])
    vid = rng.choice([*ids[:50], "X1"], 300)  # a visit of an unknown patient
    visits = pd.DataFrame(
        {"patient_id": vid, "day": pd.array(rng.integers(0, 900, 300), dtype="Int64")}
    )
    visits.loc[rng.choice(300, 20, replace=False), "day"] = pd.NA
    eid = rng.choice(ids[::2], 40)
    events = pd.DataFrame(
        {
            "patient_id": eid,
            "event": rng.choice([*ENDPOINTS, "gastrostomy", "niv"], 40),
            "day": pd.array(rng.integers(0, 1200, 40), dtype="Int64"),
        }
    )
    diag = rng.uniform(0, 500, 60)
    diag[::7] = np.nan
    got = event_times(ids, diag, visits, events)
    ref = _reference_event_times(ids, diag, visits, events)
    for x, r in zip((got.entry, got.last_alive, got.endpoint), ref, strict=True):
        np.testing.assert_array_equal(x, r)
    # duplicated ids are answered row by row
    dup = ids[[3, 3, 8, 59]]
    got = event_times(dup, diag[[3, 3, 8, 59]], visits, events)
    np.testing.assert_array_equal(got.entry, ref[0][[3, 3, 8, 59]])
    np.testing.assert_array_equal(got.endpoint, ref[2][[3, 3, 8, 59]])


def test_fvc_node_loglik_differs_from_full_by_a_patient_constant() -> None:
    rng = np.random.default_rng(3)
    idx = np.sort(rng.integers(0, 30, 90))
    lost = rng.uniform(0, 1, (90, 7))
    y = rng.uniform(30, 110, 90)
    stats = fvc_stats(idx, lost, y, 30, sorted_idx=True)
    assert np.allclose(stats.sf, fvc_stats(idx, lost, y, 30).sf, rtol=0, atol=0)
    mu = rng.normal([95.0, 70.0], 5.0, (30, 2))
    cov = np.array([[150.0, 40.0], [40.0, 400.0]])
    diff = fvc_loglik(stats, mu, cov, 4.0) - fvc_loglik_nodes(stats, mu, cov, 4.0)
    np.testing.assert_allclose(diff - diff[:, :1], 0.0, atol=1e-9)


def test_vectorised_helpers_match_their_references() -> None:
    rng = np.random.default_rng(6)
    t = rng.uniform(0, 120, (50, 1))
    a, b = rng.normal(3.4, 0.6, (50, 9)), rng.normal(2.0, 0.6, (50, 9))
    np.testing.assert_allclose(
        model_mod._kept(t, np.exp(a), np.exp(-b)), model_mod._level(t, a, b), rtol=1e-13
    )
    s = rng.uniform(0, 1, 1000)
    s[:2] = [0.0, 1.0]
    grid, table = model_mod._clipped_mean_table(2.3)
    np.testing.assert_allclose(
        model_mod._interp_unit(s.copy(), table),
        model_mod._lookup(48.0 * s, grid, table),
        rtol=1e-12,
        atol=1e-7,  # at s = 1 _lookup clamps to index n - 1.000001 (an error of ~6e-9)
    )
    mu = rng.normal(20.0, 40.0, 1000)
    sd = rng.uniform(0.5, 30.0, 1000)
    np.testing.assert_allclose(
        model_mod._pos_mean_var(mu, sd**2), model_mod._pos_mean(mu, sd), rtol=1e-12, atol=1e-9
    )


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_predict_mean_shares_sigmoid_of_alsfrs_and_fvc_visits(fitted: Any, outcome: str) -> None:
    """FVC visits with and without an ALSFRS-R total on the same row, visits shuffled."""
    model, test = fitted
    tabs = test.copy_tables()
    v = tabs["visits"].sample(frac=1.0, random_state=4).reset_index(drop=True)
    rng = np.random.default_rng(4)
    no_alsfrs = rng.random(len(v)) < 0.3
    items = [c for c in v.columns if c.startswith("q")] + ["total_reported"]
    v.loc[no_alsfrs, items] = np.nan
    v.loc[rng.random(len(v)) < 0.2, "fvc_pct"] = np.nan
    tabs["visits"] = v
    data = Cohort.from_tables(tabs)
    _, _, cond = model._prepare(data, [100.0])
    link = cond.f_in_obs
    assert link is not None and (link < 0).any() and (link >= 0).any()
    # a linked FVC visit is the ALSFRS-R visit of the same patient and month
    j = np.flatnonzero(link >= 0)
    np.testing.assert_array_equal(cond.idx_f[j], cond.idx[link[j]])
    np.testing.assert_array_equal(cond.t_f[j], cond.t[link[j]])
    days = [200.0, 700.0, 1500.0]
    ref = _reference_predict_mean(model, data, days, outcome)
    fast = model.predict_mean(data, days, outcome, chunk_size=23)
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30),
    st.floats(1e-3, 1e3),
)
def test_pos_mean_var_matches_closed_form(mu: list[float], sd: float) -> None:
    """E[max(X, 0)] = mu Phi(mu / sd) + sd phi(mu / sd), far above and below the table too."""
    from scipy.stats import norm

    m = np.array(mu)
    z = m / sd
    exact = m * norm.cdf(z) + sd * norm.pdf(z)
    got = model_mod._pos_mean_var(m.copy(), np.full(m.size, sd**2))
    assert np.all(got >= 0.0)
    # table interpolation error < 1e-6 sd; relative rounding above the table
    np.testing.assert_allclose(got, exact, rtol=1e-12, atol=1e-6 * sd)


def test_fvc_predictive_moments_match_posterior() -> None:
    """Mean and variance of a_f - b_f (1 - S) + e at random S, from the posterior moments."""
    rng = np.random.default_rng(8)
    idx = np.sort(rng.integers(0, 25, 70))  # some patients without FVC visits
    lost_v, y = rng.uniform(0, 1, (70, 6)), rng.uniform(30, 110, 70)
    stats = fvc_stats(idx, lost_v, y, 25, sorted_idx=True)
    mu = rng.normal([95.0, 70.0], 5.0, (25, 2))
    cov = np.array([[150.0, 40.0], [40.0, 400.0]])
    ma, mb, vaa, vab, vbb = fvc_posterior(stats, mu, cov, 4.0)
    c0, c1, v0, v1, v2 = fvc_predictive_moments(stats, mu, cov, 4.0)
    s = rng.uniform(0, 1, (25, 6))
    lost = 1.0 - s
    np.testing.assert_allclose(c0 + c1 * s, ma - mb * lost, rtol=1e-12)
    var = vaa - 2.0 * lost * vab + lost**2 * vbb + 16.0
    np.testing.assert_allclose(v0 + v1 * s + v2 * s**2, var, rtol=1e-10)


def test_conditioning_map_converges_to_brute_force_optimum() -> None:
    """The default conditioning steps reach the MAP found by scipy.optimize per patient.

    With a strongly correlated prior (as fitted on the synthetic registry) and one or
    two visits, a few percent of the patients need more than 30 Gauss-Newton steps.
    """
    from scipy.optimize import minimize
    from scipy.special import expit

    rng = np.random.default_rng(12)
    n = 3000
    prec = np.array([[89.0, -89.15], [-89.15, 94.4]])
    mu = np.column_stack([rng.normal(3.3, 0.15, n), rng.normal(2.0, 0.15, n)])
    theta = mu + rng.multivariate_normal([0.0, 0.0], np.linalg.inv(prec), n)
    k = rng.integers(1, 3, n)
    idx = np.repeat(np.arange(n), k)
    # months since onset: first visit, then 3 months later
    t = rng.uniform(5.0, 30.0, n)[idx] + 3.0 * (
        np.arange(idx.size) - np.repeat(np.cumsum(k) - k, k)
    )
    f = 48.0 * expit(-(t - np.exp(theta[idx, 0])) / np.exp(theta[idx, 1]))
    y = np.clip(np.round(f + rng.normal(0, 1.7, idx.size)), 0, 48)
    steps = TwinModel().conditioning_steps
    got = model_mod._map_fit_threads(idx, t, y, mu, prec, 1.7, steps, 1).theta
    capped = model_mod._map_fit(idx, t, y, mu, prec, 1.7, mu.copy(), 30)[0].theta
    slow = np.flatnonzero(np.abs(capped - got).max(axis=1) > 1e-6)
    assert slow.size >= 10  # the case this test is about: 30 steps were not enough

    def neg_log_post(p: np.ndarray, i: int) -> float:
        tt, yy = t[idx == i], y[idx == i]
        fit = 48.0 * expit(-(tt - np.exp(p[0])) / np.exp(p[1]))
        d = p - mu[i]
        return float(np.sum((yy - fit) ** 2) / 1.7**2 + d @ prec @ d)

    check = np.concatenate([slow, rng.choice(n, 20, replace=False)])
    far_capped = 0
    for i in check:
        best = min(
            (
                minimize(
                    neg_log_post,
                    start,
                    args=(i,),
                    method="Nelder-Mead",
                    options={"xatol": 1e-11, "fatol": 1e-13, "maxiter": 20_000},
                )
                for start in (got[i], capped[i], mu[i])
            ),
            key=lambda r: r.fun,
        )
        assert neg_log_post(got[i], i) <= best.fun + 1e-9
        np.testing.assert_allclose(got[i], best.x, atol=1e-5)
        far_capped += np.abs(capped[i] - best.x).max() > 1e-5
    assert far_capped >= 5  # and the 30-step MAP is measurably off for some of them
