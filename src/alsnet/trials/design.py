"""Platform-trial design specification: frozen dataclasses loaded from a validated YAML file.

A design describes a master protocol in which regimens (each an active drug with its own
placebo, randomised ``active:placebo`` within the regimen, e.g. 3:1) enter over calendar time,
share placebo patients according to a control-sharing rule, and are analysed at interims and a
final look on the disease-progression rate ratio (DRR) of the ALSFRS-R slope.

Units: calendar times in **months** since the platform opened; visit times in **weeks** since
the patient's randomisation (converted to months as ``weeks * 12 / 52``); rates per month.

Every validation error is a :class:`~alsnet.trials.TrialDesignError` whose message starts with
the dotted path of the offending field, then the reason, e.g.
``"futility.threshold: must be in (0, 1), got 1.5"``.

Shipped examples live in ``alsnet/trials/examples/<name>.yaml``; :func:`load_design` accepts a
file path or an example name (``"healey"``, ``"mnd-smart"``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alsnet.trials._errors import TrialDesignError

if TYPE_CHECKING:
    from alsnet.trials.adaptive.design import AdaptiveDesign

__all__ = [
    "ControlSharing",
    "FrequentistAnalysis",
    "Futility",
    "InterimSchedule",
    "OutcomeModel",
    "OutcomeSpec",
    "PlatformDesign",
    "Regimen",
    "Scenario",
    "Success",
    "SurvivalStage",
    "Trait",
    "example_names",
    "load_design",
]

WEEKS_TO_MONTHS = 12.0 / 52.0
_SHARING_RULES = ("own", "concurrent", "all", "nonconcurrent")
_OUTCOME_SOURCES = ("parametric", "bootstrap", "twin")
_SURVIVAL_TESTS = ("logrank",)
_TREATMENT_EFFECTS = ("multiplicative", "additive")


def _err(path: str, reason: str) -> TrialDesignError:
    return TrialDesignError(f"{path}: {reason}")


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _err(path, f"must be a mapping, got {type(value).__name__}")
    return value


def _check_keys(d: Mapping[str, Any], path: str, allowed: set[str], required: set[str]) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        prefix = f"{path}." if path else ""
        raise _err(f"{prefix}{extra[0]}", "unknown field")
    missing = sorted(required - set(d))
    if missing:
        prefix = f"{path}." if path else ""
        raise _err(f"{prefix}{missing[0]}", "missing")


def _num(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _err(path, f"must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise _err(path, f"must be finite, got {value!r}")
    return v


def _pos_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _err(path, f"must be a positive integer, got {value!r}")
    return int(value)


def _prob(value: float, path: str) -> None:
    if not 0.0 < value < 1.0:
        raise _err(path, f"must be in (0, 1), got {value:g}")


@dataclass(frozen=True)
class Regimen:
    """One regimen of the platform.

    Parameters
    ----------
    name
        Label (unique within the design).
    entry_month
        Calendar time the regimen opens to enrolment (months since the platform opened, >= 0).
    n
        Patients randomised to the regimen (active plus its own placebo).
    eligibility
        Subgroup restriction as ``(trait, criterion)`` pairs over traits of the design's
        ``population`` (all must hold): a binary trait needs ``0`` or ``1``
        (e.g. ``("sod1", 1)``), a categorical trait a tuple of allowed categories
        (e.g. ``("onset_region", ("bulbar",))``), a normal trait a ``(low, high)`` window
        (e.g. the TRICALS/ENCALS risk window ``("encals", (-6.0, -2.0))``). Empty = everyone.
    """

    name: str
    entry_month: float
    n: int
    eligibility: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.name:
            raise _err("regimens.name", "must be a non-empty string")
        if self.entry_month < 0:
            raise _err(f"regimens[{self.name}].entry_month", "must be >= 0")
        if self.n < 2:
            raise _err(f"regimens[{self.name}].n", f"must be at least 2, got {self.n}")


@dataclass(frozen=True)
class Trait:
    """A baseline patient characteristic drawn by the simulator (``population:`` block).

    ``kind="binary"``: carrier with probability ``p`` (e.g. SOD1, about 2% of ALS);
    ``kind="categorical"``: one of ``categories`` with probabilities ``probs`` (sum 1);
    ``kind="normal"``: ``N(mean, sd^2)`` (e.g. the ENCALS prognostic score). Traits are
    independent of each other and of the outcome.
    """

    name: str
    kind: str
    p: float = 0.0
    categories: tuple[str, ...] = ()
    probs: tuple[float, ...] = ()
    mean: float = 0.0
    sd: float = 1.0

    def __post_init__(self) -> None:
        path = f"population.{self.name}"
        if self.kind == "binary":
            if not 0.0 <= self.p <= 1.0:
                raise _err(path, f"prevalence must be in [0, 1], got {self.p:g}")
        elif self.kind == "categorical":
            if not self.categories or len(self.categories) != len(self.probs):
                raise _err(path, "needs at least one category with a probability")
            if any(q < 0 for q in self.probs) or abs(sum(self.probs) - 1.0) > 1e-6:
                raise _err(
                    path,
                    f"category probabilities must be >= 0 and sum to 1, got {sum(self.probs):g}",
                )
        elif self.kind == "normal":
            if self.sd <= 0:
                raise _err(f"{path}.sd", f"must be > 0, got {self.sd:g}")
        else:
            raise _err(path, f"kind must be binary, categorical or normal, got {self.kind!r}")

    def p_meets(self, criterion: Any) -> float:
        """Probability that a patient meets ``criterion`` (see :class:`Regimen`)."""
        if self.kind == "binary":
            return self.p if criterion == 1 else 1.0 - self.p
        if self.kind == "categorical":
            return float(
                sum(q for c, q in zip(self.categories, self.probs, strict=True) if c in criterion)
            )
        lo, hi = criterion

        def cdf(x: float) -> float:
            return 0.5 * math.erfc(-(x - self.mean) / (self.sd * math.sqrt(2.0)))

        return cdf(hi) - cdf(lo)


@dataclass(frozen=True)
class OutcomeSpec:
    """Where simulated control courses come from (``outcomes:`` block).

    ``source="parametric"``: the :class:`OutcomeModel` (PRO-ACT calibration).
    ``source="bootstrap"``: resample patients' observed ALSFRS-R slopes and event times from a
    registry cohort (:func:`alsnet.trials.outcomes.bootstrap_library`). ``source="twin"``:
    control courses drawn by a digital twin's ``sample()`` for registry patients
    (:func:`alsnet.trials.outcomes.twin_library`). From a design file the cohort is
    synthetic (``alsnet.synth.synthesize(cohort_n, seed=cohort_seed)``); from Python any
    cohort or prepared :class:`~alsnet.trials.outcomes.OutcomeLibrary` can be passed to
    :func:`~alsnet.trials.simulate`.
    """

    source: str = "parametric"
    cohort_n: int = 2000
    cohort_seed: int = 0

    def __post_init__(self) -> None:
        if self.source not in _OUTCOME_SOURCES:
            raise _err("outcomes.source", f"must be one of {_OUTCOME_SOURCES}, got {self.source!r}")
        if self.cohort_n < 10:
            raise _err("outcomes.cohort_n", f"must be >= 10, got {self.cohort_n}")


@dataclass(frozen=True)
class ControlSharing:
    """Which placebo patients a regimen's analysis uses.

    ``rule="own"``: only the regimen's own placebo. ``rule="concurrent"``: its own placebo plus
    every other regimen's placebo patient randomised within ``window_months`` of the regimen's
    enrolment window (HEALEY: ±180 days ≈ 5.9 months). ``rule="all"``: every placebo patient
    of the platform, concurrent or not, without calendar-time adjustment (biased under drift).
    ``rule="nonconcurrent"``: every placebo patient (own, concurrent and non-concurrent) with
    calendar-time adjustment: the ALSFRS-R slope analysis is a regression on arm and calendar
    period fixed effects over all arms of the platform (Bofill Roig, Krotka et al. 2022;
    :mod:`alsnet.trials._ncc`), and so is the death hazard of Bayesian designs (piecewise
    exponential in period); ``window_months`` then only selects the controls of a
    ``survival_stage`` log-rank test.

    Periods (``rule="nonconcurrent"`` only): with ``period_months=None`` (default) a new
    period starts whenever a regimen starts or stops enrolling, as in the NCC literature and
    the live analysis (:func:`alsnet.trials.analyse.analyse_trial`); with ``period_months=m``
    the calendar is cut into fixed bins of ``m`` months since the platform opened.
    """

    rule: str = "concurrent"
    window_months: float = 180.0 / 30.4375
    period_months: float | None = None

    def __post_init__(self) -> None:
        if self.rule not in _SHARING_RULES:
            raise _err(
                "control_sharing.rule", f"must be one of {_SHARING_RULES}, got {self.rule!r}"
            )
        if self.window_months < 0:
            raise _err("control_sharing.window_months", "must be >= 0")
        if self.period_months is not None:
            if self.rule != "nonconcurrent":
                raise _err(
                    "control_sharing.period_months",
                    f"only used with rule nonconcurrent, got rule {self.rule!r}",
                )
            if not (math.isfinite(self.period_months) and self.period_months > 0):
                raise _err(
                    "control_sharing.period_months", f"must be > 0, got {self.period_months:g}"
                )


@dataclass(frozen=True)
class InterimSchedule:
    """Interim looks for each regimen.

    The first interim is at the calendar time when ``first_n`` of the regimen's patients could
    have completed follow-up; later interims follow every ``every_weeks`` weeks until the final
    analysis (all of the regimen's patients could have completed follow-up). An interim that
    would fall less than half an interval before the final is not held. ``first_n=None``
    means no interims (fixed design). ``max_interims`` caps their number.

    Alternatively ``looks`` lists explicit interims as ``(n, weeks)`` pairs: the calendar time
    when the regimen's ``n``-th patient (in enrolment order, active or own placebo) has
    ``weeks`` of follow-up (MAMS stages such as "100 per arm with 12 months"); ``first_n`` and
    ``every_weeks`` are then ignored. ``final``, in the same form, sets the final look (default:
    when every patient of the regimen could have completed ``follow_up_weeks``).
    """

    first_n: int | None = None
    every_weeks: float = 12.0
    max_interims: int | None = None
    looks: tuple[tuple[int, float], ...] | None = None
    final: tuple[int, float] | None = None

    def __post_init__(self) -> None:
        if self.every_weeks <= 0:
            raise _err("interims.every_weeks", f"must be > 0, got {self.every_weeks:g}")
        for i, (n, w) in enumerate((self.looks or ()) + ((self.final,) if self.final else ())):
            where = (
                "interims.final"
                if self.final and i == len(self.looks or ())
                else f"interims.looks[{i}]"
            )
            if n < 1 or w < 0:
                raise _err(where, f"needs n >= 1 and weeks >= 0, got ({n}, {w:g})")


@dataclass(frozen=True)
class Success:
    """Success rule: Pr(DRR < ``drr``) > ``threshold`` (final; at interims only if ``early``)."""

    threshold: float = 0.979
    drr: float = 1.0
    early: bool = False

    def __post_init__(self) -> None:
        _prob(self.threshold, "success.threshold")
        if self.drr <= 0:
            raise _err("success.drr", f"must be > 0, got {self.drr:g}")


@dataclass(frozen=True)
class Futility:
    """Futility rule at interims: stop when Pr(DRR < ``drr``) < ``threshold``."""

    threshold: float = 0.05
    drr: float = 0.9

    def __post_init__(self) -> None:
        _prob(self.threshold, "futility.threshold")
        if self.drr <= 0:
            raise _err("futility.drr", f"must be > 0, got {self.drr:g}")


@dataclass(frozen=True)
class FrequentistAnalysis:
    """Frequentist MAMS decision rules on ``z = -log(DRR estimate) / se`` (benefit: z > 0).

    Replaces the Bayesian ``success``/``futility`` rules when present. Efficacy: ``z`` above
    the one-sided group-sequential bound of :func:`~alsnet.trials.gs_bounds` for ``alpha`` and
    ``spending`` over the regimen's looks (equally spaced information), or, with
    ``spending="none"``, only at the final look with ``z > Phi^-1(1 - alpha)``. Futility at
    interim ``k``: stop when the one-sided p-value ``1 - Phi(z)`` exceeds ``futility_p[k]``
    (the last value is reused for later interims; empty = no futility stopping). Each
    regimen is tested against its controls on its own (pairwise error control, no
    multiplicity adjustment across regimens).
    """

    alpha: float = 0.025
    spending: str = "none"
    futility_p: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 0.5:
            raise _err("frequentist.alpha", f"must be in (0, 0.5), got {self.alpha:g}")
        if self.spending != "none":
            from alsnet.trials.boundaries import _parse_spending

            try:
                _parse_spending(self.spending)
            except TrialDesignError as exc:
                raise _err("frequentist.spending", str(exc)) from None
        for i, fp in enumerate(self.futility_p):
            _prob(fp, f"frequentist.futility_p[{i}]")


@dataclass(frozen=True)
class OutcomeModel:
    """Parametric ALSFRS-R and survival model used to simulate placebo patients.

    Slopes in ALSFRS-R points per month (negative = decline); ``mortality_24w`` is the
    probability of death or permanent ventilation within 24 weeks (exponential hazard).
    Defaults: PRO-ACT calibration of the HEALEY simulation report.

    Long-term survival (optional, e.g. for a survival stage): ``median_survival_months``
    is the median time from randomisation to death or permanent ventilation of a placebo
    patient (months); when given it replaces ``mortality_24w`` and the time is Weibull with
    shape ``survival_shape`` (1 = exponential; > 1 = hazard rising with time since
    randomisation), i.e. ``S(t) = exp(-log(2) * HR * (t / median) ** shape)`` with the
    scenario's hazard ratio ``HR`` for active patients (proportional hazards).

    ``treatment_effect`` says how a scenario's DRR acts on an active patient's ALSFRS-R
    slope: ``"multiplicative"`` (default) scales every patient's slope by the DRR (the
    HEALEY analysis model's form; the slope SD shrinks with it), ``"additive"`` shifts
    every slope by ``(DRR - 1)`` times the mean slope, so the mean slope ratio is the DRR
    and the between-patient SD is unchanged (the HEALEY simulation report's form:
    "treatment effect added to the slope so that (beta + theta) / beta = 1 - slowing").
    """

    slope_mean: float = -1.03
    slope_sd: float = 0.76
    residual_sd: float = 1.77
    mortality_24w: float = 0.05
    median_survival_months: float | None = None
    survival_shape: float = 1.0
    treatment_effect: str = "multiplicative"

    def __post_init__(self) -> None:
        if self.treatment_effect not in _TREATMENT_EFFECTS:
            raise _err(
                "outcome.treatment_effect",
                f"must be one of {_TREATMENT_EFFECTS}, got {self.treatment_effect!r}",
            )
        if self.slope_mean >= 0:
            raise _err("outcome.slope_mean", "must be < 0 (ALSFRS-R declines)")
        if self.slope_sd < 0:
            raise _err("outcome.slope_sd", "must be >= 0")
        if self.residual_sd <= 0:
            raise _err("outcome.residual_sd", "must be > 0")
        if not 0.0 <= self.mortality_24w < 1.0:
            raise _err("outcome.mortality_24w", f"must be in [0, 1), got {self.mortality_24w:g}")
        if self.median_survival_months is not None and not self.median_survival_months > 0:
            raise _err(
                "outcome.median_survival_months",
                f"must be > 0 months, got {self.median_survival_months:g}",
            )
        if not self.survival_shape > 0:
            raise _err("outcome.survival_shape", f"must be > 0, got {self.survival_shape:g}")


@dataclass(frozen=True)
class SurvivalStage:
    """Event-driven survival test after a positive ALSFRS-R result (``survival_stage:``).

    MND-SMART's stage 4: a regimen that succeeded on ALSFRS-R is then tested on survival
    (death or permanent ventilation) against its controls, when the controls (the placebo
    patients the regimen's analysis uses, own and shared) reach ``placebo_deaths`` deaths.
    The data cut is the later of that time and the regimen's ALSFRS-R success look, and no
    later than ``max_months`` after the regimen's entry (``None``: no limit; if the
    controls never reach the count, the cut is their last observed death). Survival is
    censored at the data cut, and at dropout when ``censor_at_dropout`` (default); with
    ``censor_at_dropout: false`` vital status is followed after withdrawal from visits (as
    MND-SMART does through NHS records), which needs death times drawn independently of
    dropout (``outcome.median_survival_months`` or a registry/twin outcome source).
    ``test``: ``"logrank"`` (one-sided log-rank, benefit = fewer deaths than expected on
    active), rejected at one-sided ``alpha``.
    Needs a ``frequentist`` design.
    """

    placebo_deaths: int
    alpha: float = 0.025
    test: str = "logrank"
    max_months: float | None = None
    censor_at_dropout: bool = True

    def __post_init__(self) -> None:
        if self.placebo_deaths < 1:
            raise _err("survival_stage.placebo_deaths", f"must be >= 1, got {self.placebo_deaths}")
        if not 0.0 < self.alpha < 0.5:
            raise _err("survival_stage.alpha", f"must be in (0, 0.5), got {self.alpha:g}")
        if self.test not in _SURVIVAL_TESTS:
            raise _err(
                "survival_stage.test", f"must be one of {_SURVIVAL_TESTS}, got {self.test!r}"
            )
        if self.max_months is not None and not self.max_months > 0:
            raise _err("survival_stage.max_months", f"must be > 0 months, got {self.max_months:g}")


@dataclass(frozen=True)
class Scenario:
    """True state of nature for a simulation.

    Parameters
    ----------
    name
        Scenario label.
    drr
        True disease-progression rate ratio per regimen (multiplies an active patient's slope).
    hazard_ratio
        True death hazard ratio per regimen for active patients (defaults to ``drr``).
    population_slope
        Multiplier of the slope of every patient randomised to the regimen (active and own
        placebo): ``< 1`` = a regimen population progressing more slowly than the shared
        controls (non-exchangeable controls); 1 = exchangeable.
    accrual_per_month, dropout_per_month
        Override the design's accrual and dropout rates (None: the design's).
    entry_month
        Override the regimens' entry times (months), e.g. staggered starts (None: the design's).
    time_trend
        Calendar-time drift of the disease course: every patient's slope (and death hazard)
        is multiplied by ``1 + time_trend * enrol_month`` (per month since the platform
        opened; e.g. ``-0.01`` = patients enrolled later progress 1%/month more slowly).
        Affects only non-concurrent controls.
    """

    name: str
    drr: tuple[float, ...]
    hazard_ratio: tuple[float, ...]
    population_slope: tuple[float, ...]
    description: str = ""
    accrual_per_month: float | None = None
    dropout_per_month: float | None = None
    entry_month: tuple[float, ...] | None = None
    time_trend: float = 0.0


@dataclass(frozen=True)
class PlatformDesign:
    """A validated platform-trial design (see the module docstring for units)."""

    name: str
    regimens: tuple[Regimen, ...]
    allocation: tuple[int, int] = (3, 1)
    control_sharing: ControlSharing = field(default_factory=ControlSharing)
    accrual_per_month: float = 40.0
    dropout_per_month: float = 0.02
    follow_up_weeks: float = 24.0
    visit_weeks: tuple[float, ...] = (0.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0)
    interims: InterimSchedule = field(default_factory=InterimSchedule)
    success: Success = field(default_factory=Success)
    futility: Futility | None = field(default_factory=Futility)
    outcome: OutcomeModel = field(default_factory=OutcomeModel)
    scenarios: Mapping[str, Scenario] = field(default_factory=dict)
    frequentist: FrequentistAnalysis | None = None
    survival_stage: SurvivalStage | None = None
    population: tuple[Trait, ...] = ()
    outcomes: OutcomeSpec = field(default_factory=OutcomeSpec)
    version: int = 1
    description: str = ""

    def __post_init__(self) -> None:
        if not self.regimens:
            raise _err("regimens", "at least one regimen is required")
        self._check_eligibility()
        self._check_control_sharing()
        names = [r.name for r in self.regimens]
        if len(set(names)) != len(names):
            raise _err("regimens", "names must be unique")
        a, p = self.allocation
        if a < 1 or p < 1:
            raise _err("allocation", f"active and placebo ratios must be >= 1, got {a}:{p}")
        if self.accrual_per_month <= 0:
            raise _err("accrual_per_month", "must be > 0")
        if not 0.0 <= self.dropout_per_month < 1.0:
            raise _err("dropout_per_month", "must be in [0, 1)")
        if self.follow_up_weeks <= 0:
            raise _err("follow_up_weeks", "must be > 0")
        v = self.visit_weeks
        if len(v) < 2 or v[0] != 0 or any(b <= a for a, b in itertools.pairwise(v)):
            raise _err("visit_weeks", "must start at 0 and strictly increase (>= 2 visits)")
        if v[-1] > self.follow_up_weeks:
            raise _err("visit_weeks", f"last visit {v[-1]:g} is after follow_up_weeks")
        smallest_n = min(r.n for r in self.regimens)
        im = self.interims
        fin_n, fin_w = im.final if im.final else (smallest_n, self.follow_up_weeks)
        if fin_n > smallest_n:
            raise _err("interims.final", f"n={fin_n} > regimen size {smallest_n}")
        if fin_w > self.follow_up_weeks:
            raise _err("interims.final", f"weeks={fin_w:g} > follow_up_weeks")
        for i, (n, w) in enumerate(im.looks or ()):
            if n > smallest_n or w > self.follow_up_weeks:
                raise _err(f"interims.looks[{i}]", "beyond the regimen size or follow-up")
            if n >= fin_n and w >= fin_w:
                raise _err(f"interims.looks[{i}]", "interim after the final")
        fn = self.interims.first_n
        if fn is not None and im.looks is None:
            smallest = min(r.n for r in self.regimens)
            if fn >= smallest:
                raise _err(
                    "interims.first_n",
                    f"interim after the final: first_n={fn} >= regimen size {smallest}",
                )
        self._check_survival_stage()
        for sc in self.scenarios.values():
            for label, vals in (
                ("drr", sc.drr),
                ("hazard_ratio", sc.hazard_ratio),
                ("population_slope", sc.population_slope),
            ):
                if len(vals) != len(self.regimens):
                    raise _err(
                        f"scenarios.{sc.name}.{label}",
                        f"needs one value per regimen ({len(self.regimens)}), got {len(vals)}",
                    )
                if any(x <= 0 for x in vals):
                    raise _err(f"scenarios.{sc.name}.{label}", "values must be > 0")
            if sc.entry_month is not None and len(sc.entry_month) != len(self.regimens):
                raise _err(f"scenarios.{sc.name}.entry_month", "needs one value per regimen")
            if sc.entry_month is not None and min(sc.entry_month) < 0:
                raise _err(f"scenarios.{sc.name}.entry_month", "values must be >= 0")
            if sc.accrual_per_month is not None and sc.accrual_per_month <= 0:
                raise _err(f"scenarios.{sc.name}.accrual_per_month", "must be > 0")
            if sc.dropout_per_month is not None and not 0 <= sc.dropout_per_month < 1:
                raise _err(f"scenarios.{sc.name}.dropout_per_month", "must be in [0, 1)")

    def _check_survival_stage(self) -> None:
        ss = self.survival_stage
        if ss is None:
            return
        if self.frequentist is None:
            raise _err(
                "survival_stage",
                "needs a frequentist block (the survival test follows a positive "
                "frequentist ALSFRS-R result)",
            )
        a, p = self.allocation
        own = [math.ceil(r.n * p / (a + p)) for r in self.regimens]
        most = min(own) if self.control_sharing.rule == "own" else sum(own)
        if (
            not ss.censor_at_dropout
            and self.outcomes.source == "parametric"
            and self.outcome.median_survival_months is None
        ):
            raise _err(
                "survival_stage.censor_at_dropout",
                "false needs death times beyond dropout: give outcome.median_survival_months "
                "(mortality_24w draws death and dropout as competing risks)",
            )
        if ss.placebo_deaths > most:
            raise _err(
                "survival_stage.placebo_deaths",
                f"{ss.placebo_deaths} > {most} placebo patients a regimen's analysis can use "
                f"(control_sharing.rule={self.control_sharing.rule})",
            )

    def _check_control_sharing(self) -> None:
        cs = self.control_sharing
        if cs.rule != "nonconcurrent":
            return
        if self.has_subgroups:
            bad = next(i for i, r in enumerate(self.regimens) if r.eligibility)
            raise _err(
                "control_sharing.rule",
                f"nonconcurrent is not supported with subgroup-restricted regimens "
                f"(regimens[{bad}].eligibility); use concurrent or own",
            )
        if cs.period_months is not None:
            block = sum(self.allocation) / self.accrual_per_month
            if cs.period_months < block:
                raise _err(
                    "control_sharing.period_months",
                    f"{cs.period_months:g} months is shorter than one permuted block of a "
                    f"regimen ({sum(self.allocation)} patients at {self.accrual_per_month:g}"
                    f"/month = {block:.3g} months): a period could hold active patients "
                    "and no control",
                )

    def _check_eligibility(self) -> None:
        traits = {t.name: t for t in self.population}
        if len(traits) != len(self.population):
            raise _err("population", "trait names must be unique")
        for i, r in enumerate(self.regimens):
            seen: set[str] = set()
            for name, crit in r.eligibility:
                path = f"regimens[{i}].eligibility.{name}"
                if name in seen:
                    raise _err(path, "listed twice (contradictory criteria)")
                seen.add(name)
                if name not in traits:
                    raise _err(path, f"not a trait of population ({sorted(traits)})")
                tr = traits[name]
                if tr.kind == "binary" and crit not in (0, 1):
                    raise _err(path, f"a binary trait needs 0 or 1, got {crit!r}")
                if tr.kind == "categorical":
                    bad = [c for c in crit if c not in tr.categories]
                    if bad or not crit:
                        raise _err(path, f"unknown or no categories {bad} ({list(tr.categories)})")
                if tr.kind == "normal":
                    lo, hi = crit
                    if not lo < hi:
                        raise _err(path, f"empty window [{lo:g}, {hi:g}] (needs low < high)")
                if tr.p_meets(crit) <= 1e-9:
                    raise _err(
                        path,
                        f"nobody can enter: population.{name} gives probability "
                        f"{tr.p_meets(crit):.2g} of meeting {crit!r}",
                    )

    def eligible_fraction(self, regimen: int) -> float:
        """Probability that a random patient of ``population`` may enter regimen ``regimen``."""
        traits = {t.name: t for t in self.population}
        return math.prod(traits[n].p_meets(c) for n, c in self.regimens[regimen].eligibility)

    @property
    def has_subgroups(self) -> bool:
        """True when some regimen restricts eligibility."""
        return any(r.eligibility for r in self.regimens)

    @property
    def follow_up_months(self) -> float:
        """Follow-up per patient (months)."""
        return self.follow_up_weeks * WEEKS_TO_MONTHS

    @property
    def active_fraction(self) -> float:
        """Fraction of a regimen's patients randomised to active."""
        a, p = self.allocation
        return a / (a + p)

    def scenario(self, name: str) -> Scenario:
        """Scenario ``name``; the error lists the available ones."""
        try:
            return self.scenarios[name]
        except KeyError:
            raise _err("scenario", f"{name!r} not in design ({sorted(self.scenarios)})") from None

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PlatformDesign:
        """Build from a parsed YAML/JSON mapping; unknown or invalid fields are errors."""
        d = _mapping(d, "design")
        top = {
            "name",
            "version",
            "description",
            "regimens",
            "allocation",
            "control_sharing",
            "accrual_per_month",
            "dropout_per_month",
            "follow_up_weeks",
            "visit_weeks",
            "interims",
            "success",
            "futility",
            "outcome",
            "scenarios",
            "frequentist",
            "survival_stage",
            "population",
            "outcomes",
        }
        _check_keys(d, "", top, {"name", "regimens"})
        population = _parse_population(d.get("population"))
        regs_raw = d["regimens"]
        if not isinstance(regs_raw, list) or not regs_raw:
            raise _err("regimens", "must be a non-empty list")
        regimens = []
        for i, r in enumerate(regs_raw):
            rm = _mapping(r, f"regimens[{i}]")
            _check_keys(
                rm, f"regimens[{i}]", {"name", "entry_month", "n", "eligibility"}, {"name", "n"}
            )
            regimens.append(
                Regimen(
                    name=str(rm["name"]),
                    entry_month=_num(rm.get("entry_month", 0.0), f"regimens[{i}].entry_month"),
                    n=_pos_int(rm["n"], f"regimens[{i}].n"),
                    eligibility=_parse_eligibility(
                        rm.get("eligibility"), f"regimens[{i}].eligibility", population
                    ),
                )
            )
        kw: dict[str, Any] = {
            "name": str(d["name"]),
            "regimens": tuple(regimens),
            "population": population,
        }
        if d.get("outcomes") is not None:
            oc = _mapping(d["outcomes"], "outcomes")
            _check_keys(oc, "outcomes", {"source", "cohort_n", "cohort_seed"}, {"source"})
            kw["outcomes"] = OutcomeSpec(
                source=str(oc["source"]),
                cohort_n=_pos_int(oc.get("cohort_n", 2000), "outcomes.cohort_n"),
                cohort_seed=int(_num(oc.get("cohort_seed", 0), "outcomes.cohort_seed")),
            )
        if "version" in d:
            kw["version"] = _pos_int(d["version"], "version")
        if "description" in d:
            kw["description"] = str(d["description"])
        if "allocation" in d:
            al = _mapping(d["allocation"], "allocation")
            _check_keys(al, "allocation", {"active", "placebo"}, {"active", "placebo"})
            kw["allocation"] = (
                _pos_int(al["active"], "allocation.active"),
                _pos_int(al["placebo"], "allocation.placebo"),
            )
        if "control_sharing" in d:
            cs = _mapping(d["control_sharing"], "control_sharing")
            _check_keys(cs, "control_sharing", {"rule", "window_months", "period_months"}, {"rule"})
            pm = cs.get("period_months")
            kw["control_sharing"] = ControlSharing(
                rule=str(cs["rule"]),
                window_months=_num(
                    cs.get("window_months", ControlSharing.window_months),
                    "control_sharing.window_months",
                ),
                period_months=None if pm is None else _num(pm, "control_sharing.period_months"),
            )
        for key in ("accrual_per_month", "dropout_per_month", "follow_up_weeks"):
            if key in d:
                kw[key] = _num(d[key], key)
        if "visit_weeks" in d:
            vw = d["visit_weeks"]
            if not isinstance(vw, list):
                raise _err("visit_weeks", "must be a list of weeks")
            kw["visit_weeks"] = tuple(_num(x, f"visit_weeks[{i}]") for i, x in enumerate(vw))
        if "interims" in d:
            kw["interims"] = _parse_interims(d["interims"])
        if "success" in d:
            s = _mapping(d["success"], "success")
            _check_keys(s, "success", {"threshold", "drr", "early"}, {"threshold"})
            kw["success"] = Success(
                threshold=_num(s["threshold"], "success.threshold"),
                drr=_num(s.get("drr", 1.0), "success.drr"),
                early=bool(s.get("early", False)),
            )
        if "futility" in d:
            if d["futility"] is None:
                kw["futility"] = None
            else:
                f = _mapping(d["futility"], "futility")
                _check_keys(f, "futility", {"threshold", "drr"}, {"threshold"})
                kw["futility"] = Futility(
                    threshold=_num(f["threshold"], "futility.threshold"),
                    drr=_num(f.get("drr", 0.9), "futility.drr"),
                )
        if "outcome" in d:
            o = _mapping(d["outcome"], "outcome")
            allowed = {
                "slope_mean",
                "slope_sd",
                "residual_sd",
                "mortality_24w",
                "median_survival_months",
                "survival_shape",
                "treatment_effect",
            }
            _check_keys(o, "outcome", allowed, set())
            if "mortality_24w" in o and "median_survival_months" in o:
                raise _err(
                    "outcome.median_survival_months",
                    "give mortality_24w or median_survival_months, not both",
                )
            nums = {k: _num(v, f"outcome.{k}") for k, v in o.items() if k != "treatment_effect"}
            kw["outcome"] = OutcomeModel(
                **nums,
                treatment_effect=str(o.get("treatment_effect", "multiplicative")),
            )
        if "scenarios" in d:
            kw["scenarios"] = _parse_scenarios(d["scenarios"], regimens)
        if d.get("frequentist") is not None:
            fq = _mapping(d["frequentist"], "frequentist")
            _check_keys(fq, "frequentist", {"alpha", "spending", "futility_p"}, {"alpha"})
            fp = fq.get("futility_p", [])
            if not isinstance(fp, list):
                raise _err("frequentist.futility_p", "must be a list of p-values")
            kw["frequentist"] = FrequentistAnalysis(
                alpha=_num(fq["alpha"], "frequentist.alpha"),
                spending=str(fq.get("spending", "none")),
                futility_p=tuple(_num(x, f"frequentist.futility_p[{i}]") for i, x in enumerate(fp)),
            )
        if d.get("survival_stage") is not None:
            kw["survival_stage"] = _parse_survival_stage(d["survival_stage"])
        return cls(**kw)

    @classmethod
    def from_file(cls, path: str | Path) -> PlatformDesign:
        """Read a YAML (or JSON, a subset of YAML) design file."""
        import yaml

        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise TrialDesignError(f"{p.name}: not valid YAML ({exc})") from None
        return cls.from_dict(_mapping(data, p.name))


