"""PROCOVA: prognostic covariate adjustment of a two-arm trial (Schuler et al. 2022).

An ANCOVA of the outcome on the treatment arm and a prognostic score (the digital
twin's forecast of the untreated outcome, from a model trained on historical
controls) is unbiased, keeps the type I error and has the asymptotic variance

    V = n·Var(τ̂) = σ₁²/π₁ + σ₀²/π₀ − π₀π₁ (ρ₁σ₁/π₁ + ρ₀σ₀/π₀)²

(n total sample size, π_a allocation fraction, σ_a outcome SD and ρ_a the
correlation of outcome and score in arm a). With equal σ and ρ this is
σ²(1 − ρ²)/(n π₀π₁), so the adjusted trial needs n·(1 − ρ²) patients for the
power that an unadjusted trial reaches with n.

References
----------
Schuler A, Walsh D, Hall D, Walsh J, Fisher C. Increasing the efficiency of
randomized trial estimates via linear adjustment for a prognostic score.
Int J Biostat 2022;18(2):329-356. doi:10.1515/ijb-2021-0072.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from alsnet.exceptions import DataValidationError, Problem

__all__ = [
    "ProcovaResult",
    "ResamplingCheck",
    "SampleSize",
    "adjusted_sample_size",
    "procova_ancova",
    "procova_control_size",
    "procova_power",
    "procova_resampling",
    "procova_sample_size",
    "procova_variance",
]

Alternative = Literal["two-sided", "one-sided"]
Method = Literal["normal", "t"]


def _check(name: str, value: float, lo: float, hi: float, *, closed: bool = False) -> None:
    ok = lo <= value <= hi if closed else lo < value < hi
    if not (ok and math.isfinite(value)):
        bracket = "[]" if closed else "()"
        raise ValueError(f"{name} must lie in {bracket[0]}{lo}, {hi}{bracket[1]}; got {value!r}")


def _z_alpha(alpha: float, alternative: Alternative) -> float:
    _check("alpha", alpha, 0.0, 1.0)
    if alternative not in ("two-sided", "one-sided"):
        raise ValueError(f"alternative must be 'two-sided' or 'one-sided'; got {alternative!r}")
    a = alpha / 2 if alternative == "two-sided" else alpha
    return float(stats.norm.ppf(1 - a))


def procova_variance(
    *,
    rho: float,
    sigma: float = 1.0,
    allocation: float = 0.5,
    rho_control: float | None = None,
    sigma_control: float | None = None,
) -> float:
    """Asymptotic variance of the PROCOVA effect estimate, times the total sample size.

    Parameters
    ----------
    rho : float
        Correlation of outcome and prognostic score in the treated arm (and in the
        control arm unless ``rho_control`` is given), in [0, 1).
    sigma : float, default 1.0
        Outcome SD in the treated arm (and control arm unless ``sigma_control``),
        in outcome units (e.g. ALSFRS-R points/month).
    allocation : float, default 0.5
        Fraction π₁ of patients randomised to treatment, in (0, 1).
    rho_control, sigma_control : float, optional
        ρ₀ and σ₀ of the control arm when they differ from the treated arm.

    Returns
    -------
    float
        V = n·Var(τ̂), in squared outcome units.

    Examples
    --------
    >>> round(procova_variance(rho=0.7, allocation=0.75), 2)
    2.72
    >>> round(procova_variance(rho=0.0), 2)
    4.0
    """
    rho0 = rho if rho_control is None else rho_control
    s0 = sigma if sigma_control is None else sigma_control
    _check("rho", rho, -1.0, 1.0)
    _check("rho_control", rho0, -1.0, 1.0)
    _check("allocation", allocation, 0.0, 1.0)
    for name, s in (("sigma", sigma), ("sigma_control", s0)):
        if not (s > 0 and math.isfinite(s)):
            raise ValueError(f"{name} must be a positive finite number; got {s!r}")
    p1, p0 = allocation, 1.0 - allocation
    return float(sigma**2 / p1 + s0**2 / p0 - p0 * p1 * (rho * sigma / p1 + rho0 * s0 / p0) ** 2)


def adjusted_sample_size(n_unadjusted: float, rho: float) -> float:
    """Total sample size of a PROCOVA trial with the power of an unadjusted one of size n.

    N_adj = N·(1 − ρ²), valid at equal outcome variances in both arms.

    Parameters
    ----------
    n_unadjusted : float
        Total sample size of the unadjusted (t-test) design, patients.
    rho : float
        Correlation of outcome and prognostic score, in (−1, 1).

    Returns
    -------
    float
        Total sample size of the adjusted design (not rounded), patients.

    Examples
    --------
    >>> adjusted_sample_size(400, 0.5)
    300.0
    """
    _check("rho", rho, -1.0, 1.0)
    if not n_unadjusted > 0:
        raise ValueError(f"n_unadjusted must be positive; got {n_unadjusted!r}")
    return float(n_unadjusted * (1.0 - rho**2))


def procova_power(
    *,
    n: ArrayLike,
    delta: float,
    sigma: float,
    rho: float,
    alpha: float = 0.05,
    ratio: ArrayLike = 1.0,
    alternative: Alternative = "two-sided",
    method: Method = "t",
) -> np.ndarray:
    """Power of the PROCOVA ANCOVA (or, with ``rho=0``, of the two-sample t-test).

    Parameters
    ----------
    n : array_like of int
        Total sample size(s), patients (both arms).
    delta : float
        True treatment effect, outcome units (e.g. points/month).
    sigma : float
        Outcome SD in each arm, outcome units.
    rho : float
        Correlation of outcome and prognostic score, in [0, 1); 0 gives the
        unadjusted test.
    alpha : float, default 0.05
        Type I error rate, split over both tails for ``alternative="two-sided"``.
    ratio : array_like of float, default 1.0
        Allocation ratio r = n₁/n₀ (treated per control patient), broadcast with ``n``.
    alternative : {"two-sided", "one-sided"}
        Test direction; "one-sided" tests in the direction of ``delta``.
    method : {"t", "normal"}
        "t": noncentral t with ν = n − 3 degrees of freedom (n − 2 when
        ``rho == 0``) and noncentrality √(r n/(1+r)²)·Δ/(σ√(1−ρ²)) (as the R
        package *postcard*); "normal": Φ(|Δ|/√(V/n) − z).

    Returns
    -------
    ndarray of float
        Power in [0, 1], shaped like ``n``.

    Examples
    --------
    >>> float(procova_power(n=128, delta=0.5, sigma=1.0, rho=0.0, method="normal").round(3))
    0.807
    """
    _check("rho", rho, -1.0, 1.0)
    rr = np.asarray(ratio, dtype="float64")
    if not (np.all(rr > 0) and sigma > 0):
        raise ValueError("ratio and sigma must be positive")
    nn = np.asarray(n, dtype="float64")
    alloc = rr / (1 + rr)
    v = sigma**2 * (1 - rho**2) / (alloc * (1 - alloc))  # procova_variance at equal arms
    ncp = abs(delta) / np.sqrt(v / nn)
    if method == "normal":
        z = _z_alpha(alpha, alternative)
        pw = stats.norm.cdf(ncp - z)
        if alternative == "two-sided":
            pw = pw + stats.norm.cdf(-ncp - z)
        return np.asarray(pw, dtype="float64")
    if method != "t":
        raise ValueError(f"method must be 't' or 'normal'; got {method!r}")
    df = nn - (2 if rho == 0 else 3)
    if np.any(df < 1):
        raise ValueError("n is too small: the ANCOVA needs at least 4 patients")
    a = alpha / 2 if alternative == "two-sided" else alpha
    _check("alpha", alpha, 0.0, 1.0)
    crit = stats.t.ppf(1 - a, df)
    with np.errstate(all="ignore"):
        pw = stats.nct.sf(crit, df, ncp)
        if alternative == "two-sided":
            pw = pw + stats.nct.cdf(-crit, df, ncp)
    # scipy's noncentral t returns NaN far in the tail (power ~ 1): use the normal form there
    z = stats.norm.ppf(1 - a)
    approx = stats.norm.cdf(ncp - z)
    pw = np.where(np.isfinite(pw), pw, approx)
    return np.asarray(np.clip(pw, 0.0, 1.0), dtype="float64")


def procova_control_size(*, n_treated: int, n_control_unadjusted: int, rho: float) -> int:
    """Smallest control arm giving PROCOVA the precision of an unadjusted trial.

    With equal σ and ρ, Var(τ̂) = σ²(1 − ρ²)(1/n₀ + 1/n₁). Keeping the treated arm
    n₁ and matching the unadjusted variance σ²(1/n₁ + 1/n₀ᵘ) gives
    1/n₀ = (1/n₁ + 1/n₀ᵘ)/(1 − ρ²) − 1/n₁.

    Parameters
    ----------
    n_treated : int
        Patients on the experimental arm (kept), n₁.
    n_control_unadjusted : int
        Control patients of the unadjusted design, n₀ᵘ.
    rho : float
        Correlation of outcome and prognostic score, in [0, 1).

    Returns
    -------
    int
        Control patients needed with PROCOVA (rounded up).

    Examples
    --------
    >>> procova_control_size(n_treated=100, n_control_unadjusted=100, rho=0.5)
    60
    """
    _check("rho", rho, -1.0, 1.0)
    if n_treated < 1 or n_control_unadjusted < 1:
        raise ValueError("arm sizes must be positive")
    inv = (1 / n_treated + 1 / n_control_unadjusted) / (1 - rho**2) - 1 / n_treated
    return math.ceil(1 / inv - 1e-9)


@dataclass(frozen=True, slots=True)
class SampleSize:
    """Sample size of a two-arm PROCOVA trial.

    Attributes
    ----------
    n_total, n_treated, n_control : int
        Patients in total and per arm (each arm rounded up).
    power : float
        Power actually reached with these arm sizes (``method`` of the call).
    n_unadjusted : int
        Total sample size of the unadjusted design (ρ = 0) with the same inputs.
    """

    n_total: int
    n_treated: int
    n_control: int
    power: float
    n_unadjusted: int


def _arms(n: float, ratio: float) -> tuple[int, int]:
    n1 = math.ceil(n * ratio / (1 + ratio) - 1e-9)
    n0 = math.ceil(n / (1 + ratio) - 1e-9)
    return n1, n0


def _guenther(
    delta: float,
    sigma: float,
    rho: float,
    alpha: float,
    power: float,
    ratio: float,
    alt: Alternative,
) -> float:
    za = _z_alpha(alpha, alt)
    zb = float(stats.norm.ppf(power))
    core = ((1 + ratio) ** 2 / ratio) * (za + zb) ** 2 * sigma**2 * (1 - rho**2) / delta**2
    return core + za**2 / 2


def _size(
    delta: float,
    sigma: float,
    rho: float,
    alpha: float,
    power: float,
    ratio: float,
    alt: Alternative,
    method: Method,
) -> tuple[int, int, float]:
    n_approx = _guenther(delta, sigma, rho, alpha, power, ratio, alt)
    if method == "normal":
        n1, n0 = _arms(n_approx, ratio)
        pw = float(
            procova_power(
                n=n1 + n0,
                delta=delta,
                sigma=sigma,
                rho=rho,
                alpha=alpha,
                ratio=ratio,
                alternative=alt,
                method="normal",
            )
        )
        return n1, n0, pw
    # exact t search over candidate totals around the Guenther-Schouten value
    lo = max(4, math.floor(0.8 * n_approx) - 5)
    cand = np.arange(lo, math.ceil(1.2 * n_approx) + 20, dtype="float64")
    n1s = np.ceil(cand * ratio / (1 + ratio) - 1e-9)
    n0s = np.ceil(cand / (1 + ratio) - 1e-9)
    arms = np.column_stack([n1s, n0s]).astype(int)
    # power with the realised arm sizes (and their realised ratio)
    pws = procova_power(
        n=n1s + n0s,
        delta=delta,
        sigma=sigma,
        rho=rho,
        alpha=alpha,
        ratio=n1s / n0s,
        alternative=alt,
        method="t",
    )
    ok = np.flatnonzero(pws >= power)
    if ok.size == 0:  # pragma: no cover - the search window is generous
        raise ArithmeticError("sample-size search did not reach the requested power")
    i = ok[0]
    return int(arms[i, 0]), int(arms[i, 1]), float(pws[i])


def procova_sample_size(
    *,
    delta: float,
    sigma: float,
    rho: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: Alternative = "two-sided",
    method: Method = "t",
) -> SampleSize:
    """Smallest two-arm PROCOVA trial reaching the requested power.

    Starts from the Guenther-Schouten form
    n = ((1+r)²/r)(z_α + z_β)² σ²(1 − ρ²)/Δ² + z_α²/2 and, with ``method="t"``,
    searches the smallest total whose noncentral-t power (see
    :func:`procova_power`) reaches ``power``.

    Parameters
    ----------
    delta : float
        Treatment effect to detect, outcome units (non-zero).
    sigma : float
        Outcome SD per arm, outcome units.
    rho : float
        Correlation of outcome and prognostic score, in [0, 1).
    alpha : float, default 0.05
        Type I error (two-sided unless ``alternative="one-sided"``).
    power : float, default 0.8
        Target power, in (0, 1).
    ratio : float, default 1.0
        Allocation ratio n₁/n₀.
    alternative : {"two-sided", "one-sided"}
        Test direction.
    method : {"t", "normal"}
        "normal": the Guenther-Schouten total, rounded up per arm; "t": exact
        noncentral-t search.

    Returns
    -------
    SampleSize
        Arm sizes, achieved power and the unadjusted design's total for comparison.

    Examples
    --------
    >>> s = procova_sample_size(delta=0.5, sigma=1.0, rho=0.5)
    >>> s.n_total, s.n_unadjusted
    (98, 128)
    """
    if delta == 0 or not math.isfinite(delta):
        raise ValueError("delta must be a non-zero finite number")
    _check("power", power, 0.0, 1.0)
    _check("rho", rho, -1.0, 1.0)
    if method not in ("t", "normal"):
        raise ValueError(f"method must be 't' or 'normal'; got {method!r}")
    n1, n0, pw = _size(delta, sigma, rho, alpha, power, ratio, alternative, method)
    u1, u0, _ = _size(delta, sigma, 0.0, alpha, power, ratio, alternative, method)
    return SampleSize(n_total=n1 + n0, n_treated=n1, n_control=n0, power=pw, n_unadjusted=u1 + u0)


@dataclass(frozen=True, slots=True)
class ProcovaResult:
    """Result of a PROCOVA analysis: the treatment effect adjusted for the prognostic score.

    Attributes
    ----------
    estimate : float
        Treatment effect (treated − control), outcome units.
    se : float
        Standard error of ``estimate``.
    ci_low, ci_high : float
        Confidence interval at level ``1 - alpha``.
    pvalue : float
        Two-sided p-value of H0: effect = 0.
    alpha : float
        1 − confidence level.
    n_treated, n_control : int
        Patients analysed per arm.
    score_coef : float
        Coefficient of the prognostic score (outcome units per score unit).
    df : float
        Residual degrees of freedom.
    cov_type : str
        statsmodels covariance type used for the SE.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    pvalue: float
    alpha: float
    n_treated: int
    n_control: int
    score_coef: float
    df: float
    cov_type: str

    def summary(self) -> pd.DataFrame:
        """One-row tidy table of the effect estimate."""
        return pd.DataFrame(
            {
                "term": ["treatment"],
                "estimate": [self.estimate],
                "se": [self.se],
                "ci_low": [self.ci_low],
                "ci_high": [self.ci_high],
                "pvalue": [self.pvalue],
                "n_treated": [self.n_treated],
                "n_control": [self.n_control],
            }
        )

    def to_json(self) -> str:
        """All fields as a JSON object (numbers as floats/ints)."""
        import json
        from dataclasses import asdict

        return json.dumps(asdict(self))

    def __repr__(self) -> str:
        lvl = round(100 * (1 - self.alpha))
        return (
            f"ProcovaResult(estimate={self.estimate:.4g}, se={self.se:.3g}, "
            f"{lvl}% CI [{self.ci_low:.4g}, {self.ci_high:.4g}], p={self.pvalue:.3g}, "
            f"n={self.n_treated}+{self.n_control})"
        )

    def _repr_html_(self) -> str:
        return str(self.summary().to_html(index=False))


