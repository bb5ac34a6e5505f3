"""Scenario handling: apply a scenario's design overrides (accrual, dropout, staggered starts).

A :class:`~alsnet.trials.design.Scenario` states the truth (DRR on the slope, a separate hazard
ratio for mortality, non-exchangeable regimen populations, calendar-time drift) and may
override operational parameters of the design: ``accrual_per_month``, ``dropout_per_month``
and the regimens' ``entry_month`` (staggered starts). :func:`apply_scenario` returns the design
the simulator runs for that scenario.
"""

from __future__ import annotations

import dataclasses

from alsnet.trials._errors import TrialDesignError
from alsnet.trials.design import PlatformDesign, Scenario

__all__ = ["apply_scenario"]


def apply_scenario(design: PlatformDesign, scenario: Scenario) -> PlatformDesign:
    """``design`` with the scenario's overrides applied (the same object when there are none).

    Raises
    ------
    TrialDesignError
        When the overrides are invalid for the design (wrong number of entry months, or a
        calendar-time drift that makes the slope multiplier non-positive during enrolment;
        with subgroup regimens the multiplier is floored at 0.01 beyond that).
    """
    kw: dict[str, object] = {}
    if scenario.accrual_per_month is not None:
        kw["accrual_per_month"] = scenario.accrual_per_month
    if scenario.dropout_per_month is not None:
        kw["dropout_per_month"] = scenario.dropout_per_month
    if scenario.entry_month is not None:
        if len(scenario.entry_month) != len(design.regimens):
            raise TrialDesignError(
                f"scenarios.{scenario.name}.entry_month: needs one value per regimen"
            )
        kw["regimens"] = tuple(
            dataclasses.replace(r, entry_month=float(e))
            for r, e in zip(design.regimens, scenario.entry_month, strict=True)
        )
    out = dataclasses.replace(design, **kw) if kw else design  # type: ignore[arg-type]
    # enrolment ends by the last entry plus every patient at the accrual rate (no subgroups)
    horizon = max(r.entry_month for r in out.regimens) + sum(r.n for r in out.regimens) / (
        out.accrual_per_month
    )
    if 1.0 + scenario.time_trend * horizon <= 0.0:
        raise TrialDesignError(
            f"scenarios.{scenario.name}.time_trend: slope multiplier 1 + trend * month turns "
            f"non-positive before enrolment ends (month {horizon:.1f}, trend "
            f"{scenario.time_trend:g})"
        )
    return out
