"""Live-trial randomisation with an append-only, tamper-evident allocation log.

Two methods:

``blocks``
    Stratified permuted blocks. Each stratum (one combination of stratum factor levels)
    has its own sequence of blocks; a block holds every arm ``ratio[a] * m`` times, its
    size drawn from ``block_sizes``, its order a random permutation.
``minimisation``
    Pocock–Simon minimisation over the stratum factors (marginal balance): for each arm,
    the imbalance after a hypothetical assignment is the weighted sum over factors of the
    range of ratio-scaled counts at the patient's level; the arm with the least imbalance
    is chosen with probability ``p_best`` (ties split at random), another arm otherwise.

Every random draw comes from ``numpy.random.SeedSequence(seed, spawn_key=...)`` keyed by
the stratum and block number (blocks) or the allocation number (minimisation), so the
allocation sequence is a pure function of the design, its seed and the order of arrival.

The log is JSON lines. Line 1 is a header holding the design; each later line is one
allocation. Every line holds ``prev`` (the SHA-256 of the previous line's content; 64
zeros for the header) and its own ``sha256``, and must be written in canonical JSON
(sorted keys, no spaces). :func:`verify_log` re-checks the whole chain *and* re-derives
every allocation from the design, so an edited byte, a deleted, inserted or swapped line
and a forged arm are all detected; :func:`randomise` refuses to append to a log that does
not verify. Removing lines from the *end* leaves a valid shorter chain: record the head
hash (:attr:`LogStatus.head`) outside the log, e.g. in the DSMB minutes, and pass it to
:func:`verify_log` as ``expected_head`` to detect truncation.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alsnet.trials._errors import AllocationLogError, TrialDesignError

__all__ = [
    "AllocationDesign",
    "LogStatus",
    "allocate",
    "randomise",
    "verify_log",
]

GENESIS = "0" * 64
_METHODS = ("blocks", "minimisation")


def _canonical(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _sha(obj: Mapping[str, Any]) -> str:
    return hashlib.sha256(_canonical(obj).encode("ascii")).hexdigest()


def _key_int(text: str) -> int:
    """Stable 64-bit integer of a text (for SeedSequence spawn keys)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


