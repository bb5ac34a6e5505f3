"""Bootstrap ensemble of :class:`~alsnet.twin.TwinModel`: parameter uncertainty in forecasts.

A single :class:`~alsnet.twin.TwinModel` plugs in point estimates of its population
parameters (fixed effects, random-effect covariance, residual SD, FVC and Weibull
event parts). With thousands of training patients that is harmless; a site fitting
on 100-300 patients gets predictive intervals that are too narrow, because the
estimates themselves are uncertain. :class:`TwinEnsemble` fits ``B`` models, each on
a nonparametric bootstrap sample of the training *patients* (all visits and events
of a drawn patient travel together; a patient drawn twice enters twice under two
new identifiers), and forecasts with the mixture of the members' predictive
distributions, an approximation of the posterior predictive distribution that
integrates over the population parameters (the bootstrap distribution standing in
for their posterior; Efron & Tibshirani 1993, ch. 8 and 13 on bagging/bootstrap
predictive distributions).

The public API is that of :class:`~alsnet.twin.TwinModel` (``fit``, ``predict``,
``predict_mean``, ``survival``, ``sample``, ``save``, ``load``), so callers can use
either.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.cohort import Cohort
from alsnet.exceptions import AlsnetError, ConvergenceError, NotFittedError
from alsnet.schema import TABLES
from alsnet.twin.model import (
    _TOP,
    OUTCOMES,
    QUANTILES,
    TwinModel,
    _digest,
    _level,
    _observations,
    _patient_chunks,
    read_signed,
    write_signed,
)

__all__ = ["ENSEMBLE_VERSION", "TwinEnsemble", "bootstrap_cohort"]

logger = logging.getLogger(__name__)

#: Format version of saved ensembles (bump when the JSON layout changes).
ENSEMBLE_VERSION = "twin-ensemble-1"

_SEP = "~b"


def bootstrap_cohort(cohort: Cohort, patient_ids: ArrayLike, rng: np.random.Generator) -> Cohort:
    """A bootstrap sample of patients, every per-patient table resampled with them.

    Parameters
    ----------
    cohort : Cohort
        Source cohort.
    patient_ids : array-like of str
        Patients to resample from (``n`` of them; ``n`` are drawn with replacement).
    rng : Generator
        Randomness of the draw.

    Returns
    -------
    Cohort
        ``n`` patients. The ``k``-th copy of a patient drawn more than once is
        renamed ``<patient_id>~b<k>`` (``k`` = 0, 1, ...), with all of its rows
        (visits, events, ...) duplicated under the new identifier; non-patient
        tables (sites) are kept as they are.
    """
    pool = np.asarray(patient_ids, dtype=object)
    draw = pool[rng.integers(0, pool.size, size=pool.size)]
    copy = pd.Series(draw).groupby(draw).cumcount().to_numpy()
    new = pd.Series(draw).astype(str) + _SEP + pd.Series(copy).astype(str)
    mapping = pd.DataFrame({"patient_id": draw, "_new_id": new.to_numpy()})
    out: dict[str, pd.DataFrame] = {}
    for name, df in cohort.tables.items():
        if not TABLES[name].per_patient:
            out[name] = df
            continue
        key = df["patient_id"].astype(object)
        m = mapping.merge(
            df.assign(patient_id=key, _row=np.arange(len(df))), on="patient_id", how="inner"
        )
        m = m.sort_values(["_new_id", "_row"], kind="stable")
        res = m.drop(columns=["patient_id", "_row"]).rename(columns={"_new_id": "patient_id"})
        res = res[list(df.columns)].reset_index(drop=True)
        res["patient_id"] = res["patient_id"].astype(df["patient_id"].dtype)
        out[name] = res
    return Cohort(out)


class TwinEnsemble:
    """Bootstrap ensemble of :class:`~alsnet.twin.TwinModel` (mixture forecasts).

    Parameters
    ----------
    n_members : int, default 20
        Bootstrap members ``B`` (each a TwinModel fitted on ``n`` patients drawn with
        replacement from the ``n`` training patients).
    n_draws : int, default 1000
        Predictive draws per patient and time point in :meth:`predict`, split
        evenly over the members (``ceil(n_draws / B)`` each).
    model_params : mapping, optional
        Keyword arguments of every member's :class:`~alsnet.twin.TwinModel`
        (``random_state`` and ``n_draws`` are set by the ensemble).
    random_state : int, default 0
        Seed of the bootstrap draws and of the members' Monte-Carlo EM
        (independent streams from :class:`numpy.random.SeedSequence`).

    Attributes
    ----------
    members_ : list of TwinModel
        The fitted members.
    n_patients_, n_obs_ : int
        Training patients with an ALSFRS-R total and their ALSFRS-R observations
        (before resampling).
    fingerprint_ : str
        :attr:`Cohort.fingerprint` of the training cohort.

    Notes
    -----
    The predictive distribution of an observed value is the equal-weight mixture of
    the members' predictive distributions: :meth:`predict` pools
    ``ceil(n_draws / B)`` draws of every member before taking quantiles, its
    ``mean`` and :meth:`predict_mean` / :meth:`survival` average the members. The
    parameter uncertainty this adds shrinks like ``1/n``; with thousands of
    training patients the ensemble and a single model agree.
    """

    members_: list[TwinModel]

    def __init__(
        self,
        *,
        n_members: int = 20,
        n_draws: int = 1000,
        model_params: Mapping[str, Any] | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_members = n_members
        self.n_draws = n_draws
        self.model_params = model_params
        self.random_state = random_state

    def __repr__(self) -> str:
        fitted = f", n_patients={self.n_patients_}" if hasattr(self, "members_") else ""
        return f"TwinEnsemble(n_members={self.n_members}{fitted})"

    # ------------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        if not isinstance(self.n_members, int | np.integer) or self.n_members < 1:
            raise ValueError(f"n_members must be an integer >= 1, got {self.n_members!r}")
        if not isinstance(self.n_draws, int | np.integer) or self.n_draws < self.n_members:
            raise ValueError(
                f"n_draws must be an integer >= n_members ({self.n_members}), got {self.n_draws!r}"
            )
        bad = {"random_state", "n_draws"} & set(self.model_params or {})
        if bad:
            raise ValueError(f"model_params must not set {sorted(bad)}: the ensemble sets them")

    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise NotFittedError("this TwinEnsemble is not fitted yet; call fit(cohort) first")

    def _per_member(self) -> int:
        return -(-self.n_draws // self.n_members)

    # --------------------------------------------------------------------- fit
    def fit(self, cohort: Cohort) -> TwinEnsemble:
        """Fit ``n_members`` TwinModels on bootstrap samples of the training patients.

        Parameters
        ----------
        cohort : Cohort
            Canonical cohort; patients without an ALSFRS-R total are left out
            before resampling (as :meth:`TwinModel.fit` would).

        Returns
        -------
        TwinEnsemble
            ``self``.

        Raises
        ------
        ValueError
            Invalid hyperparameters; no patient with an ALSFRS-R total.
        """
        self._check_params()
        obs = _observations(cohort)
        pid = cohort.patients["patient_id"].drop_duplicates()
        ids = pid[pid.isin(obs["patient_id"])].to_numpy()
        if ids.size == 0:
            raise ValueError("TwinEnsemble.fit: no patient has an ALSFRS-R total")
        seeds = np.random.SeedSequence(self.random_state).spawn(self.n_members)
        params = dict(self.model_params or {})
        members = []
        train = cohort.subset(pd.Index(ids))
        for b, ss in enumerate(seeds):
            rng = np.random.default_rng(ss)
            boot = bootstrap_cohort(train, ids, rng)
            seed = int(rng.integers(2**31 - 1))
            model = TwinModel(**params, random_state=seed, n_draws=self._per_member())
            # the Weibull optimiser may overflow while exploring on a small resample;
            # the fitted parameters are checked below instead
            with np.errstate(over="ignore", invalid="ignore"):
                model.fit(boot)
            _check_member(model, b)
            members.append(model)
            logger.debug("TwinEnsemble: member %d/%d fitted", b + 1, self.n_members)
        self.members_ = members
        self.n_patients_ = int(ids.size)
        self.n_obs_ = int(obs["patient_id"].isin(ids).sum())
        self.fingerprint_ = cohort.fingerprint
        return self

    @property
    def fvc_(self) -> Any:
        """FVC part of the first member (None when fitted without FVC)."""
        self._check_fitted()
        return self.members_[0].fvc_

    @property
    def events_(self) -> Any:
        """Event part of the first member (None when fitted without events)."""
        self._check_fitted()
        return self.members_[0].events_

    # ----------------------------------------------------------------- predict
    def predict(
        self,
        data: Cohort | pd.DataFrame,
        days: ArrayLike | pd.DataFrame,
        *,
        outcomes: Sequence[str] = OUTCOMES,
        seed: int | np.random.Generator | None = 0,
        chunk_size: int = 2_000,
    ) -> pd.DataFrame:
        """Mixture predictive distribution of each outcome at given days.

        Parameters and the returned frame are those of :meth:`TwinModel.predict`.
        Quantiles are taken over the pooled draws of all members
        (``ceil(n_draws / B)`` each, so every member has equal weight); ``mean``
        is the pooled mean; ``event_free`` is the average of the members'
        probabilities.
        """
        self._check_fitted()
        first = self.members_[0]
        todo = first._outcomes(outcomes)
        rng = np.random.default_rng(seed)
        preps = [m._prepare(data, days) for m in self.members_]
        grid, pos, cond0 = preps[0]
        month = grid["day"].to_numpy(dtype="float64") / DAYS_PER_MONTH
        n_rows = len(grid)
        nb = self._per_member()
        res = {o: (np.empty(n_rows), np.empty((len(QUANTILES), n_rows))) for o in todo}
        for lo, hi, rows in _patient_chunks(pos, len(cond0.ids), chunk_size):
            r = pos[rows] - lo
            pooled: dict[str, list[np.ndarray]] = {o: [] for o in todo}
            for m, (_, _, cond) in zip(self.members_, preps, strict=True):
                for o, f in _member_draws(m, cond, lo, hi, r, month[rows], todo, nb, rng).items():
                    pooled[o].append(f)
            for o in todo:
                if o == "event_free":
                    p = np.mean(np.column_stack(pooled[o]), axis=1)
                    res[o][0][rows] = p
                    res[o][1][:, rows] = p
                    continue
                f = np.concatenate(pooled[o], axis=1)
                res[o][0][rows] = f.mean(axis=1)
                res[o][1][:, rows] = np.quantile(f, QUANTILES, axis=1)
        return first._frame(grid, pos, cond0, todo, res)

    def predict_mean(
        self,
        data: Cohort | pd.DataFrame,
        days: ArrayLike | pd.DataFrame,
        outcome: str = "alsfrs_r_total",
        *,
        chunk_size: int = 20_000,
    ) -> np.ndarray:
        """Mixture predictive mean: the average of the members' :meth:`TwinModel.predict_mean`.

        Parameters and return value as in :meth:`TwinModel.predict_mean`.
        """
        self._check_fitted()
        out = self.members_[0].predict_mean(data, days, outcome, chunk_size=chunk_size)
        for m in self.members_[1:]:
            out += m.predict_mean(data, days, outcome, chunk_size=chunk_size)
        return np.asarray(out / len(self.members_))

    def survival(self, data: Cohort | pd.DataFrame, months: ArrayLike) -> pd.DataFrame:
        """Event-free probability at given months since onset, averaged over the members.

        Parameters and return value as in :meth:`TwinModel.survival`.
        """
        self._check_fitted()
        out = self.members_[0].survival(data, months)
        s = out["survival"].to_numpy(dtype="float64").copy()
        for m in self.members_[1:]:
            s += m.survival(data, months)["survival"].to_numpy(dtype="float64")
        out["survival"] = np.clip(s / len(self.members_), 0.0, 1.0)
        return out

    def sample(
        self,
        data: Cohort | pd.DataFrame,
        days: ArrayLike,
        n: int,
        seed: int | np.random.Generator | None = 0,
        *,
        noise: bool = True,
        chunk_size: int = 1_000,
    ) -> dict[str, np.ndarray]:
        """Draw joint trajectories from the mixture.

        Each of the ``n`` trajectory slots draws one member uniformly at random,
        *shared by all patients* in that slot: slot ``j`` of every patient comes
        from the same population parameters, so the draws carry the correlation
        between patients that parameter uncertainty induces (a simulated trial
        arm built from slot ``j`` is one draw of the whole arm). Each patient's
        own draws follow the mixture.

        Parameters and return value as in :meth:`TwinModel.sample`.
        """
        self._check_fitted()
        rng = np.random.default_rng(seed)
        pick = rng.integers(0, len(self.members_), size=n)
        out: dict[str, np.ndarray] = {}
        for b, m in enumerate(self.members_):
            slots = np.flatnonzero(pick == b)
            if slots.size == 0:
                continue
            draws = m.sample(data, days, int(slots.size), rng, noise=noise, chunk_size=chunk_size)
            for key, val in draws.items():
                if key not in out:
                    out[key] = np.empty((val.shape[0], n, *val.shape[2:]))
                out[key][:, slots] = val
        return out

    # ------------------------------------------------------------- persistence
    def _payload(self) -> dict[str, Any]:
        import alsnet

        members = []
        for m in self.members_:
            p = m._payload()
            members.append({"model": p, "sha256": _digest(p)})
        return {
            "ensemble_version": ENSEMBLE_VERSION,
            "hyperparameters": {
                "n_members": self.n_members,
                "n_draws": self.n_draws,
                "model_params": dict(self.model_params) if self.model_params else None,
                "random_state": self.random_state,
            },
            "n_patients": self.n_patients_,
            "n_obs": self.n_obs_,
            "training_fingerprint": self.fingerprint_,
            "alsnet_version": alsnet.__version__,
            "members": members,
        }

    def save(self, path: str | Path) -> Path:
        """Write the ensemble as JSON with a SHA-256 checksum of its content.

        Every member is stored as a complete :class:`TwinModel` document (with its
        own checksum); the outer checksum covers all of them.

        Parameters
        ----------
        path : str or Path
            Output file.

        Returns
        -------
        Path
            The written file.
        """
        self._check_fitted()
        return write_signed(path, "ensemble", self._payload())

    @staticmethod
    def is_ensemble_file(path: str | Path) -> bool:
        """True when ``path`` holds a saved :class:`TwinEnsemble` (not a TwinModel)."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(doc, dict) and "ensemble" in doc

    @classmethod
    def load(cls, path: str | Path) -> TwinEnsemble:
        """Read an ensemble written by :meth:`save`, verifying version and checksums.

        Raises
        ------
        AlsnetError
            Unreadable file, unknown version, or a checksum mismatch (the file, or
            one member in it, was changed after saving).
        """
        payload = read_signed(path, "ensemble", "TwinEnsemble", "ensemble")
        if payload.get("ensemble_version") != ENSEMBLE_VERSION:
            raise AlsnetError(
                f"{path}: ensemble version {payload.get('ensemble_version')!r}, "
                f"this alsnet reads {ENSEMBLE_VERSION!r}"
            )
        ens = cls(**payload["hyperparameters"])
        members = []
        for j, member in enumerate(payload["members"]):
            if _digest(member["model"]) != member["sha256"]:
                raise AlsnetError(f"{path}: member {j}: checksum mismatch; the member was modified")
            try:
                members.append(TwinModel._from_payload(member["model"], path))
            except AlsnetError as exc:
                raise AlsnetError(f"{path}: member {j}: {exc}") from exc
        ens.members_ = members
        ens.n_patients_ = int(payload["n_patients"])
        ens.n_obs_ = int(payload["n_obs"])
        ens.fingerprint_ = payload["training_fingerprint"]
        return ens


