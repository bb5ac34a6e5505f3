"""Held-out evaluation of digital twins and baselines (issue 4, item 3).

Protocol (:func:`evaluate`):

1. **Split** the patients (:func:`split_patients`): a seeded random patient
   split, or leave-one-site-out (every site is the test set once).
2. **Fit** every forecaster on the training patients only.
3. **Condition** each test patient on what was known ``cutoff_days`` (default
   91, the DREAM-like window) after their first ALSFRS-R visit ``t0``: visits,
   events and dated measurements after that moment are removed
   (:func:`conditioning_cohort`).
4. **Score** continuous outcomes (ALSFRS-R total; FVC % predicted when present)
   at ``horizons_months`` after ``t0`` (default 6 and 12): the target is the
   patient's observed visit nearest to ``t0 + horizon`` within
   ``± window_days`` and after the cutoff (:func:`forecast_targets`). Metrics:
   RMSE, MAE and bias of the predictive mean, 80% and 95% central-interval
   coverage, and the quantile calibration ``P(y ≤ q_p)`` for every predicted
   quantile level ``p`` (:func:`score_forecasts`).
5. **Events** (death, tracheostomy, permanent ventilation): among test patients
   still event-free and in follow-up at the landmark ``t0 + cutoff``, the
   conditional survival ``S(L + u) / S(L)`` of each survival model is scored by
   Harrell's C-index (lifelines ``concordance_index`` of the 12-month
   conditional survival) and the IPCW integrated Brier score over
   ``u ∈ [1, ibs_months]`` months (:func:`brier_scores`, censoring
   distribution = Kaplan-Meier of the test patients' censoring times).

:func:`misspecified_cohort` builds a cohort whose ALSFRS-R totals follow a
*linear* decline with heavy-tailed (Student t, 3 df) noise instead of the D50
sigmoid with Gaussian noise that the twin assumes (the honesty rule of issue 4).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from alsnet.clinical.progression import DAYS_PER_MONTH
from alsnet.cohort import Cohort
from alsnet.exceptions import AlsnetError
from alsnet.schema import TABLES
from alsnet.twin.baselines import (
    OUTCOMES,
    QCOLS,
    QUANTILES,
    EncalsSurvival,
    ForestBaseline,
    LastSlope,
    MixedModel,
    event_times,
    first_alsfrs_day,
    observations,
)

__all__ = [
    "DEFAULT_FORECASTERS",
    "DEFAULT_SURVIVAL",
    "Split",
    "TwinEvaluation",
    "brier_scores",
    "censoring_survival",
    "conditioning_cohort",
    "evaluate",
    "forecast_targets",
    "integrated_brier_score",
    "misspecified_cohort",
    "score_forecasts",
    "split_patients",
    "survival_matrix",
]

logger = logging.getLogger(__name__)


class Forecaster(Protocol):
    """What :func:`evaluate` needs of a forecaster (TwinModel and the baselines)."""

    def fit(self, cohort: Cohort) -> Any: ...

    def predict(self, data: Cohort, days: pd.DataFrame) -> pd.DataFrame: ...


def _twin() -> Forecaster:
    from alsnet.twin.model import TwinModel

    return TwinModel()


#: Forecaster factories of the default evaluation, by report name.
DEFAULT_FORECASTERS: Mapping[str, Callable[[], Forecaster]] = {
    "twin": _twin,
    "last-slope": LastSlope,
    "lmm": MixedModel,
    "rf": ForestBaseline,
}
#: Survival-model factories of the default evaluation (the twin's own survival is
#: added when its class has a ``survival`` method).
DEFAULT_SURVIVAL: Mapping[str, Callable[[], Any]] = {"encals": EncalsSurvival}


# ------------------------------------------------------------------------ splits
@dataclass(frozen=True)
class Split:
    """One train/test partition of the patients."""

    label: str
    train: pd.Index
    test: pd.Index


def split_patients(
    cohort: Cohort,
    how: Literal["patient", "site"] = "patient",
    *,
    test_size: float = 1 / 3,
    seed: int = 0,
) -> list[Split]:
    """Partition the patients into training and test sets.

    Parameters
    ----------
    cohort : Cohort
    how : {"patient", "site"}, default "patient"
        ``"patient"``: one seeded random split (a patient is in exactly one set);
        ``"site"``: leave-one-site-out, one split per site.
    test_size : float, default 1/3
        Share of patients in the test set (``"patient"`` only).
    seed : int, default 0

    Returns
    -------
    list of Split
    """
    pats = cohort.patients.drop_duplicates("patient_id")
    ids = pd.Index(pats["patient_id"].to_numpy(), name="patient_id")
    if how == "patient":
        if not 0 < test_size < 1:
            raise ValueError(f"test_size must lie in (0, 1), got {test_size}")
        n_test = round(test_size * len(ids))
        if n_test < 1 or n_test >= len(ids):
            raise AlsnetError(f"cannot split {len(ids)} patient(s) into train and test sets")
        perm = np.random.default_rng(seed).permutation(len(ids))
        test = np.zeros(len(ids), dtype=bool)
        test[perm[:n_test]] = True
        return [Split("patient split", ids[~test], ids[test])]
    if how == "site":
        site = pats["site_id"].astype("string").fillna("(no site)").to_numpy()
        sites = sorted(set(site))
        if len(sites) < 2:
            raise AlsnetError("leave-one-site-out needs at least two sites")
        return [Split(f"site {s}", ids[site != s], ids[site == s]) for s in sites]
    raise ValueError(f"how must be 'patient' or 'site', not {how!r}")


# ---------------------------------------------------------------- conditioning
def conditioning_cohort(cohort: Cohort, cutoff_days: float) -> Cohort:
    """What was known ``cutoff_days`` after each patient's first ALSFRS-R visit.

    Rows of every per-patient table with a ``day`` column after ``t0 +
    cutoff_days`` are removed (visits, events, biomarkers, ...); patients
    without an ALSFRS-R visit keep nothing dated.
    """
    t0 = first_alsfrs_day(cohort)
    tabs: dict[str, pd.DataFrame] = {}
    for name, df in cohort.tables.items():
        if TABLES[name].per_patient and "day" in df.columns and len(df):
            cut = df["patient_id"].map(t0).to_numpy(dtype="float64", na_value=np.nan)
            day = df["day"].to_numpy(dtype="float64", na_value=np.nan)
            keep = day <= cut + cutoff_days
            if name != "visits":
                keep |= np.isnan(day)
            tabs[name] = df.loc[keep].reset_index(drop=True)
        else:
            tabs[name] = df
    return Cohort(tabs)


def forecast_targets(
    cohort: Cohort,
    *,
    outcomes: Sequence[str] = OUTCOMES,
    horizons_months: Sequence[float] = (6.0, 12.0),
    window_days: float = 45.0,
    cutoff_days: float = 91.0,
) -> pd.DataFrame:
    """Observed values to forecast: the visit nearest each horizon after ``t0``.

    Returns
    -------
    DataFrame
        patient_id, outcome, horizon (months after t0), day (days since onset
        of the target visit) and y; at most one row per patient, outcome and
        horizon (ties: the earlier visit). Only visits after the cutoff count.
    """
    t0 = first_alsfrs_day(cohort)
    parts = []
    for outcome in outcomes:
        obs = observations(cohort, outcome)
        rel = obs["day"].to_numpy() - obs["patient_id"].map(t0).to_numpy(dtype="float64")
        for h in horizons_months:
            gap = np.abs(rel - h * DAYS_PER_MONTH)
            sel = (gap <= window_days) & (rel > cutoff_days)
            t = obs.loc[sel].assign(gap=gap[sel])
            t = t.sort_values(["patient_id", "gap", "day"], kind="stable")
            t = t.drop_duplicates("patient_id")
            parts.append(
                pd.DataFrame(
                    {
                        "patient_id": t["patient_id"].to_numpy(),
                        "outcome": outcome,
                        "horizon": float(h),
                        "day": t["day"].to_numpy(),
                        "y": t["y"].to_numpy(),
                    }
                )
            )
    cols = ["patient_id", "outcome", "horizon", "day", "y"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


# ---------------------------------------------------------------------- scoring
def score_forecasts(forecasts: pd.DataFrame) -> pd.DataFrame:
    """Accuracy and calibration of forecasts against observed values.

    Parameters
    ----------
    forecasts : DataFrame
        model, outcome, horizon, y, mean and the quantile columns
        q025, q10, q50, q90, q975.

    Returns
    -------
    DataFrame
        Tidy: model, outcome, horizon, metric, value. Metrics: ``n``, ``rmse``,
        ``mae``, ``bias`` (mean of y − mean; outcome units), ``cov80``
        (q10 ≤ y ≤ q90), ``cov95`` (q025 ≤ y ≤ q975) and ``below_q025`` ..
        ``below_q975`` (share of y ≤ the quantile; nominal = the level).
    """
    rows: list[dict[str, Any]] = []
    for (model, outcome, horizon), g in forecasts.groupby(
        ["model", "outcome", "horizon"], sort=False
    ):
        y = g["y"].to_numpy(dtype="float64")
        err = y - g["mean"].to_numpy(dtype="float64")
        q = {c: g[c].to_numpy(dtype="float64") for c in QCOLS}
        vals = {
            "n": float(len(y)),
            "rmse": float(np.sqrt(np.mean(err**2))),
            "mae": float(np.mean(np.abs(err))),
            "bias": float(np.mean(err)),
            "cov80": float(np.mean((y >= q["q10"]) & (y <= q["q90"]))),
            "cov95": float(np.mean((y >= q["q025"]) & (y <= q["q975"]))),
        }
        for c in QCOLS:
            vals[f"below_{c}"] = float(np.mean(y <= q[c]))
        for k, v in vals.items():
            rows.append(
                {"model": model, "outcome": outcome, "horizon": horizon, "metric": k, "value": v}
            )
    return pd.DataFrame(rows, columns=["model", "outcome", "horizon", "metric", "value"])


def calibration_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Nominal vs observed coverage from :func:`score_forecasts` output.

    Returns
    -------
    DataFrame
        model, outcome, horizon, kind (``"quantile"``: P(y ≤ q_p) against p;
        ``"interval"``: central-interval coverage against 0.8 / 0.95), nominal,
        observed.
    """
    nominal = {f"below_{c}": p for c, p in zip(QCOLS, QUANTILES, strict=True)}
    nominal.update({"cov80": 0.8, "cov95": 0.95})
    sel = metrics.loc[metrics["metric"].isin(list(nominal))].copy()
    sel["nominal"] = sel["metric"].map(nominal)
    sel["kind"] = np.where(sel["metric"].str.startswith("cov"), "interval", "quantile")
    sel = sel.rename(columns={"value": "observed"})
    cols = ["model", "outcome", "horizon", "kind", "nominal", "observed"]
    return sel[cols].sort_values(cols[:5]).reset_index(drop=True)


