"""Ancestry-aware genotype priors for imputing untested major-gene status.

Carrier frequencies of the four major ALS genes (C9orf72, SOD1, TARDBP, FUS) in familial and
sporadic ALS, by recorded ancestry (reference ``cohort-figures.md`` §6; the same table drives
the synthetic cohort, :data:`alsnet.synth.params.GENE_FREQUENCIES`):

=========  ===================  ===================  =====================================
Ancestry   gene                 fALS / sALS          source
=========  ===================  ===================  =====================================
EUR        C9orf72              33.7 % / 5.1 %       Zou et al., JNNP 2017 (fALS checked)
EUR        SOD1                 14.8 % / 1.2 %       Zou 2017 (recalled)
EUR        TARDBP               4.2 % / 0.8 %        Zou 2017 (recalled)
EUR        FUS                  2.8 % / 0.3 %        Zou 2017 (recalled)
EAS        C9orf72              2.3 % / 0.3 %        Zou 2017, Asia (recalled)
EAS        SOD1                 30.0 % / 1.5 %       Zou 2017, Asia (recalled)
EAS        TARDBP               1.5 % / 0.2 %        Zou 2017, Asia (recalled)
EAS        FUS                  6.4 % / 0.9 %        Zou 2017, Asia (recalled)
other      (all four)           15 / 20 / 3 / 4.5 %  **assumption**: a blend of the two rows
                                / 2.5 / 1.3 / 0.5 /  above; no figures were collected for
                                0.6 %                AFR, SAS, AMR, ... or unknown ancestry
=========  ===================  ===================  =====================================

Model (documented choices):

* One major gene per patient (the four are treated as mutually exclusive; oligogenic carriers
  are rare): ``P(gene g | ancestry, familial) = f_g`` and ``P(none) = 1 - sum f_g``.
* Family history unknown: a mixture with prior familial share ``familial_share`` (default
  0.08, between 3.8 % with an ALS relative in the DREAM file and about 10 % familial ALS).
* Observed results condition the prior: a recorded carrier (flag 1 or a pathogenic / likely
  pathogenic finding) is a carrier of that gene and of no other; a tested non-carrier removes
  that gene from the distribution, which is renormalised.
* Draws are independent across patients (multiple imputation); eligibility counts per draw
  give the expected number of eligible patients with an interval
  (:func:`expected_eligible`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from alsnet.synth.params import GENE_FREQUENCIES

if TYPE_CHECKING:
    from alsnet.cohort import Cohort
    from alsnet.omics.rules import RuleSet

__all__ = [
    "DEFAULT_FAMILIAL_SHARE",
    "MAJOR_GENES",
    "carrier_prior",
    "expected_eligible",
    "genotype_posterior",
    "impute_genotypes",
]

#: Major genes in code order (code 0 = no major-gene variant).
MAJOR_GENES: tuple[str, ...] = ("C9orf72", "SOD1", "TARDBP", "FUS")
_FLAGS = {"C9orf72": "c9orf72", "SOD1": "sod1", "TARDBP": "tardbp", "FUS": "fus"}
_CARRIER_CLASSES = ("pathogenic", "likely_pathogenic")
#: Prior share of familial ALS when family history is not recorded (assumption, see above).
DEFAULT_FAMILIAL_SHARE = 0.08

FloatArray = npt.NDArray[np.float64]
Frequencies = Mapping[str, Mapping[str, tuple[float, float]]]


def carrier_prior(
    ancestry: pd.Series | npt.ArrayLike,
    family_history: pd.Series | npt.ArrayLike,
    *,
    frequencies: Frequencies = GENE_FREQUENCIES,
    familial_share: float = DEFAULT_FAMILIAL_SHARE,
) -> FloatArray:
    """Prior genotype probabilities P(code | ancestry, family history), before any test.

    Parameters
    ----------
    ancestry : array_like of str, shape (n,)
        Recorded ancestry codes; codes without a row in ``frequencies`` use ``"other"``.
    family_history : array_like of 0/1/NaN, shape (n,)
        Relative with ALS/FTD; NaN = not recorded (mixture with ``familial_share``).
    frequencies : mapping
        ``{ancestry: {gene: (familial, sporadic)}}`` carrier frequencies (0-1).
    familial_share : float
        Prior probability of familial ALS when family history is missing (0-1).

    Returns
    -------
    ndarray, shape (n, 5)
        Columns: none, C9orf72, SOD1, TARDBP, FUS; rows sum to 1.

    Examples
    --------
    >>> p = carrier_prior(["EUR", "EAS"], [1, 0])
    >>> p[:, 1].round(3).tolist(), p[:, 2].round(3).tolist()
    ([0.337, 0.003], [0.148, 0.015])
    """
    if not 0.0 <= familial_share <= 1.0:
        raise ValueError(f"familial_share must be in [0, 1], not {familial_share}")
    anc = pd.Series(np.asarray(ancestry, dtype=object)).astype("string").fillna("unknown")
    fh = pd.to_numeric(pd.Series(np.asarray(family_history, dtype=object)), errors="coerce")
    fam_w = fh.fillna(familial_share).clip(0.0, 1.0).to_numpy(dtype="float64")
    known = [a for a in frequencies if a != "other"]
    key = anc.where(anc.isin(known), "other").to_numpy(dtype=object)
    n = key.shape[0]
    probs = np.zeros((n, len(MAJOR_GENES) + 1))
    for a, table in frequencies.items():
        rows = key == a
        if not rows.any():
            continue
        for j, gene in enumerate(MAJOR_GENES, start=1):
            f_fam, f_spor = table.get(gene, (0.0, 0.0))
            probs[rows, j] = fam_w[rows] * f_fam + (1.0 - fam_w[rows]) * f_spor
    probs[:, 0] = 1.0 - probs[:, 1:].sum(axis=1)
    if (probs[:, 0] < 0).any():
        raise ValueError("carrier frequencies of one ancestry sum to more than 1")
    return probs


def _observed(
    patients: pd.DataFrame, genetics: pd.DataFrame | None
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(carrier, tested) boolean matrices, shape (n, 4), from flags and findings."""
    pid = pd.Index(patients["patient_id"].astype(str))
    n = len(pid)
    carrier = np.zeros((n, len(MAJOR_GENES)), dtype=bool)
    tested = np.zeros_like(carrier)
    if genetics is not None and len(genetics):
        idx = pid.get_indexer(pd.Index(genetics["patient_id"].astype(str)))
        gene = genetics["gene"].astype(str).to_numpy()
        path = genetics["pathogenicity"].astype(str).to_numpy()
        ok = idx >= 0
        for j, g in enumerate(MAJOR_GENES):
            rows = ok & (gene == g)
            tested[:, j] |= np.bincount(idx[rows], minlength=n) > 0
            pos = rows & np.isin(path, _CARRIER_CLASSES)
            carrier[:, j] |= np.bincount(idx[pos], minlength=n) > 0
    for j, g in enumerate(MAJOR_GENES):
        col = _FLAGS[g]
        if col in patients.columns:
            flag = pd.to_numeric(patients[col], errors="coerce").to_numpy(dtype="float64")
            tested[:, j] |= ~np.isnan(flag)
            carrier[:, j] |= flag == 1
    return carrier, tested


