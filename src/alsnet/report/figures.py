"""Plotly figures of a cohort for the HTML report.

Every function returns a :class:`plotly.graph_objects.Figure` and computes no
more than the small aggregation it plots (numbers come from
:mod:`alsnet.report.summaries`). Traces carry a ``meta`` dict (``kind``,
``group`` and the plotted summary values) so that tests and callers can find
them without parsing names.

Only ALSFRS-R totals (0–48, column ``alsfrs_r_total``) are plotted; totals of
the original ALSFRS (0–40) are never mixed in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from alsnet.report.summaries import (
    DAYS_PER_MONTH,
    KINGS_STAGES,
    MITOS_STAGES,
    StageName,
    delta_fs_first_visit,
    km_groups,
    site_summary,
    stage_counts,
    survival_data,
)
from alsnet.schema import ONSET_REGIONS

__all__ = [
    "ENCALS_HORIZONS",
    "REGION_COLOURS",
    "alsfrs_trajectories",
    "encals_calibration",
    "km_by_onset",
    "progression_rate_hist",
    "site_overview",
    "stage_distribution",
]

logger = logging.getLogger(__name__)

#: One colour per onset region (colour-blind-friendly Okabe–Ito based palette).
REGION_COLOURS: dict[str, str] = dict(
    zip(
        ONSET_REGIONS,
        (
            "#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
            "#7F7F7F", "#332288", "#882255",
        ),
        strict=True,
    )
)  # fmt: skip
_STAGE_COLOURS = ("#FDE725", "#7AD151", "#22A884", "#2A788E", "#414487", "#440154")
_LAYOUT = {"template": "plotly_white", "height": 460, "margin": {"l": 60, "r": 20, "t": 60}}


def _colour(region: str) -> str:
    return REGION_COLOURS.get(region, "#444444")


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _region_order(present: Sequence[str]) -> list[str]:
    known = [r for r in ONSET_REGIONS if r in set(present)]
    return known + sorted(set(present) - set(known))


def _alsfrs_r_rows(visits_scored: pd.DataFrame) -> pd.DataFrame:
    """Visits with an ALSFRS-R total (original-ALSFRS visits are excluded)."""
    ok = visits_scored["alsfrs_r_total"].notna()
    if "instrument" in visits_scored:
        ok &= (visits_scored["instrument"].astype("string") != "alsfrs").fillna(True)
    return visits_scored.loc[ok, ["patient_id", "day", "alsfrs_r_total"]]


def alsfrs_trajectories(
    visits_scored: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    n_sample: int = 60,
    seed: int | np.random.Generator = 0,
    bin_months: float = 3.0,
    min_bin_visits: int = 20,
) -> go.Figure:
    """Spaghetti plot of ALSFRS-R totals plus the median trajectory per onset region.

    Parameters
    ----------
    visits_scored : DataFrame
        ``patient_id``, ``day`` (days since onset) and ``alsfrs_r_total``
        (points, 0–48); rows without a total (or with ``instrument == "alsfrs"``)
        are ignored.
    patients : DataFrame
        ``patient_id`` and ``onset_region``.
    n_sample : int, default 60
        Number of patients drawn (without replacement) for the thin lines.
    seed : int or numpy.random.Generator, default 0
        Randomness of the sample.
    bin_months : float, default 3
        Width of the bins (months since onset) of the median lines.
    min_bin_visits : int, default 20
        Bins with fewer visits get no median point.

    Returns
    -------
    plotly.graph_objects.Figure
        One thin-line trace per region for the sample (patients separated by
        gaps; ``meta.kind == "sample"``) and one thick median line per region
        over all patients (``meta.kind == "median"``, x = bin centre in months).
    """
    rng = np.random.default_rng(seed)
    v = _alsfrs_r_rows(visits_scored)
    region = patients.set_index("patient_id")["onset_region"].astype("string")
    v = v.assign(
        months=v["day"].to_numpy(dtype=float) / DAYS_PER_MONTH,
        region=v["patient_id"].map(region).fillna("unknown").astype(str).to_numpy(),
    )
    ids = np.sort(v["patient_id"].unique().astype(str))
    chosen = rng.choice(ids, size=min(n_sample, len(ids)), replace=False) if len(ids) else ids
    sample = v.loc[v["patient_id"].isin(chosen)].sort_values(["patient_id", "day"], kind="stable")
    fig = go.Figure()
    for reg in _region_order(v["region"].unique().tolist()):
        s = sample.loc[sample["region"] == reg]
        if len(s):
            # A NaN row after each patient breaks the line between patients.
            pids = s["patient_id"].astype(str).to_numpy()
            brk = np.append(pids[1:] != pids[:-1], True)
            pos = np.arange(len(s)) + np.cumsum(brk) - brk
            x = np.full(len(s) + int(brk.sum()), np.nan)
            y = x.copy()
            x[pos], y[pos] = s["months"].to_numpy(), s["alsfrs_r_total"].to_numpy(dtype=float)
            fig.add_trace(
                go.Scatter(
                    x=x, y=y, mode="lines", name=f"{reg} (sample)", legendgroup=reg,
                    line={"color": _rgba(_colour(reg), 0.35), "width": 1},
                    connectgaps=False, hoverinfo="skip", showlegend=False,
                    meta={"kind": "sample", "group": reg,
                          "n_patients": int(s["patient_id"].nunique())},
                )
            )  # fmt: skip
        r = v.loc[(v["region"] == reg) & (v["months"] >= 0)]
        b = np.floor(r["months"].to_numpy() / bin_months)
        med = r.groupby(b)["alsfrs_r_total"].agg(["median", "size"])
        med = med.loc[med["size"] >= min_bin_visits]
        if len(med):
            centre = (med.index.to_numpy(dtype=float) + 0.5) * bin_months
            fig.add_trace(
                go.Scatter(
                    x=centre, y=med["median"].to_numpy(dtype=float), mode="lines",
                    name=f"{reg} (median, n={r['patient_id'].nunique()})", legendgroup=reg,
                    line={"color": _colour(reg), "width": 4},
                    customdata=med["size"].to_numpy(),
                    hovertemplate="%{x:.1f} months: median %{y:.1f} (%{customdata} visits)"
                    "<extra>" + reg + "</extra>",
                    meta={"kind": "median", "group": reg},
                )
            )  # fmt: skip
    fig.update_layout(
        title="ALSFRS-R total by months since onset",
        xaxis_title="months since symptom onset",
        yaxis={"title": "ALSFRS-R total (points)", "range": [0, 48.5]},
        legend_title="onset region",
        **_LAYOUT,
    )
    return fig


def _steps(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of a right-continuous step function through (x, y)."""
    return np.repeat(x, 2)[1:], np.repeat(y, 2)[:-1]


