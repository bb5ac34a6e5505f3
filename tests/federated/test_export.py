"""Record-level export: k-anonymity, top-coding, pseudonyms, refusal and audit."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alsnet.cohort import Cohort
from alsnet.federated.anonymity import (
    HEIGHTS,
    QUASI_IDENTIFIERS,
    age_band,
    class_sizes,
    generalise,
    k_anonymise,
    quasi_identifier_table,
)
from alsnet.federated.audit import AuditLog
from alsnet.federated.errors import PolicyError, PrivacyThresholdError, RequestRefusedError
from alsnet.federated.export import export_records, write_export
from alsnet.federated.policy import Policy

POLICY = Policy.from_mapping({"site_id": "S", "allow_export": True, "export_k": 5})


@pytest.fixture(scope="module")
def site(site_cohorts: Mapping[str, Cohort]) -> Cohort:
    return next(iter(site_cohorts.values()))


def _qi(ages: list[float], regions: list[str], genes: list[str], sites: list[str]) -> pd.DataFrame:
    n = len(ages)
    return pd.DataFrame(
        {
            "age": ages,
            "onset_region": regions,
            "gene": genes,
            "site": sites,
            "country": ["NL" if s < "M" else "BE" for s in sites],
            "sex": (["F", "M"] * n)[:n],
        }
    )


qi_strategy = st.integers(1, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(15, 99, allow_nan=False), min_size=n, max_size=n),
        st.lists(
            st.sampled_from(["bulbar", "upper_limb", "lower_limb", "ftd"]), min_size=n, max_size=n
        ),
        st.lists(st.sampled_from(["none", "untested", "SOD1", "C9orf72"]), min_size=n, max_size=n),
        st.lists(st.sampled_from(["A1", "B2", "X9"]), min_size=n, max_size=n),
    )
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(qi_strategy, st.integers(1, 6), st.sampled_from([0.0, 0.05, 0.3]))
def test_every_released_class_has_k_records(data, k, max_sup) -> None:
    qi = _qi(*data)
    try:
        res = k_anonymise(qi, k, max_suppressed=max_sup)
    except PrivacyThresholdError:
        # refusal only when even the all-* node (one class of every record) fails
        top = generalise(qi, HEIGHTS)
        assert (class_sizes(top) < k).sum() > np.floor(max_sup * len(qi) + 1e-9)
        return
    kept = res.generalised.loc[res.keep]
    assert (class_sizes(kept) >= k).all()
    assert res.n_suppressed <= np.floor(max_sup * len(qi) + 1e-9)
    assert not kept["age_band"].isin(["90-94", "95-99"]).any()


def _brute_force_best(qi: pd.DataFrame, k: int, max_sup: float) -> float:
    """Least loss over the whole lattice, by exhaustive search without pruning."""
    limit = np.floor(max_sup * len(qi) + 1e-9)
    best = np.inf
    for combo in itertools.product(*(range(HEIGHTS[q] + 1) for q in QUASI_IDENTIFIERS)):
        lv = dict(zip(QUASI_IDENTIFIERS, combo, strict=True))
        sizes = class_sizes(generalise(qi, lv))
        if (sizes < k).sum() <= limit and (sizes >= k).any():
            best = min(best, sum(lv[q] / HEIGHTS[q] for q in QUASI_IDENTIFIERS))
    return best


def test_search_finds_the_least_loss_node(site: Cohort) -> None:
    qi = quasi_identifier_table(site.patients, site.sites)
    res = k_anonymise(qi, 5, max_suppressed=0.05)
    assert res.loss == pytest.approx(_brute_force_best(qi, 5, 0.05))
    assert res.smallest_class >= 5


def test_age_bands_top_code_at_90() -> None:
    bands = age_band(np.array([17.0, 89.99, 90.0, 104.0]), 5)
    assert bands.tolist() == ["15-19", "85-89", "90+", "90+"]


def test_export_tables_are_safe(site: Cohort, tmp_path: Path) -> None:
    res = export_records(site, POLICY, requester="analyst@alsnet.example", audit=tmp_path)
    pats = res.tables["patients"]
    # no exact ages, no ancestry, no real ids, no free text
    assert {"age_onset", "ancestry", "genetic_ancestry", "diagnosis_day"}.isdisjoint(pats)
    assert not pats["patient_id"].isin(site.patients["patient_id"].astype(str)).any()
    assert pats["patient_id"].str.fullmatch(r"P[0-9a-f]{20}").all()
    qcols = ["age_band", "onset_region", "gene", "site", "sex"]
    assert pats.groupby(qcols).size().min() >= POLICY.export_k
    for name, df in res.tables.items():
        assert set(df["patient_id"]) <= set(pats["patient_id"]), name
        assert not any(pd.api.types.is_datetime64_any_dtype(df[c]) for c in df), name
    assert "variant" not in res.tables.get("genetics", pd.DataFrame(columns=["x"]))
    # every kept patient's visits come along, none of the suppressed ones
    n_vis = (
        site.visits["patient_id"]
        .isin(site.patients["patient_id"].loc[res.anonymity.keep.tolist()])
        .sum()
    )
    assert len(res.tables["visits"]) == n_vis
    rec = AuditLog(tmp_path / "federated_audit.jsonl").records()
    assert [r.decision for r in rec] == ["released"]
    assert rec[0].output_sha256 == res.report["output_sha256"]


def test_pseudonyms_are_stable_under_a_given_key_and_unlinkable_by_default(site: Cohort) -> None:
    key = b"k" * 32
    a = export_records(site, POLICY, secret=key).tables["patients"]["patient_id"]
    b = export_records(site, POLICY, secret=key).tables["patients"]["patient_id"]
    c = export_records(site, POLICY).tables["patients"]["patient_id"]
    assert a.tolist() == b.tolist()
    assert set(a).isdisjoint(c)


def test_refusals_are_audited_and_write_nothing(site: Cohort, tmp_path: Path) -> None:
    closed = Policy.from_mapping({"site_id": "S"})
    with pytest.raises(RequestRefusedError, match="allow_export"):
        export_records(site, closed, audit=tmp_path)
    picky = Policy.from_mapping(
        {"site_id": "S", "allow_export": True, "allowed_requesters": ["*@hub.example"]}
    )
    with pytest.raises(RequestRefusedError, match="requester"):
        export_records(site, picky, requester="x@other.example", audit=tmp_path)
    strict = Policy.from_mapping(
        {"site_id": "S", "allow_export": True, "export_k": 10_000, "max_suppressed": 0.0}
    )
    with pytest.raises(PrivacyThresholdError, match="k-anonymity"):
        export_records(site, strict, audit=tmp_path)
    decisions = [r.decision for r in AuditLog(tmp_path / "federated_audit.jsonl").records()]
    assert decisions == ["refused"] * 3
    assert not (tmp_path / "out").exists()


def test_write_export_is_atomic_and_refuses_non_empty_target(site: Cohort, tmp_path: Path) -> None:
    res = export_records(site, POLICY)
    files = write_export(res, tmp_path / "out")
    assert {f.name for f in files} >= {"patients.csv", "visits.csv", "export_report.json"}
    report = json.loads((tmp_path / "out" / "export_report.json").read_text())
    assert report["anonymity"]["k"] == 5
    with pytest.raises(FileExistsError):
        write_export(res, tmp_path / "out")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".export-")]


def test_policy_export_fields_are_validated() -> None:
    with pytest.raises(PolicyError) as err:
        Policy.from_mapping(
            {"site_id": "S", "allow_export": "yes", "export_k": 0, "max_suppressed": 2}
        )
    text = str(err.value)
    for field in ("allow_export", "export_k", "max_suppressed"):
        assert field in text
