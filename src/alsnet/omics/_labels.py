"""Per-patient subtype labels across tissues, with a "discordant" state.

A patient may contribute samples from several tissues (frontal cortex, motor cortex, spinal
cord). Published subtypes agree across a patient's tissues only 46-67 % of the time (Eshima
2024), so a per-patient label must say when its tissues disagree. Rules, per patient:

1. Samples whose label is the ``unassigned`` value, missing, or whose probability is below
   ``min_probability`` are *unassigned* and do not vote.
2. No assigned sample -> label ``unassigned`` (status ``unassigned``).
3. All assigned samples share one label -> that label. Status ``concordant`` when at least two
   tissues are assigned, ``single`` when only one sample/tissue is assigned (this covers a
   patient with one tissue unassigned: the label of the highest-probability assigned sample,
   which is then the only label present). Probability = mean probability of the assigned
   samples.
4. Assigned samples carry different labels -> label ``discordant`` (status ``discordant``);
   probability = NaN.

Eshima et al. (2023) used a majority vote across tissues; with two or three tissues a
majority hides exactly the disagreement the network needs to see, so any disagreement
between assigned tissues is reported as discordant here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["DISCORDANT", "UNASSIGNED", "membership_probability", "patient_labels"]

#: Label of a patient whose assigned tissues disagree.
DISCORDANT = "discordant"
#: Label of a sample (or patient) without a confident assignment.
UNASSIGNED = "unassigned"


def membership_probability(
    consensus: npt.NDArray[np.float64], labels: Sequence[Any] | npt.NDArray[Any]
) -> npt.NDArray[np.float64]:
    """Soft cluster membership of each sample from a consensus matrix (0-1).

    The *item consensus* of sample ``i`` with cluster ``c`` (Monti et al. 2003) is its mean
    consensus with the members of ``c`` (itself excluded). Normalised over clusters it is a
    soft assignment that sums to 1 per sample; the value returned is the one of the sample's
    own cluster: 1 when the sample always clustered with its own cluster and never with
    another, 1/k when it is equally tied to all k clusters.

    Parameters
    ----------
    consensus : ndarray, shape (n_samples, n_samples)
        Consensus matrix (share of subsamples in which each pair clustered together).
    labels : array-like, length n_samples
        Cluster of each sample.

    Returns
    -------
    ndarray, shape (n_samples,)
        Membership probability of each sample's own cluster (NaN for a sample with no
        consensus with any cluster).

    Examples
    --------
    >>> c = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1.0]])
    >>> membership_probability(c, ["a", "a", "b"]).tolist()
    [1.0, 1.0, nan]
    """
    cons = np.asarray(consensus, dtype=np.float64)
    lab = np.asarray(labels).astype(str)
    n = lab.size
    if cons.shape != (n, n):
        raise ValueError(f"consensus must be {n} x {n} for {n} labels")
    names, code = np.unique(lab, return_inverse=True)
    onehot = np.zeros((n, names.size))
    onehot[np.arange(n), code] = 1.0
    off = cons - np.diag(np.diag(cons))
    sums = off @ onehot  # consensus of each sample with each cluster (self excluded)
    sizes = onehot.sum(axis=0) - onehot  # cluster sizes without the sample itself
    with np.errstate(invalid="ignore", divide="ignore"):
        item = np.where(sizes > 0, sums / sizes, np.nan)
        total = np.nansum(item, axis=1)
        own = item[np.arange(n), code]
        prob = np.where(total > 0, own / total, np.nan)
    return np.asarray(prob, dtype=np.float64)


def patient_labels(
    obs: pd.DataFrame,
    labels: Sequence[Any] | npt.NDArray[Any] | pd.Series,
    probability: Sequence[float] | npt.NDArray[np.float64] | pd.Series | None = None,
    *,
    patient_key: str = "patient_id",
    tissue_key: str = "tissue",
    min_probability: float = 0.0,
    unassigned: str = UNASSIGNED,
) -> pd.DataFrame:
    """Combine per-sample subtype labels into one label per patient.

    Parameters
    ----------
    obs : DataFrame
        Sample annotation with ``patient_key`` (and optionally ``tissue_key``) columns, one
        row per sample in the order of ``labels``.
    labels : array-like of str, length n_samples
        Subtype of each sample; ``unassigned`` (or missing) marks a sample without a label.
    probability : array-like of float, optional
        Probability (0-1) of each sample's label; default 1 for assigned samples.
    patient_key, tissue_key : str
        Columns of ``obs``; without ``tissue_key`` every sample counts as its own tissue.
    min_probability : float
        Samples below this probability are treated as unassigned (0-1).
    unassigned : str
        Marker of unassigned samples in ``labels``.

    Returns
    -------
    DataFrame
        One row per patient (index ``patient_id``, sorted; samples with a missing patient id
        are left out): ``label``, ``status``
        (single / concordant / discordant / unassigned), ``probability``, ``n_samples``,
        ``n_assigned`` and ``tissues`` (``tissue=label`` pairs, ``;``-separated).

    Examples
    --------
    >>> obs = pd.DataFrame({"patient_id": ["a", "a", "b", "b"], "tissue": ["x", "y"] * 2})
    >>> patient_labels(obs, ["1", "1", "1", "2"])["label"].tolist()
    ['1', 'discordant']
    """
    if patient_key not in obs.columns:
        raise KeyError(f"obs has no {patient_key!r} column (patient pseudonym)")
    lab = pd.Series(np.asarray(labels, dtype=object), dtype=object)
    n = len(obs)
    if lab.size != n:
        raise ValueError(f"{lab.size} labels for {n} samples")
    prob = (
        np.ones(n, dtype=np.float64)
        if probability is None
        else np.asarray(probability, dtype=np.float64)
    )
    if prob.shape != (n,):
        raise ValueError(f"{prob.size} probabilities for {n} samples")
    if not 0.0 <= min_probability <= 1.0:
        raise ValueError("min_probability must be in [0, 1]")
    assigned = (
        lab.notna().to_numpy()
        & (lab.astype(str) != unassigned).to_numpy()
        & (np.nan_to_num(prob, nan=-1.0) >= min_probability)
    )
    tissue = (
        obs[tissue_key].astype(str).to_numpy()
        if tissue_key in obs.columns
        else np.array([f"sample{i + 1}" for i in range(n)], dtype=object)
    )
    has_patient = obs[patient_key].notna().to_numpy()
    df = pd.DataFrame(
        {
            "patient_id": obs[patient_key].astype(str).to_numpy(),
            "label": lab.astype(str).where(assigned, unassigned).to_numpy(),
            "assigned": assigned,
            "probability": np.where(assigned, prob, np.nan),
            "tissue": tissue,
        }
    ).loc[has_patient]  # samples without a patient id have no per-patient label
    grouped = df.groupby("patient_id", sort=True)
    n_samples = grouped.size()
    n_assigned = grouped["assigned"].sum().astype(np.int64)
    n_labels = df.loc[df["assigned"]].groupby("patient_id")["label"].nunique()
    n_labels = n_labels.reindex(n_samples.index, fill_value=0)
    # the highest-probability assigned label (the only label when the patient is not discordant)
    best = (
        df.loc[df["assigned"]]
        .sort_values("probability", ascending=False, kind="stable")
        .groupby("patient_id")["label"]
        .first()
        .reindex(n_samples.index)
    )
    mean_prob = grouped["probability"].mean()
    status = np.select(
        [n_labels.to_numpy() == 0, n_labels.to_numpy() > 1, n_assigned.to_numpy() >= 2],
        ["unassigned", "discordant", "concordant"],
        default="single",
    )
    label = np.where(
        status == "unassigned",
        unassigned,
        np.where(status == "discordant", DISCORDANT, best.fillna(unassigned).to_numpy()),
    )
    pairs = (df["tissue"] + "=" + df["label"]).groupby(df["patient_id"]).agg(";".join)
    out = pd.DataFrame(
        {
            "label": label,
            "status": status,
            "probability": np.where(
                np.isin(status, ["single", "concordant"]), mean_prob.to_numpy(), np.nan
            ),
            "n_samples": n_samples.to_numpy(np.int64),
            "n_assigned": n_assigned.to_numpy(),
            "tissues": pairs.reindex(n_samples.index).to_numpy(),
        },
        index=pd.Index(n_samples.index.astype(str), name="patient_id"),
    )
    return out
