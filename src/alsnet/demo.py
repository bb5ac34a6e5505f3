"""The demo workflow: synthetic network cohort → embedded store → scores → HTML report.

This module sits at the edge (it writes files and a database), like :mod:`alsnet.cli`;
the domain packages it calls stay pure.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import alsnet

if TYPE_CHECKING:
    from alsnet.trials import SimulationResult
    from alsnet.twin import SampleSize
    from alsnet.twin.evaluate import TwinEvaluation

__all__ = [
    "TRIAL_PUBLISHED",
    "TRIAL_SCENARIOS",
    "DemoResult",
    "FederatedComparison",
    "ProcovaSaving",
    "federated_comparison",
    "procova_saving",
    "run_demo",
    "trial_scenarios",
    "twin_evaluation",
]

#: HEALEY scenarios simulated by the demo.
TRIAL_SCENARIOS: tuple[str, ...] = ("null", "slow30")
#: Published operating characteristics of regimen A (HEALEY ALS Platform SAP):
#: scenario -> (P(success), P(early futility)).
TRIAL_PUBLISHED: dict[str, tuple[float, float]] = {"null": (0.024, 0.28), "slow30": (0.77, 0.00)}


@dataclass(frozen=True)
class FederatedComparison:
    """Federated analyses of the demo network next to the pooled fits.

    Attributes
    ----------
    comparison : DataFrame
        One row per estimate: ``analysis`` (summary, km, cox), ``quantity``, ``pooled``,
        ``federated``, ``se_pooled``, ``se_federated`` and ``rel_diff`` (largest relative
        difference of estimate and SE, unitless).
    site_sizes : mapping of str to int
        Patients per site.
    refusals : mapping of str to mapping of str to str
        Per analysis, the sites that refused it (and why); those are left out of both fits.
    """

    comparison: pd.DataFrame
    site_sizes: Mapping[str, int]
    refusals: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class ProcovaSaving:
    """Prognostic score of the demo cohort and the PROCOVA sample-size saving.

    Attributes
    ----------
    n_train, n_test : int
        Patients with a target slope in the training and evaluation halves.
    r : float
        Pearson correlation of score and observed 3-12-month ALSFRS-R slope (test half).
    mean_slope, sd_slope : float
        Mean and SD of the observed slope in the test half, points/month.
    delta : float
        Effect size: 30% slowing, ``0.3 * |mean_slope|``, points/month.
    sample_size : SampleSize
        PROCOVA sample size at ``rho = r`` (two-sided alpha 0.05, power 0.8).
    """

    n_train: int
    n_test: int
    r: float
    mean_slope: float
    sd_slope: float
    delta: float
    sample_size: SampleSize

    @property
    def saving(self) -> int:
        """Patients saved against the unadjusted design."""
        return self.sample_size.n_unadjusted - self.sample_size.n_total


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` produced.

    Attributes
    ----------
    out_dir : Path
        Output directory.
    report : Path
        The HTML report.
    db_url : str
        Store that holds the cohort.
    n_patients, n_visits : int
        Cohort size.
    fingerprint : str
        Content hash of the cohort.
    timings : dict of str to float
        Seconds spent per step.
    """

    out_dir: Path
    report: Path
    db_url: str
    n_patients: int
    n_visits: int
    fingerprint: str
    timings: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"DemoResult(patients={self.n_patients}, visits={self.n_visits}, "
            f"report={str(self.report)!r}, seconds={sum(self.timings.values()):.1f})"
        )


