"""Benchmark of :class:`alsnet.twin.TwinModel`: speed, memory and held-out accuracy.

Run: ``.venv/bin/python benchmarks/bench_twin_model.py``. Prints markdown tables:

1. speed: fit on 10,000 synthetic patients; ``predict_mean`` for 100,000 patients x
   4 time points, each outcome (baseline only, and with visits of the first 3
   months; the latter also with n_threads=2); 1,000
   sampled joint trajectories for each of 1,000 patients; peak memory (RSS);
2. held-out synthetic accuracy at 12 months (TwinModel vs last-slope);
3. misspecification (honesty rule): fit and evaluate on data simulated with a
   different shape than the model assumes (linear decline, or a Richards curve,
   with t-distributed noise; FVC linear in time), reporting 80%/95% interval
   coverage and RMSE at 6 and 12 months after the first visit.

``speed_conditioned()`` repeats the ``predict_mean`` runs with visits (min and median
CPU; the figure to compare versions on a shared machine):
``cd benchmarks && ../.venv/bin/python -c "import bench_twin_model as b; b.speed_conditioned()"``.
"""

from __future__ import annotations

import resource
import time
from typing import Any

import numpy as np
import pandas as pd

from alsnet.clinical.alsfrs import alsfrs_scores
from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.cohort import Cohort
from alsnet.synth import synthesize
from alsnet.twin.model import TwinModel

DAYS = [365.0, 730.0, 1095.0, 1460.0]


def _timed(fn: Any) -> tuple[Any, str]:
    """Run ``fn()``; return its result and "wall s (CPU s)" (the box is shared)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, f"{time.perf_counter() - t:.2f} s ({time.process_time() - c:.2f} s CPU)"


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _early(c: Cohort, days: float = 91.0) -> Cohort:
    """Visits of the first ``days`` after each patient's first visit; no events."""
    v = c.visits
    first = v.groupby("patient_id")["day"].transform("min")
    tabs = c.copy_tables()
    tabs["visits"] = v.loc[v["day"] <= first + days].reset_index(drop=True)
    tabs["events"] = tabs["events"].iloc[:0]
    return Cohort.from_tables(tabs)


def _targets(c: Cohort, months: float, column: str) -> pd.DataFrame:
    """Per patient the visit nearest to ``months`` after the first visit (within 45 days)."""
    v = c.visits
    y = (
        alsfrs_scores(v)["alsfrs_r_total"].to_numpy()
        if column == "alsfrs_r_total"
        else v[column].to_numpy(dtype="float64", na_value=np.nan)
    )
    obs = pd.DataFrame({"patient_id": v["patient_id"].to_numpy(), "day": v["day"], "y": y})
    t0 = v.groupby("patient_id")["day"].min()
    obs = obs.dropna()
    gap = (obs["day"] - obs["patient_id"].map(t0) - months * DAYS_PER_MONTH).abs()
    tgt = obs.assign(gap=gap).loc[gap <= 45].sort_values(["patient_id", "gap"])
    return tgt.drop_duplicates("patient_id")


def _score(model: TwinModel, test: Cohort, months: float, outcome: str) -> dict[str, float]:
    tgt = _targets(test, months, outcome)
    pred = model.predict(_early(test), tgt[["patient_id", "day"]], outcomes=(outcome,), seed=1)
    y = tgt["y"].to_numpy()
    return {
        "n": float(len(y)),
        "cov80": float(np.mean((y >= pred["q10"]) & (y <= pred["q90"]))),
        "cov95": float(np.mean((y >= pred["q025"]) & (y <= pred["q975"]))),
        "rmse": float(np.sqrt(np.mean((y - pred["mean"]) ** 2))),
    }


