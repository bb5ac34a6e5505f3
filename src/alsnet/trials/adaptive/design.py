"""Adaptive multi-arm trial designs with a binary outcome (adaptr-style), loaded from YAML.

The design mirrors ``adaptr::setup_trial_binom`` (Granholm et al., adaptr 1.4.0) for the case
without a common control: every arm is compared with every other through the posterior
probability of being the best arm, ``Pr(best)``.

- **Outcome**: binary, ``higher_is_better: false`` means an undesirable event (lower is better,
  adaptr's default for ``setup_trial_binom``). Scenarios give the true event probability per arm.
- **Posterior**: independent ``Beta(prior.alpha + events, prior.beta + non-events)`` per arm.
- **Looks**: at look ``k``, ``data_looks[k]`` patients have outcome data and
  ``randomised_at_looks[k]`` have been randomised (>= ``data_looks[k]``; the difference is the
  follow-up lag). ``lag: L`` is shorthand for ``randomised = min(data + L, data_looks[-1])``.
- **Stopping** (in adaptr's order): arms with ``Pr(best) < inferiority`` are dropped (and
  ``Pr(best)`` recomputed among the remaining arms until none is below); the trial stops for
  superiority when ``max Pr(best) > superiority``; otherwise for equivalence when
  ``Pr(max - min of the arms' event probabilities < equivalence.diff) > equivalence.prob``.
- **Response-adaptive randomisation**: allocation probabilities proportional to
  ``Pr(best) ** soften_power`` with floors ``min_probs`` and caps ``max_probs``, clamped and
  redistributed as in ``adaptr:::reallocate_probs``; ``rescale_probs: limits`` scales the floors
  and caps by ``n_arms / n_active_arms`` after arms are dropped (adaptr's ``rescale_probs``).
- **Posterior probabilities**: ``n_draws`` (adaptr's default 5000) emulates adaptr's Monte Carlo
  estimates exactly in distribution (see :mod:`alsnet.trials.adaptive.probs`); ``n_draws: null``
  uses the exact probabilities.

Every validation error is a :class:`~alsnet.trials.TrialDesignError` naming the dotted field
path and the reason, e.g. ``"superiority: must be in (0, 1), got 1.2"``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alsnet.trials.design import _check_keys, _err, _num, _prob

__all__ = ["ADAPTIVE_KIND", "AdaptiveDesign", "AdaptiveScenario", "is_adaptive_mapping"]

#: Value of the top-level ``kind`` field that selects this design type in a YAML file.
ADAPTIVE_KIND = "adaptive-binary"
_RESCALE = (None, "limits")


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _err(path, f"must be an integer, got {value!r}")
    return int(value)


def is_adaptive_mapping(d: Any) -> bool:
    """True when a parsed design file declares ``kind: adaptive-binary``."""
    return isinstance(d, Mapping) and d.get("kind") == ADAPTIVE_KIND


@dataclass(frozen=True)
class AdaptiveScenario:
    """True event probability per arm (``true_ys``, in arm order)."""

    name: str
    true_ys: tuple[float, ...]
    description: str = ""


@dataclass(frozen=True)
class AdaptiveDesign:
    """A validated adaptive binary-outcome design (see the module docstring).

    Attributes
    ----------
    arms
        Arm names (at least 2, unique).
    data_looks, randomised_at_looks
        Patients with outcome data / randomised at each adaptive analysis (strictly increasing
        data looks; randomised non-decreasing and >= data at each look).
    superiority, inferiority
        Thresholds on ``Pr(best)`` (probabilities in (0, 1), inferiority < superiority);
        one value for every look or one per look.
    equivalence_prob, equivalence_diff
        Stop for equivalence when Pr(range of event probabilities < diff) > prob (None: never).
    start_probs, min_probs, max_probs
        Initial allocation probabilities (sum 1) and floors/caps (None = none).
    soften_power
        Allocation ∝ Pr(best) ** soften_power, in (0, 1].
    n_draws
        Posterior draws emulated per analysis (None: exact probabilities).
    prior_alpha, prior_beta
        Beta prior (>= 1 each, so the posterior density is bounded).
    """

    name: str
    arms: tuple[str, ...]
    data_looks: tuple[int, ...]
    randomised_at_looks: tuple[int, ...]
    superiority: tuple[float, ...]
    inferiority: tuple[float, ...]
    equivalence_prob: tuple[float, ...] | None = None
    equivalence_diff: float | None = None
    start_probs: tuple[float, ...] | None = None
    min_probs: tuple[float, ...] | None = None
    max_probs: tuple[float, ...] | None = None
    soften_power: float = 1.0
    rescale_probs: str | None = None
    higher_is_better: bool = False
    n_draws: int | None = 5000
    prior_alpha: float = 1.0
    prior_beta: float = 1.0
    scenarios: Mapping[str, AdaptiveScenario] = field(default_factory=dict)
    version: int = 1
    description: str = ""

    def __post_init__(self) -> None:
        k = len(self.arms)
        if k < 2:
            raise _err("arms", f"at least 2 arms are required, got {k}")
        if len(set(self.arms)) != k or not all(self.arms):
            raise _err("arms", "names must be non-empty and unique")
        n_looks = len(self.data_looks)
        if n_looks < 1:
            raise _err("data_looks", "at least one look is required")
        if self.data_looks[0] < 1:
            raise _err("data_looks[0]", f"must be >= 1, got {self.data_looks[0]}")
        for i, (a, b) in enumerate(itertools.pairwise(self.data_looks)):
            if b <= a:
                raise _err(f"data_looks[{i + 1}]", f"looks must strictly increase ({a} then {b})")
        if len(self.randomised_at_looks) != n_looks:
            raise _err(
                "randomised_at_looks",
                f"needs one value per data look ({n_looks}), got {len(self.randomised_at_looks)}",
            )
        for i, (d, r) in enumerate(zip(self.data_looks, self.randomised_at_looks, strict=True)):
            if r < d:
                raise _err(
                    f"randomised_at_looks[{i}]", f"{r} is below the patients with data ({d})"
                )
        for i, (a, b) in enumerate(itertools.pairwise(self.randomised_at_looks)):
            if b < a:
                raise _err(f"randomised_at_looks[{i + 1}]", f"must not decrease ({a} then {b})")
        for label, vals in (
            ("superiority", self.superiority),
            ("inferiority", self.inferiority),
            ("equivalence.prob", self.equivalence_prob),
        ):
            if vals is None:
                continue
            if len(vals) != n_looks:
                raise _err(label, f"needs 1 or {n_looks} (one per look) values, got {len(vals)}")
            for i, v in enumerate(vals):
                _prob(v, label if len(set(vals)) == 1 else f"{label}[{i}]")
        for i, (s, f) in enumerate(zip(self.superiority, self.inferiority, strict=True)):
            if f >= s:
                raise _err("inferiority", f"must be below superiority at look {i} ({f:g} >= {s:g})")
        if (self.equivalence_prob is None) != (self.equivalence_diff is None):
            raise _err("equivalence", "needs both prob and diff")
        if self.equivalence_diff is not None:
            _prob(self.equivalence_diff, "equivalence.diff")
        for label, vals in (
            ("start_probs", self.start_probs),
            ("min_probs", self.min_probs),
            ("max_probs", self.max_probs),
        ):
            if vals is None:
                continue
            if len(vals) != k:
                raise _err(label, f"needs one value per arm ({k}), got {len(vals)}")
            for i, v in enumerate(vals):
                if not 0.0 <= v <= 1.0:
                    raise _err(f"{label}[{i}]", f"must be in [0, 1], got {v:g}")
        if self.start_probs is not None and abs(sum(self.start_probs) - 1.0) > 1e-9:
            raise _err("start_probs", f"must sum to 1, got {sum(self.start_probs):g}")
        if self.min_probs is not None and sum(self.min_probs) > 1.0 + 1e-12:
            raise _err("min_probs", f"floors sum to {sum(self.min_probs):g} > 1")
        if self.max_probs is not None and sum(self.max_probs) < 1.0 - 1e-12:
            raise _err("max_probs", f"caps sum to {sum(self.max_probs):g} < 1")
        if self.min_probs is not None and self.max_probs is not None:
            for i, (lo, hi) in enumerate(zip(self.min_probs, self.max_probs, strict=True)):
                if lo > hi:
                    raise _err(f"max_probs[{i}]", f"cap {hi:g} is below the floor {lo:g}")
        if not 0.0 < self.soften_power <= 1.0:
            raise _err("soften_power", f"must be in (0, 1], got {self.soften_power:g}")
        if self.rescale_probs not in _RESCALE:
            raise _err("rescale_probs", f"must be null or 'limits', got {self.rescale_probs!r}")
        if self.n_draws is not None and self.n_draws < 100:
            raise _err("n_draws", f"must be >= 100 or null (exact), got {self.n_draws}")
        for label, v in (("prior.alpha", self.prior_alpha), ("prior.beta", self.prior_beta)):
            if v < 1.0:
                raise _err(label, f"must be >= 1 (bounded posterior density), got {v:g}")
        for sc in self.scenarios.values():
            if len(sc.true_ys) != k:
                raise _err(
                    f"scenarios.{sc.name}.true_ys",
                    f"needs one value per arm ({k}), got {len(sc.true_ys)}",
                )
            for arm, y in zip(self.arms, sc.true_ys, strict=True):
                if not 0.0 <= y <= 1.0:
                    raise _err(
                        f"scenarios.{sc.name}.true_ys.{arm}", f"must be in [0, 1], got {y:g}"
                    )

    # ------------------------------------------------------------------ helpers
    @property
    def n_looks(self) -> int:
        """Number of adaptive analyses."""
        return len(self.data_looks)

    @property
    def max_n(self) -> int:
        """Maximum number of patients randomised."""
        return self.randomised_at_looks[-1]

    def scenario(self, name: str) -> AdaptiveScenario:
        """Scenario ``name``; the error lists the available ones."""
        try:
            return self.scenarios[name]
        except KeyError:
            raise _err("scenario", f"{name!r} not in design ({sorted(self.scenarios)})") from None

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AdaptiveDesign:
        """Build from a parsed mapping (``kind: adaptive-binary``); unknown fields are errors."""
        allowed = {
            "kind",
            "name",
            "version",
            "description",
            "arms",
            "higher_is_better",
            "data_looks",
            "randomised_at_looks",
            "lag",
            "superiority",
            "inferiority",
            "equivalence",
            "start_probs",
            "min_probs",
            "max_probs",
            "soften_power",
            "rescale_probs",
            "n_draws",
            "prior",
            "scenarios",
        }
        extra = sorted(set(d) - allowed)
        if extra:
            raise _err(extra[0], "unknown field")
        for req in ("name", "arms", "data_looks", "superiority", "inferiority"):
            if req not in d:
                raise _err(req, "missing")
        arms_raw = d["arms"]
        if not isinstance(arms_raw, list):
            raise _err("arms", "must be a list of arm names")
        arms = tuple(str(a) for a in arms_raw)
        if len(set(arms)) != len(arms) or not all(arms):
            raise _err("arms", "names must be non-empty and unique")
        looks = _parse_looks(d["data_looks"], "data_looks")
        if "randomised_at_looks" in d and "lag" in d:
            raise _err("lag", "give either lag or randomised_at_looks, not both")
        if "randomised_at_looks" in d:
            rand = _parse_looks(d["randomised_at_looks"], "randomised_at_looks")
        else:
            lag = _int(d.get("lag", 0), "lag")
            if lag < 0:
                raise _err("lag", f"must be >= 0, got {lag}")
            rand = tuple(min(n + lag, looks[-1]) for n in looks) if looks else ()
        n_looks = len(looks)
        kw: dict[str, Any] = {
            "name": str(d["name"]),
            "arms": arms,
            "data_looks": looks,
            "randomised_at_looks": rand,
            "superiority": _per_look(d["superiority"], "superiority", n_looks),
            "inferiority": _per_look(d["inferiority"], "inferiority", n_looks),
        }
        if "version" in d:
            kw["version"] = _int(d["version"], "version")
        if "description" in d:
            kw["description"] = str(d["description"])
        if "higher_is_better" in d:
            if not isinstance(d["higher_is_better"], bool):
                raise _err("higher_is_better", "must be true or false")
            kw["higher_is_better"] = d["higher_is_better"]
        eq = d.get("equivalence")
        if eq is not None:
            if not isinstance(eq, Mapping):
                raise _err("equivalence", "must be a mapping with prob and diff")
            bad = sorted(set(eq) - {"prob", "diff"})
            if bad:
                raise _err(f"equivalence.{bad[0]}", "unknown field")
            for req in ("prob", "diff"):
                if req not in eq:
                    raise _err(f"equivalence.{req}", "missing")
            kw["equivalence_prob"] = _per_look(eq["prob"], "equivalence.prob", n_looks)
            kw["equivalence_diff"] = _num(eq["diff"], "equivalence.diff")
        for key in ("start_probs", "min_probs", "max_probs"):
            if d.get(key) is not None:
                kw[key] = _per_arm(d[key], key, arms)
        if "soften_power" in d:
            kw["soften_power"] = _num(d["soften_power"], "soften_power")
        if "rescale_probs" in d:
            kw["rescale_probs"] = d["rescale_probs"]
        if "n_draws" in d:
            kw["n_draws"] = None if d["n_draws"] is None else _int(d["n_draws"], "n_draws")
        if d.get("prior") is not None:
            pr = d["prior"]
            if not isinstance(pr, Mapping):
                raise _err("prior", "must be a mapping with alpha and beta")
            _check_keys(pr, "prior", {"alpha", "beta"}, set())
            kw["prior_alpha"] = _num(pr.get("alpha", 1.0), "prior.alpha")
            kw["prior_beta"] = _num(pr.get("beta", 1.0), "prior.beta")
        if d.get("scenarios") is not None:
            sm = d["scenarios"]
            if not isinstance(sm, Mapping):
                raise _err("scenarios", "must be a mapping of scenario names")
            scs: dict[str, AdaptiveScenario] = {}
            for name, spec in sm.items():
                path = f"scenarios.{name}"
                if not isinstance(spec, Mapping):
                    raise _err(path, "must be a mapping with true_ys")
                _check_keys(spec, path, {"true_ys", "description"}, {"true_ys"})
                scs[str(name)] = AdaptiveScenario(
                    name=str(name),
                    true_ys=_per_arm(spec["true_ys"], f"{path}.true_ys", arms),
                    description=str(spec.get("description", "")),
                )
            kw["scenarios"] = scs
        return cls(**kw)


def _parse_looks(value: Any, path: str) -> tuple[int, ...]:
    """A list of integers, or ``{from, to, by}`` (inclusive, like R's ``seq``)."""
    if isinstance(value, Mapping):
        bad = sorted(set(value) - {"from", "to", "by"})
        if bad:
            raise _err(f"{path}.{bad[0]}", "unknown field")
        for req in ("from", "to", "by"):
            if req not in value:
                raise _err(f"{path}.{req}", "missing")
        lo, hi, by = (_int(value[x], f"{path}.{x}") for x in ("from", "to", "by"))
        if by < 1:
            raise _err(f"{path}.by", f"must be >= 1, got {by}")
        if hi < lo:
            raise _err(f"{path}.to", f"must be >= from ({hi} < {lo})")
        return tuple(range(lo, hi + 1, by))
    if not isinstance(value, list) or not value:
        raise _err(path, "must be a non-empty list of patient counts or {from, to, by}")
    return tuple(_int(x, f"{path}[{i}]") for i, x in enumerate(value))


def _per_look(value: Any, path: str, n_looks: int) -> tuple[float, ...]:
    if isinstance(value, list):
        return tuple(_num(x, f"{path}[{i}]") for i, x in enumerate(value))
    return tuple(_num(value, path) for _ in range(n_looks))


def _per_arm(value: Any, path: str, arms: Sequence[str]) -> tuple[float, ...]:
    if isinstance(value, Mapping):
        unknown = sorted(set(map(str, value)) - set(arms))
        if unknown:
            raise _err(f"{path}.{unknown[0]}", "not an arm of the design")
        missing = [a for a in arms if a not in value]
        if missing:
            raise _err(f"{path}.{missing[0]}", "missing")
        return tuple(_num(value[a], f"{path}.{a}") for a in arms)
    if isinstance(value, list):
        return tuple(_num(x, f"{path}[{i}]") for i, x in enumerate(value))
    return tuple(_num(value, path) for _ in arms)
