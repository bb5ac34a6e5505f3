"""alsnet's federated analyses packaged as a vantage6 (5.x) algorithm.

The algorithm image runs this module (``PKG_NAME=alsnet.federated.engines.vantage6``).
A researcher starts one of the **central** functions; it creates subtasks that run the
matching **partial** function at every node and combines their answers with the same
coordinator code as the in-process network (:class:`alsnet.federated.Coordinator`), so
the results equal the pooled ones exactly as there.

============================  ==================================================
central function              partial function (at each node)
============================  ==================================================
``central_summary``           ``partial_summary`` (counts, cross-tabs, moments)
``central_km``                ``partial_km`` (Kaplan-Meier counts on a grid)
``central_cox``               ``partial_cox`` (one Newton step's score/information)
``central_lmm``               ``partial_lmm`` (mixed-model aggregates at one theta)
``central_prognostic``        ``partial_prognostic`` (twin prognostic-score training,
                              :mod:`alsnet.federated.learning`)
============================  ==================================================

Node data: three dataframes, the canonical ``patients``, ``visits`` and ``events`` tables
(in that order; e.g. extracted from the site's canonical CSV layout with
:func:`extract_canonical`). Node policy: every partial reads the site's alsnet policy from
the YAML file named by the ``ALSNET_POLICY_FILE`` environment variable (passed to
algorithm containers by the node configuration) and appends to the audit log named by
``ALSNET_AUDIT_FILE`` (default: ``federated_audit.jsonl`` beside the policy). Both may
contain ``{organization_id}`` or ``{node_id}``. A node without a readable policy refuses
every request (fail closed). The answer of a partial is an envelope ``{"site_id",
"status", "reason", "payload"}``; a refusal carries no data.

A central function returns the analysis result (``to_json()`` of
:mod:`alsnet.federated.results`) or, when any node refused or failed, ``{"status":
"incomplete", "failures": {site: reason}}`` and no pooled numbers.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from vantage6.algorithm.decorator import (
    algorithm_client,
    central,
    data_extraction,
    dataframe,
    federated,
)

from alsnet.cohort import Cohort
from alsnet.federated.audit import AUDIT_FILE, AuditLog
from alsnet.federated.coordinator import Coordinator
from alsnet.federated.errors import FederatedError, FederationIncompleteError, PolicyError
from alsnet.federated.messages import Request
from alsnet.federated.policy import Policy
from alsnet.federated.site import Site

__all__ = [
    "ENV_AUDIT",
    "ENV_POLICY",
    "TABLE_NAMES",
    "Vantage6Coordinator",
    "central_cox",
    "central_km",
    "central_lmm",
    "central_prognostic",
    "central_summary",
    "extract_canonical",
    "partial_cox",
    "partial_km",
    "partial_lmm",
    "partial_prognostic",
    "partial_summary",
]

#: Environment variable naming the node's alsnet policy YAML file.
ENV_POLICY = "ALSNET_POLICY_FILE"
#: Environment variable naming the node's audit log (JSON lines).
ENV_AUDIT = "ALSNET_AUDIT_FILE"
#: The canonical tables a node passes to the partial functions, in order.
TABLE_NAMES: tuple[str, ...] = ("patients", "visits", "events")


# ------------------------------------------------------------------ node side


def _expand(template: str) -> str:
    return template.format(
        organization_id=os.environ.get("ORGANIZATION_ID", ""),
        node_id=os.environ.get("NODE_ID", ""),
    )


def node_policy() -> tuple[Policy, AuditLog]:
    """The node's alsnet policy and audit log, from :data:`ENV_POLICY` / :data:`ENV_AUDIT`.

    Raises
    ------
    PolicyError
        When no policy file is configured, or it is missing or invalid.
    """
    from alsnet.exceptions import Problem

    template = os.environ.get(ENV_POLICY, "")
    if not template:
        raise PolicyError(
            [Problem(ENV_POLICY, None, None, None, "no alsnet policy configured on this node")]
        )
    path = Path(_expand(template))
    if not path.is_file():
        raise PolicyError([Problem(path.name, None, None, None, "policy file not found")])
    policy = Policy.from_yaml(path)
    audit_t = os.environ.get(ENV_AUDIT, "")
    audit = Path(_expand(audit_t)) if audit_t else path.parent / AUDIT_FILE
    return policy, AuditLog(audit)


_SITES: dict[str, Site] = {}


def _fingerprint(tables: Sequence[pd.DataFrame]) -> str:
    h = hashlib.sha256()
    for df in tables:
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
        h.update(",".join(map(str, df.columns)).encode())
    return h.hexdigest()


def _site(tables: Sequence[pd.DataFrame], policy: Policy, audit: AuditLog) -> Site:
    """A :class:`Site` over the node's tables (reused within one process, e.g. the mock)."""
    key = f"{_fingerprint(tables)}:{policy.sha256}:{audit.path}"
    if key not in _SITES:
        cohort = Cohort.from_tables(dict(zip(TABLE_NAMES, tables, strict=True)))
        # transport is authenticated by vantage6; the alsnet HMAC uses a node-local key
        _SITES[key] = Site(cohort, policy, key=secrets.token_bytes(32), audit=audit)
    return _SITES[key]


