"""The vantage6 algorithm on vantage6's in-process mock network (no Docker, no server).

Needs ``vantage6-algorithm-tools`` 5.x (Python >= 3.13); skipped elsewhere. Run it with
``make test-engines`` (builds ``.venv-engines``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

pytest.importorskip("vantage6.algorithm.mock.network")

from lifelines import CoxPHFitter
from vantage6.algorithm.mock.network import MockNetwork

from alsnet.federated import (
    AuditLog,
    simulate_network,
    split_sites,
    survival_times,
)
from alsnet.federated.data import covariate_matrix
from alsnet.federated.engines import vantage6 as v6
from alsnet.synth import synthesize

MODULE = "alsnet.federated.engines.vantage6"
COVS = ["age_onset", "sex_male", "bulbar_onset"]
REQUESTER = "analyst@alsnet.example"


@pytest.fixture(scope="module")
def cohorts():
    return split_sites(synthesize(600, seed=5))


def _policies(tmp_path, cohorts, **overrides):
    """One policy YAML per organisation (1-based, in site order), as a node would hold."""
    for org, site in enumerate(cohorts, start=1):
        pol = {
            "site_id": site,
            "jurisdiction": "eu_gdpr",
            "allowed_requesters": ["*@alsnet.example"],
        }
        pol.update(overrides.get(site, {}))
        (tmp_path / f"policy_{org}.yaml").write_text(yaml.safe_dump(pol), encoding="utf-8")


@pytest.fixture
def network(tmp_path, cohorts, monkeypatch):
    _policies(tmp_path, cohorts)
    monkeypatch.setenv(v6.ENV_POLICY, str(tmp_path / "policy_{organization_id}.yaml"))
    monkeypatch.setenv(v6.ENV_AUDIT, str(tmp_path / "audit_{organization_id}.jsonl"))
    datasets = [{t: {"database": c.tables[t]} for t in v6.TABLE_NAMES} for c in cohorts.values()]
    return MockNetwork(module_name=MODULE, datasets=datasets)


def _run(net, central_fn, **arguments):
    client = net.user_client
    ids = {d["name"]: d["id"] for d in client.dataframe.list()}
    dbs = [{"dataframe_id": ids[t], "type": "dataframe"} for t in v6.TABLE_NAMES]
    task = client.task.create(
        method=central_fn,
        organizations=[net.organization_ids[0]],
        arguments={"requester": REQUESTER, **arguments},
        databases=dbs,
    )
    (res,) = client.result.from_task(task["id"])
    return res


def test_cox_equals_in_process_and_pooled(network, cohorts, tmp_path):
    res = _run(network, "central_cox", covariates=COVS)
    assert res["status"] == "ok"
    ref = simulate_network(cohorts).cox(COVS)
    frames = []
    for s, c in cohorts.items():
        st = survival_times(c)
        f = pd.concat([st, covariate_matrix(c, COVS).reindex(st.index)], axis=1).dropna()
        f["site"] = s
        frames.append(f)
    cph = CoxPHFitter().fit(
        pd.concat(frames), "time_days", "event", strata=["site"], fit_options={"precision": 1e-12}
    )
    for cov in COVS:
        assert res["coef"][cov] == pytest.approx(ref.coef[cov], rel=1e-6)
        assert res["se"][cov] == pytest.approx(ref.se[cov], rel=1e-6)
        assert res["coef"][cov] == pytest.approx(cph.params_[cov], rel=1e-6)
        assert res["se"][cov] == pytest.approx(cph.standard_errors_[cov], rel=1e-6)
    # every node audited every Newton step it answered, with an intact hash chain
    for org in network.organization_ids:
        log = AuditLog(tmp_path / f"audit_{org}.jsonl")
        recs = log.records()
        assert len(recs) >= 3 and {r.analysis for r in recs} == {"cox"}
        assert {r.decision for r in recs} == {"released"} and log.verify() == []
        assert recs[0].requester == REQUESTER


def test_km_and_summary_equal_in_process(network, cohorts):
    km = _run(network, "central_km", grid_days=30)
    ref = simulate_network(cohorts).km(grid_days=30)
    got = pd.DataFrame(km["table"]) if "table" in km else None
    assert km["status"] == "ok"
    exp = ref.to_json()
    assert got is not None and len(got) == len(ref.table)
    np.testing.assert_allclose(
        got["survival"].to_numpy(), ref.table["survival"].to_numpy(), rtol=1e-12
    )
    assert km["n"] == exp["n"] == sum(len(survival_times(c)) for c in cohorts.values())

    sm = _run(network, "central_summary", by=["sex"], numeric=["age_onset"])
    ref_s = simulate_network(cohorts).summary(by=["sex"], numeric=["age_onset"]).to_json()
    assert sm["status"] == "ok"
    assert sm["table"] == ref_s["table"]
    age = pd.concat([c.patients["age_onset"] for c in cohorts.values()]).astype(float)
    assert sm["numeric"][0]["mean"] == pytest.approx(age.mean(), rel=1e-12)


@pytest.mark.slow
def test_lmm_equals_in_process(network, cohorts):
    res = _run(network, "central_lmm", covariates=["age_onset"])
    ref = simulate_network(cohorts).lmm(["age_onset"])
    assert res["status"] == "ok"
    for term, value in ref.coef.items():
        assert res["coef"][term] == pytest.approx(value, rel=1e-6), term


def test_refusing_node_gives_no_pooled_result(tmp_path, cohorts, monkeypatch):
    first = next(iter(cohorts))
    _policies(tmp_path, cohorts, **{first: {"allowed_analyses": ["summary", "km"]}})
    monkeypatch.setenv(v6.ENV_POLICY, str(tmp_path / "policy_{organization_id}.yaml"))
    monkeypatch.setenv(v6.ENV_AUDIT, str(tmp_path / "audit_{organization_id}.jsonl"))
    datasets = [{t: {"database": c.tables[t]} for t in v6.TABLE_NAMES} for c in cohorts.values()]
    net = MockNetwork(module_name=MODULE, datasets=datasets)
    res = _run(net, "central_cox", covariates=COVS)
    assert res["status"] == "incomplete" and "coef" not in res
    assert first in res["failures"] and "not allowed" in res["failures"][first]
    rec = AuditLog(tmp_path / "audit_1.jsonl").records()
    assert rec[-1].decision == "refused" and rec[-1].output_sha256 == ""


def test_disallowed_requester_and_missing_policy(network, monkeypatch):
    res = _run(network, "central_summary", by=["sex"], requester="eve@elsewhere.org")
    assert res["status"] == "incomplete" and len(res["failures"]) == 5
    monkeypatch.delenv(v6.ENV_POLICY)
    res = _run(network, "central_km")
    assert res["status"] == "incomplete"
    assert all("no alsnet policy" in why for why in res["failures"].values())


def test_node_extracts_canonical_csv_layout(tmp_path, cohorts, monkeypatch):
    """Nodes whose database is a canonical CSV directory: extract, then run central_km."""
    from alsnet.io.canonical import write_csv

    _policies(tmp_path, cohorts)
    monkeypatch.setenv(v6.ENV_POLICY, str(tmp_path / "policy_{organization_id}.yaml"))
    datasets = []
    for s, c in cohorts.items():
        write_csv(c, tmp_path / s)
        # one database label per table, all on the site's directory (the mock looks
        # dataframes up by their source label)
        datasets.append(
            {t: {"database": str(tmp_path / s), "db_type": "other"} for t in v6.TABLE_NAMES}
        )
    net = MockNetwork(module_name=MODULE, datasets=datasets)
    for t in v6.TABLE_NAMES:
        net.user_client.dataframe.create(
            label=t, method="extract_canonical", arguments={"table": t}, name=t
        )
    res = _run(net, "central_km", grid_days=30)
    ref = simulate_network(cohorts).km(grid_days=30)
    assert res["status"] == "ok"
    np.testing.assert_allclose(
        pd.DataFrame(res["table"])["survival"].to_numpy(), ref.table["survival"].to_numpy()
    )
    # the default audit log sits beside the policy file
    assert AuditLog(tmp_path / "federated_audit.jsonl").records()


class _FlakyClient:
    """Algorithm-client stand-in: runs the node code in process, then drops or alters
    answers from a given Newton step on (a node going offline, a tampered result)."""

    def __init__(self, cohorts, fault, at_step):
        self.tables = [tuple(c.tables[t] for t in v6.TABLE_NAMES) for c in cohorts.values()]
        self.fault, self.at_step = fault, at_step
        self.answers: dict[int, list] = {}
        self.task = self

    def create(self, method, organizations, arguments, **_):
        import os

        out = []
        for org in organizations:
            os.environ["ORGANIZATION_ID"] = str(org)
            a = dict(arguments)
            out.append(
                v6._answer(
                    self.tables[org - 1],
                    method.removeprefix("partial_"),
                    a["params"],
                    a["requester"],
                    a["n_sites"],
                    a["request_id"],
                    a["step"],
                )
            )
        if arguments["step"] >= self.at_step:
            if self.fault == "offline":
                out = out[:-1]
            elif self.fault == "tampered":
                out[0] = {"payload": out[0]["payload"]}  # status stripped in transit
            elif self.fault == "duplicate":
                out[1] = out[0]
        tid = len(self.answers) + 1
        self.answers[tid] = out
        return {"id": tid}

    def wait_for_results(self, task_id):
        return self.answers[task_id]


@pytest.mark.parametrize(
    ("fault", "why"),
    [("offline", "did not answer"), ("tampered", "malformed"), ("duplicate", "same site id")],
)
def test_node_failure_mid_iteration_returns_no_result(tmp_path, cohorts, monkeypatch, fault, why):
    _policies(tmp_path, cohorts)
    monkeypatch.setenv(v6.ENV_POLICY, str(tmp_path / "policy_{organization_id}.yaml"))
    monkeypatch.setenv("ORGANIZATION_ID", "1")
    client = _FlakyClient(cohorts, fault, at_step=2)
    orgs = list(range(1, len(cohorts) + 1))
    res = v6._run(client, "cox", orgs, REQUESTER, {"covariates": COVS})
    assert res["status"] == "incomplete" and "coef" not in res
    assert any(why in reason for reason in res["failures"].values())
    assert len(client.answers) == 3  # steps 0, 1 went through; step 2 stopped the fit


def test_prognostic_training_equals_in_process(network, cohorts, tmp_path):
    from alsnet.federated.learning import FederatedTrainer, training_sites

    feats = ["alsfrs_r_total_first", "delta_fs", "onset_delta_days", "age_at_window"]
    res = _run(network, "central_prognostic", method="exact", features=feats)
    assert res["status"] == "ok"
    ref = FederatedTrainer(training_sites(cohorts, features=feats), features=feats).fit_exact()
    np.testing.assert_allclose(res["coef"], ref.coef, rtol=1e-10, atol=1e-12)
    assert res["alpha"] == ref.alpha and res["rounds"] == 2
    recs = AuditLog(tmp_path / "audit_1.jsonl").records()
    assert [r.params["step"] for r in recs] == ["moments", "gram"]
    assert {r.analysis for r in recs} == {"prognostic"}
