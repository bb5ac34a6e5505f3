"""Risk-window eligibility: ENCALS profile recomputed by hand, twin window with a stub."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsnet.clinical.baseline import encals_baseline
from alsnet.clinical.encals import encals_lp
from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.synth import synthesize
from alsnet.twin.eligibility import encals_window, twin_window


@pytest.fixture(scope="module")
def cohort():  # type: ignore[no-untyped-def]
    return synthesize(200, seed=8)


def test_encals_window_matches_the_tricals_profile(cohort) -> None:  # type: ignore[no-untyped-def]
    e = encals_window(cohort)
    base = encals_baseline(cohort.patients, cohort.visits).set_index("patient_id")
    ok = e.score.notna()
    b = base.loc[ok[ok].index]
    ref = encals_lp(
        b["age_onset"], b["delta_fs"], b["diagnostic_delay_months"], b["fvc_pct"],
        b["bulbar_onset"], b["definite_el_escorial"], b["ftd"], model="tricals",
    )  # fmt: skip
    np.testing.assert_allclose(e.score[ok].to_numpy(), ref)
    inside = (ref >= -6.0) & (ref <= -2.0)
    assert (e.eligible[ok].to_numpy() == inside).all()
    assert (e.reason[e.eligible] == "").all()
    assert (e.reason[~e.eligible] != "").all()
    assert not e.eligible[~ok].any()
    assert 0.3 < e.share < 1.0
    narrow = encals_window(cohort, lower=-4.0, upper=-3.0)
    assert narrow.eligible.sum() < e.eligible.sum()


class _Stub:
    """Linear decline of 1 point per month for patients 0, 2, 4, ...; 3 for the others."""

    def predict(self, data, grid, seed=0):  # type: ignore[no-untyped-def]
        ids = list(data.patients["patient_id"])
        rate = grid["patient_id"].map({p: 1.0 if i % 2 == 0 else 3.0 for i, p in enumerate(ids)})
        out = grid.copy()
        out["outcome"] = "alsfrs_r_total"
        out["mean"] = 48 - rate * grid["day"] / DAYS_PER_MONTH
        return out


def test_twin_window_uses_the_predicted_decline(cohort) -> None:  # type: ignore[no-untyped-def]
    e = twin_window(_Stub(), cohort, lower=6.0, upper=20.0)
    scored = e.score.dropna()
    assert set(np.round(scored.unique(), 9)) <= {12.0, 36.0}
    assert (e.eligible == (e.score.round(9) == 12.0)).all()
    dead = cohort.events.loc[cohort.events["event"] == "death", "patient_id"]
    assert not e.eligible.loc[pd.Index(dead.unique())].any()
    assert (e.reason.loc[pd.Index(dead.unique())] == "endpoint event recorded").all()
    assert set(e.table().columns) == {"patient_id", "score", "eligible", "reason"}


def test_window_bounds_checked(cohort) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="exceeds"):
        encals_window(cohort, lower=0.0, upper=-1.0)


def test_twin_window_with_a_fitted_twin(cohort) -> None:  # type: ignore[no-untyped-def]
    from alsnet.twin import TwinModel

    model = TwinModel(n_draws=200).fit(cohort)
    e = twin_window(model, cohort, lower=2.0, upper=15.0)
    reason_ok = e.reason.isin(["no ALSFRS-R visit", "endpoint event recorded"])
    assert e.score[~reason_ok].notna().all()
    assert (e.score.dropna() > -1.0).all()  # the twin predicts decline, never a rise
