"""Randomisation: block balance, minimisation balance, determinism, tamper detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alsnet.trials import AllocationLogError, TrialDesignError
from alsnet.trials.randomise import AllocationDesign, allocate, randomise, verify_log

LEVELS = {"riluzole": ["yes", "no"], "site": ["A", "B", "C"], "bulbar": ["yes", "no"]}


def _patients(n: int, seed: int, factors: list[str]) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    return [{f: str(rng.choice(LEVELS[f])) for f in factors} for _ in range(n)]


def _fill(log: Path, design: AllocationDesign, strata: list[dict[str, str]]) -> list[str]:
    return [
        randomise(log, f"P{i:04d}", s, design=design if i == 0 else None)["arm"]
        for i, s in enumerate(strata)
    ]


def test_permuted_blocks_balance_within_blocks(tmp_path: Path) -> None:
    d = AllocationDesign(
        arms=("active", "placebo"), ratio=(3, 1), strata=("riluzole",), block_sizes=(4, 8), seed=7
    )
    strata = _patients(400, 1, ["riluzole"])
    arms = allocate(d, strata)
    for level in ("yes", "no"):
        seq = [a for a, s in zip(arms, strata, strict=True) if s["riluzole"] == level]
        act = np.cumsum([a == "active" for a in seq])
        pla = np.cumsum([a == "placebo" for a in seq])
        # at most one block (size <= 8) out of balance at any time: |act - 3 pla| <= 6
        assert np.all(np.abs(act - 3 * pla) <= 6)
        # every prefix where the running imbalance is 0 is a block boundary; there is
        # at least one every 8 patients
        zeros = np.flatnonzero(act - 3 * pla == 0) + 1
        gaps = np.diff(np.concatenate([[0], zeros]))
        assert gaps.max() <= 8 and np.all(gaps % 4 == 0)
    # the live log gives the same arms as the pure allocation sequence
    assert _fill(tmp_path / "log.jsonl", d, strata[:30]) == arms[:30]
    status = verify_log(tmp_path / "log.jsonl")
    assert status.n_allocations == 30
    assert status.counts["active"] + status.counts["placebo"] == 30


def test_deterministic_given_seed(tmp_path: Path) -> None:
    strata = _patients(25, 2, ["riluzole", "site"])
    for method in ("blocks", "minimisation"):
        d = AllocationDesign(
            arms=("a", "b", "c"), ratio=(1, 1, 1), method=method, strata=("riluzole", "site")
        )
        a1 = _fill(tmp_path / f"{method}1.jsonl", d, strata)
        a2 = _fill(tmp_path / f"{method}2.jsonl", d, strata)
        assert a1 == a2 == allocate(d, strata)
        assert (tmp_path / f"{method}1.jsonl").read_bytes() == (
            tmp_path / f"{method}2.jsonl"
        ).read_bytes()
        d3 = AllocationDesign(
            arms=("a", "b", "c"),
            ratio=(1, 1, 1),
            method=method,
            strata=("riluzole", "site"),
            seed=99,
        )
        assert _fill(tmp_path / f"{method}3.jsonl", d3, strata) != a1


def test_deterministic_minimisation_single_factor_bound(tmp_path: Path) -> None:
    d = AllocationDesign(
        arms=("a", "b"), ratio=(1, 1), method="minimisation", strata=("site",), p_best=1.0
    )
    strata = _patients(300, 3, ["site"])
    arms = allocate(d, strata)
    for level in LEVELS["site"]:
        seq = np.array([a == "a" for a, s in zip(arms, strata, strict=True) if s["site"] == level])
        diff = np.cumsum(np.where(seq, 1, -1))
        assert np.abs(diff).max() <= 1


def test_minimisation_marginal_imbalance_small(tmp_path: Path) -> None:
    factors = ["riluzole", "site", "bulbar"]
    d = AllocationDesign(
        arms=("a", "b"), ratio=(1, 1), method="minimisation", strata=tuple(factors), p_best=0.8
    )
    strata = _patients(200, 4, factors)
    arms = np.array(allocate(d, strata)) == "a"
    worst = 0
    for f in factors:
        for level in LEVELS[f]:
            m = np.array([s[f] == level for s in strata])
            worst = max(worst, abs(int(arms[m].sum()) - int((~arms[m]).sum())))
    # simple randomisation would give a worst marginal imbalance around 2 sqrt(n) ~ 20
    assert worst <= 6
    assert abs(int(arms.sum()) - 100) <= 4


def _write_log(tmp_path: Path) -> Path:
    d = AllocationDesign(arms=("active", "placebo"), ratio=(1, 1), strata=("riluzole",))
    log = tmp_path / "log.jsonl"
    _fill(log, d, _patients(12, 5, ["riluzole"]))
    return log


def test_tamper_edit_byte(tmp_path: Path) -> None:
    log = _write_log(tmp_path)
    lines = log.read_text().splitlines(keepends=True)
    for old, new in (('"active"', '"placebo"'), ("P0003", "P0093")):
        tampered = [ln.replace(old, new) if i == 4 else ln for i, ln in enumerate(lines)]
        if tampered == lines:
            continue
        log.write_text("".join(tampered))
        with pytest.raises(AllocationLogError, match="line 5"):
            verify_log(log)
    # a single non-semantic byte (extra space) is caught too
    log.write_text("".join(lines).replace(",", ", ", 1))
    with pytest.raises(AllocationLogError, match="line 1: not in canonical form"):
        verify_log(log)


def test_tamper_forged_entry_with_valid_hash(tmp_path: Path) -> None:
    """Re-hashing an edited arm still fails: allocations are re-derived from the design."""
    log = _write_log(tmp_path)
    lines = log.read_text().splitlines()
    e = json.loads(lines[-1])
    e["arm"] = "placebo" if e["arm"] == "active" else "active"
    body = {k: v for k, v in e.items() if k != "sha256"}
    import hashlib

    e["sha256"] = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    lines[-1] = json.dumps(e, sort_keys=True, separators=(",", ":"))
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(AllocationLogError, match="forged"):
        verify_log(log)


@pytest.mark.parametrize("what", ["delete_middle", "delete_first_allocation", "swap", "dup"])
def test_tamper_delete_swap_and_refuse_append(tmp_path: Path, what: str) -> None:
    log = _write_log(tmp_path)
    lines = log.read_text().splitlines(keepends=True)
    if what == "delete_middle":
        del lines[6]
    elif what == "delete_first_allocation":
        del lines[1]
    elif what == "swap":
        lines[3], lines[4] = lines[4], lines[3]
    else:
        lines.insert(5, lines[4])
    log.write_text("".join(lines))
    with pytest.raises(AllocationLogError, match=r"hash does not match|sequence"):
        verify_log(log)
    before = log.read_bytes()
    with pytest.raises(AllocationLogError):
        randomise(log, "NEW", {"riluzole": "yes"})
    assert log.read_bytes() == before


def test_truncation_detected_with_expected_head(tmp_path: Path) -> None:
    log = _write_log(tmp_path)
    head = verify_log(log).head
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:-1]))
    assert verify_log(log).n_allocations == 11  # a shorter chain is still a valid chain
    with pytest.raises(AllocationLogError, match="head hash"):
        verify_log(log, expected_head=head)
    log.write_text("".join(lines)[:-5])
    with pytest.raises(AllocationLogError, match="incomplete"):
        verify_log(log)


def test_refusals_and_design_errors(tmp_path: Path) -> None:
    log = _write_log(tmp_path)
    with pytest.raises(AllocationLogError, match="already randomised"):
        randomise(log, "P0000", {"riluzole": "yes"})
    with pytest.raises(TrialDesignError, match="riluzole"):
        randomise(log, "NEW", {})
    with pytest.raises(TrialDesignError, match="design"):
        randomise(tmp_path / "new.jsonl", "X", {})
    with pytest.raises(TrialDesignError, match="differs"):
        randomise(log, "NEW", {"riluzole": "yes"}, design=AllocationDesign(("x", "y"), (1, 1)))
    with pytest.raises(TrialDesignError, match="ratio"):
        AllocationDesign(("a", "b"), (1,))
    with pytest.raises(TrialDesignError, match="block_sizes"):
        AllocationDesign(("a", "b"), (3, 1), block_sizes=(6,))
    with pytest.raises(TrialDesignError, match="colour"):
        AllocationDesign.from_dict({"arms": ["a", "b"], "colour": "red"})
    d = AllocationDesign(("a", "b"), (2, 1), method="minimisation", strata=("s",), seed=3)
    assert AllocationDesign.from_dict(d.to_dict()) == d
