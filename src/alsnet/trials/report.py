"""HTML reports of platform trials: operating characteristics (OC) and DSMB analyses.

- :func:`oc_report`: side-by-side comparison of simulation results (``RESULT.json`` of
  ``alsnet trial simulate``, any designs and scenarios): a table of every metric with its
  Monte Carlo SE, power curves (P(success) against the true DRR, ±1.96 SE), where regimens
  stop (futility at each interim vs the final look), expected sample size and duration.
- :func:`dsmb_report`: an interim/final analysis of a live trial
  (:class:`~alsnet.trials.analyse.TrialAnalysis`): enrolment per regimen and arm, ALSFRS-R
  trajectories by arm, the posterior of each regimen's DRR with the decision thresholds, the
  decisions and the secondary analyses. Only aggregates are shown, never patient values.

Both are rendered by :func:`alsnet.report.html.render_report` (self-contained HTML).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup

from alsnet.report.html import Section, Table, render_report
from alsnet.trials._errors import TrialDesignError
from alsnet.trials.analyse import TrialAnalysis
from alsnet.trials.design import PlatformDesign

__all__ = ["dsmb_report", "oc_report", "oc_table"]

_METRICS = ("p_success", "p_early_futility", "mean_n", "mean_duration_months", "mean_drr")
#: Shown only when some result has them (designs with a ``survival_stage``).
_OPTIONAL_METRICS = ("p_success_survival", "mean_survival_months", "mean_duration_survival_months")


def _f(x: Any) -> float:
    return float("nan") if x is None else float(x)


def oc_table(results: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (result, regimen): design, scenario, sims, true DRR, metrics and SEs.

    Raises
    ------
    TrialDesignError
        A result lacks ``design``, ``scenario``, ``sims`` or ``regimens``.
    """
    rows = []
    for i, res in enumerate(results):
        for key in ("design", "scenario", "sims", "regimens"):
            if key not in res:
                raise TrialDesignError(f"results[{i}].{key}: missing (not a RESULT.json?)")
        for reg in res["regimens"]:
            row: dict[str, Any] = {
                "design": str(res["design"]),
                "scenario": str(res["scenario"]),
                "regimen": str(reg.get("name", "?")),
                "sims": int(res["sims"]),
                "true_drr": _f(reg.get("true_drr")),
            }
            for m in _METRICS:
                row[m] = _f(reg.get(m))
                row[f"{m}_se"] = _f(reg.get(f"{m}_se"))
            for m in _OPTIONAL_METRICS:  # a column only if some result has it
                if m in reg:
                    row[m] = _f(reg.get(m))
                    row[f"{m}_se"] = _f(reg.get(f"{m}_se"))
            rows.append(row)
    return pd.DataFrame(rows)


