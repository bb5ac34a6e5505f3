"""Event-driven survival stage of a MAMS platform trial (MND-SMART stage 4), vectorised.

A regimen that succeeded on ALSFRS-R is then tested on survival (death or permanent
ventilation) against its controls, once those controls reach a required number of deaths
(MND-SMART: 113 placebo deaths; reference/platform-trials.md section 2). Everything here
works on many simulated trials at once: arrays are ``(S, P)`` (trials x patients), no
per-patient or per-trial Python loops.

- :func:`weibull_death_months`: death times from randomisation for the optional long-term
  survival model of :class:`~alsnet.trials.design.OutcomeModel`.
- :func:`nth_event_time`: per trial, the calendar time of the ``n``-th death
  (``np.partition``).
- :func:`logrank_rows`: one-sided two-sample log-rank test per row (ties and censoring
  handled as in the usual hypergeometric form, e.g. lifelines ``logrank_test``).
- :func:`survival_stage`: the stage itself inside the simulator, per trial and regimen.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy import special

from alsnet.trials.design import SurvivalStage

__all__ = [
    "LogRankRows",
    "logrank_rows",
    "nth_event_time",
    "summarise",
    "survival_stage",
    "weibull_death_months",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def weibull_death_months(
    e: FloatArray, median_months: float, shape: float, hazard_mult: FloatArray | float
) -> FloatArray:
    """Death times from randomisation (months) by inversion of unit-exponential draws.

    Survival ``S(t) = exp(-log(2) * m * (t / median_months) ** shape)`` with hazard
    multiplier ``m`` (proportional hazards: treatment hazard ratio, calendar drift), so
    ``t = median_months * (e / (log(2) * m)) ** (1 / shape)`` for ``e ~ Exp(1)``.

    Parameters
    ----------
    e : ndarray
        Unit-exponential draws, any shape.
    median_months : float
        Median survival from randomisation when ``m = 1`` (months, > 0).
    shape : float
        Weibull shape (> 0; 1 = exponential).
    hazard_mult : ndarray or float
        Hazard multiplier ``m`` (> 0), broadcast against ``e``.

    Returns
    -------
    ndarray
        Death times (months since randomisation), the broadcast shape.
    """
    m = np.maximum(np.asarray(hazard_mult, dtype=np.float64), 1e-300)
    return np.asarray(median_months * (e / (math.log(2.0) * m)) ** (1.0 / shape))


def nth_event_time(event_time: FloatArray, n: int) -> FloatArray:
    """The ``n``-th smallest event time along the last axis (``inf`` if fewer events).

    Parameters
    ----------
    event_time : ndarray, shape (..., P)
        Calendar time of each patient's observed event (months); ``inf`` for no event.
    n : int
        Required number of events (>= 1).

    Returns
    -------
    ndarray, shape (...)
        Time the ``n``-th event occurs (ties count separately), ``inf`` when fewer than
        ``n`` events occur or ``n`` exceeds the number of patients.
    """
    if n < 1:
        raise ValueError(f"n: must be >= 1, got {n}")
    x = np.asarray(event_time, dtype=np.float64)
    if n > x.shape[-1]:
        return np.full(x.shape[:-1], np.inf)
    return np.asarray(np.partition(x, n - 1, axis=-1)[..., n - 1])


class LogRankRows(NamedTuple):
    """Per-row two-sample log-rank results (arrays of shape ``(S,)``).

    ``statistic``: ``z = (E - O) / sqrt(V)`` for the treatment group (> 0: fewer deaths than
    expected under equal hazards, i.e. benefit); ``pvalue``: one-sided ``1 - Phi(z)``;
    ``observed``, ``expected``: treatment-group deaths and their expectation; ``variance``:
    hypergeometric variance ``V``. ``z**2`` is the usual chi-square statistic (1 df). NaN
    where ``V = 0`` (no informative death).
    """

    statistic: FloatArray
    pvalue: FloatArray
    observed: FloatArray
    expected: FloatArray
    variance: FloatArray


def logrank_rows(
    time: FloatArray, event: BoolArray, treated: BoolArray, include: BoolArray | None = None
) -> LogRankRows:
    """One-sided two-sample log-rank test of ``treated`` vs the rest, for every row at once.

    Rows are independent data sets (simulated trials). At each distinct death time ``t``
    with ``n`` patients at risk (``n_1`` treated) and ``d`` deaths (``d_1`` treated),
    ``O - E`` adds ``d_1 - d n_1 / n`` and ``V`` adds
    ``d (n_1 / n) (1 - n_1 / n) (n - d) / (n - 1)``. Censored patients are at risk at their
    censoring time (a death and a censoring at the same time: the censored patient counts
    as at risk). Sorting per row and cumulative sums give the at-risk counts; tied times
    are grouped by the first and last index of each run.

    Parameters
    ----------
    time : ndarray, shape (S, N)
        Follow-up time (any unit; finite where included).
    event : ndarray of bool, shape (S, N)
        Death observed at ``time`` (else censored).
    treated : ndarray of bool, shape (S, N)
        Treatment group (the group whose benefit is tested).
    include : ndarray of bool, shape (S, N), optional
        Patients in the row's data set (default: all).

    Returns
    -------
    LogRankRows
    """
    t = np.atleast_2d(np.asarray(time, dtype=np.float64))
    ev = np.atleast_2d(np.asarray(event, dtype=bool))
    tr = np.atleast_2d(np.asarray(treated, dtype=bool))
    inc = np.ones_like(ev) if include is None else np.atleast_2d(np.asarray(include, dtype=bool))
    if not t.shape == ev.shape == tr.shape == inc.shape:
        raise ValueError(
            f"time, event, treated, include: shapes differ ({t.shape}, {ev.shape}, "
            f"{tr.shape}, {inc.shape})"
        )
    if np.any(inc & ~np.isfinite(t)):
        raise ValueError("time: must be finite for included patients")
    n_s, n_p = t.shape
    key = np.where(inc, t, np.inf)
    # within a run of tied times the order does not matter: counts use the run's bounds
    order = np.argsort(key, axis=1, kind="stable")
    ts = np.take_along_axis(key, order, axis=1)
    es = np.take_along_axis(ev & inc, order, axis=1).astype(np.float64)
    gs = np.take_along_axis(tr & inc, order, axis=1).astype(np.float64)
    n_all = inc.sum(axis=1, dtype=np.float64)[:, None]
    n_trt = (tr & inc).sum(axis=1, dtype=np.float64)[:, None]
    idx = np.broadcast_to(np.arange(n_p), (n_s, n_p))
    new = np.ones((n_s, n_p), dtype=bool)
    new[:, 1:] = ts[:, 1:] != ts[:, :-1]
    first = np.maximum.accumulate(np.where(new, idx, 0), axis=1)
    last_flag = np.ones((n_s, n_p), dtype=bool)
    last_flag[:, :-1] = new[:, 1:]
    last = np.minimum.accumulate(np.where(last_flag, idx, n_p)[:, ::-1], axis=1)[:, ::-1]
    zero = np.zeros((n_s, 1))
    cg = np.concatenate([zero, np.cumsum(gs, axis=1)], axis=1)  # treated before index i
    ce = np.concatenate([zero, np.cumsum(es, axis=1)], axis=1)  # deaths before index i
    rows = np.arange(n_s)[:, None]
    n_risk = n_all - first  # included patients occupy the first n_all sorted positions
    n1 = n_trt - cg[rows, first]
    d = ce[rows, last + 1] - ce[rows, first]  # deaths in the tie run
    frac = n1 / np.maximum(n_risk, 1.0)
    o_minus_e = (es * (gs - frac)).sum(axis=1)
    ratio = np.where(n_risk > 1, (n_risk - d) / np.maximum(n_risk - 1.0, 1.0), 0.0)
    var = (es * frac * (1.0 - frac) * ratio).sum(axis=1)
    obs = (es * gs).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var > 0, -o_minus_e / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
    p = np.asarray(special.ndtr(-z), dtype=np.float64)
    return LogRankRows(z, p, obs, obs - o_minus_e, var)


def _nan_mean_se(x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Column means and Monte Carlo SEs ignoring NaN (NaN for a column without values)."""
    ok = np.isfinite(x)
    n = ok.sum(axis=0)
    s = np.where(ok, x, 0.0)
    mean = s.sum(axis=0) / np.maximum(n, 1)
    dev = np.where(ok, x - mean, 0.0)
    sd = np.sqrt((dev * dev).sum(axis=0) / np.maximum(n - 1, 1))
    mean = np.where(n > 0, mean, np.nan)
    se = np.where(n > 1, sd / np.sqrt(np.maximum(n, 1)), np.nan)
    return np.asarray(mean, dtype=np.float64), np.asarray(se, dtype=np.float64)


