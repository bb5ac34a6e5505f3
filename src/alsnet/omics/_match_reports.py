"""HTML reports of trial matching and target prioritisation (Plotly, offline)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from markupsafe import Markup, escape

from alsnet.report.html import Section, Table, render_report

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from alsnet.omics.rules import Criterion, MatchResult
    from alsnet.omics.targets import TargetResult

__all__ = ["criterion_text", "write_match_report", "write_targets_report"]

_STATUS_COLOURS = {"eligible": "#2a9d8f", "untested": "#e9c46a", "not_eligible": "#adb5bd"}


def criterion_text(node: Criterion) -> str:
    """One-line text of a criterion tree, e.g. ``ALL(symptomatic, SOD1 pathogenic)``."""
    if node.is_leaf:
        return node.label
    inner = ", ".join(criterion_text(c) for c in node.children)
    return f"{node.kind.upper()}({inner})"


def status_bars(summary: pd.DataFrame) -> go.Figure:
    """Stacked bars: patients per study by match status."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for status, colour in _STATUS_COLOURS.items():
        fig.add_trace(
            go.Bar(
                x=summary["study_id"],
                y=summary[status],
                name=status.replace("_", " "),
                marker_color=colour,
            )
        )
    fig.update_layout(
        barmode="stack",
        title="Patients per study by match status",
        xaxis_title="study",
        yaxis_title="patients",
    )
    return fig


def site_bars(by_site: pd.DataFrame) -> go.Figure:
    """Grouped bars: eligible patients per study and site."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for site, df in by_site.groupby("site_id", sort=True):
        fig.add_trace(go.Bar(x=df["study_id"], y=df["eligible"], name=str(site)))
    fig.update_layout(
        barmode="group",
        title="Eligible patients per study and site",
        xaxis_title="study",
        yaxis_title="eligible patients",
        legend_title="site",
    )
    return fig


def expected_bars(expected: pd.DataFrame, level: float) -> go.Figure:
    """Observed eligible vs expected after imputing untested genotypes (with interval)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(
        go.Bar(x=expected["study_id"], y=expected["eligible_observed"], name="eligible (recorded)")
    )
    fig.add_trace(
        go.Bar(
            x=expected["study_id"],
            y=expected["expected_eligible"],
            name=f"expected after imputation ({level:.0%} interval)",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": expected["upper"] - expected["expected_eligible"],
                "arrayminus": expected["expected_eligible"] - expected["lower"],
            },
        )
    )
    fig.update_layout(
        barmode="group",
        title="Eligible patients: recorded vs expected with imputed genotypes",
        xaxis_title="study",
        yaxis_title="patients",
    )
    return fig


