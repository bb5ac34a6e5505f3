"""PRO-ACT traps: instruments, Q5a/Q5b, totals, half points, onset sites, DREAM duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alsnet.exceptions import DataValidationError
from alsnet.io.proact import read_proact
from alsnet.io.proact._map import _alsfrs, _regions
from alsnet.io.proact._report import ImportReport
from alsnet.testing.synthetic_proact import make_proact_truth, write_truth
from alsnet.validation import ProblemLog


@pytest.fixture(scope="module")
def truth():
    return make_proact_truth(n_subjects=20, seed=11)


@pytest.fixture(scope="module")
def csv_dir(truth, tmp_path_factory):
    d = tmp_path_factory.mktemp("proact")
    write_truth(truth, d, layout="proact", seed=11)
    return d


@pytest.fixture(scope="module")
def csv_import(csv_dir):
    report = ImportReport()
    return read_proact(csv_dir, report=report), report


def test_report_counts_equal_planted_traps(truth, csv_import):
    _, report = csv_import
    t = truth.trap_counts
    assert report.q5_conflicts_resolved == t["q5_conflicts_resolved"] == 3
    assert report.totals_recomputed == t["totals_recomputed"] == 3
    assert report.half_point_rows == t["half_point_rows"] == 3
    assert report.subjects_excluded_no_onset == t["subjects_excluded_no_onset"] == 2
    assert report.counts["onset_region_conflicts"] == t["onset_region_conflicts"] == 1
    assert report.counts["alsfrs_same_day_rows_dropped"] == 1
    # the planted total-only rows plus the same-day duplicate (itself total-only)
    assert report.counts["alsfrs_total_only_rows"] == t["alsfrs_total_only_rows"] + 1
    assert sum(report.instrument_counts.values()) == report.rows_out["visits"]
    assert "PROACT_LABS.csv" in report.ignored_tables
    assert "PROACT_LABS.csv" in str(report)
    assert set(report.summary().columns) == {"item", "count"}


def test_instruments_kept_apart(csv_import):
    v = csv_import[0].visits
    orig = v["instrument"] == "alsfrs"
    rev = v["instrument"] == "alsfrs_r"
    assert orig.sum() > 0 and rev.sum() > 0
    assert v.loc[orig, ["q10", "q11", "q12"]].isna().all().all()
    items = v.loc[orig, "q1"].notna()
    assert v.loc[orig & items.reindex(v.index, fill_value=False), "q10_alsfrs"].notna().all()
    assert (v.loc[orig, "total_reported"].dropna() <= 40).all()
    with_items = rev & v["q1"].notna()
    assert v.loc[with_items, ["q10", "q11", "q12"]].notna().all().all()
    assert v.loc[rev, "q10_alsfrs"].notna().any()  # revised rows that also carry Q10
    none = v["instrument"].isna()
    assert none.any() and v.loc[none, ["q1", "total_reported"]].isna().all().all()


def test_half_points_kept_and_missing_never_zero(csv_import):
    v = csv_import[0].visits
    items = v[["q1", "q2", "q3", "q4", "q6", "q7", "q8", "q9"]].to_numpy()
    finite = items[np.isfinite(items)]
    assert (finite % 1 == 0.5).sum() == 3
    total_only = v["total_reported"].notna() & v["q1"].isna()
    assert total_only.sum() >= 3
    assert v.loc[total_only, ["q1", "q5a", "q5b", "q10"]].isna().all().all()


def test_q5_both_filled_keeps_q5b(csv_import):
    v = csv_import[0].visits
    assert not (v["q5a"].notna() & v["q5b"].notna()).any()


def test_strict_refuses_q5_and_total_conflicts(truth, csv_dir):
    with pytest.raises(DataValidationError) as err:
        read_proact(csv_dir, strict=True)
    probs = err.value.problems
    a = truth.tables["ALSFRS"]
    both = a.index[
        (a["Q5a_Cutting_without_Gastrostomy"] != "") & (a["Q5b_Cutting_with_Gastrostomy"] != "")
    ]
    q5 = [p for p in probs if p.column and "Q5a" in p.column and "Q5b" in p.column]
    assert sorted(p.row for p in q5) == sorted(int(i) + 2 for i in both)  # header = line 1
    assert all(p.source == "PROACT_ALSFRS.csv" for p in q5)
    totals = [p for p in probs if "disagrees" in p.rule]
    assert len(totals) == 3 and {p.column for p in totals} <= {"ALSFRS_Total", "ALSFRS_R_Total"}


def test_dream_repeated_subjects_deduplicated(truth, tmp_path, csv_import):
    paths = write_truth(truth, tmp_path, layout="dream", seed=11)
    a, b = (pd.read_csv(p, sep="|", dtype=str) for p in paths)
    repeated = set(a["SubjectID"]) & set(b["SubjectID"])
    assert len(repeated) == 3
    report = ImportReport()
    cohort = read_proact(tmp_path, report=report)
    assert report.counts["dream_duplicate_records"] > 0
    assert cohort.fingerprint == csv_import[0].fingerprint
    assert report.subjects_read == 20


# --------------------------------------------------------------------------- property tests
_SPELL = {
    "bulbar": ["Bulbar", "Onset: Bulbar", "bulbar", "  BULBAR "],
    "limb": ["Limb", "Onset: Limb", "LIMB"],
    "bulbar_limb": [
        "Limb and Bulbar",
        "Onset: Limb and Bulbar",
        "Bulbar and Limb",
        "limb & bulbar",
        "Limb/Bulbar",
    ],
}
_HOT = {
    "bulbar": "site_of_onset_bulbar",
    "limb": "site_of_onset_limb",
    "bulbar_limb": "site_of_onset_limb_and_bulbar",
}


def _history(rows: list[tuple[str, bool, int]]) -> pd.DataFrame:
    recs = []
    for i, (region, hot, k) in enumerate(rows):
        r = {"subject_id": "S1", "_source": "PROACT_ALSHISTORY.csv", "_line": i + 2}
        if hot:
            r[_HOT[region]] = "1"
        else:
            r["site_of_onset"] = _SPELL[region][k % len(_SPELL[region])]
        recs.append(r)
    return pd.DataFrame(recs)


@settings(max_examples=60, deadline=None)
@given(
    region=st.sampled_from(sorted(_SPELL)),
    rows=st.lists(st.tuples(st.booleans(), st.integers(0, 9)), min_size=1, max_size=4),
)
def test_onset_spellings_reconcile(region, rows):
    h = _history([(region, hot, k) for hot, k in rows])
    report = ImportReport()
    got = _regions(h, strict=True, log=ProblemLog(), report=report)
    assert got["S1"] == region
    assert "onset_region_conflicts" not in report.counts


@settings(max_examples=30, deadline=None)
@given(a=st.sampled_from(sorted(_SPELL)), b=st.sampled_from(sorted(_SPELL)), hot=st.booleans())
def test_onset_conflicts_are_unknown(a, b, hot):
    h = _history([(a, hot, 0), (b, not hot, 1)])
    report = ImportReport()
    got = _regions(h, strict=False, log=ProblemLog(), report=report)
    if a == b:
        assert got["S1"] == a
    else:
        assert pd.isna(got["S1"]) and report.counts["onset_region_conflicts"] == 1


_ITEM_COLS = [
    "q1_speech",
    "q2_salivation",
    "q3_swallowing",
    "q4_handwriting",
    "q5a_cutting_without_gastrostomy",
    "q6_dressing_and_hygiene",
    "q7_turning_in_bed",
    "q8_walking",
    "q9_climbing_stairs",
]


@settings(max_examples=60, deadline=None)
@given(
    halves=st.lists(st.integers(0, 8), min_size=12, max_size=12),
    revised=st.booleans(),
    offset=st.sampled_from([0.0, 0.0, 0.5, -1.0, 2.0]),
)
def test_total_rule(halves, revised, offset):
    """Reported total kept iff it equals the item sum (brute force over 0.5-point items)."""
    vals = [h / 2 for h in halves]
    row: dict[str, object] = dict(zip(_ITEM_COLS, vals[:9], strict=True))
    resp = ["r_1_dyspnea", "r_2_orthopnea", "r_3_respiratory_insufficiency"]
    if revised:
        row.update(zip(resp, vals[9:], strict=True))
        total = sum(vals)
        row["alsfrs_r_total"] = total + offset
    else:
        row["q10_respiratory"] = vals[9]
        total = sum(vals[:10])
        row["alsfrs_total"] = total + offset
    row.update(subject_id="S1", alsfrs_delta=10.0, _source="F", _line=2)
    frame = pd.DataFrame([row])
    report = ImportReport()
    out = _alsfrs(frame, pd.Series({"S1": -100.0}), strict=False, log=ProblemLog(), report=report)
    assert out["instrument"].iloc[0] == ("alsfrs_r" if revised else "alsfrs")
    assert out["day"].iloc[0] == 110
    if offset == 0:
        assert out["total_reported"].iloc[0] == total and report.totals_recomputed == 0
    else:
        assert np.isnan(out["total_reported"].iloc[0]) and report.totals_recomputed == 1
    assert report.half_point_rows == int(any(v % 1 for v in vals[: 12 if revised else 10]))
