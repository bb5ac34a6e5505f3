"""Errors raised by the federated layer.

Every error derives from :class:`alsnet.exceptions.AlsnetError` and from the matching
builtin. Messages name sites, analyses and rules, never patient values.
"""

from __future__ import annotations

from collections.abc import Mapping

from alsnet.exceptions import AlsnetError, DataValidationError

__all__ = [
    "FederatedError",
    "FederationIncompleteError",
    "MessageIntegrityError",
    "PolicyError",
    "PrivacyThresholdError",
    "RequestRefusedError",
    "SiteUnavailableError",
]


class FederatedError(AlsnetError):
    """Root of the errors of :mod:`alsnet.federated`."""


class PolicyError(DataValidationError):
    """A site policy file is invalid; each problem names the field and the reason."""


class RequestRefusedError(FederatedError, PermissionError):
    """A site refused a request (analysis or requester not allowed, too few sites, ...)."""


class PrivacyThresholdError(FederatedError, PermissionError):
    """An output failed a site's disclosure check and was not released."""


class SiteUnavailableError(FederatedError, ConnectionError):
    """A site did not answer (offline, timed out)."""


class MessageIntegrityError(FederatedError, ValueError):
    """A message was malformed, or its signature or hash did not match its content."""


class FederationIncompleteError(FederatedError, RuntimeError):
    """Some sites refused or were unavailable, so no pooled result is returned.

    Parameters
    ----------
    analysis : str
        The analysis that was requested.
    failures : mapping of str to str
        Site id to reason for every site that did not contribute.
    """

    def __init__(self, analysis: str, failures: Mapping[str, str]) -> None:
        self.analysis = analysis
        self.failures = dict(failures)
        lines = [f"{analysis}: {len(self.failures)} site(s) did not contribute; no result:"]
        lines += [f"  - {site}: {why}" for site, why in sorted(self.failures.items())]
        super().__init__("\n".join(lines))
