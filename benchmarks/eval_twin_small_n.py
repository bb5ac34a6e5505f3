"""Honest intervals at small training size: TwinModel (plug-in) vs TwinEnsemble (bootstrap).

Run: ``.venv/bin/python benchmarks/eval_twin_small_n.py [--seeds 5] [--members 20]
[--sizes 100,200,500,2000] [--test 2000] [--shape generator|linear|richards]``
(``--members 0`` skips the ensemble; ``--shape linear|richards`` simulates courses the
model does not assume, as in ``bench_twin_model.py``).

For every training size ``n`` and seed, a synthetic training cohort of ``n`` patients
(``alsnet.synth.synthesize(n, seed=seed)``) is fitted by a single
:class:`~alsnet.twin.TwinModel` and by a :class:`~alsnet.twin.TwinEnsemble` of
``--members`` bootstrap members. Both are scored on the same 2,000 held-out synthetic
patients (``synthesize(2000, seed=10_001)``, never used for fitting or choosing
anything), conditioning on each patient's visits of the first 3 months after the
first visit (events removed): the observed ALSFRS-R total nearest to 6 and 12 months
after the first visit (within 45 days) is compared with the 80% and 95% predictive
intervals (coverage), the predictive mean (RMSE, points) and the 80% interval
width. Event part: the mean predicted P(event-free 12 months after the first visit)
against the Kaplan-Meier estimate of the held-out patients followed beyond the first
visit (calibration-in-the-large).

A third, diagnostic row rescales the single model's random-effect covariance by
``n / (n - p)`` (``p`` = columns of the population regression; the REML-type
correction of the ML estimate's downward bias), leaving everything else as fitted:
it tests whether the small-n shortfall comes from that bias rather than from
ignoring parameter uncertainty.

Prints one markdown table: mean over seeds (min-max in brackets for coverage).
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_twin_model import _early, _misspecified, _targets

from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.cohort import Cohort
from alsnet.synth import synthesize
from alsnet.twin import TwinModel
from alsnet.twin._events import event_times
from alsnet.twin.ensemble import TwinEnsemble

Forecaster = TwinModel | TwinEnsemble


def _cohort(n: int, seed: int, shape: str) -> Cohort:
    """The generator's cohort, or a misspecified one (bench_twin_model._misspecified)."""
    if shape == "generator":
        return synthesize(n, seed=seed)
    return _misspecified(n, seed=seed, shape=shape)


def _held_out(
    n: int, shape: str = "generator"
) -> tuple[Cohort, Cohort, pd.DataFrame, pd.DataFrame]:
    """Held-out cohort, its first-3-month view, the ALSFRS-R targets and the event grid."""
    test = _cohort(n, 10_001, shape)
    early = _early(test)
    tg = []
    for months in (6.0, 12.0):
        t = _targets(test, months, "alsfrs_r_total")[["patient_id", "day", "y"]]
        tg.append(t.assign(months=months))
    targets = pd.concat(tg, ignore_index=True)
    tid = pd.Index(test.patients["patient_id"])
    diag = test.patients["diagnosis_day"].to_numpy(dtype="float64", na_value=np.nan)
    tm = event_times(tid, diag, test.visits, test.events)
    dead = np.isfinite(tm.endpoint)
    stop = np.where(dead, tm.endpoint, tm.last_alive)
    ok = stop > tm.entry
    ev = pd.DataFrame(
        {
            "patient_id": tid.to_numpy()[ok],
            "day": (tm.entry[ok] + 12.0) * DAYS_PER_MONTH,
            "duration": (stop - tm.entry)[ok],
            "dead": dead[ok],
        }
    )
    return test, early, targets, ev


def _km12(ev: pd.DataFrame) -> float:
    from lifelines import KaplanMeierFitter

    km = KaplanMeierFitter().fit(ev["duration"], ev["dead"])
    return float(km.predict(12.0))


