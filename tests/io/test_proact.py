"""PRO-ACT importer: every layout imports to the canonical values of the synthetic truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _helpers_proact import assert_matches_truth

from alsnet.exceptions import AlsnetError
from alsnet.io.proact import ImportReport, read_proact
from alsnet.io.pseudonym import pseudonymise
from alsnet.testing.synthetic_proact import make_proact_truth, write_proact_files, write_truth

LAYOUTS = ("dream", "proact", "f_proact")


@pytest.fixture(scope="module")
def truth():
    return make_proact_truth(n_subjects=40, seed=7)


@pytest.fixture(scope="module")
def written(truth, tmp_path_factory) -> dict[str, Path]:
    out = {}
    for layout in LAYOUTS:
        d = tmp_path_factory.mktemp(layout)
        write_truth(truth, d, layout=layout, seed=7)
        out[layout] = d
    return out


@pytest.fixture(scope="module")
def imported(written):
    out = {}
    for layout in LAYOUTS:
        report = ImportReport()
        out[layout] = (read_proact(written[layout], report=report), report)
    return out


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_imports_to_truth(layout, truth, imported):
    cohort, report = imported[layout]
    assert report.layout == layout
    assert_matches_truth(cohort, truth.expected_for(layout))
    assert report.subjects_read == 40
    assert report.subjects_excluded_no_onset == len(truth.excluded) == 2
    excluded = {"PROACT-" + s for s in truth.excluded}
    for name in ("patients", "visits", "events", "treatments"):
        assert not set(cohort.tables[name]["patient_id"]) & excluded
    assert cohort.sites["site_id"].tolist() == ["PROACT"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_clean_files_without_traps(layout, tmp_path):
    truth = make_proact_truth(n_subjects=15, seed=3, traps=False)
    write_truth(truth, tmp_path, layout=layout, seed=3)
    report = ImportReport()
    cohort = read_proact(tmp_path, report=report)
    assert_matches_truth(cohort, truth.expected_for(layout))
    assert report.totals_recomputed == report.q5_conflicts_resolved == 0
    assert report.half_point_rows == 0 and report.subjects_excluded_no_onset == 0


def test_days_reanchored_to_onset_by_hand(truth, imported):
    """day = delta - Onset_Delta, checked on one subject from the raw table itself."""
    cohort = imported["proact"][0]
    hist = truth.tables["ALSHISTORY"]
    a = truth.tables["ALSFRS"]
    sid = next(s for s in a["subject_id"] if s not in truth.excluded)
    onset = int(
        hist.loc[(hist["subject_id"] == sid) & (hist["Onset_Delta"] != ""), "Onset_Delta"].iloc[0]
    )
    deltas = sorted({int(d) for d in a.loc[a["subject_id"] == sid, "ALSFRS_Delta"]})
    v = cohort.visits
    days = v.loc[(v["patient_id"] == "PROACT-" + sid) & v["instrument"].notna(), "day"]
    assert sorted(days.tolist()) == [d - onset for d in deltas]
    assert onset < 0 and min(days) > 0


@pytest.mark.parametrize("layout", LAYOUTS)
def test_same_files_twice_same_fingerprint(layout, written, imported):
    assert read_proact(written[layout]).fingerprint == imported[layout][0].fingerprint


def test_layouts_agree_apart_from_nfl(imported):
    dream, csv = imported["dream"][0], imported["proact"][0]
    assert dream.fingerprint == csv.fingerprint
    f = imported["f_proact"][0]
    assert f.fingerprint != csv.fingerprint  # NfL adds values
    assert f.visits["nfl_serum_pg_ml"].notna().any()
    assert len(f.biomarkers) and (f.biomarkers["matrix"] == "csf").all()


def test_pseudonymised_ids(written, imported):
    secret = b"s" * 32
    cohort = read_proact(written["proact"], keep_ids=False, secret=secret)
    kept = imported["proact"][0]
    sids = kept.patients["patient_id"].str.removeprefix("PROACT-")
    want = pseudonymise(sids, secret=secret, namespace="proact")
    assert set(cohort.patients["patient_id"]) == set(want)
    assert not cohort.visits["patient_id"].str.startswith("PROACT-").any()
    assert len(cohort.visits) == len(kept.visits)
    with pytest.raises(AlsnetError, match="secret"):
        read_proact(written["proact"], keep_ids=False)


def test_header_case_insensitive(truth, tmp_path, imported):
    write_truth(truth, tmp_path, layout="proact")
    for path in tmp_path.iterdir():
        text = path.read_text().split("\n", 1)
        head = text[0].upper() if "ALSFRS" in path.name else text[0].lower()
        path.write_text(head + "\n" + text[1])
    assert read_proact(tmp_path).fingerprint == imported["proact"][0].fingerprint


def test_single_file_and_file_list(written, imported):
    files = sorted(written["dream"].iterdir())
    both = read_proact(files)
    assert both.fingerprint == imported["dream"][0].fingerprint
    one = read_proact(files[0])
    assert 0 < len(one.patients) < len(both.patients)


def test_no_proact_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(AlsnetError, match="no PRO-ACT files"):
        read_proact(tmp_path)


def test_mixed_prefixes_refused(truth, tmp_path):
    write_truth(truth, tmp_path, layout="proact")
    (tmp_path / "F_PROACT_ALSFRS.csv").write_bytes((tmp_path / "PROACT_ALSFRS.csv").read_bytes())
    with pytest.raises(AlsnetError, match="present twice"):
        read_proact(tmp_path)


def test_write_proact_files_returns_paths(tmp_path):
    paths = write_proact_files(tmp_path, layout="f_proact", n_subjects=12, seed=1)
    names = {p.name for p in paths}
    assert "F_PROACT_Neurofilament.csv" in names and "F_PROACT_SVC.csv" in names
    assert all(p.exists() for p in paths)
    svc_header = (tmp_path / "F_PROACT_SVC.csv").read_text().split("\n", 1)[0]
    assert "Subject_Liters__Trial_2_" in svc_header


def test_best_trial_is_max_of_trials(truth, imported):
    cohort = imported["proact"][0]
    fvc = truth.tables["FVC"]
    hist = truth.tables["ALSHISTORY"]
    onset = (
        hist.loc[hist["Onset_Delta"] != ""].groupby("subject_id")["Onset_Delta"].first().astype(int)
    )
    trials = fvc[["Subject_Liters_Trial_1", "Subject_Liters_Trial_2", "Subject_Liters_Trial_3"]]
    best = trials.replace("", np.nan).astype(float).max(axis=1)
    keep = fvc["subject_id"].isin(onset.index)
    want = pd.DataFrame(
        {
            "patient_id": "PROACT-" + fvc.loc[keep, "subject_id"],
            "day": fvc.loc[keep, "Forced_Vital_Capacity_Delta"].astype(int)
            - fvc.loc[keep, "subject_id"].map(onset),
            "fvc_l": best[keep],
        }
    )
    got = cohort.visits.merge(want, on=["patient_id", "day"], suffixes=("", "_want"))
    assert len(got) == len(want)
    np.testing.assert_allclose(got["fvc_l"], got["fvc_l_want"])
