"""HEALEY-style Bayesian shared-parameter DRR model on patient-level data.

Model (patient ``i``, visit ``j``; time ``t_ij`` in months since randomisation), default
``slope_effect="mean"``::

    y_ij  = a_i - (mu_b * exp(theta * active_i + rho[period_i]) + u_i) * t_ij + e_ij,
    a_i ~ N(alpha, sigma_a^2),  u_i ~ N(0, sigma_b^2),  e_ij ~ N(0, sigma_e^2)
    event hazard  lambda_i = lambda_0 * exp(theta * active_i)   (exponential)

``y`` is the ALSFRS-R total (points), ``mu_b`` the mean decline of a control patient
(points/month, positive = decline), ``u_i`` the patient's deviation from the mean decline of
its arm and period (points/month; *not* scaled by the DRR), ``DRR = exp(theta)`` the
disease-progression rate ratio that scales both the *mean* ALSFRS-R slope and the event (death
or permanent ventilation) hazard of the active arm, and ``rho`` a calendar-time step (period)
effect on the mean slope with ``rho[0] = 0`` and a Gaussian random walk
``rho[d] ~ N(rho[d-1], period_sd^2)``: it lets non-concurrent controls (randomised in other
periods) be used without the bias of a drifting population.

``slope_effect="patient"`` is the literal form of HEALEY's ``beta_i exp(theta)``: a patient's
whole slope ``b_i ~ N(mu_b, sigma_b^2)`` is multiplied, ``y_ij = a_i - b_i exp(theta active_i +
rho[period_i]) t_ij + e_ij``, so the DRR also scales the between-patient SD of the active
slopes and the fit reads the DRR from the spread as well as from the mean. That makes the
estimate depend on an untestable assumption about how a treatment changes the spread: when
the truth is an additive shift of every active slope (HEALEY's SAP simulations; spread
unchanged), it is biased towards 1 (log DRR -0.16 for a true mean-slope ratio of -0.35 in
``benchmarks/eval_trial_fast_vs_full.py``); when the truth is multiplicative it is more precise
than the mean model. The default ``"mean"`` reads the DRR from the mean slope (and the hazard)
only, and is unbiased for the mean-slope ratio under either truth (``tests/trials/test_model.py``).

Priors (HEALEY master SAP, see reference/platform-trials.md §1): ``DRR ~ U(0, 2)``,
``mu_b ~ N(1, 1)``, ``sigma_b ~ U(0, 2)``, ``sigma_e ~ U(0, 4)``, ``lambda_0 ~ Gamma(0.01, 1)``
(per month), ``alpha ~ N(38, 10^2)``, ``sigma_a ~ U(0, 10)``. The regimen random effect of the
multi-regimen HEALEY model is not used: each regimen is analysed against its controls.

Two fits:

- :func:`fit_drr_laplace` (fast, no sampling): the intercepts ``a_i`` are integrated out
  exactly under a flat prior (which leaves each patient's OLS slope ``s_i`` and residual sum of
  squares), the slope deviations analytically (``s_i ~ N(-mu_b m_i, sigma_b^2 + sigma_e^2 /
  Sxx_i)``, ``m_i = exp(theta active_i + rho[period_i])``; ``sigma_b^2 m_i^2`` in place of
  ``sigma_b^2`` with ``slope_effect="patient"``), and the posterior of the remaining
  parameters is approximated by a Gaussian at its mode (Laplace; analytic gradient, BFGS,
  finite-difference Hessian). Every per-patient quantity is a vectorised numpy expression.
  The upper bounds of the uniform priors (DRR < 2, sigma_b < 2, sigma_e < 4) are not
  enforced by this fit; they are far from the mode for ALSFRS-R data.
- :func:`fit_drr_mcmc`: the full model with latent ``a_i`` and slopes sampled by NUTS in
  NumPyro (optional extra ``bayes``: ``pip install 'alsnet[bayes]'``).

Both return a :class:`DrrPosterior`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

from alsnet.exceptions import ConvergenceError
from alsnet.trials._errors import TrialDesignError
from alsnet.trials.design import WEEKS_TO_MONTHS

__all__ = [
    "DrrData",
    "DrrPosterior",
    "fit_drr_laplace",
    "fit_drr_mcmc",
    "simulate_drr_data",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: what the DRR multiplies: the mean slope (default) or every patient's slope (HEALEY's literal
#: ``beta_i exp(theta)``, which also scales the between-patient SD of the active slopes)
SLOPE_EFFECTS = ("mean", "patient")


def _check_slope_effect(slope_effect: str) -> bool:
    """Validate ``slope_effect``; True when the DRR scales every patient's slope."""
    if slope_effect not in SLOPE_EFFECTS:
        raise TrialDesignError(
            f"slope_effect: must be one of {SLOPE_EFFECTS}, got {slope_effect!r}"
        )
    return slope_effect == "patient"