def _score(
    model: Forecaster, early: Cohort, targets: pd.DataFrame, ev: pd.DataFrame
) -> dict[str, float]:
    pred = model.predict(
        early, targets[["patient_id", "day"]], outcomes=("alsfrs_r_total",), seed=1
    )
    y = targets["y"].to_numpy()
    out: dict[str, float] = {}
    for months in (6.0, 12.0):
        m = (targets["months"] == months).to_numpy()
        p = pred.loc[m]
        yy = y[m]
        k = f"{months:.0f}"
        out[f"cov80_{k}"] = float(np.mean((yy >= p["q10"]) & (yy <= p["q90"])))
        out[f"cov95_{k}"] = float(np.mean((yy >= p["q025"]) & (yy <= p["q975"])))
        out[f"rmse_{k}"] = float(np.sqrt(np.mean((yy - p["mean"]) ** 2)))
        out[f"width80_{k}"] = float(np.mean(p["q90"] - p["q10"]))
    sub = early.subset(pd.Index(ev["patient_id"]))
    out["ef12"] = float(np.mean(model.predict_mean(sub, ev[["patient_id", "day"]], "event_free")))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--members", type=int, default=20, help="0: no ensemble")
    ap.add_argument("--sizes", default="100,200,500,2000")
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument(
        "--shape",
        choices=("generator", "linear", "richards"),
        default="generator",
        help="data: alsnet.synth, or misspecified courses (see bench_twin_model.py)",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    t0 = time.perf_counter()
    _, early, targets, ev = _held_out(args.test, args.shape)
    km = _km12(ev)
    rows = []
    with threadpool_limits(1), np.errstate(over="ignore", invalid="ignore"):
        for n in sizes:
            for seed in range(args.seeds):
                train = _cohort(n, seed, args.shape)
                t = time.perf_counter()
                single = TwinModel().fit(train)
                t_single = time.perf_counter() - t
                t = time.perf_counter()
                ens = None
                if args.members > 0:
                    ens = TwinEnsemble(n_members=args.members, random_state=seed).fit(train)
                t_ens = time.perf_counter() - t
                # diagnostic: the ML random-effect covariance with a REML-type n/(n - p)
                # inflation (p = regression columns), the plug-in otherwise unchanged
                infl = copy.deepcopy(single)
                p = single.coef_.shape[0]
                infl.cov_ = single.cov_ * single.n_patients_ / (single.n_patients_ - p)
                for name, model, secs in (
                    ("TwinModel", single, t_single),
                    ("TwinModel, Sigma x n/(n-p) (diagnostic)", infl, t_single),
                    (f"TwinEnsemble(B={args.members})", ens, t_ens),
                ):
                    if model is None:
                        continue
                    r = _score(model, early, targets, ev)
                    rows.append({"n": n, "seed": seed, "model": name, "fit_s": secs, **r})
                    print(
                        f"# n={n} seed={seed} {name}: cov80/95 12 mo "
                        f"{r['cov80_12']:.3f}/{r['cov95_12']:.3f}, fit {secs:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
    df = pd.DataFrame(rows)
    n_t = targets.groupby("months").size()
    print(
        f"Data: {args.shape}. Held-out: {args.test} synthetic patients (seed 10001); "
        f"targets: {n_t[6.0]} at 6 mo, "
        f"{n_t[12.0]} at 12 mo; {len(ev)} in the event check (Kaplan-Meier 12-mo "
        f"event-free {km:.3f}). Mean over {args.seeds} training seeds [min-max]."
    )
    print()
    print(
        "| n train | model | cov80 6 mo | cov95 6 mo | cov80 12 mo | cov95 12 mo | RMSE 6 mo |"
        " RMSE 12 mo | 80% width 12 mo | P(event-free 12 mo) (KM "
        f"{km:.3f}) | fit s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")

    def rng_(s: pd.Series) -> str:
        return f"{s.mean():.3f} [{s.min():.3f}-{s.max():.3f}]"

    for key, g in df.groupby(["n", "model"], sort=True):
        print(
            f"| {key[0]} | {key[1]} | {rng_(g['cov80_6'])} | {rng_(g['cov95_6'])} |"
            f" {rng_(g['cov80_12'])} | {rng_(g['cov95_12'])} | {g['rmse_6'].mean():.2f} |"
            f" {g['rmse_12'].mean():.2f} | {g['width80_12'].mean():.1f} |"
            f" {g['ef12'].mean():.3f} | {g['fit_s'].mean():.1f} |"
        )
    print(
        f"\ntotal {time.perf_counter() - t0:.0f} s (shared 2-core machine; times are upper bounds)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