def federated_comparison(cohort: alsnet.Cohort, *, km_grid_days: int = 30) -> FederatedComparison:
    """Split ``cohort`` into its sites and compare federated with pooled analyses.

    Summary (age at onset, diagnostic delay), Kaplan-Meier (death, ``km_grid_days``
    grid) and site-stratified Cox regression (covariates
    :data:`alsnet.federated.demo.COX_COVARIATES`) run through the in-process
    coordinator with default site policies; sites that refuse an analysis (e.g. too few
    patients for the disclosure rules) are left out of it and listed in ``refusals``.
    Pooled references: numpy, lifelines ``KaplanMeierFitter`` and ``CoxPHFitter``
    (stratified by site) on the records of the contributing sites.

    Parameters
    ----------
    cohort : Cohort
        Network cohort with ``patients.site_id``.
    km_grid_days : int, default 30
        Base time grid of the federated Kaplan-Meier estimate, days.

    Returns
    -------
    FederatedComparison
    """
    from alsnet.federated import FederationIncompleteError, simulate_network, split_sites
    from alsnet.federated.demo import COX_COVARIATES, _cox_rows, _km_rows, _summary_rows

    cohorts = dict(split_sites(cohort))
    calls: dict[str, Callable[[Any], Any]] = {
        "summary": lambda co: co.summary(numeric=["age_onset", "diagnosis_delay_months"]),
        "km": lambda co: co.km(grid_days=km_grid_days),
        "cox": lambda co: co.cox(list(COX_COVARIATES)),
    }
    rows: list[dict[str, Any]] = []
    refusals: dict[str, dict[str, str]] = {}
    for name, call in calls.items():
        refusals[name] = {}
        sites = dict(cohorts)
        while sites:
            try:
                res = call(simulate_network(sites))
                break
            except FederationIncompleteError as exc:
                refusals[name].update(exc.failures)
                sites = {s: c for s, c in sites.items() if s not in exc.failures}
        else:
            continue
        used = [sites[s] for s in res.sites]
        if name == "summary":
            rows += _summary_rows(res, used)
        elif name == "km":
            rows += _km_rows(res, used)[0] + [_km_worst_row(res, used)]
        else:
            rows += _cox_rows(res, {s: sites[s] for s in res.sites})
    cols = ["analysis", "quantity", "pooled", "federated", "se_pooled", "se_federated"]
    comparison = pd.DataFrame(rows, columns=[*cols, "rel_diff"])
    sizes = {s: len(c.patients) for s, c in cohorts.items()}
    return FederatedComparison(comparison, sizes, refusals)