def _answer(
    tables: Sequence[pd.DataFrame],
    analysis: str,
    params: Mapping[str, Any],
    requester: str,
    n_sites: int,
    request_id: str,
    step: int,
) -> dict[str, Any]:
    """Check the node policy, compute, audit; return the envelope for the central side."""
    try:
        policy, audit = node_policy()
    except PolicyError as exc:
        return {"site_id": "", "status": "refused", "reason": str(exc), "payload": {}}
    site = _site(tables, policy, audit)
    req = Request(
        analysis=analysis,
        requester=str(requester),
        params=dict(params),
        n_sites=int(n_sites),
        request_id=str(request_id),
        step=int(step),
    ).signed(site._key)
    msg = site.handle(req)
    return {
        "site_id": msg.site_id,
        "status": msg.status,
        "reason": msg.reason,
        "payload": dict(msg.payload),
    }


@data_extraction
def extract_canonical(connection_details: Mapping[str, Any], table: str) -> pd.DataFrame:
    """Read one canonical table from the node's canonical CSV layout (a directory).

    The node's database ``uri`` is the site directory (``patients.csv``, ``visits.csv``,
    ``events.csv``, ...; see ``docs/canonical-layout.md``).
    """
    from alsnet.io.canonical import read_csv

    if table not in TABLE_NAMES:
        raise ValueError(f"table must be one of {TABLE_NAMES}")
    return read_csv(str(connection_details["uri"])).tables[table]


def _partial(analysis: str) -> Any:
    def fn(
        patients: pd.DataFrame,
        visits: pd.DataFrame,
        events: pd.DataFrame,
        params: dict[str, Any],
        requester: str,
        n_sites: int,
        request_id: str,
        step: int = 0,
    ) -> dict[str, Any]:
        return _answer(
            (patients, visits, events), analysis, params, requester, n_sites, request_id, step
        )

    fn.__name__ = fn.__qualname__ = f"partial_{analysis}"
    fn.__doc__ = (
        f"Node side of ``{analysis}``: the site's disclosure-checked, audited answer.\n\n"
        "Arguments after the three tables come from the central function."
    )
    return federated(dataframe(3)(fn))


partial_summary = _partial("summary")
partial_km = _partial("km")
partial_cox = _partial("cox")
partial_lmm = _partial("lmm")


_TRAINING: dict[str, Any] = {}


