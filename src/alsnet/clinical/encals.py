"""ENCALS survival model (Westeneng et al., Lancet Neurol 2018;17:423-33).

Royston-Parmar model on the proportional-odds scale for the time from symptom
onset to death, tracheostomy or non-invasive ventilation > 23 h/day. Coefficients
and the baseline spline come from public R code by a co-author of the paper (see
the alsnet reference clinical-scores.md §7); the paper-model coefficients are at
full precision. The k_max term of the spline basis is cubed here (the public code
omits the cube; this only changes S(t) beyond e^5.917 ≈ 371 months).

No risk-group cut-offs are provided: the LP cut-offs of the paper's five groups
were not recovered from a primary source.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import expit

from alsnet.exceptions import Problem
from alsnet.validation import ProblemLog

__all__ = [
    "ENCALS_COEFFICIENTS",
    "ENCALS_KNOTS",
    "ENCALS_PREDICTORS",
    "ENCALS_SPLINE_GAMMA",
    "ENCALS_TABLE_COLUMNS",
    "TRICALS_ELIGIBLE_RANGE",
    "encals_lp",
    "encals_median",
    "encals_spline",
    "encals_survival",
    "encals_table",
]

Model = Literal["paper", "tricals"]

#: Input columns, in the order of :func:`encals_lp`.
ENCALS_PREDICTORS: tuple[str, ...] = (
    "age_onset",
    "delta_fs",
    "diagnostic_delay_months",
    "fvc_pct",
    "bulbar_onset",
    "definite_el_escorial",
    "ftd",
    "c9orf72",
)

#: β per predictor for the paper model and the TRICALS risk profile (no C9orf72).
ENCALS_COEFFICIENTS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "paper": MappingProxyType(
            {
                "delta_fs": -1.83666,
                "diagnostic_delay_months": -2.37341,
                "age_onset": -0.26697,
                "fvc_pct": 0.47685,
                "bulbar_onset": 0.26887,
                "definite_el_escorial": 0.23278,
                "ftd": 0.38831,
                "c9orf72": 0.25608,
            }
        ),
        "tricals": MappingProxyType(
            {
                "delta_fs": -1.839,
                "diagnostic_delay_months": -2.376,
                "age_onset": -0.264,
                "fvc_pct": 0.474,
                "bulbar_onset": 0.271,
                "definite_el_escorial": 0.238,
                "ftd": 0.415,
            }
        ),
    }
)

#: Baseline spline coefficients γ0, γ1 (ln t), γ2 (v1), γ3 (v2).
ENCALS_SPLINE_GAMMA: tuple[float, float, float, float] = (-6.409, 2.643, -0.546, 0.585)
#: Knots on ln(months): k_min, k1, k2, k_max.
ENCALS_KNOTS: tuple[float, float, float, float] = (0.081, 3.108, 3.638, 5.917)
#: TRICALS/MAGNET eligibility: risk profile within this closed interval.
TRICALS_ELIGIBLE_RANGE: tuple[float, float] = (-6.0, -2.0)
#: Columns added by :func:`encals_table`.
ENCALS_TABLE_COLUMNS: tuple[str, ...] = (
    "encals_lp",
    "encals_median_months",
    "encals_s12",
    "encals_s24",
    "encals_s36",
    "encals_s60",
    "tricals_lp",
    "tricals_eligible",
)

_BINARY = ("bulbar_onset", "definite_el_escorial", "ftd", "c9orf72")
#: Domain of each continuous transform: (lower bound, exclusive, rule text).
_DOMAIN: dict[str, tuple[float, str]] = {
    "age_onset": (0.0, "age at onset must be greater than 0 years (transform (a/100)^-2)"),
    "delta_fs": (
        -0.1,
        "ΔFS must be greater than -0.1 points/month (transform (ΔFS + 0.1)^-0.5)",
    ),
    "diagnostic_delay_months": (
        0.0,
        "diagnostic delay must be greater than 0 months (transform (d/10)^-0.5 + ln(d/10))",
    ),
    "fvc_pct": (
        0.0,
        "vital capacity must be greater than 0 % predicted (transform (f/100)^-1 + (f/100)^-0.5)",
    ),
}


def _basis(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    kmin, k1, k2, kmax = ENCALS_KNOTS

    def cube(u: np.ndarray) -> np.ndarray:
        m = np.maximum(u, 0.0)
        return m * m * m

    out = []
    for kj in (k1, k2):
        lam = (kmax - kj) / (kmax - kmin)
        out.append(cube(x - kj) - lam * cube(x - kmin) - (1.0 - lam) * cube(x - kmax))
    return out[0], out[1]


def encals_spline(log_months: ArrayLike) -> np.ndarray:
    """Baseline log-odds spline s(x) of the ENCALS model, x = ln(months since onset).

    s(x) = γ0 + γ1·x + γ2·v1(x) + γ3·v2(x), with the restricted cubic basis
    vj(x) = (x − kj)³₊ − λj(x − k_min)³₊ − (1 − λj)(x − k_max)³₊ and
    λj = (k_max − kj)/(k_max − k_min).

    Parameters
    ----------
    log_months : array_like of float
        Natural log of months since symptom onset.

    Returns
    -------
    ndarray of float
        s(x); strictly increasing in x.
    """
    x = np.asarray(log_months, dtype="float64")
    g0, g1, g2, g3 = ENCALS_SPLINE_GAMMA
    v1, v2 = _basis(x)
    return np.asarray(g0 + g1 * x + g2 * v1 + g3 * v2, dtype="float64")


def encals_survival(lp: ArrayLike, months: ArrayLike) -> np.ndarray:
    """Predicted probability of being event-free at ``months`` since onset.

    S(t) = 1 / (1 + exp(s(ln t) + LP)).

    Parameters
    ----------
    lp : array_like of float
        ENCALS linear predictor(s).
    months : array_like of float
        Months since symptom onset (≥ 0); broadcast against ``lp``
        (e.g. ``lp[:, None]`` and ``months[None, :]`` give a patients × times grid).

    Returns
    -------
    ndarray of float
        S(t), broadcast shape of the inputs; 1 at t = 0, NaN where ``lp`` is NaN.

    Raises
    ------
    ValueError
        If any time is negative.
    """
    b, t = np.broadcast_arrays(np.asarray(lp, dtype="float64"), np.asarray(months, "float64"))
    if np.any(t < 0):
        raise ValueError("months since onset must be >= 0")
    pos = t > 0
    x = np.log(np.where(pos, t, 1.0))
    s = np.where(pos, expit(-(encals_spline(x) + b)), np.nan)
    return np.asarray(np.where((t == 0) & ~np.isnan(b), 1.0, s))


def _spline_slope(x: np.ndarray) -> np.ndarray:
    """ds/dx of :func:`encals_spline`."""
    kmin, k1, k2, kmax = ENCALS_KNOTS
    _, g1, g2, g3 = ENCALS_SPLINE_GAMMA

    def sq(u: np.ndarray) -> np.ndarray:
        m = np.maximum(u, 0.0)
        return 3.0 * m * m

    out = np.full(x.shape, g1)
    for g, kj in ((g2, k1), (g3, k2)):
        lam = (kmax - kj) / (kmax - kmin)
        out = out + g * (sq(x - kj) - lam * sq(x - kmin) - (1.0 - lam) * sq(x - kmax))
    return out


#: Grid on [k_min, k_max] used to bracket the median before Newton steps.
_GRID_X = np.linspace(ENCALS_KNOTS[0], ENCALS_KNOTS[3], 4097)
_GRID_S = encals_spline(_GRID_X)


def encals_median(lp: ArrayLike, *, newton_steps: int = 4) -> np.ndarray:
    """Median predicted survival from onset, months: the t with S(t) = 0.5.

    Solves s(ln t) = −LP, vectorised over patients. Outside [k_min, k_max] the
    spline is linear and the root is exact. Inside, the root is bracketed on a
    fixed grid of 4097 points (``np.searchsorted``; s is strictly increasing),
    then refined by Newton steps kept inside the bracket.

    Parameters
    ----------
    lp : array_like of float
        ENCALS linear predictor(s).
    newton_steps : int, default 4
        Newton iterations after bracketing (the bracket is 0.0014 wide on ln t).

    Returns
    -------
    ndarray of float
        Months since onset, same shape as ``lp``; NaN where ``lp`` is NaN.
    """
    target = -np.asarray(lp, dtype="float64")
    kmin, _, _, kmax = ENCALS_KNOTS
    s_lo, s_hi = float(_GRID_S[0]), float(_GRID_S[-1])
    b_lo = float(_spline_slope(np.array([kmin]))[0])
    b_hi = float(_spline_slope(np.array([kmax]))[0])
    flat = np.where(np.isnan(target), s_lo, np.clip(target, s_lo, s_hi)).ravel()
    j = np.clip(np.searchsorted(_GRID_S, flat), 1, _GRID_X.size - 1)
    x0, x1 = _GRID_X[j - 1], _GRID_X[j]
    s0, s1 = _GRID_S[j - 1], _GRID_S[j]
    x = x0 + (flat - s0) * (x1 - x0) / (s1 - s0)
    for _ in range(newton_steps):
        x = np.clip(x - (encals_spline(x) - flat) / _spline_slope(x), x0, x1)
    x = x.reshape(target.shape)
    x = np.where(target <= s_lo, kmin + (target - s_lo) / b_lo, x)
    x = np.where(target >= s_hi, kmax + (target - s_hi) / b_hi, x)
    return np.asarray(np.where(np.isnan(target), np.nan, np.exp(x)))


def _problems(
    values: Mapping[str, np.ndarray], columns: tuple[str, ...]
) -> list[tuple[np.ndarray, str, str]]:
    """Masks of invalid inputs: (mask, column, rule)."""
    out: list[tuple[np.ndarray, str, str]] = []
    for c in columns:
        x = values[c]
        missing = np.isnan(x)
        out.append((missing, c, "a value is required (missing)"))
        if c in _BINARY:
            bad = ~missing & (x != 0) & (x != 1)
            out.append((bad, c, "must be 0 or 1"))
        else:
            lo, rule = _DOMAIN[c]
            bad = ~missing & ~(x > lo)
            inf = ~missing & np.isposinf(x)
            out.append((bad, c, rule))
            out.append((inf, c, "must be finite"))
    return out


def _lp(values: Mapping[str, np.ndarray], model: Model, ok: np.ndarray) -> np.ndarray:
    beta = ENCALS_COEFFICIENTS[model]

    def safe(c: str) -> np.ndarray:
        return np.where(ok, values[c], 1.0)

    dfs = safe("delta_fs")
    d = safe("diagnostic_delay_months") / 10.0
    a = safe("age_onset") / 100.0
    f = safe("fvc_pct") / 100.0
    lp = (
        beta["delta_fs"] / np.sqrt(dfs + 0.1)
        + beta["diagnostic_delay_months"] * (1.0 / np.sqrt(d) + np.log(d))
        + beta["age_onset"] / (a * a)
        + beta["fvc_pct"] * (1.0 / f + 1.0 / np.sqrt(f))
    )
    for c in _BINARY:
        if c in beta:
            lp = lp + beta[c] * safe(c)
    return np.asarray(np.where(ok, lp, np.nan))


def _model_columns(model: Model) -> tuple[str, ...]:
    if model not in ENCALS_COEFFICIENTS:
        raise ValueError(f"model must be 'paper' or 'tricals', not {model!r}")
    return tuple(c for c in ENCALS_PREDICTORS if c in ENCALS_COEFFICIENTS[model])


def encals_lp(
    age_onset: ArrayLike,
    delta_fs: ArrayLike,
    diagnostic_delay_months: ArrayLike,
    fvc_pct: ArrayLike,
    bulbar_onset: ArrayLike,
    definite_el_escorial: ArrayLike,
    ftd: ArrayLike,
    c9orf72: ArrayLike | None = None,
    *,
    model: Model = "paper",
) -> np.ndarray:
    """ENCALS linear predictor (higher = worse prognosis).

    LP = Σ β·x with x = (ΔFS + 0.1)^−0.5, (d/10)^−0.5 + ln(d/10), (a/100)^−2,
    (f/100)^−1 + (f/100)^−0.5 and the 0/1 indicators as they are.

    Parameters
    ----------
    age_onset : array_like of float
        Age at symptom onset, years (> 0).
    delta_fs : array_like of float
        ΔFS at diagnosis/screening, points/month, positive = decline (> −0.1).
    diagnostic_delay_months : array_like of float
        Months from symptom onset to diagnosis (> 0).
    fvc_pct : array_like of float
        Vital capacity (slow or forced), % predicted (> 0).
    bulbar_onset, definite_el_escorial, ftd : array_like of 0/1
        Bulbar onset; definite ALS by revised El Escorial; frontotemporal dementia.
    c9orf72 : array_like of 0/1, optional
        C9orf72 repeat expansion; required by ``model="paper"``, ignored by
        ``model="tricals"``.
    model : {"paper", "tricals"}, default "paper"
        Paper-model coefficients, or the TRICALS risk profile (no C9orf72).

    Returns
    -------
    ndarray of float
        One LP per patient (inputs are broadcast).

    Raises
    ------
    DataValidationError
        If any input is missing or outside its transform's domain; the problems
        name the row (1-based), column, value and rule.
    """
    cols = _model_columns(model)
    given: dict[str, ArrayLike | None] = {
        "age_onset": age_onset,
        "delta_fs": delta_fs,
        "diagnostic_delay_months": diagnostic_delay_months,
        "fvc_pct": fvc_pct,
        "bulbar_onset": bulbar_onset,
        "definite_el_escorial": definite_el_escorial,
        "ftd": ftd,
        "c9orf72": c9orf72 if "c9orf72" in cols else 0.0,
    }
    if given["c9orf72"] is None:
        given["c9orf72"] = np.nan
    arrays = np.broadcast_arrays(
        *[np.atleast_1d(np.asarray(given[c], dtype="float64")) for c in ENCALS_PREDICTORS]
    )
    values = dict(zip(ENCALS_PREDICTORS, arrays, strict=True))
    n = arrays[0].shape[0]
    log = ProblemLog()
    lines = np.arange(1, n + 1)
    ok = np.ones(n, dtype=bool)
    for mask, c, rule in _problems(values, cols):
        log.add_mask(mask, source="encals_lp", lines=lines, column=c, values=values[c], rule=rule)
        ok &= ~mask
    log.raise_if_any()
    return _lp(values, model, ok)


def encals_table(
    df: pd.DataFrame,
    *,
    errors: Literal["raise", "flag"] = "raise",
    source: str = "input",
    lines: ArrayLike | None = None,
) -> pd.DataFrame:
    """ENCALS predictions for every row of a table.

    Parameters
    ----------
    df : DataFrame
        Columns of :data:`ENCALS_PREDICTORS` (numbers or numeric text; units as
        in :func:`encals_lp`); other columns are kept untouched.
    errors : {"raise", "flag"}, default "raise"
        ``"raise"``: any missing or out-of-domain input raises
        :class:`~alsnet.exceptions.DataValidationError` naming every row, column,
        value and rule. ``"flag"``: such rows get NaN predictions and a
        description in an added ``encals_error`` column (missing when fine).
        A missing C9orf72 only blanks the paper model; the TRICALS profile is
        still computed.
    source : str, default "input"
        File or table name used in problems.
    lines : array_like of int, optional
        Line number of each row in its file (default 1-based row number).

    Returns
    -------
    DataFrame
        A copy of ``df`` (all rows in order, all columns) with the columns of
        :data:`ENCALS_TABLE_COLUMNS`: ``encals_lp``, ``encals_median_months``
        (months since onset), ``encals_s12`` .. ``encals_s60`` (S at 12, 24, 36
        and 60 months since onset), ``tricals_lp`` and ``tricals_eligible``
        (nullable boolean: profile within :data:`TRICALS_ELIGIBLE_RANGE`).

    Raises
    ------
    DataValidationError
        Required column missing (always), or invalid values when ``errors="raise"``.
    """
    if errors not in ("raise", "flag"):
        raise ValueError(f"errors must be 'raise' or 'flag', not {errors!r}")
    n = len(df)
    ln = np.arange(1, n + 1) if lines is None else np.asarray(lines)
    log = ProblemLog()
    absent = [c for c in ENCALS_PREDICTORS if c not in df.columns]
    for c in absent:
        if c != "c9orf72" or errors == "raise":
            log.add(Problem(source, 1, c, None, "required column is missing"))
    log.raise_if_any()
    values: dict[str, np.ndarray] = {}
    raw_values: dict[str, pd.Series] = {}
    found: list[tuple[np.ndarray, str, str]] = []
    for c in ENCALS_PREDICTORS:
        if c in absent:
            values[c] = np.full(n, np.nan)
            raw_values[c] = pd.Series([None] * n, dtype=object)
            continue
        raw = df[c].reset_index(drop=True)
        if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
            x = raw.to_numpy(dtype="float64", na_value=np.nan)
            blank = np.isnan(x)
        else:
            text = raw.astype("string").str.strip()
            blank = (text.isna() | (text == "")).fillna(True).to_numpy(dtype=bool)
            x = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(
                dtype="float64", na_value=np.nan
            )
        found.append((~blank & np.isnan(x), c, "must be a number"))
        values[c] = x
        raw_values[c] = raw
    nonnum = {c: m for m, c, _ in found}
    none = np.zeros(n, dtype=bool)
    # A non-numeric cell is reported as such, not also as "missing".
    checks = found + [
        (m & ~nonnum.get(c, none), c, r) for m, c, r in _problems(values, ENCALS_PREDICTORS)
    ]
    tricals_cols = _model_columns("tricals")
    ok_tricals = np.ones(n, dtype=bool)
    ok_paper = np.ones(n, dtype=bool)
    for m, c, _ in checks:
        ok_paper &= ~m
        if c in tricals_cols:
            ok_tricals &= ~m
    if errors == "raise":
        for m, c, rule in checks:
            log.add_mask(m, source=source, lines=ln, column=c, values=raw_values[c], rule=rule)
        log.raise_if_any()
    out = df.copy()
    lp = _lp(values, "paper", ok_paper)
    tri = _lp(values, "tricals", ok_tricals)
    surv = encals_survival(lp[:, None], np.array([12.0, 24.0, 36.0, 60.0])[None, :])
    out["encals_lp"] = lp
    out["encals_median_months"] = encals_median(lp)
    for j, m in enumerate((12, 24, 36, 60)):
        out[f"encals_s{m}"] = surv[:, j]
    out["tricals_lp"] = tri
    lo, hi = TRICALS_ELIGIBLE_RANGE
    with np.errstate(invalid="ignore"):
        eligible = (tri >= lo) & (tri <= hi)
    out["tricals_eligible"] = pd.arrays.BooleanArray(eligible, np.isnan(tri))
    if errors == "flag":
        msg = pd.Series("", index=range(n), dtype="string")
        for m, c, rule in checks:
            if m.any():
                msg = msg.mask(m, msg + f"{c}: {rule}; ")
        msg = msg.str.removesuffix("; ")
        out["encals_error"] = msg.mask(msg == "").to_numpy()
    return out
