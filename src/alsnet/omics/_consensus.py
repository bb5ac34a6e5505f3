"""Consensus clustering (Monti et al. 2003) with PAC, cophenetic coefficient and a batch gate.

For each k, samples are clustered on many 80 % subsamples; the consensus matrix holds, for
every pair, the share of subsamples containing both in which they were clustered together.
The final labels cut an average-linkage tree of ``1 - consensus`` into k groups.

Choice of k (rule "stable, then best separated"):

1. *Stable* k: PAC (proportion of ambiguous clustering, pairs with consensus in (0.1, 0.9);
   Senbabaoglu et al. 2014) within :data:`PAC_TOLERANCE` of the lowest PAC.
2. Among stable k, the largest mean silhouette width of the final labels in the clustering
   feature space (PCs of the most variable genes); ties go to the smaller k.

Why not the lowest PAC alone: PAC measures stability, not separation. When subtypes are
unbalanced (61/19/20 %), merging the two small subtypes is as stable as separating them, so
k = 2 and k = 3 both have PAC about 0 and "lowest PAC, ties to smaller k" returns 2. With the
default k-means base clusterer (3 restarts) k = 3 was even *less* stable than k = 2 because
k-means often splits the large subtype instead (a local optimum), giving PAC 0.1-0.35 at the
true k. The silhouette penalises both merging distinct clusters and splitting one. The base
clusterer is therefore Ward hierarchical clustering (deterministic given the subsample; one
tree per subsample is cut at every k), with k-means available as ``method="kmeans"``. The
cophenetic coefficient is reported but, on these data, is about 1 for every stable k and
does not separate them. Recovery on the simulator is tested across seeds
(``tests/omics/test_labels.py::test_k_choice_recovery_across_seeds``).

The batch gate: a stable clustering can be a clustering of the sites (uncorrected multi-site
data cluster by site with PAC 0). The adjusted Rand index (ARI) of the labels against every
batch column is reported, and the clustering is not *published* when any ARI exceeds
:data:`MAX_BATCH_ARI`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.cluster.hierarchy import cophenet, fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

if TYPE_CHECKING:
    import anndata

__all__ = [
    "MAX_BATCH_ARI",
    "PAC_TOLERANCE",
    "ConsensusResult",
    "GateResult",
    "batch_gate",
    "batch_purity",
    "choose_k",
    "consensus_cluster",
    "consensus_matrices",
    "pac_score",
]

logger = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]

#: Largest ARI between clusters and any batch column (site, platform, tissue) for which a
#: clustering may be published. Chance agreement gives ARI about 0; in the reference pipeline
#: test, uncorrected clusters reproduced the sites with ARI 1.0 and corrected ones scored
#: about 0. 0.2 leaves room for real subtype-site imbalance (different referral mixes) while
#: refusing clusterings that share a sizeable part of their structure with a batch.
MAX_BATCH_ARI = 0.2

#: k whose PAC is within this of the lowest PAC count as stable (see the module docstring).
#: PAC differences below 0.05 (5 % of sample pairs) are within the resampling noise of 50
#: subsamples seen in the simulations.
PAC_TOLERANCE = 0.05


@dataclass(frozen=True)
class GateResult:
    """Outcome of the batch QC gate.

    Attributes
    ----------
    published : bool
        True when no batch ARI exceeds ``max_ari``.
    ari : dict of str to float
        ARI of the labels against each batch column.
    max_ari : float
        Threshold used.
    reason : str
        Why the clustering was refused (empty when published).
    """

    published: bool
    ari: dict[str, float]
    max_ari: float
    reason: str


def batch_gate(
    labels: Sequence[Any] | npt.NDArray[Any],
    obs: pd.DataFrame,
    *,
    batch_keys: Sequence[str] = ("site", "platform", "tissue"),
    max_ari: float = MAX_BATCH_ARI,
) -> GateResult:
    """Adjusted Rand index of ``labels`` against each batch column; refuse above ``max_ari``.

    Columns of ``batch_keys`` missing from ``obs`` are skipped (and named in the log).

    Examples
    --------
    >>> obs = pd.DataFrame({"site": ["a", "a", "b", "b"]})
    >>> batch_gate([0, 0, 1, 1], obs, batch_keys=["site"]).published
    False
    """
    ari: dict[str, float] = {}
    for key in batch_keys:
        if key not in obs.columns:
            logger.info("batch gate: obs has no column %r; skipped", key)
            continue
        ari[key] = float(adjusted_rand_score(obs[key].astype(str).to_numpy(), np.asarray(labels)))
    bad = {k: v for k, v in ari.items() if v > max_ari}
    reason = ""
    if bad:
        reason = (
            "clusters track batch: "
            + ", ".join(f"ARI vs {k} = {v:.2f}" for k, v in bad.items())
            + f" (> {max_ari}); correct the batch effect (ComBat) and recluster"
        )
        logger.warning("consensus clustering not published: %s", reason)
    return GateResult(published=not bad, ari=ari, max_ari=max_ari, reason=reason)


#: :func:`batch_purity`: a cluster of at least ``PURITY_MIN_SIZE`` samples is batch-driven when
#: at least ``MAX_CLUSTER_PURITY`` of its samples come from one batch level that holds at most
#: ``PURITY_MAX_LEVEL_SHARE`` of all samples. A small cluster made of one site's (or one
#: platform's) samples barely moves the ARI (in simulations with the platform left
#: uncorrected, 10 % off-platform samples formed such clusters with ARI vs platform <= 0.1).
#: By chance, 10 samples all from a level holding 50 % of the data has probability 0.001.
MAX_CLUSTER_PURITY = 0.9
PURITY_MAX_LEVEL_SHARE = 0.5
PURITY_MIN_SIZE = 10


def batch_purity(
    labels: Sequence[Any] | npt.NDArray[Any],
    obs: pd.DataFrame,
    *,
    batch_keys: Sequence[str] = ("site", "platform", "tissue"),
    max_purity: float = MAX_CLUSTER_PURITY,
    max_level_share: float = PURITY_MAX_LEVEL_SHARE,
    min_size: int = PURITY_MIN_SIZE,
) -> pd.DataFrame:
    """Most frequent batch level of each cluster and whether the cluster is batch-driven.

    Returns
    -------
    DataFrame
        One row per cluster and batch column: ``cluster``, ``batch``, ``level``, ``n``
        (cluster size), ``share_in_cluster`` and ``share_overall`` (0-1) of the level, and
        ``suspect`` (see :data:`MAX_CLUSTER_PURITY`).

    Examples
    --------
    >>> obs = pd.DataFrame({"site": ["a"] * 10 + ["b"] * 20})
    >>> batch_purity(["1"] * 10 + ["2"] * 20, obs, batch_keys=["site"])["suspect"].tolist()
    [True, False]
    """
    lab = pd.Series(np.asarray(labels).astype(str), name="cluster")
    rows = []
    for key in batch_keys:
        if key not in obs.columns:
            continue
        levels = pd.Series(obs[key].astype(str).to_numpy(), name=key)
        ct = pd.crosstab(lab, levels)
        overall = ct.sum(axis=0) / ct.to_numpy().sum()
        size = ct.sum(axis=1)
        top = ct.to_numpy().argmax(axis=1)
        for i, cluster in enumerate(ct.index):
            level = ct.columns[top[i]]
            share = float(ct.iloc[i, top[i]] / size.iloc[i])
            rows.append(
                {
                    "cluster": str(cluster),
                    "batch": key,
                    "level": str(level),
                    "n": int(size.iloc[i]),
                    "share_in_cluster": share,
                    "share_overall": float(overall[level]),
                    "suspect": bool(
                        size.iloc[i] >= min_size
                        and share >= max_purity
                        and overall[level] <= max_level_share
                    ),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "cluster",
            "batch",
            "level",
            "n",
            "share_in_cluster",
            "share_overall",
            "suspect",
        ],
    )


def pac_score(consensus: FloatArray, lower: float = 0.1, upper: float = 0.9) -> float:
    """Proportion of sample pairs with consensus strictly inside ``(lower, upper)``."""
    iu = np.triu_indices(consensus.shape[0], k=1)
    v = consensus[iu]
    return float(np.mean((v > lower) & (v < upper)))


def _cluster(x: FloatArray, k: int, method: str, seed: int) -> npt.NDArray[np.int64]:
    if method == "kmeans":
        return KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(x).astype(np.int64)
    if method == "nmf":  # Brunet et al. 2004: a sample joins its largest metagene
        import warnings

        from sklearn.decomposition import NMF
        from sklearn.exceptions import ConvergenceWarning

        nmf = NMF(n_components=k, init="nndsvda", max_iter=300, tol=1e-3, random_state=seed)
        with warnings.catch_warnings():  # labels (argmax) settle long before the loss does
            warnings.simplefilter("ignore", ConvergenceWarning)
            w = nmf.fit_transform(x)
        return np.asarray(w.argmax(axis=1), dtype=np.int64)
    return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x).astype(np.int64)


def consensus_matrices(
    x: FloatArray,
    k_values: Sequence[int],
    *,
    n_resamples: int = 50,
    subsample: float = 0.8,
    method: Literal["kmeans", "hierarchical", "nmf"] = "hierarchical",
    rng: int | np.random.Generator | None = 0,
) -> dict[int, FloatArray]:
    """Consensus matrices of ``x`` (samples x features) for each k.

    Returns
    -------
    dict of int to ndarray, shape (n_samples, n_samples)
        Share of co-sampled subsamples in which each pair fell in the same cluster.
    """
    from threadpoolctl import threadpool_limits

    gen = np.random.default_rng(rng)
    n = x.shape[0]
    m = max(2, round(subsample * n))
    together = {k: np.zeros((n, n)) for k in k_values}
    sampled = np.zeros((n, n))
    # The fits are small (hundreds of samples x ~20 PCs): OpenMP/BLAS threads cost more than
    # they bring, and on a shared machine their spin-waits made each k-means fit ~20x slower.
    with threadpool_limits(limits=1):
        _accumulate(x, k_values, n_resamples, m, method, gen, together, sampled)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {k: np.where(sampled > 0, t / sampled, 0.0) for k, t in together.items()}
    for c in out.values():
        np.fill_diagonal(c, 1.0)
    return out


def _accumulate(
    x: FloatArray,
    k_values: Sequence[int],
    n_resamples: int,
    m: int,
    method: str,
    gen: np.random.Generator,
    together: dict[int, FloatArray],
    sampled: FloatArray,
) -> None:
    """Add co-sampling and co-clustering counts of ``n_resamples`` subsamples (in place)."""
    n = x.shape[0]
    for _ in range(n_resamples):
        idx = np.sort(gen.choice(n, size=m, replace=False))
        ind = np.zeros(n)
        ind[idx] = 1.0
        sampled += np.outer(ind, ind)
        tree = linkage(x[idx], method="ward") if method == "hierarchical" else None
        for k in k_values:
            if tree is not None:  # one Ward tree per subsample, cut at every k
                lab = fcluster(tree, t=k, criterion="maxclust").astype(np.int64) - 1
            else:
                lab = _cluster(x[idx], k, method, int(gen.integers(2**31 - 1)))
            onehot = np.zeros((n, k))
            onehot[idx, lab] = 1.0
            together[k] += onehot @ onehot.T


@dataclass(frozen=True)
class ConsensusResult:
    """Result of :func:`consensus_cluster`.

    Attributes
    ----------
    k : int
        Chosen number of clusters (see :func:`choose_k`).
    labels : ndarray of str
        Cluster of each sample ("1".."k").
    pac, cophenetic : Series
        PAC and cophenetic correlation by k.
    silhouette : Series
        Mean silhouette width (-1 to 1) of each k's labels in the feature space.
    consensus : dict of int to ndarray
        Consensus matrices by k.
    gate : GateResult
        Batch QC gate.
    params : dict
        Settings used.
    """

    k: int
    labels: npt.NDArray[Any]
    pac: pd.Series
    cophenetic: pd.Series
    consensus: Mapping[int, FloatArray] = field(repr=False)
    gate: GateResult
    params: dict[str, Any]
    silhouette: pd.Series | None = None

    @property
    def published(self) -> bool:
        """Whether the clustering passed the batch gate."""
        return self.gate.published

    def summary(self) -> pd.DataFrame:
        """One row per k: PAC, cophenetic coefficient, silhouette and whether k was chosen."""
        sil = (
            self.silhouette.reindex(self.pac.index).to_numpy()
            if self.silhouette is not None
            else np.full(self.pac.size, np.nan)
        )
        return pd.DataFrame(
            {
                "k": self.pac.index,
                "pac": self.pac.to_numpy(),
                "cophenetic": self.cophenetic.to_numpy(),
                "silhouette": sil,
                "chosen": self.pac.index == self.k,
            }
        )

    def __repr__(self) -> str:
        state = "published" if self.published else f"NOT published ({self.gate.reason})"
        return f"ConsensusResult(k={self.k}, n={self.labels.size}, {state})"


def _features(x: FloatArray, n_top_genes: int, n_pcs: int) -> FloatArray:
    var = x.var(axis=0)
    top = np.argsort(var)[::-1][: min(n_top_genes, x.shape[1])]
    xc = x[:, top] - x[:, top].mean(axis=0)
    from threadpoolctl import threadpool_limits

    # a few hundred x <= n_top_genes: BLAS threads only contend on a shared machine (an
    # SVD of 200 x 800 took 4 s with them under load, 0.05 s without)
    with threadpool_limits(limits=1):
        u, s, _ = np.linalg.svd(xc, full_matrices=False)
    r = min(n_pcs, s.size)
    return np.asarray(u[:, :r] * s[:r], dtype=np.float64)


def choose_k(pac: pd.Series, silhouette: pd.Series, *, pac_tolerance: float = PAC_TOLERANCE) -> int:
    """k with the best silhouette among the stable k (PAC within ``pac_tolerance`` of the min).

    Parameters
    ----------
    pac, silhouette : Series
        PAC (0-1) and mean silhouette width (-1 to 1) indexed by k.
    pac_tolerance : float
        Stable set: ``pac <= pac.min() + pac_tolerance``.

    Returns
    -------
    int
        Chosen k; ties (and missing silhouettes) go to the smaller k.

    Examples
    --------
    >>> pac = pd.Series({2: 0.0, 3: 0.01, 4: 0.3})
    >>> choose_k(pac, pd.Series({2: 0.20, 3: 0.25, 4: 0.30}))
    3
    """
    pac = pac.sort_index()
    stable = pac.index[pac.to_numpy() <= float(pac.min()) + pac_tolerance]
    sil = silhouette.reindex(stable).fillna(-np.inf)
    return int(stable[int(np.argmax(sil.to_numpy()))])


def _silhouette(feats: FloatArray, labels: npt.NDArray[Any]) -> float:
    n_lab = np.unique(labels).size
    if n_lab < 2 or n_lab >= labels.size:
        return float("nan")
    return float(silhouette_score(feats, labels))


def consensus_cluster(
    adata: anndata.AnnData,
    *,
    layer: str | None = "combat",
    k_values: Sequence[int] = (2, 3, 4, 5, 6),
    n_resamples: int = 50,
    subsample: float = 0.8,
    method: Literal["kmeans", "hierarchical", "nmf"] = "hierarchical",
    n_top_genes: int = 1000,
    n_pcs: int = 20,
    batch_keys: Sequence[str] = ("site", "platform", "tissue"),
    max_batch_ari: float = MAX_BATCH_ARI,
    pac_tolerance: float = PAC_TOLERANCE,
    key_added: str = "consensus",
    rng: int | np.random.Generator | None = 0,
) -> ConsensusResult:
    """Consensus clustering of samples with k chosen by PAC and silhouette, gated on batch ARI.

    Samples are represented by the first ``n_pcs`` principal components of the
    ``n_top_genes`` most variable genes of ``layers[layer]`` (log scale, batch-corrected).

    Parameters
    ----------
    adata : AnnData
        Samples x genes.
    layer : str or None
        Input layer (default ``"combat"``); ``None`` = ``X``.
    k_values : sequence of int
        Numbers of clusters to try (each >= 2).
    n_resamples : int
        Subsamples per k.
    subsample : float
        Share of samples drawn (without replacement) per subsample.
    method : {"kmeans", "hierarchical", "nmf"}
        Base clusterer: Ward hierarchical clustering (default; one tree per subsample),
        k-means (3 restarts; unstable at the true k when subtypes are unbalanced) on the
        principal components, or NMF (Brunet et al. 2004: rank-k factorisation of the
        ``n_top_genes`` genes shifted to be non-negative, each sample assigned to its
        largest metagene). On the default simulator NMF, like k-means, tends to merge the
        two small subtypes (k = 2, ARI 0.83-0.85 on seeds 0-1), follows uncorrected tissue
        differences more than the PCs-based clusterers do, and is about 10x slower.
    n_top_genes, n_pcs : int
        Feature selection (highest variance) and PCA dimension.
    batch_keys : sequence of str
        ``obs`` columns for the batch gate.
    max_batch_ari : float
        Gate threshold (see :data:`MAX_BATCH_ARI`).
    pac_tolerance : float
        Stable-k tolerance of :func:`choose_k` (see :data:`PAC_TOLERANCE`).
    key_added : str
        Output: ``obs[key_added]`` (categorical labels) and ``uns[key_added]`` with
        ``params``, ``k``, ``pac``, ``cophenetic``, ``consensus`` (chosen k), ``published``,
        ``reason`` and ``batch_ari``.
    rng : int or numpy.random.Generator
        Random source.

    Returns
    -------
    ConsensusResult
        Also when the gate refuses: then ``published`` is False and ``gate.reason`` says why.
    """
    ks = sorted({int(k) for k in k_values})
    if not ks or ks[0] < 2 or ks[-1] >= adata.n_obs:
        raise ValueError("k_values must be >= 2 and below the number of samples")
    if not 0.0 < subsample <= 1.0:
        raise ValueError("subsample must be in (0, 1]")
    if method not in ("kmeans", "hierarchical", "nmf"):
        raise ValueError("method must be 'kmeans', 'hierarchical' or 'nmf'")
    x_raw = adata.X if layer is None else adata.layers[layer]
    x = np.asarray(x_raw.toarray() if hasattr(x_raw, "toarray") else x_raw, dtype=np.float64)
    feats = _features(x, n_top_genes, n_pcs)
    basis = feats
    if method == "nmf":
        top = np.argsort(x.var(axis=0))[::-1][: min(n_top_genes, x.shape[1])]
        basis = x[:, top] - x[:, top].min(axis=0)
    cons = consensus_matrices(
        basis, ks, n_resamples=n_resamples, subsample=subsample, method=method, rng=rng
    )
    pac = pd.Series({k: pac_score(c) for k, c in cons.items()}, name="pac")
    coph: dict[int, float] = {}
    sil: dict[int, float] = {}
    cuts: dict[int, npt.NDArray[Any]] = {}
    for k, c in cons.items():
        dist = squareform(1.0 - c, checks=False)
        tree = linkage(dist, method="average")
        coph[k] = float(cophenet(tree, dist)[0]) if np.ptp(dist) > 0 else 1.0
        cuts[k] = fcluster(tree, t=k, criterion="maxclust").astype(str)
        sil[k] = _silhouette(feats, cuts[k])
    coph_s = pd.Series(coph, name="cophenetic")
    sil_s = pd.Series(sil, name="silhouette")
    best = choose_k(pac, sil_s, pac_tolerance=pac_tolerance)
    labels = cuts[best]
    gate = batch_gate(labels, adata.obs, batch_keys=batch_keys, max_ari=max_batch_ari)
    params: dict[str, Any] = {
        "layer": "X" if layer is None else layer,
        "k_values": np.asarray(ks),
        "n_resamples": n_resamples,
        "subsample": subsample,
        "method": method,
        "n_top_genes": n_top_genes,
        "n_pcs": n_pcs,
        "batch_keys": np.asarray(list(batch_keys), dtype=str),
        "max_batch_ari": max_batch_ari,
        "pac_tolerance": pac_tolerance,
        "k_rule": (f"best silhouette among k with PAC <= min PAC + {pac_tolerance:g} (stable k)"),
        "rng": rng if isinstance(rng, int) else -1,
    }
    adata.obs[key_added] = pd.Categorical(labels, categories=[str(i) for i in range(1, best + 1)])
    adata.uns[key_added] = {
        "params": params,
        "k": best,
        "pac": pac.to_numpy(),
        "cophenetic": coph_s.to_numpy(),
        "silhouette": sil_s.to_numpy(),
        "consensus": cons[best],
        "published": gate.published,
        "reason": gate.reason,
        "batch_ari": dict(gate.ari),
    }
    return ConsensusResult(
        k=best,
        labels=labels,
        pac=pac,
        cophenetic=coph_s,
        consensus=cons,
        gate=gate,
        params=params,
        silhouette=sil_s,
    )
