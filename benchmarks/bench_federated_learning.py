"""Federated training of the prognostic score: time and gap to pooled training.

A synthetic network is split into its sites; within each site 20% of the patients are
held out. Every method trains on the remaining 80% (only aggregates or weights leave a
site) and is scored on all held-out patients: RMSE of the ALSFRS-R slope (points/month)
and Harrell's C-index, next to the pooled ridge fit on the same training patients.

Run: .venv/bin/python benchmarks/bench_federated_learning.py [--patients 3000]
     .venv-engines/bin/python benchmarks/bench_federated_learning.py --flower   (adds the
     Flower simulation runtime; needs ``make test-engines`` first)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from lifelines.utils import concordance_index

from alsnet.federated import Policy, split_sites
from alsnet.federated.learning import (
    FederatedTrainer,
    LinearScore,
    TrainingSite,
    pooled_fit,
    site_training_data,
)
from alsnet.synth import synthesize


def _row(name, score: LinearScore, secs, ref, x_te, y_te, rounds):
    pred = score.predict(x_te)
    rmse = float(np.sqrt(np.mean((pred - y_te) ** 2)))
    cidx = float(concordance_index(y_te, pred))
    gap = float(np.sqrt(np.mean((pred - ref.predict(x_te)) ** 2))) if ref is not None else 0.0
    return name, rounds, secs, gap, rmse, cidx


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--patients", type=int, default=3000)
    ap.add_argument("--flower", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    sites = split_sites(synthesize(args.patients, seed=21))
    train, test = {}, []
    for i, (s, c) in enumerate(sites.items()):
        x, y = site_training_data(c)
        rng = np.random.default_rng(100 + i)
        hold = rng.random(y.size) < 0.2
        train[s] = (x[~hold], y[~hold])
        test.append((x[hold], y[hold]))
    x_te = np.vstack([t[0] for t in test])
    y_te = np.concatenate([t[1] for t in test])
    x_tr = np.vstack([v[0] for v in train.values()])
    y_tr = np.concatenate([v[1] for v in train.values()])
    prep_s = time.perf_counter() - t0
    print(
        f"{args.patients} synthetic patients, {len(sites)} sites "
        f"({', '.join(f'{s}: {len(v[1])}' for s, v in train.items())} training patients), "
        f"{y_te.size} held-out; feature extraction {prep_s:.1f} s\n"
    )

    def trainer(noise_sd: float = 0.0) -> FederatedTrainer:
        return FederatedTrainer(
            [
                TrainingSite(x, y, Policy(site_id=s), noise_sd=noise_sd, seed=k)
                for k, (s, (x, y)) in enumerate(train.items())
            ]
        )

    rows = []
    t = time.perf_counter()
    exact = trainer().fit_exact()
    t_exact = time.perf_counter() - t
    t = time.perf_counter()
    pooled = pooled_fit(x_tr, y_tr, alpha=exact.alpha)
    rows.append(
        _row("pooled ridge (reference)", pooled, time.perf_counter() - t, None, x_te, y_te, 0)
    )
    rows.append(_row("exact (sufficient statistics)", exact, t_exact, pooled, x_te, y_te, 2))
    for sd in (1.0, 10.0):
        t = time.perf_counter()
        s = trainer(sd).fit_exact()
        rows.append(
            _row(f"exact + noise sd {sd:g}", s, time.perf_counter() - t, pooled, x_te, y_te, 2)
        )
    for label, kw in (
        ("FedAvg, 1 full-batch step/round", dict(rounds=200, lr=0.1, batch_size=10**9)),
        ("FedAvg, SGD b=32, 1 epoch/round", dict(rounds=50, lr=0.02, batch_size=32)),
        (
            "FedAvg, SGD b=32, 5 epochs/round",
            dict(rounds=20, lr=0.02, batch_size=32, local_epochs=5),
        ),
    ):
        t = time.perf_counter()
        s = trainer().fit_fedavg(alpha=exact.alpha, **kw)
        rows.append(_row(label, s, time.perf_counter() - t, pooled, x_te, y_te, s.rounds))
    # no federation: each site's own model, scored on every held-out patient
    for s, (x, y) in train.items():
        t = time.perf_counter()
        own = pooled_fit(x, y, alpha=exact.alpha)
        rows.append(_row(f"site {s} alone", own, time.perf_counter() - t, pooled, x_te, y_te, 0))
    if args.flower:
        from flwr.simulation import run_simulation

        from alsnet.federated.engines.flower import (
            SimulatedSites,
            make_client_app,
            make_server_app,
        )

        got: dict[str, LinearScore] = {}
        data = [(x, y, Policy(site_id=s)) for s, (x, y) in train.items()]
        server = make_server_app(
            method="exact", min_nodes=len(data), on_result=lambda sc: got.setdefault("s", sc)
        )
        t = time.perf_counter()
        run_simulation(
            server,
            make_client_app(SimulatedSites(data)),
            num_supernodes=len(data),
            backend_config={"client_resources": {"num_cpus": 1}, "init_args": {"num_cpus": 2}},
        )
        rows.append(
            _row(
                "Flower simulation, exact (incl. Ray start)",
                got["s"],
                time.perf_counter() - t,
                pooled,
                x_te,
                y_te,
                2,
            )
        )

    print(f"penalty alpha = {exact.alpha:.4g} (leave-one-site-out CV)\n")
    print(
        "| method | rounds | time (s) | RMS gap to pooled predictions (points/month) "
        "| test RMSE (points/month) | C-index |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, rounds, secs, gap, rmse, cidx in rows:
        print(f"| {name} | {rounds} | {secs:.3f} | {gap:.2e} | {rmse:.4f} | {cidx:.4f} |")


if __name__ == "__main__":
    main()
