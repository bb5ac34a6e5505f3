"""Per-site disclosure policies: jurisdiction profile, thresholds and allow-lists.

A site's policy is set by the site, read from a YAML file and applied by the site
before anything leaves it. Example ``policy.yaml``::

    site_id: NL01
    jurisdiction: eu_gdpr        # eu_gdpr | uk_gdpr | us_hipaa | custom
    min_rows: 10                 # fewest patients in any released analysis
    min_cell: 5                  # smallest released non-zero count
    min_sites: 2                 # fewest sites an analysis must span
    max_param_ratio: 0.33        # model parameters per patient and per event
    min_km_grid_days: 7          # narrowest Kaplan-Meier time grid
    allowed_analyses: [summary, km, cox, lmm, prognostic]
    allowed_requesters: ["*@alsnet.example"]   # fnmatch patterns
    allow_export: false          # record-level export (alsnet federated export)
    export_k: 5                  # k-anonymity of exported quasi-identifiers
    max_suppressed: 0.05         # largest fraction of records an export may suppress

Fields left out take the jurisdiction profile's value (:data:`PROFILES`), then the
project defaults (:data:`DEFAULTS`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from alsnet.exceptions import Problem
from alsnet.federated.errors import PolicyError

__all__ = ["ANALYSES", "DEFAULTS", "JURISDICTIONS", "PROFILES", "Policy"]

#: Analyses a site can allow.
ANALYSES: tuple[str, ...] = ("summary", "km", "cox", "lmm", "prognostic")
JURISDICTIONS: tuple[str, ...] = ("eu_gdpr", "uk_gdpr", "us_hipaa", "custom")

#: Project defaults (vantage6 summary: >= 10 rows, >= 5 per category; DataSHIELD
#: glm saturation 0.33 parameters per row).
DEFAULTS: dict[str, Any] = {
    "min_rows": 10,
    "min_cell": 5,
    "min_sites": 1,
    "max_param_ratio": 0.33,
    "min_km_grid_days": 7,
    "allowed_analyses": ANALYSES,
    "allowed_requesters": ("*",),
    "allow_export": False,
    "export_k": 5,
    "max_suppressed": 0.05,
}

#: Jurisdiction profiles: thresholds that differ from :data:`DEFAULTS`. US sites follow
#: the CMS/PCORnet cell-size rule (suppress 1-10, release >= 11).
PROFILES: dict[str, dict[str, Any]] = {
    "eu_gdpr": {},
    "uk_gdpr": {},
    "us_hipaa": {"min_rows": 11, "min_cell": 11},
    "custom": {},
}

_INT_FIELDS = ("min_rows", "min_cell", "min_sites", "min_km_grid_days", "export_k")


@dataclass(frozen=True, slots=True)
class Policy:
    """Disclosure policy of one site.

    Attributes
    ----------
    site_id : str
        Site the policy belongs to.
    jurisdiction : {"eu_gdpr", "uk_gdpr", "us_hipaa", "custom"}
        Privacy regime; selects the profile defaults.
    min_rows : int
        Fewest patients (rows) a site-level result may be computed from.
    min_cell : int
        Smallest non-zero count that may be released; counts 1..min_cell-1 are suppressed.
    min_sites : int
        Fewest sites the request must span for this site to take part.
    max_param_ratio : float
        Largest number of model parameters per patient and, for Cox, per event.
    min_km_grid_days : int
        Narrowest time grid (days) on which Kaplan-Meier counts are released.
    allowed_analyses : tuple of str
        Analyses this site runs.
    allowed_requesters : tuple of str
        ``fnmatch`` patterns of requester identities (``"*"`` = anyone).
    allow_export : bool
        Whether record-level exports (:mod:`alsnet.federated.export`) are allowed.
    export_k : int
        k of the k-anonymity check on exported quasi-identifiers.
    max_suppressed : float
        Largest fraction of records an export may suppress to reach ``export_k``.
    """

    site_id: str
    jurisdiction: str = "custom"
    min_rows: int = 10
    min_cell: int = 5
    min_sites: int = 1
    max_param_ratio: float = 0.33
    min_km_grid_days: int = 7
    allowed_analyses: tuple[str, ...] = ANALYSES
    allowed_requesters: tuple[str, ...] = ("*",)
    allow_export: bool = False
    export_k: int = 5
    max_suppressed: float = 0.05

    @classmethod
    def default(cls, site_id: str) -> Policy:
        """The project default policy (>= 10 patients, released cells >= 5)."""
        return cls(site_id=site_id)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "policy") -> Policy:
        """Validate a mapping (e.g. parsed YAML) and build a policy.

        Raises
        ------
        PolicyError
            Listing every invalid field with the reason.
        """
        problems: list[Problem] = []

        def bad(field: str | None, value: object, rule: str) -> None:
            problems.append(
                Problem(source, None, field, None if value is None else str(value), rule)
            )

        if not isinstance(data, Mapping):
            bad(None, None, "a policy must be a mapping of field: value")
            raise PolicyError(problems)
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                bad(str(key), None, f"unknown field; expected one of {sorted(known)}")
        site_id = data.get("site_id")
        if not isinstance(site_id, str) or not site_id.strip():
            bad("site_id", site_id, "required: a non-empty site code")
        jur = data.get("jurisdiction", "custom")
        if jur not in JURISDICTIONS:
            bad("jurisdiction", jur, f"must be one of {list(JURISDICTIONS)}")
            jur = "custom"
        values: dict[str, Any] = {**DEFAULTS, **PROFILES[str(jur)]}
        for name in _INT_FIELDS:
            if name in data:
                v = data[name]
                if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                    bad(name, v, "must be a whole number >= 1")
                else:
                    values[name] = v
        if "max_param_ratio" in data:
            v = data["max_param_ratio"]
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 1:
                bad("max_param_ratio", v, "must be a number in (0, 1]")
            else:
                values["max_param_ratio"] = float(v)
        if "allowed_analyses" in data:
            v = data["allowed_analyses"]
            if not isinstance(v, list | tuple) or not all(isinstance(a, str) for a in v):
                bad("allowed_analyses", v, "must be a list of analysis names")
            else:
                unknown = [a for a in v if a not in ANALYSES]
                if unknown:
                    bad("allowed_analyses", unknown, f"unknown analyses; known: {list(ANALYSES)}")
                values["allowed_analyses"] = tuple(v)
        if "allowed_requesters" in data:
            v = data["allowed_requesters"]
            if (
                not isinstance(v, list | tuple)
                or not v
                or not all(isinstance(a, str) and a for a in v)
            ):
                bad("allowed_requesters", v, "must be a non-empty list of identity patterns")
            else:
                values["allowed_requesters"] = tuple(v)
        if "allow_export" in data:
            v = data["allow_export"]
            if not isinstance(v, bool):
                bad("allow_export", v, "must be true or false")
            else:
                values["allow_export"] = v
        if "max_suppressed" in data:
            v = data["max_suppressed"]
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
                bad("max_suppressed", v, "must be a fraction in [0, 1]")
            else:
                values["max_suppressed"] = float(v)
        if values["min_rows"] < values["min_cell"]:
            bad("min_rows", values["min_rows"], "must be >= min_cell")
        if problems:
            raise PolicyError(problems)
        return cls(site_id=str(site_id), jurisdiction=str(jur), **values)

    @classmethod
    def from_yaml(cls, path: str | Path) -> Policy:
        """Read and validate a policy YAML file (see the module docstring)."""
        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise PolicyError(
                [Problem(p.name, None, None, None, f"not valid YAML: {exc}")]
            ) from None
        return cls.from_mapping(data if data is not None else {}, source=p.name)

    def allows_analysis(self, analysis: str) -> bool:
        """Whether ``analysis`` is on the allow-list."""
        return analysis in self.allowed_analyses

    def allows_requester(self, requester: str) -> bool:
        """Whether ``requester`` matches one of the allowed patterns."""
        return any(fnmatch.fnmatchcase(requester, pat) for pat in self.allowed_requesters)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (lists for tuples), as written to the audit log."""
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @property
    def sha256(self) -> str:
        """SHA-256 of the canonical JSON form (identifies the policy in audit records)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()