def _km_worst_row(res: Any, parts: list[alsnet.Cohort]) -> dict[str, Any]:
    """The released time where federated and pooled (lifelines) Kaplan-Meier differ most."""
    from lifelines import KaplanMeierFitter

    from alsnet.federated import survival_times

    st = pd.concat([survival_times(c) for c in parts])
    cuts = res.table["time_days"].to_numpy()
    g = res.grid_days
    on_grid = -(-st["time_days"].to_numpy() // g) * g
    rounded = cuts[np.searchsorted(cuts, on_grid)]
    kmf = KaplanMeierFitter().fit(rounded, st["event"].to_numpy())
    pooled = kmf.survival_function_.iloc[:, 0].reindex(cuts).to_numpy()
    fed = res.table["survival"].to_numpy()
    diff = np.abs(fed - pooled) / np.maximum(np.abs(pooled), 1e-300)
    i = int(np.argmax(diff))
    return {
        "analysis": "km",
        "quantity": f"S({int(cuts[i])} d), largest of {len(cuts)} released times",
        "pooled": float(pooled[i]),
        "federated": float(fed[i]),
        "rel_diff": float(diff[i]),
    }


def trial_scenarios(
    *, n_sims: int = 2000, seed: int = 0, scenarios: tuple[str, ...] = TRIAL_SCENARIOS
) -> dict[str, SimulationResult]:
    """Simulate the HEALEY example platform design under each scenario.

    Parameters
    ----------
    n_sims : int, default 2000
        Simulated trials per scenario.
    seed : int, default 0
        Root seed; scenario ``i`` uses ``seed + i``.
    scenarios : tuple of str
        Scenario names of the ``healey`` design.

    Returns
    -------
    dict of str to SimulationResult
        By scenario name.
    """
    from alsnet.trials import PlatformDesign, load_design, simulate

    design = load_design("healey")
    assert isinstance(design, PlatformDesign)
    return {
        sc: simulate(design, sc, n_sims=n_sims, seed=seed + i) for i, sc in enumerate(scenarios)
    }


def procova_saving(cohort: alsnet.Cohort, *, seed: int = 0, slowing: float = 0.3) -> ProcovaSaving:
    """Train a ridge prognostic score on half the patients; PROCOVA saving on the other half.

    Window features and the 3-12-month ALSFRS-R slope come from
    :func:`alsnet.twin.window_features`; patients with a target slope are split at random
    (``seed``) into two halves. The score's Pearson r with the observed slope on the test
    half is the ``rho`` of :func:`alsnet.twin.procova_sample_size`, with
    ``delta = slowing * |mean slope|`` and ``sigma`` = SD of the observed slope.

    Parameters
    ----------
    cohort : Cohort
        Canonical cohort with ALSFRS-R visits.
    seed : int, default 0
        Seed of the split.
    slowing : float, default 0.3
        Relative slowing of decline to detect (0.3 = 30%).

    Returns
    -------
    ProcovaSaving
    """
    from alsnet.twin import (
        TARGET,
        PrognosticScore,
        feature_columns,
        procova_sample_size,
        window_features,
    )

    feats = window_features(cohort)
    feats = feats[feats[TARGET].notna()]
    if len(feats) < 20:
        raise alsnet.AlsnetError(
            f"PROCOVA demo needs at least 20 patients with a 3-12-month slope, got {len(feats)}"
        )
    cols = [c for c in feature_columns() if c in feats.columns]
    train = np.random.default_rng(seed).permutation(len(feats)) < len(feats) // 2
    x, y = feats[cols], feats[TARGET].to_numpy(dtype="float64")
    score = PrognosticScore(model="ridge").fit(x[train], y[train])
    pred = score.predict(x[~train])
    y_test = y[~train]
    r = float(np.corrcoef(pred, y_test)[0, 1])
    mean, sd = float(y_test.mean()), float(y_test.std(ddof=1))
    delta = slowing * abs(mean)
    size = procova_sample_size(delta=delta, sigma=sd, rho=max(r, 0.0))
    return ProcovaSaving(int(train.sum()), int((~train).sum()), r, mean, sd, delta, size)


def _twin_section(cohort: alsnet.Cohort, seed: int) -> Any:
    """The twin section, or None (logged) when the cohort is too small to evaluate."""
    import logging

    from alsnet.report.twin import twin_section

    try:
        return twin_section(twin_evaluation(cohort, seed=seed))
    except alsnet.AlsnetError as exc:
        logging.getLogger(__name__).warning("digital-twin section left out: %s", exc)
        return None


def _omics_section(cohort: alsnet.Cohort, seed: int) -> Any:
    """The omics section, or None (logged) without the ``omics`` extra (anndata)."""
    import logging

    try:
        from alsnet.report.omics_demo import omics_demo, omics_section

        return omics_section(omics_demo(cohort, seed=seed))
    except ImportError as exc:
        logging.getLogger(__name__).warning(
            "omics section left out (pip install 'alsnet[omics]'): %s", exc
        )
        return None


def twin_evaluation(
    cohort: alsnet.Cohort, *, seed: int = 0, max_patients: int = 600
) -> TwinEvaluation:
    """Small held-out evaluation of the digital twin for the demo report.

    Up to ``max_patients`` patients (a seeded random subset, keeping the demo fast)
    are split 2:1 into training and test patients; the TwinModel and last-slope
    extrapolation are fitted on the first and scored on the second, with ENCALS for
    events (:func:`alsnet.twin.evaluate.evaluate`).
    """
    from threadpoolctl import threadpool_limits

    from alsnet.twin.baselines import LastSlope
    from alsnet.twin.evaluate import DEFAULT_FORECASTERS, evaluate

    ids = pd.Index(cohort.patients["patient_id"])
    if len(ids) > max_patients:
        pick = np.random.default_rng(seed).choice(len(ids), max_patients, replace=False)
        cohort = cohort.subset(ids[np.sort(pick)])
    with threadpool_limits(1):
        return evaluate(
            cohort,
            forecasters={"twin": DEFAULT_FORECASTERS["twin"], "last-slope": LastSlope},
            seed=seed,
            n_fans=4,
        )


def run_demo(
    out_dir: str | Path = "alsnet-demo",
    *,
    n_patients: int = 2000,
    seed: int = 0,
    db_url: str | None = None,
    on_step: Callable[[str], None] | None = None,
    n_trials: int = 2000,
) -> DemoResult:
    """Run the whole demo and return where everything went.

    Parameters
    ----------
    out_dir : path, default "alsnet-demo"
        Directory for the SQLite store, the canonical CSV export and ``report.html``.
    n_patients : int, default 2000
        Size of the synthetic network cohort.
    seed : int, default 0
        Seed of the synthetic cohort (same seed, same cohort, same report numbers).
    db_url : str, optional
        Store URL; default an embedded SQLite file ``out_dir/registry.db``.
    on_step : callable, optional
        Called with a short description before each step (for progress display).
    n_trials : int, default 2000
        Simulated HEALEY platform trials per scenario (:data:`TRIAL_SCENARIOS`); 0 leaves
        the platform-trial section out.
    """
    from alsnet.clinical import stage_visits
    from alsnet.clinical.baseline import encals_baseline
    from alsnet.clinical.encals import encals_table
    from alsnet.io.canonical import write_csv
    from alsnet.registry import Store
    from alsnet.report.demo import demo_report
    from alsnet.report.domains import federated_section, procova_section, trial_section
    from alsnet.report.html import Section
    from alsnet.synth import synthesize

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    url = db_url or f"sqlite:///{(out / 'registry.db').resolve()}"
    timings: dict[str, float] = {}
    step = on_step or (lambda _s: None)

    def timed(name: str, fn: Callable[[], object]) -> object:
        step(name)
        t0 = time.perf_counter()
        res = fn()
        timings[name] = time.perf_counter() - t0
        return res

    cohort = timed(f"synthesise {n_patients} patients", lambda: synthesize(n_patients, seed=seed))
    assert isinstance(cohort, alsnet.Cohort)

    def store_and_reload() -> alsnet.Cohort:
        with Store.open(url) as store:
            store.save(cohort, source=f"synth:seed={seed}", on_conflict="replace")
            return store.load(patient_ids=list(cohort.patients["patient_id"]))

    stored = timed("save to the store and load back", store_and_reload)
    assert isinstance(stored, alsnet.Cohort)
    timed("export canonical CSV", lambda: write_csv(stored, out / "canonical"))
    scored = timed("score and stage visits", lambda: stage_visits(stored.visits, stored.events))
    assert isinstance(scored, pd.DataFrame)
    encals = timed(
        "ENCALS prognosis",
        lambda: encals_table(encals_baseline(stored.patients, stored.visits), errors="flag"),
    )
    assert isinstance(encals, pd.DataFrame)
    encals.to_csv(out / "encals.csv", index=False)
    extra: list[Section] = []
    fed = timed("federated analysis (pooled vs federated)", lambda: federated_comparison(stored))
    assert isinstance(fed, FederatedComparison)
    fed.comparison.to_csv(out / "federated.csv", index=False)
    extra.append(federated_section(fed))
    if n_trials > 0:
        trials = timed(
            f"platform trial ({n_trials} sims x {len(TRIAL_SCENARIOS)} scenarios)",
            lambda: trial_scenarios(n_sims=n_trials, seed=seed),
        )
        assert isinstance(trials, dict)
        extra.append(trial_section(trials, TRIAL_PUBLISHED))
    procova = timed("PROCOVA prognostic score", lambda: procova_saving(stored, seed=seed))
    assert isinstance(procova, ProcovaSaving)
    extra.append(procova_section(procova))
    twin = timed("digital-twin evaluation", lambda: _twin_section(stored, seed))
    if isinstance(twin, Section):
        extra.append(twin)
    omics = timed("omics subtypes and trial matching", lambda: _omics_section(stored, seed))
    if isinstance(omics, Section):
        extra.append(omics)
    report = timed(
        "render report",
        lambda: demo_report(
            stored,
            scored,
            out / "report.html",
            provenance={
                "alsnet": alsnet.__version__,
                "seed": seed,
                "fingerprint": stored.fingerprint,
                "store": "embedded SQLite" if url.startswith("sqlite") else "PostgreSQL",
            },
            encals=encals,
            extra_sections=extra,
        ),
    )
    assert isinstance(report, Path)
    return DemoResult(
        out, report, url, len(stored.patients), len(stored.visits), stored.fingerprint, timings
    )
