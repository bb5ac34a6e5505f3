"""Policy validation, audit log chain and suppression rules (brute force)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsnet.federated import AuditLog, Policy, PolicyError, PrivacyThresholdError
from alsnet.federated.disclosure import km_blocks, suppression_mask


def test_policy_yaml_errors_name_field(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("site_id: ''\njurisdiction: mars\nmin_cell: -1\nallowed_analyses: [cox, lmm2]\n")
    with pytest.raises(PolicyError) as exc:
        Policy.from_yaml(f)
    fields = {p.column for p in exc.value.problems}
    assert {"site_id", "jurisdiction", "min_cell", "allowed_analyses"} <= fields


def test_policy_profile_defaults(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("site_id: US01\njurisdiction: us_hipaa\n")
    p = Policy.from_yaml(f)
    assert (p.min_cell, p.min_rows) == (11, 11)
    assert Policy.from_mapping({"site_id": "X", "min_cell": 7}).min_cell == 7
    assert p.allows_requester("anyone") and not Policy(
        "X", allowed_requesters=("*@a.org",)
    ).allows_requester("eve@b.org")


def test_audit_chain_detects_edit(tmp_path):
    log = AuditLog(tmp_path / "a.jsonl")
    for i in range(3):
        log.append(
            site_id="S",
            requester="r",
            analysis="km",
            request_id=str(i),
            params={},
            jurisdiction="eu_gdpr",
            policy_sha256="x",
            decision="released",
            output_sha256="h",
        )
    assert log.verify() == [] and len(log.records()) == 3
    lines = log.path.read_text().splitlines()
    lines[1] = lines[1].replace('"km"', '"cox"')
    log.path.write_text("\n".join(lines) + "\n")
    assert log.verify() == [3]


def _feasible_values(released, mask, total, m):
    """All values a suppressed cell can take given released cells and the total (1-D)."""
    hidden = int(total - released[~mask].sum())
    k = int(mask.sum())
    sols = [v for v in itertools.product(range(hidden + 1), repeat=k) if sum(v) == hidden]
    return [set(s[i] for s in sols) for i in range(k)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=2, max_size=5))
def test_suppressed_cells_not_recoverable_from_total(cells):
    m = 5
    c = np.array(cells)
    mask = suppression_mask(c, m)
    primary = (c > 0) & (c < m)
    assert (mask >= primary).all()
    if mask.any() and c[~mask].sum() + c[mask].sum() >= m:
        options = _feasible_values(c, mask, c.sum(), m)
        for i, idx in enumerate(np.flatnonzero(mask)):
            if primary[idx]:
                assert len(options[i]) > 1


def test_two_way_suppression_protects_lines():
    c = np.array([[12, 3, 40], [1, 20, 30], [9, 9, 9]])
    mask = suppression_mask(c, 5)
    for line in [*mask, *mask.T]:
        assert line.sum() in (0, 2, 3)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=1, max_size=40))
def test_km_blocks_release_only_safe_counts(pairs):
    d = np.array([p[0] for p in pairs])
    c = np.array([p[1] for p in pairs])
    try:
        blocks = km_blocks(d, c, 5)
    except PrivacyThresholdError:
        assert 0 < d.sum() < 5 or 0 < c.sum() < 5
        return
    covered = 0
    for lo, hi in blocks:
        for x in (d[lo : hi + 1].sum(), c[lo : hi + 1].sum()):
            assert x == 0 or x >= 5
        covered += d[lo : hi + 1].sum() + c[lo : hi + 1].sum()
    assert covered == d.sum() + c.sum()
    assert all(b[1] < a[0] for b, a in itertools.pairwise(blocks))