# --------------------------------------------------------------------- survival
def censoring_survival(durations: np.ndarray, events: np.ndarray) -> Callable[..., np.ndarray]:
    """Kaplan-Meier estimate G of the censoring distribution (censoring = event).

    Returns
    -------
    callable
        ``G(t, left=False)``: P(C > t); with ``left=True`` the left limit
        P(C ≥ t) = G(t−).
    """
    d = np.asarray(durations, dtype="float64")
    cens = ~np.asarray(events, dtype=bool)
    times = np.unique(d[cens])
    at_risk = d.size - np.searchsorted(np.sort(d), times, side="left")
    n_cens = np.bincount(np.searchsorted(times, d[cens]), minlength=times.size)
    surv = np.cumprod(1.0 - n_cens / at_risk)

    def g(t: np.ndarray, left: bool = False) -> np.ndarray:
        idx = np.searchsorted(
            times, np.asarray(t, dtype="float64"), side="left" if left else "right"
        )
        if times.size == 0:  # no censoring
            return np.ones(idx.shape)
        return np.asarray(np.where(idx == 0, 1.0, surv[np.maximum(idx - 1, 0)]))

    return g


def brier_scores(
    surv: np.ndarray, durations: np.ndarray, events: np.ndarray, times: np.ndarray
) -> np.ndarray:
    """IPCW Brier score (Graf et al. 1999) at each time.

    ``BS(t) = mean_i [ S_i(t)² 1{T_i ≤ t, δ_i} / G(T_i−) + (1 − S_i(t))² 1{T_i > t} / G(t) ]``

    Parameters
    ----------
    surv : ndarray, shape (n, m)
        Predicted survival of patient i at ``times[j]``.
    durations, events : ndarray, shape (n,)
        Observed times (same unit as ``times``) and event indicators.
    times : ndarray, shape (m,)

    Returns
    -------
    ndarray, shape (m,)
    """
    t = np.asarray(durations, dtype="float64")[:, None]
    e = np.asarray(events, dtype=bool)[:, None]
    grid = np.asarray(times, dtype="float64")[None, :]
    g = censoring_survival(durations, events)
    g_ti = np.maximum(g(t[:, 0], left=True), 1e-12)[:, None]
    g_t = np.maximum(g(grid[0]), 1e-12)[None, :]
    s = np.asarray(surv, dtype="float64")
    died = (t <= grid) & e
    alive = t > grid
    return np.asarray(np.mean(s**2 * died / g_ti + (1.0 - s) ** 2 * alive / g_t, axis=0))


