"""CLI commands: ``alsnet federated run | demo | export | policy check | audit``."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from alsnet.cli._common import console, handle_errors

__all__ = ["register"]

fed = typer.Typer(help="Federated analyses over sites that keep their data.", no_args_is_help=True)
policy_app = typer.Typer(help="Site disclosure policies.", no_args_is_help=True)


def _load_sites(sites_yaml: Path | None, site_dirs: list[Path], audit: bool) -> list[Any]:
    """Sites from SITES.yaml (entries: dir, policy) or from --site directories."""
    from alsnet.federated import Policy, Site
    from alsnet.federated.audit import AUDIT_FILE
    from alsnet.federated.errors import PolicyError
    from alsnet.io.canonical import read_csv

    entries: list[tuple[Path, Policy | None]] = []
    if sites_yaml is not None:
        spec = yaml.safe_load(sites_yaml.read_text(encoding="utf-8")) or {}
        base = sites_yaml.parent
        for i, item in enumerate(spec.get("sites", [])):
            if not isinstance(item, dict) or "dir" not in item:
                raise PolicyError([])  # pragma: no cover - reported below
            pol = item.get("policy")
            policy = Policy.from_yaml(base / pol) if isinstance(pol, str) else None
            if isinstance(pol, dict):
                policy = Policy.from_mapping(pol, source=f"{sites_yaml.name} site {i + 1}")
            entries.append((base / item["dir"], policy))
    entries += [(d, None) for d in site_dirs]
    if not entries:
        raise typer.BadParameter("give --sites SITES.yaml or at least one --site DIR")
    out = []
    for d, policy in entries:
        cohort = read_csv(d, keep_ids=True)
        ids = cohort.patients["site_id"].astype(str).unique()
        site_id = str(ids[0]) if len(ids) == 1 else d.name
        policy = policy or Policy.default(site_id)
        out.append(
            Site(
                cohort, policy, key=secrets.token_bytes(32), audit=d / AUDIT_FILE if audit else None
            )
        )
    return out


def run(
    analysis: Annotated[str, typer.Argument(help="summary, km, cox or lmm.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Result JSON file.")],
    sites: Annotated[
        Path | None, typer.Option("--sites", help="SITES.yaml: sites: [{dir, policy}].")
    ] = None,
    site: Annotated[
        list[Path] | None,
        typer.Option("--site", help="A site's canonical CSV directory (default policy)."),
    ] = None,
    covariates: Annotated[
        str | None,
        typer.Option(
            "--covariates",
            help="cox/lmm: comma-separated covariates (cox default: age_onset,sex_male,"
            "bulbar_onset,diagnosis_delay_months; lmm default: none).",
            show_default=False,
        ),
    ] = None,
    by: Annotated[str, typer.Option("--by", help="summary: up to two variables.")] = "",
    grid_days: Annotated[int, typer.Option("--grid-days", help="km: time grid (days).")] = 30,
    requester: Annotated[str, typer.Option("--requester", help="Your identity.")] = "cli@local",
    audit: Annotated[bool, typer.Option(help="Append to each site's audit log.")] = True,
) -> None:
    """Run ANALYSIS over the sites and write the pooled, disclosure-checked result."""
    from alsnet.federated import Coordinator

    site_objs = _load_sites(sites, list(site or []), audit)
    keys = {s.site_id: s._key for s in site_objs}
    co = Coordinator(site_objs, keys, requester=requester)
    result: Any
    covs = [c.strip() for c in (covariates or "").split(",") if c.strip()]
    if analysis == "cox":
        result = co.cox(covs or ["age_onset", "sex_male", "bulbar_onset", "diagnosis_delay_months"])
    elif analysis == "lmm":
        result = co.lmm(covs)
    elif analysis == "km":
        result = co.km(grid_days=grid_days)
    elif analysis == "summary":
        result = co.summary(by=[b.strip() for b in by.split(",") if b.strip()])
    else:
        raise typer.BadParameter(f"unknown analysis {analysis!r}; use summary, km, cox or lmm")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
    console.print(f"{result!r} -> {out}", highlight=False)


def policy_check(file: Annotated[Path, typer.Argument(help="Policy YAML file.")]) -> None:
    """Validate a site policy file; list every problem with field and reason."""
    from alsnet.federated import Policy

    pol = Policy.from_yaml(file)
    console.print(f"{file}: valid policy for site {pol.site_id} ({pol.jurisdiction})")


def audit_show(site_dir: Annotated[Path, typer.Argument(help="Site directory.")]) -> None:
    """Show a site's audit log and check its hash chain."""
    from alsnet.federated import AuditLog
    from alsnet.federated.audit import AUDIT_FILE
    from alsnet.federated.errors import FederatedError

    log = AuditLog(site_dir / AUDIT_FILE if site_dir.is_dir() else site_dir)
    for r in log.records():
        console.print(
            f"{r.time_utc} {r.requester} {r.analysis} {r.decision} {r.output_sha256[:12]}",
            highlight=False,
        )
    broken = log.verify()
    if broken:
        raise FederatedError(f"audit log tampered: chain broken at line(s) {broken}")
    console.print(f"{len(log.records())} record(s); hash chain intact")