@dataclass(frozen=True)
class DrrData:
    """Patient-level data of one regimen and its controls (long format for the visits).

    Attributes
    ----------
    obs_patient : ndarray of int, shape (M,)
        Patient index (0..N-1) of each ALSFRS-R observation.
    obs_month : ndarray of float, shape (M,)
        Time of the observation since the patient's randomisation (months, >= 0).
    obs_alsfrs : ndarray of float, shape (M,)
        ALSFRS-R total (points, 0-48).
    active : ndarray of bool, shape (N,)
        True for the active arm, False for controls (placebo).
    period : ndarray of int, shape (N,)
        Calendar period of randomisation (0..D-1); all zeros = no time adjustment.
    event : ndarray of bool, shape (N,)
        Death or permanent assisted ventilation during follow-up.
    exposure_months : ndarray of float, shape (N,)
        Follow-up time to the event or censoring (months, >= 0).
    """

    obs_patient: IntArray
    obs_month: FloatArray
    obs_alsfrs: FloatArray
    active: BoolArray
    period: IntArray
    event: BoolArray
    exposure_months: FloatArray

    @classmethod
    def from_arrays(
        cls,
        obs_patient: ArrayLike,
        obs_month: ArrayLike,
        obs_alsfrs: ArrayLike,
        active: ArrayLike,
        event: ArrayLike,
        exposure_months: ArrayLike,
        period: ArrayLike | None = None,
    ) -> DrrData:
        """Validate and build; errors name the argument and the rule broken."""
        act = np.asarray(active)
        if act.ndim != 1 or act.size < 2 or not np.isin(act, (0, 1)).all():
            raise TrialDesignError("active: must be one 0/1 flag per patient (>= 2 patients)")
        act = act.astype(bool)
        n = act.size
        if act.all() or not act.any():
            raise TrialDesignError("active: needs both active and control patients")
        ev = np.asarray(event)
        if ev.shape != (n,) or not np.isin(ev, (0, 1)).all():
            raise TrialDesignError(f"event: must be one 0/1 flag per patient ({n})")
        expo = np.asarray(exposure_months, dtype=np.float64)
        if expo.shape != (n,) or not np.all(np.isfinite(expo)) or (expo < 0).any():
            raise TrialDesignError(f"exposure_months: must be {n} finite values >= 0")
        per = np.zeros(n, dtype=np.int64) if period is None else np.asarray(period)
        if per.shape != (n,) or not np.issubdtype(per.dtype, np.integer) or (per < 0).any():
            raise TrialDesignError(f"period: must be {n} integers >= 0")
        # relabel periods 0..D-1 in order, dropping empty ones
        _, per = np.unique(per, return_inverse=True)
        op = np.asarray(obs_patient)
        om = np.asarray(obs_month, dtype=np.float64)
        oy = np.asarray(obs_alsfrs, dtype=np.float64)
        if not (op.ndim == om.ndim == oy.ndim == 1 and op.size == om.size == oy.size):
            raise TrialDesignError("obs_patient, obs_month, obs_alsfrs: 1-D of the same length")
        if op.size and (not np.issubdtype(op.dtype, np.integer) or op.min() < 0 or op.max() >= n):
            raise TrialDesignError(f"obs_patient: must be patient indices in 0..{n - 1}")
        if not (np.all(np.isfinite(om)) and np.all(np.isfinite(oy))):
            raise TrialDesignError("obs_month, obs_alsfrs: must be finite (drop missing visits)")
        if (om < 0).any():
            raise TrialDesignError("obs_month: visits before randomisation (< 0) are not allowed")
        return cls(
            obs_patient=op.astype(np.int64),
            obs_month=om,
            obs_alsfrs=oy,
            active=act,
            period=per.astype(np.int64),
            event=ev.astype(bool),
            exposure_months=expo,
        )

    @property
    def n_patients(self) -> int:
        """Number of patients N."""
        return int(self.active.size)

    @property
    def n_periods(self) -> int:
        """Number of calendar periods D."""
        return int(self.period.max()) + 1

    def with_period(self, period: ArrayLike | None) -> DrrData:
        """Copy with another period labelling (``None``: a single period, no adjustment)."""
        return DrrData.from_arrays(
            self.obs_patient,
            self.obs_month,
            self.obs_alsfrs,
            self.active,
            self.event,
            self.exposure_months,
            period=period,
        )