def _median_label(m: float) -> str:
    return "median not reached" if not np.isfinite(m) else f"median {m:.1f} mo"


def km_by_onset(
    patients: pd.DataFrame,
    events: pd.DataFrame,
    visits: pd.DataFrame,
    *,
    endpoints: Sequence[str] = ("death",),
    min_group_size: int = 5,
) -> go.Figure:
    """Kaplan–Meier survival from symptom onset by onset region.

    Parameters
    ----------
    patients, events, visits : DataFrame
        Canonical tables (days since onset).
    endpoints : sequence of str, default ("death",)
        Events that count; ``("death", "tracheostomy", "pav")`` gives the
        composite endpoint. Others are censored at last contact (latest visit,
        ``lost_to_follow_up`` or other event); see
        :func:`alsnet.report.summaries.survival_data`.
    min_group_size : int, default 5
        Onset regions with fewer patients get no curve.

    Returns
    -------
    plotly.graph_objects.Figure
        Per region a step line (``meta.kind == "km"``, ``meta.median_months``;
        hover shows the number at risk) and a 95% CI band
        (``meta.kind == "km_ci"``). The legend names n and the median.
    """
    surv = survival_data(patients, events, visits, endpoints=endpoints)
    fig = go.Figure()
    for g in km_groups(surv, min_group_size=min_group_size):
        kmf = g.fitter
        t = kmf.timeline.astype(float)
        s = kmf.survival_function_.iloc[:, 0].to_numpy(dtype=float)
        lo = kmf.confidence_interval_.iloc[:, 0].to_numpy(dtype=float)
        hi = kmf.confidence_interval_.iloc[:, 1].to_numpy(dtype=float)
        at_risk = kmf.event_table["at_risk"].reindex(kmf.timeline).to_numpy()
        xs, his = _steps(t, hi)
        _, los = _steps(t, lo)
        colour = _colour(g.label)
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([xs, xs[::-1]]), y=np.concatenate([his, los[::-1]]),
                fill="toself", fillcolor=_rgba(colour, 0.15), line={"width": 0},
                hoverinfo="skip", showlegend=False, legendgroup=g.label,
                meta={"kind": "km_ci", "group": g.label},
            )
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=t, y=s, mode="lines", line={"shape": "hv", "color": colour, "width": 2.5},
                name=f"{g.label} (n={g.n}, {_median_label(g.median_months)})",
                legendgroup=g.label, customdata=at_risk,
                hovertemplate="%{x:.1f} months: S = %{y:.2f}, at risk %{customdata}"
                "<extra>" + g.label + "</extra>",
                meta={"kind": "km", "group": g.label, "n": g.n, "n_events": g.n_events,
                      "median_months": g.median_months},
            )
        )  # fmt: skip
    what = " / ".join(endpoints)
    fig.update_layout(
        title=f"Survival from onset by onset region (endpoint: {what})",
        xaxis_title="months since symptom onset",
        yaxis={"title": "survival probability", "range": [0, 1.02]},
        legend_title="onset region",
        hovermode="closest",
        **_LAYOUT,
    )
    return fig


