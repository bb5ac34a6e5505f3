"""Biomarker panels: stability selection, leak-free evaluation and AUC confidence intervals.

* :func:`stability_selection` (Meinshausen & Buhlmann 2010): L1 logistic regressions on
  ``n_subsamples`` half-subsamples **of patients**; the selection frequency of a gene is the
  share of subsamples in which any class's model kept it. Genes with frequency
  ``>= threshold`` form the panel. Default threshold 0.7 (the paper recommends 0.6-0.9;
  higher = fewer false selections). With ``q`` genes selected per subsample on average and
  ``p`` genes, the expected number of falsely selected genes is at most
  ``q**2 / ((2 * threshold - 1) * p)`` (reported as ``ev_bound``).
* :func:`cross_validate_panel`: **nested** cross-validation. Outer folds are grouped by
  patient (``scheme="patient"``, StratifiedGroupKFold: similar class shares in every fold,
  which reduces the below-chance bias of CV under the null) or leave one site out
  (``scheme="site"``). In every outer training fold the whole pipeline is refitted: VST,
  ComBat, stability selection, and the inner grouped CV that picks the L2 penalty and the
  calibration temperature (:func:`alsnet.omics.classify.fit_classifier_arrays`). Held-out
  samples go through the frozen assignment path. Nothing of the held-out fold is seen
  before prediction, except in leave-one-site-out, where the held-out site's ComBat
  location and scale are estimated from its own samples without labels
  (``unknown_batch="adapt"``).
* :func:`leaky_cross_validation` reproduces the common mistake (genes chosen on all samples,
  then cross-validated) to show how optimistic it is on noise.
* :func:`auc_table`: one-vs-rest AUC per class and the macro mean, with percentile
  confidence intervals from a bootstrap that resamples **patients** (samples of one patient
  are correlated, omics.md §6).
* :func:`prognostic_value` (in ``_prognostic``): do the age/BMI-adjusted NfL z-score and the
  subtype add to a clinical model of ALSFRS-R slope and survival?
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alsnet.exceptions import DataValidationError, Problem
from alsnet.omics._prognostic import (
    NFL_REFERENCE,
    NflReference,
    PrognosticResult,
    harrell_c,
    nfl_zscore,
    prognostic_value,
)
from alsnet.omics.classify import (
    Selector,
    anova_f,
    fit_classifier_arrays,
    single_threaded,
    top_f_selector,
)

if TYPE_CHECKING:
    import anndata

__all__ = [
    "DEFAULT_STABILITY_THRESHOLD",
    "NFL_REFERENCE",
    "CVResult",
    "NflReference",
    "PrognosticResult",
    "StabilityResult",
    "auc_table",
    "cross_validate_panel",
    "harrell_c",
    "l1_logistic_path",
    "leaky_cross_validation",
    "nfl_zscore",
    "prognostic_value",
    "stability_selection",
    "stability_selector",
    "weighted_auc",
]

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Default selection-frequency threshold (Meinshausen & Buhlmann recommend 0.6-0.9).
DEFAULT_STABILITY_THRESHOLD = 0.7


# --------------------------------------------------------------------------- selection
@dataclass(frozen=True)
class StabilityResult:
    """Result of :func:`stability_selection`.

    Attributes
    ----------
    frequency : ndarray, shape (n_genes,)
        Selection frequency of every gene (0-1).
    selected : ndarray of int
        Panel columns, by decreasing frequency.
    threshold : float
        Frequency threshold used.
    fallback : bool
        True when fewer than ``min_genes`` passed the threshold and the most frequent genes
        were taken instead (the panel is then not "stable").
    lam : float
        L1 penalty used on every subsample (mean log-loss scale; scikit-learn's
        ``C = 1 / (lam * n_subsample)``).
    mean_selected : float
        ``q``: mean number of genes selected per subsample.
    ev_bound : float
        Upper bound on the expected number of false selections, ``q**2/((2 pi - 1) p)``.
    n_subsamples : int
    """

    frequency: FloatArray
    selected: IntArray
    threshold: float
    fallback: bool
    lam: float
    mean_selected: float
    ev_bound: float
    n_subsamples: int

    def summary(self, gene_ids: Sequence[str] | None = None, top: int = 30) -> pd.DataFrame:
        """Top genes by selection frequency: ``gene, frequency, selected``."""
        order = np.argsort(-self.frequency, kind="stable")[:top]
        ids = np.asarray(gene_ids if gene_ids is not None else np.arange(self.frequency.size))
        chosen = np.zeros(self.frequency.size, dtype=bool)
        chosen[self.selected] = True
        return pd.DataFrame(
            {
                "gene": ids[order].astype(str),
                "frequency": self.frequency[order],
                "selected": chosen[order],
            }
        )


def _standardise(x: FloatArray) -> FloatArray:
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0)


def l1_logistic_path(
    x: FloatArray,
    y: FloatArray,
    weights: FloatArray,
    lam: FloatArray,
    *,
    max_iter: int = 500,
    tol: float = 1e-5,
) -> tuple[FloatArray, FloatArray]:
    """L1-penalised logistic regressions, many at once (FISTA, unpenalised intercept).

    Replicate ``r`` minimises
    ``sum_i w_ri loss(y_ri, b_r + x_i beta_r) / sum_i w_ri + lam_r * ||beta_r||_1``
    (the scikit-learn L1 model with ``C = 1 / (lam * sum_i w_ri)`` and no intercept penalty).

    Parameters
    ----------
    x : ndarray, shape (n, p)
        Standardised features.
    y : ndarray, shape (n,) or (n_rep, n)
        0/1 outcomes.
    weights : ndarray, shape (n_rep, n)
        Non-negative sample weights (0/1 for subsamples).
    lam : ndarray, shape (n_rep,)
        Penalties.

    Returns
    -------
    (beta, intercept) : ndarrays of shape (n_rep, p) and (n_rep,)
    """
    r = weights.shape[0]
    yy = np.broadcast_to(y, weights.shape)
    nb = weights.sum(axis=1)
    wn = weights / nb[:, None]
    # Lipschitz constant of the weighted mean log-loss gradient (with the intercept column).
    sig = np.linalg.norm(np.column_stack([x, np.ones(x.shape[0])]), ord=2)
    step = 4.0 / (sig**2 * wn.max(axis=1))
    beta = np.zeros((r, x.shape[1]))
    b0 = np.zeros(r)
    zb, z0, t = beta.copy(), b0.copy(), 1.0
    for _ in range(max_iter):  # FISTA iterations, vectorised over replicates
        eta = zb @ x.T + z0[:, None]
        res = wn * (1.0 / (1.0 + np.exp(-eta)) - yy)
        gb = zb - step[:, None] * (res @ x)
        new_beta = np.sign(gb) * np.maximum(np.abs(gb) - (step * lam)[:, None], 0.0)
        new_b0 = z0 - step * res.sum(axis=1)
        t_new = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        mom = (t - 1.0) / t_new
        zb = new_beta + mom * (new_beta - beta)
        z0 = new_b0 + mom * (new_b0 - b0)
        delta = max(np.abs(new_beta - beta).max(initial=0.0), np.abs(new_b0 - b0).max())
        beta, b0, t = new_beta, new_b0, t_new
        if delta < tol:
            break
    return beta, b0


def _l1_support(
    xs: FloatArray,
    y_codes: IntArray,
    k: int,
    weights: FloatArray,
    lam: FloatArray,
    max_iter: int = 200,
) -> npt.NDArray[np.bool_]:
    """(n_rep, p): columns with a non-zero coefficient in any one-vs-rest L1 model."""
    keep = np.zeros((weights.shape[0], xs.shape[1]), dtype=bool)
    targets = [1] if k == 2 else range(k)
    for cls in targets:  # k classes (small), each vectorised over replicates
        beta, _ = l1_logistic_path(
            xs, (y_codes == cls).astype(np.float64), weights, lam, max_iter=max_iter
        )
        keep |= np.abs(beta) > 0
    return keep


def _lambda_max(xs: FloatArray, y_codes: IntArray, k: int) -> float:
    """Smallest penalty at which every one-vs-rest L1 model is empty."""
    targets = [1] if k == 2 else range(k)
    return max(
        float(np.abs(xs.T @ ((y_codes == c) - (y_codes == c).mean())).max() / xs.shape[0])
        for c in targets
    )


def _auto_lambda(xs: FloatArray, y_codes: IntArray, k: int, q_target: int) -> float:
    """Largest penalty on a grid below the entry point keeping >= ``q_target`` genes."""
    grid = _lambda_max(xs, y_codes, k) * np.array([0.8, 0.6, 0.45, 0.35, 0.25, 0.18, 0.12, 0.08])
    w = np.ones((grid.size, xs.shape[0]))
    n_kept = _l1_support(xs, y_codes, k, w, grid).sum(axis=1)
    ok = np.flatnonzero(n_kept >= q_target)
    return float(grid[ok[0]] if ok.size else grid[-1])


@single_threaded
def stability_selection(
    x: Any,
    y: Any,
    groups: Any = None,
    *,
    n_subsamples: int = 100,
    fraction: float = 0.5,
    threshold: float = DEFAULT_STABILITY_THRESHOLD,
    lam: float | None = None,
    q_target: int = 30,
    max_iter: int = 200,
    prescreen: int | None = 200,
    min_genes: int = 3,
    max_genes: int = 30,
    rng: int | np.random.Generator | None = 0,
) -> StabilityResult:
    """Stability selection of a gene panel with L1 logistic regression on subsamples.

    Parameters
    ----------
    x : array-like, shape (n_samples, n_genes)
        Log-scale, batch-corrected expression (e.g. ComBat of VST values).
    y : array-like, shape (n_samples,)
        Class labels (two or more classes; multiclass uses one-vs-rest models).
    groups : array-like, shape (n_samples,), optional
        Patient of every sample: subsamples draw ``fraction`` of the **patients**.
    n_subsamples : int
        Number of subsamples (default 100).
    fraction : float
        Share of patients per subsample (default 0.5, as in the paper).
    threshold : float
        Selection-frequency threshold in (0.5, 1] (default 0.7).
    lam : float, optional
        L1 penalty; default: the largest penalty on a grid below the entry point
        ``lambda_max`` whose fit on all of ``x`` keeps at least ``q_target`` genes.
    q_target : int
        Target number of genes per fit used by the automatic penalty.
    max_iter : int
        FISTA iterations per fit (200: supports agree with converged fits on about 99 % of
        the gene x subsample entries).
    prescreen : int or None
        Only the ``prescreen`` genes with the largest ANOVA F on ``x`` (the data given, so
        inside any outer CV fold) enter the L1 fits (speed); ``None`` = all genes.
    min_genes, max_genes : int
        Panel size bounds: at most ``max_genes`` (the most frequent); if fewer than
        ``min_genes`` pass the threshold, the ``min_genes`` most frequent are taken and
        ``fallback`` is set.
    rng : int or Generator
        Random source.

    Returns
    -------
    StabilityResult
    """
    if not 0.5 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0.5, 1], got {threshold}")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    gen = np.random.default_rng(rng)
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y).astype(str)
    n, p = xa.shape
    _, codes, _ = np.unique(ya, return_inverse=True, return_counts=True)
    codes = codes.astype(np.int64)
    k = int(codes.max()) + 1
    grp = np.arange(n).astype(str) if groups is None else np.asarray(groups).astype(str)
    levels, gcode = np.unique(grp, return_inverse=True)
    n_take = max(2, round(fraction * levels.size))

    def screen(rows: IntArray) -> IntArray:
        if prescreen is None or prescreen >= p:
            return np.arange(p, dtype=np.int64)
        f = anova_f(xa[rows], codes[rows])
        return np.argsort(-f, kind="stable")[:prescreen].astype(np.int64)

    cols = screen(np.arange(n, dtype=np.int64))
    xs = _standardise(xa[:, cols])
    lam_use = _auto_lambda(xs, codes, k, q_target) if lam is None else float(lam)
    masks = np.zeros((n_subsamples, n))
    for s in range(n_subsamples):  # draw the subsamples (cheap); fits are vectorised
        chosen = gen.choice(levels.size, size=n_take, replace=False)
        member = np.zeros(levels.size)
        member[chosen] = 1.0
        masks[s] = member[gcode]
    keep = _l1_support(xs, codes, k, masks, np.full(n_subsamples, lam_use), max_iter)
    hits = np.zeros(p)
    np.add.at(hits, cols, keep.sum(axis=0))
    n_sel = keep.sum(axis=1)
    freq = hits / n_subsamples
    order = np.argsort(-freq, kind="stable")
    passing = order[freq[order] >= threshold][:max_genes]
    fallback = passing.size < min_genes
    selected = order[:min_genes] if fallback else passing
    q = float(n_sel.mean())
    ev = q**2 / ((2 * threshold - 1) * p)
    logger.debug(
        "stability selection: lam=%.3g q=%.1f, %d genes >= %.2f",
        lam_use,
        q,
        passing.size,
        threshold,
    )
    return StabilityResult(
        frequency=freq,
        selected=selected.astype(np.int64),
        threshold=threshold,
        fallback=bool(fallback),
        lam=lam_use,
        mean_selected=q,
        ev_bound=float(ev),
        n_subsamples=n_subsamples,
    )


def stability_selector(**kwargs: Any) -> Selector:
    """A :data:`~alsnet.omics.classify.Selector` running :func:`stability_selection`.

    Keyword arguments are passed on (``n_subsamples``, ``threshold``, ...); the random
    source is the one the pipeline passes.
    """

    def select(
        x: FloatArray, y: npt.NDArray[Any], groups: npt.NDArray[Any], rng: np.random.Generator
    ) -> IntArray:
        return stability_selection(x, y, groups, rng=rng, **kwargs).selected

    return select


# --------------------------------------------------------------------------- AUC
def weighted_auc(scores: Any, positive: Any, weights: Any) -> FloatArray:
    """Area under the ROC curve with sample weights, for many weight vectors at once.

    ``AUC = sum_{i pos, j neg} w_i w_j ([s_i > s_j] + [s_i = s_j] / 2) / (W_pos W_neg)``.

    Parameters
    ----------
    scores : array-like, shape (n,)
        Scores (higher = more likely positive).
    positive : array-like of bool, shape (n,)
    weights : array-like, shape (n,) or (n_rep, n)
        Non-negative weights (bootstrap multiplicities).

    Returns
    -------
    ndarray, shape (n_rep,)
        NaN where a replicate has no positive or no negative weight.
    """
    from scipy import sparse

    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(positive, dtype=bool)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    _, inv = np.unique(s, return_inverse=True)
    n_u = int(inv.max()) + 1 if inv.size else 0
    neg_idx = np.flatnonzero(~pos)
    pos_idx = np.flatnonzero(pos)
    onehot = sparse.csr_matrix(
        (np.ones(neg_idx.size), (np.arange(neg_idx.size), inv[neg_idx])),
        shape=(neg_idx.size, n_u),
    )
    neg_w = np.asarray((onehot.T @ w[:, neg_idx].T).T)  # (n_rep, n_unique)
    below = np.cumsum(neg_w, axis=1) - neg_w
    credit = below[:, inv[pos_idx]] + 0.5 * neg_w[:, inv[pos_idx]]
    num = (w[:, pos_idx] * credit).sum(axis=1)
    den = w[:, pos_idx].sum(axis=1) * w[:, neg_idx].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def auc_table(
    y: Any,
    proba: Any,
    classes: Sequence[str],
    groups: Any = None,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    rng: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """One-vs-rest AUC per class and the macro mean, with patient-bootstrap CIs.

    Parameters
    ----------
    y : array-like of str, shape (n,)
        True labels.
    proba : array-like, shape (n, n_classes)
        Predicted probabilities (columns in ``classes`` order).
    classes : sequence of str
    groups : array-like, shape (n,), optional
        Patient of every sample; the bootstrap resamples patients (default: samples).
    n_boot : int
        Bootstrap replicates.
    level : float
        Confidence level of the percentile interval.

    Returns
    -------
    DataFrame
        ``class, auc, ci_low, ci_high, n_pos, n`` (one row per class, then ``macro``; for two
        classes only the second class and the macro row, which are equal).
    """
    gen = np.random.default_rng(rng)
    ya = np.asarray(y).astype(str)
    pa = np.asarray(proba, dtype=np.float64)
    n = ya.size
    grp = np.arange(n).astype(str) if groups is None else np.asarray(groups).astype(str)
    _, gcode = np.unique(grp, return_inverse=True)
    n_g = int(gcode.max()) + 1
    draws = gen.multinomial(n_g, np.full(n_g, 1.0 / n_g), size=n_boot).astype(np.float64)
    w_boot = draws[:, gcode]
    ones = np.ones((1, n))
    use = list(classes)[1:] if len(classes) == 2 else list(classes)
    rows = []
    boots = []
    for c in use:  # a few classes
        j = list(classes).index(c)
        pos = ya == c
        est = float(weighted_auc(pa[:, j], pos, ones)[0])
        b = weighted_auc(pa[:, j], pos, w_boot)
        boots.append(b)
        rows.append((c, est, b, int(pos.sum())))
    alpha = (1.0 - level) / 2.0
    out = []
    for c, est, b, npos in rows:
        lo, hi = np.nanquantile(b, [alpha, 1 - alpha])
        out.append({"class": c, "auc": est, "ci_low": lo, "ci_high": hi, "n_pos": npos, "n": n})
    macro_b = np.nanmean(np.vstack(boots), axis=0)
    lo, hi = np.nanquantile(macro_b, [alpha, 1 - alpha])
    out.append(
        {
            "class": "macro",
            "auc": float(np.mean([r[1] for r in rows])),
            "ci_low": lo,
            "ci_high": hi,
            "n_pos": n,
            "n": n,
        }
    )
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- evaluation
@dataclass(frozen=True)
class CVResult:
    """Out-of-fold predictions of a cross-validated panel pipeline.

    Attributes
    ----------
    scheme : str
        ``"patient"`` (nested, stratified folds grouped by patient), ``"site"`` (leave one
        site out) or ``"leaky"`` (selection outside the loop: the mistake, for comparison).
    classes : tuple of str
    y : ndarray of str, shape (n,)
    proba : ndarray, shape (n, n_classes)
        Out-of-fold probabilities.
    groups : ndarray of str, shape (n,)
        Patient of every sample.
    fold_genes : list of list of str
        Panel chosen in every outer fold.
    auc : DataFrame
        :func:`auc_table` of the out-of-fold predictions.
    seconds : float
    params : dict
    """

    scheme: str
    classes: tuple[str, ...]
    y: npt.NDArray[Any]
    proba: FloatArray
    groups: npt.NDArray[Any]
    fold_genes: list[list[str]]
    auc: pd.DataFrame
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        auc, lo, hi = self.macro_auc
        return (
            f"CVResult({self.scheme}, {len(self.fold_genes)} folds, n={self.y.size}, "
            f"macro AUC {auc:.3f} [{lo:.3f}, {hi:.3f}])"
        )

    @property
    def macro_auc(self) -> tuple[float, float, float]:
        """(AUC, CI low, CI high) of the macro one-vs-rest AUC."""
        row = self.auc[self.auc["class"] == "macro"].iloc[0]
        return float(row["auc"]), float(row["ci_low"]), float(row["ci_high"])

    def gene_frequency(self) -> pd.Series:
        """Share of outer folds whose panel contains each gene (descending)."""
        s = pd.Series([g for fold in self.fold_genes for g in fold], dtype=object)
        return (s.value_counts() / max(len(self.fold_genes), 1)).rename("fold_frequency")

    def summary(self) -> pd.DataFrame:
        """The AUC table with the scheme as first column."""
        return self.auc.assign(scheme=self.scheme)[["scheme", *self.auc.columns]]


def _obs_column(adata: anndata.AnnData, key: str) -> npt.NDArray[Any]:
    if key not in adata.obs.columns:
        raise DataValidationError(
            [Problem("obs", None, key, None, "column not found in the sample metadata")]
        )
    return np.asarray(adata.obs[key].astype(str).to_numpy())


def cross_validate_panel(
    adata: anndata.AnnData,
    label_key: str,
    *,
    scheme: Literal["patient", "site"] = "patient",
    group_key: str = "patient_id",
    batch_key: str | None = "site",
    site_key: str = "site",
    n_outer: int = 5,
    n_inner: int = 3,
    selector: Selector | None = None,
    layer: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> CVResult:
    """Nested cross-validation of the whole panel pipeline (selection inside the loop).

    Parameters
    ----------
    adata : AnnData
        Raw counts (samples x genes) and ``obs`` with the label, patient and site columns.
    label_key : str
        Class label column.
    scheme : {"patient", "site"}
        Outer folds: ``n_outer`` stratified folds grouped by patient
        (StratifiedGroupKFold), or leave one site out.
    group_key, batch_key, site_key : str
        Patient, ComBat batch (``None`` = no correction) and site columns.
    n_outer, n_inner : int
        Outer and inner (hyper-parameter) folds.
    selector : Selector, optional
        Panel selection run inside every outer training fold (default
        ``stability_selector()``).
    n_boot : int
        Bootstrap replicates for the AUC CIs.
    seed : int

    Returns
    -------
    CVResult
    """
    from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold

    t0 = time.perf_counter()
    y = _obs_column(adata, label_key)
    groups = _obs_column(adata, group_key)
    batch = None if batch_key is None else _obs_column(adata, batch_key)
    x = adata.X if layer is None else adata.layers[layer]
    if hasattr(x, "toarray"):
        x = x.toarray()
    genes = np.asarray(adata.var_names.astype(str))
    classes = tuple(np.unique(y).tolist())
    sel = selector or stability_selector()
    if scheme == "patient":
        splits = list(
            StratifiedGroupKFold(n_splits=n_outer, shuffle=True, random_state=seed).split(
                x, y, groups=groups
            )
        )
    elif scheme == "site":
        sites = _obs_column(adata, site_key)
        if np.unique(sites).size < 2:
            raise DataValidationError(
                [Problem("obs", None, site_key, None, "leave-one-site-out needs >= 2 sites")]
            )
        splits = list(LeaveOneGroupOut().split(x, y, groups=sites))
    else:
        raise ValueError(f"scheme must be 'patient' or 'site', not {scheme!r}")
    proba = np.full((y.size, len(classes)), np.nan)
    fold_genes: list[list[str]] = []
    for i, (tr, te) in enumerate(splits):  # outer folds
        model = fit_classifier_arrays(
            x[tr],
            y[tr],
            genes,
            batch=None if batch is None else batch[tr],
            groups=groups[tr],
            selector=sel,
            n_inner=n_inner,
            batch_key=batch_key,
            seed=seed + i,
        )
        p = model.predict_proba_counts(
            x[te],
            genes,
            None if batch is None else batch[te],
            unknown_batch="adapt" if scheme == "site" else "error",
        )
        cols = [classes.index(c) for c in model.classes]
        proba[np.ix_(te, cols)] = p
        proba[te] = np.nan_to_num(proba[te], nan=0.0)
        fold_genes.append(list(model.genes))
    auc = auc_table(y, proba, classes, groups, n_boot=n_boot, rng=seed)
    return CVResult(
        scheme=scheme,
        classes=classes,
        y=y,
        proba=proba,
        groups=groups,
        fold_genes=fold_genes,
        auc=auc,
        seconds=time.perf_counter() - t0,
        params={"n_outer": len(splits), "n_inner": n_inner, "seed": seed},
    )


@single_threaded
def leaky_cross_validation(
    adata: anndata.AnnData,
    label_key: str,
    *,
    n_genes: int = 20,
    group_key: str = "patient_id",
    batch_key: str | None = "site",
    n_outer: int = 5,
    layer: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> CVResult:
    """The mistake, for comparison: genes chosen on ALL samples, then cross-validated.

    VST and ComBat are fitted on all samples, the ``n_genes`` genes with the largest ANOVA F
    against the labels of all samples are kept, and only the logistic regression is
    cross-validated (stratified folds grouped by patient). On pure noise this gives a
    clearly optimistic AUC; :func:`cross_validate_panel` does not.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold

    from alsnet.omics._combat import ComBat
    from alsnet.omics._vst import VarianceStabilizer

    t0 = time.perf_counter()
    y = _obs_column(adata, label_key)
    groups = _obs_column(adata, group_key)
    x = adata.X if layer is None else adata.layers[layer]
    v = VarianceStabilizer().fit_transform(x)
    if batch_key is not None:
        v = ComBat().fit_transform(v, _obs_column(adata, batch_key))
    cols = top_f_selector(n_genes)(v, y, groups, np.random.default_rng(seed))
    xs = _standardise(v[:, cols])
    classes = tuple(np.unique(y).tolist())
    proba = np.zeros((y.size, len(classes)))
    cv = StratifiedGroupKFold(n_splits=n_outer, shuffle=True, random_state=seed)
    for tr, te in cv.split(xs, y, groups=groups):
        m = LogisticRegression(C=1.0, max_iter=2000).fit(xs[tr], y[tr])
        proba[np.ix_(te, [classes.index(c) for c in m.classes_])] = m.predict_proba(xs[te])
    genes = [str(g) for g in np.asarray(adata.var_names)[cols]]
    return CVResult(
        scheme="leaky",
        classes=classes,
        y=y,
        proba=proba,
        groups=groups,
        fold_genes=[genes],
        auc=auc_table(y, proba, classes, groups, n_boot=n_boot, rng=seed),
        seconds=time.perf_counter() - t0,
        params={"n_genes": n_genes, "n_outer": n_outer, "seed": seed},
    )
