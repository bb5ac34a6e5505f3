"""Append-only per-site audit log of every request and release (JSON lines).

Each record holds who asked (``requester``), what (``analysis`` and parameters), when
(UTC), the policy applied (jurisdiction and policy SHA-256), the decision and the
SHA-256 of the released output. Records are chained: ``prev`` is the SHA-256 of the
previous line, so editing or deleting a line is detected by :meth:`AuditLog.verify`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["AUDIT_FILE", "AuditLog", "AuditRecord", "as_audit_log"]

logger = logging.getLogger(__name__)

#: File name of the audit log inside a site directory.
AUDIT_FILE = "federated_audit.jsonl"
_GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the audit log (see the module docstring for the fields)."""

    time_utc: str
    site_id: str
    requester: str
    analysis: str
    request_id: str
    params: Mapping[str, Any]
    jurisdiction: str
    policy_sha256: str
    decision: str
    reason: str
    output_sha256: str
    prev: str


class AuditLog:
    """Append-only JSON-lines audit log of one site.

    Parameters
    ----------
    path : str or Path
        File to append to (created with its directory when missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _last_hash(self) -> str:
        if not self.path.exists():
            return _GENESIS
        last = b""
        with self.path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    last = line.rstrip(b"\n")
        return hashlib.sha256(last).hexdigest() if last else _GENESIS

    def append(
        self,
        *,
        site_id: str,
        requester: str,
        analysis: str,
        request_id: str,
        params: Mapping[str, Any],
        jurisdiction: str,
        policy_sha256: str,
        decision: str,
        reason: str = "",
        output_sha256: str = "",
    ) -> AuditRecord:
        """Append one record and return it."""
        rec = AuditRecord(
            time_utc=dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            site_id=site_id,
            requester=requester,
            analysis=analysis,
            request_id=request_id,
            params=dict(params),
            jurisdiction=jurisdiction,
            policy_sha256=policy_sha256,
            decision=decision,
            reason=reason,
            output_sha256=output_sha256,
            prev=self._last_hash(),
        )
        line = json.dumps(_as_dict(rec), sort_keys=True, separators=(",", ":"), default=str)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        logger.debug("audit %s %s %s", site_id, analysis, decision)
        return rec

    def records(self) -> list[AuditRecord]:
        """All records in file order (empty when the log does not exist)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(AuditRecord(**json.loads(line)))
        return out

    def verify(self) -> list[int]:
        """Return the 1-based line numbers whose hash chain is broken (empty = intact)."""
        if not self.path.exists():
            return []
        bad: list[int] = []
        prev = _GENESIS
        lines = [ln for ln in self.path.read_bytes().split(b"\n") if ln.strip()]
        for i, line in enumerate(lines, start=1):
            try:
                rec = json.loads(line)
                if rec.get("prev") != prev:
                    bad.append(i)
            except json.JSONDecodeError:
                bad.append(i)
            prev = hashlib.sha256(line).hexdigest()
        return bad


def _as_dict(rec: AuditRecord) -> dict[str, Any]:
    return {name: getattr(rec, name) for name in AuditRecord.__slots__}


def as_audit_log(audit: AuditLog | str | Path | None) -> AuditLog | None:
    """An audit log from a log, a file path or a site directory (``<dir>/AUDIT_FILE``)."""
    if audit is None or isinstance(audit, AuditLog):
        return audit
    p = Path(audit)
    return AuditLog(p / AUDIT_FILE if p.is_dir() else p)
