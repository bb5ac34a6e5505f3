"""Non-concurrent controls with calendar-time adjustment for the in-simulation analysis.

Control-sharing rule ``nonconcurrent`` (:class:`~alsnet.trials.design.ControlSharing`): a
regimen's ALSFRS-R slope is compared with every placebo patient of the platform, concurrent
or not, after adjusting for calendar time by **period fixed effects**, the model-based
adjustment of Bofill Roig, Krotka et al. (2022, "On model-based time trend adjustments in
platform trials with non-concurrent controls", *BMC Med Res Methodol* 22:228) and of the R
package NCC (``fixmodel``):

    s_i = tau[period_i] + theta[arm_i] + e_i,    e_i ~ N(0, 1 / w_i),

where ``s_i`` is patient ``i``'s OLS ALSFRS-R slope (points/month), ``w_i`` its precision
(``1 / (sigma_b^2 + sigma_e^2 / Sxx_i)``, the weights of the concurrent analysis in
:func:`alsnet.trials.simulate._analyse`), ``tau`` one effect per calendar period and
``theta[r]`` the effect of regimen ``r``'s active arm (``theta[placebo] = 0``; all placebo
patients form one arm). The regression uses **every** patient randomised by the look (all
regimens' active arms too: arms spanning several periods link the periods, which is how
non-concurrent controls carry information under fixed period effects; without such a bridge
they only estimate their own period's effect and add nothing).

Periods (default) start whenever a regimen starts or stops enrolling, counted among the
patients randomised by the look: cuts at each regimen's first enrolment and half a day after
its last, exactly as :func:`alsnet.trials.analyse._periods` cuts the live trial's calendar
days; with ``period_months`` the calendar is cut into fixed bins instead.

The weighted least-squares fit is solved per simulated trial from grouped sums (cells =
period x arm: the sums of ``w`` and ``w s``), as a batch of small ``(D + R) x (D + R)``
normal equations (``D`` periods, ``R`` regimens); a pseudo-inverse gives zero effects to
empty periods. The regimen's DRR compares the fitted mean slope of its active patients
with the fitted control mean over the same periods:

    mu_c = sum_d pi_rd tau_d,   mu_a = mu_c + theta_r,   log DRR = log(-mu_a) - log(-mu_c),

with ``pi_rd`` the share of the regimen's active weight in period ``d``, and a delta-method
variance ``g' (X'WX)^-1 g``. With a single period this is exactly the unadjusted comparison
with all placebo patients (rule ``all``).

Additive period effects on the slope approximate a multiplicative drift (the simulator's
``time_trend`` and the live model's ``exp(rho)``); under the null they are exact.

The **death hazard** (Bayesian designs combine its log hazard ratio with the slope's log
DRR) is adjusted the same way: piecewise exponential in calendar period with a
proportional effect of each active arm, ``E[deaths] = exposure * exp(alpha[period] +
beta[arm])``, fitted on the same period x arm cells by batched Newton iterations
(:func:`hazard_log_hr`); the regimen's log hazard ratio is ``beta[r]`` with the inverse
Fisher information as its variance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from alsnet.trials.design import WEEKS_TO_MONTHS

__all__ = [
    "HALF_DAY_MONTHS",
    "NccSetup",
    "cell_sums",
    "control_counts",
    "fit_cells",
    "fit_poisson_cells",
    "hazard_log_hr",
    "log_drr_from_fit",
    "periods",
    "setup",
    "slope_log_drr",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Offset of a regimen's exit cut after its last enrolment (months): half a day, as in the
#: live analysis (calendar days, ``max + 0.5``, converted with the same 12/52/7 months/day).
HALF_DAY_MONTHS = 0.5 * WEEKS_TO_MONTHS / 7.0
#: Relative eigenvalue cut-off of the pseudo-inverse (empty or unidentified periods).
_RCOND = 1e-10
#: Largest Newton step of the hazard fit (log scale) per iteration.
_MAX_STEP = 1.0


@dataclass(frozen=True)
class NccSetup:
    """Per-chunk constants of the period-adjusted analysis.

    Attributes
    ----------
    regimen
        Regimen index of each patient, shape ``(P,)``.
    arm
        Arm of each patient, shape ``(S, P)``: 0 = placebo (any regimen), ``r + 1`` = active
        arm of regimen ``r``.
    enrol
        Calendar enrolment month of each patient, shape ``(P,)`` or ``(S, P)``.
    n_regimens
        Number of regimens ``R``.
    period_months
        Width of fixed calendar periods (months), or None: periods cut at regimen
        entries and exits.
    """

    regimen: IntArray
    arm: IntArray
    enrol: FloatArray
    n_regimens: int
    period_months: float | None = None


def setup(
    regimen: IntArray,
    active: BoolArray,
    enrol: FloatArray,
    n_regimens: int,
    period_months: float | None = None,
) -> NccSetup:
    """Build the :class:`NccSetup` of a chunk (``active`` has shape ``(S, P)``)."""
    reg = np.asarray(regimen, dtype=np.int64)
    arm = np.where(active, reg[None, :] + 1, 0).astype(np.int64)
    return NccSetup(reg, arm, np.asarray(enrol, dtype=np.float64), n_regimens, period_months)


def periods(ncc: NccSetup, randomised: BoolArray) -> tuple[IntArray, int]:
    """Calendar period of each patient at a look, shape ``(S, P)``, and the number of periods.

    Parameters
    ----------
    ncc
        The chunk's setup.
    randomised
        Patients randomised by the look, shape ``(S, P)``; only they define the cuts.

    Returns
    -------
    period : ndarray of int, shape (S, P)
        Period index ``0..D-1`` (0 for patients not randomised).
    n_periods : int
        ``D``, the same for every trial of the chunk (some periods may be empty).
    """
    n_s = randomised.shape[0]
    e = np.broadcast_to(ncc.enrol, randomised.shape)
    if ncc.period_months is not None:
        per = np.floor(np.where(randomised, e, 0.0) / ncc.period_months).astype(np.int64)
        per = np.maximum(per, 0)
        return per, int(per.max()) + 1 if per.size else 1
    firsts, lasts = [], []
    for r in range(ncc.n_regimens):
        cols = ncc.regimen == r
        e_r, m_r = e[:, cols], randomised[:, cols]
        firsts.append(np.where(m_r, e_r, np.inf).min(axis=1, initial=np.inf))
        lasts.append(np.where(m_r, e_r, -np.inf).max(axis=1, initial=-np.inf))
    first = np.stack(firsts, axis=1) if firsts else np.full((n_s, 0), np.inf)  # (S, R)
    last = np.stack(lasts, axis=1) if lasts else np.full((n_s, 0), -np.inf)
    lo = first.min(axis=1, initial=np.inf)
    c = np.concatenate([first, np.where(np.isfinite(last), last + HALF_DAY_MONTHS, np.inf)], 1)
    c = np.where(c > lo[:, None], c, np.inf)  # cuts at or before the first patient: none
    per = np.zeros(randomised.shape, dtype=np.int64)
    for j in range(c.shape[1]):  # 2R cuts: period = number of cuts at or before enrolment
        per += c[:, j : j + 1] <= e
    per = np.where(randomised, per, 0)
    return per, 2 * ncc.n_regimens + 1


def cell_sums(
    ncc: NccSetup, period: IntArray, n_periods: int, w: FloatArray, s: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Sums of ``w`` and ``w * s`` per trial, period and arm, shape ``(S, D, R + 1)`` each."""
    n_s = w.shape[0]
    n_a = ncc.n_regimens + 1
    idx = ((np.arange(n_s)[:, None] * n_periods + period) * n_a + ncc.arm).ravel()
    size = n_s * n_periods * n_a
    wc = np.bincount(idx, weights=w.ravel(), minlength=size)
    sc = np.bincount(idx, weights=(w * s).ravel(), minlength=size)
    shape = (n_s, n_periods, n_a)
    return np.asarray(wc, np.float64).reshape(shape), np.asarray(sc, np.float64).reshape(shape)


