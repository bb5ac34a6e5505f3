"""Record-level export of one site's data, when its policy allows one.

What leaves the site (:func:`export_records`):

* **Pseudonyms.** ``patient_id`` and ``sample_id`` are replaced by keyed HMAC-SHA256
  pseudonyms (:func:`alsnet.io.pseudonym.pseudonymise`) under a key that, by default,
  is drawn fresh for each export and never stored: two exports cannot be linked to
  each other or to the site's registry. Pass ``secret`` for stable pseudonyms.
* **Time.** Only day offsets from each patient's anchor (symptom onset) leave, as in
  the canonical layout; the diagnostic delay is coarsened to whole months
  (``diagnosis_month``) because an exact delay is a quasi-identifier. Any calendar
  date column is refused.
* **Age.** Age at onset leaves only as a band (5, 10 or 20 years, chosen by the
  k-anonymity search), top-coded at ``"90+"`` (HIPAA Safe Harbor ages over 89).
* **Geography.** The site code, or only its country when the search coarsens it; no
  finer geography exists in the canonical layout.
* **Quasi-identifiers.** Age band x onset region x gene x site x sex are generalised
  and small classes suppressed until every released class has at least the policy's
  ``export_k`` records (:func:`alsnet.federated.anonymity.k_anonymise`); the export is
  refused when that needs more suppression than the policy's ``max_suppressed``.
* **Dropped.** Exact age, ancestry, free-text columns (variant notation, trial ids,
  biobank names), consents and the sites table. Genetic findings are released as
  gene and ACMG class only, and only when the gene is released at full detail.

Every export request, released or refused, is appended to the site's audit log.
"""

from __future__ import annotations

import hashlib
import secrets as _secrets
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsnet.cohort import Cohort
from alsnet.federated.anonymity import (
    AnonymityResult,
    k_anonymise,
    quasi_identifier_table,
)
from alsnet.federated.audit import AuditLog, as_audit_log
from alsnet.federated.disclosure import check_rows
from alsnet.federated.errors import PrivacyThresholdError, RequestRefusedError
from alsnet.federated.policy import Policy
from alsnet.io.pseudonym import pseudonymise
from alsnet.schema import TABLES

__all__ = ["EXPORTED_TABLES", "ExportResult", "export_records", "write_export"]

#: Canonical tables that may appear in an export (besides ``patients``).
EXPORTED_TABLES: tuple[str, ...] = (
    "visits",
    "biomarkers",
    "events",
    "genetics",
    "treatments",
    "biosamples",
)
_DAYS_PER_MONTH = 30.4375
_PATIENT_KEEP = ("el_escorial", "criteria_version", "ftd", "family_history", "anchor")


@dataclass(frozen=True)
class ExportResult:
    """A released export.

    Attributes
    ----------
    tables : dict of str to DataFrame
        Exported tables; ``patients`` holds the generalised quasi-identifiers.
    anonymity : AnonymityResult
        The k-anonymity search outcome.
    report : dict
        Plain-data description (no record values): levels, suppression, dropped
        columns, row counts, policy hash and output hash.
    """

    tables: dict[str, pd.DataFrame]
    anonymity: AnonymityResult
    report: dict[str, Any]


def _text_columns(table: str) -> list[str]:
    """Free-text (``str``) columns of a canonical table other than the keys we recode."""
    return [
        c.name
        for c in TABLES[table].columns
        if c.kind == "str" and c.name not in ("patient_id", "sample_id", "site_id")
    ]


def _output_hash(tables: dict[str, pd.DataFrame]) -> str:
    h = hashlib.sha256()
    for name in sorted(tables):
        h.update(name.encode())
        h.update(tables[name].to_csv(index=False).encode())
    return h.hexdigest()


def _refuse_dates(tables: dict[str, pd.DataFrame]) -> None:
    for name, df in tables.items():
        for col in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[col]):
                raise RequestRefusedError(
                    f"export: column {name}.{col} holds calendar dates; only day offsets "
                    "may leave a site"
                )


def _patients_out(patients: pd.DataFrame, anon: AnonymityResult, ids: pd.Series) -> pd.DataFrame:
    gen = anon.generalised.loc[anon.keep].reset_index(drop=True)
    kept = patients.loc[anon.keep].reset_index(drop=True)
    out = pd.DataFrame({"patient_id": ids.to_numpy()})
    for col in ("site", "sex", "age_band", "onset_region", "gene"):
        out[col] = gen[col].astype("string")
    delay = pd.to_numeric(kept["diagnosis_day"], errors="coerce") / _DAYS_PER_MONTH
    out["diagnosis_month"] = delay.round().astype("Int64")
    for col in _PATIENT_KEEP:
        if col in kept.columns:
            out[col] = kept[col].to_numpy()
    return out