def stage_distribution(
    visits_scored: pd.DataFrame,
    *,
    stage: StageName = "kings",
    max_year: int | None = 8,
) -> go.Figure:
    """Stacked share of King's or MiToS stages by year since onset.

    Parameters
    ----------
    visits_scored : DataFrame
        ``patient_id``, ``day`` and the stage column (``kings`` or ``mitos``).
        Add death rows with :func:`alsnet.report.summaries.add_death_stage` to
        show stage 5.
    stage : {"kings", "mitos"}
        Staging system.
    max_year : int, optional, default 8
        Later years are pooled into this one.

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace per stage (``meta.kind == "stage"``); y = share of the
        patients staged in that year (each patient's latest stage in the year).
    """
    counts = stage_counts(visits_scored, stage=stage, max_year=max_year)
    n = counts.sum(axis=1)
    shares = counts.div(n.where(n > 0), axis=0)
    labels = [f"{y}–{y + 1}" for y in counts.index]
    if max_year is not None and len(counts) and counts.index.max() == max_year:
        labels[-1] = f"≥{max_year}"
    vocab = KINGS_STAGES if stage == "kings" else MITOS_STAGES
    fig = go.Figure()
    for code, colour in zip(vocab, _STAGE_COLOURS, strict=True):
        fig.add_trace(
            go.Bar(
                x=labels, y=shares[code].to_numpy(dtype=float), name=f"stage {code}",
                marker_color=colour, customdata=np.stack([counts[code], n], axis=-1),
                hovertemplate="stage " + code + ": %{y:.1%} (%{customdata[0]} of "
                "%{customdata[1]})<extra>%{x} years</extra>",
                meta={"kind": "stage", "group": code},
            )
        )  # fmt: skip
    name = "King's" if stage == "kings" else "MiToS"
    fig.update_layout(
        barmode="stack",
        title=f"{name} stage by year since onset",
        xaxis={"title": "years since symptom onset", "type": "category"},
        yaxis={"title": "share of patients", "tickformat": ".0%", "range": [0, 1]},
        legend_title=f"{name} stage",
        **_LAYOUT,
    )
    return fig


