"""Federated analysis: site policies, disclosure checks, audit log, partial/central algorithms.

Sites keep their data; analyses travel to them as signed requests and only
disclosure-checked aggregates come back. Federated results equal the pooled ones:
summaries by summation, Kaplan-Meier on the common released grid, and site-stratified Cox
regression (Efron ties) by Newton steps on summed scores and information matrices, and the
ALSFRS-R linear mixed model (patient random intercept and slope, REML) by optimising the
profiled likelihood over summed per-site aggregates.

>>> from alsnet.federated import Policy
>>> Policy.default("NL01").min_cell
5
"""

from __future__ import annotations

from alsnet.federated.audit import AuditLog, AuditRecord
from alsnet.federated.coordinator import Coordinator, simulate_network
from alsnet.federated.data import CATEGORICAL, COVARIATES, NUMERIC, split_sites, survival_times
from alsnet.federated.errors import (
    FederatedError,
    FederationIncompleteError,
    MessageIntegrityError,
    PolicyError,
    PrivacyThresholdError,
    RequestRefusedError,
    SiteUnavailableError,
)
from alsnet.federated.messages import Message, Request
from alsnet.federated.policy import ANALYSES, Policy
from alsnet.federated.results import CoxResult, KMResult, LMMResult, SummaryResult
from alsnet.federated.site import Site, SiteLike

__all__ = [
    "ANALYSES",
    "CATEGORICAL",
    "COVARIATES",
    "NUMERIC",
    "AuditLog",
    "AuditRecord",
    "Coordinator",
    "CoxResult",
    "FederatedError",
    "FederationIncompleteError",
    "KMResult",
    "LMMResult",
    "Message",
    "MessageIntegrityError",
    "Policy",
    "PolicyError",
    "PrivacyThresholdError",
    "Request",
    "RequestRefusedError",
    "Site",
    "SiteLike",
    "SiteUnavailableError",
    "SummaryResult",
    "simulate_network",
    "split_sites",
    "survival_times",
]
