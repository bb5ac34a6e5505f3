"""Frozen, versioned subtype classifier: VST -> ComBat -> gene panel -> calibrated classifier.

:func:`fit_classifier` learns every step from training counts; the result,
:class:`FrozenClassifier`, holds only the numbers needed to assign new samples and is saved
to a JSON file with a format version, the genes, a training fingerprint, the library
versions and a SHA-256 checksum (:meth:`FrozenClassifier.save` / :func:`load_classifier`).

Assignment of a new sample (:meth:`FrozenClassifier.assign`) is a closed-form, vectorised map
restricted to the genes it needs (panel genes + size-factor reference genes):

1. size factor ``s = exp(median_g(log k_g - logmean_g))`` over the stored size-factor genes
   (training log geometric means; genes chosen for high, stable expression);
2. DESeq2 parametric VST of ``k / s`` with the training trend ``a0 + a1 / mu`` (panel only);
3. ComBat as an affine map per batch and gene, ``y * scale_b + shift_b`` (training
   batches only unless ``unknown_batch="adapt"``);
4. standardisation and multinomial logistic regression folded into one linear map, logits
   divided by the calibration temperature ``T`` (temperature scaling fitted on out-of-fold
   logits grouped by patient), softmax.

A sample whose highest probability is below ``threshold`` (default 0.6) gets
``status = "unassigned"``: with three subtypes a uniform guess is 0.33 and published
transfers report assignment probabilities of 0.8-0.9 (Marriott 2023), so 0.6 flags samples
whose evidence is split between subtypes. Its most likely subtype is still reported.

Missing genes at assignment are refused by default (the error names how many and the first
ten). With ``allow_missing=True`` and fewer than 5 % of the needed genes missing, missing
panel genes take the training mean of their corrected value (so they add nothing beyond the
intercept) and missing size-factor genes are dropped from the median; a warning says so.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from alsnet.exceptions import AlsnetError, AlsnetWarning, DataValidationError, Problem
from alsnet.omics._combat import ComBat
from alsnet.omics._counts import as_count_matrix
from alsnet.omics._vst import VarianceStabilizer, median_of_ratios, vst_formula

if TYPE_CHECKING:
    import anndata

__all__ = [
    "DEFAULT_THRESHOLD",
    "FORMAT_VERSION",
    "MAX_MISSING_FRACTION",
    "FrozenClassifier",
    "FrozenModelError",
    "MissingGenesError",
    "Selector",
    "fit_classifier",
    "fit_classifier_arrays",
    "load_classifier",
    "single_threaded",
    "top_f_selector",
]

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Version of the model-file layout; files of any other version are refused.
FORMAT_VERSION = 1
#: Default probability below which a sample is "unassigned".
DEFAULT_THRESHOLD = 0.6
#: Largest share of needed genes that ``allow_missing=True`` may impute.
MAX_MISSING_FRACTION = 0.05
_FORMAT = "alsnet-subtype-classifier"
#: Rows per block in assignment (keeps the working set in cache).
_CHUNK = 2048

#: ``selector(X, y, groups, rng) -> column indices``; X is corrected log-scale data.
Selector = Callable[[FloatArray, npt.NDArray[Any], npt.NDArray[Any], np.random.Generator], Any]


class FrozenModelError(AlsnetError, ValueError):
    """A model file is of another version, was altered or is not a model file."""


class MissingGenesError(DataValidationError):
    """Genes the frozen model needs are absent from the input."""


def top_f_selector(n_genes: int = 50) -> Selector:
    """Selector keeping the ``n_genes`` genes with the largest one-way ANOVA F statistic."""

    def select(
        x: FloatArray, y: npt.NDArray[Any], groups: npt.NDArray[Any], rng: np.random.Generator
    ) -> IntArray:
        f = anova_f(x, y)
        k = min(n_genes, x.shape[1])
        return np.sort(np.argsort(-f, kind="stable")[:k]).astype(np.int64)

    return select


def anova_f(x: FloatArray, y: npt.NDArray[Any]) -> FloatArray:
    """One-way ANOVA F statistic of every column of ``x`` across the classes ``y``."""
    _, codes, n_c = np.unique(y, return_inverse=True, return_counts=True)
    k, n = n_c.size, x.shape[0]
    onehot = np.zeros((k, n))
    onehot[codes, np.arange(n)] = 1.0
    means = (onehot @ x) / n_c[:, None]
    grand = x.mean(axis=0)
    ss_between = (n_c[:, None] * (means - grand) ** 2).sum(axis=0)
    ss_within = ((x - means[codes]) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = (ss_between / max(k - 1, 1)) / (ss_within / max(n - k, 1))
    return np.nan_to_num(f, nan=0.0, posinf=0.0)


def single_threaded(func: Callable[P, R]) -> Callable[P, R]:
    """Run ``func`` with BLAS/OpenMP limited to one thread.

    Many small dense solves (logistic regressions on a few hundred samples) run several
    times faster on one thread than with oversubscribed BLAS threads on a shared machine.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return func(*args, **kwargs)

    return wrapper