def genotype_posterior(
    data: Cohort | Mapping[str, pd.DataFrame],
    *,
    frequencies: Frequencies = GENE_FREQUENCIES,
    familial_share: float = DEFAULT_FAMILIAL_SHARE,
) -> pd.DataFrame:
    """Genotype probabilities of every patient given ancestry, family history and tests.

    Parameters
    ----------
    data : Cohort or mapping of str to DataFrame
        ``patients`` (``ancestry``, ``family_history``, gene flags) and optionally
        ``genetics``.
    frequencies, familial_share
        See :func:`carrier_prior`.

    Returns
    -------
    DataFrame
        One row per patient (order of ``patients``): ``patient_id``, ``p_none``,
        ``p_C9orf72``, ``p_SOD1``, ``p_TARDBP``, ``p_FUS`` (rows sum to 1) and
        ``untested_genes`` (how many of the four genes were never tested).
    """
    tables = data.tables if hasattr(data, "tables") else data
    pats = tables["patients"].reset_index(drop=True)
    fh = pats["family_history"] if "family_history" in pats.columns else np.full(len(pats), np.nan)
    anc = pats["ancestry"] if "ancestry" in pats.columns else np.full(len(pats), "unknown")
    prior = carrier_prior(anc, fh, frequencies=frequencies, familial_share=familial_share)
    carrier, tested = _observed(pats, tables.get("genetics"))
    post = prior.copy()
    post[:, 1:][tested & ~carrier] = 0.0
    s = post.sum(axis=1, keepdims=True)
    post = np.divide(post, s, out=np.zeros_like(post), where=s > 0)
    known = carrier.any(axis=1)
    # A recorded carrier of one gene carries no other (one major gene per patient).
    first = np.argmax(carrier, axis=1) + 1
    post[known] = 0.0
    post[np.flatnonzero(known), first[known]] = 1.0
    out = pd.DataFrame(post, columns=["p_none", *(f"p_{g}" for g in MAJOR_GENES)])
    out.insert(0, "patient_id", pats["patient_id"].astype(str).to_numpy())
    out["untested_genes"] = (~tested).sum(axis=1)
    return out


