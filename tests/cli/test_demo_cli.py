"""`alsnet demo` end to end on a small synthetic cohort (real SQLite file, real report)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.registry import Store
from alsnet.report.domains import DOMAIN_SECTIONS


def test_demo_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--patients", "150", "--seed", "3", "--trials", "50"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text(encoding="utf-8")
    for title in ("ALSFRS-R", "Kaplan", "King", "MiToS", *DOMAIN_SECTIONS):
        assert title in html
    assert "Molecular stratification" in html and "Trial matching" in html
    fed = pd.read_csv(out / "federated.csv")
    assert (fed["rel_diff"] < 1e-6).all() and "cox" in set(fed["analysis"])
    with Store.open(f"sqlite:///{out / 'registry.db'}", create=False) as store:
        assert store.counts()["patients"] == 150
    enc = pd.read_csv(out / "encals.csv")
    # untested C9orf72 blanks the paper model only; the TRICALS profile needs no genetics
    assert len(enc) == 150 and enc["tricals_lp"].notna().mean() > 0.9
    # Re-running is idempotent: same cohort, nothing duplicated.
    res2 = CliRunner().invoke(app, [*args[:-2], "--trials", "0"])
    assert res2.exit_code == 0, res2.output
    html2 = (out / "report.html").read_text(encoding="utf-8")
    assert DOMAIN_SECTIONS[1] not in html2 and DOMAIN_SECTIONS[2] in html2
    with Store.open(f"sqlite:///{out / 'registry.db'}", create=False) as store:
        assert store.counts()["patients"] == 150


def test_db_status_and_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    runner = CliRunner()
    missing = runner.invoke(app, ["db", "status", "--db", url])
    assert missing.exit_code == 2 and "no registry database" in missing.output
    up = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert up.exit_code == 0, up.output
    st = runner.invoke(app, ["db", "status", "--db", url])
    assert st.exit_code == 0 and "patients" in st.output and "revision" in st.output