def _parse_survival_stage(value: Any) -> SurvivalStage:
    ss = _mapping(value, "survival_stage")
    allowed = {"placebo_deaths", "alpha", "test", "max_months", "censor_at_dropout"}
    _check_keys(ss, "survival_stage", allowed, {"placebo_deaths"})
    mx = ss.get("max_months")
    cad = ss.get("censor_at_dropout", True)
    if not isinstance(cad, bool):
        raise _err("survival_stage.censor_at_dropout", f"must be true or false, got {cad!r}")
    return SurvivalStage(
        placebo_deaths=_pos_int(ss["placebo_deaths"], "survival_stage.placebo_deaths"),
        alpha=_num(ss.get("alpha", 0.025), "survival_stage.alpha"),
        test=str(ss.get("test", "logrank")),
        max_months=None if mx is None else _num(mx, "survival_stage.max_months"),
        censor_at_dropout=cad,
    )


def _parse_population(value: Any) -> tuple[Trait, ...]:
    if value is None:
        return ()
    pm = _mapping(value, "population")
    out = []
    for name, spec in pm.items():
        path = f"population.{name}"
        if isinstance(spec, Mapping) and set(spec) <= {"mean", "sd"} and "mean" in spec:
            out.append(
                Trait(
                    str(name),
                    "normal",
                    mean=_num(spec["mean"], f"{path}.mean"),
                    sd=_num(spec.get("sd", 1.0), f"{path}.sd"),
                )
            )
        elif isinstance(spec, Mapping):
            cats = tuple(str(c) for c in spec)
            probs = tuple(_num(v, f"{path}.{c}") for c, v in spec.items())
            out.append(Trait(str(name), "categorical", categories=cats, probs=probs))
        else:
            out.append(Trait(str(name), "binary", p=_num(spec, path)))
    return tuple(out)