def impute_genotypes(
    data: Cohort | Mapping[str, pd.DataFrame],
    n_draws: int,
    *,
    rng: np.random.Generator | int | None = None,
    frequencies: Frequencies = GENE_FREQUENCIES,
    familial_share: float = DEFAULT_FAMILIAL_SHARE,
) -> npt.NDArray[np.int8]:
    """Multiple-imputation draws of each patient's major-gene genotype.

    Returns
    -------
    ndarray of int8, shape (n_draws, n_patients)
        0 = none, 1..4 = carrier of ``MAJOR_GENES[code - 1]``; recorded results are kept
        in every draw, untested genes are drawn from :func:`genotype_posterior`.
    """
    if n_draws < 1:
        raise ValueError("n_draws must be >= 1")
    gen = np.random.default_rng(rng)
    post = genotype_posterior(data, frequencies=frequencies, familial_share=familial_share)
    p = post[["p_none", *(f"p_{g}" for g in MAJOR_GENES)]].to_numpy(dtype="float64")
    cum = np.cumsum(p, axis=1)
    cum[:, -1] = 1.0
    u = gen.random((n_draws, p.shape[0], 1))
    return (u >= cum[None, :, :]).sum(axis=2).astype(np.int8)


def expected_eligible(
    rules: RuleSet,
    data: Cohort | Mapping[str, pd.DataFrame],
    *,
    n_draws: int = 200,
    rng: np.random.Generator | int | None = 0,
    frequencies: Frequencies = GENE_FREQUENCIES,
    familial_share: float = DEFAULT_FAMILIAL_SHARE,
    level: float = 0.95,
) -> pd.DataFrame:
    """Expected number of eligible patients per study after imputing untested genotypes.

    Each draw sets the gene flags of untested genes (``c9orf72``, ``sod1``, ``tardbp``,
    ``fus``) to the imputed status and re-evaluates the rules; facts other than genotype
    (biomarkers, scores) stay as recorded, so patients can remain ``untested`` for them.

    Parameters
    ----------
    rules : RuleSet
        Rule table.
    data : Cohort or mapping of str to DataFrame
        Registry tables.
    n_draws : int
        Number of imputations.
    rng : Generator or int, optional
        Random source.
    frequencies, familial_share
        See :func:`carrier_prior`.
    level : float
        Coverage of the interval (0-1).

    Returns
    -------
    DataFrame
        Per study: ``eligible_observed``, ``untested_observed``, ``expected_eligible``
        (mean over draws), ``sd``, ``lower`` and ``upper`` (equal-tailed ``level`` interval
        of the draws) and ``still_untested`` (mean untested count after imputation).
    """
    from alsnet.omics.rules import TRUE, UNKNOWN, _evaluate_study_codes, _Facts

    tables = data.tables if hasattr(data, "tables") else data
    pats = tables["patients"].reset_index(drop=True)
    draws = impute_genotypes(
        tables, n_draws, rng=rng, frequencies=frequencies, familial_share=familial_share
    )
    _, tested = _observed(pats, tables.get("genetics"))
    facts = _Facts(tables)
    fixed: dict[int, npt.NDArray[np.int8]] = {}
    base = _evaluate_study_codes(rules, facts, fixed)
    elig = np.zeros((n_draws, len(rules.studies)))
    still = np.zeros_like(elig)
    patched = pats.copy()
    originals = {
        g: pd.to_numeric(pats[_FLAGS[g]], errors="coerce").to_numpy(dtype="float64")
        if _FLAGS[g] in pats.columns
        else np.full(len(pats), np.nan)
        for g in MAJOR_GENES
    }
    for d in range(n_draws):  # draws, not patients: each draw is one vectorised evaluation
        for j, g in enumerate(MAJOR_GENES):
            imputed = (draws[d] == j + 1).astype("float64")
            patched[_FLAGS[g]] = np.where(tested[:, j], originals[g], imputed)
        facts.patients = patched
        codes = _evaluate_study_codes(rules, facts, fixed)
        for k, c in enumerate(codes):
            elig[d, k] = np.count_nonzero(c == TRUE)
            still[d, k] = np.count_nonzero(c == UNKNOWN)
    alpha = (1.0 - level) / 2.0
    return pd.DataFrame(
        {
            "study_id": [s.id for s in rules.studies],
            "eligible_observed": [int(np.count_nonzero(c == TRUE)) for c in base],
            "untested_observed": [int(np.count_nonzero(c == UNKNOWN)) for c in base],
            "expected_eligible": elig.mean(axis=0),
            "sd": elig.std(axis=0, ddof=1) if n_draws > 1 else np.zeros(len(rules.studies)),
            "lower": np.quantile(elig, alpha, axis=0),
            "upper": np.quantile(elig, 1.0 - alpha, axis=0),
            "still_untested": still.mean(axis=0),
        }
    )