@federated
@dataframe(3)
def partial_prognostic(
    patients: pd.DataFrame,
    visits: pd.DataFrame,
    events: pd.DataFrame,
    kind: str,
    params: dict[str, Any],
    requester: str,
    request_id: str = "",
) -> dict[str, Any]:
    """Node side of prognostic-score training (:meth:`TrainingSite.handle`).

    The site's noise SD comes from the ``ALSNET_NOISE_SD`` environment variable (default
    0), never from the request.
    """
    from alsnet.federated.learning import TrainingSite, site_training_data

    try:
        policy, audit = node_policy()
    except PolicyError as exc:
        return {"site_id": "", "status": "refused", "reason": str(exc), "payload": {}}
    tables = (patients, visits, events)
    noise = float(os.environ.get("ALSNET_NOISE_SD", "0") or 0)
    feats = tuple(params.get("features", ()))
    key = f"{_fingerprint(tables)}:{policy.sha256}:{audit.path}:{noise}:{feats}"
    if key not in _TRAINING:
        cohort = Cohort.from_tables(dict(zip(TABLE_NAMES, tables, strict=True)))
        try:
            x, y = site_training_data(cohort, feats) if feats else site_training_data(cohort)
        except ValueError as exc:
            return {
                "site_id": policy.site_id,
                "status": "refused",
                "reason": str(exc),
                "payload": {},
            }
        _TRAINING[key] = TrainingSite(x, y, policy, noise_sd=noise, audit=audit)
    site = _TRAINING[key]
    return dict(site.handle(str(kind), params, requester=str(requester), request_id=request_id))


# --------------------------------------------------------------- central side


class _NodeRef:
    """Placeholder for a node in :class:`Vantage6Coordinator` (only its site id)."""

    def __init__(self, site_id: str) -> None:
        self.site_id = site_id

    def handle(self, request: Request) -> Any:  # pragma: no cover - never called
        raise NotImplementedError


class Vantage6Coordinator(Coordinator):
    """The in-process coordinator's algorithms, with each round sent as a vantage6 task.

    Parameters
    ----------
    client : AlgorithmClient
        The vantage6 algorithm client (or ``MockAlgorithmClient``).
    organizations : sequence of int
        Organisations whose nodes take part.
    requester : str
        Identity checked against every site's ``allowed_requesters``.
    """

    def __init__(self, client: Any, organizations: Sequence[int], *, requester: str) -> None:
        if not organizations:
            raise ValueError("at least one organisation is needed")
        self._client = client
        self._orgs = [int(o) for o in organizations]
        self.sites = [_NodeRef(f"org{o}") for o in self._orgs]
        self._keys = {}
        self.requester = requester

    def _round(
        self, analysis: str, params: Mapping[str, Any], request_id: str, step: int
    ) -> dict[str, dict[str, Any]]:
        task = self._client.task.create(
            method=f"partial_{analysis}",
            organizations=self._orgs,
            arguments={
                "params": dict(params),
                "requester": self.requester,
                "n_sites": len(self._orgs),
                "request_id": request_id,
                "step": step,
            },
            name=f"alsnet {analysis} step {step}",
            description=f"alsnet federated {analysis}",
        )
        answers = self._client.wait_for_results(task_id=task["id"])
        payloads: dict[str, dict[str, Any]] = {}
        failures: dict[str, str] = {}
        for org, ans in zip(self._orgs, answers, strict=False):
            if not isinstance(ans, Mapping) or "status" not in ans:
                failures[f"org{org}"] = "malformed answer"
                continue
            sid = str(ans.get("site_id") or f"org{org}")
            if ans["status"] != "ok":
                failures[sid] = f"refused: {ans.get('reason', '')}"
            elif sid in payloads:
                failures[sid] = "two nodes answered with the same site id"
            else:
                payloads[sid] = dict(ans["payload"])
        if len(answers) < len(self._orgs):
            failures["(missing)"] = f"{len(self._orgs) - len(answers)} node(s) did not answer"
        if failures:
            raise FederationIncompleteError(analysis, failures)
        self.sites = [_NodeRef(s) for s in sorted(payloads)]
        return payloads