def site_overview(
    patients: pd.DataFrame,
    visits: pd.DataFrame,
    sites: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, go.Figure]:
    """Per-site table and bar chart of patients and deaths.

    Parameters
    ----------
    patients, visits : DataFrame
        Canonical tables.
    sites, events : DataFrame, optional
        Canonical sites and events (see
        :func:`alsnet.report.summaries.site_summary`).

    Returns
    -------
    table : DataFrame
        :func:`~alsnet.report.summaries.site_summary` (last row: all sites).
    figure : plotly.graph_objects.Figure
        Grouped bars per site: patients and deaths (``meta.kind`` = column).
    """
    table = site_summary(patients, visits, sites, events)
    per_site = table.iloc[:-1]
    fig = go.Figure()
    bars = [("patients", "#0072B2"), ("deaths", "#555555")]
    for col, colour in bars:
        if per_site[col].isna().all():
            continue
        fig.add_trace(
            go.Bar(
                x=per_site["site_id"].astype(str), y=per_site[col].to_numpy(dtype=float),
                name=col, marker_color=colour, meta={"kind": col},
            )
        )  # fmt: skip
    fig.update_layout(
        barmode="group",
        title="Patients and deaths per site",
        xaxis={"title": "site", "type": "category"},
        yaxis_title="patients",
        **_LAYOUT,
    )
    return table, fig


def progression_rate_hist(
    visits_scored: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    bin_width: float = 0.1,
    max_rate: float = 4.0,
) -> go.Figure:
    """Histogram of ΔFS at the first ALSFRS-R visit, by onset region.

    Parameters
    ----------
    visits_scored : DataFrame
        ``patient_id``, ``day`` and ``alsfrs_r_total``.
    patients : DataFrame
        ``patient_id`` and ``onset_region``.
    bin_width : float, default 0.1
        Bin width (points per month).
    max_rate : float, default 4
        Rates above this are shown in the last bin.

    Returns
    -------
    plotly.graph_objects.Figure
        One stacked histogram per region (``meta.kind == "delta_fs"`` with the
        region median in ``meta.median``); ΔFS = (48 − total) / months since onset.
    """
    rate = delta_fs_first_visit(_alsfrs_r_rows(visits_scored))
    region = patients.set_index("patient_id")["onset_region"].astype("string")
    reg = rate.index.to_series().map(region).fillna("unknown").astype(str)
    fig = go.Figure()
    for r in _region_order(reg.unique().tolist()):
        x = rate[reg.to_numpy() == r].to_numpy(dtype=float)
        med = float(np.median(x))
        fig.add_trace(
            go.Histogram(
                x=np.minimum(x, max_rate), name=f"{r} (n={len(x)}, median {med:.2f})",
                marker={"color": _colour(r), "line": {"width": 0.5, "color": "white"}},
                xbins={"start": 0.0, "end": max_rate + bin_width, "size": bin_width},
                meta={"kind": "delta_fs", "group": r, "n": len(x), "median": med},
            )
        )  # fmt: skip
    fig.update_layout(
        barmode="stack",
        title="Progression rate ΔFS at the first ALSFRS-R visit",
        xaxis_title=f"ΔFS (points per month; > {max_rate:g} shown at {max_rate:g})",
        yaxis_title="patients",
        legend_title="onset region",
        **_LAYOUT,
    )
    return fig


#: Horizons (months since onset) of the ENCALS predictions in ``encals_table``.
ENCALS_HORIZONS: tuple[int, ...] = (12, 24, 36, 60)
_GROUP_COLOURS = ("#1A9850", "#91CF60", "#FEE08B", "#FC8D59", "#D73027")