def _library_versions() -> dict[str, str]:
    import scipy
    import sklearn

    from alsnet import __version__

    return {
        "alsnet": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
    }


def _fingerprint(counts: FloatArray, labels: npt.NDArray[Any], genes: Any) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(counts, dtype=np.float64).tobytes())
    h.update("\x1f".join(map(str, labels)).encode())
    h.update("\x1f".join(map(str, genes)).encode())
    return h.hexdigest()


def _softmax(logits: FloatArray) -> FloatArray:
    z = logits - logits.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


@dataclass(frozen=True)
class FrozenClassifier:
    """A fitted, frozen subtype classifier (see the module docstring for the steps).

    Attributes
    ----------
    classes : tuple of str
        Subtype labels, in column order of the probabilities.
    genes : tuple of str
        Panel genes (classifier inputs), in order.
    sf_genes : tuple of str
        Size-factor reference genes.
    sf_logmeans : ndarray, shape (n_sf,)
        Training log geometric means of ``sf_genes`` (natural log).
    a0, a1 : float
        VST dispersion trend ``a0 + a1 / mean``.
    batches : tuple of str
        Training batches ComBat knows (empty = no batch correction).
    combat_scale, combat_shift : ndarray, shape (n_batches, n_panel)
        ComBat as ``y * scale + shift`` per batch, on the panel genes.
    combat_grand, combat_sd : ndarray, shape (n_panel,)
        ComBat reference location and scale (for adapting unseen batches).
    panel_mean : ndarray, shape (n_panel,)
        Training mean of the corrected panel values (used to impute missing genes).
    weights : ndarray, shape (n_panel, n_classes)
        Linear map from corrected panel values to logits (standardisation folded in).
    intercept : ndarray, shape (n_classes,)
    temperature : float
        Calibration temperature (logits are divided by it).
    threshold : float
        Probability below which a sample is "unassigned".
    batch_key : str or None
        ``obs`` column holding the batch of new samples.
    meta : dict
        Provenance: format version, creation time, library versions, training fingerprint,
        sizes, class counts and hyper-parameters.
    """

    classes: tuple[str, ...]
    genes: tuple[str, ...]
    sf_genes: tuple[str, ...]
    sf_logmeans: FloatArray
    a0: float
    a1: float
    batches: tuple[str, ...]
    combat_scale: FloatArray
    combat_shift: FloatArray
    combat_grand: FloatArray
    combat_sd: FloatArray
    panel_mean: FloatArray
    weights: FloatArray
    intercept: FloatArray
    temperature: float
    threshold: float = DEFAULT_THRESHOLD
    batch_key: str | None = "site"
    meta: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"FrozenClassifier({len(self.classes)} classes, {len(self.genes)} panel genes, "
            f"{len(self.batches)} batches, T={self.temperature:.2f}, "
            f"threshold={self.threshold})"
        )

    @property
    def required_genes(self) -> tuple[str, ...]:
        """Genes an input must contain: panel genes, then the other size-factor genes."""
        panel = set(self.genes)
        return self.genes + tuple(g for g in self.sf_genes if g not in panel)

    # ---------------------------------------------------------------- assignment
    def predict_proba_counts(
        self,
        counts: Any,
        gene_ids: Sequence[str] | npt.NDArray[Any],
        batch: Any = None,
        *,
        allow_missing: bool = False,
        unknown_batch: Literal["error", "adapt"] = "error",
        source: str = "counts",
    ) -> FloatArray:
        """Calibrated subtype probabilities of raw counts, shape (n_samples, n_classes).

        Parameters
        ----------
        counts : array-like or sparse, shape (n_samples, n_genes_in)
            Raw counts; only the columns of :attr:`required_genes` are read.
        gene_ids : sequence of str
            Gene id of every column of ``counts``.
        batch : array-like of str, shape (n_samples,), optional
            Batch of every sample; required when the model corrects batches.
        allow_missing : bool
            Impute missing genes (< 5 % of the required genes) instead of refusing.
        unknown_batch : {"error", "adapt"}
            Batches not seen in training: refuse, or estimate their per-gene location and
            scale from the new samples themselves (label-free; needs >= 2 samples of the
            batch and assumes its subtype mix resembles training).
        source : str
            Name used in error messages.
        """
        sub, present = self._panel_counts(counts, gene_ids, allow_missing, source)
        n_panel = len(self.genes)
        sf_idx = self._sf_index()
        sf_ok = present[sf_idx]
        # positions of the present columns in ``sub`` (it holds present columns only)
        pos = np.cumsum(present) - 1
        sf_cols = pos[sf_idx[sf_ok]]
        logm = self.sf_logmeans[sf_ok]
        panel_ok = present[:n_panel]
        panel_cols = pos[:n_panel][panel_ok]
        y = np.empty((sub.shape[0], n_panel))
        y[:, ~panel_ok] = 0.0
        for start in range(0, sub.shape[0], _CHUNK):  # cache-sized row blocks
            block = sub[start : start + _CHUNK]
            sf = _median_of_ratios_fast(
                block[:, sf_cols].astype(np.float64), logm, source, offset=start
            )
            q = block[:, panel_cols].astype(np.float64) / sf[:, None]
            y[start : start + _CHUNK, panel_ok] = vst_formula(q, self.a0, self.a1)
        y = self._combat(y, batch, unknown_batch, source)
        missing_panel = ~present[:n_panel]
        if missing_panel.any():
            y[:, missing_panel] = self.panel_mean[missing_panel]
        logits = (y @ self.weights + self.intercept) / self.temperature
        return _softmax(logits)

    def assign(
        self,
        adata: anndata.AnnData,
        *,
        layer: str | None = None,
        threshold: float | None = None,
        allow_missing: bool = False,
        unknown_batch: Literal["error", "adapt"] = "error",
    ) -> pd.DataFrame:
        """Assign samples of ``adata`` (raw counts) to subtypes.

        Parameters
        ----------
        adata : AnnData
            Raw counts in ``X`` (or ``layers[layer]``); ``var_names`` are gene ids; ``obs``
            holds the batch column :attr:`batch_key` when the model corrects batches.
        layer : str, optional
            Layer with the counts.
        threshold : float, optional
            Override of :attr:`threshold` (0-1).
        allow_missing, unknown_batch
            See :meth:`predict_proba_counts`.

        Returns
        -------
        DataFrame
            ``sample_id, subtype, probability, status`` (``"assigned"`` or ``"unassigned"``)
            plus one ``p_<subtype>`` column per class; ``subtype`` is the most likely class
            even when unassigned.
        """
        x = adata.X if layer is None else adata.layers[layer]
        batch = None
        if self.batches:
            if self.batch_key not in adata.obs.columns:
                raise DataValidationError(
                    [
                        Problem(
                            "obs",
                            None,
                            self.batch_key,
                            None,
                            "the model corrects batches: obs needs this batch column",
                        )
                    ]
                )
            batch = adata.obs[self.batch_key].astype(str).to_numpy()
        proba = self.predict_proba_counts(
            x,
            adata.var_names.astype(str),
            batch,
            allow_missing=allow_missing,
            unknown_batch=unknown_batch,
        )
        return self.assignments(proba, adata.obs_names.astype(str), threshold=threshold)

    def assignments(
        self, proba: FloatArray, sample_ids: Sequence[str], *, threshold: float | None = None
    ) -> pd.DataFrame:
        """Table of assignments from a probability matrix (see :meth:`assign`)."""
        thr = self.threshold if threshold is None else float(threshold)
        if not 0.0 <= thr <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {thr}")
        best = proba.argmax(axis=1)
        pmax = proba[np.arange(proba.shape[0]), best]
        out = pd.DataFrame(
            {
                "sample_id": np.asarray(sample_ids, dtype=object),
                "subtype": np.asarray(self.classes, dtype=object)[best],
                "probability": pmax,
                "status": np.where(pmax >= thr, "assigned", "unassigned"),
            }
        )
        for j, c in enumerate(self.classes):
            out[f"p_{c}"] = proba[:, j]
        return out

    # ---------------------------------------------------------------- internals
    def _sf_index(self) -> IntArray:
        """Position of every size-factor gene in :attr:`required_genes`."""
        pos = {g: i for i, g in enumerate(self.required_genes)}
        return np.array([pos[g] for g in self.sf_genes], dtype=np.int64)

    def _panel_counts(
        self, counts: Any, gene_ids: Any, allow_missing: bool, source: str
    ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """Counts of the required genes (columns in :attr:`required_genes` order)."""
        need = pd.Index(self.required_genes)
        ids = pd.Index(np.asarray(gene_ids, dtype=object).astype(str))
        if ids.has_duplicates:
            dup = ids[ids.duplicated()].unique()[:10]
            raise DataValidationError(
                [Problem(source, None, "gene_id", str(g), "gene ids must be unique") for g in dup]
            )
        cols = ids.get_indexer(need)
        present = cols >= 0
        n_missing = int((~present).sum())
        if n_missing:
            missing = [str(g) for g in need[~present][:10]]
            frac = n_missing / need.size
            if not allow_missing or frac >= MAX_MISSING_FRACTION:
                why = (
                    "refused (pass allow_missing=True to impute when < 5 % are missing)"
                    if not allow_missing
                    else f"{frac:.1%} missing is too many to impute (limit 5 %)"
                )
                raise MissingGenesError(
                    [
                        Problem(
                            source,
                            None,
                            "gene_id",
                            ", ".join(missing),
                            f"{n_missing} of the {need.size} genes the model needs are "
                            f"missing (first {len(missing)} shown); {why}",
                        )
                    ]
                )
            warnings.warn(
                f"{n_missing} of {need.size} model genes missing ({', '.join(missing)}): "
                "panel genes set to their training mean, size-factor genes dropped",
                AlsnetWarning,
                stacklevel=3,
            )
        if hasattr(counts, "tocsc"):
            sub = counts.tocsc()[:, cols[present]].toarray()
        else:
            sub = np.asarray(counts)
            take = cols[present]
            if sub.ndim != 2 or take.size != sub.shape[1] or (take != np.arange(take.size)).any():
                sub = sub[:, take]  # a copy of the needed columns only
        if sub.ndim != 2:
            raise DataValidationError(
                [Problem(source, None, None, str(sub.shape), "counts must be a 2-D matrix")]
            )
        if np.issubdtype(sub.dtype, np.integer):
            if (sub < 0).any():  # let the general validator name the cells
                as_count_matrix(sub, source=source)
        else:
            sub = as_count_matrix(sub, source=source)
        return sub, present

    def _combat(self, y: FloatArray, batch: Any, unknown_batch: str, source: str) -> FloatArray:
        if not self.batches:
            return y
        if batch is None:
            raise ValueError("this model corrects batches: pass the batch of every sample")
        b = np.asarray(batch).astype(str)
        if b.shape != (y.shape[0],):
            raise ValueError("batch must have one label per sample")
        known = np.asarray(self.batches, dtype=str)
        idx = np.clip(np.searchsorted(known, b), 0, known.size - 1)
        unknown = known[idx] != b
        out = np.empty_like(y)
        ok = ~unknown
        if ok.all():
            return y * self.combat_scale[idx] + self.combat_shift[idx]
        out[ok] = y[ok] * self.combat_scale[idx[ok]] + self.combat_shift[idx[ok]]
        levels, counts = np.unique(b[unknown], return_counts=True)
        if unknown_batch != "adapt" or (counts < 2).any():
            rule = (
                "batch not seen in training; pass unknown_batch='adapt' to estimate it "
                "from its own samples"
                if unknown_batch != "adapt"
                else "an unseen batch needs at least 2 samples to be adapted"
            )
            raise DataValidationError(
                [Problem(source, None, self.batch_key, str(s), rule) for s in levels[:10]]
            )
        for lev in levels:  # one pass per unseen batch (few), not per sample
            rows = b == lev
            yb = y[rows]
            mu = yb.mean(axis=0)
            sd = yb.std(axis=0, ddof=1)
            sd = np.where(sd > 0, sd, 1.0)
            out[rows] = (yb - mu) / sd * self.combat_sd + self.combat_grand
        return out

    # ---------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content (without the checksum)."""
        return {
            "format": _FORMAT,
            "format_version": FORMAT_VERSION,
            "classes": list(self.classes),
            "genes": list(self.genes),
            "sf_genes": list(self.sf_genes),
            "sf_logmeans": self.sf_logmeans.tolist(),
            "a0": self.a0,
            "a1": self.a1,
            "batches": list(self.batches),
            "batch_key": self.batch_key,
            "combat_scale": self.combat_scale.tolist(),
            "combat_shift": self.combat_shift.tolist(),
            "combat_grand": self.combat_grand.tolist(),
            "combat_sd": self.combat_sd.tolist(),
            "panel_mean": self.panel_mean.tolist(),
            "weights": self.weights.tolist(),
            "intercept": self.intercept.tolist(),
            "temperature": self.temperature,
            "threshold": self.threshold,
            "meta": self.meta,
        }

    def save(self, path: str | Path) -> Path:
        """Write the model as JSON with a SHA-256 checksum of its content."""
        body = self.to_dict()
        doc = {**body, "checksum": _checksum(body)}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
        return path


def _checksum(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _median_of_ratios_fast(
    sub: FloatArray, logmeans: FloatArray, source: str, *, offset: int = 0
) -> FloatArray:
    """Median of ``log k - logmean`` over positive counts, per row (fast path without zeros).

    ``sub`` is overwritten. ``offset`` is added to row numbers in error messages.
    """
    zero = sub <= 0
    with np.errstate(divide="ignore"):
        ratios = np.log(sub, out=sub)
    ratios -= logmeans
    rows = zero.any(axis=1)
    med = np.empty(sub.shape[0])
    if not rows.any():
        return np.exp(_row_median_inplace(ratios))
    if (~rows).any():
        med[~rows] = _row_median_inplace(ratios[~rows])
    if rows.any():
        r = ratios[rows]
        r[zero[rows]] = np.nan
        empty = np.isnan(r).all(axis=1)
        if empty.any():
            raise DataValidationError(
                [
                    Problem(
                        source, offset + int(i) + 1, None, None, "no counts on size-factor genes"
                    )
                    for i in np.flatnonzero(rows)[empty][:10]
                ]
            )
        med[rows] = np.nanmedian(r, axis=1)
    return np.exp(med)


def _row_median_inplace(a: FloatArray) -> FloatArray:
    """Row medians of ``a`` (partitioned in place; no copy)."""
    m = a.shape[1]
    k = m // 2
    if m % 2:
        a.partition(k, axis=1)
        return np.asarray(a[:, k], dtype=np.float64)
    a.partition((k - 1, k), axis=1)
    return np.asarray((a[:, k - 1] + a[:, k]) / 2.0, dtype=np.float64)


def load_classifier(path: str | Path) -> FrozenClassifier:
    """Read a model written by :meth:`FrozenClassifier.save`.

    Raises
    ------
    FrozenModelError
        Not a model file, another format version, or a checksum mismatch (altered file).
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FrozenModelError(f"{path}: not a readable JSON model file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        raise FrozenModelError(f"{path}: not an alsnet subtype classifier file")
    version = doc.get("format_version")
    if version != FORMAT_VERSION:
        raise FrozenModelError(
            f"{path}: model format version {version!r}, this alsnet reads version "
            f"{FORMAT_VERSION} only; refit the model with this alsnet version"
        )
    stored = doc.pop("checksum", None)
    if stored != _checksum(doc):
        raise FrozenModelError(
            f"{path}: checksum mismatch; the file was altered after it was saved "
            "(refusing to use it)"
        )

    def arr(key: str) -> FloatArray:
        return np.asarray(doc[key], dtype=np.float64)

    n_panel = len(doc["genes"])
    return FrozenClassifier(
        classes=tuple(doc["classes"]),
        genes=tuple(doc["genes"]),
        sf_genes=tuple(doc["sf_genes"]),
        sf_logmeans=arr("sf_logmeans"),
        a0=float(doc["a0"]),
        a1=float(doc["a1"]),
        batches=tuple(doc["batches"]),
        combat_scale=arr("combat_scale").reshape(-1, n_panel),
        combat_shift=arr("combat_shift").reshape(-1, n_panel),
        combat_grand=arr("combat_grand"),
        combat_sd=arr("combat_sd"),
        panel_mean=arr("panel_mean"),
        weights=arr("weights").reshape(n_panel, -1),
        intercept=arr("intercept"),
        temperature=float(doc["temperature"]),
        threshold=float(doc["threshold"]),
        batch_key=doc["batch_key"],
        meta=dict(doc["meta"]),
    )


# -------------------------------------------------------------------- fitting
def _pick_sf_genes(counts: FloatArray, logmeans: FloatArray, n_sf: int) -> IntArray:
    """Size-factor reference genes: no zero in training, above-median expression, and the
    smallest SD of log counts among those (stable, well-measured genes)."""
    finite = np.isfinite(logmeans)
    cand = np.flatnonzero(finite & (logmeans >= np.median(logmeans[finite])))
    if cand.size == 0:
        cand = np.flatnonzero(finite)
    if cand.size == 0:
        raise DataValidationError(
            [Problem("counts", None, None, None, "no gene has a count in every training sample")]
        )
    sd = np.log(counts[:, cand]).std(axis=0)
    order = np.argsort(sd, kind="stable")[: min(n_sf, cand.size)]
    return np.sort(cand[order]).astype(np.int64)


def _group_folds(
    y: npt.NDArray[Any], groups: npt.NDArray[Any], n_splits: int, seed: int
) -> list[Any]:
    """Stratified folds that never split a patient."""
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = np.unique(groups).size
    k = max(2, min(n_splits, n_groups))
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(cv.split(np.zeros(groups.size), y, groups=groups))


def _fit_temperature(logits: FloatArray, y_codes: IntArray) -> float:
    """Temperature minimising the negative log-likelihood of out-of-fold logits."""
    from scipy.optimize import minimize_scalar

    rows = np.arange(y_codes.size)

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        return float(-(z[rows, y_codes] - np.log(np.exp(z).sum(axis=1))).mean())

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


@single_threaded
def fit_classifier_arrays(
    counts: Any,
    labels: Any,
    gene_ids: Sequence[str] | npt.NDArray[Any],
    *,
    batch: Any = None,
    groups: Any = None,
    selector: Selector | None = None,
    genes: Sequence[str] | None = None,
    n_sf_genes: int = 200,
    c_grid: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
    n_inner: int = 3,
    threshold: float = DEFAULT_THRESHOLD,
    batch_key: str | None = "site",
    ref_batch: str | None = None,
    seed: int = 0,
) -> FrozenClassifier:
    """Fit the frozen pipeline on arrays (see :func:`fit_classifier` for the parameters).

    ``selector`` picks panel columns from the corrected training data (default: top-50
    ANOVA F); ``genes`` fixes the panel instead. Hyper-parameter ``C`` of the L2 multinomial
    logistic regression is chosen by grouped inner CV (``n_inner`` folds by ``groups``);
    the temperature is fitted on the out-of-fold logits of those inner folds.
    """
    from sklearn.linear_model import LogisticRegression

    raw = as_count_matrix(counts)
    y = np.asarray(labels).astype(str)
    ids = np.asarray(gene_ids, dtype=object).astype(str)
    n, g = raw.shape
    if y.shape != (n,) or ids.shape != (g,):
        raise ValueError("labels need one value per sample and gene_ids one per gene")
    if pd.Index(ids).has_duplicates:
        raise DataValidationError(
            [Problem("var", None, "gene_id", None, "gene ids must be unique")]
        )
    grp = np.arange(n).astype(str) if groups is None else np.asarray(groups).astype(str)
    classes, y_codes, class_n = np.unique(y, return_inverse=True, return_counts=True)
    if classes.size < 2:
        raise DataValidationError(
            [Problem("labels", None, None, str(classes.size), "need at least 2 classes")]
        )
    rng = np.random.default_rng(seed)

    vst = VarianceStabilizer().fit(raw)
    sf_idx = _pick_sf_genes(raw, vst.logmeans_, n_sf_genes)
    use = np.zeros(g, dtype=bool)
    use[sf_idx] = True
    sf = median_of_ratios(raw, vst.logmeans_, use)
    v = vst_formula(raw / sf[:, None], vst.a0_, vst.a1_)
    if batch is not None:
        bt = np.asarray(batch).astype(str)
        combat = ComBat(ref_batch=ref_batch).fit(v, bt)
        corrected = combat.transform(v, bt)
    else:
        combat = None
        corrected = v

    if genes is not None:
        pos = pd.Index(ids).get_indexer(pd.Index(list(genes)).astype(str))
        if (pos < 0).any():
            miss = [str(x) for x in np.asarray(list(genes))[pos < 0][:10]]
            raise MissingGenesError(
                [Problem("genes", None, None, ", ".join(miss), "panel genes not in the data")]
            )
        panel = pos.astype(np.int64)
    else:
        sel = selector or top_f_selector()
        panel = np.asarray(sel(corrected, y, grp, rng), dtype=np.int64)
    if panel.size == 0:
        raise DataValidationError([Problem("panel", None, None, "0", "no gene selected")])

    xp = corrected[:, panel]
    mean = xp.mean(axis=0)
    sd = xp.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    xs = (xp - mean) / sd

    folds = _group_folds(y, grp, n_inner, seed)
    scores = np.zeros(len(c_grid))
    oof = {}
    for ci, c in enumerate(c_grid):  # a handful of C values x inner folds
        logits = np.zeros((n, classes.size))
        for tr, te in folds:
            m = LogisticRegression(C=c, max_iter=2000).fit(xs[tr], y_codes[tr])
            d = m.decision_function(xs[te])
            if d.ndim == 1:  # binary: one logit d -> (-d/2, d/2)
                lg = np.full((te.size, classes.size), -1e3)
                lg[:, m.classes_] = np.column_stack([-d / 2, d / 2])
            else:
                lg = np.full((te.size, classes.size), -1e3)
                lg[:, m.classes_] = d
            logits[te] = lg
        p = _softmax(logits.copy())
        scores[ci] = -np.log(np.clip(p[np.arange(n), y_codes], 1e-12, 1)).mean()
        oof[ci] = logits
    best = int(np.argmin(scores))
    c_best = float(c_grid[best])
    temperature = _fit_temperature(oof[best], y_codes)
    final = LogisticRegression(C=c_best, max_iter=2000).fit(xs, y_codes)
    coef = final.coef_
    icpt = final.intercept_
    if classes.size == 2:  # sklearn's binary model: one logit d = w x + b -> (-d/2, d/2)
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        icpt = np.array([-icpt[0] / 2, icpt[0] / 2])
    weights = (coef / sd).T
    intercept = icpt - (mean / sd) @ coef.T

    if combat is not None:
        csd = np.sqrt(np.where(combat.var_pooled_ <= 0, 1.0, combat.var_pooled_))[panel]
        grand = combat.grand_mean_[panel]
        inv = 1.0 / np.sqrt(combat.delta_star_[:, panel])
        scale = inv.copy()
        shift = grand - (grand + combat.gamma_star_[:, panel] * csd) * inv
        constant = combat.var_pooled_[panel] <= 0
        scale[:, constant] = 1.0
        shift[:, constant] = 0.0
        if ref_batch is not None:
            r = int(np.flatnonzero(combat.batches_ == str(ref_batch))[0])
            scale[r], shift[r] = 1.0, 0.0
        batches = tuple(str(b) for b in combat.batches_)
    else:
        csd = np.ones(panel.size)
        grand = np.zeros(panel.size)
        scale = np.ones((0, panel.size))
        shift = np.zeros((0, panel.size))
        batches = ()

    meta = {
        "format_version": FORMAT_VERSION,
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "library_versions": _library_versions(),
        "training_fingerprint": "sha256:" + _fingerprint(raw, y, ids),
        "n_samples": int(n),
        "n_groups": int(np.unique(grp).size),
        "n_genes_in": int(g),
        "class_counts": {str(c): int(k) for c, k in zip(classes, class_n, strict=True)},
        "C": c_best,
        "c_grid": [float(c) for c in c_grid],
        "inner_log_loss": [float(s) for s in scores],
        "trend": {"a0": vst.a0_, "a1": vst.a1_, "type": vst.trend_type_},
        "ref_batch": ref_batch,
        "seed": seed,
    }
    return FrozenClassifier(
        classes=tuple(str(c) for c in classes),
        genes=tuple(ids[panel]),
        sf_genes=tuple(ids[sf_idx]),
        sf_logmeans=np.asarray(vst.logmeans_[sf_idx], dtype=np.float64),
        a0=float(vst.a0_),
        a1=float(vst.a1_),
        batches=batches,
        combat_scale=np.asarray(scale, dtype=np.float64),
        combat_shift=np.asarray(shift, dtype=np.float64),
        combat_grand=np.asarray(grand, dtype=np.float64),
        combat_sd=np.asarray(csd, dtype=np.float64),
        panel_mean=np.asarray(mean, dtype=np.float64),
        weights=np.asarray(weights, dtype=np.float64),
        intercept=np.asarray(intercept, dtype=np.float64),
        temperature=temperature,
        threshold=float(threshold),
        batch_key=batch_key if batches else None,
        meta=meta,
    )


def fit_classifier(
    adata: anndata.AnnData,
    label_key: str,
    *,
    layer: str | None = None,
    batch_key: str | None = "site",
    group_key: str | None = "patient_id",
    selector: Selector | None = None,
    genes: Sequence[str] | None = None,
    n_sf_genes: int = 200,
    c_grid: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0),
    n_inner: int = 3,
    threshold: float = DEFAULT_THRESHOLD,
    ref_batch: str | None = None,
    seed: int = 0,
) -> FrozenClassifier:
    """Fit VST -> ComBat -> panel -> calibrated multinomial logistic regression on ``adata``.

    Parameters
    ----------
    adata : AnnData
        Raw counts (samples x genes) in ``X`` or ``layers[layer]``; labels in ``obs``.
    label_key : str
        ``obs`` column with the subtype (training label).
    batch_key : str or None
        ``obs`` column corrected by ComBat (``None`` = no correction).
    group_key : str or None
        ``obs`` column grouping samples of one patient (inner CV never splits a patient).
    selector, genes
        Panel choice: a selector run on the corrected training data (default top-50 ANOVA
        F; see :func:`alsnet.omics.panel.stability_selector`) or a fixed gene list.
    n_sf_genes : int
        Number of size-factor reference genes stored (default 200).
    c_grid : sequence of float
        Inverse L2 penalties tried by the inner CV.
    n_inner : int
        Inner grouped folds (hyper-parameter choice and temperature).
    threshold : float
        "Unassigned" band: samples with max probability below it (default 0.6).
    ref_batch : str, optional
        ComBat reference batch.
    seed : int
        Seed of the inner folds and of the selector.

    Returns
    -------
    FrozenClassifier
    """
    for key in (label_key, batch_key, group_key):
        if key is not None and key not in adata.obs.columns:
            raise DataValidationError(
                [Problem("obs", None, key, None, "column not found in the sample metadata")]
            )
    x = adata.X if layer is None else adata.layers[layer]
    return fit_classifier_arrays(
        x,
        adata.obs[label_key].astype(str).to_numpy(),
        adata.var_names.astype(str),
        batch=None if batch_key is None else adata.obs[batch_key].astype(str).to_numpy(),
        groups=None if group_key is None else adata.obs[group_key].astype(str).to_numpy(),
        selector=selector,
        genes=genes,
        n_sf_genes=n_sf_genes,
        c_grid=c_grid,
        n_inner=n_inner,
        threshold=threshold,
        batch_key=batch_key,
        ref_batch=ref_batch,
        seed=seed,
    )
