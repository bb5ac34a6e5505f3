"""Survival stage (MND-SMART stage 4): log-rank vs lifelines, trigger time, size, design."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines.statistics import logrank_test
from scipy import stats

from alsnet.trials import PlatformDesign, TrialDesignError, load_design, simulate
from alsnet.trials._survival_stage import (
    logrank_rows,
    nth_event_time,
    survival_stage,
    weibull_death_months,
)
from alsnet.trials.design import SurvivalStage

ALPHA = 0.025


def _raw() -> dict[str, Any]:
    path = Path(__file__).parents[2] / "src/alsnet/trials/examples/mnd-smart.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _lifelines(t: np.ndarray, e: np.ndarray, g: np.ndarray) -> tuple[float, float]:
    r = logrank_test(t[g], t[~g], e[g], e[~g])
    return float(r.test_statistic), float(r.p_value)


def _check_rows(t: np.ndarray, e: np.ndarray, g: np.ndarray, inc: np.ndarray) -> None:
    res = logrank_rows(np.where(inc, t, np.inf), e, g, inc)
    for s in range(t.shape[0]):
        m = inc[s]
        if not (m & g[s]).any() or not (m & ~g[s]).any():
            continue
        if res.variance[s] == 0:
            assert math.isnan(res.statistic[s])
            continue
        chi2, p2 = _lifelines(t[s][m], e[s][m], g[s][m])
        z = res.statistic[s]
        assert z * z == pytest.approx(chi2, rel=1e-9, abs=1e-12)
        # lifelines is two-sided: 2 * min(one-sided p, 1 - one-sided p)
        assert 2 * min(res.pvalue[s], 1 - res.pvalue[s]) == pytest.approx(p2, rel=1e-8, abs=1e-12)
        # the sign: z > 0 when the treated group has fewer deaths than expected
        assert np.sign(z) == np.sign(res.expected[s] - res.observed[s])
        assert res.observed[s] == (m & g[s] & e[s]).sum()


@pytest.mark.parametrize("seed", range(4))
def test_logrank_equals_lifelines_random_with_ties_and_censoring(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s, n = 40, 60
    # integer times: many ties, deaths and censorings at the same time
    t = rng.integers(1, 10, (s, n)).astype(np.float64)
    e = rng.random((s, n)) < 0.6
    g = rng.random((s, n)) < 0.5
    inc = rng.random((s, n)) < 0.85
    _check_rows(t, e, g, inc)


def test_logrank_equals_lifelines_continuous_times() -> None:
    rng = np.random.default_rng(7)
    s, n = 20, 200
    g = rng.random((s, n)) < 0.5
    death = rng.exponential(1.0, (s, n)) / np.where(g, 0.7, 1.0)
    cens = rng.uniform(0.2, 3.0, (s, n))
    _check_rows(np.minimum(death, cens), death <= cens, g, np.ones((s, n), dtype=bool))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 25).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 5), min_size=n, max_size=n),
            st.lists(st.booleans(), min_size=n, max_size=n),
            st.lists(st.booleans(), min_size=n, max_size=n),
        )
    )
)
def test_logrank_property_matches_lifelines(data: tuple[list[int], list[bool], list[bool]]) -> None:
    t = np.asarray(data[0], dtype=np.float64)[None, :]
    e = np.asarray(data[1])[None, :]
    g = np.asarray(data[2])[None, :]
    _check_rows(t, e, g, np.ones_like(e))


def test_logrank_rows_are_independent_and_validate() -> None:
    rng = np.random.default_rng(3)
    t = rng.integers(1, 6, (5, 30)).astype(np.float64)
    e, g = rng.random((5, 30)) < 0.5, rng.random((5, 30)) < 0.5
    both = logrank_rows(t, e, g)
    for s in range(5):
        one = logrank_rows(t[s : s + 1], e[s : s + 1], g[s : s + 1])
        assert one.statistic[0] == pytest.approx(both.statistic[s], rel=1e-12)
    with pytest.raises(ValueError, match="shapes differ"):
        logrank_rows(t, e[:, :3], g)
    with pytest.raises(ValueError, match="finite"):
        logrank_rows(np.full((1, 3), np.inf), np.ones((1, 3), bool), np.array([[1, 0, 0]], bool))


def test_logrank_size_and_power_against_schoenfeld() -> None:
    """Null: rejection rate alpha; HR 0.7: Schoenfeld's power from each trial's deaths."""
    rng = np.random.default_rng(11)
    s, n = 4000, 240
    g = np.zeros((s, n), dtype=bool)
    g[:, : n // 2] = True
    cens = rng.uniform(0.5, 2.5, (s, n))
    for hr, check in ((1.0, "size"), (0.7, "power")):
        death = rng.exponential(1.0, (s, n)) / np.where(g, hr, 1.0)
        ev = death <= cens
        res = logrank_rows(np.minimum(death, cens), ev, g)
        rate = float(np.mean(res.pvalue < ALPHA))
        if check == "size":
            assert abs(rate - ALPHA) < 4 * math.sqrt(ALPHA * (1 - ALPHA) / s), rate
        else:
            d = ev.sum(axis=1)
            z_a = stats.norm.ppf(1 - ALPHA)
            schoenfeld = np.mean(stats.norm.cdf(np.sqrt(d / 4) * -math.log(hr) - z_a))
            assert abs(rate - schoenfeld) < 0.03, (rate, schoenfeld)


def test_nth_event_time_brute_force() -> None:
    rng = np.random.default_rng(5)
    x = np.where(rng.random((30, 12)) < 0.6, rng.integers(0, 8, (30, 12)), np.inf)
    for n in (1, 3, 7, 12, 13):
        got = nth_event_time(x, n)
        for s in range(30):
            fin = sorted(v for v in x[s] if np.isfinite(v))
            assert got[s] == (fin[n - 1] if n <= len(fin) else np.inf)
    with pytest.raises(ValueError, match="n: must be >= 1"):
        nth_event_time(x, 0)


def test_weibull_death_times_closed_form() -> None:
    u = np.linspace(0.01, 0.99, 50)
    e = stats.expon.ppf(u)
    for med, k, hr in ((24.0, 1.0, 1.0), (30.0, 1.5, 0.65), (12.0, 0.8, 2.0)):
        scale = med / (math.log(2.0) * hr) ** (1.0 / k)
        expected = stats.weibull_min(c=k, scale=scale).ppf(u)
        np.testing.assert_allclose(weibull_death_months(e, med, k, hr), expected, rtol=1e-10)
    assert weibull_death_months(np.array([math.log(2.0)]), 24.0, 1.3, 1.0)[0] == pytest.approx(24)


def _brute_stage(spec: SurvivalStage, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
    """Loop implementation of the stage: data cut and survival success per (trial, regimen)."""
    ex, de, ac, en = kw["exit_months"], kw["death"], kw["active"], kw["enrol"]
    reg, ctrl, stop, succ, entry = (
        kw["regimen"],
        kw["controls"],
        kw["stop_time"],
        kw["success"],
        kw["entry"],
    )
    n_s, n_r = stop.shape
    cuts = np.full((n_s, n_r), np.nan)
    ok = np.zeros((n_s, n_r), dtype=bool)
    for s in range(n_s):
        for r in range(n_r):
            in_trial = [en[s, i] <= stop[s, reg[i]] for i in range(reg.size)]
            cdeaths = sorted(
                en[s, i] + ex[s, i]
                for i in range(reg.size)
                if in_trial[i] and not ac[s, i] and ctrl[i, r] and de[s, i]
            )
            cap = math.inf if spec.max_months is None else entry[r] + spec.max_months
            if len(cdeaths) >= spec.placebo_deaths:
                cut = cdeaths[spec.placebo_deaths - 1]
            else:
                cut = cap if spec.max_months is not None else (cdeaths[-1] if cdeaths else 0.0)
            cut = max(min(cut, cap), stop[s, r])
            cuts[s, r] = cut
            if not succ[s, r]:
                continue
            rows = [
                i
                for i in range(reg.size)
                if in_trial[i]
                and en[s, i] <= cut
                and ((not ac[s, i] and ctrl[i, r]) or (ac[s, i] and reg[i] == r))
            ]
            t = np.array([min(ex[s, i], cut - en[s, i]) for i in rows])
            e = np.array([bool(de[s, i]) and ex[s, i] <= cut - en[s, i] for i in rows])
            g = np.array([bool(ac[s, i]) for i in rows])
            z = math.sqrt(logrank_test(t[g], t[~g], e[g], e[~g]).test_statistic)
            # one-sided: benefit when treated deaths are below their expectation
            p1 = stats.norm.sf(z) if _fewer_than_expected(t, e, g) else stats.norm.cdf(z)
            ok[s, r] = p1 < spec.alpha
    return cuts, ok


def _fewer_than_expected(t: np.ndarray, e: np.ndarray, g: np.ndarray) -> bool:
    """O < E for the treated group, by looping over distinct death times."""
    o_minus_e = 0.0
    for u in np.unique(t[e]):
        at_risk = t >= u
        d = np.sum(e & (t == u))
        o_minus_e += np.sum(e & (t == u) & g) - d * at_risk[g].sum() / at_risk.sum()
    return o_minus_e < 0


@pytest.mark.parametrize("max_months", [None, 20.0])
def test_stage_trigger_and_test_brute_force(max_months: float | None) -> None:
    rng = np.random.default_rng(2)
    n_s, n_p, n_r = 12, 60, 2
    regimen = np.arange(n_p) % n_r
    enrol = np.sort(rng.uniform(0, 10, n_p))[None, :].repeat(n_s, axis=0)
    active = rng.random((n_s, n_p)) < 0.6
    death_t = rng.exponential(12.0, (n_s, n_p)) / np.where(active & (regimen == 0), 0.5, 1.0)
    drop_t = rng.exponential(40.0, (n_s, n_p))
    controls = np.ones((n_p, n_r), dtype=bool)
    controls[regimen == 1, 0] = False  # regimen 0: own placebo only; regimen 1: shared
    stop_time = np.where(rng.random((n_s, n_r)) < 0.5, 12.0, 4.0)
    kw: dict[str, Any] = {
        "exit_months": np.minimum(death_t, drop_t),
        "death": death_t <= drop_t,
        "active": active,
        "enrol": enrol,
        "regimen": regimen,
        "controls": controls,
        "stop_time": stop_time,
        "success": stop_time > 10,
        "entry": np.zeros(n_r),
    }
    spec = SurvivalStage(placebo_deaths=8, alpha=0.2, max_months=max_months)
    got = survival_stage(spec, **kw)
    cuts, ok = _brute_stage(spec, **kw)
    np.testing.assert_allclose(got["duration_survival"], np.where(kw["success"], cuts, stop_time))
    np.testing.assert_array_equal(got["survival_success"] > 0, ok)
    assert np.all(np.isnan(got["survival_months"][~kw["success"]]))
    assert ok.any() and (kw["success"] & ~ok).any()  # the example exercises both outcomes


def test_trigger_time_by_hand() -> None:
    """Four placebo patients: the 2nd control death sets the cut, not before the ALSFRS-R look."""
    kw: dict[str, Any] = {
        "exit_months": np.array([[5.0, 1.0, 2.0, 9.0, 3.0]]),
        "death": np.array([[True, True, False, True, True]]),
        "active": np.array([[False, False, False, False, True]]),
        "enrol": np.array([[0.0, 6.0, 1.0, 2.0, 0.0]]),
        "regimen": np.zeros(5, dtype=np.int64),
        "controls": np.ones((5, 1), dtype=bool),
        "stop_time": np.array([[4.0]]),
        "success": np.array([[True]]),
        "entry": np.zeros(1),
    }
    # control deaths at calendar 5 (0 + 5) and 11 (2 + 9); the one enrolled at 6 is after
    # the regimen stopped (4), not in the trial; patient 3 dropped out (censored)
    res = survival_stage(SurvivalStage(placebo_deaths=2), **kw)
    assert res["survival_months"][0, 0] == 11.0
    assert res["survival_control_deaths"][0, 0] == 2
    res = survival_stage(SurvivalStage(placebo_deaths=1), **kw)
    assert res["survival_months"][0, 0] == 5.0
    kw["stop_time"] = np.array([[7.0]])  # the first death precedes the ALSFRS-R result
    res = survival_stage(SurvivalStage(placebo_deaths=1), **kw)
    assert res["survival_months"][0, 0] == 7.0
    # the count is reached only later than the cap: cut at the cap
    kw["stop_time"] = np.array([[4.0]])
    res = survival_stage(SurvivalStage(placebo_deaths=2, max_months=8.0), **kw)
    assert res["survival_months"][0, 0] == 8.0
    assert res["survival_control_deaths"][0, 0] == 1


def _null_survival_design() -> PlatformDesign:
    raw = _raw()
    raw["scenarios"] = {"slope_only": {"drr": 0.5, "hazard_ratio": 1.0}}
    return PlatformDesign.from_dict(raw)


def test_null_survival_size_given_alsfrs_success() -> None:
    """A large slope effect but no survival effect: almost every regimen reaches stage 4,
    where the one-sided log-rank must reject at rate alpha."""
    n = 3000
    res = simulate(_null_survival_design(), "slope_only", n_sims=n, seed=4, n_jobs=1)
    assert np.all(res.p_success > 0.99)
    cond = res.p_success_survival / res.p_success
    # the two regimens share the placebo; bound each regimen's rate on its own
    assert np.all(np.abs(cond - ALPHA) < 4 * math.sqrt(ALPHA * (1 - ALPHA) / n)), cond


def test_example_simulates_survival_stage() -> None:
    d = load_design("mnd-smart")
    assert isinstance(d, PlatformDesign)
    assert d.survival_stage == SurvivalStage(placebo_deaths=113, alpha=0.025, max_months=72.0)
    assert d.outcome.median_survival_months == 24.0
    res = simulate(d, "alternative", n_sims=500, seed=3, n_jobs=1)
    assert np.all(res.p_success_survival <= res.p_success)
    assert res.p_success_survival[0] > 0.6  # HR 0.65 with about 100 control deaths
    assert res.p_success_survival[1] < 0.02
    # the cut is at least the stage-3 look (about 48 months) and at most the 72-month cap
    assert 48 <= res.mean_survival_months[0] <= 72
    assert res.mean_survival_deaths[0] <= 113 + 30
    data = res.to_dict()
    assert "p_success_survival_se" in data["regimens"][0]
    assert "mean_duration_survival_months" in res.summary().columns
    # no survival stage: no survival metrics
    plain = simulate(load_design("healey"), "null", n_sims=250, seed=1, n_jobs=1)
    assert "p_success_survival" not in plain.to_dict()["regimens"][0]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.pop("frequentist"), r"survival_stage: needs a frequentist block"),
        (
            lambda r: r["survival_stage"].update(placebo_deaths=400),
            r"survival_stage\.placebo_deaths: 400 > 178",
        ),
        (lambda r: r["survival_stage"].update(placebo_deaths=0), r"survival_stage\.placebo_deaths"),
        (lambda r: r["survival_stage"].update(alpha=0.6), r"survival_stage\.alpha"),
        (lambda r: r["survival_stage"].update(test="wilcoxon"), r"survival_stage\.test"),
        (lambda r: r["survival_stage"].update(max_months=0), r"survival_stage\.max_months"),
        (lambda r: r["survival_stage"].update(extra=1), r"survival_stage\.extra: unknown field"),
        (lambda r: r["survival_stage"].pop("placebo_deaths"), r"placebo_deaths: missing"),
        (
            lambda r: r["outcome"].update(mortality_24w=0.05),
            r"outcome\.median_survival_months: give mortality_24w or",
        ),
        (
            lambda r: r["outcome"].update(median_survival_months=-3),
            r"outcome\.median_survival_months: must be > 0",
        ),
        (lambda r: r["outcome"].update(survival_shape=0), r"outcome\.survival_shape"),
        (
            lambda r: r["survival_stage"].update(censor_at_dropout="no"),
            r"survival_stage\.censor_at_dropout: must be true or false",
        ),
        (
            lambda r: (
                r["survival_stage"].update(censor_at_dropout=False),
                r["outcome"].pop("median_survival_months"),
                r["outcome"].update(mortality_24w=0.05),
            ),
            r"survival_stage\.censor_at_dropout: false needs death times beyond dropout",
        ),
    ],
)
def test_bad_survival_stage_names_field(edit: Any, message: str) -> None:
    raw = copy.deepcopy(_raw())
    edit(raw)
    with pytest.raises(TrialDesignError, match=message):
        PlatformDesign.from_dict(raw)


def test_oc_report_shows_survival_metric_when_present(tmp_path: Path) -> None:
    from alsnet.trials.report import oc_report, oc_table

    d = load_design("mnd-smart")
    assert isinstance(d, PlatformDesign)
    surv = simulate(d, "alternative", n_sims=250, seed=1, n_jobs=1).to_dict()
    plain = simulate(load_design("healey"), "null", n_sims=250, seed=1, n_jobs=1).to_dict()
    assert "p_success_survival" not in oc_table([plain]).columns
    df = oc_table([surv, plain])
    row = df[(df["design"] == "mnd-smart") & (df["regimen"] == "trazodone")].iloc[0]
    assert row["p_success_survival"] == surv["regimens"][0]["p_success_survival"]
    assert df[df["design"] == "healey"]["p_success_survival"].isna().all()
    html = oc_report([surv, plain], tmp_path / "oc.html").read_text(encoding="utf-8")
    assert "p_success_survival" in html
    assert f"{row['p_success_survival']:.3f}" in html


def test_vital_status_after_dropout_reaches_the_death_count_sooner() -> None:
    """censor_at_dropout false: deaths after withdrawal from visits still count (registry
    follow-up of vital status). Same random numbers: the ALSFRS-R stages are identical, the
    survival cut comes earlier with more control deaths, and the test keeps its size."""
    raw = _raw()
    raw["dropout_per_month"] = 0.03
    censored = PlatformDesign.from_dict(raw)
    raw["survival_stage"]["censor_at_dropout"] = False
    followed = PlatformDesign.from_dict(raw)
    a = simulate(censored, "alternative", n_sims=400, seed=8, n_jobs=1)
    b = simulate(followed, "alternative", n_sims=400, seed=8, n_jobs=1)
    np.testing.assert_array_equal(a.p_success, b.p_success)
    assert b.mean_survival_deaths[0] > a.mean_survival_deaths[0] + 10
    assert b.mean_survival_months[0] < a.mean_survival_months[0]
    assert b.p_success_survival[0] > a.p_success_survival[0]
    raw = _raw()
    raw["survival_stage"]["censor_at_dropout"] = False
    raw["scenarios"] = {"slope_only": {"drr": 0.5, "hazard_ratio": 1.0}}
    n = 2000
    res = simulate(PlatformDesign.from_dict(raw), "slope_only", n_sims=n, seed=4, n_jobs=1)
    cond = res.p_success_survival / res.p_success
    assert np.all(np.abs(cond - ALPHA) < 4 * math.sqrt(ALPHA * (1 - ALPHA) / n)), cond
