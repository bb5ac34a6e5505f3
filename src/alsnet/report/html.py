"""Render report sections into one self-contained, offline HTML file.

plotly.js is inlined once in the page head (no CDN, no network at view time);
each figure is a ``<div>`` plus a small inline script. Every piece of text
(titles, captions, table cells, provenance) goes through Jinja2 autoescaping;
only :attr:`Section.text_html` is trusted markup written by the caller.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape
from plotly.offline import get_plotlyjs

__all__ = ["Section", "Table", "escape", "render_report"]

logger = logging.getLogger(__name__)

_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["lasso2d"]}


@dataclass(frozen=True)
class Table:
    """A table shown in a section.

    Parameters
    ----------
    frame : DataFrame
        Shown as is (index dropped); cells are escaped.
    caption : str
        Caption above the table (plain text).
    float_digits : int, default 1
        Decimals shown for floats; missing values show as "–".
    """

    frame: pd.DataFrame
    caption: str = ""
    float_digits: int = 1


@dataclass(frozen=True)
class Section:
    """One section of a report (an entry of the table of contents).

    Parameters
    ----------
    title : str
        Heading (plain text, escaped).
    text_html : str
        Introductory HTML written by the caller and rendered **unescaped**.
        Interpolate data only through :class:`markupsafe.Markup` formatting
        (``Markup("<p>{}</p>").format(value)``) or :func:`escape`.
    figures : sequence of plotly Figure
        Figures shown after the text.
    tables : sequence of DataFrame or Table
        Tables shown after the figures.
    """

    title: str
    text_html: str = ""
    figures: Sequence[go.Figure] = field(default_factory=tuple)
    tables: Sequence[pd.DataFrame | Table] = field(default_factory=tuple)


def _cell(value: object, digits: int) -> str:
    if value is None or value is pd.NA or value is pd.NaT:
        return "–"
    if isinstance(value, float | np.floating):
        if np.isnan(value):
            return "–"
        if np.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:,.{digits}f}"
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return f"{value:,}"
    return str(value)


def _table_context(t: pd.DataFrame | Table) -> dict[str, object]:
    table = t if isinstance(t, Table) else Table(t)
    df = table.frame
    numeric = [pd.api.types.is_numeric_dtype(df[c].dtype) for c in df.columns]
    rows = [
        [_cell(v, table.float_digits) for v in row] for row in df.itertuples(index=False, name=None)
    ]
    return {
        "caption": table.caption,
        "columns": [str(c) for c in df.columns],
        "numeric": numeric,
        "rows": rows,
    }


def _figure_html(fig: go.Figure, div_id: str) -> Markup:
    height = fig.layout.height or 460
    html = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config=_PLOTLY_CONFIG,
        default_width="100%",
        default_height=f"{height}px",
        validate=False,
    )
    return Markup(html)  # plotly escapes '<' in its JSON payload


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("alsnet.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_report(
    title: str,
    sections: Sequence[Section],
    out_path: str | Path,
    *,
    provenance: Mapping[str, object] | None = None,
) -> Path:
    """Write a self-contained HTML report.

    Parameters
    ----------
    title : str
        Report title (plain text).
    sections : sequence of Section
        Sections in order; each gets an anchor ``sec-<i>`` and a TOC entry.
    out_path : str or Path
        Output file (parent directories are created).
    provenance : mapping, optional
        Shown in the footer after the alsnet version and the generation time,
        e.g. ``{"data fingerprint": cohort.fingerprint, "seed": 0}``. A
        ``generated_at`` entry overrides the current UTC time (for reproducible
        files).

    Returns
    -------
    Path
        ``out_path``.
    """
    from alsnet import __version__

    prov = dict(provenance or {})
    generated = prov.pop("generated_at", None) or datetime.now(UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )
    footer: dict[str, object] = {"generated at": generated}
    if not any(str(k).lower().startswith("alsnet") for k in prov):
        footer = {"alsnet version": __version__, **footer}
    footer.update({str(k): v for k, v in prov.items()})
    ctx_sections = []
    for i, sec in enumerate(sections, start=1):
        ctx_sections.append(
            {
                "anchor": f"sec-{i}",
                "title": sec.title,
                "text_html": Markup(sec.text_html),
                "figures": [
                    _figure_html(f, f"fig-{i}-{j}") for j, f in enumerate(sec.figures, start=1)
                ],
                "tables": [_table_context(t) for t in sec.tables],
            }
        )
    has_figures = any(s.figures for s in sections)
    html = (
        _environment()
        .get_template("report.html")
        .render(
            title=title,
            sections=ctx_sections,
            provenance=[(k, _cell(v, 6)) for k, v in footer.items()],
            plotlyjs=Markup(get_plotlyjs()) if has_figures else None,
        )
    )
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    logger.info("wrote report %s (%.1f MB)", out, len(html.encode()) / 1e6)
    return out