def integrated_brier_score(
    surv: np.ndarray, durations: np.ndarray, events: np.ndarray, times: np.ndarray
) -> float:
    """Trapezoid integral of :func:`brier_scores` over ``times`` divided by its span."""
    bs = brier_scores(surv, durations, events, times)
    t = np.asarray(times, dtype="float64")
    return float(np.sum((bs[1:] + bs[:-1]) * np.diff(t)) / 2.0 / (t[-1] - t[0]))


def survival_matrix(model: Any, cohort: Cohort, months: np.ndarray) -> pd.DataFrame:
    """Event-free survival of every patient at ``months`` since onset from ``model``.

    Accepts a ``survival(cohort, months)`` method returning a (patients × months)
    DataFrame indexed by patient_id, a tidy frame with patient_id / month(s) /
    survival columns, or an array in patient order.
    """
    res = model.survival(cohort, months)
    ids = pd.Index(cohort.patients["patient_id"].drop_duplicates().to_numpy(), name="patient_id")
    if isinstance(res, pd.DataFrame):
        if "patient_id" in res.columns:
            mcol = next((c for c in ("month", "months") if c in res.columns), None)
            vcol = next(
                (c for c in ("survival", "event_free", "s", "mean") if c in res.columns), None
            )
            if mcol is None or vcol is None:
                raise AlsnetError(f"unrecognised survival frame columns {list(res.columns)}")
            res = res.pivot_table(index="patient_id", columns=mcol, values=vcol)
        return res.reindex(ids).set_axis(np.asarray(months, dtype="float64"), axis=1)
    arr = np.asarray(res, dtype="float64").reshape(len(ids), len(months))
    return pd.DataFrame(arr, index=ids, columns=np.asarray(months, dtype="float64"))


