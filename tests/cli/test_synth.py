"""`alsnet synth` through typer's CliRunner: files written, readable and deterministic."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alsnet.cli import app

runner = CliRunner()


def test_synth_writes_csv(tmp_path: Path) -> None:
    pytest.importorskip("alsnet.io.canonical", reason="alsnet.io.canonical not available yet")
    out = tmp_path / "cohort"
    res = runner.invoke(app, ["synth", "--patients", "40", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Cohort(patients=40" in res.stdout
    p = pd.read_csv(out / "patients.csv")
    assert len(p) == 40
    assert (out / "visits.csv").exists() and (out / "events.csv").exists()
    # same seed, same bytes
    out2 = tmp_path / "again"
    runner.invoke(app, ["synth", "-n", "40", "-s", "3", "-o", str(out2)])
    assert (out / "visits.csv").read_bytes() == (out2 / "visits.csv").read_bytes()


def test_synth_writes_parquet_and_reads_back(tmp_path: Path) -> None:
    canonical = pytest.importorskip("alsnet.io.canonical")
    res = runner.invoke(app, ["synth", "-n", "30", "--format", "parquet", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "visits.parquet").exists()
    if hasattr(canonical, "read_parquet"):
        from alsnet.synth import synthesize

        back = canonical.read_parquet(tmp_path)
        assert back.fingerprint == synthesize(30, seed=0).fingerprint


def test_synth_rejects_bad_arguments(tmp_path: Path) -> None:
    res = runner.invoke(app, ["synth", "-n", "0", "--out", str(tmp_path)])
    assert res.exit_code != 0
    res = runner.invoke(app, ["synth", "-n", "5", "--format", "xlsx", "--out", str(tmp_path)])
    assert res.exit_code != 0