def survival_stage(
    spec: SurvivalStage,
    *,
    exit_months: FloatArray,
    death: BoolArray,
    active: BoolArray,
    enrol: FloatArray,
    regimen: NDArray[np.int64],
    controls: FloatArray | BoolArray,
    stop_time: FloatArray,
    success: BoolArray,
    entry: FloatArray,
) -> dict[str, FloatArray]:
    """Survival stage of every simulated trial and regimen.

    Parameters
    ----------
    spec : SurvivalStage
        Required control deaths, one-sided alpha, test and cap.
    exit_months : ndarray, shape (S, P)
        Months from randomisation to death or dropout (``inf``: neither).
    death : ndarray of bool, shape (S, P)
        The exit is a death (otherwise a dropout: censored there).
    active : ndarray of bool, shape (S, P)
        Randomised to active.
    enrol : ndarray, shape (S, P)
        Calendar enrolment month (``inf``: never enrolled).
    regimen : ndarray of int, shape (P,)
        Regimen of each patient.
    controls : ndarray, shape (P, R) or (S, P, R)
        Whether a (placebo) patient may serve as a control of each regimen.
    stop_time : ndarray, shape (S, R)
        Calendar month the regimen's ALSFRS-R stage ended; patients enrolled later are not
        in the trial.
    success : ndarray of bool, shape (S, R)
        ALSFRS-R success (only these regimens enter the survival stage).
    entry : ndarray, shape (R,)
        Calendar month each regimen opened.

    Returns
    -------
    dict
        ``"survival_success"`` (1.0 when the regimen succeeded on ALSFRS-R and then on
        survival), ``"survival_months"`` (months from the regimen's entry to the survival
        data cut; NaN when not held), ``"duration_survival"`` (months from entry to the end
        of the regimen including the survival stage), ``"survival_control_deaths"``
        (control deaths at the cut; NaN when not held); each ``(S, R)``.
    """
    n_s, n_r = stop_time.shape
    held = np.asarray(success, dtype=bool)
    cut = np.full((n_s, n_r), np.nan)
    surv_ok = np.zeros((n_s, n_r), dtype=bool)
    deaths_at_cut = np.full((n_s, n_r), np.nan)
    rows = np.flatnonzero(held.any(axis=1))  # only trials in which some regimen reaches it
    if rows.size:
        ctrl = np.asarray(controls).astype(bool)
        ctrl = ctrl[None] if ctrl.ndim == 2 else ctrl[rows]  # (1|S', P, R)
        cut[rows], surv_ok[rows], deaths_at_cut[rows] = _stage_rows(
            spec,
            exit_months[rows],
            death[rows],
            active[rows],
            enrol[rows],
            regimen,
            ctrl,
            stop_time[rows],
            held[rows],
            entry,
        )
    months = np.where(held, cut - entry[None, :], np.nan)
    return {
        "survival_success": surv_ok.astype(np.float64),
        "survival_months": months,
        "duration_survival": np.where(held, cut, stop_time) - entry[None, :],
        "survival_control_deaths": np.where(held, deaths_at_cut, np.nan),
    }


