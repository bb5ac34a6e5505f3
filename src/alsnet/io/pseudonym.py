"""Keyed pseudonyms for local patient and sample ids.

A pseudonym is ``"P" + hex(HMAC-SHA256(secret, namespace + "\\x1f" + local_id))[:20]``
(80 bits). The same secret, namespace and local id always give the same
pseudonym, so records stay linkable across tables and across imports of the
same site; without the secret a pseudonym cannot be reversed or recomputed.

The secret belongs to the site. It is read from a file or from the environment
variable ``$ALSNET_SITE_SECRET`` by :func:`load_secret`, held in memory only for
the import, and **never written to the registry database, exports or logs**.
Re-keying (a new secret) produces a new, unlinkable set of pseudonyms; keep the
secret as long as a site must link later imports to earlier ones.
"""

from __future__ import annotations

import hmac
import logging
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd

from alsnet.exceptions import AlsnetError

__all__ = [
    "MIN_SECRET_BYTES",
    "PSEUDONYM_HEX_CHARS",
    "SECRET_ENV",
    "SecretError",
    "load_secret",
    "pseudonymise",
]

log = logging.getLogger(__name__)

#: Environment variable holding the per-site secret.
SECRET_ENV = "ALSNET_SITE_SECRET"
#: Shortest secret accepted (bytes); 16 bytes = 128 bits.
MIN_SECRET_BYTES = 16
#: Hex characters of the HMAC kept in a pseudonym (20 hex = 80 bits).
PSEUDONYM_HEX_CHARS = 20
_SEP = "\x1f"  # ASCII unit separator between namespace and id


class SecretError(AlsnetError, ValueError):
    """The site secret is missing, empty or too short."""


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, bytes | bytearray):
        raise SecretError(f"the site secret must be bytes, got {type(secret).__name__}")
    if len(secret) < MIN_SECRET_BYTES:
        raise SecretError(
            f"the site secret is too short ({len(secret)} bytes); use at least "
            f'{MIN_SECRET_BYTES} random bytes, e.g. `python -c "import secrets; '
            f'print(secrets.token_hex(32))"` stored in a file or ${SECRET_ENV}'
        )


def pseudonymise(ids: pd.Series, *, secret: bytes, namespace: str = "") -> pd.Series:
    """Replace local ids by keyed pseudonyms.

    Parameters
    ----------
    ids : Series
        Local ids (any type; rendered with ``str`` after stripping surrounding
        whitespace). Missing values stay missing.
    secret : bytes
        The site secret (at least :data:`MIN_SECRET_BYTES` bytes).
    namespace : str, default ""
        Separates id spaces (e.g. ``"patient_id"`` vs ``"sample_id"``, or one
        source dataset from another) so equal local ids in different spaces get
        different pseudonyms.

    Returns
    -------
    Series of string dtype
        ``"P"`` followed by 20 lowercase hex characters, same index and name as
        ``ids``.

    Raises
    ------
    SecretError
        If ``secret`` is empty or shorter than :data:`MIN_SECRET_BYTES` bytes.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pseudonymise(pd.Series(["A1", "A1", None]), secret=b"k" * 16, namespace="x")
    >>> bool(s[0] == s[1]), len(s[0]), bool(s.isna()[2])
    (True, 21, True)
    """
    _check_secret(secret)
    key = bytes(secret)
    missing = ids.isna().to_numpy()
    text = ids.astype("string").str.strip()
    # hash each distinct id once (ids repeat across visits), then broadcast back
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    prefix = namespace + _SEP
    digests = [
        "P" + hmac.digest(key, (prefix + u).encode("utf-8"), "sha256").hex()[:PSEUDONYM_HEX_CHARS]
        for u in uniques
    ]
    table = np.asarray([*digests, None], dtype=object)
    out = table[np.where(codes < 0, len(digests), codes)]
    out[missing] = None
    return pd.Series(out, index=ids.index, name=ids.name, dtype="string")


def load_secret(path_or_env: str | Path | None = None) -> bytes:
    """Read the per-site pseudonymisation secret.

    Parameters
    ----------
    path_or_env : str, Path or None
        ``None``: the environment variable ``$ALSNET_SITE_SECRET``.
        ``"env:NAME"`` or ``"$NAME"``: the environment variable ``NAME``.
        Anything else: a file whose content (surrounding whitespace stripped)
        is the secret.

    Returns
    -------
    bytes
        The secret (UTF-8 bytes of the text), at least :data:`MIN_SECRET_BYTES` long.

    Raises
    ------
    SecretError
        If the variable or file is missing, empty or too short.

    Notes
    -----
    The secret is never stored in the registry database: only pseudonyms are.
    Keep the file readable only by the site's data steward (``chmod 600``); a
    file readable by other users is logged as a warning.
    """
    if path_or_env is None or (isinstance(path_or_env, str) and _env_name(path_or_env)):
        name = SECRET_ENV if path_or_env is None else _env_name(str(path_or_env))
        value = os.environ.get(name, "").strip()
        if not value:
            raise SecretError(
                f"no site secret: environment variable ${name} is not set or empty; "
                "set it or pass a secret file"
            )
        secret = value.encode("utf-8")
    else:
        path = Path(path_or_env)
        if not path.is_file():
            raise SecretError(f"site secret file not found: {path}")
        mode = path.stat().st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            log.warning("site secret file %s is readable by other users; chmod 600 it", path)
        secret = path.read_bytes().strip()
        if not secret:
            raise SecretError(f"site secret file is empty: {path}")
    _check_secret(secret)
    return secret


def _env_name(spec: str) -> str:
    if spec.startswith("env:"):
        return spec[4:]
    if spec.startswith("$"):
        return spec[1:]
    return ""
