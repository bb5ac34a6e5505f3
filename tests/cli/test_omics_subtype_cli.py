"""CLI tests for ``alsnet omics ingest`` and ``alsnet omics subtype`` (small simulations)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.cli.omics import GATE_REFUSED_EXIT
from alsnet.omics import OmicsSimParams, simulate_arrays
from alsnet.omics.io import write_counts

anndata = pytest.importorskip("anndata")
runner = CliRunner()


def _write_sim(
    d: Path, params: OmicsSimParams, seed: int = 1, size: tuple[int, int] = (60, 400)
) -> tuple[Path, Path, pd.DataFrame]:
    sim = simulate_arrays(*size, seed=seed, params=params)
    counts = write_counts(
        pd.DataFrame(sim.counts.T, index=sim.var.index, columns=sim.obs.index), d / "counts.csv"
    )
    meta = d / "meta.csv"
    cols = ["sample_id", "patient_id", "site", "platform", "tissue"]
    sim.obs.reset_index()[cols].to_csv(meta, index=False)
    return counts, meta, sim.obs


@pytest.fixture(scope="module")
def corrected_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, pd.DataFrame]:
    d = tmp_path_factory.mktemp("omics_sub")
    return _write_sim(d, OmicsSimParams(platform_sd=0.0, module_lfc=1.0))


def test_ingest_writes_h5ad_and_qc_report(
    corrected_files: tuple[Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    counts, meta, obs = corrected_files
    out = tmp_path / "x.h5ad"
    r = runner.invoke(
        app,
        [
            *("omics", "ingest", str(counts), "--meta", str(meta), "--out", str(out)),
            *("--report", str(tmp_path / "qc"), "--batch", "site"),
        ],
    )
    assert r.exit_code == 0, r.output
    adata = anndata.read_h5ad(out)
    assert adata.n_obs == len(obs) and adata.X.dtype == np.int64
    assert {"qc_library_size", "qc_outlier", "site"} <= set(adata.obs.columns)
    assert (tmp_path / "qc" / "report.html").exists()


def test_ingest_drop_outliers(corrected_files: tuple[Path, Path, pd.DataFrame], tmp_path: Path):
    counts, meta, obs = corrected_files
    frame = pd.read_csv(counts, index_col=0)
    frame.iloc[:, 0] = frame.iloc[:, 0] // 20  # one sample with 20x fewer reads
    bad = write_counts(frame, tmp_path / "c.csv")
    out = tmp_path / "x.h5ad"
    r = runner.invoke(
        app,
        ["omics", "ingest", str(bad), "-m", str(meta), "-o", str(out), "--drop-outliers"],
    )
    assert r.exit_code == 0, r.output
    adata = anndata.read_h5ad(out)
    assert frame.columns[0] not in adata.obs_names
    assert adata.n_obs < len(obs)


def test_ingest_bad_counts_exit_1(corrected_files: tuple[Path, Path, pd.DataFrame], tmp_path: Path):
    counts, meta, _ = corrected_files
    lines = counts.read_text().splitlines()
    fields = lines[3].split(",")
    fields[2] = "-4"
    lines[3] = ",".join(fields)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    r = runner.invoke(
        app, ["omics", "ingest", str(bad), "-m", str(meta), "-o", str(tmp_path / "x")]
    )
    assert r.exit_code == 1
    assert "bad.csv, line 4" in r.stderr and "non-negative" in r.stderr


def test_ingest_links_registry_patients(tmp_path: Path) -> None:
    from alsnet.registry import Store
    from alsnet.synth import synthesize

    cohort = synthesize(8, seed=2)
    url = f"sqlite:///{tmp_path}/registry.db"
    with Store.open(url) as store:
        store.save(cohort)
    known = list(cohort.patients["patient_id"].astype(str))
    sim = simulate_arrays(8, 50, seed=0)
    pid = sim.obs["patient_id"].astype(str)
    mapping = dict(zip(sorted(pid.unique()), known, strict=False))
    meta = sim.obs.reset_index()[["sample_id", "site"]]
    meta["patient_id"] = pid.map(mapping).to_numpy()
    meta.loc[0, "patient_id"] = "NOT_IN_REGISTRY"
    meta.to_csv(tmp_path / "meta.csv", index=False)
    counts = write_counts(
        pd.DataFrame(sim.counts.T, index=sim.var.index, columns=sim.obs.index), tmp_path / "c.csv"
    )
    out = tmp_path / "x.h5ad"
    r = runner.invoke(
        app,
        [
            *("omics", "ingest", str(counts), "-m", str(tmp_path / "meta.csv")),
            *("-o", str(out), "--db", url),
        ],
    )
    assert r.exit_code == 0, r.output
    assert "1 sample(s) have a patient_id not found" in r.stderr
    assert "metadata lines 2" in r.stderr and "NOT_IN_REGISTRY" not in r.stderr
    adata = anndata.read_h5ad(out)
    assert adata.obs["in_registry"].sum() == adata.n_obs - 1


def test_subtype_recovers_and_writes_assignments(
    corrected_files: tuple[Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    counts, meta, obs = corrected_files
    out = tmp_path / "sub"
    r = runner.invoke(
        app,
        [
            *("omics", "subtype", str(counts), "--meta", str(meta)),
            *("--batch", "site", "--k", "2..4", "--resamples", "10", "--out", str(out)),
        ],
    )
    assert r.exit_code == 0, r.output
    a = pd.read_csv(out / "assignments.csv", dtype={"subtype": str})
    assert list(a.columns) == ["sample_id", "subtype", "probability"]
    assert list(a["sample_id"]) == list(obs.index)
    assert a["probability"].between(0, 1).all()
    assert adjusted_rand_score(obs["subtype"].astype(str), a["subtype"]) > 0.8
    assert a["subtype"].nunique() == 3
    p = pd.read_csv(out / "patients.csv")
    assert set(p["status"]) <= {"single", "concordant", "discordant", "unassigned"}
    html = (out / "report.html").read_text()
    assert "PCA by subtype" in html or "UMAP by subtype" in html
    assert "Consensus matrix, k = 4" in html


def test_subtype_gate_refuses_without_correction(tmp_path: Path) -> None:
    counts, meta, _ = _write_sim(
        tmp_path, OmicsSimParams(site_sd=0.8, platform_sd=0.0, module_lfc=0.5), seed=1
    )
    out = tmp_path / "sub"
    r = runner.invoke(
        app,
        [
            *("omics", "subtype", str(counts), "-m", str(meta)),
            *("--k", "2..4", "--resamples", "8", "--out", str(out)),
        ],
    )
    assert r.exit_code == GATE_REFUSED_EXIT
    assert "ARI vs site" in r.stderr and "not published" in r.stderr
    assert (out / "report.html").exists()
    assert not (out / "assignments.csv").exists()


def test_subtype_combined_batches(tmp_path: Path) -> None:
    # off-platform samples form their own cluster unless site x platform is corrected
    counts, meta, obs = _write_sim(tmp_path, OmicsSimParams(module_lfc=1.0), seed=1, size=(80, 600))
    out = tmp_path / "sub"
    r = runner.invoke(
        app,
        [
            *("omics", "subtype", str(counts), "-m", str(meta), "--batch", "site"),
            *("--batch", "platform", "--k", "2..4", "--resamples", "10", "--out", str(out)),
        ],
    )
    assert r.exit_code == 0, r.output
    a = pd.read_csv(out / "assignments.csv", dtype={"subtype": str})
    assert adjusted_rand_score(obs["subtype"].astype(str), a["subtype"]) > 0.8
    # site alone leaves the off-platform samples as their own clusters: refused by purity
    site_only = tmp_path / "site_only"
    r1 = runner.invoke(
        app,
        [
            *("omics", "subtype", str(counts), "-m", str(meta), "--batch", "site"),
            *("--k", "2..4", "--resamples", "10", "--out", str(site_only)),
        ],
    )
    assert r1.exit_code == GATE_REFUSED_EXIT, r1.output
    assert "clusters made of one batch" in r1.stderr and "platform" in r1.stderr
    assert not (site_only / "assignments.csv").exists()
    r2 = runner.invoke(
        app,
        ["omics", "subtype", str(counts), "-m", str(meta), "--batch", "centre", "-o", str(out)],
    )
    assert r2.exit_code == 1 and "batch column not found" in r2.stderr


def test_subtype_nmf_method_and_bad_method(
    corrected_files: tuple[Path, Path, pd.DataFrame], tmp_path: Path
) -> None:
    counts, meta, _ = corrected_files
    base = ["omics", "subtype", str(counts), "--meta", str(meta), "--batch", "site"]
    args = [*base, "--k", "3", "--resamples", "5", "--method", "nmf"]
    r = runner.invoke(app, [*args, "--out", str(tmp_path / "nmf")])
    # NMF on uncorrected tissues may be gated out; either way it ran and reported
    assert r.exit_code in (0, GATE_REFUSED_EXIT), r.output
    assert (tmp_path / "nmf" / "report.html").exists()
    bad = runner.invoke(app, [*base, "--method", "magic", "--out", str(tmp_path / "bad")])
    assert bad.exit_code not in (0, GATE_REFUSED_EXIT) and "method" in bad.output