def _parse_eligibility(
    value: Any, path: str, population: tuple[Trait, ...]
) -> tuple[tuple[str, Any], ...]:
    if value is None:
        return ()
    em = _mapping(value, path)
    kinds = {t.name: t.kind for t in population}
    out: list[tuple[str, Any]] = []
    for name, crit in em.items():
        p = f"{path}.{name}"
        if name not in kinds:
            raise _err(p, f"not a trait of population ({sorted(kinds)})")
        kind = kinds[name]
        if kind == "binary":
            if isinstance(crit, bool):
                crit = int(crit)
            if crit not in (0, 1):
                raise _err(p, f"a binary trait needs 0 or 1, got {crit!r}")
            out.append((str(name), int(crit)))
        elif kind == "categorical":
            cats = [crit] if isinstance(crit, str) else crit
            if not isinstance(cats, list):
                raise _err(p, f"must be a category or a list of categories, got {crit!r}")
            out.append((str(name), tuple(str(c) for c in cats)))
        else:
            if not isinstance(crit, list) or len(crit) != 2:
                raise _err(p, f"must be a [low, high] window, got {crit!r}")
            out.append((str(name), (_num(crit[0], f"{p}[0]"), _num(crit[1], f"{p}[1]"))))
    return tuple(out)


def _parse_interims(value: Any) -> InterimSchedule:
    if value is None:
        return InterimSchedule(first_n=None)
    im = _mapping(value, "interims")
    allowed = {"first_n", "every_weeks", "max_interims", "looks", "final"}
    _check_keys(im, "interims", allowed, set())
    first = im.get("first_n")
    mx = im.get("max_interims")
    looks = im.get("looks")
    if looks is not None and not isinstance(looks, list):
        raise _err("interims.looks", "must be a list of [n, weeks] pairs")
    fin = im.get("final")
    return InterimSchedule(
        first_n=None if first is None else _pos_int(first, "interims.first_n"),
        every_weeks=_num(im.get("every_weeks", 12.0), "interims.every_weeks"),
        max_interims=None if mx is None else _pos_int(mx, "interims.max_interims"),
        looks=None
        if looks is None
        else tuple(_n_weeks(x, f"interims.looks[{i}]") for i, x in enumerate(looks)),
        final=None if fin is None else _n_weeks(fin, "interims.final"),
    )