def export_records(
    cohort: Cohort,
    policy: Policy,
    *,
    requester: str = "anonymous",
    secret: bytes | None = None,
    audit: AuditLog | str | Path | None = None,
    request_id: str | None = None,
) -> ExportResult:
    """Pseudonymised, generalised, k-anonymous record-level export of one site.

    Parameters
    ----------
    cohort : Cohort
        The site's canonical data.
    policy : Policy
        The site's policy; needs ``allow_export: true``. ``export_k`` and
        ``max_suppressed`` drive the k-anonymity search.
    requester : str, default "anonymous"
        Identity of the requester, checked against ``allowed_requesters``.
    secret : bytes, optional
        Pseudonym key (>= 16 bytes). Default: a fresh random key per export, so
        exports are unlinkable.
    audit : AuditLog, str or Path, optional
        Audit log (a directory means ``<dir>/federated_audit.jsonl``).
    request_id : str, optional
        Identifier recorded in the audit log (default: a random UUID).

    Returns
    -------
    ExportResult

    Raises
    ------
    RequestRefusedError
        The policy forbids exports or this requester; a calendar-date column.
    PrivacyThresholdError
        Too few patients (``min_rows``) or k-anonymity unreachable within
        ``max_suppressed``.
    """
    log = as_audit_log(audit)
    rid = request_id or uuid.uuid4().hex
    params = {"k": policy.export_k, "max_suppressed": policy.max_suppressed}

    def record(decision: str, reason: str = "", output: str = "") -> None:
        if log is not None:
            log.append(
                site_id=policy.site_id,
                requester=requester,
                analysis="export",
                request_id=rid,
                params=params,
                jurisdiction=policy.jurisdiction,
                policy_sha256=policy.sha256,
                decision=decision,
                reason=reason,
                output_sha256=output,
            )

    try:
        if not policy.allow_export:
            raise RequestRefusedError(
                f"site {policy.site_id}: the policy does not allow record-level exports "
                "(allow_export: false)"
            )
        if not policy.allows_requester(requester):
            raise RequestRefusedError(
                f"site {policy.site_id}: requester {requester!r} is not allowed"
            )
        patients = cohort.patients.reset_index(drop=True)
        check_rows(len(patients), policy, "a record-level export")
        sites = cohort.sites
        anon = k_anonymise(
            quasi_identifier_table(patients, sites),
            policy.export_k,
            max_suppressed=policy.max_suppressed,
        )
    except (RequestRefusedError, PrivacyThresholdError) as exc:
        record("refused", str(exc))
        raise
    key = secret if secret is not None else _secrets.token_bytes(32)
    kept_ids = patients["patient_id"].loc[anon.keep].astype(str)
    mapping = pd.Series(
        pseudonymise(kept_ids, secret=key, namespace="export:patient_id").to_numpy(),
        index=kept_ids.to_numpy(),
    )
    tables: dict[str, pd.DataFrame] = {
        "patients": _patients_out(patients, anon, mapping.reset_index(drop=True))
    }
    dropped: dict[str, list[str]] = {
        "patients": sorted(
            set(patients.columns) - set(_PATIENT_KEEP) - {"patient_id", "onset_region", "sex"}
        )
    }
    for name in EXPORTED_TABLES:
        df = cohort.tables[name]
        if df.empty:
            continue
        if name == "genetics" and anon.levels["gene"] > 0:
            dropped[name] = ["(table: gene generalised)"]
            continue
        df = df.loc[df["patient_id"].astype(str).isin(mapping.index)].copy()
        df["patient_id"] = df["patient_id"].astype(str).map(mapping).astype("string")
        if "sample_id" in df.columns:
            df["sample_id"] = pseudonymise(df["sample_id"], secret=key, namespace="export:sample")
        text = [c for c in _text_columns(name) if c in df.columns]
        if text:
            dropped[name] = text
        tables[name] = df.drop(columns=text).reset_index(drop=True)
    _refuse_dates(tables)
    digest = _output_hash(tables)
    report = {
        "site_id": policy.site_id,
        "request_id": rid,
        "jurisdiction": policy.jurisdiction,
        "policy_sha256": policy.sha256,
        "anonymity": anon.summary(),
        "rows": {k: len(v) for k, v in tables.items()},
        "dropped_columns": dropped,
        "pseudonym_key": "caller-supplied" if secret is not None else "fresh per export",
        "output_sha256": digest,
    }
    record("released", output=digest)
    return ExportResult(tables=tables, anonymity=anon, report=report)


def write_export(result: ExportResult, out: str | Path) -> list[Path]:
    """Write the export's tables as CSV plus ``export_report.json``, atomically.

    The files are written to a temporary directory beside ``out`` and moved into place
    only when complete; an existing non-empty ``out`` is refused.

    Returns
    -------
    list of Path
        Files written.
    """
    import json

    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"export: {target} exists and is not empty; refused")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        for name, df in result.tables.items():
            df.to_csv(tmp / f"{name}.csv", index=False)
        (tmp / "export_report.json").write_text(
            json.dumps(result.report, indent=2, default=_json_default), encoding="utf-8"
        )
        if target.exists():
            target.rmdir()
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(target.iterdir())


def _json_default(o: object) -> object:
    if isinstance(o, np.integer | np.floating):
        return o.item()
    raise TypeError(type(o).__name__)
