"""The DREAM ALS Prediction Prize data (CASIdata ``als``): loader with fills undone.

The file holds 1,822 real PRO-ACT patients with 369 engineered features from the
first 3 months after trial entry and the target ``dFRS`` (original ALSFRS slope
over months 3-12, points/month). It is for benchmarks only and is never copied
into the package; pass its path (e.g. ``/work/shared/data/dream-als/als.csv.gz``).

Missing measurements were filled with constants in the file. :func:`load_dream`
turns them back into NaN, using the file's own flags:

* ``no.<var>.data == 1`` → every summary of ``<var>`` and of its derived slope
  series ``slope.<var>`` is NaN (FVC, height, respiratory rate, diastolic BP, ALSFRS;
  the nine ALSFRS items follow ``no.alsfrs.score.data``).
* ``lessthan2.<var> == 1`` (fewer than 2 visits) → the slope ``<var>.slope`` and
  the whole ``slope.<var>`` family are NaN (items follow ``lessthan2.alsfrs.score``).
* ``no.slope.<var>.data`` / ``lessthan2.slope.<var>`` → ``slope.<var>`` family /
  ``slope.<var>.slope`` NaN.
* SVC: rows carrying the fill value 3.7 L as ``max.svc.liters`` (1,653 of 1,822)
  have every SVC column set to NaN.

The flag columns themselves are kept as features (missingness can be informative).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "DREAM_ITEMS",
    "DREAM_REFERENCES",
    "DREAM_VARIABLES",
    "REFERENCE_FOREST",
    "DreamBenchmark",
    "DreamData",
    "PairedRmsd",
    "load_dream",
    "paired_rmsd_bootstrap",
    "pearson_r",
    "reference_forest_predictions",
    "rmsd",
    "run_dream_benchmark",
    "unfill_dream",
]

logger = logging.getLogger(__name__)

#: The nine original-ALSFRS items summarised in the file.
DREAM_ITEMS: tuple[str, ...] = (
    "speech",
    "salivation",
    "swallowing",
    "handwriting",
    "cutting",
    "dressing",
    "turning",
    "walking",
    "climbing.stairs",
)

#: Longitudinal variables summarised in the file (R-mangled names).
DREAM_VARIABLES: tuple[str, ...] = (
    "alsfrs.score",
    *DREAM_ITEMS,
    "fvc.liters",
    "svc.liters",
    "weight",
    "height",
    "resp.rate",
    "bp.diastolic",
    "bp.systolic",
)

_SVC_FILL = 3.7


class DreamData(NamedTuple):
    """The DREAM table split into features, target and test flag.

    Attributes
    ----------
    X : DataFrame, shape (1822, 369)
        Features, filled constants replaced by NaN.
    y : Series
        ``dFRS``, ALSFRS slope over months 3-12, points/month.
    testset : Series of bool
        True for the 625 DREAM validation patients (use once, for final scoring).
    """

    X: pd.DataFrame
    y: pd.Series
    testset: pd.Series


def _family(columns: pd.Index, var: str) -> list[str]:
    """Summary columns of one variable (not its flags): max./min./.../var.slope/dates/counts."""
    v = re.escape(var)
    pat = re.compile(
        rf"^(?:(?:max|min|last|mean|sum|meansquares|sd)\.{v}|num\.{v}\.visits"
        rf"|(?:first|last)\.{v}\.date|{v}\.slope)$"
    )
    return [c for c in columns if pat.match(c)]


def _flag(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return df[name].to_numpy(dtype="float64") == 1


def unfill_dream(X: pd.DataFrame) -> pd.DataFrame:
    """Replace the filled constants of the DREAM feature table by NaN (see module docs).

    Parameters
    ----------
    X : DataFrame
        DREAM features with the file's R-mangled column names.

    Returns
    -------
    DataFrame
        A float64 copy with filled values set to NaN.

    Examples
    --------
    >>> X = pd.DataFrame({"no.height.data": [1, 0], "max.height": [170.0, 180.0],
    ...                   "height.slope": [0.0, 0.1]})
    >>> unfill_dream(X)["max.height"].tolist()
    [nan, 180.0]
    """
    out = X.astype("float64")
    cols = out.columns
    for var in DREAM_VARIABLES:
        owner = "alsfrs.score" if var in DREAM_ITEMS else var
        fam, sfam = _family(cols, var), _family(cols, f"slope.{var}")
        none = _flag(out, f"no.{owner}.data")
        few = _flag(out, f"lessthan2.{owner}")
        none_s = _flag(out, f"no.slope.{owner}.data")
        few_s = _flag(out, f"lessthan2.slope.{owner}")
        if var == "svc.liters" and "max.svc.liters" in cols:
            none = none | (out["max.svc.liters"].to_numpy() == _SVC_FILL)
        out.loc[none, fam] = np.nan
        out.loc[none | few | none_s, sfam] = np.nan
        slope_col = f"{var}.slope"
        if slope_col in cols:
            out.loc[few, slope_col] = np.nan
        sslope = f"slope.{var}.slope"
        if sslope in cols:
            out.loc[few_s, sslope] = np.nan
    return out


def load_dream(path: str | Path, *, unfill: bool = True) -> DreamData:
    """Read the DREAM ALS table (``als.csv.gz``) into features, target and split.

    Parameters
    ----------
    path : str or Path
        The CSV (optionally gzip-compressed) exported from CASIdata's ``als``.
    unfill : bool, default True
        Replace filled constants by NaN (:func:`unfill_dream`).

    Returns
    -------
    DreamData

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file lacks the ``testset`` or ``dFRS`` column.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"DREAM data not found at {p}")
    df = pd.read_csv(p)
    missing = {"testset", "dFRS"} - set(df.columns)
    if missing:
        raise ValueError(f"{p.name} is not the DREAM table: missing column(s) {sorted(missing)}")
    test = df["testset"]
    if test.dtype != bool:
        test = test.astype("string").str.upper().map({"TRUE": True, "FALSE": False})
    X = df.drop(columns=["testset", "dFRS"])
    if unfill:
        X = unfill_dream(X)
    return DreamData(X=X, y=df["dFRS"].astype("float64"), testset=test.astype(bool))


