"""Adaptive binary-outcome engine: design validation, adaptr's reallocation, decisions, and
the published adaptr README operating characteristics.

Independent references: a literal per-trial port of adaptr 1.4.0's ``run_trial`` (no common
control) and ``reallocate_probs`` that uses real Beta posterior draws; adaptr's README output
(``check_performance``, 1,000 simulations per scenario).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.trials import TrialDesignError, load_design, simulate
from alsnet.trials.adaptive import AdaptiveDesign, AdaptiveResult, reallocate, simulate_adaptive

README = load_design("adaptr-readme")
assert isinstance(README, AdaptiveDesign)


def _spec(**over: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "kind": "adaptive-binary",
        "name": "small",
        "arms": ["A", "B", "C"],
        "data_looks": {"from": 60, "to": 300, "by": 60},
        "lag": 30,
        "superiority": 0.97,
        "inferiority": 0.03,
        "equivalence": {"prob": 0.9, "diff": 0.15},
        "min_probs": [0.2, 0.2, 0.2],
        "n_draws": 1000,
        "scenarios": {"diff": {"true_ys": {"A": 0.3, "B": 0.2, "C": 0.35}}},
    }
    d.update(over)
    return d


# ------------------------------------------------------------------------------ design
def test_readme_example_is_adaptr_readme_design():
    d = README
    assert d.arms == ("A", "B", "C")
    assert d.data_looks == tuple(range(300, 2001, 100))
    assert d.randomised_at_looks == (*range(400, 2001, 100), 2000)  # adaptr README
    assert d.superiority[0] == 0.98143 and d.inferiority[0] == pytest.approx(1 - 0.98143)
    assert (d.equivalence_prob, d.equivalence_diff) == ((0.9,) * 18, 0.05)
    assert d.min_probs == (0.2, 0.2, 0.2) and d.n_draws == 5000
    assert d.scenarios["diff"].true_ys == (0.25, 0.20, 0.30)
    assert d.higher_is_better is False


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"superiority": 1.2}, "superiority: must be in (0, 1), got 1.2"),
        ({"inferiority": 0.0}, "inferiority: must be in (0, 1), got 0"),
        ({"superiority": [0.99, 1.5, 0.99, 0.99, 0.99]}, "superiority[1]: must be in (0, 1)"),
        ({"equivalence": {"prob": 1.0, "diff": 0.05}}, "equivalence.prob: must be in (0, 1)"),
        ({"equivalence": {"prob": 0.9, "diff": -0.1}}, "equivalence.diff: must be in (0, 1)"),
        ({"equivalence": {"prob": 0.9}}, "equivalence.diff: missing"),
        ({"inferiority": 0.98}, "inferiority: must be below superiority"),
        ({"min_probs": [0.4, 0.4, 0.4]}, "min_probs: floors sum to 1.2 > 1"),
        ({"min_probs": [0.2, 0.2]}, "min_probs: needs one value per arm (3), got 2"),
        ({"max_probs": [0.5, 0.3, 0.1]}, "max_probs: caps sum to 0.9 < 1"),
        ({"data_looks": [100, 200, 150]}, "data_looks[2]: looks must strictly increase"),
        ({"data_looks": [100, 100]}, "data_looks[1]: looks must strictly increase"),
        (
            {"lag": None, "randomised_at_looks": [100, 200, 250, 300, 290]},
            "randomised_at_looks[4]: 290 is below the patients with data (300)",
        ),
        ({"lag": -5}, "lag: must be >= 0"),
        ({"soften_power": 0}, "soften_power: must be in (0, 1]"),
        ({"n_draws": 10}, "n_draws: must be >= 100"),
        ({"prior": {"alpha": 0.5, "beta": 1}}, "prior.alpha: must be >= 1"),
        ({"arms": ["A", "A", "C"]}, "arms: names must be non-empty and unique"),
        ({"scenarios": {"x": {"true_ys": {"A": 0.2, "B": 0.2}}}}, "scenarios.x.true_ys.C: missing"),
        ({"scenarios": {"x": {"true_ys": [0.2, 0.2, 1.5]}}}, "scenarios.x.true_ys.C: must be in"),
        ({"rescale_probs": "fixed"}, "rescale_probs: must be null or 'limits'"),
        ({"colour": "red"}, "colour: unknown field"),
    ],
)
def test_invalid_fields_are_named(over, message):
    spec = _spec(**over)
    spec = {k: v for k, v in spec.items() if v is not None}
    with pytest.raises(TrialDesignError) as exc:
        AdaptiveDesign.from_dict(spec)
    assert str(exc.value).startswith(message), str(exc.value)


def test_cli_validate_reports_field(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(_spec(min_probs=[0.5, 0.4, 0.3])), encoding="utf-8")
    res = CliRunner().invoke(app, ["trial", "validate", str(p)])
    assert res.exit_code == 2
    assert "min_probs" in res.output and "> 1" in res.output
    ok = CliRunner().invoke(app, ["trial", "validate", "adaptr-readme"])
    assert ok.exit_code == 0 and "0.98143" in ok.output


# ---------------------------------------------------------------- adaptr reallocation
def _adaptr_reallocate(pb, min_probs, max_probs, soften=1.0):
    """Line-by-line port of adaptr:::reallocate_probs (no fixed probs, no matching)."""
    eps = math.sqrt(np.finfo(float).eps)
    pb = np.asarray(pb, float)
    mn = np.array([np.nan] * len(pb) if min_probs is None else min_probs, float)
    mx = np.array([np.nan] * len(pb) if max_probs is None else max_probs, float)
    if np.all(np.isnan(mn)) and np.all(np.isnan(mx)):
        r = pb**soften
        return r / r.sum()
    final = np.full(len(pb), np.nan)
    while abs(np.nansum(final) - 1) > eps:
        total_rem = 1 - np.nansum(final)
        rem = np.isnan(final)
        rem_sum = pb[rem].sum()
        factor = pb / rem_sum if rem_sum > 0 else np.full(len(pb), 1 / rem.sum())
        tmp = np.where(rem, total_rem * factor, final)
        if soften < 1:
            t = tmp[rem] ** soften
            tmp[rem] = total_rem * t / t.sum()
        lo = ~np.isnan(mn) & rem & (tmp < mn)
        tmp[lo] = final[lo] = mn[lo]
        hi = ~np.isnan(mx) & rem & (tmp > mx)
        tmp[hi] = final[hi] = mx[hi]
        if abs(tmp.sum() - 1) <= eps:
            final = tmp
        if not np.isnan(final).any() and abs(final.sum() - 1) > eps:
            final = final / final.sum()
    return final


@settings(max_examples=100, deadline=None)
@given(
    raw=st.lists(st.floats(0.0, 1.0), min_size=3, max_size=4),
    floor=st.sampled_from([None, 0.1, 0.2, 0.25]),
    cap=st.sampled_from([None, 0.6, 0.8]),
    soften=st.sampled_from([1.0, 0.5]),
)
def test_reallocate_matches_adaptr(raw, floor, cap, soften):
    pb = np.array(raw) + 1e-12
    pb = pb / pb.sum()
    k = pb.size
    mn = None if floor is None else (floor,) * k
    mx = None if cap is None else (cap,) * k
    if mx is not None and (cap * k < 1 or cap + (k - 1) * (floor or 0.0) >= 1):
        return  # caps that cannot hold, or floors + a cap that use up all probability (adaptr: NA)
    got = reallocate(
        pb[None, :], np.ones((1, k), bool), min_probs=mn, max_probs=mx, soften_power=soften
    )
    want = _adaptr_reallocate(pb, mn, mx, soften)
    np.testing.assert_allclose(got[0], want, atol=1e-9)
    assert got.sum() == pytest.approx(1.0)
    if floor is not None and cap is None:  # with caps too, adaptr may rescale below a floor
        assert np.all(got >= floor - 1e-12)


def test_reallocate_drops_inactive_arms():
    pb = np.array([[0.0, 0.9, 0.1], [0.5, 0.5, 0.0]])
    act = np.array([[False, True, True], [True, True, True]])
    got = reallocate(pb, act, min_probs=(0.2, 0.2, 0.2))
    np.testing.assert_allclose(got[0], [0.0, 0.8, 0.2])
    np.testing.assert_allclose(got[1], [0.4, 0.4, 0.2])
    scaled = reallocate(pb[:1], act[:1], min_probs=(0.2, 0.2, 0.2), rescale_limits=True)
    np.testing.assert_allclose(scaled[0], [0.0, 0.7, 0.3])  # floor 0.2 * 3/2 = 0.3


# ----------------------------------------------------------- engine vs a literal port
def _adaptr_run_trial(d: AdaptiveDesign, true_ys, rng: np.random.Generator) -> dict[str, Any]:
    """Literal per-patient port of adaptr's run_trial (no common control), real Beta draws."""
    k = len(d.arms)
    arms = list(range(k))
    active = list(arms)
    alloc = np.full(k, 1.0 / k)
    allocs: list[int] = []
    ys: list[int] = []
    status = ["active"] * k
    result = "max"
    probs_best = {}
    for look in range(d.n_looks):
        n_new = d.randomised_at_looks[look] - len(allocs)
        if n_new > 0:
            new = rng.choice(active, size=n_new, p=alloc[active] / alloc[active].sum())
            allocs += list(new)
            ys += list(rng.random(n_new) < np.asarray(true_ys)[new])
        followed = d.data_looks[look]
        al, yy = np.array(allocs[:followed]), np.array(ys[:followed])

        def draws(act, al=al, yy=yy):
            cols = []
            for a in act:
                n, e = (al == a).sum(), yy[al == a].sum()
                cols.append(rng.beta(1 + e, 1 + n - e, d.n_draws))
            return np.column_stack(cols)

        m = draws(active)
        pb = np.bincount(np.argmin(m, axis=1), minlength=len(active)) / d.n_draws
        while np.any(pb < d.inferiority[look]):
            for a, p in zip(list(active), pb, strict=True):
                if p < d.inferiority[look]:
                    status[a] = "inferior"
                    active.remove(a)
            m = draws(active)
            pb = np.bincount(np.argmin(m, axis=1), minlength=len(active)) / d.n_draws
        probs_best = dict(zip(active, pb, strict=True))
        if pb.max() > d.superiority[look]:
            status[active[int(np.argmax(pb))]] = "superior"
            result = "superiority"
            break
        assert d.equivalence_prob is not None and d.equivalence_diff is not None
        if np.mean(m.max(axis=1) - m.min(axis=1) < d.equivalence_diff) > d.equivalence_prob[look]:
            result = "equivalence"
            break
        new_alloc = _adaptr_reallocate(pb, d.min_probs and [d.min_probs[a] for a in active], None)
        alloc = np.zeros(k)
        alloc[active] = new_alloc
    n = d.randomised_at_looks[look]
    selected = (
        status.index("superior")
        if result == "superiority"
        else max(probs_best, key=lambda a: probs_best[a])
    )
    return {"result": result, "n": n, "selected": selected}