def _n_weeks(value: Any, path: str) -> tuple[int, float]:
    if isinstance(value, Mapping):
        _check_keys(value, path, {"n", "weeks"}, {"n", "weeks"})
        value = [value["n"], value["weeks"]]
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise _err(path, f"must be [n, weeks] or {{n, weeks}}, got {value!r}")
    return _pos_int(value[0], f"{path}.n"), _num(value[1], f"{path}.weeks")


def _per_regimen(
    value: Any, path: str, regimens: list[Regimen], default: float
) -> tuple[float, ...]:
    names = [r.name for r in regimens]
    if value is None:
        return tuple(default for _ in names)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return tuple(_num(value, path) for _ in names)
    if isinstance(value, list):
        return tuple(_num(x, f"{path}[{i}]") for i, x in enumerate(value))
    m = _mapping(value, path)
    unknown = sorted(set(m) - set(names))
    if unknown:
        raise _err(f"{path}.{unknown[0]}", "not a regimen of the design")
    return tuple(_num(m.get(n, default), f"{path}.{n}") for n in names)


def _parse_scenarios(value: Any, regimens: list[Regimen]) -> dict[str, Scenario]:
    sm = _mapping(value, "scenarios")
    out: dict[str, Scenario] = {}
    for name, spec in sm.items():
        path = f"scenarios.{name}"
        s = _mapping(spec if spec is not None else {}, path)
        allowed = {
            "drr",
            "hazard_ratio",
            "hazard_drr",
            "population_slope",
            "description",
            "accrual_per_month",
            "dropout_per_month",
            "entry_month",
            "time_trend",
        }
        _check_keys(s, path, allowed, set())
        if "hazard_ratio" in s and "hazard_drr" in s:
            raise _err(f"{path}.hazard_drr", "give hazard_drr or hazard_ratio, not both")
        drr = _per_regimen(s.get("drr"), f"{path}.drr", regimens, 1.0)
        hkey = "hazard_drr" if "hazard_drr" in s else "hazard_ratio"
        hr = drr if s.get(hkey) is None else _per_regimen(s[hkey], f"{path}.{hkey}", regimens, 1.0)
        pop = _per_regimen(s.get("population_slope"), f"{path}.population_slope", regimens, 1.0)
        entry = s.get("entry_month")
        out[str(name)] = Scenario(
            name=str(name),
            drr=drr,
            hazard_ratio=hr,
            population_slope=pop,
            description=str(s.get("description", "")),
            accrual_per_month=None
            if s.get("accrual_per_month") is None
            else _num(s["accrual_per_month"], f"{path}.accrual_per_month"),
            dropout_per_month=None
            if s.get("dropout_per_month") is None
            else _num(s["dropout_per_month"], f"{path}.dropout_per_month"),
            entry_month=None
            if entry is None
            else _per_regimen(entry, f"{path}.entry_month", regimens, 0.0)
            if not isinstance(entry, Mapping)
            else tuple(
                _num(entry.get(r.name, r.entry_month), f"{path}.entry_month.{r.name}")
                for r in regimens
            ),
            time_trend=_num(s.get("time_trend", 0.0), f"{path}.time_trend"),
        )
    return out