def write_match_report(
    result: MatchResult,
    out_path: str | Path,
    *,
    expected: pd.DataFrame | None = None,
    level: float = 0.95,
    provenance: Mapping[str, object] | None = None,
) -> Path:
    """Write the trial-matching report: counts per study and site, unmet rules, imputation.

    Parameters
    ----------
    result : MatchResult
        From :func:`alsnet.omics.rules.evaluate_rules`.
    out_path : str or Path
        HTML file to write.
    expected : DataFrame, optional
        From :func:`alsnet.omics.priors.expected_eligible`.
    level : float
        Interval coverage used for ``expected``.
    provenance : mapping, optional
        Footer entries.
    """
    rules = result.rules
    summary = result.summary()
    by_site = result.by_site()
    unmet = result.unmet()
    meta = pd.DataFrame(
        {
            "study_id": [s.id for s in rules.studies],
            "name": [s.name for s in rules.studies],
            "arm": [s.arm for s in rules.studies],
        }
    )
    table = meta.merge(summary, on="study_id")
    warn = Markup("")
    if unmet:
        warn = Markup(
            "<p><strong>No registry patient meets:</strong> {}. Check the rule (a typo, an "
            "impossible combination) or whether the registry can hold such patients.</p>"
        ).format(", ".join(unmet))
    intro = (
        Markup(
            "<p>Rule table <code>{}</code>, version <strong>{}</strong>: {} studies, {} "
            "patients. A patient is <em>untested</em> for a study when the decision depends on a "
            "fact that was never recorded (an untested gene, no NfL measurement). Each row of "
            "<code>matches.csv</code> lists the criteria met, failed and untested.</p>"
        ).format(
            rules.source, rules.version, len(rules.studies), result.matches["patient_id"].nunique()
        )
        + warn
    )
    sections = [
        Section(
            "Eligibility per study",
            text_html=str(intro),
            figures=[status_bars(summary)],
            tables=[Table(table, caption="Patients per study and status", float_digits=0)],
        ),
        Section(
            "Eligibility per site",
            figures=[site_bars(by_site)],
            tables=[Table(by_site, caption="Patients per study, site and status", float_digits=0)],
        ),
    ]
    if expected is not None:
        sections.append(
            Section(
                "Expected eligible patients with imputed genotypes",
                text_html=str(
                    Markup(
                        "<p>Untested C9orf72 / SOD1 / TARDBP / FUS status imputed from "
                        "ancestry-specific carrier frequencies (familial vs sporadic; Zou 2017), "
                        "conditioned on the genes already tested; {} interval over the "
                        "imputations. Other untested facts (e.g. NfL) stay untested.</p>"
                    ).format(f"{level:.0%}")
                ),
                figures=[expected_bars(expected, level)],
                tables=[Table(expected, caption="Expected eligible per study", float_digits=1)],
            )
        )
    rules_tab = pd.DataFrame(
        {
            "study_id": [s.id for s in rules.studies],
            "criteria": [criterion_text(s.criteria) for s in rules.studies],
            "reference": [s.reference for s in rules.studies],
        }
    )
    sections.append(
        Section(
            "Rules",
            text_html=str(Markup("<p>{}</p>").format(escape(rules.description))),
            tables=[Table(rules_tab, caption="Criteria of each study")],
        )
    )
    prov = {"rule table": rules.source, "rule version": rules.version, **(provenance or {})}
    return render_report(
        "Genotype and biomarker trial matching", sections, out_path, provenance=prov
    )


def write_targets_report(
    result: TargetResult,
    out_path: str | Path,
    *,
    top: int = 25,
    provenance: Mapping[str, object] | None = None,
) -> Path:
    """Write the target-prioritisation report: per subtype, the top genes and their evidence."""
    import plotly.graph_objects as go

    ranked = result.table
    evid = list(result.weights)
    sections = [
        Section(
            "Method",
            text_html=str(
                Markup(
                    "<p>Per subtype, genes are ranked by a weighted mean of per-evidence "
                    "percentile ranks (1 = strongest evidence among all genes). Evidence and "
                    "weights: {}. Differential expression: {} (subtype vs rest). Each row shows "
                    "the evidence value, its percentile and its contribution to the combined "
                    "score; the contributions sum to the score.</p>"
                ).format(
                    ", ".join(f"{k} ({v:g})" for k, v in result.weights.items()),
                    result.de_method,
                )
            ),
        )
    ]
    for sub, df in ranked.groupby("subtype", sort=False, observed=True):
        head = df.nsmallest(top, "rank")
        fig = go.Figure()
        for e in evid:
            fig.add_trace(
                go.Bar(
                    y=head["gene"],
                    x=head[f"{e}_contribution"],
                    name=e,
                    orientation="h",
                )
            )
        fig.update_layout(
            barmode="stack",
            title=f"{sub}: top {len(head)} genes, score by evidence",
            xaxis_title="combined score (0-1)",
            yaxis={"autorange": "reversed", "title": "gene"},
            height=max(420, 22 * len(head) + 120),
        )
        cols = ["rank", "gene", "score"] + [
            c for e in evid for c in (f"{e}_value", f"{e}_percentile")
        ]
        sections.append(
            Section(
                f"Subtype {sub}",
                figures=[fig],
                tables=[Table(head[cols], caption=f"Top {len(head)} genes", float_digits=3)],
            )
        )
    return render_report(
        "Target prioritisation per subtype", sections, out_path, provenance=provenance
    )