def test_engine_matches_literal_adaptr_port():
    d = AdaptiveDesign.from_dict(_spec())
    true_ys = d.scenarios["diff"].true_ys
    rng = np.random.default_rng(2024)
    port = [_adaptr_run_trial(d, true_ys, rng) for _ in range(300)]
    eng = simulate_adaptive(d, "diff", n_sims=2000, seed=7, n_jobs=1)

    def check(p_port: float, p_eng: float) -> None:
        se = math.sqrt(max(p_port * (1 - p_port), 0.01) / 300 + p_eng * (1 - p_eng) / 2000)
        assert abs(p_port - p_eng) < 4 * se, (p_port, p_eng, se)

    check(np.mean([t["result"] == "superiority" for t in port]), eng.p_superiority)
    check(np.mean([t["result"] == "equivalence" for t in port]), eng.p_equivalence)
    check(np.mean([t["selected"] == 1 for t in port]), float(eng.p_selected[1]))
    ns = np.array([t["n"] for t in port], float)
    se_n = math.sqrt(ns.var(ddof=1) / ns.size + eng.mean_n_se**2)
    assert abs(ns.mean() - eng.mean_n) < 4 * se_n


def test_no_stopping_runs_to_max_and_counts_add_up():
    scen = {"same": {"true_ys": [0.3, 0.3, 0.3]}}
    d = AdaptiveDesign.from_dict(
        _spec(superiority=0.999999, inferiority=1e-6, equivalence=None, scenarios=scen)
    )
    r = simulate_adaptive(d, "same", n_sims=300, seed=1, n_jobs=1)
    assert r.p_max == 1.0 and r.mean_n == 300.0 and r.mean_n_se == 0.0
    assert r.arm_mean_n.sum() == pytest.approx(300.0)
    assert np.all(np.abs(r.arm_mean_n - 100.0) < 5 * r.arm_mean_n_se + 1)


