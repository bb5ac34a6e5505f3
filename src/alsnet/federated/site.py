"""A site: its data, policy, key and audit log; answers signed requests."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from alsnet.cohort import Cohort
from alsnet.federated.audit import AuditLog, as_audit_log
from alsnet.federated.errors import (
    MessageIntegrityError,
    PrivacyThresholdError,
    RequestRefusedError,
)
from alsnet.federated.messages import Message, Request, sha256_of, verify
from alsnet.federated.partial import (
    CoxData,
    LMMData,
    cox_data,
    cox_partial,
    km_partial,
    lmm_data,
    lmm_partial,
    summary_partial,
)
from alsnet.federated.policy import Policy

__all__ = ["Site", "SiteLike"]

logger = logging.getLogger(__name__)


class SiteLike(Protocol):
    """Anything the coordinator can send requests to."""

    @property
    def site_id(self) -> str:
        """Site code."""

    def handle(self, request: Request) -> Message:
        """Answer one request (may raise SiteUnavailableError)."""


class Site:
    """One site of the network, run in-process.

    Parameters
    ----------
    cohort : Cohort
        The site's data; it never leaves this object.
    policy : Policy
        The site's disclosure policy (``policy.site_id`` names the site).
    key : bytes
        Key shared with the coordinator to sign requests and results.
    audit : AuditLog or str or Path, optional
        Audit log; a directory means ``<dir>/federated_audit.jsonl``. None = no log.
    """

    def __init__(
        self,
        cohort: Cohort,
        policy: Policy,
        *,
        key: bytes,
        audit: AuditLog | str | Path | None = None,
    ) -> None:
        self._cohort = cohort
        self.policy = policy
        self._key = key
        self.audit = as_audit_log(audit)
        self._cox: dict[tuple[str, ...], CoxData] = {}
        self._lmm: dict[tuple[str, ...], LMMData] = {}

    @property
    def site_id(self) -> str:
        """Site code (from the policy)."""
        return self.policy.site_id

    def __repr__(self) -> str:
        return f"Site({self.site_id!r}, patients={len(self._cohort.patients)})"

    def _check(self, request: Request) -> None:
        verify(self._key, request.body(), request.signature)
        pol = self.policy
        if not pol.allows_requester(request.requester):
            raise RequestRefusedError(f"requester not allowed by site {pol.site_id}")
        if not pol.allows_analysis(request.analysis):
            raise RequestRefusedError(f"analysis {request.analysis!r} not allowed by {pol.site_id}")
        if request.n_sites < pol.min_sites:
            raise RequestRefusedError(
                f"site {pol.site_id} takes part only in analyses over >= {pol.min_sites} sites"
            )

    def _compute(self, request: Request) -> dict[str, Any]:
        params = dict(request.params)
        if request.analysis == "summary":
            return summary_partial(
                self._cohort,
                self.policy,
                by=list(params.get("by", [])),
                numeric=list(params.get("numeric", [])),
            )
        if request.analysis == "km":
            return km_partial(self._cohort, self.policy, grid_days=params.get("grid_days", 30))
        if request.analysis == "cox":
            covs = tuple(params.get("covariates", ()))
            if covs not in self._cox:
                self._cox[covs] = cox_data(self._cohort, covs)
            return cox_partial(self._cox[covs], self.policy, beta=params.get("beta", []))
        if request.analysis == "lmm":
            covs = tuple(params.get("covariates", ()))
            if covs not in self._lmm:
                self._lmm[covs] = lmm_data(self._cohort, covs)
            return lmm_partial(self._lmm[covs], self.policy, theta=params.get("theta", []))
        raise RequestRefusedError(f"unknown analysis {request.analysis!r}")

    def handle(self, request: Request) -> Message:
        """Check, compute, disclosure-check, audit and sign the answer to ``request``.

        Refusals (bad signature, requester or analysis not allowed, too few sites, failed
        disclosure check, invalid parameters) come back as a signed message with status
        ``refused`` and a reason that contains no data values.
        """
        payload: dict[str, Any] = {}
        status, reason = "ok", ""
        try:
            self._check(request)
            payload = self._compute(request)
        except (RequestRefusedError, PrivacyThresholdError, MessageIntegrityError) as exc:
            status, reason = "refused", str(exc)
        except (ValueError, TypeError, KeyError) as exc:
            status, reason = "refused", f"invalid request parameters: {exc}"
        out_hash = sha256_of(payload) if status == "ok" else ""
        if self.audit is not None:
            self.audit.append(
                site_id=self.site_id,
                requester=request.requester,
                analysis=request.analysis,
                request_id=request.request_id,
                params={k: v for k, v in request.params.items() if k not in ("beta", "theta")}
                | {"step": request.step},
                jurisdiction=self.policy.jurisdiction,
                policy_sha256=self.policy.sha256,
                decision="released" if status == "ok" else "refused",
                reason=reason,
                output_sha256=out_hash,
            )
        logger.info("site %s: %s step %d %s", self.site_id, request.analysis, request.step, status)
        msg = Message(
            site_id=self.site_id,
            request_id=request.request_id,
            analysis=request.analysis,
            step=request.step,
            status=status,
            payload=payload,
            reason=reason,
        )
        return msg.signed(self._key)