@dataclass(frozen=True)
class DrrPosterior:
    """Posterior of the disease-progression rate ratio (DRR) of one regimen.

    Attributes
    ----------
    method : str
        ``"laplace"`` or ``"mcmc"``.
    log_drr_mean, log_drr_sd : float
        Posterior mean and SD of ``theta = log DRR``.
    drr_mean : float
        Posterior mean of the DRR.
    drr_ci : tuple of float
        Central 95% credible interval of the DRR.
    placebo_slope : float
        Posterior mean of ``-mu_b`` (ALSFRS-R points/month of a control patient, period 0).
    n_active, n_control : int
        Patients in each arm.
    params : dict
        Posterior means of the other parameters (``mu_b``, ``sigma_b``, ``sigma_e``,
        ``lambda0`` per month, ``rho`` per period).
    draws : ndarray or None
        MCMC draws of the DRR (``None`` for the Laplace fit).
    diagnostics : dict
        MCMC: ``r_hat`` and ``ess`` of the DRR, ``divergences``; Laplace: ``iterations`` and
        ``bounded`` (1 when the mode needed the prior bound ``DRR < 2``, see
        :func:`fit_drr_laplace`).
    slope_effect : str
        What the DRR multiplies: ``"mean"`` (the mean slope; default) or ``"patient"``
        (every patient's slope), see the module docstring.
    """

    method: str
    log_drr_mean: float
    log_drr_sd: float
    drr_mean: float
    drr_ci: tuple[float, float]
    placebo_slope: float
    n_active: int
    n_control: int
    params: dict[str, Any] = field(default_factory=dict)
    draws: FloatArray | None = None
    diagnostics: dict[str, float] = field(default_factory=dict)
    slope_effect: str = "mean"

    def pr_below(self, c: float) -> float:
        """Posterior probability ``Pr(DRR < c)``."""
        if self.draws is not None:
            return float(np.mean(self.draws < c))
        z = (math.log(c) - self.log_drr_mean) / self.log_drr_sd
        return float(special.ndtr(z))

    def summary(self) -> pd.DataFrame:
        """One-row table: method, DRR mean and 95% CrI, Pr(DRR < 1), Pr(DRR < 0.9), n."""
        return pd.DataFrame(
            [
                {
                    "method": self.method,
                    "drr_mean": self.drr_mean,
                    "drr_ci_low": self.drr_ci[0],
                    "drr_ci_high": self.drr_ci[1],
                    "pr_drr_lt_1": self.pr_below(1.0),
                    "pr_drr_lt_0.9": self.pr_below(0.9),
                    "placebo_slope": self.placebo_slope,
                    "n_active": self.n_active,
                    "n_control": self.n_control,
                }
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (no draws)."""
        return {
            "method": self.method,
            "slope_effect": self.slope_effect,
            "drr_mean": self.drr_mean,
            "drr_ci": list(self.drr_ci),
            "log_drr_mean": self.log_drr_mean,
            "log_drr_sd": self.log_drr_sd,
            "pr_drr_lt_1": self.pr_below(1.0),
            "pr_drr_lt_0.9": self.pr_below(0.9),
            "placebo_slope": self.placebo_slope,
            "n_active": self.n_active,
            "n_control": self.n_control,
            "params": {
                k: (list(map(float, v)) if isinstance(v, list | tuple | np.ndarray) else float(v))
                for k, v in self.params.items()
            },
            "diagnostics": {k: float(v) for k, v in self.diagnostics.items()},
        }

    def __repr__(self) -> str:
        lo, hi = self.drr_ci
        return (
            f"DrrPosterior({self.method}, DRR {self.drr_mean:.3f} [{lo:.3f}, {hi:.3f}], "
            f"Pr(DRR<1)={self.pr_below(1.0):.3f}, n={self.n_active}+{self.n_control})"
        )


# ------------------------------------------------------------------------------ Laplace
@dataclass(frozen=True)
class _Summaries:
    """Per-patient sufficient statistics of the ALSFRS-R visits (intercept integrated out)."""

    k: FloatArray  # visits
    slope: FloatArray  # OLS slope (points/month); 0 where k < 2
    sxx: FloatArray  # sum (t - mean t)^2
    rss: FloatArray  # residual sum of squares of the patient's line
    has2: BoolArray


def _summaries(data: DrrData) -> _Summaries:
    n = data.n_patients
    p, t, y = data.obs_patient, data.obs_month, data.obs_alsfrs
    k = np.bincount(p, minlength=n).astype(np.float64)
    kk = np.maximum(k, 1.0)
    tm = np.bincount(p, weights=t, minlength=n) / kk
    ym = np.bincount(p, weights=y, minlength=n) / kk
    dt, dy = t - tm[p], y - ym[p]
    sxx = np.bincount(p, weights=dt * dt, minlength=n).astype(np.float64)
    sxy = np.bincount(p, weights=dt * dy, minlength=n)
    syy = np.bincount(p, weights=dy * dy, minlength=n)
    has2 = (k >= 2) & (sxx > 1e-12)
    slope = np.where(has2, sxy / np.where(has2, sxx, 1.0), 0.0)
    rss = np.where(has2, np.maximum(syy - slope * sxy, 0.0), 0.0)
    return _Summaries(k, slope, sxx, rss, has2)


@dataclass(frozen=True)
class _Problem:
    act: FloatArray
    per: IntArray
    n_per: int
    s: _Summaries
    event: FloatArray
    expo: FloatArray
    period_sd: float
    patient_effect: bool = False  # slope_effect == "patient": the DRR also scales sigma_b

    # parameter vector: [theta, mu_b, log sigma_b, log sigma_e, log lambda0, rho_1..rho_{D-1}]
    def logpost_grad(self, x: FloatArray) -> tuple[float, FloatArray]:
        theta, mu_b, lsb, lse, llam = x[:5]
        rho = np.concatenate([[0.0], x[5:]])
        sb2, se2 = math.exp(2 * lsb), math.exp(2 * lse)
        lam0 = math.exp(llam)
        s = self.s
        h = s.has2
        eta = theta * self.act + rho[self.per]
        m = np.exp(eta)
        inv_sxx = np.where(h, 1.0 / np.where(h, s.sxx, 1.0), 0.0)
        mu = -mu_b * m
        # between-patient slope variance: sigma_b^2 (mean model) or sigma_b^2 m^2 (patient)
        vb = sb2 * m * m if self.patient_effect else np.full_like(m, sb2)
        v = vb + se2 * inv_sxx
        v = np.where(h, v, 1.0)
        r = np.where(h, s.slope - mu, 0.0)
        lp = float(np.sum(np.where(h, -0.5 * np.log(v) - 0.5 * r * r / v, 0.0)))
        dmu = r / v
        dv = np.where(h, -0.5 / v + 0.5 * r * r / (v * v), 0.0)
        g_eta = dmu * mu + (dv * 2.0 * vb if self.patient_effect else 0.0)
        g = np.zeros_like(x)
        g[0] = float(np.sum(self.act * g_eta))
        g[1] = float(np.sum(dmu * -m))
        g[2] = float(np.sum(dv * 2.0 * vb))
        g[3] = float(np.sum(dv * 2.0 * se2 * inv_sxx))
        # residual sums of squares (k - 2 degrees of freedom per patient)
        dof = np.where(h, s.k - 2.0, 0.0).sum()
        rss = float(s.rss.sum())
        lp += -dof * lse - 0.5 * rss / se2
        g[3] += -dof + rss / se2
        # exponential event model
        ha = np.exp(theta * self.act)
        cum = lam0 * ha * self.expo
        lp += float(np.sum(self.event * (llam + theta * self.act) - cum))
        g[0] += float(np.sum(self.act * (self.event - cum)))
        g[4] += float(np.sum(self.event - cum))
        # period effects: per-patient gradients summed by period (rho_0 = 0)
        if self.n_per > 1:
            g_rho = np.bincount(self.per, weights=g_eta, minlength=self.n_per)
            g[5:] = g_rho[1:]
            steps = np.diff(rho)
            tau2 = self.period_sd**2
            lp += float(-0.5 * np.sum(steps * steps) / tau2)
            d_steps = -steps / tau2  # d lp / d step_d
            # rho_d appears in step_d (+) and step_{d+1} (-)
            g_r = d_steps.copy()
            g_r[:-1] -= d_steps[1:]
            g[5:] += g_r
        # priors: DRR ~ U(0, 2) (Jacobian e^theta), mu_b ~ N(1, 1), sigma_b ~ U(0, 2),
        # sigma_e ~ U(0, 4) (Jacobians sigma), lambda0 ~ Gamma(0.01, 1) (Jacobian lambda0)
        lp += theta - 0.5 * (mu_b - 1.0) ** 2 + lsb + lse + 0.01 * llam - lam0
        g[0] += 1.0
        g[1] += -(mu_b - 1.0)
        g[2] += 1.0
        g[3] += 1.0
        g[4] += 0.01 - lam0
        return lp, g


def _logpost_bounded(prob: _Problem, x: FloatArray) -> tuple[float, FloatArray]:
    """Log posterior and gradient with ``x[0] = z``, ``DRR = 2 logistic(z)`` (``DRR < 2``).

    The same posterior as :meth:`_Problem.logpost_grad` with the prior's upper bound
    ``DRR < 2`` built in: on this scale the ``U(0, 2)`` density with its Jacobian is
    ``logistic(z) logistic(-z)``, i.e. the ``theta``-scale log posterior plus
    ``log(1 - DRR/2)``.
    """
    z = float(x[0])
    theta = math.log(2.0) - float(np.logaddexp(0.0, -z))
    xt = x.copy()
    xt[0] = theta
    lp, g = prob.logpost_grad(xt)
    lp += -float(np.logaddexp(0.0, z))  # log(1 - DRR/2) = log logistic(-z)
    g[0] = g[0] * float(special.expit(-z)) - float(special.expit(z))
    return lp, g


def _hessian(fun: Any, x: FloatArray, step: float = 1e-5) -> FloatArray:
    """Central finite-difference Hessian from an analytic gradient (symmetrised)."""
    d = x.size
    h = np.empty((d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = step * max(1.0, abs(x[j]))
        h[:, j] = (fun(x + e)[1] - fun(x - e)[1]) / (2 * e[j])
    return 0.5 * (h + h.T)


def _start(data: DrrData, s: _Summaries, n_per: int) -> FloatArray:
    ctrl = s.has2 & ~data.active
    slopes = s.slope[ctrl] if ctrl.any() else s.slope[s.has2]
    mu_b = max(-float(np.mean(slopes)) if slopes.size else 1.0, 0.1)
    dof = float(np.where(s.has2, s.k - 2.0, 0.0).sum())
    se2 = float(s.rss.sum()) / dof if dof > 0 else 1.77**2
    sb2 = max(float(np.var(slopes)) - se2 * float(np.mean(1.0 / s.sxx[ctrl])), 0.05)
    lam = (data.event.sum() + 0.5) / (data.exposure_months.sum() + 1.0)
    return np.concatenate(
        [
            [
                0.0,
                mu_b,
                0.5 * math.log(min(sb2, 3.9)),
                0.5 * math.log(min(se2, 15.9)),
                math.log(lam),
            ],
            np.zeros(n_per - 1),
        ]
    )


def fit_drr_laplace(
    data: DrrData, *, period_sd: float = 0.5, slope_effect: str = "mean"
) -> DrrPosterior:
    """Fit the DRR model by a Laplace approximation (fast; see the module docstring).

    Parameters
    ----------
    data : DrrData
        The regimen's active patients and its controls.
    period_sd : float, default 0.5
        SD of the calendar-period random walk of ``rho`` (log slope ratio per period step);
        unused with a single period.
    slope_effect : {"mean", "patient"}, default "mean"
        What the DRR multiplies: the mean ALSFRS-R slope (between-patient SD of the slopes
        unchanged) or every patient's slope (HEALEY's literal ``beta_i exp(theta)``; the SD is
        scaled too). See the module docstring.

    Returns
    -------
    DrrPosterior
        ``log DRR ~ N(log_drr_mean, log_drr_sd^2)``; ``drr_mean = exp(m + sd^2/2)``.

    Raises
    ------
    TrialDesignError
        Fewer than 2 patients with >= 2 visits in an arm; bad ``period_sd`` or
        ``slope_effect``.
    ConvergenceError
        The optimiser failed.

    Notes
    -----
    The mode is searched on the ``log DRR`` scale without the prior's upper bound ``DRR < 2``.
    If it lies outside (or the search diverges: with few patients and no events the mean model's
    posterior without the bound is improper, ``theta -> inf`` with ``mu_b -> 0``), the fit is
    redone on the scale ``DRR = 2 logistic(z)``, where the bound holds, and the Gaussian in ``z``
    is carried to ``log DRR`` by the delta method (``diagnostics["bounded"] = 1``).

    Examples
    --------
    >>> d = simulate_drr_data(600, 200, drr=0.7, rng=np.random.default_rng(1))
    >>> post = fit_drr_laplace(d)
    >>> 0.6 < post.drr_mean < 0.8, post.pr_below(1.0) > 0.99
    (True, True)
    """
    if period_sd <= 0:
        raise TrialDesignError(f"period_sd: must be > 0, got {period_sd:g}")
    patient_effect = _check_slope_effect(slope_effect)
    s = _summaries(data)
    for label, mask in (("active", data.active), ("control", ~data.active)):
        if int(np.sum(s.has2 & mask)) < 2:
            raise TrialDesignError(
                f"{label}: fewer than 2 patients with >= 2 ALSFRS-R visits; cannot fit the DRR"
            )
    n_per = data.n_periods
    prob = _Problem(
        act=data.active.astype(np.float64),
        per=data.period,
        n_per=n_per,
        s=s,
        event=data.event.astype(np.float64),
        expo=data.exposure_months,
        period_sd=period_sd,
        patient_effect=patient_effect,
    )

    def negf(x: FloatArray) -> tuple[float, FloatArray]:
        lp, g = prob.logpost_grad(x)
        return -lp, -g

    def negf_bounded(x: FloatArray) -> tuple[float, FloatArray]:
        lp, g = _logpost_bounded(prob, x)
        return -lp, -g

    def converged(r: optimize.OptimizeResult) -> bool:
        return bool(np.all(np.isfinite(r.x)) and (r.success or np.max(np.abs(r.jac)) < 1e-3))

    x0 = _start(data, s, n_per)  # theta = 0 (and z = 0): DRR 1
    res: optimize.OptimizeResult | None = None
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging search: see below
            res = optimize.minimize(negf, x0, jac=True, method="BFGS", options={"maxiter": 1000})
    except OverflowError:
        res = None
    bounded = res is None or not (converged(res) and res.x[0] < math.log(2.0))
    if bounded:
        try:
            res = optimize.minimize(
                negf_bounded, x0, jac=True, method="BFGS", options={"maxiter": 1000}
            )
        except OverflowError:
            raise ConvergenceError("DRR Laplace fit diverged (overflow)") from None
    assert res is not None
    if not converged(res):
        raise ConvergenceError(
            f"DRR Laplace fit did not converge ({res.message}). Check: 1) both arms have "
            "patients with >= 2 ALSFRS-R visits; 2) controls decline on average."
        )
    x = np.asarray(res.x, dtype=np.float64)
    fun = (lambda v: _logpost_bounded(prob, v)) if bounded else prob.logpost_grad
    hess = -_hessian(fun, x)
    try:
        cov = np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        raise ConvergenceError("DRR Laplace fit: singular Hessian at the mode") from None
    var = float(cov[0, 0])
    if not (math.isfinite(var) and var > 0):
        raise ConvergenceError("DRR Laplace fit: the Hessian at the mode is not negative definite")
    if bounded:  # delta method from z to theta = log 2 - log(1 + e^-z)
        zz = float(x[0])
        x[0] = math.log(2.0) - float(np.logaddexp(0.0, -zz))
        var *= float(special.expit(-zz)) ** 2
    m, sd = float(x[0]), math.sqrt(var)
    z = 1.959963984540054
    rho = [0.0, *map(float, x[5:])]
    return DrrPosterior(
        method="laplace",
        log_drr_mean=m,
        log_drr_sd=sd,
        drr_mean=math.exp(m + 0.5 * var),
        drr_ci=(math.exp(m - z * sd), math.exp(m + z * sd)),
        placebo_slope=-float(x[1]),
        n_active=int(data.active.sum()),
        n_control=int((~data.active).sum()),
        params={
            "mu_b": float(x[1]),
            "sigma_b": math.exp(x[2]),
            "sigma_e": math.exp(x[3]),
            "lambda0": math.exp(x[4]),
            "rho": rho,
        },
        diagnostics={"iterations": float(res.nit), "bounded": float(bounded)},
        slope_effect=slope_effect,
    )


# ------------------------------------------------------------------------------- MCMC
def _numpyro_model(
    k: Any,
    sums: Any,
    active: Any,
    period: Any,
    event: Any,
    exposure: Any,
    y_shift: float,
    n_periods: int,
    period_sd: float,
    patient_effect: bool = False,
) -> None:
    """Full DRR model with latent slopes; intercepts integrated out exactly.

    ``patient_effect``: the DRR scales every patient's slope (``slope_effect="patient"``),
    otherwise only the mean slope.

    With ``a_i ~ N(alpha, sigma_a^2)`` the visits of patient ``i`` given ``b_i`` are
    ``N(alpha 1 - beta_i t_i, sigma_e^2 I + sigma_a^2 J)`` (``beta_i = b_i m_i``); its log
    density needs only the patient's sums ``(St, Sy, Stt, Sty, Syy)`` (``y`` centred by
    ``y_shift``), so the cost is per patient, not per visit, and the sampler does not see the
    intercept-slope correlation.
    """
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    n = active.shape[0]
    drr = numpyro.sample("drr", dist.Uniform(0.0, 2.0))
    theta = jnp.log(drr)
    mu_b = numpyro.sample("mu_b", dist.Normal(1.0, 1.0))
    sigma_b = numpyro.sample("sigma_b", dist.Uniform(0.0, 2.0))
    sigma_e = numpyro.sample("sigma_e", dist.Uniform(0.0, 4.0))
    alpha = numpyro.sample("alpha", dist.Normal(38.0, 10.0)) - y_shift
    sigma_a = numpyro.sample("sigma_a", dist.Uniform(0.0, 10.0))
    lam0 = numpyro.sample("lambda0", dist.Gamma(0.01, 1.0))
    if n_periods > 1:
        steps = numpyro.sample(
            "rho_steps", dist.Normal(0.0, period_sd).expand([n_periods - 1]).to_event(1)
        )
        rho = jnp.concatenate([jnp.zeros(1), jnp.cumsum(steps)])
    else:
        rho = jnp.zeros(1)
    m = jnp.exp(theta * active + rho[period])
    # mean model: beta_i = mu_b m_i + u_i, u_i ~ N(0, sigma_b^2); patient model:
    # beta_i = b_i m_i with b_i ~ N(mu_b, sigma_b^2). Either way beta_i is sampled on the
    # observed scale, so a change of the DRR does not force every active latent slope to move
    sd_beta = sigma_b * m if patient_effect else sigma_b * jnp.ones_like(m)
    with numpyro.plate("patients", n):
        beta = numpyro.sample("beta", dist.Normal(mu_b * m, sd_beta))
    st, sy, stt, sty, syy = sums
    # r_ij = y_ij - alpha + beta_i t_ij
    s_r = sy - k * alpha + beta * st
    s_rr = syy - 2 * alpha * sy + k * alpha**2 + 2 * beta * (sty - alpha * st) + beta**2 * stt
    se2, sa2 = sigma_e**2, sigma_a**2
    c = sa2 / (se2 + k * sa2)
    quad = (s_rr - c * s_r**2) / se2
    logdet = k * jnp.log(se2) + jnp.log1p(k * sa2 / se2)
    numpyro.factor("alsfrs", -0.5 * jnp.sum(quad + logdet + k * jnp.log(2 * jnp.pi)))
    log_rate = jnp.log(lam0) + theta * active
    numpyro.factor("events", jnp.sum(event * log_rate - jnp.exp(log_rate) * exposure))


def fit_drr_mcmc(
    data: DrrData,
    *,
    num_chains: int = 2,
    num_warmup: int = 500,
    num_samples: int = 500,
    seed: int = 0,
    period_sd: float = 0.5,
    slope_effect: str = "mean",
) -> DrrPosterior:
    """Fit the full DRR model by NUTS in NumPyro (latent patient intercepts and slopes).

    Parameters
    ----------
    data : DrrData
        The regimen's active patients and its controls.
    num_chains, num_warmup, num_samples : int
        Chains (run one after the other on the CPU), warm-up and kept draws per chain.
    seed : int, default 0
        PRNG seed of the sampler.
    period_sd : float, default 0.5
        SD of the calendar-period random walk (as in :func:`fit_drr_laplace`).
    slope_effect : {"mean", "patient"}, default "mean"
        What the DRR multiplies (as in :func:`fit_drr_laplace`).

    Returns
    -------
    DrrPosterior
        With the DRR ``draws`` and ``diagnostics`` (``r_hat``, ``ess``, ``divergences``).

    Raises
    ------
    ImportError
        NumPyro/JAX are not installed (``pip install 'alsnet[bayes]'``).
    TrialDesignError
        Bad ``slope_effect``.
    """
    patient_effect = _check_slope_effect(slope_effect)
    try:
        import jax
        import numpyro
        from numpyro.diagnostics import effective_sample_size, split_gelman_rubin
        from numpyro.infer import MCMC, NUTS, init_to_value
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "fit_drr_mcmc needs NumPyro and JAX: pip install 'alsnet[bayes]'"
        ) from exc
    s = _summaries(data)
    start = _start(data, s, data.n_periods)
    init = {
        "drr": 1.0,
        "mu_b": float(start[1]),
        "sigma_b": float(min(math.exp(start[2]), 1.9)),
        "sigma_e": float(min(math.exp(start[3]), 3.9)),
        "lambda0": float(math.exp(start[4])),
        "alpha": float(np.clip(np.mean(data.obs_alsfrs), 10.0, 48.0)),
        "sigma_a": 5.0,
    }
    kernel = NUTS(_numpyro_model, init_strategy=init_to_value(values=init))
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method="sequential",
        progress_bar=False,
    )
    n = data.n_patients
    p, t = data.obs_patient, data.obs_month
    y_shift = float(np.mean(data.obs_alsfrs))
    y = data.obs_alsfrs - y_shift
    sums = tuple(np.bincount(p, weights=w, minlength=n) for w in (t, y, t * t, t * y, y * y))
    mcmc.run(
        jax.random.PRNGKey(seed),
        np.bincount(p, minlength=n).astype(np.float64),
        sums,
        data.active.astype(np.float64),
        data.period,
        data.event.astype(np.float64),
        data.exposure_months,
        y_shift,
        data.n_periods,
        period_sd,
        patient_effect,
        extra_fields=("diverging",),
    )
    del numpyro  # imported above only to fail early when NumPyro is missing
    grouped = mcmc.get_samples(group_by_chain=True)
    drr_c = np.asarray(grouped["drr"], dtype=np.float64)  # (chains, draws)
    draws = drr_c.reshape(-1)
    div = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    r_hat = float(split_gelman_rubin(drr_c)) if num_chains > 1 else float("nan")
    ess = float(effective_sample_size(drr_c))
    theta = np.log(draws)
    flat = {
        k: np.asarray(v, dtype=np.float64).reshape(-1, *v.shape[2:]) for k, v in grouped.items()
    }
    rho = [0.0]
    if "rho_steps" in flat:
        rho += list(np.cumsum(flat["rho_steps"], axis=1).mean(axis=0))
    return DrrPosterior(
        method="mcmc",
        log_drr_mean=float(theta.mean()),
        log_drr_sd=float(theta.std(ddof=1)),
        drr_mean=float(draws.mean()),
        drr_ci=(float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))),
        placebo_slope=-float(flat["mu_b"].mean()),
        n_active=int(data.active.sum()),
        n_control=int((~data.active).sum()),
        params={
            "mu_b": float(flat["mu_b"].mean()),
            "sigma_b": float(flat["sigma_b"].mean()),
            "sigma_e": float(flat["sigma_e"].mean()),
            "lambda0": float(flat["lambda0"].mean()),
            "rho": [float(r) for r in rho],
        },
        draws=draws,
        diagnostics={"r_hat": r_hat, "ess": ess, "divergences": float(div)},
        slope_effect=slope_effect,
    )


# --------------------------------------------------------------------------- simulation
def simulate_drr_data(
    n_active: int,
    n_control: int,
    *,
    drr: float,
    rng: np.random.Generator,
    hazard_ratio: float | None = None,
    slope_mean: float = -1.03,
    slope_sd: float = 0.76,
    residual_sd: float = 1.77,
    intercept_mean: float = 38.0,
    intercept_sd: float = 5.0,
    mortality_24w: float = 0.05,
    dropout_per_month: float = 0.02,
    visit_weeks: Sequence[float] = (0, 4, 8, 12, 16, 20, 24),
    period: ArrayLike | None = None,
    period_slope: Sequence[float] | None = None,
    effect: str = "multiplicative",
) -> DrrData:
    """Simulate one two-arm data set from the DRR model (for tests, demos and checks).

    Parameters
    ----------
    n_active, n_control : int
        Patients per arm (active first in the output).
    drr : float
        True DRR: the ratio of the mean ALSFRS-R slopes, active / control (and the default
        hazard ratio); how it is applied to each active patient is set by ``effect``.
    rng : numpy.random.Generator
        Source of randomness.
    hazard_ratio : float, optional
        True event hazard ratio of the active arm (default ``drr``).
    slope_mean, slope_sd, residual_sd : float
        ALSFRS-R slope mean and SD (points/month, negative = decline) and residual SD.
    intercept_mean, intercept_sd : float
        Baseline ALSFRS-R total (points).
    mortality_24w, dropout_per_month : float
        24-week event probability of a control patient and monthly dropout probability.
    visit_weeks : sequence of float
        Scheduled visits (weeks since randomisation).
    period : array_like of int, optional
        Calendar period of each patient (default: all 0).
    period_slope : sequence of float, optional
        Multiplier of every patient's slope by period (calendar-time drift; default 1).
    effect : {"multiplicative", "additive"}, default "multiplicative"
        ``"multiplicative"``: an active patient's slope is ``drr`` times a control-like slope
        (its between-patient SD shrinks by ``drr`` too; alsnet's trial simulator);
        ``"additive"``: ``(drr - 1) * slope_mean`` (times the period multiplier) is added to
        every active slope, so the mean ratio is ``drr`` and the SD is unchanged (HEALEY SAP
        simulations).

    Returns
    -------
    DrrData
    """
    if effect not in ("multiplicative", "additive"):
        raise TrialDesignError(f"effect: must be 'multiplicative' or 'additive', got {effect!r}")
    n = n_active + n_control
    active = np.arange(n) < n_active
    per = np.zeros(n, dtype=np.int64) if period is None else np.asarray(period, dtype=np.int64)
    mult = np.ones(int(per.max()) + 1) if period_slope is None else np.asarray(period_slope)
    t = np.asarray(visit_weeks, dtype=np.float64) * WEEKS_TO_MONTHS
    b = (slope_mean + slope_sd * rng.standard_normal(n)) * mult[per]
    if effect == "multiplicative":
        b = np.where(active, b * drr, b)
    else:
        b = np.where(active, b + (drr - 1.0) * slope_mean * mult[per], b)
    a = intercept_mean + intercept_sd * rng.standard_normal(n)
    y = a[:, None] + b[:, None] * t[None, :] + residual_sd * rng.standard_normal((n, t.size))
    hr = drr if hazard_ratio is None else hazard_ratio
    lam = -math.log1p(-mortality_24w) / (24.0 * WEEKS_TO_MONTHS) * np.where(active, hr, 1.0)
    death = (
        rng.exponential(1.0, n) / np.where(lam > 0, lam, 1.0)
        if mortality_24w > 0
        else np.full(n, np.inf)
    )
    drop = (
        rng.exponential(1.0, n) / -math.log1p(-dropout_per_month)
        if dropout_per_month > 0
        else np.full(n, np.inf)
    )
    end = np.minimum.reduce([death, drop, np.full(n, t[-1])])
    event = death <= np.minimum(drop, t[-1])
    seen = t[None, :] <= end[:, None]
    seen[:, 0] = True
    pi, vi = np.nonzero(seen)
    return DrrData.from_arrays(
        pi, t[vi], y[pi, vi], active, event, np.maximum(end, 0.0), period=per
    )