def test_exact_probabilities_mode_runs():
    d = AdaptiveDesign.from_dict(_spec(n_draws=None))
    r = simulate_adaptive(d, "diff", n_sims=500, seed=3, n_jobs=1)
    assert 0.0 < r.p_superiority < 1.0
    assert r.p_superiority + r.p_equivalence + r.p_max == pytest.approx(1.0)
    assert r.p_success.sum() == pytest.approx(r.p_superiority)
    # RAR: the best arm (B, lowest event rate) gets the most patients, the worst the fewest
    assert r.arm_mean_n[1] > r.arm_mean_n[0] > r.arm_mean_n[2]


# ----------------------------------------------------------------- published values
# adaptr README (check_performance, select_strategy = "best", 1,000 simulations each).
# The null values come from the calibration run itself (base_seed 4131, the seed on which the
# threshold 0.98143 was tuned to give P(superiority) <= 0.05), so 0.048 is biased low: adaptr
# 1.4.0 with base_seed 777 gives 0.057 (1,500 sims), a literal port with real Beta draws 0.061
# (4,000), alsnet 0.059 +- 0.002 (20,000). MARGIN covers this selection effect.
PUBLISHED = {
    "null": {"p_superiority": 0.048, "p_equivalence": 0.38, "mean_n": 1749.6, "mean_n_se": 11.4},
    "diff": {
        "p_superiority": 0.731,
        "p_equivalence": 0.146,
        "mean_n": 1242.3,
        "mean_n_se": 16.6,
        "p_select_b": 0.962,
    },
}
PUB_SIMS = 1000
MARGIN = 0.01  # calibration selection (above); the quadrature itself is accurate to ~1e-6