@dataclass(frozen=True, slots=True)
class AllocationDesign:
    """How to allocate patients of a live trial.

    Attributes
    ----------
    arms : tuple of str
        Arm names, e.g. ``("active", "placebo")``.
    ratio : tuple of int
        Allocation ratio per arm, e.g. ``(3, 1)`` for HEALEY's 3:1 within a regimen.
    method : str
        ``"blocks"`` (stratified permuted blocks) or ``"minimisation"`` (Pocock–Simon).
    strata : tuple of str
        Stratum factor names; each randomised patient must give a level for every one.
    block_sizes : tuple of int
        Allowed block sizes (multiples of ``sum(ratio)``), chosen at random per block.
    p_best : float
        Minimisation: probability of assigning the least-imbalance arm (1 = deterministic).
    weights : tuple of float
        Minimisation: weight of each stratum factor (default 1 each).
    seed : int
        Seed of every random draw.
    """

    arms: tuple[str, ...]
    ratio: tuple[int, ...]
    method: str = "blocks"
    strata: tuple[str, ...] = ()
    block_sizes: tuple[int, ...] = ()
    p_best: float = 0.8
    weights: tuple[float, ...] = ()
    seed: int = 0
    _scale: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        arms, ratio = tuple(self.arms), tuple(self.ratio)
        if (
            len(arms) < 2
            or len(set(arms)) != len(arms)
            or not all(isinstance(a, str) and a for a in arms)
        ):
            raise TrialDesignError("arms: need at least two distinct, non-empty arm names")
        if len(ratio) != len(arms) or not all(isinstance(r, int) and r >= 1 for r in ratio):
            raise TrialDesignError(
                f"ratio: need one positive integer per arm ({len(arms)} arms), got {ratio}"
            )
        if self.method not in _METHODS:
            raise TrialDesignError(f"method: {self.method!r} is not one of {_METHODS}")
        if len(set(self.strata)) != len(self.strata):
            raise TrialDesignError("strata: factor names must be distinct")
        unit = sum(ratio)
        sizes = tuple(self.block_sizes) or (unit, 2 * unit)
        if any((not isinstance(s, int)) or s < unit or s % unit for s in sizes):
            raise TrialDesignError(
                f"block_sizes: each must be a positive multiple of sum(ratio) = {unit}, got {sizes}"
            )
        if not (0.0 < self.p_best <= 1.0):
            raise TrialDesignError(f"p_best: {self.p_best!r} must be in (0, 1]")
        weights = tuple(float(w) for w in self.weights) or (1.0,) * len(self.strata)
        if len(weights) != len(self.strata) or any(w <= 0 for w in weights):
            raise TrialDesignError("weights: need one positive weight per stratum factor")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise TrialDesignError(f"seed: {self.seed!r} must be a non-negative integer")
        object.__setattr__(self, "arms", arms)
        object.__setattr__(self, "ratio", ratio)
        object.__setattr__(self, "strata", tuple(self.strata))
        object.__setattr__(self, "block_sizes", sizes)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "_scale", tuple(1.0 / r for r in ratio))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AllocationDesign:
        """Build from a mapping (a parsed JSON/YAML design file); unknown keys are errors."""
        allowed = {"arms", "ratio", "method", "strata", "block_sizes", "p_best", "weights", "seed"}
        extra = set(d) - allowed
        if extra:
            raise TrialDesignError(f"{sorted(extra)[0]}: unknown design field")
        if "arms" not in d:
            raise TrialDesignError("arms: missing")
        kw = dict(d)
        kw.setdefault("ratio", [1] * len(kw["arms"]))
        for k in ("arms", "ratio", "strata", "block_sizes", "weights"):
            if k in kw:
                if not isinstance(kw[k], list | tuple):
                    raise TrialDesignError(f"{k}: must be a list")
                kw[k] = tuple(kw[k])
        return cls(**kw)

    @classmethod
    def from_file(cls, path: str | Path) -> AllocationDesign:
        """Read a JSON or YAML design file."""
        p = Path(path)
        text = p.read_text(encoding="utf-8")
        if p.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise TrialDesignError(f"{p.name}: not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise TrialDesignError(f"{p.name}: the design must be a mapping")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (round-trips through :meth:`from_dict`)."""
        return {
            "arms": list(self.arms),
            "ratio": list(self.ratio),
            "method": self.method,
            "strata": list(self.strata),
            "block_sizes": list(self.block_sizes),
            "p_best": self.p_best,
            "weights": list(self.weights),
            "seed": self.seed,
        }

    def stratum_key(self, stratum: Mapping[str, str]) -> str:
        """Canonical text of a patient's stratum; checks every factor is given."""
        missing = [f for f in self.strata if f not in stratum]
        extra = [f for f in stratum if f not in self.strata]
        if missing:
            raise TrialDesignError(f"stratum: factor {missing[0]!r} missing")
        if extra:
            raise TrialDesignError(f"stratum: {extra[0]!r} is not a stratum factor")
        return _canonical({f: str(stratum[f]) for f in self.strata})


# --------------------------------------------------------------------------- allocation


class _State:
    """Allocation state replayed from a log: per-stratum positions, factor-level counts."""

    def __init__(self, design: AllocationDesign) -> None:
        self.design = design
        self.n = 0
        self.position: dict[str, int] = {}
        self.blocks: dict[str, list[int]] = {}
        self.margins: dict[tuple[str, str], np.ndarray] = {}
        self.patients: set[str] = set()

    def _block_arms(self, key: str, upto: int) -> list[int]:
        """Arm indices of the stratum's block sequence, extended to cover ``upto``."""
        seq = self.blocks.setdefault(key, [])
        d = self.design
        unit = sum(d.ratio)
        base = np.repeat(np.arange(len(d.arms)), d.ratio)
        while len(seq) <= upto:
            j = len(seq)  # blocks are generated whole, so len(seq) marks a block start
            ss = np.random.SeedSequence(d.seed, spawn_key=(_key_int(key), j))
            rng = np.random.default_rng(ss)
            size = int(rng.choice(np.asarray(d.block_sizes)))
            seq.extend(rng.permutation(np.tile(base, size // unit)).tolist())
        return seq

    def next_arm(self, stratum: Mapping[str, str]) -> int:
        """Arm index the design assigns to the next patient (does not record it)."""
        d = self.design
        key = d.stratum_key(stratum)
        if d.method == "blocks":
            pos = self.position.get(key, 0)
            return self._block_arms(key, pos)[pos]
        k = len(d.arms)
        scale = np.asarray(d._scale)
        imbalance = np.zeros(k)
        for f, w in zip(d.strata, d.weights, strict=True):
            counts = self.margins.get((f, str(stratum[f])), np.zeros(k))
            trial = counts[None, :] + np.eye(k)  # row a: counts after assigning arm a
            scaled = trial * scale[None, :]
            imbalance += w * (scaled.max(axis=1) - scaled.min(axis=1))
        if not d.strata:  # no factors: balance the overall counts
            total = self.margins.get(("", ""), np.zeros(k))
            scaled = (total[None, :] + np.eye(k)) * scale[None, :]
            imbalance = scaled.max(axis=1) - scaled.min(axis=1)
        rng = np.random.default_rng(np.random.SeedSequence(d.seed, spawn_key=(self.n,)))
        u, pick = rng.random(), rng.random()
        best = np.flatnonzero(np.isclose(imbalance, imbalance.min()))
        others = np.setdiff1d(np.arange(k), best)
        if u < d.p_best or others.size == 0:
            return int(best[min(int(pick * best.size), best.size - 1)])
        return int(others[min(int(pick * others.size), others.size - 1)])

    def record(self, patient: str, stratum: Mapping[str, str], arm: int) -> None:
        d = self.design
        key = d.stratum_key(stratum)
        self.position[key] = self.position.get(key, 0) + 1
        k = len(d.arms)
        for f in d.strata:
            m = self.margins.setdefault((f, str(stratum[f])), np.zeros(k))
            m[arm] += 1
        tot = self.margins.setdefault(("", ""), np.zeros(k))
        tot[arm] += 1
        self.patients.add(patient)
        self.n += 1


def allocate(design: AllocationDesign, strata: Sequence[Mapping[str, str]]) -> list[str]:
    """Arms the design assigns to patients arriving in order, without a log.

    Gives exactly the arms :func:`randomise` writes for the same arrivals; use it to
    study a scheme's balance or inside simulations.

    Parameters
    ----------
    design : AllocationDesign
        Allocation design (its seed fixes the sequence).
    strata : sequence of mapping
        Stratum factor levels of each arriving patient, in arrival order.

    Returns
    -------
    list of str
        Arm of each patient.

    Examples
    --------
    >>> d = AllocationDesign(arms=("active", "placebo"), ratio=(3, 1), block_sizes=(4,))
    >>> sorted(allocate(d, [{}] * 4))
    ['active', 'active', 'active', 'placebo']
    """
    state = _State(design)
    out = []
    for i, s in enumerate(strata):
        s = {str(k): str(v) for k, v in s.items()}
        arm = state.next_arm(s)
        state.record(f"#{i}", s, arm)
        out.append(design.arms[arm])
    return out


# --------------------------------------------------------------------------- log


@dataclass(frozen=True, slots=True)
class LogStatus:
    """Result of verifying an allocation log.

    Attributes
    ----------
    path : str
        Log file.
    n_allocations : int
        Number of allocations (header excluded).
    head : str
        SHA-256 of the last line: record it outside the log to detect tail truncation.
    design : AllocationDesign
        The design in the header.
    counts : dict
        Patients per arm.
    """

    path: str
    n_allocations: int
    head: str
    design: AllocationDesign
    counts: dict[str, int]


def _replay(path: Path, lines: Sequence[str]) -> tuple[_State, str]:
    """Verify every line and rebuild the allocation state; return it and the head hash."""
    name = path.name
    if not lines:
        raise AllocationLogError(f"{name}: empty allocation log (no header)")
    prev = GENESIS
    state: _State | None = None
    for i, raw in enumerate(lines, start=1):
        where = f"{name}, line {i}"
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError:
            raise AllocationLogError(f"{where}: not valid JSON (edited?)") from None
        if not isinstance(entry, dict) or _canonical(entry) != raw:
            raise AllocationLogError(f"{where}: not in canonical form (edited?)")
        body = {k: v for k, v in entry.items() if k != "sha256"}
        if entry.get("sha256") != _sha(body):
            raise AllocationLogError(f"{where}: content does not match its SHA-256 (edited)")
        if entry.get("prev") != prev:
            raise AllocationLogError(
                f"{where}: previous-entry hash does not match (a line was deleted, inserted "
                "or moved)"
            )
        if entry.get("seq") != i - 1:
            raise AllocationLogError(f"{where}: sequence number {entry.get('seq')} != {i - 1}")
        if i == 1:
            if entry.get("kind") != "header":
                raise AllocationLogError(f"{where}: the first line must be the header")
            try:
                state = _State(AllocationDesign.from_dict(entry["design"]))
            except (TrialDesignError, KeyError, TypeError) as exc:
                raise AllocationLogError(f"{where}: invalid design in header: {exc}") from None
        else:
            assert state is not None
            if entry.get("kind") != "allocation":
                raise AllocationLogError(f"{where}: expected an allocation entry")
            patient, stratum = entry.get("patient"), entry.get("stratum")
            if not isinstance(patient, str) or not isinstance(stratum, dict):
                raise AllocationLogError(f"{where}: malformed allocation entry")
            if patient in state.patients:
                raise AllocationLogError(f"{where}: patient randomised twice")
            try:
                arm = state.next_arm(stratum)
            except TrialDesignError as exc:
                raise AllocationLogError(f"{where}: {exc}") from None
            if entry.get("arm") != state.design.arms[arm]:
                raise AllocationLogError(
                    f"{where}: arm differs from the design's allocation sequence (forged?)"
                )
            state.record(patient, stratum, arm)
        prev = entry["sha256"]
    assert state is not None
    return state, prev


def _read_lines(path: Path, text: str) -> list[str]:
    if text and not text.endswith("\n"):
        raise AllocationLogError(f"{path.name}: incomplete last line (interrupted write?)")
    return text.split("\n")[:-1] if text else []


def _status(path: Path, state: _State, head: str) -> LogStatus:
    counts = {a: 0 for a in state.design.arms}
    tot = state.margins.get(("", ""))
    if tot is not None:
        counts = {a: int(c) for a, c in zip(state.design.arms, tot, strict=True)}
    return LogStatus(str(path), state.n, head, state.design, counts)


def verify_log(path: str | Path, *, expected_head: str | None = None) -> LogStatus:
    """Verify an allocation log: hash chain, canonical form, and every allocation.

    Parameters
    ----------
    path : str or Path
        JSON-lines allocation log.
    expected_head : str, optional
        SHA-256 of the last entry recorded elsewhere; detects removal of final lines.

    Returns
    -------
    LogStatus

    Raises
    ------
    AllocationLogError
        Naming the first broken line and what is wrong with it.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such allocation log")
    state, head = _replay(p, _read_lines(p, p.read_text(encoding="ascii", errors="replace")))
    if expected_head is not None and head != expected_head:
        raise AllocationLogError(
            f"{p.name}: head hash {head[:12]}… differs from the expected {expected_head[:12]}… "
            "(entries removed from the end, or a different log)"
        )
    return _status(p, state, head)


def randomise(
    log: str | Path,
    patient: str,
    stratum: Mapping[str, str] | None = None,
    *,
    design: AllocationDesign | None = None,
) -> dict[str, Any]:
    """Allocate the next patient and append the allocation to the log.

    The log is locked, verified in full, the arm derived from the design and the state
    replayed from the log, and the new entry appended and flushed to disk.

    Parameters
    ----------
    log : str or Path
        Allocation log (JSON lines). Created, with ``design`` in its header, if missing.
    patient : str
        Pseudonymous patient id; a patient can be randomised only once.
    stratum : mapping of str to str, optional
        Level of each stratum factor for this patient.
    design : AllocationDesign, optional
        Required to create a log; if given for an existing log it must equal the header's.

    Returns
    -------
    dict
        The appended entry (``seq``, ``patient``, ``stratum``, ``arm``, ``prev``, ``sha256``).

    Raises
    ------
    AllocationLogError
        If the existing log does not verify, or the patient was already randomised.
    TrialDesignError
        For a missing design or an invalid stratum.
    """
    p = Path(log)
    stratum = {str(k): str(v) for k, v in (stratum or {}).items()}
    if not patient or not isinstance(patient, str):
        raise TrialDesignError("patient: a non-empty id is required")
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(fd, "r+", encoding="ascii", newline="") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        text = fh.read()
        lines = _read_lines(p, text)
        new_lines: list[str] = []
        if not lines:
            if design is None:
                raise TrialDesignError("design: needed to start a new allocation log")
            header = {"seq": 0, "kind": "header", "design": design.to_dict(), "prev": GENESIS}
            header["sha256"] = _sha(header)
            new_lines.append(_canonical(header))
            state, head = _State(design), header["sha256"]
        else:
            state, head = _replay(p, lines)
            if design is not None and design != state.design:
                raise TrialDesignError("design: differs from the design in the log header")
        if patient in state.patients:
            raise AllocationLogError(f"{p.name}: patient already randomised")
        arm = state.next_arm(stratum)
        entry: dict[str, Any] = {
            "seq": state.n + 1,
            "kind": "allocation",
            "patient": patient,
            "stratum": stratum,
            "arm": state.design.arms[arm],
            "prev": head,
        }
        entry["sha256"] = _sha(entry)
        new_lines.append(_canonical(entry))
        fh.seek(0, os.SEEK_END)
        fh.write("".join(line + "\n" for line in new_lines))
        fh.flush()
        os.fsync(fh.fileno())
    return entry
