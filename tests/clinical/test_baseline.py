"""ENCALS baseline predictors from canonical tables, checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsnet import Cohort
from alsnet.clinical import encals_table
from alsnet.clinical.baseline import encals_baseline


def _cohort() -> Cohort:
    pats = pd.DataFrame(
        {
            "patient_id": ["A", "B"],
            "site_id": "S",
            "sex": ["F", "M"],
            "age_onset": [60.0, 50.0],
            "onset_region": ["bulbar", "lower_limb"],
            "diagnosis_day": [304, 152],
            "el_escorial": ["definite", "possible"],
            "ftd": [0, 1],
            "c9orf72": [1, None],
            "sod1": None,
            "ancestry": "EUR",
        }
    )
    it = {f"q{i}": 4.0 for i in range(1, 13) if i != 5} | {"q5a": 4.0}
    visits = pd.DataFrame(
        [
            {"patient_id": "A", "day": 200, "fvc_pct": 90.0},  # no ALSFRS: skipped
            {"patient_id": "A", "day": 365, "instrument": "alsfrs_r", **it, "q1": 2.0, "q2": 2.0},
            {"patient_id": "A", "day": 500, "instrument": "alsfrs_r", **it, "fvc_pct": 70.0},
            {
                "patient_id": "B",
                "day": 180,
                "instrument": "alsfrs",
                **{k: 4.0 for k in it if k not in ("q10", "q11", "q12")},
                "q10_alsfrs": 4.0,
            },  # original scale: ignored
        ]
    )
    return Cohort.from_tables(
        {
            "patients": pats,
            "visits": visits,
            "events": pd.DataFrame(columns=["patient_id", "event", "day"]),
        }
    )


def test_baseline_values_by_hand() -> None:
    c = _cohort()
    b = encals_baseline(c.patients, c.visits).set_index("patient_id")
    months = 365 / (365.25 / 12)
    assert b.loc["A", "baseline_day"] == 365
    assert np.isclose(b.loc["A", "delta_fs"], 4 / months)  # total 44
    assert b.loc["A", "fvc_pct"] == 70.0  # closest: |500-365| = 135 < |200-365| = 165
    assert np.isclose(b.loc["A", "diagnostic_delay_months"], 304 / (365.25 / 12))
    assert b.loc["A", "bulbar_onset"] == 1 and b.loc["A", "definite_el_escorial"] == 1
    assert np.isnan(b.loc["B", "delta_fs"]) and np.isnan(b.loc["B", "c9orf72"])


def test_feeds_encals_table() -> None:
    c = _cohort()
    t = encals_table(encals_baseline(c.patients, c.visits), errors="flag")
    assert np.isfinite(t.loc[0, "encals_lp"]) and t.loc[1, "encals_error"]
