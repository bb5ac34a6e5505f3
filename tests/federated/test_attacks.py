"""Bad input and attacks: disallowed requests, isolating queries, dropouts, tampering."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from alsnet.federated import (
    Coordinator,
    FederationIncompleteError,
    Message,
    MessageIntegrityError,
    Policy,
    Site,
    SiteUnavailableError,
    simulate_network,
)
from alsnet.federated.messages import Request


def _network(site_cohorts, **policy_kw):
    pols = {s: Policy(site_id=s, **policy_kw) for s in site_cohorts}
    return simulate_network(site_cohorts, policies=pols)


def test_disallowed_analysis_refused(site_cohorts):
    co = _network(site_cohorts, allowed_analyses=("summary", "km"))
    with pytest.raises(FederationIncompleteError, match="not allowed") as exc:
        co.cox(["age_onset"])
    assert set(exc.value.failures) == set(site_cohorts)


def test_disallowed_requester_refused(site_cohorts):
    co = _network(site_cohorts, allowed_requesters=("*@umcutrecht.nl",))
    with pytest.raises(FederationIncompleteError, match="requester not allowed"):
        co.summary()


def test_one_refusing_site_gives_no_partial_result(site_cohorts):
    pols = {s: Policy.default(s) for s in site_cohorts}
    first = sorted(site_cohorts)[0]
    pols[first] = Policy(site_id=first, allowed_analyses=("summary",))
    co = simulate_network(site_cohorts, policies=pols)
    with pytest.raises(FederationIncompleteError) as exc:
        co.cox(["age_onset"])
    assert list(exc.value.failures) == [first]


def test_min_sites(site_cohorts):
    one = dict(list(site_cohorts.items())[:1])
    s = next(iter(one))
    co = simulate_network(one, policies={s: Policy(site_id=s, min_sites=3)})
    with pytest.raises(FederationIncompleteError, match=">= 3 sites"):
        co.km()


class _Flaky:
    """A site that goes offline after ``ok`` answers."""

    def __init__(self, site: Site, ok: int) -> None:
        self._site, self._ok = site, ok

    @property
    def site_id(self) -> str:
        return self._site.site_id

    def handle(self, request: Request) -> Message:
        if self._ok <= 0:
            raise SiteUnavailableError("connection lost")
        self._ok -= 1
        return self._site.handle(request)


def test_site_offline_mid_iteration(site_cohorts):
    keys = {s: bytes([i + 1]) * 32 for i, s in enumerate(site_cohorts)}
    sites = [Site(c, Policy.default(s), key=keys[s]) for s, c in site_cohorts.items()]
    sites[1] = _Flaky(sites[1], ok=2)  # answers two Newton evaluations, then drops out
    co = Coordinator(sites, keys, requester="a@b")
    with pytest.raises(FederationIncompleteError, match="unavailable") as exc:
        co.cox(["age_onset", "sex_male"])
    assert list(exc.value.failures) == [sites[1].site_id]


class _Tamperer:
    """A man in the middle who changes a released count."""

    def __init__(self, site: Site) -> None:
        self._site = site

    @property
    def site_id(self) -> str:
        return self._site.site_id

    def handle(self, request: Request) -> Message:
        msg = self._site.handle(request)
        payload = dict(msg.payload)
        payload["n"] = int(payload["n"]) + 1
        return dataclasses.replace(msg, payload=payload)


def test_tampered_message_detected(site_cohorts):
    keys = {s: bytes([i + 7]) * 32 for i, s in enumerate(site_cohorts)}
    sites = [Site(c, Policy.default(s), key=keys[s]) for s, c in site_cohorts.items()]
    sites[0] = _Tamperer(sites[0])
    co = Coordinator(sites, keys, requester="a@b")
    with pytest.raises(FederationIncompleteError, match="signature"):
        co.summary()


def test_forged_request_refused(site_cohorts):
    s, c = next(iter(site_cohorts.items()))
    site = Site(c, Policy.default(s), key=b"k" * 32)
    req = Request("summary", "a@b", {}, n_sites=1).signed(b"wrong" * 8)
    msg = site.handle(req)
    assert msg.status == "refused" and msg.payload == {}


def test_malformed_message():
    with pytest.raises(MessageIntegrityError):
        Message.from_json("{not json")
    with pytest.raises(MessageIntegrityError):
        Message.from_json('{"site_id": "X"}')


def test_cox_with_as_many_parameters_as_events_refused(site_cohorts):
    s, c = next(iter(site_cohorts.items()))
    tiny = c.subset(c.patients["patient_id"].iloc[:12].to_list())
    co = simulate_network({s: tiny})
    covs = ["age_onset", "sex_male", "bulbar_onset", "diagnosis_delay_months", "ftd"]
    with pytest.raises(FederationIncompleteError, match=r"parameters|events"):
        co.cox(covs)


def test_subgroup_of_size_one_not_released(site_cohorts):
    s, c = next(iter(site_cohorts.items()))
    # one patient with a rare onset region: the cell must not be released
    co = simulate_network({s: c})
    res = co.summary(by=["onset_region"])
    counts = c.patients["onset_region"].value_counts()
    small = [r for r, n in counts.items() if 0 < n < 5]
    assert small, "fixture should hold a rare onset region"
    for region in small:
        row = res.table.loc[res.table["onset_region"] == region, "count"].iloc[0]
        assert pd.isna(row)
    # secondary suppression: at least two cells hidden, so the total cannot reveal one
    assert res.table["count"].isna().sum() >= 2


def test_whole_site_below_min_rows_refused(site_cohorts):
    s, c = next(iter(site_cohorts.items()))
    one = c.subset(c.patients["patient_id"].iloc[:1].to_list())
    with pytest.raises(FederationIncompleteError, match="min_rows"):
        simulate_network({s: one}).summary()