def _last_slope_rmse(test: Cohort, months: float) -> float:
    tgt = _targets(test, months, "alsfrs_r_total")
    e = _early(test).visits
    obs = pd.DataFrame(
        {
            "patient_id": e["patient_id"].to_numpy(),
            "day": e["day"].to_numpy(dtype="float64"),
            "y": alsfrs_scores(e)["alsfrs_r_total"].to_numpy(),
        }
    ).dropna()
    obs = obs.sort_values(["patient_id", "day"])
    first = obs.groupby("patient_id").first().reindex(tgt["patient_id"])
    last = obs.groupby("patient_id").last().reindex(tgt["patient_id"])
    span = (last["day"] - first["day"]).to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(
            span > 0,
            (last["y"] - first["y"]).to_numpy() / span,
            -(48.0 - first["y"].to_numpy()) / first["day"].to_numpy(dtype="float64"),
        )
    gap = tgt["day"].to_numpy() - last["day"].to_numpy()
    naive = np.clip(last["y"].to_numpy() + slope * gap, 0, 48)
    ok = np.isfinite(naive)
    return float(np.sqrt(np.mean((tgt["y"].to_numpy()[ok] - naive[ok]) ** 2)))


def _misspecified(n: int, seed: int, shape: str) -> Cohort:
    """Synthetic registry whose courses do not follow the model's assumptions.

    ``shape="linear"``: ALSFRS-R = 48 - slope * t (slope log-normal, median 0.9
    points/month); ``"richards"``: 48 / (1 + exp((t - D50) / dx))^2 (a sharper,
    asymmetric sigmoid). Both with t(3)-distributed noise (scale 2.5 points). FVC
    falls linearly in time (random intercept and slope, normal noise). Death
    hazard rises with the individual slope (Weibull, shape 3). Visits every ~3
    months from the first visit until death or censoring.
    """
    rng = np.random.default_rng(seed)
    pats = synthesize(n, seed=seed).patients.copy()
    bulbar = (pats["onset_region"] == "bulbar").fillna(False).to_numpy(dtype="float64")
    speed = rng.standard_normal(n) + 0.5 * bulbar
    start = rng.integers(90, 700, size=n).astype("float64") / DAYS_PER_MONTH
    if shape == "linear":
        slope = 0.9 * np.exp(0.5 * speed)
        scale = 48.0 / slope  # months to reach 0
    else:
        dx = 8.0 * np.exp(-0.35 * speed)
        d50 = 3.5 * dx * np.exp(0.2 * rng.standard_normal(n))
        scale = d50 + 2 * dx
    hazard_scale = 0.9 * scale * np.exp(0.15 * rng.standard_normal(n))
    u = rng.random(n)
    t_ev = hazard_scale * ((start / hazard_scale) ** 3 - np.log(u)) ** (1 / 3)
    end = np.minimum(t_ev, start + rng.uniform(12.0, 48.0, n))
    k = np.floor((end - start) * DAYS_PER_MONTH / 91.0).astype(int) + 1
    p = np.repeat(np.arange(n), k)
    j = np.concatenate([np.arange(m) for m in k])
    t = start[p] + (91.0 * j + rng.integers(-10, 11, size=len(j))) / DAYS_PER_MONTH
    t = np.clip(t, start[p], end[p])
    if shape == "linear":
        latent = 48.0 - slope[p] * t
    else:
        latent = 48.0 / (1.0 + np.exp((t - d50[p]) / dx[p])) ** 2
    y = np.clip(np.round(latent + 2.5 * rng.standard_t(3, size=len(t))), 0, 48)
    fvc0 = 100.0 + 12.0 * rng.standard_normal(n)
    fslope = 2.2 * np.exp(0.5 * speed + 0.3 * rng.standard_normal(n))
    fvc = np.clip(fvc0[p] - fslope[p] * t + 5.0 * rng.standard_normal(len(t)), 0.0, 200.0)
    ids = pats["patient_id"].to_numpy()
    base = synthesize(1, seed=0)
    visits = base.visits.iloc[:0].reindex(range(len(p))).copy()
    visits["patient_id"] = pd.array(ids[p], dtype="string")
    visits["day"] = np.round(t * DAYS_PER_MONTH).astype("int64")
    visits["instrument"] = "alsfrs_r"
    visits["total_reported"] = y
    visits["fvc_pct"] = np.round(fvc, 1)
    died = t_ev <= end
    events = pd.DataFrame(
        {
            "patient_id": pd.array(ids[died], dtype="string"),
            "event": "death",
            "day": np.ceil(t_ev[died] * DAYS_PER_MONTH).astype("int64"),
        }
    )
    tabs = {k: v.iloc[:0] for k, v in base.tables.items()}
    tabs.update(sites=base.sites, patients=pats, visits=visits, events=events)
    return Cohort.from_tables(tabs)


