"""Timings of federated analyses (in-process).

Run: .venv/bin/python benchmarks/bench_federated.py
"""

from __future__ import annotations

import secrets
import time

import numpy as np
import pandas as pd

from alsnet.federated import Coordinator, simulate_network, split_sites
from alsnet.federated.messages import Message, Request, verify
from alsnet.federated.partial import CoxData, efron_derivatives, lmm_stats
from alsnet.synth import synthesize


def _random_site(rng: np.random.Generator, n: int, p: int) -> CoxData:
    x = rng.normal(size=(n, p))
    t = rng.exponential(np.exp(-0.1 * x[:, 0]) * 900).astype(np.int64) + 1
    order = np.argsort(t, kind="stable")
    return CoxData(tuple(f"x{i}" for i in range(p)), x[order], t[order], rng.random(n)[order] < 0.7)


def bench_cox_core(n_sites: int = 10, n: int = 2000, p: int = 10) -> tuple[float, int]:
    rng = np.random.default_rng(0)
    sites = [_random_site(rng, n, p) for _ in range(n_sites)]
    t0 = time.perf_counter()
    beta = np.zeros(p)
    it = 0
    while it < 50:
        it += 1
        u = np.zeros(p)
        info = np.zeros((p, p))
        for s in sites:
            _, us, is_ = efron_derivatives(s, beta)
            u += us
            info += is_
        step = np.linalg.solve(info, u)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return time.perf_counter() - t0, it


class _StatsSite:
    """Minimal in-process site answering ``lmm`` requests from precomputed statistics."""

    def __init__(self, site_id: str, frame: pd.DataFrame) -> None:
        from alsnet.federated import Policy

        self.policy = Policy.default(site_id)
        self.data = lmm_stats(frame, ["age_onset"])
        self.key = secrets.token_bytes(32)

    @property
    def site_id(self) -> str:
        return self.policy.site_id

    def handle(self, request: Request) -> Message:
        from alsnet.federated.partial import lmm_partial

        verify(self.key, request.body(), request.signature)
        payload = lmm_partial(self.data, self.policy, theta=request.params["theta"])
        return Message(
            site_id=self.site_id,
            request_id=request.request_id,
            analysis=request.analysis,
            step=request.step,
            status="ok",
            payload=payload,
            reason="",
        ).signed(self.key)


def _lmm_frame(rng: np.random.Generator, n: int, visits: int, site: int) -> pd.DataFrame:
    """Simulated ALSFRS-R trajectories: random intercept and slope, ``visits`` per patient."""
    pid = np.repeat([f"S{site:02d}P{i:05d}" for i in range(n)], visits)
    months = np.sort(rng.uniform(0, 48, (n, visits)), axis=1).ravel()
    age = np.repeat(rng.normal(60, 10, n), visits)
    b0 = np.repeat(rng.normal(0, 4, n), visits)
    b1 = np.repeat(rng.normal(0, 0.5, n), visits)
    y = 44 + b0 - 0.02 * (age - 60) + (-0.9 + b1) * months + rng.normal(0, 2.5, months.size)
    return pd.DataFrame({"patient_id": pid, "months": months, "alsfrs_r": y, "age_onset": age})


def bench_lmm(n_sites: int = 10, n: int = 2000, visits: int = 10) -> tuple[float, float, int]:
    """Site statistics time and coordinator fit time (signed messages) of the federated LMM."""
    rng = np.random.default_rng(1)
    frames = [_lmm_frame(rng, n, visits, k) for k in range(n_sites)]
    t0 = time.perf_counter()
    sites = [_StatsSite(f"S{k:02d}", f) for k, f in enumerate(frames)]
    t_stats = time.perf_counter() - t0
    co = Coordinator(sites, {s.site_id: s.key for s in sites}, requester="bench")
    t0 = time.perf_counter()
    res = co.lmm(["age_onset"])
    return t_stats, time.perf_counter() - t0, res.iterations


def main() -> None:
    rows = []
    dt, it = bench_cox_core()
    rows.append(("cox core, 10 sites x 2000 pts, 10 covariates", dt, f"{it} Newton steps"))
    t_stats, t_fit, it = bench_lmm()
    rows.append(("lmm site statistics, 10 sites x 2000 pts x 10 visits", t_stats, ""))
    rows.append(("lmm fit, 10 sites x 2000 pts x 10 visits, signed", t_fit, f"{it} BFGS iters"))
    cohorts = split_sites(synthesize(2000, seed=0))
    co = simulate_network(cohorts)
    for name, fn in [
        (
            "summary by sex x age_band (5 sites, 2000 pts)",
            lambda: co.summary(by=["sex", "age_band"]),
        ),
        ("km grid 30 d (5 sites, 2000 pts)", lambda: co.km(grid_days=30)),
        (
            "cox 5 covariates, signed messages (5 sites, 2000 pts)",
            lambda: co.cox(
                ["age_onset", "sex_male", "bulbar_onset", "ftd", "diagnosis_delay_months"]
            ),
        ),
    ]:
        t0 = time.perf_counter()
        fn()
        rows.append((name, time.perf_counter() - t0, ""))
    print(f"{'benchmark':58s} {'seconds':>8s}  note")
    for name, sec, note in rows:
        print(f"{name:58s} {sec:8.3f}  {note}")


if __name__ == "__main__":
    main()
