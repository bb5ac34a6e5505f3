"""Federated training of the digital twin's prognostic score (linear model, pure numpy).

The model is the linear prognostic score of :class:`alsnet.twin.PrognosticScore`
(``model="ridge"``) with mean imputation: missing features are imputed with the pooled
mean, a missing-value indicator is added for every feature missing anywhere, all columns
are standardised with the pooled mean and (population) SD, and a ridge regression with an
unpenalised intercept predicts the ALSFRS-R slope (points/month) from the baseline window
(:func:`alsnet.twin.features.window_features`).

Two training protocols, both engine-agnostic (the Flower app and the in-process
:class:`FederatedTrainer` send the same messages to :meth:`TrainingSite.handle`):

``exact`` (sufficient statistics, two rounds)
    Round 1 (``moments``): every site returns per feature the number of observed values,
    their sum and sum of squares; the coordinator builds the pooled preprocessing.
    Round 2 (``gram``): every site returns ``Z'Z``, ``Z'y``, ``y'y`` and ``n`` of its
    preprocessed design ``Z = [1, standardised features]``. Summed, they give the pooled
    ridge solution exactly (gap to pooled training ~1e-12); the penalty is chosen by
    leave-one-site-out cross-validation computed from the same per-site statistics.
``fedavg`` (federated averaging)
    After the ``moments`` round, each round sends the current weights; every site runs
    ``local_epochs`` epochs of mini-batch SGD on its own ridge objective
    ``(1/2n_k)|y_k - Z_k w|^2 + (alpha/2N)|w_{1:}|^2`` and returns its weights and ``n_k``;
    the coordinator averages them weighted by ``n_k`` (McMahan et al. 2017). The global
    optimum is the pooled ridge fit; the remaining gap (client drift, finite rounds) is
    reported by ``benchmarks/bench_federated_learning.py``.

Disclosure control at every site (before anything is returned): at least
``policy.min_rows`` patients, at most ``policy.max_param_ratio`` parameters per patient
(DataSHIELD's saturation rule), no cell below ``policy.min_cell`` in the cross-tabs that
``Z'Z`` reveals for complete binary features (:func:`check_binary_cells`), the requester
on the site's allow-list, and optional
Gaussian noise of standard deviation ``noise_sd`` (in the units of each released number)
added to every released statistic or weight. ``noise_sd`` is set by the site, not by the
requester; :func:`gaussian_noise_sd` gives the scale of the classical Gaussian mechanism
for an (epsilon, delta) budget when the per-patient L2 sensitivity is known (e.g. after
clipping). Every answer, released or refused, is appended to the site's audit log.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alsnet.cohort import Cohort
from alsnet.federated.audit import AuditLog
from alsnet.federated.disclosure import check_params, check_rows
from alsnet.federated.errors import (
    FederationIncompleteError,
    PrivacyThresholdError,
    RequestRefusedError,
)
from alsnet.federated.messages import sha256_of
from alsnet.federated.policy import Policy

__all__ = [
    "ANALYSIS",
    "DEFAULT_FEATURES",
    "FederatedTrainer",
    "LinearScore",
    "Preprocessor",
    "TrainingSite",
    "check_binary_cells",
    "fedavg_average",
    "gaussian_noise_sd",
    "pooled_fit",
    "preprocessor_from_moments",
    "ridge_from_grams",
    "site_training_data",
    "training_sites",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

#: Analysis name written to the audit log for every training message.
ANALYSIS = "prognostic"

#: Default baseline-window features of the federated score (few enough that sites of
#: ~100 patients pass the saturation rule).
DEFAULT_FEATURES: tuple[str, ...] = (
    "alsfrs_r_total_first",
    "alsfrs_r_total_slope",
    "delta_fs",
    "onset_delta_days",
    "age_at_window",
    "onset_bulbar",
    "sex_male",
    "fvc_pct_first",
    "weight_kg_slope",
    "nfl_serum_pg_ml_first",
)

#: Ridge penalties tried by leave-one-site-out cross-validation.
DEFAULT_ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-1, 4, 21))


def gaussian_noise_sd(sensitivity: float, epsilon: float, delta: float) -> float:
    """Noise SD of the classical Gaussian mechanism, ``Delta sqrt(2 ln(1.25/delta)) / epsilon``.

    Valid for ``0 < epsilon < 1`` (Dwork & Roth 2014, Thm A.1). ``sensitivity`` is the
    largest change of the released vector (L2 norm) caused by one patient, in its units.
    """
    if not (0 < epsilon < 1 and 0 < delta < 1 and sensitivity > 0):
        raise ValueError("need 0 < epsilon < 1, 0 < delta < 1 and sensitivity > 0")
    return float(sensitivity * math.sqrt(2.0 * math.log(1.25 / delta)) / epsilon)


def site_training_data(
    cohort: Cohort, features: Sequence[str] = DEFAULT_FEATURES
) -> tuple[FloatArray, FloatArray]:
    """Baseline-window features ``X`` (NaN = missing) and slope target ``y`` of one site.

    Patients without a target (fewer than two ALSFRS-R visits in months 3-12) are left out.

    Returns
    -------
    X : ndarray, shape (n, len(features))
    y : ndarray, shape (n,)
        ALSFRS-R total slope over months 3-12, points/month.
    """
    from alsnet.twin.features import TARGET, feature_columns, window_features

    unknown = [f for f in features if f not in feature_columns()]
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; see alsnet.twin.features")
    wf = window_features(cohort)
    wf = wf.loc[wf[TARGET].notna()]
    return wf[list(features)].to_numpy(np.float64), wf[TARGET].to_numpy(np.float64)


@dataclass(frozen=True, slots=True)
class Preprocessor:
    """Pooled preprocessing: mean imputation, missing indicators, standardisation.

    Attributes
    ----------
    fill : ndarray, shape (p,)
        Pooled mean of each feature's observed values (imputation value).
    indicators : tuple of int
        Features with a missing-value indicator column (missing at some site).
    mean, scale : ndarray, shape (q,)
        Pooled mean and population SD of the ``q = p + len(indicators)`` columns (scale 1
        for constant columns, as scikit-learn's ``StandardScaler``).
    """

    fill: FloatArray
    indicators: tuple[int, ...]
    mean: FloatArray
    scale: FloatArray

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (sent to the sites)."""
        return {
            "fill": self.fill.tolist(),
            "indicators": list(self.indicators),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Preprocessor:
        """Inverse of :meth:`to_dict`."""
        return cls(
            fill=np.asarray(d["fill"], np.float64),
            indicators=tuple(int(i) for i in d["indicators"]),
            mean=np.asarray(d["mean"], np.float64),
            scale=np.asarray(d["scale"], np.float64),
        )

    def design(self, x: npt.ArrayLike) -> FloatArray:
        """Design matrix ``[1, standardised columns]``, shape (n, 1 + q)."""
        xa = np.asarray(x, np.float64)
        if xa.ndim != 2 or xa.shape[1] != self.fill.size:
            raise ValueError(f"X must have {self.fill.size} feature columns")
        miss = np.isnan(xa)
        cols = np.where(miss, self.fill, xa)
        if self.indicators:
            cols = np.hstack([cols, miss[:, list(self.indicators)].astype(np.float64)])
        z = (cols - self.mean) / self.scale
        return np.hstack([np.ones((xa.shape[0], 1)), z])


@dataclass(frozen=True, slots=True)
class LinearScore:
    """A trained linear prognostic score.

    Attributes
    ----------
    features : tuple of str
        Input feature names (columns of ``X``).
    prep : Preprocessor
        Pooled preprocessing.
    coef : ndarray, shape (1 + q,)
        Intercept and coefficients on the standardised design.
    alpha : float
        Ridge penalty (on the sum of squared errors scale, as scikit-learn's ``Ridge``).
    method : str
        ``"exact"``, ``"fedavg"`` or ``"pooled"``.
    rounds : int
        Communication rounds used.
    cv_mse : dict of float to float
        Leave-one-site-out mean squared error per penalty (exact protocol only).
    """

    features: tuple[str, ...]
    prep: Preprocessor
    coef: FloatArray
    alpha: float
    method: str
    rounds: int
    cv_mse: Mapping[float, float] = field(default_factory=dict)

    def predict(self, x: npt.ArrayLike | pd.DataFrame) -> FloatArray:
        """Predicted ALSFRS-R slope (points/month), shape (n,).

        ``x`` is an array with the columns of :attr:`features`, or a DataFrame (e.g.
        :func:`alsnet.twin.features.window_features` output) holding them by name; the
        predictions are usable as the prognostic covariate of a PROCOVA analysis.
        """
        if isinstance(x, pd.DataFrame):
            x = x[list(self.features)].to_numpy(np.float64)
        return self.prep.design(x) @ self.coef


# ---------------------------------------------------------------- site-side functions


def _moments(x: FloatArray, y: FloatArray) -> dict[str, Any]:
    obs = ~np.isnan(x)
    x0 = np.where(obs, x, 0.0)
    return {
        "n": int(x.shape[0]),
        "count": obs.sum(axis=0).astype(np.float64).tolist(),
        "sum": x0.sum(axis=0).tolist(),
        "sumsq": np.square(x0).sum(axis=0).tolist(),
        "y_sum": float(y.sum()),
        "y_sumsq": float(np.square(y).sum()),
    }


def _gram(z: FloatArray, y: FloatArray) -> dict[str, Any]:
    return {
        "n": int(z.shape[0]),
        "ztz": (z.T @ z).tolist(),
        "zty": (z.T @ y).tolist(),
        "yty": float(y @ y),
    }


def check_binary_cells(x: FloatArray, policy: Policy) -> None:
    """Refuse when a released cross-product of binary features holds a small cell.

    ``Z'Z`` contains, for two features coded 0/1 without missing values, the full 2 x 2
    cross-tab (and for one such feature its count of ones and zeros). Every one of these
    cells must be 0 or at least ``policy.min_cell``. Features with missing values (mean
    imputed, so no longer 0/1) and missing-value indicators are not checked.

    Raises
    ------
    PrivacyThresholdError
        Naming the feature columns (by position) and the rule, not the counts.
    """
    finite = ~np.isnan(x).any(axis=0)
    binary = finite & np.all((x == 0) | (x == 1) | np.isnan(x), axis=0)
    cols = np.flatnonzero(binary)
    if cols.size == 0:
        return
    b = x[:, cols]
    n = b.shape[0]
    both = b.T @ b  # n11 for every pair, ones on the diagonal
    ones = np.diag(both)
    cells = [both, ones[:, None] - both, ones[None, :] - both]
    cells.append(n - ones[:, None] - ones[None, :] + both)
    m = policy.min_cell
    for c in cells:
        bad = (c > 0) & (c < m)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise PrivacyThresholdError(
                f"site {policy.site_id}: the cross-product of binary feature columns "
                f"{int(cols[i])} and {int(cols[j])} has a cell below min_cell {m}; refused"
            )


def _local_sgd(
    z: FloatArray,
    y: FloatArray,
    w0: FloatArray,
    *,
    lam: float,
    epochs: int,
    lr: float,
    batch_size: int,
    rng: np.random.Generator,
) -> FloatArray:
    """Mini-batch SGD on ``(1/2n)|y - Zw|^2 + (lam/2)|w_{1:}|^2`` from ``w0``."""
    w = w0.copy()
    n = z.shape[0]
    pen = np.ones_like(w)
    pen[0] = 0.0
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            zb = z[idx]
            grad = zb.T @ (zb @ w - y[idx]) / idx.size + lam * pen * w
            w -= lr * grad
    return w


def _noisy(obj: Any, sd: float, rng: np.random.Generator) -> Any:
    """Add N(0, sd^2) to every number of a nested payload (symmetric for square matrices)."""
    if sd <= 0:
        return obj
    if isinstance(obj, dict):
        return {k: (v if k == "n" else _noisy(v, sd, rng)) for k, v in obj.items()}
    a = np.asarray(obj, np.float64)
    e = rng.normal(0.0, sd, a.shape)
    if a.ndim == 2 and a.shape[0] == a.shape[1]:
        e = np.triu(e) + np.triu(e, 1).T
    out = a + e
    return float(out) if out.ndim == 0 else out.tolist()


class TrainingSite:
    """One site's side of federated training: data, policy, noise and audit log.

    Parameters
    ----------
    x : array_like, shape (n, p)
        Baseline features (NaN = missing); kept at the site.
    y : array_like, shape (n,)
        Target (ALSFRS-R slope, points/month).
    policy : Policy
        The site's disclosure policy (``min_rows``, ``max_param_ratio``,
        ``allowed_requesters``; ``allowed_analyses`` when it lists ``prognostic``).
    noise_sd : float, default 0
        SD of the Gaussian noise added by the site to every released number.
    audit : AuditLog or str or Path, optional
        Audit log (None = none).
    seed : int, optional
        Seed of the site's SGD shuffling and noise.
    """

    def __init__(
        self,
        x: npt.ArrayLike,
        y: npt.ArrayLike,
        policy: Policy,
        *,
        noise_sd: float = 0.0,
        audit: AuditLog | str | Path | None = None,
        seed: int | None = None,
    ) -> None:
        self._x = np.asarray(x, np.float64)
        self._y = np.asarray(y, np.float64)
        if self._x.ndim != 2 or self._y.shape != (self._x.shape[0],):
            raise ValueError("x must be (n, p) and y (n,)")
        if np.isnan(self._y).any():
            raise ValueError("y must not contain NaN")
        if noise_sd < 0:
            raise ValueError("noise_sd must be >= 0")
        self.policy = policy
        self.noise_sd = float(noise_sd)
        self.audit = AuditLog(audit) if isinstance(audit, str | Path) else audit
        self._rng = np.random.default_rng(seed)

    @property
    def site_id(self) -> str:
        """Site code (from the policy)."""
        return self.policy.site_id

    @property
    def n(self) -> int:
        """Number of training patients."""
        return int(self._y.size)

    def _check(self, requester: str, kind: str, n_params: int) -> None:
        pol = self.policy
        if not pol.allows_requester(requester):
            raise RequestRefusedError(f"requester not allowed by site {pol.site_id}")
        if not pol.allows_analysis(ANALYSIS):
            raise RequestRefusedError(f"analysis {ANALYSIS!r} not allowed by {pol.site_id}")
        check_rows(self.n, pol, f"prognostic score ({kind})")
        if kind != "moments":
            check_params(n_params, self.n, None, pol)

    def _compute(self, kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if kind == "moments":
            p = int(params.get("n_features", self._x.shape[1]))
            if p != self._x.shape[1]:
                raise ValueError(f"site holds {self._x.shape[1]} features, request names {p}")
            return _moments(self._x, self._y)
        prep = Preprocessor.from_dict(params["prep"])
        z = prep.design(self._x)
        if kind == "gram":
            check_binary_cells(self._x, self.policy)
            return _gram(z, self._y)
        if kind == "fedavg":
            w0 = np.asarray(params["weights"], np.float64)
            if w0.shape != (z.shape[1],) or not np.isfinite(w0).all():
                raise ValueError(f"weights must be {z.shape[1]} finite numbers")
            lam = float(params["alpha"]) / float(params["n_total"])
            w = _local_sgd(
                z,
                self._y,
                w0,
                lam=lam,
                epochs=int(params.get("local_epochs", 1)),
                lr=float(params.get("lr", 0.05)),
                batch_size=int(params.get("batch_size", 32)),
                rng=self._rng,
            )
            return {"n": self.n, "weights": w.tolist()}
        raise RequestRefusedError(f"unknown training step {kind!r}")

    def handle(
        self, kind: str, params: Mapping[str, Any], *, requester: str, request_id: str = ""
    ) -> dict[str, Any]:
        """Answer one training message (``moments``, ``gram`` or ``fedavg``).

        Returns
        -------
        dict
            ``site_id``, ``status`` (``ok`` or ``refused``), ``reason`` (no data values)
            and ``payload`` (the disclosure-checked, possibly noised statistics).
        """
        payload: dict[str, Any] = {}
        status, reason = "ok", ""
        try:
            n_params = len(params["prep"]["mean"]) + 1 if "prep" in params else self._x.shape[1] + 1
            self._check(requester, kind, n_params)
            payload = _noisy(self._compute(kind, params), self.noise_sd, self._rng)
        except (RequestRefusedError, PrivacyThresholdError) as exc:
            status, reason = "refused", str(exc)
        except (ValueError, TypeError, KeyError) as exc:
            status, reason = "refused", f"invalid request parameters: {exc}"
        if self.audit is not None:
            self.audit.append(
                site_id=self.site_id,
                requester=requester,
                analysis=ANALYSIS,
                request_id=request_id,
                params={"step": kind, "noise_sd": self.noise_sd},
                jurisdiction=self.policy.jurisdiction,
                policy_sha256=self.policy.sha256,
                decision="released" if status == "ok" else "refused",
                reason=reason,
                output_sha256=sha256_of(payload) if status == "ok" else "",
            )
        logger.info("site %s: prognostic %s %s", self.site_id, kind, status)
        return {"site_id": self.site_id, "status": status, "reason": reason, "payload": payload}


# ------------------------------------------------------------ coordinator functions


def preprocessor_from_moments(payloads: Mapping[str, Mapping[str, Any]]) -> Preprocessor:
    """Pooled preprocessing from the sites' ``moments`` payloads (exact)."""
    sites = sorted(payloads)
    n = float(sum(float(payloads[s]["n"]) for s in sites))
    cnt = np.sum([np.asarray(payloads[s]["count"], np.float64) for s in sites], axis=0)
    s1 = np.sum([np.asarray(payloads[s]["sum"], np.float64) for s in sites], axis=0)
    s2 = np.sum([np.asarray(payloads[s]["sumsq"], np.float64) for s in sites], axis=0)
    # a feature observed nowhere is imputed with 0 (scikit-learn's keep_empty_features)
    seen = cnt >= 0.5
    fill = np.where(seen, s1 / np.where(seen, cnt, 1.0), 0.0)
    cnt = np.where(seen, cnt, 0.0)
    # imputed column: observed values plus (n - cnt) copies of the mean
    var_imp = (s2 + (n - cnt) * fill**2) / n - fill**2
    ind = tuple(int(i) for i in np.flatnonzero(n - cnt >= 0.5))
    frac = (n - cnt[list(ind)]) / n
    mean = np.concatenate([fill, frac])
    var = np.concatenate([var_imp, frac * (1.0 - frac)])
    sd = np.sqrt(np.maximum(var, 0.0))
    scale = np.where(sd < 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0), 1.0, sd)
    return Preprocessor(fill=fill, indicators=ind, mean=mean, scale=scale)


def _solve(ztz: FloatArray, zty: FloatArray, alpha: float) -> FloatArray:
    pen = np.full(ztz.shape[0], alpha)
    pen[0] = 0.0
    return np.asarray(np.linalg.solve(ztz + np.diag(pen), zty), np.float64)


def ridge_from_grams(
    payloads: Mapping[str, Mapping[str, Any]], alphas: Sequence[float] = DEFAULT_ALPHAS
) -> tuple[FloatArray, float, dict[float, float]]:
    """Pooled ridge coefficients from the sites' ``gram`` payloads.

    With several penalties and at least two sites, the penalty minimising the
    leave-one-site-out squared error (site k's error of the fit on the other sites,
    ``y_k'y_k - 2 b'Z_k'y_k + b'Z_k'Z_k b``) is used.

    Returns
    -------
    coef : ndarray, shape (1 + q,)
    alpha : float
    cv_mse : dict of float to float
        Leave-one-site-out mean squared error per penalty (empty with one penalty).
    """
    sites = sorted(payloads)
    ztz = {s: np.asarray(payloads[s]["ztz"], np.float64) for s in sites}
    zty = {s: np.asarray(payloads[s]["zty"], np.float64) for s in sites}
    yty = {s: float(payloads[s]["yty"]) for s in sites}
    a_tot = np.sum(list(ztz.values()), axis=0)
    b_tot = np.sum(list(zty.values()), axis=0)
    cv: dict[float, float] = {}
    if len(alphas) > 1 and len(sites) > 1:
        n_tot = sum(float(payloads[s]["n"]) for s in sites)
        for a in alphas:
            sse = 0.0
            for s in sites:
                b = _solve(a_tot - ztz[s], b_tot - zty[s], float(a))
                sse += yty[s] - 2.0 * float(b @ zty[s]) + float(b @ ztz[s] @ b)
            cv[float(a)] = sse / n_tot
        alpha = min(cv, key=lambda k: cv[k])
    else:
        alpha = float(alphas[0])
    return _solve(a_tot, b_tot, alpha), alpha, cv


def fedavg_average(payloads: Mapping[str, Mapping[str, Any]]) -> FloatArray:
    """Average of the sites' weights, weighted by their numbers of patients."""
    sites = sorted(payloads)
    n = np.array([float(payloads[s]["n"]) for s in sites])
    w = np.array([np.asarray(payloads[s]["weights"], np.float64) for s in sites])
    return np.asarray((n[:, None] * w).sum(axis=0) / n.sum(), np.float64)


class FederatedTrainer:
    """In-process coordinator of federated prognostic-score training.

    Parameters
    ----------
    sites : sequence of TrainingSite
        The sites (distinct ``site_id``). Engines (the Flower ServerApp) subclass the
        trainer and override :meth:`_exchange` instead.
    requester : str
        Identity checked against each site's allow-list.
    features : sequence of str
        Feature names (for the returned :class:`LinearScore`).
    """

    def __init__(
        self,
        sites: Sequence[TrainingSite],
        *,
        requester: str = "analyst@alsnet.local",
        features: Sequence[str] = DEFAULT_FEATURES,
    ) -> None:
        ids = [s.site_id for s in sites]
        if len(set(ids)) != len(ids):
            raise ValueError("site ids must be distinct")
        self.sites = list(sites)
        self.requester = requester
        self.features = tuple(features)
        self.rounds = 0

    def _exchange(self, kind: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Send one message to every site; return their answer envelopes (transport)."""
        rid = f"r{self.rounds}"
        return [
            s.handle(kind, params, requester=self.requester, request_id=rid) for s in self.sites
        ]

    def _round(self, kind: str, params: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """One round: released payloads by site id, or raise naming every failing site."""
        self.rounds += 1
        out: dict[str, dict[str, Any]] = {}
        failures: dict[str, str] = {}
        for ans in self._exchange(kind, params):
            sid = str(ans.get("site_id", "?"))
            if ans.get("status") != "ok":
                failures[sid] = f"refused: {ans.get('reason', '')}"
            elif sid in out:
                failures[sid] = "two sites answered with the same site id"
            else:
                out[sid] = dict(ans["payload"])
        if failures:
            raise FederationIncompleteError(f"{ANALYSIS} ({kind})", failures)
        return out

    def _prep(self) -> tuple[Preprocessor, int]:
        mom = self._round("moments", {"n_features": len(self.features)})
        return preprocessor_from_moments(mom), sum(int(m["n"]) for m in mom.values())

    def fit_exact(self, alphas: Sequence[float] = DEFAULT_ALPHAS) -> LinearScore:
        """Two-round exact ridge fit (see the module docstring)."""
        self.rounds = 0
        prep, _ = self._prep()
        grams = self._round("gram", {"prep": prep.to_dict()})
        coef, alpha, cv = ridge_from_grams(grams, alphas)
        return LinearScore(self.features, prep, coef, alpha, "exact", self.rounds, cv)

    def fit_fedavg(
        self,
        *,
        alpha: float = 1.0,
        rounds: int = 50,
        local_epochs: int = 1,
        lr: float = 0.05,
        batch_size: int = 32,
    ) -> LinearScore:
        """Federated averaging of local mini-batch SGD (see the module docstring)."""
        self.rounds = 0
        prep, n_total = self._prep()
        w = np.zeros(1 + prep.mean.size)
        for _ in range(rounds):
            params = {
                "prep": prep.to_dict(),
                "weights": w.tolist(),
                "alpha": alpha,
                "n_total": n_total,
                "local_epochs": local_epochs,
                "lr": lr,
                "batch_size": batch_size,
            }
            w = fedavg_average(self._round("fedavg", params))
        return LinearScore(self.features, prep, w, float(alpha), "fedavg", self.rounds)


def pooled_fit(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    alpha: float,
    features: Sequence[str] = DEFAULT_FEATURES,
) -> LinearScore:
    """Pooled reference fit (same preprocessing and ridge) on all patients at once."""
    xa, ya = np.asarray(x, np.float64), np.asarray(y, np.float64)
    prep = preprocessor_from_moments({"pooled": _moments(xa, ya)})
    z = prep.design(xa)
    coef = _solve(z.T @ z, z.T @ ya, float(alpha))
    return LinearScore(tuple(features), prep, coef, float(alpha), "pooled", 0)


def training_sites(
    cohorts: Mapping[str, Cohort],
    *,
    policies: Mapping[str, Policy] | None = None,
    features: Sequence[str] = DEFAULT_FEATURES,
    noise_sd: float = 0.0,
    audit_dir: str | Path | None = None,
    seed: int = 0,
) -> list[TrainingSite]:
    """Build one :class:`TrainingSite` per cohort (e.g. from ``split_sites``)."""
    pols = dict(policies or {})
    out = []
    for i, (s, c) in enumerate(sorted(cohorts.items())):
        x, y = site_training_data(c, features)
        audit = Path(audit_dir) / f"{s}.jsonl" if audit_dir else None
        out.append(
            TrainingSite(
                x,
                y,
                pols.get(s, Policy.default(s)),
                noise_sd=noise_sd,
                audit=audit,
                seed=seed + i,
            )
        )
    return out