def _check_member(model: TwinModel, b: int) -> None:
    """Refuse a member whose fitted parameters are not finite."""
    parts = [model.coef_, model.cov_, np.asarray(model.sigma_)]
    if model.fvc_ is not None:
        parts += [model.fvc_.coef, model.fvc_.cov, np.asarray(model.fvc_.sigma)]
    if model.events_ is not None:
        ev = model.events_
        parts += [np.asarray(ev.shape), ev.beta, ev.gamma]
    if not all(np.isfinite(p).all() for p in parts):
        raise ConvergenceError(
            f"TwinEnsemble.fit: bootstrap member {b} has non-finite parameters. Check: "
            "1) enough patients with ALSFRS-R visits and events; 2) covariates not "
            "constant in the cohort; 3) a different random_state."
        )


def _member_draws(
    model: TwinModel,
    cond: Any,
    lo: int,
    hi: int,
    r: np.ndarray,
    month: np.ndarray,
    todo: list[str],
    n: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """One member's predictive draws (rows, n) per outcome for patients lo..hi-1.

    ``r`` are the chunk-local patient rows of the grid rows, ``month`` their months
    since onset. ``event_free`` holds the probability (rows,) instead of draws.
    The order of random calls follows :meth:`TwinModel.predict`, so a one-member
    ensemble reproduces its member's predictions exactly.
    """
    a, b, st = model._posterior_draws(cond, lo, hi, n, rng)
    level = _level(month[:, None], a, b, r)
    out: dict[str, np.ndarray] = {}
    for o in todo:
        if o == "alsfrs_r_total":
            f = _TOP * level
            out[o] = np.clip(f + model.sigma_ * rng.standard_normal(f.shape), 0.0, _TOP)
        elif o == "fvc_pct":
            assert model.fvc_ is not None
            af, bf = model._fvc_draws(cond, lo, hi, a, b, rng, st)
            f = af[r] - bf[r] * (1.0 - level)
            out[o] = np.maximum(f + model.fvc_.sigma * rng.standard_normal(f.shape), 0.0)
        else:
            assert cond.eta0 is not None and model.events_ is not None
            g = model.events_.gamma
            eta = cond.eta0[lo + r, None] + g[0] * a[r] + g[1] * b[r]
            out[o] = model._event_free(cond, lo, r, month, eta).mean(axis=1)
    return out