def _stage_rows(
    spec: SurvivalStage,
    exit_months: FloatArray,
    death: BoolArray,
    active: BoolArray,
    enrol: FloatArray,
    regimen: NDArray[np.int64],
    ctrl: BoolArray,
    stop_time: FloatArray,
    success: BoolArray,
    entry: FloatArray,
) -> tuple[FloatArray, BoolArray, FloatArray]:
    """Data cut, survival success and control deaths at the cut, ``(S, R)`` each.

    Arguments as in :func:`survival_stage` (``ctrl`` already ``(1|S, P, R)`` booleans).
    """
    n_s, n_r = stop_time.shape
    enrolled = enrol <= stop_time[:, regimen]  # (S, P): in the trial
    plc = ~active & enrolled
    cal_death = np.where(death & enrolled, enrol + exit_months, np.inf)  # calendar months
    # (S, R, P), contiguous along patients for the partition
    is_c = plc[:, None, :] & np.swapaxes(ctrl, 1, 2)
    ctrl_death = np.where(is_c, cal_death[:, None, :], np.inf)
    trigger = nth_event_time(ctrl_death, spec.placebo_deaths)  # (S, R)
    finite = np.isfinite(ctrl_death)
    last = np.where(finite.any(axis=2), np.where(finite, ctrl_death, -np.inf).max(axis=2), 0.0)
    cap = np.inf if spec.max_months is None else entry[None, :] + spec.max_months
    # count never reached: the cap, or (no cap) the last control death ever observed
    cut = np.where(np.isfinite(trigger), trigger, last if spec.max_months is None else cap)
    cut = np.maximum(np.minimum(cut, cap), stop_time)  # not before the ALSFRS-R result
    surv_ok = np.zeros((n_s, n_r), dtype=bool)
    deaths_at_cut = np.full((n_s, n_r), np.nan)
    for r in range(n_r):  # one vectorised test per regimen (R is small)
        rows = np.flatnonzero(success[:, r])  # only regimens that reach stage 4
        if rows.size == 0:
            continue
        cut_r = cut[rows, r : r + 1]
        en, ex = enrol[rows], exit_months[rows]
        since = cut_r - en
        member = enrolled[rows] & (en <= cut_r)
        is_ctrl = is_c[rows, r] & member
        is_trt = active[rows] & (regimen == r)[None, :] & member
        time = np.where(is_ctrl | is_trt, np.minimum(ex, since), 0.0)
        event = death[rows] & (ex <= since)
        res = logrank_rows(time, event, is_trt, is_ctrl | is_trt)
        surv_ok[rows, r] = res.pvalue < spec.alpha
        deaths_at_cut[rows, r] = (event & is_ctrl).sum(axis=1)
    return cut, surv_ok, deaths_at_cut


def summarise(res: dict[str, FloatArray]) -> dict[str, FloatArray]:
    """Per-regimen operating characteristics of the survival stage (means and SEs).

    ``p_success_survival``: P(success on ALSFRS-R and then on survival);
    ``mean_survival_months``: mean months from entry to the survival data cut among trials
    that held it; ``mean_duration_survival_months``: mean months from entry to the end of
    the regimen including the survival stage; ``mean_survival_deaths``: mean control
    deaths at the survival data cut (>= the required count unless the cap came first).
    """
    out: dict[str, FloatArray] = {}
    for name, key in (
        ("p_success_survival", "survival_success"),
        ("mean_survival_months", "survival_months"),
        ("mean_duration_survival_months", "duration_survival"),
        ("mean_survival_deaths", "survival_control_deaths"),
    ):
        m, se = _nan_mean_se(res[key])
        out[name], out[f"{name}_se"] = m, se
    return out
