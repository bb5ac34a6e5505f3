"""Benchmark: trial matching, genotype imputation and target prioritisation.

Run: ``.venv/bin/python benchmarks/bench_omics_match.py``. Prints markdown tables:

1. ``evaluate_rules`` (shipped rule table, 5 studies incl. the TRICALS window) and
   ``expected_eligible`` (100 imputations) on synthetic registries.
2. ``prioritise_targets`` (Welch DE on VST + Cox score test) at 500 samples x 20,000 genes.
3. Recovery: share of true module genes among each subtype's top 20 on the simulator, by
   module effect and evidence used.
"""

from __future__ import annotations

import time

import numpy as np

from alsnet.omics.priors import expected_eligible
from alsnet.omics.rules import evaluate_rules, load_rules
from alsnet.omics.simulate import OmicsSimParams, simulate_transcriptome
from alsnet.omics.targets import prioritise_targets
from alsnet.synth import synthesize


def _t(fn):  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_match() -> None:
    rules = load_rules()
    print("| patients | evaluate_rules (s) | patients/s | expected_eligible, 100 draws (s) |")
    print("|---:|---:|---:|---:|")
    for n in (2_000, 20_000):
        cohort = synthesize(n, seed=0)
        res, t_eval = _t(lambda c=cohort: evaluate_rules(rules, c))
        _, t_imp = _t(lambda c=cohort: expected_eligible(rules, c, n_draws=100, rng=0))
        print(f"| {n:,} | {t_eval:.2f} | {n / t_eval:,.0f} | {t_imp:.2f} |")
        if n == 2_000:
            summary = res.summary()
    print()
    print("Shipped rules on a 2,000-patient synthetic registry:")
    print()
    exp = expected_eligible(rules, synthesize(2_000, seed=0), n_draws=200, rng=0)
    tab = summary.merge(exp, on="study_id")
    print("| study | eligible | untested | not eligible | expected eligible (95% interval) |")
    print("|---|---:|---:|---:|---|")
    for r in tab.itertuples(index=False):
        print(
            f"| {r.study_id} | {r.eligible} | {r.untested} | {r.not_eligible} | "
            f"{r.expected_eligible:.1f} ({r.lower:.0f}-{r.upper:.0f}) |"
        )
    print()


def bench_targets() -> None:
    adata = simulate_transcriptome(263, 20_000, seed=0)  # about 500 samples
    res, t = _t(
        lambda: prioritise_targets(
            adata,
            "subtype",
            time_key="survival_days",
            event_key="death_observed",
            de_method="welch",
        )
    )
    print("| samples x genes | evidence | DE | time (s) |")
    print("|---|---|---|---:|")
    evid = ", ".join(res.weights)
    print(f"| {adata.n_obs} x {adata.n_vars:,} | {evid} | {res.de_method} | {t:.1f} |")
    print()


def bench_recovery() -> None:
    print("| module log2FC | evidence (weights) | ALS-Ox | ALS-Glia | ALS-TE |")
    print("|---:|---|---:|---:|---:|")
    for lfc in (0.8, 0.4, 0.25):
        adata = simulate_transcriptome(200, 2000, seed=1, params=OmicsSimParams(module_lfc=lfc))
        mod = adata.var["module"]
        for label, kw in (
            ("DE", {}),
            (
                "DE 2, survival 1",
                {
                    "time_key": "survival_days",
                    "event_key": "death_observed",
                    "weights": {"de": 2, "survival": 1},
                },
            ),
        ):
            res = prioritise_targets(adata, "subtype", de_method="welch", **kw)  # type: ignore[arg-type]
            prec = [
                float((mod.loc[res.top(s, 20)["gene"]].to_numpy() == s).mean())
                for s in ("ALS-Ox", "ALS-Glia", "ALS-TE")
            ]
            print(f"| {lfc} | {label} | " + " | ".join(f"{p:.2f}" for p in prec) + " |")
    print()
    print(
        "Precision@20: share of true module genes among the 20 top-ranked genes (200 "
        "patients, 2,000 genes, 5% module genes per subtype, 3 sites, no batch correction)."
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    bench_match()
    bench_targets()
    bench_recovery()
