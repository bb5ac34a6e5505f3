"""The demo report end to end (toy cohort; optional headless-browser check)."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from markupsafe import escape
from plotly.offline import get_plotlyjs

from alsnet.report import DEMO_SECTIONS, demo_report
from alsnet.report.demo import ENCALS_SECTION

from ._data import make_cohort

EVIL = "<script>alert(1)</script>"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cohort, vs = make_cohort(150, seed=11, site_ids=("S01", EVIL, "S03"))
    out = tmp_path_factory.mktemp("demo") / "demo.html"
    return demo_report(cohort, vs, out, provenance={"seed": 5, "generator": "toy"})


def test_demo_sections_and_provenance(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    for title in DEMO_SECTIONS:
        assert f"{escape(title)}</a></li>" in html
    assert html.count("Plotly.newPlot(") == 6
    assert "<dt>seed</dt><dd>5</dd>" in html
    assert re.search(r"<dt>data fingerprint</dt><dd>[0-9a-f]{64}</dd>", html)
    assert report.stat().st_size < 10e6


def test_demo_escapes_site_names_and_is_offline(report: Path) -> None:
    html = report.read_text(encoding="utf-8").replace(get_plotlyjs(), "")
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the site table cell
    assert not re.search(r"<(script|link)\b[^>]*(src|href)\s*=", html, re.I)
    assert len(re.findall(r"<script\b", html, re.I)) == 1 + 6


def _has_modules(*names: str) -> bool:
    try:
        mods = [importlib.import_module(n) for n in names]
    except ImportError:
        return False
    return hasattr(mods[0], "synthesize") and hasattr(mods[1], "stage_visits")


@pytest.mark.skipif(
    not _has_modules("alsnet.synth", "alsnet.clinical"),
    reason="alsnet.synth.synthesize / alsnet.clinical.stage_visits not available yet",
)
def test_demo_with_synthetic_cohort(tmp_path: Path) -> None:
    synth = importlib.import_module("alsnet.synth")
    clinical = importlib.import_module("alsnet.clinical")
    cohort = synth.synthesize(150, seed=1)
    scored = clinical.stage_visits(cohort.visits, cohort.events)
    baseline = importlib.import_module("alsnet.clinical.baseline")
    encals = clinical.encals_table(
        baseline.encals_baseline(cohort.patients, cohort.visits), errors="flag"
    )
    out = demo_report(
        cohort, scored, tmp_path / "d.html",
        provenance={"alsnet": "x", "seed": 1, "fingerprint": cohort.fingerprint}, encals=encals,
    )  # fmt: skip
    html = out.read_text(encoding="utf-8")
    assert all(escape(t) in html for t in (*DEMO_SECTIONS, ENCALS_SECTION))
    assert html.count("fingerprint</dt>") == 1
    assert html.count("Plotly.newPlot(") == 7


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed: no headless render check")
def test_demo_renders_in_headless_chromium(report: Path, tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image", reason="Pillow needed to read the screenshot")
    png = tmp_path / "shot.png"
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
        "--window-size=1200,2000", "--virtual-time-budget=5000", report.as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, check=False, capture_output=True, timeout=120)
    assert png.exists(), "chromium wrote no screenshot"
    with pil.open(png) as im:
        rgb = np.asarray(im.convert("RGB"), dtype=np.int16)
    assert rgb.shape[:2] == (2000, 1200)
    # Not blank: many distinct colours and a fair share of non-white pixels.
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    non_white = (rgb.sum(axis=-1) < 740).mean()
    assert len(colours) > 50
    assert non_white > 0.05
    # Plotly drew the figures: its brand colours of our bars (#0072B2) appear.
    assert (np.abs(rgb - np.array([0, 114, 178])).sum(axis=-1) < 30).sum() > 1000
