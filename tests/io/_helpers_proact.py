"""Shared helpers for the PRO-ACT importer tests: compare an imported cohort with the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsnet.cohort import Cohort
from alsnet.schema import ALSFRS_R_ITEMS

VISIT_VALUES = (
    "instrument",
    *ALSFRS_R_ITEMS,
    "q10_alsfrs",
    "total_reported",
    "fvc_l",
    "fvc_pct",
    "svc_l",
    "svc_pct",
    "weight_kg",
    "nfl_serum_pg_ml",
    "mode",
)


def _norm(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.astype("float64").round(9)
    return s.astype("object").where(s.notna(), None)


def assert_frames_match(
    got: pd.DataFrame, want: pd.DataFrame, key: list[str], cols: list[str] | tuple[str, ...]
) -> None:
    """Same keys, and equal values (missing == missing) in ``cols``."""
    g = got.set_index(key).sort_index()
    w = want.set_index(key).sort_index()
    assert list(g.index) == list(w.index), (
        f"keys differ: only imported {sorted(set(g.index) - set(w.index))[:5]}, "
        f"only expected {sorted(set(w.index) - set(g.index))[:5]}"
    )
    g, w = g.reset_index(drop=True), w.reset_index(drop=True)
    for c in cols:
        a, b = _norm(g[c]), _norm(w[c]) if c in w else pd.Series(None, index=w.index)
        if pd.api.types.is_float_dtype(a.dtype):
            bb = b.astype("float64")
            bad = ~((a.isna() & bb.isna()) | np.isclose(a, bb, rtol=0, atol=1e-9))
        else:
            bad = ~((a.isna() & b.isna()) | (a == b).fillna(False))
        assert not bad.any(), f"column {c}: {pd.DataFrame({'got': a[bad], 'want': b[bad]}).head()}"


def assert_matches_truth(cohort: Cohort, expected: dict[str, pd.DataFrame]) -> None:
    """Compare every canonical table that the truth describes."""
    assert_frames_match(
        cohort.patients,
        expected["patients"],
        ["patient_id"],
        [
            "site_id",
            "sex",
            "age_onset",
            "onset_region",
            "diagnosis_day",
            "el_escorial",
            "ancestry",
            "anchor",
        ],
    )
    assert_frames_match(cohort.visits, expected["visits"], ["patient_id", "day"], VISIT_VALUES)
    assert_frames_match(cohort.events, expected["events"], ["patient_id", "event"], ["day"])
    assert_frames_match(
        cohort.treatments, expected["treatments"], ["patient_id", "treatment", "start_day"], ["arm"]
    )
    assert_frames_match(
        cohort.biomarkers,
        expected["biomarkers"],
        ["patient_id", "day", "analyte", "matrix"],
        ["value_pg_ml"],
    )