def demo(
    patients: Annotated[int, typer.Option("--patients", help="Synthetic patients.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the synthetic cohort.")] = 7,
    out: Annotated[
        Path, typer.Option("--out", help="Directory for RESULT JSON files and report.html.")
    ] = Path("federated_demo"),
) -> None:
    """Run the multi-site demo and print pooled vs federated estimates side by side."""
    import numpy as np
    from rich.markup import escape
    from rich.table import Table

    from alsnet.federated.demo import run_demo

    res = run_demo(patients, seed=seed, out_dir=out)
    sizes = ", ".join(f"{s} {n}" for s, n in res.site_sizes.items())
    console.print(f"sites (patients): {sizes}", highlight=False)
    for analysis, failed in res.refusals.items():
        for site_id, reason in failed.items():
            console.print(
                escape(f"{analysis}: {site_id} did not contribute: {reason}"), highlight=False
            )
    table = Table(title="Pooled vs federated")
    for col in ("analysis", "quantity", "pooled", "federated", "SE pooled", "SE federated"):
        table.add_column(col, justify="left" if col in ("analysis", "quantity") else "right")
    table.add_column("rel. diff", justify="right")

    def fmt(v: object) -> str:
        x = float(v)  # type: ignore[arg-type]
        return "" if np.isnan(x) else f"{x:.6g}"

    for r in res.comparison.itertuples(index=False):
        table.add_row(
            escape(str(r.analysis)),
            escape(str(r.quantity)),
            fmt(r.pooled),
            fmt(r.federated),
            fmt(r.se_pooled),
            fmt(r.se_federated),
            f"{r.rel_diff:.1e}",
        )
    console.print(table)
    worst = ", ".join(f"{a} {v:.1e}" for a, v in res.max_rel_diff.items())
    console.print(f"max relative difference: {worst}", highlight=False)
    console.print(f"wrote {len(res.files)} files to {out}", highlight=False)


def export(
    site: Annotated[Path, typer.Option("--site", help="Site directory (canonical CSV layout).")],
    policy: Annotated[Path, typer.Option("--policy", help="The site's policy YAML file.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="New directory for the export.")],
    requester: Annotated[
        str, typer.Option("--requester", help="Identity of the requester (audit log).")
    ] = "anonymous",
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            help="Pseudonym key: a file or env:NAME for stable pseudonyms (default: a fresh "
            "key per export, so exports cannot be linked).",
        ),
    ] = None,
) -> None:
    """Record-level export: pseudonyms, day offsets, age bands top-coded at 90, k-anonymity."""
    from alsnet.federated import Policy
    from alsnet.federated.audit import AUDIT_FILE
    from alsnet.federated.export import export_records, write_export
    from alsnet.io.canonical import read_csv
    from alsnet.io.pseudonym import load_secret

    pol = Policy.from_yaml(policy)
    cohort = read_csv(site, keep_ids=True)
    key = load_secret(secret) if secret is not None else None
    res = export_records(cohort, pol, requester=requester, secret=key, audit=site / AUDIT_FILE)
    files = write_export(res, out)
    a = res.report["anonymity"]
    levels = ", ".join(f"{q}={v}" for q, v in a["levels"].items())
    console.print(
        f"exported {res.report['rows']['patients']} of {a['records']} patients "
        f"(k={a['k']}, suppressed {a['suppressed']}; levels {levels}) to {out} "
        f"({len(files)} files)",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``alsnet federated`` to ``app``."""
    fed.command("run")(handle_errors(run))
    fed.command("audit")(handle_errors(audit_show))
    fed.command("demo")(handle_errors(demo))
    fed.command("export")(handle_errors(export))
    policy_app.command("check")(handle_errors(policy_check))
    fed.add_typer(policy_app, name="policy")
    app.add_typer(fed, name="federated")
