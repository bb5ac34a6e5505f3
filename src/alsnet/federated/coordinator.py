"""In-process coordinator: sends signed requests to sites and combines their answers.

A run either uses every site or fails: when a site refuses, is unavailable or returns a
message that fails its integrity check, :class:`FederationIncompleteError` names the
site and the reason, and no pooled result is returned.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from alsnet.cohort import Cohort
from alsnet.exceptions import ConvergenceError
from alsnet.federated.central import (
    cox_combine,
    km_central,
    lmm_combine,
    lmm_profile,
    summary_central,
)
from alsnet.federated.errors import (
    FederationIncompleteError,
    MessageIntegrityError,
    SiteUnavailableError,
)
from alsnet.federated.messages import Message, Request, verify
from alsnet.federated.policy import Policy
from alsnet.federated.results import CoxResult, KMResult, LMMResult, SummaryResult
from alsnet.federated.site import Site, SiteLike

__all__ = ["Coordinator", "simulate_network"]

logger = logging.getLogger(__name__)


class Coordinator:
    """Run federated analyses over sites.

    Parameters
    ----------
    sites : sequence of SiteLike
        The sites (distinct ``site_id``).
    keys : mapping of str to bytes
        Key shared with each site, by site id.
    requester : str
        Identity sent with every request (checked against the sites' allow-lists).
    """

    def __init__(
        self, sites: Sequence[SiteLike], keys: Mapping[str, bytes], *, requester: str
    ) -> None:
        ids = [s.site_id for s in sites]
        if len(set(ids)) != len(ids):
            raise ValueError("site ids must be distinct")
        missing = [i for i in ids if i not in keys]
        if missing:
            raise ValueError(f"no key for site(s) {missing}")
        if not sites:
            raise ValueError("at least one site is needed")
        self.sites = list(sites)
        self._keys = dict(keys)
        self.requester = requester

    def _round(
        self, analysis: str, params: Mapping[str, Any], request_id: str, step: int
    ) -> dict[str, dict[str, Any]]:
        """Send one request to every site; return verified payloads or raise."""
        payloads: dict[str, dict[str, Any]] = {}
        failures: dict[str, str] = {}
        for site in self.sites:
            key = self._keys[site.site_id]
            req = Request(
                analysis=analysis,
                requester=self.requester,
                params=dict(params),
                n_sites=len(self.sites),
                request_id=request_id,
                step=step,
            ).signed(key)
            try:
                msg = site.handle(req)
                msg = Message.from_json(msg.to_json()) if isinstance(msg, Message) else msg
                verify(key, msg.body(), msg.signature)
                if (msg.site_id, msg.request_id, msg.step) != (site.site_id, request_id, step):
                    raise MessageIntegrityError("message answers a different request")
            except SiteUnavailableError as exc:
                failures[site.site_id] = f"unavailable ({exc})"
                continue
            except MessageIntegrityError as exc:
                failures[site.site_id] = f"message rejected ({exc})"
                continue
            if msg.status != "ok":
                failures[site.site_id] = f"refused: {msg.reason}"
                continue
            payloads[site.site_id] = dict(msg.payload)
        if failures:
            raise FederationIncompleteError(analysis, failures)
        return payloads

    def summary(self, *, by: Sequence[str] = (), numeric: Sequence[str] = ()) -> SummaryResult:
        """Pooled counts / cross-tab (with suppression) and numeric moments."""
        params = {"by": list(by), "numeric": list(numeric)}
        return summary_central(self._round("summary", params, secrets.token_hex(16), 0))

    def km(self, *, grid_days: int = 30) -> KMResult:
        """Pooled Kaplan-Meier from onset (death; censored at last contact)."""
        return km_central(self._round("km", {"grid_days": grid_days}, secrets.token_hex(16), 0))

    def cox(
        self, covariates: Sequence[str], *, max_iter: int = 50, tol: float = 1e-10
    ) -> CoxResult:
        """Site-stratified Cox regression (Efron ties) by federated Newton steps.

        Each step the sites return their stratum's log-likelihood, score and information
        at the current coefficients; the coordinator sums them and steps
        ``beta <- beta + I^-1 U``, halving the step when the log-likelihood falls. It stops
        when the largest step is below ``tol``.

        Raises
        ------
        ConvergenceError
            When ``max_iter`` steps do not converge or the information is singular.
        FederationIncompleteError
            When any site refuses or drops out at any step.
        """
        covs = list(covariates)
        rid = secrets.token_hex(16)
        beta = np.zeros(len(covs))
        step_no = 0

        def evaluate(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, int, int]:
            nonlocal step_no
            pl = self._round("cox", {"covariates": covs, "beta": b.tolist()}, rid, step_no)
            step_no += 1
            return cox_combine(pl)

        ll, u, info, n, ev = evaluate(beta)
        for it in range(1, max_iter + 1):
            try:
                delta = np.linalg.solve(info, u)
            except np.linalg.LinAlgError:
                raise ConvergenceError(
                    "Cox: information matrix is singular. Check: 1) a covariate is constant "
                    "within every site; 2) two covariates are collinear."
                ) from None
            halvings = 0
            while True:
                new = beta + delta
                ll_new, u_new, info_new, n, ev = evaluate(new)
                if ll_new >= ll - 1e-12 * (1 + abs(ll)) or halvings >= 20:
                    break
                delta = delta / 2
                halvings += 1
            beta, ll, u, info = new, ll_new, u_new, info_new
            if np.abs(delta).max() < tol:
                cov = np.linalg.inv(info)
                se = np.sqrt(np.diag(cov))
                return CoxResult(
                    coef=dict(zip(covs, beta.tolist(), strict=True)),
                    se=dict(zip(covs, se.tolist(), strict=True)),
                    loglik=ll,
                    n=n,
                    events=ev,
                    iterations=it,
                    sites=tuple(sorted(s.site_id for s in self.sites)),
                )
        raise ConvergenceError(
            f"Cox: no convergence in {max_iter} Newton steps. Check: 1) separation (a "
            "covariate level with no deaths); 2) covariates on very different scales."
        )

    def lmm(
        self,
        covariates: Sequence[str] = (),
        *,
        reml: bool = True,
        gtol: float = 1e-8,
        max_iter: int = 200,
    ) -> LMMResult:
        """ALSFRS-R linear mixed model (random intercept and slope) fitted exactly.

        Each evaluation sends the relative covariance parameters ``theta`` (lower Cholesky
        factor of ``G / sigma^2``) to every site, sums the returned aggregates and profiles
        beta and sigma^2 (:func:`~alsnet.federated.central.lmm_profile`); scipy's BFGS
        minimises the profiled -2 log (RE)ML over ``theta``, stopping when the gradient
        norm is below ``gtol``. Sites see only ``theta``.

        Raises
        ------
        ConvergenceError
            When the optimiser fails.
        FederationIncompleteError
            When any site refuses or drops out at any step.
        """
        from scipy.optimize import minimize

        covs = list(covariates)
        rid = secrets.token_hex(16)
        step_no = 0
        cache: dict[tuple[float, ...], tuple[dict[str, Any], dict[str, Any]]] = {}

        def evaluate(th: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:
            nonlocal step_no
            key = tuple(float(v) for v in th)
            if key not in cache:
                pl = self._round("lmm", {"covariates": covs, "theta": list(key)}, rid, step_no)
                step_no += 1
                agg = lmm_combine(pl)
                try:
                    cache[key] = (agg, lmm_profile(agg, th, reml=reml))
                except np.linalg.LinAlgError:
                    raise ConvergenceError(
                        "LMM: fixed-effects design is singular. Check: 1) a covariate is "
                        "constant in every site; 2) two covariates are collinear."
                    ) from None
            return cache[key]

        def objective(th: np.ndarray) -> tuple[float, np.ndarray]:
            prof = evaluate(th)[1]
            return float(prof["m2ll"]), prof["grad"]

        theta0 = np.array([1.0, 0.0, 0.1])
        opt = minimize(
            objective,
            theta0,
            jac=True,
            method="BFGS",
            options={"gtol": gtol, "maxiter": max_iter},
        )
        logger.info("lmm: %s, |grad| %.2e", opt.message, np.abs(opt.jac).max())
        if not np.isfinite(opt.fun):
            raise ConvergenceError(
                f"LMM: optimiser did not converge ({opt.message}). Check: 1) enough visits per "
                "patient for a random slope; 2) months and covariates on sensible scales."
            )
        # polish: Newton steps on the analytic gradient (Hessian by central differences);
        # they also finish the job when BFGS stops early on a precision-loss line search
        th = np.asarray(opt.x, dtype=np.float64)
        for _ in range(8 if opt.success else 30):
            g0 = objective(th)[1]
            h = np.empty((3, 3))
            for k in range(3):
                eps = 1e-5 * max(1.0, abs(th[k]))
                up, dn = th.copy(), th.copy()
                up[k] += eps
                dn[k] -= eps
                h[:, k] = (objective(up)[1] - objective(dn)[1]) / (2 * eps)
            h = (h + h.T) / 2
            if not np.all(np.linalg.eigvalsh(h) > 0):
                break
            step = np.linalg.solve(h, g0)
            new = th - step
            if objective(new)[0] > objective(th)[0] + 1e-9:
                break
            th = new
            if np.abs(step).max() < 1e-10 * max(1.0, float(np.abs(th).max())):
                break
        final_grad = float(np.abs(objective(th)[1]).max())
        logger.info("lmm: |grad| after polish %.2e", final_grad)
        if final_grad > 1e-3:
            raise ConvergenceError(
                f"LMM: optimiser did not converge ({opt.message}; |gradient| {final_grad:.1e} "
                "after Newton polishing). Check: 1) enough visits per patient for a random "
                "slope; 2) months and covariates on sensible scales."
            )
        agg, prof = evaluate(th)
        lo = np.array([[th[0], 0.0], [th[1], th[2]]])
        g = prof["sigma2"] * lo @ lo.T
        terms = ["intercept", "months", *covs]
        se = np.sqrt(np.diag(prof["cov_beta"]))
        return LMMResult(
            coef=dict(zip(terms, prof["beta"].tolist(), strict=True)),
            se=dict(zip(terms, se.tolist(), strict=True)),
            re_cov={
                "intercept_var": float(g[0, 0]),
                "slope_var": float(g[1, 1]),
                "cov": float(g[0, 1]),
                "residual_var": float(prof["sigma2"]),
            },
            m2ll=float(prof["m2ll"]),
            method="reml" if reml else "ml",
            n=int(agg["n"]),
            n_obs=int(agg["n_obs"]),
            iterations=int(opt.nit),
            sites=tuple(sorted(s.site_id for s in self.sites)),
        )

    def run(self, analysis: str, **params: Any) -> SummaryResult | KMResult | CoxResult | LMMResult:
        """Run ``analysis`` (``summary``, ``km``, ``cox`` or ``lmm``) with keyword parameters."""
        if analysis == "lmm":
            return self.lmm(**params)
        if analysis == "summary":
            return self.summary(**params)
        if analysis == "km":
            return self.km(**params)
        if analysis == "cox":
            return self.cox(**params)
        raise ValueError(f"unknown analysis {analysis!r}; known: summary, km, cox, lmm")


def simulate_network(
    cohorts: Mapping[str, Cohort],
    *,
    policies: Mapping[str, Policy] | None = None,
    requester: str = "analyst@alsnet.local",
    audit_dir: str | None = None,
) -> Coordinator:
    """Build in-process sites (random keys) and a coordinator over them.

    Parameters
    ----------
    cohorts : mapping of str to Cohort
        Each site's data, by site id (e.g. from :func:`alsnet.federated.data.split_sites`).
    policies : mapping of str to Policy, optional
        Per-site policies; missing sites get :meth:`Policy.default`.
    requester : str
        Identity of the analyst.
    audit_dir : str, optional
        Directory holding one ``<site_id>.jsonl`` audit log per site.
    """
    from pathlib import Path

    pols = dict(policies or {})
    keys = {s: secrets.token_bytes(32) for s in cohorts}
    sites: list[SiteLike] = []
    for s, c in cohorts.items():
        audit = Path(audit_dir) / f"{s}.jsonl" if audit_dir else None
        sites.append(Site(c, pols.get(s, Policy.default(s)), key=keys[s], audit=audit))
    return Coordinator(sites, keys, requester=requester)
