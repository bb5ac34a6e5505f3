"""Benchmark of :class:`alsnet.twin.TwinModel`: fit/predict speed and held-out accuracy.

Run: ``.venv/bin/python benchmarks/bench_twin_model.py``. Prints a small table:
fit on 10,000 synthetic patients, mean forecasts for 100,000 patients x 4 time
points, and 12-month coverage/RMSE on held-out synthetic patients (TwinModel vs
last-slope extrapolation).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from alsnet.clinical.alsfrs import alsfrs_scores
from alsnet.cohort import Cohort
from alsnet.synth import synthesize
from alsnet.twin.model import TwinModel


def _accuracy(seed: int) -> dict[str, float]:
    c = synthesize(6000, seed=seed)
    ids = pd.Index(c.patients["patient_id"])
    model = TwinModel().fit(c.subset(ids[:4000]))
    test = c.subset(ids[4000:])
    v = test.visits
    y_all = alsfrs_scores(v)["alsfrs_r_total"].to_numpy()
    obs = pd.DataFrame({"patient_id": v["patient_id"].to_numpy(), "day": v["day"], "y": y_all})
    obs = obs.dropna()
    t0 = obs.groupby("patient_id")["day"].min()
    rel = obs["day"] - obs["patient_id"].map(t0)
    tgt = obs.loc[(rel - 365).abs() <= 45].assign(gap=(rel - 365).abs())
    tgt = tgt.sort_values(["patient_id", "gap"]).drop_duplicates("patient_id")
    rel_v = v["day"].to_numpy() - v["patient_id"].map(t0).to_numpy(dtype="float64")
    tabs = test.copy_tables()
    tabs["visits"] = v.loc[rel_v <= 91].reset_index(drop=True)
    pred = model.predict(Cohort.from_tables(tabs), tgt[["patient_id", "day"]], seed=1)
    y = tgt["y"].to_numpy()
    cond = obs.loc[rel <= 91].sort_values(["patient_id", "day"])
    first = cond.groupby("patient_id").first().reindex(tgt["patient_id"])
    last = cond.groupby("patient_id").last().reindex(tgt["patient_id"])
    span = (last["day"] - first["day"]).to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(
            span > 0,
            (last["y"] - first["y"]).to_numpy() / span,
            -(48.0 - first["y"].to_numpy()) / first["day"].to_numpy(dtype="float64"),
        )
    gap = tgt["day"].to_numpy() - last["day"].to_numpy()
    naive = np.clip(last["y"].to_numpy() + slope * gap, 0, 48)
    return {
        "n": float(len(y)),
        "cov80": float(np.mean((y >= pred["q10"]) & (y <= pred["q90"]))),
        "cov95": float(np.mean((y >= pred["q025"]) & (y <= pred["q975"]))),
        "rmse": float(np.sqrt(np.mean((y - pred["mean"]) ** 2))),
        "rmse_naive": float(np.sqrt(np.mean((y - naive) ** 2))),
    }


def main() -> None:
    t = time.perf_counter()
    train = synthesize(10_000, seed=1)
    t_syn = time.perf_counter() - t
    t = time.perf_counter()
    model = TwinModel().fit(train)
    t_fit = time.perf_counter() - t
    big = synthesize(100_000, seed=2)
    model.n_draws = 200
    t = time.perf_counter()
    pred = model.predict(big, [365.0, 730.0, 1095.0, 1460.0], seed=0)
    t_pred = time.perf_counter() - t
    print("| step | figure |")
    print("|---|---|")
    print(f"| synthesize 10,000 patients | {t_syn:.1f} s |")
    print(
        f"| fit, 10,000 patients ({model.n_obs_} visits, {model.n_iter_} Laplace iterations"
        f" + {model.n_mc_iter} MC-EM) | {t_fit:.1f} s |"
    )
    print(f"| predict 100,000 patients x 4 days, 200 draws ({len(pred)} rows) | {t_pred:.1f} s |")
    print()
    print("| seed | n | coverage 80% | coverage 95% | RMSE twin | RMSE last slope |")
    print("|---|---|---|---|---|---|")
    for seed in (7, 8, 9):
        r = _accuracy(seed)
        print(
            f"| {seed} | {r['n']:.0f} | {r['cov80']:.3f} | {r['cov95']:.3f} | {r['rmse']:.2f} |"
            f" {r['rmse_naive']:.2f} |"
        )


if __name__ == "__main__":
    main()