def _check_published(r: AdaptiveResult, pub: dict[str, float]) -> None:
    for key in ("p_superiority", "p_equivalence"):
        p = pub[key]
        se = math.sqrt(p * (1 - p) / PUB_SIMS + getattr(r, f"{key}_se") ** 2)
        assert abs(getattr(r, key) - p) < 3 * se + MARGIN, (key, getattr(r, key), p, se)
    se_n = math.hypot(pub["mean_n_se"], r.mean_n_se)
    assert abs(r.mean_n - pub["mean_n"]) < 3 * se_n + 10, (r.mean_n, pub["mean_n"], se_n)
    if "p_select_b" in pub:
        p = pub["p_select_b"]
        se = math.sqrt(p * (1 - p) / PUB_SIMS + r.p_selected_se[1] ** 2)
        assert abs(r.p_selected[1] - p) < 3 * se + MARGIN


@pytest.mark.parametrize("scenario", ["null", "diff"])
def test_published_adaptr_readme_fast(scenario):
    r = simulate(README, scenario, n_sims=1000, seed=11, n_jobs=1)
    assert isinstance(r, AdaptiveResult)
    _check_published(r, PUBLISHED[scenario])


@pytest.mark.slow
@pytest.mark.parametrize("scenario", ["null", "diff"])
def test_published_adaptr_readme_10000(scenario):
    r = simulate(README, scenario, n_sims=10_000, seed=2025)
    assert isinstance(r, AdaptiveResult)
    _check_published(r, PUBLISHED[scenario])


def test_cli_simulate_writes_result_contract(tmp_path: Path):
    out = tmp_path / "R.json"
    args = ["trial", "simulate", "adaptr-readme", "--scenario", "null", "--sims", "300"]
    res = CliRunner().invoke(app, [*args, "--seed", "4", "--out", str(out), "--jobs", "1"])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert (data["sims"], data["seed"], data["backend"]) == (300, 4, "local")
    assert data["elapsed_s"] > 0
    for key in ("p_superiority", "p_equivalence", "p_max", "mean_n"):
        assert data[key] >= 0 and data[f"{key}_se"] >= 0
    assert [r["name"] for r in data["regimens"]] == ["A", "B", "C"]
    for row in data["regimens"]:
        for key in ("p_success", "p_early_futility", "mean_n"):
            assert row[key] is not None and row[f"{key}_se"] is not None
        for key in ("mean_duration_months", "mean_drr", "true_drr"):
            assert row[key] is None
    assert sum(r["mean_n"] for r in data["regimens"]) == pytest.approx(data["mean_n"])
    same = simulate(README, "null", n_sims=300, seed=4, n_jobs=1)
    assert same.p_superiority == data["p_superiority"] and same.mean_n == data["mean_n"]