def example_names() -> list[str]:
    """Names of the shipped example designs."""
    pkg = resources.files("alsnet.trials") / "examples"
    return sorted(p.name[: -len(".yaml")] for p in pkg.iterdir() if p.name.endswith(".yaml"))


def load_design(design: str | Path) -> PlatformDesign | AdaptiveDesign:
    """Load a design from a file path or the name of a shipped example (e.g. ``"healey"``).

    Files with ``kind: adaptive-binary`` (e.g. the example ``"adaptr-readme"``) load as an
    :class:`~alsnet.trials.adaptive.AdaptiveDesign`; all others as a :class:`PlatformDesign`.

    Examples
    --------
    >>> d = load_design("healey")
    >>> [r.n for r in d.regimens], d.allocation, d.success.threshold
    ([160, 160, 160], (3, 1), 0.979)
    >>> sorted(d.scenarios)[:5]
    ['drift_faster', 'drift_faster_slow30', 'drift_slower', 'harm', 'null']
    >>> type(load_design("adaptr-readme")).__name__
    'AdaptiveDesign'
    """
    p = Path(design)
    if p.exists():
        return _load_file(p)
    name = str(design)
    if name in example_names():
        res = resources.files("alsnet.trials") / "examples" / f"{name}.yaml"
        with resources.as_file(res) as f:
            return _load_file(f)
    raise FileNotFoundError(
        f"design {name!r}: no such file and not a shipped example ({example_names()})"
    )


def _load_file(path: Path) -> PlatformDesign | AdaptiveDesign:
    """Parse a YAML design file and build the design type its ``kind`` names."""
    import yaml

    from alsnet.trials.adaptive.design import AdaptiveDesign, is_adaptive_mapping

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TrialDesignError(f"{path.name}: not valid YAML ({exc})") from None
    if is_adaptive_mapping(data):
        return AdaptiveDesign.from_dict(data)
    return PlatformDesign.from_dict(_mapping(data, path.name))
