"""Federated training of the twin's prognostic score as a Flower app (flwr >= 1.42).

The ServerApp runs :class:`alsnet.federated.learning.FederatedTrainer`'s protocols
(``exact`` sufficient-statistics ridge, or ``fedavg``) with every round sent as Flower
messages; each ClientApp answers with :meth:`alsnet.federated.learning.TrainingSite.handle`,
so the site's disclosure policy, noise and audit log apply exactly as in process.

Messages carry one ``ConfigRecord`` named ``alsnet`` with the JSON text of the request
(``kind``, ``params``, ``requester``) or of the site's answer envelope; JSON keeps every
float exact. Message types: ``query.moments``, ``query.gram`` and ``train`` (FedAvg).

Deployment (``docs/federated-deployment.md``): each SuperNode is started with its own
``--node-config 'data-dir="/site/canonical" policy-file="/site/policy.yaml"'`` (optional
``audit-file``, ``noise-sd``); the module-level :data:`server_app` and :data:`client_app`
are the app's components. For the simulation runtime, :func:`make_client_app` takes a
function that returns the :class:`TrainingSite` of a simulated node.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from alsnet.federated.errors import FederationIncompleteError
from alsnet.federated.learning import (
    DEFAULT_ALPHAS,
    DEFAULT_FEATURES,
    FederatedTrainer,
    LinearScore,
    TrainingSite,
    site_training_data,
)
from alsnet.federated.messages import canonical_json
from alsnet.federated.policy import Policy

__all__ = [
    "FlowerTrainer",
    "SimulatedSites",
    "client_app",
    "make_client_app",
    "make_server_app",
    "score_to_json",
    "server_app",
    "site_from_node_config",
]

logger = logging.getLogger(__name__)

_RECORD = "alsnet"
_TYPES = {"moments": "query.moments", "gram": "query.gram", "fedavg": "train"}


def _pack(obj: Mapping[str, Any]) -> RecordDict:
    return RecordDict({_RECORD: ConfigRecord({"json": canonical_json(dict(obj))})})


def _unpack(msg: Message) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(str(msg.content.config_records[_RECORD]["json"]))
    return out


def score_to_json(score: LinearScore) -> dict[str, Any]:
    """JSON-ready form of a trained score (features, preprocessing, coefficients)."""
    return {
        "method": score.method,
        "features": list(score.features),
        "prep": score.prep.to_dict(),
        "coef": score.coef.tolist(),
        "alpha": score.alpha,
        "rounds": score.rounds,
        "cv_mse": {str(k): v for k, v in score.cv_mse.items()},
    }


# ---------------------------------------------------------------- ServerApp


class FlowerTrainer(FederatedTrainer):
    """:class:`FederatedTrainer` whose rounds are Flower messages to every SuperNode."""

    def __init__(
        self,
        grid: Grid,
        *,
        requester: str,
        features: Sequence[str] = DEFAULT_FEATURES,
        min_nodes: int = 1,
        timeout: float | None = 600.0,
    ) -> None:
        super().__init__([], requester=requester, features=features)
        self._grid = grid
        self._min_nodes = int(min_nodes)
        self._timeout = timeout
        self._nodes: list[int] = []

    def _wait_for_nodes(self) -> list[int]:
        """The connected SuperNodes, once at least ``min_nodes`` are (fixed for the run)."""
        import time

        start = time.monotonic()
        while True:
            nodes = sorted(self._grid.get_node_ids())
            if len(nodes) >= self._min_nodes:
                return nodes
            if self._timeout is not None and time.monotonic() - start > self._timeout:
                raise FederationIncompleteError(
                    "prognostic", {"(network)": f"only {len(nodes)} of {self._min_nodes} nodes"}
                )
            time.sleep(0.2)

    def _exchange(self, kind: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        if not self._nodes:
            self._nodes = self._wait_for_nodes()
        nodes = self._nodes
        body = {"kind": kind, "params": dict(params), "requester": self.requester}
        msgs = [
            Message(
                content=_pack(body),
                dst_node_id=node,
                message_type=_TYPES[kind],
                group_id=str(self.rounds),
            )
            for node in nodes
        ]
        replies = list(self._grid.send_and_receive(msgs, timeout=self._timeout))
        out: list[dict[str, Any]] = []
        answered = set()
        for rep in replies:
            node = rep.metadata.src_node_id
            answered.add(node)
            if rep.has_error():
                out.append({"site_id": f"node{node}", "status": "failed", "reason": "error"})
                continue
            out.append(_unpack(rep))
        for node in set(nodes) - answered:
            out.append({"site_id": f"node{node}", "status": "failed", "reason": "no answer"})
        return out


def make_server_app(
    *,
    method: str = "exact",
    requester: str = "analyst@alsnet.local",
    features: Sequence[str] = DEFAULT_FEATURES,
    alphas: Sequence[float] = DEFAULT_ALPHAS,
    alpha: float = 1.0,
    rounds: int = 50,
    lr: float = 0.05,
    local_epochs: int = 1,
    batch_size: int = 32,
    min_nodes: int = 1,
    out: str | Path | None = None,
    on_result: Callable[[LinearScore], None] | None = None,
) -> ServerApp:
    """A ServerApp that trains the score and writes/returns it.

    ``method`` is ``exact``, ``fedavg`` or ``both`` (exact, then FedAvg in the same run;
    ``out`` then holds both). ``context.run_config`` keys (from the app's
    ``pyproject.toml`` ``[tool.flwr.app.config]`` or ``flwr run --run-config``) override
    the arguments: ``method``, ``requester``, ``rounds``, ``alpha``, ``lr``,
    ``local-epochs``, ``batch-size``, ``min-nodes`` (wait until this many SuperNodes
    are connected) and ``out`` (JSON file for the score).
    """
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        cfg = dict(context.run_config)
        trainer = FlowerTrainer(
            grid,
            requester=str(cfg.get("requester", requester)),
            features=features,
            min_nodes=int(cfg.get("min-nodes", min_nodes)),
        )
        how = str(cfg.get("method", method))
        if how not in ("exact", "fedavg", "both"):
            raise ValueError(f"method must be 'exact', 'fedavg' or 'both'; got {how!r}")
        scores: dict[str, Any] = {}
        for which in ("exact", "fedavg"):
            if how not in (which, "both"):
                continue
            if which == "exact":
                score = trainer.fit_exact(alphas)
            else:
                score = trainer.fit_fedavg(
                    alpha=float(cfg.get("alpha", alpha)),
                    rounds=int(cfg.get("rounds", rounds)),
                    lr=float(cfg.get("lr", lr)),
                    local_epochs=int(cfg.get("local-epochs", local_epochs)),
                    batch_size=int(cfg.get("batch-size", batch_size)),
                )
            scores[which] = score_to_json(score)
            if on_result is not None:
                on_result(score)
            logger.info("prognostic score trained (%s, %d rounds)", which, score.rounds)
        target = cfg.get("out", out)
        if target:
            doc = scores if how == "both" else scores[how]
            Path(str(target)).write_text(json.dumps(doc, indent=2), encoding="utf-8")

    return app


# ---------------------------------------------------------------- ClientApp


def make_client_app(load_site: Callable[[Context], TrainingSite]) -> ClientApp:
    """A ClientApp whose node's :class:`TrainingSite` comes from ``load_site(context)``."""
    app = ClientApp()

    def answer(msg: Message, context: Context) -> Message:
        body = _unpack(msg)
        site = load_site(context)
        env = site.handle(
            str(body["kind"]),
            dict(body.get("params", {})),
            requester=str(body.get("requester", "")),
            request_id=f"{msg.metadata.run_id}:{msg.metadata.group_id}",
        )
        return Message(_pack(env), reply_to=msg)

    @app.query("moments")
    def moments(msg: Message, context: Context) -> Message:
        return answer(msg, context)

    @app.query("gram")
    def gram(msg: Message, context: Context) -> Message:
        return answer(msg, context)

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        return answer(msg, context)

    return app


