"""Keyed pseudonyms: checked against an independent HMAC-SHA256 built from hashlib."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsnet.exceptions import AlsnetError
from alsnet.io.pseudonym import SecretError, load_secret, pseudonymise

SECRET = b"a-very-secret-site-key-32-bytes!"


def hmac_sha256(secret: bytes, msg: bytes) -> str:
    """HMAC-SHA256 from its definition (RFC 2104), independent of the hmac module."""
    block = 64
    key = secret if len(secret) <= block else hashlib.sha256(secret).digest()
    key = key.ljust(block, b"\0")
    ipad = bytes(k ^ 0x36 for k in key)
    opad = bytes(k ^ 0x5C for k in key)
    inner = hashlib.sha256(ipad + msg).digest()
    return hashlib.sha256(opad + inner).hexdigest()


def reference(secret: bytes, namespace: str, local_id: str) -> str:
    return "P" + hmac_sha256(secret, (namespace + "\x1f" + local_id).encode("utf-8"))[:20]


def test_reference_hmac_matches_rfc4231_test_case_1() -> None:
    expected = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    assert hmac_sha256(b"\x0b" * 20, b"Hi There") == expected


def test_matches_rfc2104_reference() -> None:
    ids = pd.Series(["ALS-001", "ALS-002", "Ünïcode id", "ALS-001"])
    got = pseudonymise(ids, secret=SECRET, namespace="patient_id")
    assert got.tolist() == [reference(SECRET, "patient_id", i) for i in ids]
    assert got[0] == got[3]


def test_long_secret_is_hashed_like_hmac() -> None:
    key = b"k" * 100  # longer than the SHA-256 block: RFC 2104 hashes the key first
    assert pseudonymise(pd.Series(["x"]), secret=key)[0] == reference(key, "", "x")


def test_missing_values_index_and_name_are_kept() -> None:
    ids = pd.Series(["a", None, " a "], index=[10, 20, 30], name="patient_id")
    got = pseudonymise(ids, secret=SECRET)
    assert got.index.tolist() == [10, 20, 30] and got.name == "patient_id"
    assert got.dtype == "string"
    assert pd.isna(got[20])
    assert got[10] == got[30]  # surrounding whitespace does not change the pseudonym


def test_namespace_and_secret_separate_id_spaces() -> None:
    ids = pd.Series(["1", "2"])
    a = pseudonymise(ids, secret=SECRET, namespace="patient_id")
    b = pseudonymise(ids, secret=SECRET, namespace="sample_id")
    c = pseudonymise(ids, secret=SECRET[::-1], namespace="patient_id")
    assert not set(a) & set(b) and not set(a) & set(c)


def test_integer_ids_are_rendered_as_text() -> None:
    a = pseudonymise(pd.Series([123, 456]), secret=SECRET)
    b = pseudonymise(pd.Series(["123", "456"]), secret=SECRET)
    assert a.tolist() == b.tolist()


@pytest.mark.parametrize("bad", [b"", b"short", b"x" * 15])
def test_short_secret_is_refused(bad: bytes) -> None:
    with pytest.raises(SecretError, match="too short") as exc:
        pseudonymise(pd.Series(["a"]), secret=bad)
    assert isinstance(exc.value, AlsnetError) and isinstance(exc.value, ValueError)


def test_text_secret_is_refused() -> None:
    with pytest.raises(SecretError, match="must be bytes"):
        pseudonymise(pd.Series(["a"]), secret="0123456789abcdefghij")  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20).filter(lambda s: s == s.strip()), max_size=30))
def test_property_deterministic_injective_well_formed(ids: list[str]) -> None:
    s = pd.Series(ids, dtype="string")
    a = pseudonymise(s, secret=SECRET, namespace="n")
    assert a.tolist() == pseudonymise(s, secret=SECRET, namespace="n").tolist()
    assert a.str.fullmatch(r"P[0-9a-f]{20}").all()
    assert a.nunique() == len(set(ids))  # no collisions among distinct ids
    assert a.tolist() == [reference(SECRET, "n", i) for i in ids]


# --------------------------------------------------------------------------- load_secret
def test_load_secret_from_file(tmp_path: Path) -> None:
    f = tmp_path / "site.key"
    f.write_text("  0123456789abcdef0123  \n")
    f.chmod(0o600)
    assert load_secret(f) == b"0123456789abcdef0123"
    assert load_secret(str(f)) == b"0123456789abcdef0123"


def test_load_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALSNET_SITE_SECRET", "s" * 32)
    monkeypatch.setenv("OTHER_SECRET", "o" * 16)
    assert load_secret() == b"s" * 32
    assert load_secret("env:OTHER_SECRET") == b"o" * 16
    assert load_secret("$OTHER_SECRET") == b"o" * 16


def test_load_secret_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALSNET_SITE_SECRET", raising=False)
    with pytest.raises(SecretError, match=r"\$ALSNET_SITE_SECRET is not set"):
        load_secret()
    with pytest.raises(SecretError, match="not found"):
        load_secret(tmp_path / "missing.key")
    (tmp_path / "empty.key").write_text("\n")
    with pytest.raises(SecretError, match="empty"):
        load_secret(tmp_path / "empty.key")
    (tmp_path / "short.key").write_text("abc")
    with pytest.raises(SecretError, match="too short"):
        load_secret(tmp_path / "short.key")