def speed() -> None:
    train, t_syn = _timed(lambda: synthesize(10_000, seed=1))
    model, t_fit = _timed(lambda: TwinModel().fit(train))
    big = synthesize(100_000, seed=2)
    pats = big.patients
    model.predict_mean(pats.iloc[:100], DAYS)  # warm-up
    m0, t_pm0 = _timed(lambda: model.predict_mean(pats, DAYS))
    _, t_pm_fvc = _timed(lambda: model.predict_mean(pats, DAYS, "fvc_pct"))
    _, t_pm_ev = _timed(lambda: model.predict_mean(pats, DAYS, "event_free"))
    early = _early(big)
    m1, t_pm1 = _timed(lambda: model.predict_mean(early, DAYS))
    _, t_pm1_fvc = _timed(lambda: model.predict_mean(early, DAYS, "fvc_pct"))
    _, t_pm1_ev = _timed(lambda: model.predict_mean(early, DAYS, "event_free"))
    _, t_pm1_two = _timed(lambda: model.predict_mean(early, DAYS, n_threads=2))
    sub = early.subset(early.patients["patient_id"][:1000])
    draws, t_sample = _timed(lambda: model.sample(sub, DAYS, n=1000, seed=0))
    _, t_pred = _timed(lambda: model.predict(sub, DAYS, seed=0))
    assert np.isfinite(m0).all() and np.isfinite(m1).all()
    print("| step | wall (CPU) |")
    print("|---|---|")
    print(f"| synthesize 10,000 patients | {t_syn} |")
    print(
        f"| fit, 10,000 patients ({model.n_obs_} ALSFRS-R visits; ALSFRS-R + FVC + events;"
        f" {model.n_iter_} Laplace iterations + {model.n_mc_iter} MC-EM) | {t_fit} |"
    )
    print(f"| predict_mean ALSFRS-R, 100,000 patients x 4 days, baseline only | {t_pm0} |")
    print(f"| predict_mean fvc_pct, 100,000 x 4, baseline only | {t_pm_fvc} |")
    print(f"| predict_mean event_free, 100,000 x 4, baseline only | {t_pm_ev} |")
    n_vis = len(early.visits)
    print(f"| predict_mean ALSFRS-R, 100,000 x 4, {n_vis:,} visits (first 3 months) | {t_pm1} |")
    print(f"| predict_mean fvc_pct, 100,000 x 4, with those visits | {t_pm1_fvc} |")
    print(f"| predict_mean event_free, 100,000 x 4, with those visits | {t_pm1_ev} |")
    print(f"| predict_mean ALSFRS-R with visits, two threads (n_threads=2) | {t_pm1_two} |")
    shape = draws["alsfrs_r_total"].shape
    print(f"| sample 1,000 patients x 1,000 joint trajectories x 4 days {shape} | {t_sample} |")
    print(f"| predict (draws, 3 outcomes), 1,000 patients x 4 days | {t_pred} |")
    print(f"| peak memory (max RSS) | {_peak_gib():.2f} GiB |")
    ev = model.events_
    if ev is not None:
        print(
            f"| event part: Weibull shape, gamma (log D50, log dx) | {ev.shape:.2f},"
            f" {ev.gamma[0]:.2f}, {ev.gamma[1]:.2f} |"
        )