_SITES: dict[tuple[str, ...], TrainingSite] = {}


def site_from_node_config(context: Context) -> TrainingSite:
    """The node's site from ``--node-config``: ``data-dir`` (canonical CSV layout) and
    ``policy-file`` (required), ``audit-file`` (default ``federated_audit.jsonl`` beside
    the policy) and ``noise-sd`` (default 0). Cached per process."""
    from alsnet.federated.audit import AUDIT_FILE
    from alsnet.io.canonical import read_csv

    cfg = dict(context.node_config)
    if "data-dir" not in cfg or "policy-file" not in cfg:
        raise ValueError("node-config needs data-dir and policy-file")
    policy_path = Path(str(cfg["policy-file"]))
    audit = Path(str(cfg.get("audit-file", policy_path.parent / AUDIT_FILE)))
    key = (str(cfg["data-dir"]), str(policy_path), str(audit), str(cfg.get("noise-sd", 0)))
    if key not in _SITES:
        x, y = site_training_data(read_csv(str(cfg["data-dir"])), DEFAULT_FEATURES)
        _SITES[key] = TrainingSite(
            x,
            y,
            Policy.from_yaml(policy_path),
            noise_sd=float(cfg.get("noise-sd", 0.0)),
            audit=audit,
        )
    return _SITES[key]


class SimulatedSites:
    """Site loader for the simulation runtime: node ``partition-id`` -> site data.

    Picklable (the Ray backend ships it to its workers); each worker builds a node's
    :class:`TrainingSite` once and keeps it, with its SGD/noise generator.

    Parameters
    ----------
    data : sequence of (X, y, Policy)
        One entry per simulated SuperNode, in partition order.
    noise_sd : float, default 0
        Gaussian noise SD every site adds to what it releases.
    audit_dir : str or Path, optional
        Directory of one ``<site_id>.jsonl`` audit log per site.
    """

    def __init__(
        self,
        data: Sequence[tuple[Any, Any, Policy]],
        *,
        noise_sd: float = 0.0,
        audit_dir: str | Path | None = None,
    ) -> None:
        import secrets

        self.data = [(x, y, p.to_dict()) for x, y, p in data]
        self.noise_sd = float(noise_sd)
        self.audit_dir = None if audit_dir is None else str(audit_dir)
        self.token = secrets.token_hex(8)

    def __call__(self, context: Context) -> TrainingSite:
        pid = int(context.node_config["partition-id"])
        key = (self.token, str(pid))
        if key not in _SITES:
            x, y, pol = self.data[pid]
            policy = Policy.from_mapping(pol)
            audit = Path(self.audit_dir) / f"{policy.site_id}.jsonl" if self.audit_dir else None
            _SITES[key] = TrainingSite(x, y, policy, noise_sd=self.noise_sd, audit=audit, seed=pid)
        return _SITES[key]


#: Deployment components (``[tool.flwr.app.components]`` of the app's pyproject.toml).
server_app = make_server_app()
client_app = make_client_app(site_from_node_config)
