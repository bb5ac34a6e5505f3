"""Digital-twin evaluation report: fans, calibration plot, metrics tables, files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from alsnet.report.twin import (
    TWIN_SECTION,
    calibration_figure,
    fan_figure,
    metrics_table,
    twin_section,
    write_evaluation,
)
from alsnet.synth import synthesize
from alsnet.twin.baselines import LastSlope
from alsnet.twin.evaluate import evaluate


@pytest.fixture(scope="module")
def ev():  # type: ignore[no-untyped-def]
    return evaluate(synthesize(240, seed=9), forecasters={"last-slope": LastSlope}, n_fans=3)


def test_calibration_figure_plots_every_level(ev) -> None:  # type: ignore[no-untyped-def]
    fig = calibration_figure(ev.calibration)
    kinds = [t.meta["kind"] for t in fig.data]
    assert kinds.count("diagonal") == 1
    cal = [t for t in fig.data if t.meta["kind"] == "calibration"]
    assert len(cal) == 2  # one model x two horizons
    exp = ev.calibration.query("kind == 'quantile' and outcome == 'alsfrs_r_total'")
    first = exp.loc[exp["horizon"] == cal[0].meta["horizon"]].sort_values("nominal")
    assert list(cal[0].y) == list(first["observed"])


def test_fan_figure_marks_seen_and_unseen_visits(ev) -> None:  # type: ignore[no-untyped-def]
    fig = fan_figure(ev.fans, ev.fan_observed)
    kinds = [t.meta["kind"] for t in fig.data]
    assert kinds.count("mean") == 3 and kinds.count("band") == 6
    seen = [t for t in fig.data if t.meta["kind"] == "observed" and t.meta["conditioned"]]
    assert sum(len(t.x) for t in seen) == int(ev.fan_observed["conditioned"].sum())


def test_section_and_files(ev, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sec = twin_section(ev)
    assert sec.title == TWIN_SECTION and len(sec.figures) == 2
    t = metrics_table(ev)
    assert "RMSE 12 mo" in t.columns and "C-index" in t.columns
    html, csv = write_evaluation(ev, tmp_path / "out")
    assert html.is_file() and "Calibration of predictive quantiles" in html.read_text("utf-8")
    assert pd.read_csv(csv).shape[0] == len(ev.metrics)


def test_demo_twin_evaluation_is_small_and_complete() -> None:
    from alsnet.demo import twin_evaluation

    ev = twin_evaluation(synthesize(260, seed=12), max_patients=200)
    assert ev.settings["n_train"] + ev.settings["n_test"] == 200
    assert {"twin", "last-slope", "encals"} <= set(ev.metrics["model"])
    assert set(ev.fans["model"]) == {"twin", "last-slope"}