def fit_cells(wc: FloatArray, sc: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Weighted least squares on period and active-arm indicators from cell sums.

    Parameters
    ----------
    wc, sc
        Sums of weights and of weighted slopes per trial, period and arm (arm 0 =
        placebo), shape ``(S, D, R + 1)``.

    Returns
    -------
    beta : ndarray, shape (S, D + R)
        ``[tau_0 .. tau_{D-1}, theta_1 .. theta_R]`` (points/month; 0 for empty periods and
        arms without patients).
    cov : ndarray, shape (S, D + R, D + R)
        ``(X'WX)^+``, the covariance of ``beta`` for known weights.
    """
    n_s, n_d, n_a = wc.shape
    n_r = n_a - 1
    k = n_d + n_r
    a = np.zeros((n_s, k, k))
    di = np.arange(n_d)
    ri = n_d + np.arange(n_r)
    a[:, di, di] = wc.sum(axis=2)
    a[:, ri, ri] = wc[:, :, 1:].sum(axis=1)
    a[:, :n_d, n_d:] = wc[:, :, 1:]
    a[:, n_d:, :n_d] = np.swapaxes(wc[:, :, 1:], 1, 2)
    b = np.concatenate([sc.sum(axis=2), sc[:, :, 1:].sum(axis=1)], axis=1)
    cov = np.linalg.pinv(a, rtol=_RCOND, hermitian=True)
    beta = np.einsum("sij,sj->si", cov, b)
    return beta, cov


def log_drr_from_fit(
    wc: FloatArray, beta: FloatArray, cov: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Log DRR of each regimen, its delta-method variance and whether it is defined, ``(S, R)``.

    The control mean is the fitted placebo slope averaged over the periods of the regimen's
    active patients (weights: their precision); slopes are clipped at ``-1e-3`` before the
    log, as in the concurrent analysis.
    """
    n_s, n_d, n_a = wc.shape
    n_r = n_a - 1
    w_act = wc[:, :, 1:]  # (S, D, R)
    wa = w_act.sum(axis=1)  # (S, R)
    pi = w_act / np.maximum(wa, 1e-300)[:, None, :]
    tau = beta[:, :n_d]
    theta = beta[:, n_d:]
    mu_c = np.einsum("sdr,sd->sr", pi, tau)
    mu_a = mu_c + theta
    est = np.log(np.maximum(-mu_a, 1e-3)) - np.log(np.maximum(-mu_c, 1e-3))
    inv_a = mu_a / np.maximum(mu_a * mu_a, 1e-6)
    inv_c = mu_c / np.maximum(mu_c * mu_c, 1e-6)
    # gradient of log DRR in beta, one row per regimen: (S, R, D + R)
    g = np.zeros((n_s, n_r, n_d + n_r))
    g[:, :, :n_d] = np.swapaxes(pi, 1, 2) * (inv_a - inv_c)[:, :, None]
    g[:, np.arange(n_r), n_d + np.arange(n_r)] = inv_a
    var = np.einsum("sri,sij,srj->sr", g, cov, g)
    ctrl_conc = np.einsum("sdr,sd->sr", (w_act > 0).astype(np.float64), wc[:, :, 0])
    ok = (wa > 0) & (ctrl_conc > 0) & (var > 0)
    return est, var, ok


def slope_log_drr(
    ncc: NccSetup, s: FloatArray, w: FloatArray, period: tuple[IntArray, int]
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Period-adjusted slope log DRR per trial and regimen (see the module docstring).

    Parameters
    ----------
    ncc
        The chunk's setup.
    s
        Per-patient OLS ALSFRS-R slopes (points/month), shape ``(S, P)``.
    w
        Per-patient precision weights, shape ``(S, P)`` (0: not analysable).
    period
        Per-patient periods at the look and their number, from :func:`periods`.

    Returns
    -------
    est, var : ndarray, shape (S, R)
        Log DRR and its variance.
    ok : ndarray of bool, shape (S, R)
        Defined (the regimen has analysable active patients and placebo in their periods).
    """
    per, n_per = period
    wc, sc = cell_sums(ncc, per, n_per, w, s)
    beta, cov = fit_cells(wc, sc)
    return log_drr_from_fit(wc, beta, cov)


def fit_poisson_cells(
    deaths: FloatArray, exposure: FloatArray, max_iter: int = 50, tol: float = 1e-10
) -> tuple[FloatArray, FloatArray]:
    """Piecewise-exponential (Poisson log-linear) fit on period and active-arm effects.

    ``E[deaths_da] = exposure_da * exp(alpha_d + beta_a)`` with ``beta_placebo = 0``, by
    Newton's method batched over trials (the canonical-link Poisson likelihood is concave).

    Parameters
    ----------
    deaths, exposure
        Deaths and exposure (months) per trial, period and arm (arm 0 = placebo), shape
        ``(S, D, R + 1)``. Cells with deaths but no exposure are not allowed; a period or
        arm without exposure gets effect 0.
    max_iter, tol
        Newton iterations at most; stop when every step is below ``tol``.

    Returns
    -------
    coef : ndarray, shape (S, D + R)
        ``[alpha_0 .. alpha_{D-1}, beta_1 .. beta_R]`` (log deaths per month).
    cov : ndarray, shape (S, D + R, D + R)
        Pseudo-inverse of the Fisher information at the estimate (1 on the diagonal for
        empty rows; directions that the data do not identify keep their starting values).
    """
    n_s, n_d, n_a = deaths.shape
    n_r = n_a - 1
    k = n_d + n_r
    t_d = exposure.sum(axis=2)
    t_a = exposure[:, :, 1:].sum(axis=1)
    empty = np.concatenate([t_d <= 0, t_a <= 0], axis=1)  # (S, K)
    d_d = deaths.sum(axis=2)
    # start: the crude rate of each period, no arm effects
    alpha = np.log(np.maximum(d_d, 1e-300) / np.maximum(t_d, 1e-300))
    coef = np.concatenate([np.where(t_d > 0, alpha, 0.0), np.zeros((n_s, n_r))], axis=1)
    b_obs = np.concatenate([d_d, deaths[:, :, 1:].sum(axis=1)], axis=1)
    di, ri = np.arange(n_d), n_d + np.arange(n_r)
    cov = np.zeros((n_s, k, k))
    todo = np.arange(n_s)  # trials not yet converged (Newton runs on them only)
    for _ in range(max_iter):
        c, x, em = coef[todo], exposure[todo], empty[todo]
        eta = (
            c[:, :n_d, None] + np.concatenate([np.zeros((todo.size, 1)), c[:, n_d:]], 1)[:, None, :]
        )
        mu = x * np.exp(eta)  # (S', D, R + 1)
        info = np.zeros((todo.size, k, k))
        info[:, di, di] = mu.sum(axis=2)
        info[:, ri, ri] = mu[:, :, 1:].sum(axis=1)
        info[:, :n_d, n_d:] = mu[:, :, 1:]
        info[:, n_d:, :n_d] = np.swapaxes(mu[:, :, 1:], 1, 2)
        info[:, np.arange(k), np.arange(k)] += em  # decouple empty rows
        score = b_obs[todo] - np.concatenate([mu.sum(axis=2), mu[:, :, 1:].sum(axis=1)], 1)
        # pseudo-inverse: an arm seen only in a period of its own is collinear with it
        inv = np.linalg.pinv(info, rtol=_RCOND, hermitian=True)
        step = np.einsum("sij,sj->si", inv, np.where(em, 0.0, score))
        # damped Newton: at most _MAX_STEP on the log scale per iteration (a period or arm
        # with only pseudo-deaths starts far from its estimate; a full step overshoots)
        size = np.abs(step).max(axis=1, initial=0.0)
        step *= np.minimum(1.0, _MAX_STEP / np.maximum(size, 1e-300))[:, None]
        coef[todo] = c + step
        cov[todo] = inv
        todo = todo[size >= tol]
        if todo.size == 0:
            break
    return coef, cov


def hazard_log_hr(
    ncc: NccSetup, deaths: FloatArray, exposure: FloatArray, period: tuple[IntArray, int]
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Period-adjusted log hazard ratio of death per trial and regimen, ``(S, R)`` each.

    The death hazard is piecewise exponential in calendar period with a proportional effect
    of each regimen's active arm, fitted on every patient (:func:`fit_poisson_cells`). One
    pseudo-death per trial is shared over the period x arm cells in proportion to their
    exposure (as the concurrent analysis shares one between a regimen and its controls), so
    a cell without deaths keeps the estimates finite.

    Parameters
    ----------
    ncc
        The chunk's setup.
    deaths, exposure
        Per patient at the look: 1 for a death in the follow-up window, and months at risk
        (:func:`alsnet.trials.simulate._event_stats`), shape ``(S, P)``.
    period
        Per-patient periods at the look and their number, from :func:`periods`.

    Returns
    -------
    log_hr, precision : ndarray, shape (S, R)
        Estimate and inverse variance (0 where undefined).
    defined : ndarray of bool, shape (S, R)
        The regimen's active arm has exposure, its periods have control exposure and the
        trial has deaths.
    """
    per, n_per = period
    dc, _ = cell_sums(ncc, per, n_per, deaths, np.zeros_like(deaths))
    tc, _ = cell_sums(ncc, per, n_per, exposure, np.zeros_like(exposure))
    t_tot = tc.sum(axis=(1, 2))
    d_tot = dc.sum(axis=(1, 2))
    dc = dc + tc / np.maximum(t_tot, 1e-300)[:, None, None]
    coef, cov = fit_poisson_cells(dc, tc)
    n_r = ncc.n_regimens
    rk = n_per + np.arange(n_r)
    var = cov[:, rk, rk]
    t_act = tc[:, :, 1:]
    ctrl_conc = np.einsum("sdr,sd->sr", (t_act > 0).astype(np.float64), tc[:, :, 0])
    defined = (t_act.sum(axis=1) > 0) & (ctrl_conc > 0) & (d_tot > 0)[:, None] & (var > 0)
    prec = np.where(defined, 1.0 / np.where(defined, var, 1.0), 0.0)
    return np.where(defined, coef[:, n_per:], 0.0), prec, defined


def control_counts(
    ncc: NccSetup, analysable: BoolArray, period: tuple[IntArray, int]
) -> FloatArray:
    """Placebo patients that inform each regimen's period-adjusted estimate, shape ``(S, R)``.

    A placebo patient informs regimen ``r`` when its period is linked to one of ``r``'s
    periods: directly (``r``'s active patients are in it) or through a chain of active arms
    spanning periods (an arm with patients in periods ``d1`` and ``d2`` links them). Other
    placebo patients only estimate their own period's effect.

    Parameters
    ----------
    ncc
        The chunk's setup.
    analysable
        Patients in the analysis (>= 2 ALSFRS-R visits by the look), shape ``(S, P)``.
    period
        Per-patient periods at the look and their number, from :func:`periods`.
    """
    per, n_per = period
    ones = analysable.astype(np.float64)
    n_cell, _ = cell_sums(ncc, per, n_per, ones, np.zeros_like(ones))  # (S, D, R + 1)
    act: BoolArray = np.asarray(n_cell[:, :, 1:] > 0)  # (S, D, R)
    out = np.zeros((n_cell.shape[0], ncc.n_regimens))
    for r in range(ncc.n_regimens):
        reach = act[:, :, r]  # (S, D) periods linked to regimen r
        for _ in range(n_per):
            arms: BoolArray = np.asarray((reach[:, :, None] & act).any(axis=1))  # (S, R)
            nxt = reach | (act & arms[:, None, :]).any(axis=2)
            if (nxt == reach).all():
                break
            reach = nxt
        out[:, r] = (n_cell[:, :, 0] * reach).sum(axis=1)
    return out