def procova_ancova(
    outcome: ArrayLike,
    treated: ArrayLike,
    score: ArrayLike,
    *,
    alpha: float = 0.05,
    cov_type: str = "nonrobust",
    center_score: bool = True,
) -> ProcovaResult:
    """Fit the PROCOVA ANCOVA ``outcome ~ 1 + treated + score`` by OLS (statsmodels).

    Parameters
    ----------
    outcome : array_like of float, shape (n,)
        Outcome per patient (e.g. ALSFRS-R slope, points/month).
    treated : array_like of {0, 1} or bool, shape (n,)
        1 for the experimental arm, 0 for control.
    score : array_like of float, shape (n,)
        Prognostic score per patient (the twin's forecast of the untreated outcome),
        computed from baseline data only.
    alpha : float, default 0.05
        1 − confidence level of the interval.
    cov_type : str, default "nonrobust"
        statsmodels covariance type (e.g. "HC3" for heteroskedasticity-robust SEs).
    center_score : bool, default True
        Centre the score at its trial mean (changes only the intercept).

    Returns
    -------
    ProcovaResult

    Raises
    ------
    DataValidationError
        Missing values, a non-binary arm, an empty arm or fewer than 4 patients.

    Examples
    --------
    >>> r = procova_ancova([1.0, 2.0, 3.5, 4.0, 5.5], [0, 0, 1, 1, 1], [1, 2, 3, 3, 5])
    >>> r.n_treated, r.n_control
    (3, 2)
    """
    import statsmodels.api as sm

    y = np.asarray(outcome, dtype="float64")
    t = np.asarray(treated, dtype="float64")
    s = np.asarray(score, dtype="float64")
    problems: list[Problem] = []
    if not (y.ndim == t.ndim == s.ndim == 1 and len(y) == len(t) == len(s)):
        raise ValueError("outcome, treated and score must be 1-D arrays of the same length")
    for name, arr in (("outcome", y), ("treated", t), ("score", s)):
        bad = np.flatnonzero(~np.isfinite(arr))
        for i in bad[:10]:
            problems.append(Problem("procova", int(i) + 1, name, None, "must be a finite number"))
    badarm = np.flatnonzero(np.isfinite(t) & (t != 0) & (t != 1))
    for i in badarm[:10]:
        problems.append(Problem("procova", int(i) + 1, "treated", str(t[i]), "must be 0 or 1"))
    n1, n0 = int(np.sum(t == 1)), int(np.sum(t == 0))
    if not problems and (n1 == 0 or n0 == 0 or n1 + n0 < 4):
        problems.append(
            Problem("procova", None, "treated", None, "need both arms and at least 4 patients")
        )
    if problems:
        raise DataValidationError(problems)
    _check("alpha", alpha, 0.0, 1.0)
    sc = s - s.mean() if center_score else s
    X = np.column_stack([np.ones_like(y), t, sc])
    fit = sm.OLS(y, X).fit(cov_type=cov_type)
    ci = np.asarray(fit.conf_int(alpha=alpha))
    return ProcovaResult(
        estimate=float(fit.params[1]),
        se=float(fit.bse[1]),
        ci_low=float(ci[1, 0]),
        ci_high=float(ci[1, 1]),
        pvalue=float(fit.pvalues[1]),
        alpha=alpha,
        n_treated=n1,
        n_control=n0,
        score_coef=float(fit.params[2]),
        df=float(fit.df_resid),
        cov_type=cov_type,
    )