#: Reference test scores from the DREAM README (trained on 1,197 rows, scored on 625).
#: The 2012 winners' row is recalled: about 0.50-0.52 RMSD and r 0.45-0.5 (lower ends shown).
DREAM_REFERENCES: tuple[tuple[str, float, float], ...] = (
    ("predict the training mean", 0.566, 0.0),
    ("OLS (Onset.Delta, 3-month slope, mean ALSFRS)", 0.525, 0.38),
    ("lasso, all 369 features", 0.529, 0.38),
    ("random forest (500 trees, leaf 5, mtry 0.33)", 0.509, 0.44),
    ("gradient boosting (400 trees, depth 4)", 0.511, 0.44),
    ("2012 winners (recalled)", 0.50, 0.45),
)


def rmsd(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root-mean-square deviation, the official DREAM score (outcome units).

    Examples
    --------
    >>> rmsd([0.0, 1.0], [1.0, 1.0])
    0.7071067811865476
    """
    d = np.asarray(y_true, dtype="float64") - np.asarray(y_pred, dtype="float64")
    return float(np.sqrt(np.mean(d * d)))


def pearson_r(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Pearson correlation of predictions and outcomes (NaN for constant predictions)."""
    a = np.asarray(y_true, dtype="float64")
    b = np.asarray(y_pred, dtype="float64")
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


@dataclass(frozen=True, slots=True)
class DreamBenchmark:
    """Cross-validated candidates on the training rows and one test evaluation.

    Attributes
    ----------
    cv : DataFrame
        One row per candidate: ``model``, ``cv_rmsd``, ``cv_r`` (out-of-fold
        predictions pooled over ``folds`` folds of the training rows) and
        ``seconds`` (wall time of its cross-validation).
    chosen : str
        The model evaluated on the test rows (fixed before the call).
    test_rmsd, test_r : float
        Test RMSD and Pearson r of ``chosen``, trained on all training rows
        (NaN when ``evaluate_test`` was False).
    n_train, n_test, folds, seed : int
        Rows used, CV folds and seed.
    test_predictions : Series
        Scores of the chosen model on the test rows (empty without a test run), for
        PROCOVA checks (:func:`alsnet.twin.procova_resampling`).
    """

    cv: pd.DataFrame
    chosen: str
    test_rmsd: float
    test_r: float
    n_train: int
    n_test: int
    folds: int
    seed: int
    test_predictions: pd.Series = field(default_factory=lambda: pd.Series(dtype="float64"))

    def summary(self) -> pd.DataFrame:
        """CV table plus the test row of the chosen model and the reference figures."""
        rows = [
            {"model": m, "split": f"{self.folds}-fold CV", "rmsd": r, "r": c}
            for m, r, c in self.cv[["model", "cv_rmsd", "cv_r"]].itertuples(index=False)
        ]
        if not np.isnan(self.test_rmsd):
            rows.append(
                {
                    "model": self.chosen,
                    "split": "test (once)",
                    "rmsd": self.test_rmsd,
                    "r": self.test_r,
                }
            )
        rows += [
            {"model": name, "split": "reference test", "rmsd": r, "r": c}
            for name, r, c in DREAM_REFERENCES
        ]
        return pd.DataFrame(rows)

    def to_json(self) -> str:
        """The benchmark as JSON: scalars plus the CV table as a list of records."""
        import json

        from alsnet import __version__

        return json.dumps(
            {
                "chosen": self.chosen,
                "test_rmsd": self.test_rmsd,
                "test_r": self.test_r,
                "n_train": self.n_train,
                "n_test": self.n_test,
                "folds": self.folds,
                "seed": self.seed,
                "alsnet_version": __version__,
                "cv": self.cv.to_dict(orient="records"),
            }
        )

    def __repr__(self) -> str:
        return (
            f"DreamBenchmark(chosen={self.chosen!r}, test_rmsd={self.test_rmsd:.4f}, "
            f"test_r={self.test_r:.3f}, n_train={self.n_train}, n_test={self.n_test})"
        )


def run_dream_benchmark(
    data: DreamData,
    *,
    candidates: Sequence[str] = ("mean", "ridge", "forest", "boosting", "ensemble"),
    chosen: str | None = None,
    folds: int = 5,
    seed: int = 0,
    n_estimators: int = 500,
    n_jobs: int | None = None,
    evaluate_test: bool = True,
) -> DreamBenchmark:
    """Cross-validate prognostic-score candidates on the training rows, then test once.

    The out-of-fold predictions of ``"ensemble"`` are the average of those of
    ridge, forest and boosting (identical folds and seeds), which is exactly what
    the fitted ensemble predicts, so it costs no extra fits.

    Parameters
    ----------
    data : DreamData
        Features, target and test flag (e.g. from :func:`load_dream`).
    candidates : sequence of str
        Model families (see :func:`alsnet.twin.prognostic.make_candidate`).
    chosen : str, optional
        Model evaluated on the test rows; default
        :class:`~alsnet.twin.prognostic.PrognosticScore`'s default model, fixed
        in the code before the test rows were ever used.
    folds : int, default 5
        CV folds (shuffled, seeded by ``seed``).
    seed : int, default 0
        Seed of the fold split and of every model.
    n_estimators : int, default 500
        Random-forest trees.
    n_jobs : int, optional
        Parallel jobs of the forest.
    evaluate_test : bool, default True
        Set False to cross-validate only (test figures are then NaN).

    Returns
    -------
    DreamBenchmark
    """
    from sklearn.model_selection import KFold

    from alsnet.twin.prognostic import PrognosticScore, make_candidate

    test = data.testset.to_numpy(dtype=bool)
    Xtr, ytr = data.X.loc[~test], data.y.loc[~test].to_numpy(dtype="float64")
    chosen = chosen or PrognosticScore().model
    base = [c for c in candidates if c != "ensemble"]
    if "ensemble" in candidates:
        base += [c for c in ("ridge", "forest", "boosting") if c not in base]
    kf = KFold(n_splits=folds, shuffle=True, random_state=seed)
    oof: dict[str, np.ndarray] = {}
    secs: dict[str, float] = {}
    for name in base:
        pred = np.empty(len(ytr))
        t = time.perf_counter()
        for tr, va in kf.split(Xtr):
            est = make_candidate(name, n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs)
            est.fit(Xtr.iloc[tr], ytr[tr])
            pred[va] = est.predict(Xtr.iloc[va])
        oof[name] = pred
        secs[name] = time.perf_counter() - t
        logger.info("DREAM CV %s: RMSD %.4f (%.1f s)", name, rmsd(ytr, pred), secs[name])
    if "ensemble" in candidates:
        oof["ensemble"] = (oof["ridge"] + oof["forest"] + oof["boosting"]) / 3
        secs["ensemble"] = secs["ridge"] + secs["forest"] + secs["boosting"]
    cv = pd.DataFrame(
        {
            "model": list(candidates),
            "cv_rmsd": [rmsd(ytr, oof[c]) for c in candidates],
            "cv_r": [pearson_r(ytr, oof[c]) for c in candidates],
            "seconds": [secs[c] for c in candidates],
        }
    )
    t_rmsd = t_r = float("nan")
    pte_s = pd.Series(dtype="float64")
    if evaluate_test:
        model = PrognosticScore(
            model=chosen, n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs
        ).fit(Xtr, ytr)
        yte = data.y.loc[test].to_numpy(dtype="float64")
        pte = model.predict(data.X.loc[test])
        t_rmsd, t_r = rmsd(yte, pte), pearson_r(yte, pte)
        pte_s = pd.Series(pte, index=data.y.index[test], name="score")
    return DreamBenchmark(
        cv=cv,
        chosen=chosen,
        test_rmsd=t_rmsd,
        test_r=t_r,
        n_train=int((~test).sum()),
        n_test=int(test.sum()),
        folds=folds,
        seed=seed,
        test_predictions=pte_s,
    )


#: The DREAM README's random-forest reference settings (test RMSD 0.509, r 0.44).
REFERENCE_FOREST: dict[str, float | int] = {
    "n_estimators": 500,
    "min_samples_leaf": 5,
    "max_features": 0.33,
}


def reference_forest_predictions(
    data: DreamData, *, seed: int = 0, n_jobs: int | None = None
) -> pd.Series:
    """Test-row predictions of the README's random-forest reference, fitted on training rows.

    A plain :class:`sklearn.ensemble.RandomForestRegressor` with
    :data:`REFERENCE_FOREST` (500 trees, min leaf 5, 33% of features per split),
    fitted on the training rows (``testset`` False) only; missing values (NaN, e.g.
    after :func:`unfill_dream`) are handled by scikit-learn's trees natively. Nothing
    is selected or tuned: this reproduces a published reference so that reported test
    figures can be compared with it on the same rows.

    Parameters
    ----------
    data : DreamData
        Features, target and split (:func:`load_dream`; ``unfill=False`` reads the
        file as distributed).
    seed : int, default 0
        Seed of the forest.
    n_jobs : int, optional
        Parallel jobs.

    Returns
    -------
    Series
        Predicted ``dFRS`` (points/month) on the test rows, indexed like ``data.y``.
    """
    from sklearn.ensemble import RandomForestRegressor

    test = data.testset.to_numpy(dtype=bool)
    rf = RandomForestRegressor(
        n_estimators=int(REFERENCE_FOREST["n_estimators"]),
        min_samples_leaf=int(REFERENCE_FOREST["min_samples_leaf"]),
        max_features=float(REFERENCE_FOREST["max_features"]),
        random_state=seed,
        n_jobs=n_jobs,
    )
    rf.fit(data.X.loc[~test], data.y.loc[~test].to_numpy(dtype="float64"))
    pred = rf.predict(data.X.loc[test])
    return pd.Series(pred, index=data.y.index[test], name="reference_forest")


class PairedRmsd(NamedTuple):
    """Paired bootstrap comparison of two predictors' RMSD on the same rows.

    Attributes
    ----------
    rmsd_a, rmsd_b : float
        RMSD of predictor a and b on all rows (outcome units).
    difference : float
        ``rmsd_a - rmsd_b`` (negative: a is better).
    ci_low, ci_high : float
        Percentile bootstrap confidence interval of the difference.
    n, n_boot : int
        Rows and bootstrap replicates.
    level : float
        Confidence level.
    """

    rmsd_a: float
    rmsd_b: float
    difference: float
    ci_low: float
    ci_high: float
    n: int
    n_boot: int
    level: float


def paired_rmsd_bootstrap(
    y_true: ArrayLike,
    pred_a: ArrayLike,
    pred_b: ArrayLike,
    *,
    n_boot: int = 4000,
    level: float = 0.95,
    seed: int = 0,
) -> PairedRmsd:
    """Percentile bootstrap CI of ``RMSD(a) - RMSD(b)``, resampling rows (patients) in pairs.

    Every replicate draws ``n`` rows with replacement and recomputes both RMSDs on
    the *same* rows, so the interval reflects the uncertainty of the difference
    (the two predictors' errors are correlated), not of each RMSD alone.

    Parameters
    ----------
    y_true, pred_a, pred_b : array-like, shape (n,)
        Outcomes and the two predictors' predictions.
    n_boot : int, default 4000
        Bootstrap replicates.
    level : float, default 0.95
        Confidence level.
    seed : int, default 0
        Seed of the resampling.

    Returns
    -------
    PairedRmsd

    Raises
    ------
    ValueError
        Lengths differ, fewer than 2 rows, NaN values or a level outside (0, 1).

    Examples
    --------
    >>> res = paired_rmsd_bootstrap([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [1.0, 1.0, 1.0])
    >>> res.difference < 0
    True
    """
    y = np.asarray(y_true, dtype="float64")
    a = np.asarray(pred_a, dtype="float64")
    b = np.asarray(pred_b, dtype="float64")
    if not (y.ndim == a.ndim == b.ndim == 1 and y.size == a.size == b.size):
        raise ValueError(
            f"y_true, pred_a and pred_b must be 1-D of equal length, got {y.shape}, "
            f"{a.shape}, {b.shape}"
        )
    if y.size < 2:
        raise ValueError(f"need at least 2 rows, got {y.size}")
    if np.isnan(y).any() or np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("y_true, pred_a and pred_b must not contain NaN")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be within (0, 1), got {level}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    ea, eb = (y - a) ** 2, (y - b) ** 2
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_boot)
    block = max(1, 2_000_000 // y.size)  # bounds memory of the index matrix
    for lo in range(0, n_boot, block):
        hi = min(lo + block, n_boot)
        idx = rng.integers(0, y.size, size=(hi - lo, y.size))
        diffs[lo:hi] = np.sqrt(ea[idx].mean(axis=1)) - np.sqrt(eb[idx].mean(axis=1))
    alpha = 1.0 - level
    lo_q, hi_q = np.quantile(diffs, [alpha / 2, 1.0 - alpha / 2])
    ra, rb = float(np.sqrt(ea.mean())), float(np.sqrt(eb.mean()))
    return PairedRmsd(
        rmsd_a=ra,
        rmsd_b=rb,
        difference=ra - rb,
        ci_low=float(lo_q),
        ci_high=float(hi_q),
        n=int(y.size),
        n_boot=int(n_boot),
        level=float(level),
    )
