"""Multi-site federated demo: a synthetic network, pooled vs federated side by side.

:func:`run_demo` synthesises a cohort, splits it into sites of different sizes and case
mix (plus one site of 12 patients and one site whose policy refuses Cox regression),
runs summary, Kaplan-Meier, stratified Cox and the ALSFRS-R mixed model over the
network, re-runs each analysis without the sites that refused it (showing the refusal),
and compares every estimate with the same analysis on the pooled records of the
contributing sites (numpy, lifelines, statsmodels).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsnet.cohort import Cohort
from alsnet.federated.coordinator import simulate_network
from alsnet.federated.data import covariate_matrix, numeric_values, survival_times
from alsnet.federated.errors import FederationIncompleteError
from alsnet.federated.partial import lmm_frame
from alsnet.federated.policy import Policy
from alsnet.federated.results import CoxResult, KMResult, LMMResult, SummaryResult

__all__ = ["COX_COVARIATES", "LMM_COVARIATES", "DemoResult", "run_demo", "split_demo_sites"]

logger = logging.getLogger(__name__)

#: Covariates of the demo's Cox model.
COX_COVARIATES: tuple[str, ...] = (
    "age_onset",
    "sex_male",
    "bulbar_onset",
    "diagnosis_delay_months",
)
#: Covariates of the demo's mixed model (besides intercept and months).
LMM_COVARIATES: tuple[str, ...] = ("bulbar_onset",)
#: Site id of the 12-patient site.
SMALL_SITE = "XS01"
#: Kaplan-Meier grid of the demo (days).
KM_GRID_DAYS = 30

AnyResult = SummaryResult | KMResult | CoxResult | LMMResult


@dataclass(frozen=True)
class DemoResult:
    """Outcome of :func:`run_demo`.

    Attributes
    ----------
    comparison : DataFrame
        One row per estimate: ``analysis``, ``quantity``, ``pooled``, ``federated``,
        ``se_pooled``, ``se_federated`` and ``rel_diff`` (largest relative difference of
        estimate and SE, unitless).
    max_rel_diff : mapping of str to float
        Largest relative difference per analysis (KM over all released times).
    refusals : mapping of str to mapping of str to str
        Per analysis, the sites that refused and why.
    site_sizes : mapping of str to int
        Patients per site.
    results : mapping of str to result
        Federated results by analysis (``summary``, ``km``, ``cox``, ``lmm``).
    files : tuple of Path
        Files written (RESULT JSON per analysis, ``comparison.csv``, ``report.html``).
    """

    comparison: pd.DataFrame
    max_rel_diff: Mapping[str, float]
    refusals: Mapping[str, Mapping[str, str]]
    site_sizes: Mapping[str, int]
    results: Mapping[str, AnyResult]
    files: tuple[Path, ...]


def split_demo_sites(cohort: Cohort) -> tuple[dict[str, Cohort], dict[str, Policy]]:
    """Split ``cohort`` by ``site_id``, carve a 12-patient site, set the demo policies.

    The 12-patient site (``XS01``) takes its patients from the largest site; its policy
    leaves out Kaplan-Meier (its released blocks would span its whole follow-up and so
    coarsen the common grid of every site to one interval). The second largest site allows
    only summary, Kaplan-Meier and the mixed model (no Cox).
    """
    site = cohort.patients["site_id"].astype(str).to_numpy()
    pid = cohort.patients["patient_id"].astype(str).to_numpy()
    names, counts = np.unique(site, return_counts=True)
    order = names[np.argsort(-counts, kind="stable")]
    site = site.copy()
    site[np.flatnonzero(site == order[0])[:12]] = SMALL_SITE
    cohorts = {s: cohort.subset(pd.Index(pid[site == s].tolist())) for s in sorted(set(site))}
    no_cox = str(order[1])
    policies = {
        no_cox: Policy.from_mapping(
            {"site_id": no_cox, "allowed_analyses": ["summary", "km", "lmm"]}, source="demo"
        ),
        SMALL_SITE: Policy.from_mapping(
            {"site_id": SMALL_SITE, "allowed_analyses": ["summary", "cox", "lmm"]}, source="demo"
        ),
    }
    return cohorts, policies


def _with_refusals(
    cohorts: Mapping[str, Cohort],
    policies: Mapping[str, Policy],
    call: Callable[[Any], AnyResult],
) -> tuple[AnyResult, dict[str, str]]:
    """Run over all sites; when some refuse, record why and re-run without them."""
    try:
        return call(simulate_network(cohorts, policies=policies)), {}
    except FederationIncompleteError as exc:
        failures = dict(exc.failures)
    rest = {s: c for s, c in cohorts.items() if s not in failures}
    logger.info("re-running without %s", sorted(failures))
    return call(simulate_network(rest, policies=policies)), failures


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def _pooled(cohorts: Mapping[str, Cohort], sites: Sequence[str]) -> list[Cohort]:
    return [cohorts[s] for s in sites]


def _summary_rows(res: SummaryResult, parts: list[Cohort]) -> list[dict[str, Any]]:
    rows = []
    for name in res.numeric.index:
        x = np.concatenate([numeric_values(c, str(name)) for c in parts])
        for stat, pooled in (("mean", float(x.mean())), ("sd", float(x.std(ddof=1)))):
            fed = float(res.numeric.loc[name, stat])
            rows.append(
                {
                    "analysis": "summary",
                    "quantity": f"{stat} {name}",
                    "pooled": pooled,
                    "federated": fed,
                    "rel_diff": _rel(fed, pooled),
                }
            )
    return rows


def _km_rows(res: KMResult, parts: list[Cohort]) -> tuple[list[dict[str, Any]], float]:
    from lifelines import KaplanMeierFitter

    st = pd.concat([survival_times(c) for c in parts])
    g = res.grid_days
    on_grid = -(-st["time_days"].to_numpy() // g) * g
    cuts = res.table["time_days"].to_numpy()
    rounded = cuts[np.searchsorted(cuts, on_grid)]
    kmf = KaplanMeierFitter().fit(rounded, st["event"].to_numpy())
    pooled = kmf.survival_function_.iloc[:, 0].reindex(cuts).to_numpy()
    fed = res.table["survival"].to_numpy()
    diffs = np.abs(fed - pooled) / np.maximum(np.abs(pooled), 1e-300)
    rows = []
    for months in (12, 24, 36, 60):
        i = int(np.searchsorted(cuts, months * 365.25 / 12, side="right")) - 1
        if i < 0:
            continue
        rows.append(
            {
                "analysis": "km",
                "quantity": f"S({months} mo), last cut {int(cuts[i])} d",
                "pooled": float(pooled[i]),
                "federated": float(fed[i]),
                "rel_diff": float(diffs[i]),
            }
        )
    return rows, float(diffs.max()) if diffs.size else 0.0


def _cox_rows(res: CoxResult, parts: Mapping[str, Cohort]) -> list[dict[str, Any]]:
    from lifelines import CoxPHFitter

    covs = list(res.coef)
    frames = []
    for s, c in parts.items():
        st = survival_times(c)
        f = pd.concat([st, covariate_matrix(c, covs).reindex(st.index)], axis=1).dropna()
        f["site"] = s
        frames.append(f)
    cph = CoxPHFitter().fit(
        pd.concat(frames), "time_days", "event", strata=["site"], fit_options={"precision": 1e-12}
    )
    return [
        {
            "analysis": "cox",
            "quantity": f"log HR {v}",
            "pooled": float(cph.params_[v]),
            "federated": res.coef[v],
            "se_pooled": float(cph.standard_errors_[v]),
            "se_federated": res.se[v],
            "rel_diff": max(
                _rel(res.coef[v], float(cph.params_[v])),
                _rel(res.se[v], float(cph.standard_errors_[v])),
            ),
        }
        for v in covs
    ]


def pooled_lmm(frame: pd.DataFrame, covariates: Sequence[str]) -> dict[str, Any]:
    """The pooled reference: statsmodels ``MixedLM`` (REML, ``re_formula="~months"``).

    SEs are ``sqrt(diag((X'V^-1X)^-1))`` from the fixed-effects block of statsmodels'
    Hessian (its ``bse_fe`` also folds in the fixed-by-variance cross terms).
    """
    import statsmodels.formula.api as smf

    rhs = " + ".join(["months", *covariates])
    model = smf.mixedlm(
        f"alsfrs_r ~ {rhs}", frame, groups=frame["patient_id"], re_formula="~months"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels reports its own optimiser's chatter
        res = model.fit(reml=True, method=["bfgs"], gtol=1e-9)
        hess, _ = model.hessian(res.params_object)
    k = model.k_fe
    se = np.sqrt(np.diag(np.linalg.inv(-hess[:k, :k])))
    terms = ["intercept", "months", *covariates]
    g = np.asarray(res.cov_re)
    return {
        "coef": dict(zip(terms, res.fe_params.to_numpy().tolist(), strict=True)),
        "se": dict(zip(terms, se.tolist(), strict=True)),
        "re_cov": {
            "intercept_var": float(g[0, 0]),
            "slope_var": float(g[1, 1]),
            "cov": float(g[0, 1]),
            "residual_var": float(res.scale),
        },
        "loglik": float(res.llf),
    }


def _lmm_rows(res: LMMResult, parts: list[Cohort]) -> list[dict[str, Any]]:
    covs = [t for t in res.coef if t not in ("intercept", "months")]
    frame = pd.concat([lmm_frame(c, covs) for c in parts], ignore_index=True)
    ref = pooled_lmm(frame, covs)
    rows = [
        {
            "analysis": "lmm",
            "quantity": f"beta {t}",
            "pooled": ref["coef"][t],
            "federated": res.coef[t],
            "se_pooled": ref["se"][t],
            "se_federated": res.se[t],
            "rel_diff": max(_rel(res.coef[t], ref["coef"][t]), _rel(res.se[t], ref["se"][t])),
        }
        for t in res.coef
    ]
    rows += [
        {
            "analysis": "lmm",
            "quantity": name,
            "pooled": ref["re_cov"][name],
            "federated": res.re_cov[name],
            "rel_diff": _rel(res.re_cov[name], ref["re_cov"][name]),
        }
        for name in ("intercept_var", "slope_var", "cov", "residual_var")
    ]
    return rows


def _write(
    out_dir: Path,
    results: Mapping[str, AnyResult],
    comparison: pd.DataFrame,
    refusals: Mapping[str, Mapping[str, str]],
    site_sizes: Mapping[str, int],
    provenance: Mapping[str, object],
) -> tuple[Path, ...]:
    from markupsafe import Markup

    from alsnet.report import Section, Table, render_report

    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for name, res in results.items():
        p = out_dir / f"{name}.json"
        p.write_text(json.dumps(res.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
        files.append(p)
    csv = out_dir / "comparison.csv"
    comparison.to_csv(csv, index=False)
    files.append(csv)
    ref = pd.DataFrame(
        [(a, s, r) for a, d in refusals.items() for s, r in d.items()],
        columns=["analysis", "site", "reason"],
    )
    sizes = pd.DataFrame({"site": list(site_sizes), "patients": list(site_sizes.values())})
    shown = comparison.copy()
    shown["rel_diff"] = shown["rel_diff"].map(lambda v: f"{v:.1e}")
    sections = [
        Section(
            "Network",
            Markup(
                "<p>Synthetic sites of different sizes and case mix; each analysis is re-run "
                "without the sites that refused it.</p>"
            ),
            tables=[Table(sizes, "Patients per site"), Table(ref, "Refusals")],
        ),
        Section(
            "Pooled vs federated",
            Markup(
                "<p>Pooled: the same model on the pooled records of the contributing sites "
                "(numpy, lifelines, statsmodels MixedLM). Federated: only disclosure-checked "
                "aggregates left the sites.</p>"
            ),
            tables=[Table(shown, "Estimates, SEs and relative differences", float_digits=6)],
        ),
    ]
    html = render_report(
        "alsnet federated demo", sections, out_dir / "report.html", provenance=provenance
    )
    files.append(html)
    return tuple(files)


def run_demo(
    n_patients: int = 1000,
    *,
    seed: int = 7,
    out_dir: str | Path | None = None,
) -> DemoResult:
    """Run the multi-site federated workflow on a synthetic network.

    Parameters
    ----------
    n_patients : int
        Patients in the synthetic cohort.
    seed : int
        Seed of the synthetic cohort.
    out_dir : str or Path, optional
        When given, writes ``summary.json``, ``km.json``, ``cox.json``, ``lmm.json``,
        ``comparison.csv`` and ``report.html`` there.

    Returns
    -------
    DemoResult
    """
    from alsnet.synth import synthesize

    cohort = synthesize(n_patients, seed=seed)
    cohorts, policies = split_demo_sites(cohort)
    sizes = {s: len(c.patients) for s, c in cohorts.items()}
    calls: dict[str, Callable[[Any], AnyResult]] = {
        "summary": lambda co: co.summary(
            by=["sex"], numeric=["age_onset", "diagnosis_delay_months"]
        ),
        "km": lambda co: co.km(grid_days=KM_GRID_DAYS),
        "cox": lambda co: co.cox(list(COX_COVARIATES)),
        "lmm": lambda co: co.lmm(list(LMM_COVARIATES)),
    }
    results: dict[str, AnyResult] = {}
    refusals: dict[str, dict[str, str]] = {}
    rows: list[dict[str, Any]] = []
    max_diff: dict[str, float] = {}
    for name, call in calls.items():
        res, failed = _with_refusals(cohorts, policies, call)
        results[name] = res
        refusals[name] = failed
        used = {s: cohorts[s] for s in res.sites}
        if isinstance(res, SummaryResult):
            new = _summary_rows(res, list(used.values()))
        elif isinstance(res, KMResult):
            new, km_max = _km_rows(res, list(used.values()))
            max_diff["km"] = km_max
        elif isinstance(res, CoxResult):
            new = _cox_rows(res, used)
        else:
            new = _lmm_rows(res, list(used.values()))
        rows += new
        max_diff[name] = max([max_diff.get(name, 0.0), *(r["rel_diff"] for r in new)])
    comparison = pd.DataFrame(
        rows,
        columns=[
            "analysis",
            "quantity",
            "pooled",
            "federated",
            "se_pooled",
            "se_federated",
            "rel_diff",
        ],
    )
    files: tuple[Path, ...] = ()
    if out_dir is not None:
        files = _write(
            Path(out_dir),
            results,
            comparison,
            refusals,
            sizes,
            {"n_patients": n_patients, "seed": seed, "cohort": cohort.fingerprint},
        )
    return DemoResult(
        comparison=comparison,
        max_rel_diff=max_diff,
        refusals=refusals,
        site_sizes=sizes,
        results=results,
        files=files,
    )
