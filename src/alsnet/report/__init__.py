"""HTML report building blocks: Plotly figures, Jinja2 template, the demo report.

Reports render results; they compute nothing beyond the small aggregations they
plot. The output is one self-contained HTML file that works offline.
"""

from __future__ import annotations

from alsnet.report.demo import DEMO_SECTIONS, ENCALS_SECTION, demo_report
from alsnet.report.figures import (
    alsfrs_trajectories,
    encals_calibration,
    km_by_onset,
    progression_rate_hist,
    site_overview,
    stage_distribution,
)
from alsnet.report.html import Section, Table, render_report

__all__ = [
    "DEMO_SECTIONS",
    "ENCALS_SECTION",
    "Section",
    "Table",
    "alsfrs_trajectories",
    "demo_report",
    "encals_calibration",
    "km_by_onset",
    "progression_rate_hist",
    "render_report",
    "site_overview",
    "stage_distribution",
]
