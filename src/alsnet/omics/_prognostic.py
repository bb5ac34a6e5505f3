"""Prognostic panels: do NfL and the molecular subtype add to a clinical baseline model?

:func:`prognostic_value` compares, under the same cross-validation folds,

* ``clinical``: a clinical baseline model (ridge regression for the ALSFRS-R slope, a
  penalised Cox model for survival) on the clinical columns given. To test against the
  clinical twin or ENCALS, pass their prediction (e.g. the twin's forecast slope, the ENCALS
  linear predictor) as one of the clinical columns;
* ``clinical + NfL``: plus the age/BMI-adjusted NfL z-score (:func:`nfl_zscore`);
* ``clinical + NfL + subtype``: plus the subtype (one-hot), when a subtype column is given.

Out-of-fold predictions give R² and RMSE (slope, points/month) and Harrell's C-index
(survival); 95 % CIs and the CIs of the gains over ``clinical`` come from a paired bootstrap
of patients over the out-of-fold predictions (the models are not refitted per replicate, so
the intervals ignore fitting variability).

NfL z-score reference equation
------------------------------
The reference files ask for age/BMI-adjusted z-scores (omics.md §2, cohort-figures.md §5)
but give no equation, so the default :data:`NFL_REFERENCE` is an **assumption** of the
usual log-linear form for serum NfL (Simoa) in controls::

    log NfL_ref(age, BMI) = log(8.0 pg/mL) + 0.022 * (age - 50) - 0.02 * (BMI - 25)
    z = (log NfL - log NfL_ref) / 0.45

(median 8 pg/mL at 50 years and BMI 25, +2.2 %/year of age, -2 % per kg/m² of BMI, log-SD
0.45; values recalled from the control literature, not checked against a primary source).
Where BMI is missing the BMI term is dropped (age only, i.e. BMI taken as 25). Pass an
:class:`NflReference` fitted to your assay's control data (e.g. the Benkert 2022 reference
database) for real analyses. Within one cohort the z-score is a monotone transform of
log NfL adjusted for age and BMI, so the comparison does not hinge on these constants.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alsnet.exceptions import DataValidationError, Problem

__all__ = [
    "NFL_REFERENCE",
    "NflReference",
    "PrognosticResult",
    "harrell_c",
    "nfl_zscore",
    "prognostic_value",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class NflReference:
    """Log-linear reference equation of serum NfL in controls (see the module docstring).

    Attributes
    ----------
    median_pg_ml : float
        Median NfL at ``ref_age`` and ``ref_bmi``, pg/mL.
    ref_age : float
        Years.
    log_per_year : float
        Change of natural-log NfL per year of age.
    ref_bmi : float
        kg/m².
    log_per_bmi : float
        Change of natural-log NfL per kg/m² of BMI.
    sd_log : float
        SD of natural-log NfL around the reference.
    source : str
    """

    median_pg_ml: float = 8.0
    ref_age: float = 50.0
    log_per_year: float = 0.022
    ref_bmi: float = 25.0
    log_per_bmi: float = -0.02
    sd_log: float = 0.45
    source: str = "assumption: recalled control values, not checked (see module docstring)"


#: Default reference equation (an assumption; replace with your assay's).
NFL_REFERENCE = NflReference()


def nfl_zscore(
    nfl_pg_ml: Any,
    age_years: Any,
    bmi: Any = None,
    *,
    reference: NflReference = NFL_REFERENCE,
) -> FloatArray:
    """Age/BMI-adjusted NfL z-score.

    Parameters
    ----------
    nfl_pg_ml : array-like
        Serum NfL, pg/mL (> 0; NaN stays NaN).
    age_years : array-like
        Age at the draw, years.
    bmi : array-like, optional
        BMI at the draw, kg/m²; missing (None or NaN) -> age-only adjustment.
    reference : NflReference

    Returns
    -------
    ndarray
        ``(log NfL - log NfL_ref(age, BMI)) / sd_log``.

    Examples
    --------
    >>> float(nfl_zscore([8.0], [50.0])[0])
    0.0
    """
    nfl = np.asarray(nfl_pg_ml, dtype=np.float64)
    age = np.asarray(age_years, dtype=np.float64)
    bad = nfl <= 0
    if bad.any():
        raise DataValidationError(
            [Problem("nfl", int(np.flatnonzero(bad)[0]) + 1, None, None, "NfL must be > 0")]
        )
    ref = np.log(reference.median_pg_ml) + reference.log_per_year * (age - reference.ref_age)
    if bmi is not None:
        b = np.asarray(bmi, dtype=np.float64)
        ref = ref + np.where(np.isnan(b), 0.0, reference.log_per_bmi * (b - reference.ref_bmi))
    return np.asarray((np.log(nfl) - ref) / reference.sd_log, dtype=np.float64)


@dataclass(frozen=True)
class PrognosticResult:
    """Result of :func:`prognostic_value`.

    Attributes
    ----------
    table : DataFrame
        ``outcome, metric, model, estimate, ci_low, ci_high, gain, gain_ci_low,
        gain_ci_high, n`` (gain = model minus ``clinical``; for RMSE a negative gain is
        better).
    predictions : dict of str to DataFrame
        Out-of-fold predictions per outcome (one column per model).
    seconds : float
    params : dict
    """

    table: pd.DataFrame
    predictions: dict[str, pd.DataFrame]
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """The comparison table."""
        return self.table.copy()

    def __repr__(self) -> str:
        return f"PrognosticResult({len(self.table)} rows, {self.seconds:.1f} s)"


def _design(
    df: pd.DataFrame, clinical: Sequence[str], z: FloatArray, subtype: str | None
) -> dict[str, pd.DataFrame]:
    base = df[list(clinical)].astype(np.float64).reset_index(drop=True)
    out = {"clinical": base, "clinical + NfL": base.assign(nfl_z=z)}
    if subtype is not None:
        dummies = pd.get_dummies(
            df[subtype].astype("string").fillna("missing").reset_index(drop=True),
            prefix="subtype",
            drop_first=True,
            dtype=np.float64,
        )
        out["clinical + NfL + subtype"] = pd.concat([out["clinical + NfL"], dummies], axis=1)
    return out


def _prep(train: pd.DataFrame, test: pd.DataFrame) -> tuple[FloatArray, FloatArray]:
    """Median imputation (with missingness indicators) and standardisation fitted on train."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    prep = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
    )
    return prep.fit_transform(train.to_numpy()), prep.transform(test.to_numpy())


