"""The Flower app on Flower's simulation runtime (Ray backend, 3 virtual SuperNodes).

Needs ``flwr[simulation]``; skipped elsewhere. Run with ``make test-engines``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("flwr.simulation")

from flwr.simulation import run_simulation

from alsnet.federated import AuditLog, Policy
from alsnet.federated.engines.flower import (
    SimulatedSites,
    make_client_app,
    make_server_app,
)
from alsnet.federated.learning import FederatedTrainer, TrainingSite

# Ray leaves /dev/null handles and its own FutureWarnings behind; not ours to fix
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

FEATURES = [f"f{j}" for j in range(4)]
BACKEND = {"client_resources": {"num_cpus": 1}, "init_args": {"num_cpus": 2}}


def _sites(sizes=(60, 90, 140), seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for k, n in enumerate(sizes):
        x = rng.normal(loc=0.4 * k, size=(n, len(FEATURES)))
        y = x @ np.array([1.0, -0.5, 0.25, 0.0]) + rng.normal(scale=0.5, size=n) + 0.2 * k
        x[rng.random(x.shape) < 0.1] = np.nan
        out.append((x, y, Policy(site_id=f"S{k}")))
    return out


def _simulate(data, tmp_path, **server_kw):
    got = {}
    server = make_server_app(
        features=FEATURES,
        min_nodes=len(data),
        on_result=lambda s: got.setdefault(s.method, s),
        **server_kw,
    )
    client = make_client_app(SimulatedSites(data, audit_dir=tmp_path))
    run_simulation(server, client, num_supernodes=len(data), backend_config=BACKEND)
    return got


@pytest.mark.slow
def test_flower_exact_and_fedavg_equal_in_process(tmp_path):
    """One simulation: the exact ridge, then FedAvg, both equal the in-process trainer."""
    data = _sites()
    local = FederatedTrainer([TrainingSite(x, y, p) for x, y, p in data], features=FEATURES)
    out = tmp_path / "score.json"
    got = _simulate(
        data,
        tmp_path,
        method="both",
        alphas=[0.1, 1.0, 10.0],
        alpha=1.0,
        rounds=20,
        lr=0.1,
        batch_size=10_000,
        out=out,
    )
    ref = local.fit_exact(alphas=[0.1, 1.0, 10.0])
    score = got["exact"]
    assert score.alpha == ref.alpha
    np.testing.assert_allclose(score.coef, ref.coef, rtol=1e-12, atol=1e-12)
    saved = json.loads(out.read_text())
    assert saved["exact"]["coef"] == ref.coef.tolist()
    # FedAvg with one full-batch local step per round is pooled gradient descent
    ref_fed = local.fit_fedavg(alpha=1.0, rounds=20, lr=0.1, batch_size=10_000)
    np.testing.assert_allclose(got["fedavg"].coef, ref_fed.coef, rtol=1e-10, atol=1e-12)
    assert got["fedavg"].rounds == 21
    # every site audited each release: moments, gram, moments, 20 FedAvg rounds
    for _, _, p in data:
        recs = AuditLog(tmp_path / f"{p.site_id}.jsonl").records()
        steps = [r.params["step"] for r in recs]
        assert steps == ["moments", "gram", "moments"] + ["fedavg"] * 20
        assert {r.decision for r in recs} == {"released"}
        assert AuditLog(tmp_path / f"{p.site_id}.jsonl").verify() == []


def test_deployment_client_reads_node_config(tmp_path):
    """The deployed ClientApp's site: canonical CSV layout + policy file from node-config."""
    from flwr.app import Context, RecordDict

    from alsnet.federated import split_sites
    from alsnet.federated.engines.flower import site_from_node_config
    from alsnet.federated.learning import site_training_data
    from alsnet.io.canonical import write_csv
    from alsnet.synth import synthesize

    cohort = next(iter(split_sites(synthesize(300, seed=8)).values()))
    write_csv(cohort, tmp_path / "canonical")
    (tmp_path / "policy.yaml").write_text("site_id: NL01\njurisdiction: eu_gdpr\n")
    cfg = {"data-dir": str(tmp_path / "canonical"), "policy-file": str(tmp_path / "policy.yaml")}
    ctx = Context(run_id=1, node_id=7, node_config=cfg, state=RecordDict(), run_config={})
    site = site_from_node_config(ctx)
    _, y = site_training_data(cohort)
    assert site.site_id == "NL01" and site.n == y.size
    assert site_from_node_config(ctx) is site  # cached for the SuperNode's lifetime
    env = site.handle("moments", {}, requester="a@b")
    assert env["status"] == "ok" and env["payload"]["n"] == y.size
    recs = AuditLog(tmp_path / "federated_audit.jsonl").records()
    assert recs[-1].site_id == "NL01" and recs[-1].decision == "released"