def _event_free(model: Any, cond: Cohort, ids: pd.Index, months: np.ndarray) -> np.ndarray | None:
    """Event-free probability of patient ``ids[i]`` at ``months[i, j]`` since onset.

    A forecaster with ``predict_mean(cohort, grid, "event_free")`` or whose
    ``predict`` returns an ``event_free`` outcome is asked at exactly these
    patient-specific days; otherwise ``survival(cohort, months)`` is
    evaluated on a shared 0.25-month grid and interpolated linearly.
    """
    sub = cond.subset(ids)
    if callable(getattr(model, "predict", None)):
        grid = pd.DataFrame(
            {"patient_id": np.repeat(ids.to_numpy(), months.shape[1]), "day": months.ravel()}
        )
        grid["day"] *= DAYS_PER_MONTH
        fast = getattr(model, "predict_mean", None)
        if callable(fast):  # deterministic quadrature, much faster than draws
            try:
                val = np.asarray(fast(sub, grid, "event_free"), dtype="float64")
                return val.reshape(months.shape)
            except (TypeError, ValueError):
                pass
        try:
            pred = model.predict(sub, grid, outcomes=("event_free",))
        except TypeError:
            pred = model.predict(sub, grid)
        pred = pred.loc[pred["outcome"] == "event_free"]
        if len(pred) == len(grid):
            key = pd.MultiIndex.from_frame(grid)
            val = pred.set_index(["patient_id", "day"])["mean"]
            val = val.loc[~val.index.duplicated()]
            return np.asarray(val.reindex(key).to_numpy(dtype="float64")).reshape(months.shape)
    if not callable(getattr(model, "survival", None)):
        return None
    top = float(np.nanmax(months)) + 0.5
    shared = np.arange(0.0, top + 0.25, 0.25)
    s = survival_matrix(model, sub, shared).reindex(ids).to_numpy()
    j = np.clip(np.searchsorted(shared, months), 1, shared.size - 1)
    w = np.clip((months - shared[j - 1]) / (shared[j] - shared[j - 1]), 0.0, 1.0)
    r = np.arange(len(ids))[:, None]
    return np.asarray(s[r, j - 1] * (1 - w) + s[r, j] * w)