def _power_figure(df: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    have = df[np.isfinite(df["true_drr"])]
    for design, g in have.groupby("design", sort=False):
        g = g.sort_values("true_drr")
        fig.add_scatter(
            x=g["true_drr"],
            y=g["p_success"],
            mode="markers+lines",
            name=str(design),
            error_y={"type": "data", "array": 1.96 * g["p_success_se"].fillna(0)},
            text=g["scenario"] + " / " + g["regimen"],
            hovertemplate="%{text}<br>true DRR %{x:.2f}<br>P(success) %{y:.3f}<extra></extra>",
        )
    fig.update_layout(
        xaxis_title="true DRR (1 = no effect; 0.7 = 30% slowing)",
        yaxis_title="P(success) (type I error at DRR 1)",
        xaxis_autorange="reversed",
        height=420,
        margin={"t": 30},
    )
    return fig


def _stopping_figure(results: Sequence[Mapping[str, Any]]) -> go.Figure | None:
    """Stacked bars: P(futility stop at interim k) and P(reaching the final), per regimen."""
    rows = []
    for res in results:
        for reg in res["regimens"]:
            looks = reg.get("futility_by_look")
            if not looks:
                continue
            label = f"{res['design']}/{res['scenario']}/{reg['name']}"
            total = 0.0
            for k, lk in enumerate(looks, start=1):
                p = _f(lk.get("p"))
                total += 0.0 if math.isnan(p) else p
                rows.append((label, f"futility at interim {k}", p))
            rows.append((label, "reached the final look", max(0.0, 1.0 - total)))
    if not rows:
        return None
    df = pd.DataFrame(rows, columns=["run", "stop", "p"])
    fig = go.Figure()
    for stop, g in df.groupby("stop", sort=False):
        fig.add_bar(x=g["run"], y=g["p"], name=str(stop))
    fig.update_layout(
        barmode="stack",
        yaxis_title="probability",
        xaxis_title="design / scenario / regimen",
        height=420,
        margin={"t": 30},
    )
    return fig


def _size_figure(df: pd.DataFrame) -> go.Figure:
    lab = df["design"] + "/" + df["scenario"] + "/" + df["regimen"]
    fig = go.Figure()
    fig.add_bar(
        x=lab,
        y=df["mean_n"],
        name="expected N (patients)",
        error_y={"type": "data", "array": 1.96 * df["mean_n_se"].fillna(0)},
    )
    if np.isfinite(df["mean_duration_months"]).any():
        fig.add_scatter(
            x=lab,
            y=df["mean_duration_months"],
            name="mean duration (months)",
            mode="markers",
            yaxis="y2",
            marker={"size": 10, "symbol": "diamond"},
        )
    fig.update_layout(
        yaxis_title="expected N",
        yaxis2={"title": "months", "overlaying": "y", "side": "right"},
        height=420,
        margin={"t": 30},
    )
    return fig


def oc_report(
    results: Sequence[Mapping[str, Any]],
    out_path: str | Path,
    *,
    title: str = "Platform-trial operating characteristics",
    provenance: Mapping[str, object] | None = None,
) -> Path:
    """Write the OC comparison report of ``results`` (parsed RESULT.json mappings).

    Returns
    -------
    Path
        ``out_path``.
    """
    if not results:
        raise TrialDesignError("results: at least one RESULT.json is needed")
    df = oc_table(results)
    runs = ", ".join(
        Markup("{}/{} ({:,} trials)").format(r["design"], r["scenario"], int(r["sims"]))
        for r in results
    )
    intro = Markup(
        "<p>Operating characteristics per regimen from simulated trials: {}. "
        "P(success) at true DRR 1 is the type I error, below 1 the power. "
        "Every metric has its Monte Carlo standard error (<code>_se</code>); error bars are "
        "±1.96 SE.</p>"
    ).format(Markup(runs))
    shown = df.copy()
    for m in _METRICS + tuple(m for m in _OPTIONAL_METRICS if m in df.columns):
        shown[m] = [
            f"{v:.3f} ± {s:.3f}" if math.isfinite(v) else "–"
            for v, s in zip(shown[m], shown[f"{m}_se"], strict=True)
        ]
        shown = shown.drop(columns=f"{m}_se")
    sections = [
        Section(
            "Operating characteristics",
            intro,
            tables=[Table(shown, "Per regimen (value ± Monte Carlo SE)", float_digits=2)],
        ),
        Section(
            "Power curves",
            Markup("<p>P(success) against the true DRR of the regimen, per design.</p>"),
            figures=[_power_figure(df)],
        ),
    ]
    stop_fig = _stopping_figure(results)
    if stop_fig is not None:
        sections.append(
            Section(
                "Stopping times",
                Markup(
                    "<p>Where a regimen stops: futility at each interim, or the final look "
                    "(success or not).</p>"
                ),
                figures=[stop_fig],
            )
        )
    sections.append(
        Section(
            "Sample size and duration",
            Markup("<p>Expected patients randomised per regimen and mean duration.</p>"),
            figures=[_size_figure(df)],
        )
    )
    prov = {"results": len(results), **dict(provenance or {})}
    return render_report(title, sections, out_path, provenance=prov)


# ------------------------------------------------------------------------------ DSMB
def _trajectory_figure(traj: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for (regimen, arm), g in traj.groupby(["regimen", "arm"], sort=True):
        g = g.sort_values("week")
        fig.add_scatter(
            x=g["week"],
            y=g["mean"],
            mode="lines+markers",
            name=f"{regimen} {arm}",
            line={"dash": "dot" if arm == "placebo" else "solid"},
            error_y={"type": "data", "array": 1.96 * g["se"].fillna(0)},
            customdata=g["n"],
            hovertemplate="week %{x}<br>mean %{y:.1f}<br>n %{customdata}<extra></extra>",
        )
    fig.update_layout(
        xaxis_title="weeks since randomisation",
        yaxis_title="mean ALSFRS-R total (points, ±1.96 SE)",
        height=440,
        margin={"t": 30},
    )
    return fig


def _posterior_figure(analysis: TrialAnalysis, design: PlatformDesign | None) -> go.Figure:
    fig = go.Figure()
    x = np.linspace(0.3, 1.8, 400)
    for r in analysis.regimens:
        m, s = r.drr.log_drr_mean, r.drr.log_drr_sd
        dens = np.exp(-0.5 * ((np.log(x) - m) / s) ** 2) / (x * s * math.sqrt(2 * math.pi))
        fig.add_scatter(x=x, y=dens, mode="lines", name=f"{r.regimen} (Laplace)")
        if r.drr_mcmc is not None and r.drr_mcmc.draws is not None:
            fig.add_histogram(
                x=r.drr_mcmc.draws,
                histnorm="probability density",
                name=f"{r.regimen} (MCMC)",
                opacity=0.4,
                nbinsx=60,
            )
    lines = [(1.0, "DRR 1")]
    if design is not None and design.futility is not None:
        lines.append((design.futility.drr, f"futility DRR {design.futility.drr:g}"))
    for v, txt in lines:
        fig.add_vline(x=v, line_dash="dash", annotation_text=txt)
    fig.update_layout(
        xaxis_title="DRR (disease-progression rate ratio; < 1 = slower progression)",
        yaxis_title="posterior density",
        barmode="overlay",
        height=420,
        margin={"t": 30},
    )
    return fig


def _secondary_table(analysis: TrialAnalysis) -> pd.DataFrame:
    rows = []
    for r in analysis.regimens:
        mm, cf, pc = r.mixed_model, r.cafs, r.procova
        rows.append(
            {
                "regimen": r.regimen,
                "mixed: control slope": _f(mm.get("control_slope")),
                "mixed: slope diff": _f(mm.get("slope_difference")),
                "mixed: SE": _f(mm.get("slope_difference_se")),
                "mixed: p (1-sided)": _f(mm.get("p_one_sided")),
                "CAFS: win prob.": _f(cf.get("win_probability")),
                "CAFS: p (1-sided)": _f(cf.get("pvalue")),
                "PROCOVA: slope diff": _f(pc.get("estimate")),
                "PROCOVA: SE": _f(pc.get("se")),
            }
        )
    return pd.DataFrame(rows)


def dsmb_report(
    analysis: TrialAnalysis,
    out_path: str | Path,
    *,
    design: PlatformDesign | None = None,
    provenance: Mapping[str, object] | None = None,
) -> Path:
    """Write the DSMB report of a live-trial analysis.

    Parameters
    ----------
    analysis : TrialAnalysis
        From :func:`alsnet.trials.analyse.analyse_trial`.
    out_path : str or Path
        HTML file to write.
    design : PlatformDesign, optional
        Adds the decision thresholds to the posterior plot.
    provenance : mapping, optional
        Footer entries (e.g. data fingerprint, data cut).

    Returns
    -------
    Path
    """
    summ = analysis.summary()
    notes = "".join(str(Markup("<li>{}</li>").format(n)) for n in analysis.notes)
    intro = Markup(
        "<p>{} analysis of the platform trial <code>{}</code>: {} regimen(s). Primary "
        "analysis: Bayesian shared-parameter model (one DRR scaling the ALSFRS-R slope and "
        "the hazard of death or permanent ventilation){}. Only aggregates are shown.</p>{}"
    ).format(
        analysis.look.capitalize(),
        analysis.design,
        len(analysis.regimens),
        ", with calendar-period adjustment" if analysis.time_adjusted else "",
        Markup(f"<ul>{notes}</ul>") if notes else "",
    )
    decisions = pd.DataFrame(
        {
            "regimen": [r.regimen for r in analysis.regimens],
            "decision": [r.decision for r in analysis.regimens],
            "rule": [r.rule for r in analysis.regimens],
        }
    )
    sections = [
        Section(
            "Decisions",
            intro,
            tables=[
                Table(decisions, "Decision per regimen"),
                Table(summ, "Posterior of the DRR per regimen", float_digits=3),
            ],
        ),
        Section(
            "Enrolment",
            Markup(
                "<p>Patients randomised per regimen and arm (placebo patients may also serve "
                "as shared controls of other regimens).</p>"
            ),
            tables=[Table(analysis.enrolment, "Randomised patients")],
        ),
        Section(
            "ALSFRS-R trajectories",
            Markup("<p>Mean ALSFRS-R total by scheduled visit, per regimen and arm.</p>"),
            figures=[_trajectory_figure(analysis.trajectories)],
        ),
        Section(
            "Posterior of the DRR",
            Markup(
                "<p>Posterior density of each regimen's DRR (Laplace approximation; MCMC "
                "histogram when run).</p>"
            ),
            figures=[_posterior_figure(analysis, design)],
        ),
        Section(
            "Secondary analyses",
            Markup(
                "<p>Linear mixed model of ALSFRS-R (slope difference active − control, "
                "points/month), CAFS (probability an active patient ranks above a control) "
                "and PROCOVA when prognostic scores were given.</p>"
            ),
            tables=[Table(_secondary_table(analysis), "Secondary analyses", float_digits=3)],
        ),
    ]
    return render_report(
        f"DSMB report: {analysis.design} ({analysis.look})",
        sections,
        out_path,
        provenance=provenance,
    )