def _oof_slope(x: pd.DataFrame, y: FloatArray, folds: list[Any]) -> FloatArray:
    from sklearn.linear_model import RidgeCV

    pred = np.empty(y.size)
    for tr, te in folds:  # CV folds
        a, b = _prep(x.iloc[tr], x.iloc[te])
        pred[te] = RidgeCV(alphas=np.logspace(-2, 3, 16)).fit(a, y[tr]).predict(b)
    return pred


def _oof_risk(
    x: pd.DataFrame, t: FloatArray, e: FloatArray, folds: list[Any], penalizer: float
) -> FloatArray:
    from lifelines import CoxPHFitter

    risk = np.empty(t.size)
    for tr, te in folds:  # CV folds
        a, b = _prep(x.iloc[tr], x.iloc[te])
        cols = [f"x{j}" for j in range(a.shape[1])]
        train = pd.DataFrame(a, columns=cols).assign(_t=t[tr], _e=e[tr])
        cph = CoxPHFitter(penalizer=penalizer).fit(train, duration_col="_t", event_col="_e")
        risk[te] = np.asarray(pd.DataFrame(b, columns=cols) @ cph.params_[cols].to_numpy())
    return risk


def harrell_c(time: Any, risk: Any, event: Any, weights: Any = None) -> FloatArray:
    """Harrell's C-index, optionally for many weight vectors (bootstrap) at once.

    A pair is comparable when the shorter time ends in an event (equal times are not
    comparable); it is concordant when that patient has the higher risk (ties count 1/2).
    With weights ``w`` the pair counts ``w_i * w_j``.

    Parameters
    ----------
    time, risk, event : array-like, shape (n,)
    weights : array-like, shape (n,) or (n_rep, n), optional

    Returns
    -------
    ndarray, shape (n_rep,)
    """
    t = np.asarray(time, dtype=np.float64)
    r = np.asarray(risk, dtype=np.float64)
    e = np.asarray(event, dtype=np.float64) > 0
    w = np.ones((1, t.size)) if weights is None else np.atleast_2d(weights).astype(np.float64)
    comparable = (t[:, None] < t[None, :]) & e[:, None]
    score = np.where(r[:, None] > r[None, :], 1.0, np.where(r[:, None] == r[None, :], 0.5, 0.0))
    conc = comparable * score
    num = ((w @ conc) * w).sum(axis=1)
    den = ((w @ comparable.astype(np.float64)) * w).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def prognostic_value(
    df: pd.DataFrame,
    *,
    clinical: Sequence[str],
    nfl: str = "nfl_pg_ml",
    age: str = "age",
    bmi: str | None = "bmi",
    subtype: str | None = "subtype",
    slope: str | None = "slope",
    time_col: str | None = None,
    event_col: str | None = None,
    reference: NflReference = NFL_REFERENCE,
    n_splits: int = 5,
    n_boot: int = 500,
    penalizer: float = 0.1,
    level: float = 0.95,
    seed: int = 0,
) -> PrognosticResult:
    """Does NfL (and the subtype) add to a clinical model's prediction of progression/survival?

    Parameters
    ----------
    df : DataFrame
        One row per patient.
    clinical : sequence of str
        Numeric clinical predictors (NaN allowed: median-imputed with indicators inside the
        folds). Include the clinical twin's or ENCALS' prediction here to test against them.
    nfl, age, bmi : str
        Columns of serum NfL (pg/mL), age (years) and BMI (kg/m²; ``None`` or missing values
        -> age-only adjustment). Missing NfL is imputed inside the folds.
    subtype : str or None
        Subtype column (one-hot, first level dropped); ``None`` skips the third model.
    slope : str or None
        ALSFRS-R slope, points/month (rows with NaN are left out of this outcome).
    time_col, event_col : str, optional
        Survival time (any unit, > 0) and event indicator (1 = event); both or neither.
    reference : NflReference
        NfL reference equation for the z-score.
    n_splits : int
        K-fold CV (shuffled, seeded; the same folds for every model).
    n_boot : int
        Paired bootstrap replicates of patients.
    penalizer : float
        L2 penalty of the Cox models (lifelines).
    level : float
        Confidence level.
    seed : int

    Returns
    -------
    PrognosticResult
    """
    from sklearn.model_selection import KFold

    t0 = time.perf_counter()
    need = [*clinical, nfl, age] + [c for c in (bmi, subtype, slope, time_col, event_col) if c]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise DataValidationError(
            [Problem("table", None, c, None, "column not found") for c in missing]
        )
    if (time_col is None) != (event_col is None):
        raise ValueError("give both time_col and event_col, or neither")
    if slope is None and time_col is None:
        raise ValueError("nothing to predict: give slope and/or time_col + event_col")
    nfl_v = df[nfl].astype(np.float64).to_numpy()
    z = np.full(nfl_v.size, np.nan)
    ok = np.isfinite(nfl_v)
    z[ok] = nfl_zscore(
        nfl_v[ok],
        df[age].astype(np.float64).to_numpy()[ok],
        None if bmi is None else df[bmi].astype(np.float64).to_numpy()[ok],
        reference=reference,
    )
    designs = _design(df, clinical, z, subtype)
    gen = np.random.default_rng(seed)
    alpha = (1.0 - level) / 2.0
    rows: list[dict[str, Any]] = []
    preds: dict[str, pd.DataFrame] = {}

    def add(
        outcome: str, metric: str, ests: dict[str, float], boots: dict[str, FloatArray], n: int
    ) -> None:
        base = boots["clinical"]
        for name, est in ests.items():
            lo, hi = np.nanquantile(boots[name], [alpha, 1 - alpha])
            glo, ghi = np.nanquantile(boots[name] - base, [alpha, 1 - alpha])
            rows.append(
                {
                    "outcome": outcome,
                    "metric": metric,
                    "model": name,
                    "estimate": est,
                    "ci_low": lo,
                    "ci_high": hi,
                    "gain": est - ests["clinical"],
                    "gain_ci_low": glo,
                    "gain_ci_high": ghi,
                    "n": n,
                }
            )

    if slope is not None:
        y_all = np.asarray(df[slope].to_numpy(dtype=np.float64), dtype=np.float64)
        use = np.flatnonzero(np.isfinite(y_all))
        y = y_all[use]
        folds = list(KFold(n_splits, shuffle=True, random_state=seed).split(use))
        oof = {
            k: _oof_slope(x.iloc[use].reset_index(drop=True), y, folds) for k, x in designs.items()
        }
        preds["slope"] = pd.DataFrame(oof).assign(observed=y)
        idx = gen.integers(0, y.size, size=(n_boot, y.size))
        yb = y[idx]
        sst = ((yb - yb.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        r2_e, rmse_e, r2_b, rmse_b = {}, {}, {}, {}
        for k, p in oof.items():
            sse = ((y - p) ** 2).sum()
            r2_e[k] = float(1 - sse / ((y - y.mean()) ** 2).sum())
            rmse_e[k] = float(np.sqrt(sse / y.size))
            sse_b = ((yb - p[idx]) ** 2).sum(axis=1)
            r2_b[k] = 1 - sse_b / sst
            rmse_b[k] = np.sqrt(sse_b / y.size)
        add("slope", "R2", r2_e, r2_b, int(y.size))
        add("slope", "RMSE", rmse_e, rmse_b, int(y.size))

    if time_col is not None and event_col is not None:
        t_all = np.asarray(df[time_col].to_numpy(dtype=np.float64), dtype=np.float64)
        e_all = np.asarray(df[event_col].to_numpy(dtype=np.float64), dtype=np.float64)
        use = np.flatnonzero(np.isfinite(t_all) & (t_all > 0) & np.isfinite(e_all))
        t, e = t_all[use], e_all[use]
        folds = list(KFold(n_splits, shuffle=True, random_state=seed + 1).split(use))
        risk = {
            k: _oof_risk(x.iloc[use].reset_index(drop=True), t, e, folds, penalizer)
            for k, x in designs.items()
        }
        preds["survival"] = pd.DataFrame(risk).assign(time=t, event=e)
        w = gen.multinomial(t.size, np.full(t.size, 1.0 / t.size), size=n_boot)
        c_e = {k: float(harrell_c(t, r, e)[0]) for k, r in risk.items()}
        c_b = {k: harrell_c(t, r, e, w) for k, r in risk.items()}
        add("survival", "C-index", c_e, c_b, int(t.size))

    return PrognosticResult(
        table=pd.DataFrame(rows),
        predictions=preds,
        seconds=time.perf_counter() - t0,
        params={
            "clinical": list(clinical),
            "n_splits": n_splits,
            "n_boot": n_boot,
            "seed": seed,
            "nfl_reference": reference.__dict__,
        },
    )
