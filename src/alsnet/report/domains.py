"""Demo report sections of the federated, platform-trial and digital-twin domains.

Each builder takes a result computed elsewhere (:mod:`alsnet.demo`) and only lays it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup

from alsnet.report.html import Section, Table

if TYPE_CHECKING:
    from alsnet.demo import FederatedComparison, ProcovaSaving
    from alsnet.trials import SimulationResult

__all__ = [
    "DOMAIN_SECTIONS",
    "federated_section",
    "procova_section",
    "trial_section",
    "trial_table",
]

#: Titles of the domain sections, in the order the demo adds them.
DOMAIN_SECTIONS: tuple[str, ...] = (
    "Federated analysis",
    "Platform trial (HEALEY design)",
    "PROCOVA prognostic adjustment",
)


def federated_section(result: FederatedComparison) -> Section:
    """Pooled vs federated estimates with their relative differences.

    Parameters
    ----------
    result : FederatedComparison
        From :func:`alsnet.demo.federated_comparison`.

    Returns
    -------
    Section
    """
    cmp = result.comparison
    worst = float(cmp["rel_diff"].max()) if len(cmp) else float("nan")
    refused = sorted({s for d in result.refusals.values() for s in d})
    text = Markup(
        "<p>The cohort is split into its {} sites; summary statistics, Kaplan–Meier survival "
        "(death, 30-day grid) and a site-stratified Cox model (age at onset, male sex, bulbar "
        "onset, diagnostic delay; Efron ties) run through the in-process coordinator, so only "
        "disclosure-checked aggregates leave each site. Pooled: numpy and lifelines on the "
        "records of the same sites. Largest relative difference: {}.{}</p>"
    ).format(
        len(result.site_sizes),
        f"{worst:.1e}",
        Markup(" Sites refusing an analysis (left out of it): {}.").format(", ".join(refused))
        if refused
        else "",
    )
    shown = cmp.drop(columns=["analysis"]).copy()
    shown["rel_diff"] = shown["rel_diff"].map(lambda v: f"{v:.1e}")
    sizes = pd.DataFrame(
        {"site": list(result.site_sizes), "patients": list(result.site_sizes.values())}
    )
    return Section(
        DOMAIN_SECTIONS[0],
        text,
        tables=[
            Table(shown, "Pooled vs federated estimates", float_digits=5),
            Table(sizes, "Patients per site"),
        ],
    )


def trial_table(
    results: Mapping[str, SimulationResult],
    published: Mapping[str, tuple[float, float]],
    *,
    regimen: int = 0,
) -> pd.DataFrame:
    """Operating characteristics of one regimen per scenario, with MC SEs and published values.

    Parameters
    ----------
    results : mapping of str to SimulationResult
        By scenario name.
    published : mapping of str to (float, float)
        Published P(success) and P(early futility) by scenario.
    regimen : int, default 0
        Regimen shown (0 = A, the one that works in the ``slow*`` scenarios).

    Returns
    -------
    DataFrame
        One row per scenario: ``scenario``, ``sims``, ``true_drr``, ``p_success``,
        ``p_success_se``, ``published_p_success``, ``p_early_futility``,
        ``p_early_futility_se``, ``published_early_futility``, ``mean_n``, ``mean_n_se``.
    """
    rows = []
    for sc, res in results.items():
        pub = published.get(sc, (float("nan"), float("nan")))
        rows.append(
            {
                "scenario": sc,
                "sims": res.sims,
                "true_drr": res.true_drr[regimen],
                "p_success": float(res.p_success[regimen]),
                "p_success_se": float(res.p_success_se[regimen]),
                "published_p_success": pub[0],
                "p_early_futility": float(res.p_early_futility[regimen]),
                "p_early_futility_se": float(res.p_early_futility_se[regimen]),
                "published_early_futility": pub[1],
                "mean_n": float(res.mean_n[regimen]),
                "mean_n_se": float(res.mean_n_se[regimen]),
            }
        )
    return pd.DataFrame(rows)


def trial_section(
    results: Mapping[str, SimulationResult], published: Mapping[str, tuple[float, float]]
) -> Section:
    """HEALEY platform-trial simulation: regimen A per scenario vs published values.

    Parameters
    ----------
    results : mapping of str to SimulationResult
        By scenario name (from :func:`alsnet.demo.trial_scenarios`).
    published : mapping of str to (float, float)
        Published P(success) and P(early futility) by scenario.

    Returns
    -------
    Section
    """
    table = trial_table(results, published)
    fig = go.Figure()
    fig.add_bar(
        name="simulated",
        x=table["scenario"],
        y=table["p_success"],
        error_y={"type": "data", "array": 1.96 * table["p_success_se"]},
    )
    fig.add_bar(name="published", x=table["scenario"], y=table["published_p_success"])
    fig.update_layout(
        barmode="group",
        yaxis_title="P(success) of regimen A",
        xaxis_title="scenario",
        height=360,
        margin={"t": 30},
    )
    sims = ", ".join(
        f"{s}: {int(n):,}" for s, n in zip(table["scenario"], table["sims"], strict=True)
    )
    text = Markup(
        "<p>Simulated HEALEY ALS Platform trials (three regimens sharing placebo, Bayesian "
        "futility and success rules; example design <code>healey</code>). Regimen A: under "
        "<em>null</em> no regimen works (P(success) is the type I error); under "
        "<em>slow30</em> it slows ALSFRS-R decline by 30%. Trials per scenario: {}. Error bars "
        "and SE columns: Monte Carlo standard errors (bars ±1.96 SE). Published values: "
        "statistical analysis plan of the HEALEY platform.</p>"
    ).format(sims)
    return Section(
        DOMAIN_SECTIONS[1],
        text,
        figures=[fig],
        tables=[Table(table, "Regimen A: simulated vs published", float_digits=3)],
    )


def procova_section(result: ProcovaSaving) -> Section:
    """Prognostic-score correlation and the PROCOVA sample-size saving.

    Parameters
    ----------
    result : ProcovaSaving
        From :func:`alsnet.demo.procova_saving`.

    Returns
    -------
    Section
    """
    s = result.sample_size
    table = pd.DataFrame(
        {
            "quantity": [
                "patients (train / test)",
                "r (score vs observed slope, test half)",
                "mean slope (points/month)",
                "SD of slope (points/month)",
                "delta: 30% slowing (points/month)",
                "N unadjusted",
                "N PROCOVA",
                "saving (patients)",
                "saving (%)",
                "N·r² (approximate saving)",
            ],
            "value": [
                f"{result.n_train} / {result.n_test}",
                f"{result.r:.3f}",
                f"{result.mean_slope:.3f}",
                f"{result.sd_slope:.3f}",
                f"{result.delta:.3f}",
                f"{s.n_unadjusted:,}",
                f"{s.n_total:,}",
                f"{result.saving:,}",
                f"{100 * result.saving / s.n_unadjusted:.1f}",
                f"{s.n_unadjusted * max(result.r, 0.0) ** 2:.0f}",
            ],
        }
    )
    text = Markup(
        '<p>A ridge prognostic score (<code>PrognosticScore(model="ridge")</code>) is trained '
        "on baseline-window features (first 3 months after the first ALSFRS-R visit) of a "
        "random half of the patients and predicts the month 3–12 ALSFRS-R slope of the other "
        "half (r = {}). Adjusting a two-arm trial for the score (PROCOVA, Schuler et al. 2022) "
        "shrinks the residual variance by 1 − r²; for a 30% slowing (two-sided α 0.05, power "
        "0.8) the trial needs {} instead of {} patients.</p>"
    ).format(f"{result.r:.2f}", f"{s.n_total:,}", f"{s.n_unadjusted:,}")
    return Section(DOMAIN_SECTIONS[2], text, tables=[Table(table, "PROCOVA sample size")])