class ResamplingCheck(NamedTuple):
    """Resampled two-arm trials analysed with and without the prognostic score.

    Attributes
    ----------
    se_unadjusted, se_adjusted : float
        Empirical SD of the effect estimate over the null trials, outcome units.
    variance_ratio : float
        ``(se_adjusted / se_unadjusted)²``; PROCOVA predicts 1 − ρ².
    rho : float
        Correlation of outcome and score in the pool.
    type1_unadjusted, type1_adjusted : float
        Rejection rates at two-sided ``alpha`` with no effect added.
    power_unadjusted, power_adjusted : float
        Rejection rates with ``effect`` added to the treated patients.
    """

    se_unadjusted: float
    se_adjusted: float
    variance_ratio: float
    rho: float
    type1_unadjusted: float
    type1_adjusted: float
    power_unadjusted: float
    power_adjusted: float


def _trial_stats(y: np.ndarray, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per replicate: (unadjusted estimate, its t, ANCOVA estimate, its t); rows = trials."""
    n = y.shape[1]
    n1 = t.sum(1)
    n0 = n - n1
    m1 = (t * y).sum(1) / n1
    m0 = ((1 - t) * y).sum(1) / n0
    v1 = ((t * (y - m1[:, None])) ** 2).sum(1) / (n1 - 1)
    v0 = (((1 - t) * (y - m0[:, None])) ** 2).sum(1) / (n0 - 1)
    sp = ((n1 - 1) * v1 + (n0 - 1) * v0) / (n - 2)
    d = m1 - m0
    t_un = d / np.sqrt(sp * (1 / n1 + 1 / n0))
    X = np.stack([np.ones_like(y), t, s - s.mean(1, keepdims=True)], axis=2)
    xtx = np.einsum("rni,rnj->rij", X, X)
    beta = np.linalg.solve(xtx, np.einsum("rni,rn->ri", X, y)[..., None])[..., 0]
    resid = y - np.einsum("rni,ri->rn", X, beta)
    s2 = (resid**2).sum(1) / (n - 3)
    se = np.sqrt(s2 * np.linalg.inv(xtx)[:, 1, 1])
    return d, t_un, beta[:, 1], beta[:, 1] / se


def procova_resampling(
    outcome: ArrayLike,
    score: ArrayLike,
    *,
    n: int = 200,
    effect: float = 0.15,
    reps: int = 4000,
    alpha: float = 0.05,
    seed: int | np.random.Generator = 0,
) -> ResamplingCheck:
    """Check PROCOVA on real outcomes: resample 1:1 trials from a pool of patients.

    Each replicate draws ``n`` patients without replacement from the pool,
    randomises exactly half to treatment and analyses the outcome by the
    two-sample t-test and by the PROCOVA ANCOVA (y ~ 1 + arm + score). The null
    trials add no effect; the power trials add ``effect`` to the treated outcomes.

    Parameters
    ----------
    outcome : array_like of float, shape (m,)
        Outcomes of the pool (e.g. DREAM test rows' dFRS, points/month).
    score : array_like of float, shape (m,)
        Prognostic scores of the same patients from a model that never saw them.
    n : int, default 200
        Patients per trial (even).
    effect : float, default 0.15
        Effect added to treated outcomes in the power trials, outcome units.
    reps : int, default 4000
        Trials per scenario.
    alpha : float, default 0.05
        Two-sided level.
    seed : int or Generator
        Randomness of the draws and of the allocation.

    Returns
    -------
    ResamplingCheck
    """
    y = np.asarray(outcome, dtype="float64")
    s = np.asarray(score, dtype="float64")
    if y.shape != s.shape or y.ndim != 1 or not (np.all(np.isfinite(y)) and np.all(np.isfinite(s))):
        raise ValueError("outcome and score must be finite 1-D arrays of equal length")
    if n % 2 or n < 6 or n > len(y):
        raise ValueError(f"n must be even, at least 6 and at most the pool size {len(y)}")
    rng = np.random.default_rng(seed)
    idx = np.argsort(rng.random((2 * reps, len(y))), axis=1)[:, :n]
    t = np.zeros((2 * reps, n))
    t[:, : n // 2] = 1.0  # positions are already a random order: first half treated
    yy, ss = y[idx], s[idx]
    yy[reps:] += effect * t[reps:]
    d, t_un, b, t_adj = _trial_stats(yy, ss, t)
    c_un = stats.t.ppf(1 - alpha / 2, n - 2)
    c_adj = stats.t.ppf(1 - alpha / 2, n - 3)
    se_un, se_adj = float(d[:reps].std(ddof=1)), float(b[:reps].std(ddof=1))
    return ResamplingCheck(
        se_unadjusted=se_un,
        se_adjusted=se_adj,
        variance_ratio=(se_adj / se_un) ** 2,
        rho=float(np.corrcoef(y, s)[0, 1]),
        type1_unadjusted=float(np.mean(np.abs(t_un[:reps]) > c_un)),
        type1_adjusted=float(np.mean(np.abs(t_adj[:reps]) > c_adj)),
        power_unadjusted=float(np.mean(np.abs(t_un[reps:]) > c_un)),
        power_adjusted=float(np.mean(np.abs(t_adj[reps:]) > c_adj)),
    )
