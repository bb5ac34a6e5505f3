"""Pr(best) / Pr(all equivalent) by quadrature, and the exact emulation of posterior draws.

References: ``scipy.integrate.quad`` on the defining integrals (independent code path: scipy's
Beta cdf/pdf, adaptive quadrature) and brute-force Beta draws as adaptr makes them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from alsnet.trials.adaptive import best_and_equivalence, draw_estimates


def _quad_reference(a, b, diff, higher_is_better=False):
    """Pr(i best) and Pr(i best and range < diff) with scipy's adaptive quadrature."""
    k = len(a)

    def cdf(j, x):
        return special.betainc(a[j], b[j], min(max(x, 0.0), 1.0))

    def pdf(i, x):
        return math.exp(stats.beta.logpdf(x, a[i], b[i])) if 0 < x < 1 else 0.0

    p, q = [], []
    for i in range(k):
        o = [j for j in range(k) if j != i]

        def worse(x, o=o):
            return math.prod((cdf(j, x) if higher_is_better else 1.0 - cdf(j, x)) for j in o)

        def within(x, o=o):
            if higher_is_better:
                return math.prod(cdf(j, x) - cdf(j, x - diff) for j in o)
            return math.prod(cdf(j, x + diff) - cdf(j, x) for j in o)

        kw = {"limit": 400, "points": [a[i] / (a[i] + b[i])], "epsabs": 1e-12}
        p.append(integrate.quad(lambda x, i=i, w=worse: pdf(i, x) * w(x), 0, 1, **kw)[0])
        q.append(integrate.quad(lambda x, i=i, w=within: pdf(i, x) * w(x), 0, 1, **kw)[0])
    return np.array(p), np.array(q)


CASES = [
    ([26, 21, 31], [76, 81, 71]),  # about 100 per arm, look 1
    ([300, 240, 280], [900, 960, 920]),  # one arm clearly best
    ([40, 130], [160, 390]),  # two arms, unequal sizes
]


@pytest.mark.parametrize(("a", "b"), CASES)
@pytest.mark.parametrize("higher", [False, True])
def test_quadrature_matches_scipy_quad(a, b, higher):
    a_, b_ = np.array([a], float), np.array([b], float)
    p, q = best_and_equivalence(
        a_, b_, np.ones_like(a_, dtype=bool), diff=0.05, higher_is_better=higher
    )
    p_ref, q_ref = _quad_reference(a, b, 0.05, higher)
    assert q is not None
    np.testing.assert_allclose(p[0], p_ref, atol=2e-6)
    np.testing.assert_allclose(q[0], q_ref, atol=2e-6)


def test_inactive_arms_are_ignored():
    a = np.array([[26.0, 5.0, 31.0], [26.0, 21.0, 31.0]])
    b = np.array([[76.0, 500.0, 71.0], [76.0, 81.0, 71.0]])
    act = np.array([[True, False, True], [True, True, True]])
    p, q = best_and_equivalence(a, b, act, diff=0.05)
    p2, q2 = best_and_equivalence(a[:1, [0, 2]], b[:1, [0, 2]], np.ones((1, 2), bool), diff=0.05)
    assert q is not None and q2 is not None
    assert p[0, 1] == 0.0 and q[0, 1] == 0.0
    np.testing.assert_allclose(p[0, [0, 2]], p2[0], atol=2e-6)
    np.testing.assert_allclose(q[0, [0, 2]], q2[0], atol=2e-6)
    # the second trial in the same batch is unaffected by the first one's grid
    p3, _ = best_and_equivalence(a[1:], b[1:], act[1:], diff=0.05)
    np.testing.assert_allclose(p[1], p3[0], atol=2e-6)


@settings(max_examples=20, deadline=None)
@given(
    n=st.lists(st.integers(20, 1500), min_size=3, max_size=3),
    y=st.lists(st.floats(0.1, 0.6), min_size=3, max_size=3),
)
def test_probabilities_are_coherent(n, y):
    """Pr(best) sums to 1; Pr(best and equivalent) <= Pr(best); agrees with Beta draws."""
    e = [round(ni * yi) for ni, yi in zip(n, y, strict=True)]
    a = np.array([[1.0 + ei for ei in e]])
    b = np.array([[1.0 + ni - ei for ni, ei in zip(n, e, strict=True)]])
    p, q = best_and_equivalence(a, b, np.ones((1, 3), bool), diff=0.05)
    assert q is not None
    assert p.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.all(q <= p + 1e-12) and np.all(q >= 0)
    draws = np.random.default_rng(0).beta(a[0], b[0], size=(50_000, 3))
    best = np.argmin(draws, axis=1)
    eq = draws.max(axis=1) - draws.min(axis=1) < 0.05
    mc_p = np.bincount(best, minlength=3) / draws.shape[0]
    mc_q = np.bincount(best[eq], minlength=3) / draws.shape[0]
    # 5 binomial SEs at 50,000 draws (max 0.0022)
    np.testing.assert_allclose(p[0], mc_p, atol=0.0112)
    np.testing.assert_allclose(q[0], mc_q, atol=0.0112)


def test_draw_emulation_matches_real_draws_in_distribution():
    """Multinomial emulation has the mean and covariance of adaptr's draw-based estimates."""
    a = np.array([[36.0, 30.0, 41.0]])
    b = np.array([[110.0, 118.0, 105.0]])
    n_draws, reps = 500, 4000
    rng = np.random.default_rng(5)
    d = rng.beta(a[0], b[0], size=(reps, n_draws, 3))  # adaptr: rbeta per arm, per analysis
    best = np.argmin(d, axis=2)
    real = np.column_stack(
        [(best == i).mean(axis=1) for i in range(3)]
        + [(d.max(axis=2) - d.min(axis=2) < 0.05).mean(axis=1)]
    )
    p, q = best_and_equivalence(a, b, np.ones((1, 3), bool), diff=0.05)
    assert q is not None
    pb, eq = draw_estimates(np.repeat(p, reps, 0), np.repeat(q, reps, 0), n_draws, rng)
    assert eq is not None
    emu = np.column_stack([pb, eq])
    se_mean = real.std(axis=0) / np.sqrt(reps)
    np.testing.assert_array_less(np.abs(emu.mean(0) - real.mean(0)), 4 * np.sqrt(2) * se_mean)
    # covariance, including that of Pr(best) with Pr(all equivalent): multinomial theory
    cells = np.concatenate([q[0], p[0] - q[0]])
    lin = np.zeros((4, 6))  # estimates as linear maps of the 6 cell frequencies
    lin[:3, :3] = lin[:3, 3:] = np.eye(3)
    lin[3, :3] = 1.0
    theory = lin @ ((np.diag(cells) - np.outer(cells, cells)) / n_draws) @ lin.T
    var = np.diag(theory)
    se_cov = np.sqrt((np.outer(var, var) + theory**2) / reps)  # SE of a sample covariance
    for sample in (real, emu):
        np.testing.assert_array_less(np.abs(np.cov(sample.T) - theory), 4.5 * se_cov)
    assert abs(theory[0, 3]) > 4 * se_cov[0, 3]  # the joint structure is detectable


def test_exact_mode_returns_inputs_when_no_draws():
    p = np.array([[0.2, 0.3, 0.5]])
    pb, eq = draw_estimates(p, None, 10_000, np.random.default_rng(0))
    assert eq is None
    np.testing.assert_allclose(pb, p, atol=0.02)
    assert np.all(pb * 10_000 == np.round(pb * 10_000))
