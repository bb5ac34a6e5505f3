"""Report pieces of the digital-twin evaluation: forecast fans, calibration, metrics.

Builders take a :class:`~alsnet.twin.evaluate.TwinEvaluation` and only lay it out;
:func:`write_evaluation` writes ``report.html`` and ``metrics.csv`` (the I/O edge
of ``alsnet twin evaluate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.subplots import make_subplots

from alsnet.report.html import Section, Table, render_report

if TYPE_CHECKING:
    from alsnet.twin.evaluate import TwinEvaluation

__all__ = [
    "TWIN_SECTION",
    "calibration_figure",
    "fan_figure",
    "metrics_table",
    "twin_section",
    "write_evaluation",
]

#: Title of the digital-twin section.
TWIN_SECTION = "Digital twins: held-out forecasts"
_DPM = 365.25 / 12
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F7F7F")
_LAYOUT = {"template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 60}}
_LABELS = {
    "rmse": "RMSE",
    "mae": "MAE",
    "cov80": "80% cov.",
    "cov95": "95% cov.",
    "c_index": "C-index",
    "ibs": "IBS",
}


def _colour(i: int) -> str:
    return _COLOURS[i % len(_COLOURS)]


def calibration_figure(calibration: pd.DataFrame, outcome: str = "alsfrs_r_total") -> go.Figure:
    """Observed share below each predicted quantile against its level, per model.

    One line per model and horizon (marker shape = horizon); the dashed diagonal is
    perfect calibration.
    """
    cal = calibration.loc[(calibration["outcome"] == outcome) & (calibration["kind"] == "quantile")]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line={"dash": "dash", "color": "#999999"},
            name="perfect",
            meta={"kind": "diagonal"},
        )
    )
    symbols = ("circle", "square", "diamond", "triangle-up")
    for i, (model, g) in enumerate(cal.groupby("model", sort=False)):
        for j, h in enumerate(sorted(g["horizon"].unique())):
            gh = g.loc[g["horizon"] == h].sort_values("nominal")
            fig.add_trace(
                go.Scatter(
                    x=gh["nominal"],
                    y=gh["observed"],
                    mode="lines+markers",
                    name=f"{model}, {h:g} months",
                    line={"color": _colour(i), "dash": "solid" if j == 0 else "dot"},
                    marker={"symbol": symbols[j % len(symbols)], "size": 8},
                    meta={"kind": "calibration", "model": model, "horizon": float(h)},
                )
            )
    fig.update_layout(
        title=f"Calibration of predictive quantiles ({outcome})",
        xaxis_title="nominal level p",
        yaxis_title="observed share of values ≤ predicted p-quantile",
        height=460,
        **_LAYOUT,
    )
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    return fig


def fan_figure(
    fans: pd.DataFrame, observed: pd.DataFrame, *, model: str | None = None
) -> go.Figure:
    """Forecast fans (80% and 95% bands, mean) of a few patients with their visits.

    Filled markers: visits the forecast was conditioned on; open markers: later
    visits it had not seen.
    """
    if model is None:
        model = str(fans["model"].iloc[0]) if len(fans) else ""
    f = fans.loc[fans["model"] == model]
    ids = list(dict.fromkeys(f["patient_id"]))
    cols = min(len(ids), 2) or 1
    rows = max(1, -(-len(ids) // cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[f"patient {i + 1}" for i in range(len(ids))],
        shared_yaxes=True,
    )
    for k, pid in enumerate(ids):
        r, c = k // cols + 1, k % cols + 1
        g = f.loc[f["patient_id"] == pid].sort_values("day")
        x = g["day"].to_numpy() / _DPM
        show = k == 0
        for lo, hi, alpha, label in (("q025", "q975", 0.15, "95%"), ("q10", "q90", 0.3, "80%")):
            fig.add_trace(
                go.Scatter(
                    x=np.concatenate([x, x[::-1]]),
                    y=np.concatenate([g[hi].to_numpy(), g[lo].to_numpy()[::-1]]),
                    fill="toself",
                    fillcolor=f"rgba(0,114,178,{alpha})",
                    line={"width": 0},
                    name=f"{label} interval",
                    showlegend=show,
                    hoverinfo="skip",
                    meta={"kind": "band", "level": label},
                ),
                row=r,
                col=c,
            )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=g["mean"],
                mode="lines",
                line={"color": "#0072B2"},
                name="predictive mean",
                showlegend=show,
                meta={"kind": "mean"},
            ),
            row=r,
            col=c,
        )
        o = observed.loc[observed["patient_id"] == pid]
        for seen, sym, label in (
            (True, "circle", "conditioned on"),
            (False, "circle-open", "unseen"),
        ):
            oo = o.loc[o["conditioned"] == seen]
            fig.add_trace(
                go.Scatter(
                    x=oo["day"] / _DPM,
                    y=oo["y"],
                    mode="markers",
                    marker={"symbol": sym, "size": 8, "color": "#D55E00"},
                    name=f"visits {label}",
                    showlegend=show,
                    meta={"kind": "observed", "conditioned": seen},
                ),
                row=r,
                col=c,
            )
    fig.update_yaxes(range=[0, 48.5], title_text="ALSFRS-R total", col=1)
    fig.update_xaxes(title_text="months since onset", row=rows)
    fig.update_layout(
        title=f"Forecast fans of {len(ids)} test patients ({model})",
        height=320 * rows + 80,
        **_LAYOUT,
    )
    return fig


def metrics_table(ev: TwinEvaluation, outcome: str = "alsfrs_r_total") -> pd.DataFrame:
    """Readable metrics table: one row per model."""
    t = ev.table(outcome)
    ren = {}
    for c in t.columns:
        base, _, h = str(c).partition("_")
        if c in _LABELS:
            ren[c] = _LABELS[c]
        elif base in _LABELS and h:
            ren[c] = f"{_LABELS[base]} {h.replace('m', ' mo')}"
    return t.rename(columns=ren)


def _p(template: str, *values: object) -> Markup:
    return Markup("<p>" + template + "</p>").format(*values)


def twin_section(ev: TwinEvaluation, *, title: str = TWIN_SECTION) -> Section:
    """Forecast fans, calibration plot and metrics tables of an evaluation."""
    s = ev.settings
    text = _p(
        "Forecasters fitted on {} training patients (per split), scored on {} unseen patients "
        "({}). Each "
        "test patient is conditioned on the visits of the first {} days after the first "
        "ALSFRS-R visit; targets are the visits nearest {} months after it (± {} days). "
        "Coverage: share of observed values inside the central 80% / 95% predictive "
        "interval. Events (death, tracheostomy, permanent ventilation) among patients "
        "event-free at the end of the window: Harrell's C-index of the 12-month survival "
        "and the IPCW integrated Brier score over 1–24 months (lower is better).",
        f"{s.get('n_train', 0):,}",
        f"{s.get('n_test', 0):,}",
        "leave-one-site-out" if s.get("split") == "site" else f"{s.get('split')} split",
        f"{s.get('cutoff_days', 0):g}",
        " and ".join(f"{h:g}" for h in s.get("horizons_months", [])),
        f"{s.get('window_days', 0):g}",
    )
    figures = []
    if len(ev.fans):
        model = "twin" if "twin" in set(ev.fans["model"]) else None
        figures.append(fan_figure(ev.fans, ev.fan_observed, model=model))
    figures.append(calibration_figure(ev.calibration))
    tables = [Table(metrics_table(ev), caption="ALSFRS-R total (points)", float_digits=3)]
    if (ev.metrics["outcome"] == "fvc_pct").any():
        tables.append(
            Table(metrics_table(ev, "fvc_pct"), caption="FVC (% predicted)", float_digits=3)
        )
    return Section(title, text, figures=figures, tables=tables)


def write_evaluation(
    ev: TwinEvaluation,
    out_dir: str | Path,
    *,
    provenance: Mapping[str, object] | None = None,
) -> tuple[Path, Path]:
    """Write ``report.html`` and ``metrics.csv`` (tidy) into ``out_dir``.

    Returns
    -------
    tuple of Path
        The report and the metrics file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = out / "metrics.csv"
    ev.metrics.to_csv(metrics, index=False)
    prov = {
        **dict(provenance or {}),
        **{k: v for k, v in ev.settings.items() if k != "horizons_months"},
    }
    report = render_report(
        "alsnet digital-twin evaluation", [twin_section(ev)], out / "report.html", provenance=prov
    )
    return report, metrics