def _survival_scores(
    name: str,
    model: Any,
    cond: Cohort,
    et: pd.DataFrame,
    landmark: pd.Series,
    ibs_months: float,
    c_months: float,
) -> tuple[list[dict[str, Any]], pd.DataFrame]:
    from lifelines.utils import concordance_index

    ids = landmark.index
    lm = landmark.to_numpy(dtype="float64") / DAYS_PER_MONTH
    u = np.arange(1.0, ibs_months + 0.5, 1.0)
    rel = np.concatenate([[0.0], u, [c_months]])
    surv = _event_free(model, cond, ids, lm[:, None] + rel[None, :])
    if surv is None:
        raise AlsnetError(f"survival model {name!r} gives no event-free survival")
    if np.isnan(surv).any():
        raise AlsnetError(f"survival model {name!r} returned NaN survival")
    s_l = np.maximum(surv[:, 0], 1e-12)
    cond_s = np.clip(surv[:, 1:-1] / s_l[:, None], 0.0, 1.0)
    s_c = np.clip(surv[:, -1] / s_l, 0.0, 1.0)
    dur = (et.loc[ids, "time_days"].to_numpy(dtype="float64") / DAYS_PER_MONTH) - lm
    ev = et.loc[ids, "event"].to_numpy(dtype=bool)
    c = float(concordance_index(dur, s_c, ev))
    ibs = integrated_brier_score(cond_s, dur, ev, u)
    rows = [
        {"model": name, "outcome": "event_free", "horizon": np.nan, "metric": k, "value": v}
        for k, v in (
            ("n", float(len(ids))),
            ("events", float(ev.sum())),
            ("c_index", c),
            ("ibs", ibs),
        )
    ]
    curve = pd.DataFrame(
        {"model": name, "months_after_landmark": u, "brier": brier_scores(cond_s, dur, ev, u)}
    )
    return rows, curve


# ------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class TwinEvaluation:
    """Result of :func:`evaluate`.

    Attributes
    ----------
    metrics : DataFrame
        Tidy model, outcome, horizon, metric, value (see :func:`score_forecasts`;
        outcome ``event_free``: n, events, c_index, ibs).
    forecasts : DataFrame
        Every scored forecast: split, model, patient_id, outcome, horizon, day,
        y, mean and quantiles.
    calibration : DataFrame
        :func:`calibration_table` of the metrics.
    fans : DataFrame
        Forecast fans of a few test patients: model, patient_id, day, mean,
        quantiles (ALSFRS-R total).
    fan_observed : DataFrame
        Their observed ALSFRS-R totals: patient_id, day, y, conditioned (bool).
    brier_curves : DataFrame
        model, months_after_landmark, brier.
    settings : dict
        Split, number of splits, cutoff, horizons, window, seed, ``n_train``
        (training patients per split, mean over splits) and ``n_test`` (test
        patients, all splits together).
    timings : dict of str to float
        Fitting seconds per model (summed over splits).
    """

    metrics: pd.DataFrame
    forecasts: pd.DataFrame
    calibration: pd.DataFrame
    fans: pd.DataFrame
    fan_observed: pd.DataFrame
    brier_curves: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def table(self, outcome: str = "alsfrs_r_total") -> pd.DataFrame:
        """Wide summary: one row per model with RMSE/MAE/coverage per horizon, C, IBS."""
        m = self.metrics
        cont = m.loc[
            (m["outcome"] == outcome) & m["metric"].isin(["rmse", "mae", "cov80", "cov95"])
        ]
        wide = cont.assign(
            col=cont["metric"] + cont["horizon"].map(lambda h: f"_{h:g}m")
        ).pivot_table(index="model", columns="col", values="value", sort=False)
        surv = m.loc[(m["outcome"] == "event_free") & m["metric"].isin(["c_index", "ibs"])]
        swide = surv.pivot_table(index="model", columns="metric", values="value", sort=False)
        out = wide.join(swide, how="outer")
        order = [*dict.fromkeys(m["model"])]
        return out.reindex([o for o in order if o in out.index]).reset_index()


