"""`alsnet federated run / policy check / audit` end to end on canonical CSV sites."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from alsnet.cli import app
from alsnet.io.canonical import write_csv


def test_run_cox_km_summary_and_audit(tmp_path, site_cohorts):
    dirs = []
    for s, c in list(site_cohorts.items())[:3]:
        d = tmp_path / s
        write_csv(c, d)
        dirs += ["--site", str(d)]
    runner = CliRunner()
    out = tmp_path / "cox.json"
    r = runner.invoke(
        app,
        ["federated", "run", "cox", *dirs, "--covariates", "age_onset,sex_male", "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert set(res["coef"]) == {"age_onset", "sex_male"} and set(res["se"]) == set(res["coef"])
    for analysis in ("km", "summary"):
        o = tmp_path / f"{analysis}.json"
        r = runner.invoke(app, ["federated", "run", analysis, *dirs, "--out", str(o)])
        assert r.exit_code == 0, r.output
        assert json.loads(o.read_text())["table"]
    r = runner.invoke(app, ["federated", "audit", dirs[1]])
    assert r.exit_code == 0 and "hash chain intact" in r.output


def test_policy_check(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("site_id: NL01\njurisdiction: eu_gdpr\nmin_cell: 5\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("site_id: NL01\nmin_rows: zero\n")
    runner = CliRunner()
    assert runner.invoke(app, ["federated", "policy", "check", str(good)]).exit_code == 0
    r = runner.invoke(app, ["federated", "policy", "check", str(bad)])
    assert r.exit_code == 1
    assert "min_rows" in r.stderr


def test_export_cli_releases_and_refuses(tmp_path, site_cohorts):
    site_id, cohort = next(iter(site_cohorts.items()))
    d = tmp_path / site_id
    write_csv(cohort, d)
    open_policy = tmp_path / "open.yaml"
    open_policy.write_text(f"site_id: {site_id}\nallow_export: true\nexport_k: 5\n")
    closed = tmp_path / "closed.yaml"
    closed.write_text(f"site_id: {site_id}\n")
    runner = CliRunner()
    out = tmp_path / "export"
    args = ["federated", "export", "--site", str(d), "--out", str(out)]
    r = runner.invoke(app, [*args, "--policy", str(open_policy)])
    assert r.exit_code == 0, r.output
    report = json.loads((out / "export_report.json").read_text())
    assert report["anonymity"]["smallest_released_class"] >= 5
    refused = tmp_path / "refused"
    r = runner.invoke(app, [*args[:-1], str(refused), "--policy", str(closed)])
    assert r.exit_code != 0 and "allow_export" in r.output
    assert not refused.exists()
    r = runner.invoke(app, ["federated", "audit", str(d)])
    assert "export released" in r.output and "export refused" in r.output
