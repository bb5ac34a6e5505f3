"""render_report: offline, escaped, complete."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from alsnet.report.html import Section, Table, render_report

EVIL = "<script>alert(1)</script>"

_EXTERNAL = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.I
)


def _external_refs(html: str) -> list[str]:
    return _EXTERNAL.findall(html)


def _report(tmp_path: Path, **kw: object) -> str:
    fig1 = go.Figure(go.Bar(x=["a", EVIL], y=[1, 2], name=EVIL))
    fig2 = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))
    sections = [
        Section("First section", Markup("<p>Intro <em>text</em></p>"), figures=[fig1]),
        Section(
            "Second & last",
            "",
            figures=[fig2],
            tables=[
                pd.DataFrame({"site": [EVIL, "S2"], "n": [3, 1234], "x": [0.25, float("nan")]}),
                Table(pd.DataFrame({"a": [1.23456]}), caption=EVIL, float_digits=3),
            ],
        ),
    ]
    out = render_report(
        EVIL, sections, tmp_path / "sub" / "r.html", provenance={"seed": 42, "note": EVIL, **kw}
    )
    assert out == tmp_path / "sub" / "r.html"
    return out.read_text(encoding="utf-8")


def test_self_contained_with_plotly_once(tmp_path: Path) -> None:
    html = _report(tmp_path)
    assert _external_refs(html) == []
    assert "cdn.plot.ly" not in html.replace(get_plotlyjs(), "")
    # The bundle is inlined exactly once, and every figure is drawn.
    assert html.count(get_plotlyjs()[:300]) == 1
    assert html.count("Plotly.newPlot(") == 2
    assert 'id="fig-1-1"' in html and 'id="fig-2-1"' in html


def test_external_ref_detector_detects() -> None:
    assert _external_refs('<script src="https://cdn.plot.ly/plotly.js"></script>')
    assert _external_refs("<link rel=stylesheet href='//x.org/a.css'>")
    assert not _external_refs('<script type="text/javascript">var a = "https://x";</script>')


def test_titles_toc_tables_and_provenance(tmp_path: Path) -> None:
    html = _report(tmp_path, generated_at="2024-01-01 00:00:00 UTC")
    assert '<a href="#sec-1">First section</a>' in html
    assert '<a href="#sec-2">Second &amp; last</a>' in html
    assert '<section id="sec-2">' in html
    assert "<p>Intro <em>text</em></p>" in html  # trusted text_html kept as markup
    assert ">1,234</td>" in html and ">0.2</td>" in html and ">–</td>" in html
    assert ">1.235</td>" in html
    assert "2024-01-01 00:00:00 UTC" in html
    assert "<dt>seed</dt><dd>42</dd>" in html
    assert re.search(r"<dt>alsnet version</dt><dd>\d+\.\d+", html)


def test_text_is_escaped(tmp_path: Path) -> None:
    html = _report(tmp_path)
    without_bundle = html.replace(get_plotlyjs(), "")
    assert EVIL not in without_bundle
    assert "alert(1)" in without_bundle  # it is there, but inert
    assert (
        without_bundle.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4
    )  # title x2, cell, caption, note
    # Only our own script tags: the bundle and one per figure.
    assert len(re.findall(r"<script\b", without_bundle, re.I)) == 1 + 2


def test_no_plotly_without_figures(tmp_path: Path) -> None:
    out = render_report("t", [Section("only text", "<p>x</p>")], tmp_path / "t.html")
    html = out.read_text(encoding="utf-8")
    assert "<script" not in html
    assert len(html) < 20_000