def evaluate(
    cohort: Cohort,
    *,
    forecasters: Mapping[str, Callable[[], Forecaster]] | None = None,
    survival_models: Mapping[str, Callable[[], Any]] | None = None,
    split: Literal["patient", "site"] = "patient",
    test_size: float = 1 / 3,
    seed: int = 0,
    cutoff_days: float = 91.0,
    horizons_months: Sequence[float] = (6.0, 12.0),
    window_days: float = 45.0,
    ibs_months: float = 24.0,
    c_months: float = 12.0,
    n_fans: int = 4,
    train: Cohort | None = None,
) -> TwinEvaluation:
    """Fit forecasters on training patients and score them on unseen patients.

    Parameters
    ----------
    cohort : Cohort
        Patients to split (or, with ``train`` given, the test patients only).
    forecasters : mapping of str to callable, optional
        Report name → factory of an unfitted forecaster; default
        :data:`DEFAULT_FORECASTERS`.
    survival_models : mapping of str to callable, optional
        Report name → factory of an unfitted survival model with
        ``survival(cohort, months)``; default :data:`DEFAULT_SURVIVAL`. A fitted
        forecaster with a ``survival`` method is scored as well (as
        ``"<name>"``). Survival is skipped when the cohort has no events.
    split : {"patient", "site"}, default "patient"
    test_size : float, default 1/3
    seed : int, default 0
    cutoff_days : float, default 91
        Conditioning window after the first ALSFRS-R visit, days.
    horizons_months : sequence of float, default (6, 12)
        Forecast horizons after the first ALSFRS-R visit, months.
    window_days : float, default 45
        Largest distance of a target visit from its horizon, days.
    ibs_months : float, default 24
        Upper end of the integrated Brier score, months after the landmark.
    c_months : float, default 12
        Conditional-survival horizon ranked by the C-index, months.
    n_fans : int, default 4
        Test patients whose forecast fans are kept for plots.
    train : Cohort, optional
        Fixed training cohort (e.g. a different generator); then ``cohort`` is
        the test set and ``split`` is ignored.

    Returns
    -------
    TwinEvaluation

    Raises
    ------
    AlsnetError
        No ALSFRS-R target visit in any test patient.
    """
    facs = dict(DEFAULT_FORECASTERS if forecasters is None else forecasters)
    sfacs = dict(DEFAULT_SURVIVAL if survival_models is None else survival_models)
    if train is not None:
        overlap = set(train.patients["patient_id"]) & set(cohort.patients["patient_id"])
        if overlap:
            raise AlsnetError(f"{len(overlap)} patient(s) are in both the training and test data")
        splits = [("fixed", train, cohort)]
    else:
        splits = [
            (s.label, cohort.subset(s.train), cohort.subset(s.test))
            for s in split_patients(cohort, split, test_size=test_size, seed=seed)
        ]
    timings: dict[str, float] = {}
    fc_parts: list[pd.DataFrame] = []
    surv_rows: list[dict[str, Any]] = []
    curves: list[pd.DataFrame] = []
    fans: list[pd.DataFrame] = []
    fan_obs: list[pd.DataFrame] = []
    n_train = n_test = 0
    import time

    for k, (label, tr, te) in enumerate(splits):
        n_train += len(tr.patients)
        n_test += len(te.patients)
        targets = forecast_targets(
            te, horizons_months=horizons_months, window_days=window_days, cutoff_days=cutoff_days
        )
        if targets.empty:
            logger.info("evaluate: no forecast targets in %s", label)
            continue
        cond = conditioning_cohort(te, cutoff_days)
        fitted: dict[str, Any] = {}
        for name, fac in facs.items():
            t = time.perf_counter()
            model = fac().fit(tr)
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t
            fitted[name] = model
            grid = targets[["patient_id", "day"]].drop_duplicates().reset_index(drop=True)
            pred = model.predict(cond, grid)
            pred = pred.drop(columns=[c for c in ("n_obs",) if c in pred.columns])
            merged = targets.merge(pred, on=["patient_id", "day", "outcome"], how="inner")
            merged.insert(0, "model", name)
            merged.insert(0, "split", label)
            fc_parts.append(merged)
            if k == 0 and n_fans > 0:
                f, o = _fans(model, name, te, cond, targets, n_fans, cutoff_days, seed)
                fans.append(f)
                if not fan_obs:
                    fan_obs.append(o)
        et = event_times(te)
        t0 = first_alsfrs_day(te)
        landmark = (t0 + cutoff_days).reindex(et.index).dropna()
        landmark = landmark.loc[et.loc[landmark.index, "time_days"] > landmark]
        has_events = bool(tr.events["event"].isin(["death", "tracheostomy", "pav"]).any())
        ev_test = et.loc[landmark.index, "event"].to_numpy(dtype=bool)
        if not has_events or len(landmark) < 10 or ev_test.sum() < 2:
            logger.info("evaluate: too few events in %s; survival not scored", label)
            continue
        smodels: dict[str, Any] = {
            name: m for name, m in fitted.items() if callable(getattr(m, "survival", None))
        }
        for name, fac in sfacs.items():
            t = time.perf_counter()
            smodels[name] = fac().fit(tr)
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - t
        cond_l = cond.subset(landmark.index)
        for name, m in smodels.items():
            rows, curve = _survival_scores(name, m, cond_l, et, landmark, ibs_months, c_months)
            for r in rows:
                r["split"] = label
            surv_rows += rows
            curves.append(curve.assign(split=label))
    if not fc_parts:
        raise AlsnetError(
            "evaluate: no test patient has an ALSFRS-R visit near the forecast horizons"
        )
    forecasts = pd.concat(fc_parts, ignore_index=True)
    metrics = score_forecasts(forecasts)
    if surv_rows:
        metrics = pd.concat([metrics, _pool_survival(pd.DataFrame(surv_rows))], ignore_index=True)
    settings = {
        "split": "fixed" if train is not None else split,
        "n_splits": len(splits),
        "seed": seed,
        "cutoff_days": cutoff_days,
        "horizons_months": list(horizons_months),
        "window_days": window_days,
        "n_train": round(n_train / max(len(splits), 1)),
        "n_test": n_test,
    }
    return TwinEvaluation(
        metrics=metrics,
        forecasts=forecasts,
        calibration=calibration_table(metrics),
        fans=pd.concat(fans, ignore_index=True) if fans else pd.DataFrame(),
        fan_observed=pd.concat(fan_obs, ignore_index=True) if fan_obs else pd.DataFrame(),
        brier_curves=pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(),
        settings=settings,
        timings=timings,
    )


