"""Accuracy of `TwinModel.predict_mean` quadrature against high-order and Monte Carlo references.

Run: ``.venv/bin/python benchmarks/eval_twin_quadrature.py [--ref 31] [--mc-patients 2000]
[--mc-draws 20000]`` (about 10 min on the shared 2-core machine).

Setting as in ``bench_twin_model.speed()``: the model is fitted on 10,000 synthetic
patients (``synthesize(10_000, seed=1)``); mean forecasts for 100,000 other patients
(``synthesize(100_000, seed=2)``) x 4 days (365, 730, 1095, 1460 days since onset),
once conditioned on each patient's visits of the first 3 months after the first
visit (events removed) and once from baseline covariates only.

For each outcome the default quadrature (and the former one: a 5 x 5 grid on the
Laplace approximation, not recentred) is compared with a high-order reference: the
same importance-weighted, recentred Gauss-Hermite quadrature on a ``ref x ref`` grid
(``3 ref x ref // 3`` on the rotated event grid). Over ALL patients, per day: mean,
99th percentile and maximum of ``|mean - reference|`` (ALSFRS-R and FVC in points,
event-free in probability), and the 99th percentile of that error (all days) as a
fraction of the median predictive SD (Monte Carlo subsample below).

Second, independent reference on a subsample (``--mc-patients`` random patients plus
the 200 worst under the former quadrature): Monte Carlo (sampling-importance-
resampling draws of ``TwinModel.sample`` with measurement noise, ``--mc-draws`` per
patient; ``predict`` for the event-free probability). Its mean and SD give the
predictive SD (event-free: ``sqrt(p (1 - p))``) and the Monte Carlo standard error
``SD / sqrt(draws)`` (a lower bound: resampled draws repeat).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_twin_model import DAYS, _early

from alsnet.cohort import Cohort
from alsnet.synth import synthesize
from alsnet.twin import model as model_mod
from alsnet.twin.model import OUTCOMES, TwinModel

UNIT = {"alsfrs_r_total": "points", "fvc_pct": "points", "event_free": "probability"}


@contextlib.contextmanager
def _grid(shape: tuple[int, int] | None, rotated: tuple[int, int] | None) -> Iterator[None]:
    """Temporarily replace the grid shapes (None: keep the model's)."""
    orig = model_mod._grid_shape

    def shape_of(n_quad: int, rot: bool) -> tuple[int, int]:
        new = rotated if rot else shape
        return new if new is not None else orig(n_quad, rot)

    model_mod._grid_shape = shape_of
    try:
        yield
    finally:
        model_mod._grid_shape = orig


@contextlib.contextmanager
def _laplace_only() -> Iterator[None]:
    """The former quadrature: the grid stays on the Laplace approximation."""
    orig = TwinModel._quadrature

    def quad(self: TwinModel, *args: Any, **kw: Any) -> Any:
        kw["recentre"] = False
        return orig(self, *args, **kw)

    TwinModel._quadrature = quad  # type: ignore[method-assign]
    try:
        yield
    finally:
        TwinModel._quadrature = orig  # type: ignore[method-assign]


def _timed_mean(model: TwinModel, data: Any, outcome: str) -> tuple[np.ndarray, float]:
    c = time.process_time()
    out = model.predict_mean(data, DAYS, outcome)
    return out.reshape(-1, len(DAYS)), time.process_time() - c


def _methods(model: TwinModel) -> dict[str, tuple[TwinModel, Any]]:
    """name -> (model, context) of the quadratures compared with the reference."""
    former = copy.copy(model)
    former.n_quad = 5
    out: dict[str, tuple[TwinModel, Any]] = {
        "former: 5 x 5 on Laplace": (
            former,
            lambda: _stack(_grid((5, 5), (15, 3)), _laplace_only()),
        ),
    }
    for n in (7, 9, model.n_quad):
        m = copy.copy(model)
        m.n_quad = n
        n1, n2 = model_mod._grid_shape(n, False)
        r1, r2 = model_mod._grid_shape(n, True)
        tag = " (default)" if n == model.n_quad else ""
        out[f"recentred {n1} x {n2} (event {r1} x {r2}){tag}"] = (m, contextlib.nullcontext)
    return out


@contextlib.contextmanager
def _stack(*cms: Any) -> Iterator[None]:
    with contextlib.ExitStack() as st:
        for cm in cms:
            st.enter_context(cm)
        yield


def _mc(
    model: TwinModel, data: Cohort | pd.DataFrame, ids: np.ndarray, draws: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Monte Carlo predictive mean and SD (n_ids, days) per outcome."""
    sub: Cohort | pd.DataFrame
    if isinstance(data, Cohort):
        sub = data.subset(ids)
    else:
        sub = data.set_index("patient_id").loc[ids].reset_index()
    res: dict[str, list[np.ndarray]] = {o: [] for o in ("alsfrs_r_total", "fvc_pct")}
    sds: dict[str, list[np.ndarray]] = {o: [] for o in res}
    block = 100
    for i in range(0, len(ids), block):
        part = sub.subset(ids[i : i + block]) if isinstance(sub, Cohort) else sub[i : i + block]
        s = model.sample(part, DAYS, n=draws, seed=i, chunk_size=block)
        for o in res:
            res[o].append(s[o].mean(axis=1))
            sds[o].append(s[o].std(axis=1))
    out = {o: (np.concatenate(res[o]), np.concatenate(sds[o])) for o in res}
    big = copy.copy(model)
    big.n_draws = draws
    p = big.predict(sub, DAYS, outcomes=("event_free",), seed=1, chunk_size=100)
    pm = p["mean"].to_numpy().reshape(-1, len(DAYS))
    out["event_free"] = (pm, np.sqrt(pm * (1.0 - pm)))
    return out


def _stats(d: np.ndarray) -> str:
    """mean / p99 / max per day of |d| (n, days) as 'a, b, c, d' strings."""
    d = np.abs(d)
    parts = [
        ", ".join(f"{v:.3g}" for v in d.mean(axis=0)),
        ", ".join(f"{v:.3g}" for v in np.quantile(d, 0.99, axis=0)),
        ", ".join(f"{v:.3g}" for v in d.max(axis=0)),
    ]
    return " | ".join(parts)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", type=int, default=31)
    ap.add_argument("--mc-patients", type=int, default=2000)
    ap.add_argument("--mc-draws", type=int, default=20_000)
    args = ap.parse_args(argv)

    model = TwinModel().fit(synthesize(10_000, seed=1))
    big = synthesize(100_000, seed=2)
    cases: list[tuple[str, Cohort | pd.DataFrame]] = [
        ("first 3 months of visits", _early(big)),
        ("baseline only", big.patients),
    ]
    rng = np.random.default_rng(0)
    nref = args.ref
    print(
        f"days {DAYS}; reference: recentred {nref} x {nref} grid (event {3 * nref} x "
        f"{nref // 3}); errors |mean - reference| over all 100,000 patients, per day"
    )
    print()
    print("| data | outcome | quadrature | CPU s | mean | 99th pct | max | p99 / median pred. SD |")
    print("|---|---|---|---|---|---|---|---|")
    mc_rows = []
    for name, data in cases:
        model.predict_mean(big.patients.iloc[:100], DAYS)  # warm-up
        for outcome in OUTCOMES:
            with _grid((nref, nref), (3 * nref, nref // 3)):
                ref, t_ref = _timed_mean(model, data, outcome)
            res = {}
            for label, (m, ctx) in _methods(model).items():
                with ctx():
                    res[label] = _timed_mean(m, data, outcome)
            former = next(iter(res.values()))[0]
            if outcome == OUTCOMES[0]:  # one MC run per data case gives every outcome
                # random patients + the 200 worst (ALSFRS-R) of the former grid
                worst = np.argsort(np.abs(former - ref).max(axis=1))[-200:]
                pick = np.union1d(rng.choice(len(ref), args.mc_patients, replace=False), worst)
                pats = data.patients if isinstance(data, Cohort) else data
                mc = _mc(model, data, pats["patient_id"].to_numpy()[pick], args.mc_draws)
            mc_mean, mc_sd = mc[outcome]
            sd = float(np.median(mc_sd))
            for label, (val, t) in res.items():
                rel = np.quantile(np.abs(val - ref), 0.99) / sd
                print(
                    f"| {name} | {outcome} | {label} | {t:.2f} | {_stats(val - ref)} |"
                    f" {100 * rel:.2g} % |"
                )
            print(f"| {name} | {outcome} | reference {nref} x {nref} | {t_ref:.2f} | | | | |")
            se = mc_sd / np.sqrt(args.mc_draws)
            dflt = list(res.values())[-1][0]
            mc_rows.append(
                f"| {name} | {outcome} | {len(pick)} | {np.median(mc_sd):.3g} |"
                f" {_stats(mc_mean - ref[pick])} | {np.quantile(se, 0.99):.2g} |"
                f" {np.quantile(np.abs(dflt[pick] - mc_mean), 0.99):.3g} |"
                f" {np.quantile(np.abs(former[pick] - mc_mean), 0.99):.3g} |"
            )
    print()
    print(
        f"Monte Carlo reference ({args.mc_draws} draws per patient): |MC - quadrature "
        "reference| per day (mean | 99th pct | max), MC standard error (99th pct), and "
        "99th pct of |default - MC| and |former - MC| over all days"
    )
    print()
    print(
        "| data | outcome | patients | median pred. SD | mean | 99th pct | max | MC SE p99 |"
        " default vs MC p99 | former vs MC p99 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in mc_rows:
        print(row)


if __name__ == "__main__":
    main()
