"""`alsnet twin procova` and `alsnet twin dream` through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.synth import synthesize
from alsnet.twin import TARGET, procova_power, window_features

runner = CliRunner()


def test_procova_power_mode() -> None:
    res = runner.invoke(app, ["twin", "procova", "--rho", "0.5", "--n", "300", "--delta", "0.3"])
    assert res.exit_code == 0, res.output
    assert "N_adj = 225.0" in res.output
    assert "0.7500" in res.output
    expect = float(procova_power(n=300, delta=0.3, sigma=1.0, rho=0.5))
    assert f"{expect:.4f}" in res.output


def test_procova_sample_size_mode() -> None:
    res = runner.invoke(app, ["twin", "procova", "--rho", "0.5", "--delta", "0.5"])
    assert res.exit_code == 0, res.output
    assert "98" in res.output and "128" in res.output


def test_procova_needs_n_or_delta() -> None:
    res = runner.invoke(app, ["twin", "procova", "--rho", "0.5"])
    assert res.exit_code != 0


def test_dream_command_on_a_dream_shaped_file(tmp_path: Path) -> None:
    f = window_features(synthesize(200, seed=3))
    f = f.loc[f[TARGET].notna()].rename(columns={TARGET: "dFRS"})
    f.insert(0, "testset", np.arange(len(f)) % 3 == 0)
    p = tmp_path / "als.csv.gz"
    f.to_csv(p, index=False)
    res = runner.invoke(
        app,
        [
            "twin",
            "dream",
            "--data",
            str(p),
            "--candidates",
            "mean,ridge",
            "--model",
            "ridge",
            "--folds",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "3-fold CV" in res.output and "test (once)" in res.output
    assert "0.5090" in res.output  # reference random forest row


@pytest.mark.parametrize("args", [["--data", "/nonexistent/als.csv.gz"]])
def test_dream_missing_file(args: list[str]) -> None:
    res = runner.invoke(app, ["twin", "dream", *args])
    assert res.exit_code == 2
    assert "not found" in res.output
