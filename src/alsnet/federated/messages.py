"""Signed messages between the coordinator and sites (HMAC-SHA256 over canonical JSON).

Requests are signed by the coordinator and results by the site, each with the key the
two share; a changed byte anywhere in the body makes :func:`verify` fail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from alsnet.federated.errors import MessageIntegrityError

__all__ = ["Message", "Request", "canonical_json", "sha256_of", "sign", "verify"]


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces, no NaN); floats round-trip exactly."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def sha256_of(obj: Any) -> str:
    """SHA-256 (hex) of the canonical JSON form of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def sign(key: bytes, body: Mapping[str, Any]) -> str:
    """HMAC-SHA256 (hex) of the canonical JSON of ``body``."""
    return hmac.new(key, canonical_json(dict(body)).encode(), hashlib.sha256).hexdigest()


def verify(key: bytes, body: Mapping[str, Any], signature: str) -> None:
    """Raise :class:`MessageIntegrityError` unless ``signature`` signs ``body`` under ``key``."""
    try:
        good = sign(key, body)
    except (TypeError, ValueError) as exc:
        raise MessageIntegrityError(f"message body is not valid JSON data: {exc}") from None
    if not isinstance(signature, str) or not hmac.compare_digest(good, signature):
        raise MessageIntegrityError("message signature does not match its content")


@dataclass(frozen=True, slots=True)
class Request:
    """A signed request from the coordinator to a site.

    Attributes
    ----------
    analysis : str
        Analysis name (``summary``, ``km``, ``cox``).
    requester : str
        Identity of the person or service asking.
    params : mapping
        Analysis parameters (JSON data).
    n_sites : int
        Number of sites the request is sent to (checked against ``min_sites``).
    request_id : str
        Identifier shared by all iterations of one analysis run.
    step : int
        Iteration number (0 for one-shot analyses).
    signature : str
        HMAC of the other fields under the site's key.
    """

    analysis: str
    requester: str
    params: Mapping[str, Any]
    n_sites: int
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    step: int = 0
    signature: str = ""

    def body(self) -> dict[str, Any]:
        """The signed fields."""
        return {
            "analysis": self.analysis,
            "requester": self.requester,
            "params": dict(self.params),
            "n_sites": self.n_sites,
            "request_id": self.request_id,
            "step": self.step,
        }

    def signed(self, key: bytes) -> Request:
        """A copy signed with ``key``."""
        return Request(**self.body(), signature=sign(key, self.body()))


@dataclass(frozen=True, slots=True)
class Message:
    """A signed answer from a site.

    Attributes
    ----------
    site_id, request_id, analysis : str
        Who answers what.
    step : int
        Iteration answered.
    status : {"ok", "refused"}
        Whether the site released a result.
    payload : mapping
        The released aggregates (empty when refused).
    reason : str
        Why the site refused (no data values).
    signature : str
        HMAC of the other fields under the site's key.
    """

    site_id: str
    request_id: str
    analysis: str
    step: int
    status: str
    payload: Mapping[str, Any]
    reason: str = ""
    signature: str = ""

    def body(self) -> dict[str, Any]:
        """The signed fields."""
        return {
            "site_id": self.site_id,
            "request_id": self.request_id,
            "analysis": self.analysis,
            "step": self.step,
            "status": self.status,
            "payload": dict(self.payload),
            "reason": self.reason,
        }

    def signed(self, key: bytes) -> Message:
        """A copy signed with ``key``."""
        return Message(**self.body(), signature=sign(key, self.body()))

    def to_json(self) -> str:
        """Wire form."""
        return canonical_json({**self.body(), "signature": self.signature})

    @classmethod
    def from_json(cls, text: str | bytes) -> Message:
        """Parse the wire form (signature not yet checked).

        Raises
        ------
        MessageIntegrityError
            When the text is not a message.
        """
        try:
            d = json.loads(text)
            msg = cls(**d)
        except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
            raise MessageIntegrityError(f"malformed message: {exc}") from None
        if msg.status not in ("ok", "refused") or not isinstance(msg.payload, Mapping):
            raise MessageIntegrityError("malformed message: bad status or payload")
        return msg