def speed_conditioned(repeats: int = 5) -> None:
    """``predict_mean`` with visits, each outcome ``repeats`` times: min and median CPU.

    On a shared machine one run can take 1.5x the unloaded time; the minimum over a
    few runs is the figure to compare between versions (the issue's floor: under 1 s
    wall, i.e. <= 0.7 s CPU, for 100,000 patients x 4 days).
    """
    model = TwinModel().fit(synthesize(10_000, seed=1))
    early = _early(synthesize(100_000, seed=2))
    model.predict_mean(early.patients.iloc[:100], DAYS)  # warm-up
    print(f"| predict_mean with {len(early.visits):,} visits | min CPU | median CPU | min wall |")
    print("|---|---|---|---|")
    for outcome in ("alsfrs_r_total", "fvc_pct", "event_free"):
        cpu, wall = [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            model.predict_mean(early, DAYS, outcome)
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - t)
        print(
            f"| {outcome}, 100,000 x 4 | {min(cpu):.2f} s | {np.median(cpu):.2f} s |"
            f" {min(wall):.2f} s |"
        )


def accuracy() -> None:
    print()
    print("| data | outcome | months | n | coverage 80% | coverage 95% | RMSE | RMSE last slope |")
    print("|---|---|---|---|---|---|---|---|")
    cases: list[tuple[str, Cohort]] = [("synthetic (generator)", synthesize(4500, seed=7))]
    cases += [
        (f"misspecified: {s}", _misspecified(4500, seed=8, shape=s)) for s in ("linear", "richards")
    ]
    for name, c in cases:
        ids = pd.Index(c.patients["patient_id"])
        model = TwinModel().fit(c.subset(ids[:3000]))
        test = c.subset(ids[3000:])
        for outcome, col in (("alsfrs_r_total", "alsfrs_r_total"), ("fvc_pct", "fvc_pct")):
            for months in (6.0, 12.0):
                r = _score(model, test, months, col if outcome == "fvc_pct" else outcome)
                naive = (
                    f"{_last_slope_rmse(test, months):.2f}" if outcome == "alsfrs_r_total" else "–"
                )
                print(
                    f"| {name} | {outcome} | {months:.0f} | {r['n']:.0f} | {r['cov80']:.3f} |"
                    f" {r['cov95']:.3f} | {r['rmse']:.2f} | {naive} |"
                )


def events() -> None:
    """Held-out event part: C-index and calibration of P(event-free 12 months after entry)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import concordance_index

    from alsnet.twin._events import event_times

    print()
    print("| data | n | events | C-index | mean predicted 12-mo event-free | Kaplan-Meier |")
    print("|---|---|---|---|---|---|")
    cases: list[tuple[str, Cohort]] = [("synthetic (generator)", synthesize(4500, seed=7))]
    cases += [("misspecified: linear", _misspecified(4500, seed=8, shape="linear"))]
    for name, c in cases:
        ids = pd.Index(c.patients["patient_id"])
        model = TwinModel().fit(c.subset(ids[:3000]))
        test = c.subset(ids[3000:])
        early = _early(test)
        tid = pd.Index(test.patients["patient_id"])
        diag = test.patients["diagnosis_day"].to_numpy(dtype="float64", na_value=np.nan)
        tm = event_times(tid, diag, test.visits, test.events)
        dead = np.isfinite(tm.endpoint)
        stop = np.where(dead, tm.endpoint, tm.last_alive)
        ok = stop > tm.entry  # followed beyond the first visit
        horizon = (tm.entry + 12.0) * DAYS_PER_MONTH
        grid = pd.DataFrame({"patient_id": tid.to_numpy()[ok], "day": horizon[ok]})
        p12 = model.predict_mean(early.subset(grid["patient_id"]), grid, "event_free")
        dur = (stop - tm.entry)[ok]
        cidx = concordance_index(dur, p12, dead[ok])
        km = KaplanMeierFitter().fit(dur, dead[ok])
        print(
            f"| {name} | {ok.sum()} | {dead[ok].sum()} | {cidx:.3f} | {p12.mean():.3f} |"
            f" {float(km.predict(12.0)):.3f} |"
        )


def main() -> None:
    speed()
    accuracy()
    events()


if __name__ == "__main__":
    main()
