"""Store.save / load / counts: insert, unchanged, conflicts, replace, rollback, sites."""

from __future__ import annotations

import pandas as pd
import pytest

from alsnet.cohort import Cohort
from alsnet.exceptions import StoreError
from alsnet.registry import SaveReport, Store
from alsnet.schema import TABLES

from ._cohorts import SITES, make_cohort, with_changes


def _lens(c: Cohort) -> dict[str, int]:
    return {n: len(df) for n, df in c.tables.items()}


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    return make_cohort(30, seed=7)


def _modified(c: Cohort) -> tuple[Cohort, list[str], list[str]]:
    """Change one visit value of the 4th patient and drop all events of the 6th."""
    pids = c.patients["patient_id"].tolist()
    v = c.visits.copy()
    row = v.index[(v["patient_id"] == pids[3]) & v["fvc_pct"].notna()][0]
    v.loc[row, "fvc_pct"] = v.loc[row, "fvc_pct"] + 1e-9
    e = c.events
    if not (e["patient_id"] == pids[5]).any():
        extra = pd.DataFrame({"patient_id": [pids[5]], "event": ["niv"], "day": [900]})
        e = pd.concat([e, extra], ignore_index=True)
        return with_changes(c, visits=v, events=e), [pids[3], pids[5]], ["visits", "events"]
    e = e.loc[e["patient_id"] != pids[5]]
    return with_changes(c, visits=v, events=e), [pids[3], pids[5]], ["visits", "events"]


def test_save_inserts_then_resave_changes_nothing(store: Store, cohort: Cohort) -> None:
    rep = store.save(cohort, source="first")
    n = len(cohort.patients)
    assert (rep.inserted, rep.unchanged, rep.replaced) == (n, 0, 0)
    assert dict(rep.rows) == _lens(cohort)
    assert not any(rep.deleted.values())
    assert store.counts() == _lens(cohort)
    again = store.save(cohort, source="again")
    assert (again.inserted, again.unchanged, again.replaced) == (0, n, 0)
    assert dict(again.rows) == dict.fromkeys(TABLES, 0)
    assert not again.changed
    assert store.counts() == _lens(cohort)
    log = store.imports()
    assert log["source"].tolist() == ["first", "again"]
    assert log[["inserted", "unchanged", "replaced"]].to_numpy().tolist() == [[n, 0, 0], [0, n, 0]]
    assert (log["fingerprint"] == cohort.fingerprint).all()
    assert log["id"].tolist() == [rep.import_id, again.import_id]
    assert store.load() == cohort


def test_conflict_error_names_patients_and_tables_and_writes_nothing(
    store: Store, cohort: Cohort
) -> None:
    store.save(cohort)
    changed, pids, tables = _modified(cohort)
    newcomer = make_cohort(2, seed=99, prefix="NEW")
    both = Cohort.from_tables(
        {n: pd.concat([changed.tables[n], newcomer.tables[n]]).drop_duplicates() for n in TABLES}
    )
    with pytest.raises(StoreError) as err:
        store.save(both)
    msg = str(err.value)
    assert "2 stored patient(s) differ" in msg
    assert f"{pids[0]} ({tables[0]})" in msg
    assert f"{pids[1]} ({tables[1]})" in msg
    assert "NEW" not in msg
    assert store.counts() == _lens(cohort)
    assert store.load() == cohort
    assert len(store.imports()) == 1


def test_conflict_message_lists_at_most_20(store: Store, cohort: Cohort) -> None:
    store.save(cohort)
    v = cohort.visits.copy()
    v["weight_kg"] = v["weight_kg"] + 0.25
    changed = with_changes(cohort, visits=v)
    n_diff = v.loc[v["weight_kg"].notna(), "patient_id"].nunique()
    assert n_diff > 20
    with pytest.raises(StoreError, match=rf"and {n_diff - 20} more") as err:
        store.save(changed)
    assert str(err.value).count("(visits)") == 20


def test_replace_swaps_only_differing_patients(store: Store, cohort: Cohort) -> None:
    store.save(cohort)
    changed, pids, _ = _modified(cohort)
    newcomer = make_cohort(3, seed=5, prefix="NEW")
    both = Cohort.from_tables(
        {n: pd.concat([changed.tables[n], newcomer.tables[n]]).drop_duplicates() for n in TABLES}
    )
    rep = store.save(both, on_conflict="replace")
    assert (rep.inserted, rep.replaced, rep.unchanged) == (3, 2, len(cohort.patients) - 2)
    old = cohort.subset(pids)
    for name in ("patients", "visits", "events", "consents"):
        assert rep.deleted[name] == len(old.tables[name]), name
        assert rep.rows[name] == len(
            both.subset([*pids, *newcomer.patients["patient_id"]]).tables[name]
        )
    assert store.load() == both
    assert store.counts() == _lens(both)


def test_partial_overlap_inserts_new_and_keeps_old(store: Store) -> None:
    full = make_cohort(30, seed=11)
    ids = full.patients["patient_id"].tolist()
    store.save(full.subset(ids[:20]))
    rep = store.save(full.subset(ids[10:]))
    assert (rep.inserted, rep.unchanged, rep.replaced) == (10, 10, 0)
    assert store.load() == full