def encals_calibration(
    encals: pd.DataFrame,
    patients: pd.DataFrame,
    events: pd.DataFrame,
    visits: pd.DataFrame,
    *,
    n_groups: int = 5,
    endpoints: Sequence[str] = ("death", "tracheostomy", "pav"),
) -> tuple[pd.DataFrame, go.Figure]:
    """Observed Kaplan–Meier survival against ENCALS predictions, by risk group.

    Patients are split into ``n_groups`` quantile groups of the ENCALS linear
    predictor (group 1 = lowest predicted risk). Per group the figure shows the
    observed KM curve (``meta.kind == "km"``) and the mean predicted survival at
    12, 24, 36 and 60 months (markers, ``meta.kind == "predicted"``).

    Parameters
    ----------
    encals : DataFrame
        Output of ``alsnet.clinical.encals_table``: ``patient_id``, ``encals_lp``,
        ``encals_median_months`` and ``encals_s12`` .. ``encals_s60``. Rows with a
        missing prediction are left out.
    patients, events, visits : DataFrame
        Canonical tables for the observed survival.
    n_groups : int, default 5
        Number of risk groups.
    endpoints : sequence of str, default ("death", "tracheostomy", "pav")
        Observed endpoint (ENCALS: death, tracheostomy or > 23 h/day NIV).

    Returns
    -------
    table : DataFrame
        Per group: patients, events, observed KM median and predicted median
        (median over patients; months), observed vs mean predicted survival at
        each horizon.
    figure : plotly.graph_objects.Figure
    """
    pred = encals.loc[encals["encals_lp"].notna()].drop_duplicates("patient_id")
    surv = survival_data(patients, events, visits, endpoints=endpoints)
    surv = surv.merge(pred, on="patient_id", how="inner")
    fig = go.Figure()
    if len(surv) < n_groups:
        return pd.DataFrame(), fig
    labels = [f"group {i + 1}" for i in range(n_groups)]
    surv["risk_group"] = pd.qcut(surv["encals_lp"], n_groups, labels=labels).astype(str)
    groups = km_groups(surv, group="risk_group", min_group_size=1, order=labels)
    rows = []
    colours = _GROUP_COLOURS if n_groups == 5 else _STAGE_COLOURS * n_groups
    for g, colour in zip(groups, colours, strict=False):
        sub = surv.loc[surv["risk_group"] == g.label]
        kmf = g.fitter
        predicted = [float(sub[f"encals_s{h}"].mean()) for h in ENCALS_HORIZONS]
        observed = [float(v) for v in kmf.survival_function_at_times(list(ENCALS_HORIZONS))]
        pred_median = float(sub["encals_median_months"].median())
        fig.add_trace(
            go.Scatter(
                x=kmf.timeline, y=kmf.survival_function_.iloc[:, 0], mode="lines",
                line={"shape": "hv", "color": colour, "width": 2.5}, legendgroup=g.label,
                name=f"{g.label} observed (n={g.n}, {_median_label(g.median_months)})",
                meta={"kind": "km", "group": g.label, "median_months": g.median_months},
            )
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=list(ENCALS_HORIZONS), y=predicted, mode="markers+lines",
                line={"color": colour, "dash": "dot", "width": 1.5},
                marker={"symbol": "diamond", "size": 10, "color": colour,
                        "line": {"width": 1, "color": "#333"}},
                name=f"{g.label} predicted", legendgroup=g.label, showlegend=False,
                meta={"kind": "predicted", "group": g.label, "survival": predicted},
            )
        )  # fmt: skip
        row: dict[str, object] = {
            "risk group": g.label,
            "patients": g.n,
            "events": g.n_events,
            "observed median (months)": g.median_months,
            "predicted median (months)": pred_median,
        }
        for h, o, p in zip(ENCALS_HORIZONS, observed, predicted, strict=True):
            row[f"S({h} mo) observed"] = o
            row[f"S({h} mo) predicted"] = p
        rows.append(row)
    fig.update_layout(
        title="ENCALS: observed survival (lines) vs mean prediction (diamonds) by risk group",
        xaxis_title="months since symptom onset",
        yaxis={"title": "event-free survival", "range": [0, 1.02]},
        legend_title="ENCALS risk group (1 = lowest)",
        **_LAYOUT,
    )
    return pd.DataFrame(rows), fig