class _Vantage6Trainer:
    """Transport of :class:`alsnet.federated.learning.FederatedTrainer` over vantage6."""

    @staticmethod
    def make(client: Any, orgs: Sequence[int], requester: str, features: Sequence[str]) -> Any:
        from alsnet.federated.learning import FederatedTrainer

        class Trainer(FederatedTrainer):
            def _exchange(self, kind: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
                task = client.task.create(
                    method="partial_prognostic",
                    organizations=list(orgs),
                    arguments={
                        "kind": kind,
                        "params": {**dict(params), "features": list(features)},
                        "requester": requester,
                        "request_id": f"r{self.rounds}",
                    },
                    name=f"alsnet prognostic {kind} round {self.rounds}",
                    description="alsnet federated prognostic-score training",
                )
                answers = list(client.wait_for_results(task_id=task["id"]))
                out = [
                    dict(a)
                    if isinstance(a, Mapping) and "status" in a
                    else {"site_id": f"org{o}", "status": "failed", "reason": "malformed"}
                    for o, a in zip(orgs, answers, strict=False)
                ]
                out += [
                    {"site_id": f"org{o}", "status": "failed", "reason": "did not answer"}
                    for o in orgs[len(answers) :]
                ]
                return out

        return Trainer([], requester=requester, features=features)


def _organizations(client: Any, organizations: Sequence[int] | None) -> list[int]:
    if organizations:
        return [int(o) for o in organizations]
    return [int(o["id"]) for o in client.organization.list()]


def _run(
    client: Any,
    analysis: str,
    organizations: Sequence[int] | None,
    requester: str,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    coord = Vantage6Coordinator(client, _organizations(client, organizations), requester=requester)
    try:
        result = coord.run(analysis, **params)
    except FederationIncompleteError as exc:
        return {"status": "incomplete", "analysis": analysis, "failures": exc.failures}
    except FederatedError as exc:
        return {"status": "failed", "analysis": analysis, "reason": str(exc)}
    return {"status": "ok", **result.to_json()}


@central
@algorithm_client
def central_summary(
    client: Any,
    by: Sequence[str] = (),
    numeric: Sequence[str] = (),
    requester: str = "",
    organizations: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Pooled counts / cross-tab (small cells suppressed) and numeric moments."""
    return _run(
        client, "summary", organizations, requester, {"by": list(by), "numeric": list(numeric)}
    )


@central
@algorithm_client
def central_km(
    client: Any,
    grid_days: int = 30,
    requester: str = "",
    organizations: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Pooled Kaplan-Meier from onset (death; censored at last contact) on a time grid."""
    return _run(client, "km", organizations, requester, {"grid_days": int(grid_days)})


@central
@algorithm_client
def central_cox(
    client: Any,
    covariates: Sequence[str],
    requester: str = "",
    organizations: Sequence[int] | None = None,
    tol: float = 1e-10,
) -> dict[str, Any]:
    """Site-stratified Cox regression (Efron ties) by federated Newton steps."""
    return _run(
        client, "cox", organizations, requester, {"covariates": list(covariates), "tol": tol}
    )


@central
@algorithm_client
def central_lmm(
    client: Any,
    covariates: Sequence[str] = (),
    reml: bool = True,
    requester: str = "",
    organizations: Sequence[int] | None = None,
) -> dict[str, Any]:
    """ALSFRS-R linear mixed model (random intercept and slope), fitted exactly."""
    return _run(
        client,
        "lmm",
        organizations,
        requester,
        {"covariates": list(covariates), "reml": bool(reml)},
    )


@central
@algorithm_client
def central_prognostic(
    client: Any,
    method: str = "exact",
    features: Sequence[str] | None = None,
    requester: str = "",
    organizations: Sequence[int] | None = None,
    alpha: float = 1.0,
    rounds: int = 50,
    lr: float = 0.05,
) -> dict[str, Any]:
    """Federated training of the twin's prognostic score (``exact`` ridge or ``fedavg``).

    Returns the trained score (features, pooled preprocessing, coefficients) as JSON.
    """
    from alsnet.federated.learning import DEFAULT_FEATURES

    feats = tuple(features) if features else DEFAULT_FEATURES
    trainer = _Vantage6Trainer.make(client, _organizations(client, organizations), requester, feats)
    try:
        if method == "exact":
            score = trainer.fit_exact()
        elif method == "fedavg":
            score = trainer.fit_fedavg(alpha=float(alpha), rounds=int(rounds), lr=float(lr))
        else:
            return {"status": "failed", "reason": "method must be 'exact' or 'fedavg'"}
    except FederationIncompleteError as exc:
        return {"status": "incomplete", "analysis": "prognostic", "failures": exc.failures}
    return {
        "status": "ok",
        "method": score.method,
        "features": list(score.features),
        "prep": score.prep.to_dict(),
        "coef": score.coef.tolist(),
        "alpha": score.alpha,
        "rounds": score.rounds,
    }