def _colliding_sample(c: Cohort) -> Cohort:
    """New patients whose biosample reuses a stored sample id (PK violation late in save)."""
    new = make_cohort(4, seed=3, prefix="LATE").copy_tables()
    taken = c.biosamples["sample_id"].iloc[0]
    bs = new["biosamples"]
    if bs.empty:
        bs = pd.DataFrame(
            {"patient_id": [new["patients"]["patient_id"].iloc[0]], "sample_id": [taken],
             "sample_type": ["serum"], "day": [10]}
        )  # fmt: skip
    else:
        bs = bs.copy()
        bs.loc[bs.index[0], "sample_id"] = taken
    new["biosamples"] = bs
    return Cohort.from_tables(new)


def _bad_consent(c: Cohort) -> Cohort:
    """A cohort built past validation with granted = 2 in the last table."""
    tables = make_cohort(4, seed=4, prefix="BAD").copy_tables()
    tables["consents"].loc[0, "granted"] = 2
    return Cohort(tables)


@pytest.mark.parametrize("inject", [_colliding_sample, _bad_consent])
def test_failed_save_rolls_back_completely(store: Store, cohort: Cohort, inject: object) -> None:
    store.save(cohort)
    before = store.counts()
    assert callable(inject)
    bad = inject(cohort)
    with pytest.raises(StoreError, match="rolled back") as err:
        store.save(bad)
    assert "Key (" not in str(err.value)  # the row's values are not echoed
    assert store.counts() == before
    assert store.load() == cohort
    assert len(store.imports()) == 1


def test_failed_first_save_leaves_store_empty(store: Store) -> None:
    with pytest.raises(StoreError):
        store.save(_bad_consent(make_cohort(1)))
    assert set(store.counts().values()) == {0}
    assert store.imports().empty


def test_sites_placeholders_are_created_then_filled(store: Store) -> None:
    bare = make_cohort(12, seed=2, with_sites=False)
    store.save(bare)
    assert store.counts()["sites"] == 0
    loaded = store.load()
    assert loaded.sites.empty
    assert loaded == bare
    full = with_changes(bare, sites=SITES)
    rep = store.save(full)
    assert (rep.inserted, rep.unchanged, rep.rows["sites"]) == (0, 12, 3)
    assert store.counts()["sites"] == 3
    assert store.load() == full


def test_placeholder_returned_when_real_sites_are_loaded(store: Store) -> None:
    store.save(make_cohort(5, seed=1, prefix="A"))  # real sites S01..S03
    other = make_cohort(5, seed=2, prefix="B", with_sites=False).copy_tables()
    other["patients"]["site_id"] = "S99"
    store.save(Cohort.from_tables(other))
    assert store.counts()["sites"] == 3
    loaded = store.load()
    assert sorted(loaded.sites["site_id"]) == ["S01", "S02", "S03", "S99"]
    Cohort.from_tables(loaded.copy_tables())  # references stay whole: validates


def test_changed_site_is_a_conflict_unless_replace(store: Store, cohort: Cohort) -> None:
    store.save(cohort)
    sites = SITES.copy()
    sites.loc[0, "country"] = "DE"
    changed = with_changes(cohort, sites=sites)
    with pytest.raises(StoreError, match=r"1 stored site\(s\) differ: S01"):
        store.save(changed)
    rep = store.save(changed, on_conflict="replace")
    assert (rep.unchanged, rep.rows["sites"], rep.deleted["sites"]) == (30, 1, 1)
    assert store.load() == changed


def test_load_filters(store: Store, cohort: Cohort) -> None:
    store.save(cohort)
    ids = cohort.patients["patient_id"].tolist()
    assert store.load(patient_ids=ids[:5]) == cohort.subset(ids[:5])
    assert store.load(patient_ids=iter([*ids[:5], "nobody"])) == cohort.subset(ids[:5])
    s01 = cohort.patients.loc[cohort.patients["site_id"] == "S01", "patient_id"]
    by_site = store.load(site_ids=["S01"])
    assert sorted(by_site.patients["patient_id"]) == sorted(s01)
    assert by_site.sites["site_id"].tolist() == ["S01"]
    assert set(by_site.visits["patient_id"]) <= set(s01)
    assert len(by_site.visits) == cohort.visits["patient_id"].isin(s01).sum()
    both = store.load(patient_ids=ids[:10], site_ids=iter(["S01"]))
    assert set(both.patients["patient_id"]) == set(s01) & set(ids[:10])
    assert store.load(patient_ids=[]).patients.empty


def test_loaded_dtypes_are_canonical(store: Store, cohort: Cohort) -> None:
    store.save(cohort)
    loaded = store.load()
    for name in TABLES:
        assert loaded.tables[name].dtypes.to_dict() == cohort.tables[name].dtypes.to_dict(), name


def test_bad_on_conflict(store: Store, cohort: Cohort) -> None:
    with pytest.raises(ValueError, match="on_conflict"):
        store.save(cohort, on_conflict="merge")  # type: ignore[arg-type]


def test_report_repr_and_summary() -> None:
    rep = SaveReport(inserted=2, unchanged=1, replaced=0, rows={"patients": 2, "visits": 7},
                     deleted={"visits": 1})  # fmt: skip
    text = repr(rep)
    assert "\n" not in text
    assert text.startswith("SaveReport(inserted=2, unchanged=1, replaced=0, rows=9, deleted=1")
    s = rep.summary()
    assert s.index.tolist() == ["patients", "visits"]
    assert s.to_dict("list") == {"written": [2, 7], "deleted": [0, 1]}
    with pytest.raises(TypeError):
        rep.rows["patients"] = 3  # type: ignore[index]