def _pool_survival(rows: pd.DataFrame) -> pd.DataFrame:
    """Survival metrics over splits: n and events summed, C and IBS n-weighted."""
    out = []
    for model, g in rows.groupby("model", sort=False):
        w = g.pivot_table(index="split", columns="metric", values="value")
        n = w["n"].to_numpy()
        vals = {
            "n": float(n.sum()),
            "events": float(w["events"].sum()),
            "c_index": float(np.average(w["c_index"], weights=n)),
            "ibs": float(np.average(w["ibs"], weights=n)),
        }
        out += [
            {"model": model, "outcome": "event_free", "horizon": np.nan, "metric": k, "value": v}
            for k, v in vals.items()
        ]
    return pd.DataFrame(out)


def _fans(
    model: Any,
    name: str,
    test: Cohort,
    cond: Cohort,
    targets: pd.DataFrame,
    n: int,
    cutoff_days: float,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly forecasts over 15 months after t0 for ``n`` test patients with a target."""
    tot = targets.loc[targets["outcome"] == "alsfrs_r_total"]
    ids = sorted(tot["patient_id"].unique())
    rng = np.random.default_rng(seed)
    pick = [ids[i] for i in np.sort(rng.choice(len(ids), min(n, len(ids)), replace=False))]
    t0 = first_alsfrs_day(test).reindex(pick)
    rel = np.arange(0.0, 15.25, 0.5) * DAYS_PER_MONTH
    grid = pd.DataFrame(
        {
            "patient_id": np.repeat(pick, len(rel)),
            "day": (t0.to_numpy()[:, None] + rel[None, :]).ravel(),
        }
    )
    sub = cond.subset(pd.Index(pick))
    pred = model.predict(sub, grid)
    pred = pred.loc[pred["outcome"] == "alsfrs_r_total"]
    pred = pred[["patient_id", "day", "mean", *QCOLS]].assign(model=name)
    obs = observations(test.subset(pd.Index(pick)), "alsfrs_r_total")
    obs["conditioned"] = obs["day"].to_numpy() <= obs["patient_id"].map(t0).to_numpy() + cutoff_days
    return pred, obs


# ------------------------------------------------------------- misspecification
def misspecified_cohort(
    n_patients: int,
    *,
    seed: int = 0,
    noise_sd: float = 2.5,
    noise_df: float = 3.0,
    slope_sd_log: float = 0.3,
) -> Cohort:
    """A synthetic cohort whose ALSFRS-R totals decline *linearly* with t-noise.

    The twin assumes a D50 sigmoid with Gaussian noise. Here, starting from
    :func:`alsnet.synth.synthesize` (same patients, visit schedule, events, FVC
    and biomarkers), every ALSFRS-R total is replaced by

    ``y_ij = clip(48 − s_i · t_ij + noise_sd · T_3 / √3, 0, 48)`` (rounded),

    ``t`` in months since onset, ``s_i`` = the patient's ΔFS at the first visit of
    the original course times ``exp(slope_sd_log · N(0, 1))``, and ``T_3`` a
    Student t variate with ``noise_df`` degrees of freedom (scaled to unit
    variance for df > 2). Items are rewritten so that they add up to the new
    total (largest-remainder rounding of an even split). Deaths keep their
    original timing, so the link of decline and death is weaker than the twin
    assumes.

    Parameters
    ----------
    n_patients : int
    seed : int, default 0
    noise_sd : float, default 2.5
        SD of the noise, points.
    noise_df : float, default 3
        Degrees of freedom of the Student t noise.
    slope_sd_log : float, default 0.3
        Between-patient SD of the log slope around the onset ΔFS.
    """
    from alsnet.synth import synthesize
    from alsnet.synth._trajectories import integer_items

    base = synthesize(n_patients, seed=seed)
    rng = np.random.default_rng([seed, 4242])
    v = base.visits.copy()
    obs = observations(base, "alsfrs_r_total")
    first = obs.drop_duplicates("patient_id").set_index("patient_id")
    months0 = np.maximum(first["day"].to_numpy() / DAYS_PER_MONTH, 1.0)
    dfs = np.maximum(48.0 - first["y"].to_numpy(), 0.5) / months0
    slope = pd.Series(
        dfs * np.exp(slope_sd_log * rng.standard_normal(len(first))), index=first.index
    )
    from alsnet.clinical.alsfrs import alsfrs_scores

    total = alsfrs_scores(v)["alsfrs_r_total"].to_numpy()
    has = (
        ~np.isnan(total) & (v["instrument"].astype("string") == "alsfrs_r").fillna(False).to_numpy()
    )
    t = v["day"].to_numpy(dtype="float64") / DAYS_PER_MONTH
    s = v["patient_id"].map(slope).to_numpy(dtype="float64", na_value=np.nan)
    scale = np.sqrt((noise_df - 2.0) / noise_df) if noise_df > 2 else 1.0
    noise = noise_sd * scale * rng.standard_t(noise_df, len(v))
    new = np.round(np.clip(48.0 - s * t + noise, 0.0, 48.0))
    rows = np.flatnonzero(has & ~np.isnan(new))
    even = np.repeat(new[rows, None] / 12.0, 12, axis=1).astype(np.float64)
    items = integer_items(even, new[rows].astype(np.float64))
    cols = ["q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9", "q10", "q11", "q12"]
    q5a = v["q5a"].notna().to_numpy()[rows]
    for j, c in enumerate(cols):
        if c == "q5":
            v.loc[v.index[rows], "q5a"] = np.where(q5a, items[:, j], np.nan)
            v.loc[v.index[rows], "q5b"] = np.where(q5a, np.nan, items[:, j])
        else:
            v.loc[v.index[rows], c] = items[:, j].astype("float64")
    if "total_reported" in v.columns:
        rep = v["total_reported"].notna().to_numpy()[rows]
        v.loc[v.index[rows[rep]], "total_reported"] = new[rows[rep]]
    tabs = base.copy_tables()
    tabs["visits"] = v
    return Cohort.from_tables(tabs)
