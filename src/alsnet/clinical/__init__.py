"""Clinical scores derived from ALSFRS-R: totals, domains, ΔFS, King's, MiToS, ENCALS.

Every function is vectorised over whole tables. This package imports no other
alsnet domain (only :mod:`alsnet.schema`, :mod:`alsnet.exceptions` and
:mod:`alsnet.validation`).
"""

from __future__ import annotations

from alsnet.clinical.alsfrs import SCORE_COLUMNS, alsfrs_scores
from alsnet.clinical.encals import (
    ENCALS_COEFFICIENTS,
    ENCALS_KNOTS,
    ENCALS_PREDICTORS,
    ENCALS_SPLINE_GAMMA,
    ENCALS_TABLE_COLUMNS,
    TRICALS_ELIGIBLE_RANGE,
    encals_lp,
    encals_median,
    encals_spline,
    encals_survival,
    encals_table,
)
from alsnet.clinical.kings import KINGS_DTYPE, KINGS_STAGES, kings_regions, kings_stage
from alsnet.clinical.mitos import MITOS_DOMAINS, mitos_domains, mitos_stage
from alsnet.clinical.progression import (
    DAYS_PER_MONTH,
    days_to_months,
    delta_fs,
    delta_fs_at_first_visit,
)
from alsnet.clinical.staging import STAGE_COLUMNS, event_flags, stage_visits

__all__ = [
    "DAYS_PER_MONTH",
    "ENCALS_COEFFICIENTS",
    "ENCALS_KNOTS",
    "ENCALS_PREDICTORS",
    "ENCALS_SPLINE_GAMMA",
    "ENCALS_TABLE_COLUMNS",
    "KINGS_DTYPE",
    "KINGS_STAGES",
    "MITOS_DOMAINS",
    "SCORE_COLUMNS",
    "STAGE_COLUMNS",
    "TRICALS_ELIGIBLE_RANGE",
    "alsfrs_scores",
    "days_to_months",
    "delta_fs",
    "delta_fs_at_first_visit",
    "encals_lp",
    "encals_median",
    "encals_spline",
    "encals_survival",
    "encals_table",
    "event_flags",
    "kings_regions",
    "kings_stage",
    "mitos_domains",
    "mitos_stage",
    "stage_visits",
]
