"""`alsnet import` / `alsnet export` end to end, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.io.canonical import read_csv, write_csv
from alsnet.registry import Store
from alsnet.synth import synthesize

runner = CliRunner()


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cohort")
    write_csv(synthesize(60, seed=11), d)
    return d


def _invoke(*args: str, env: dict[str, str] | None = None) -> object:
    return runner.invoke(app, list(args), env=env)


def test_import_export_roundtrip_and_idempotence(
    cohort_dir: Path, db_url: str, tmp_path: Path
) -> None:
    r = _invoke("import", "csv", str(cohort_dir), "--keep-ids", "--db", db_url)
    assert r.exit_code == 0, r.output  # type: ignore[attr-defined]
    assert "60 new" in r.output  # type: ignore[attr-defined]
    again = _invoke("import", "csv", str(cohort_dir), "--keep-ids", "--db", db_url)
    assert again.exit_code == 0 and "nothing changed" in again.output  # type: ignore[attr-defined]
    out = tmp_path / "export"
    ex = _invoke("export", "csv", str(out), "--db", db_url)
    assert ex.exit_code == 0, ex.output  # type: ignore[attr-defined]
    assert read_csv(out) == read_csv(cohort_dir)
    om = _invoke("export", "omop", str(tmp_path / "omop"), "--db", db_url)
    assert om.exit_code == 0, om.output  # type: ignore[attr-defined]
    assert (tmp_path / "omop" / "person.csv").exists()


def test_bad_file_writes_nothing(cohort_dir: Path, db_url: str, tmp_path: Path) -> None:
    assert _invoke("import", "csv", str(cohort_dir), "--keep-ids", "--db", db_url).exit_code == 0
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in cohort_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    v = pd.read_csv(bad / "visits.csv", dtype=str, keep_default_na=False)
    row = int((v["q1"] != "").to_numpy().argmax())
    v.loc[row, "q1"] = "7"
    v.to_csv(bad / "visits.csv", index=False)
    p = pd.read_csv(bad / "patients.csv", dtype=str, keep_default_na=False)
    p["patient_id"] = "NEW-" + p["patient_id"]  # would be new patients if accepted
    p.to_csv(bad / "patients.csv", index=False)
    with Store.open(db_url) as store:
        before = store.counts()
    r = _invoke("import", "csv", str(bad), "--keep-ids", "--db", db_url)
    assert r.exit_code == 1
    assert f"visits.csv, line {row + 2}, column 'q1'" in r.output  # type: ignore[attr-defined]
    with Store.open(db_url) as store:
        assert store.counts() == before


def test_pseudonymised_import_needs_a_secret(
    cohort_dir: Path, sqlite_url: str, tmp_path: Path
) -> None:
    r = _invoke(
        "import", "csv", str(cohort_dir), "--db", sqlite_url, env={"ALSNET_SITE_SECRET": ""}
    )
    assert r.exit_code == 2 and "--keep-ids" in r.output  # type: ignore[attr-defined]
    key = tmp_path / "site.key"
    key.write_text("a-long-enough-site-secret-0123456789")
    ok = _invoke("import", "csv", str(cohort_dir), "--db", sqlite_url, "--secret-file", str(key))
    assert ok.exit_code == 0, ok.output  # type: ignore[attr-defined]
    with Store.open(sqlite_url) as store:
        stored = set(store.load().patients["patient_id"])
    original = set(pd.read_csv(cohort_dir / "patients.csv")["patient_id"])
    assert len(stored) == 60 and not stored & original
