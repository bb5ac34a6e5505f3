"""Simulator of multi-site, multi-tissue ALS transcriptomes with known subtypes.

The generative model follows the recipe of ``reference/omics.md`` §6. For sample ``i`` of
patient ``p`` (subtype ``c``), site ``s``, platform ``f``, tissue ``t`` and gene ``g``::

    log2 mean_ig = log2(size_i) + log2(mu_g) + beta_cg + gamma_sg + phi_fg + tau_tg + u_pg
    count_ig     ~ NB(mean_ig, dispersion = (1 - patient_share) * alpha_g)

* ``mu_g``: log-normal, median 349 normalised counts, log-SD 1.78 (10-90 %: about 36-3,400;
  GSE124439: 27-2,599).
* ``alpha_g = (a0 + a1 / mu_g) * exp(sd * z - sd**2 / 2)`` with ``a0 = 0.080``, ``a1 = 4.07``,
  ``sd = 0.8`` (mean-preserving scatter around the DESeq2 trend; median about 0.07).
* ``u_pg ~ N(0, sqrt(patient_share * alpha_g))`` on the natural-log scale, shared by all tissue
  samples of a patient: with ``patient_share = 0.64`` two samples of one patient correlate
  about 0.64 beyond the fixed effects, samples of different patients about 0.
* ``beta_cg``: ``module_lfc`` (log2) on a module of ``module_frac`` of the genes per subtype.
* ``gamma_sg ~ N(0, site_sd)``, ``phi_fg ~ N(0, platform_sd)`` (log2): multiplicative per-gene
  batch effects; ``tau_tg``: tissue shifts, ``0.124 * t(5)`` (median |shift| 0.09 log2, 99th
  percentile about 0.5).
* ``size_i``: log-normal, log-SD 0.25 (5-95 %: 0.66-1.51; GSE124439: 0.68-1.57).

Patients also get an ancestry, a major-gene genotype drawn from the sporadic-ALS carrier
frequencies of that ancestry (no SOD1 carriers in the TE/TDP-43 subtype), serum NfL and a
survival time whose hazard rises with NfL (top vs bottom tertile HR about 3.9).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alsnet.synth.params import GENE_FREQUENCIES

if TYPE_CHECKING:
    import anndata

__all__ = [
    "OmicsSimParams",
    "SimulatedOmics",
    "simulate_arrays",
    "simulate_transcriptome",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Major genes in genotype order (``"none"`` = no major-gene variant).
_GENES = ("C9orf72", "SOD1", "TARDBP", "FUS")
_DAYS_PER_MONTH = 365.25 / 12.0


@dataclass(frozen=True)
class OmicsSimParams:
    """Parameters of :func:`simulate_arrays` (defaults calibrated to GSE124439).

    Attributes
    ----------
    subtype_names : tuple of str
        Subtype labels; the last one is the TE/TDP-43 subtype (no SOD1 carriers).
    subtype_props : tuple of float
        Subtype shares in the whole population (Tam 2019: 0.61 / 0.19 / 0.20).
    site_subtype_props : tuple of tuple of float or None
        Optional per-site subtype shares (one row per site) to confound subtype with site.
    module_frac : float
        Share of genes in each subtype's up-regulated module (0-1).
    module_lfc : float
        Module effect, log2 fold change. 0.8 is recoverable after batch correction; about 0.35
        reproduces the published 3-gene classifier AUC of 0.81-0.89.
    site_sd, platform_sd : float
        SD of the per-gene site and platform effects, log2.
    tissue_scale, tissue_df : float
        Tissue shifts are ``tissue_scale * t(tissue_df)`` per gene and tissue, log2.
    mean_median, mean_log_sd : float
        Median (normalised counts) and natural-log SD of the gene means.
    disp_a0, disp_a1, disp_log_sd : float
        Dispersion trend ``a0 + a1 / mean`` and the natural-log SD of the gene-wise scatter.
    patient_share : float
        Share of the extra-Poisson variance that is a patient effect shared across tissues.
    size_log_sd : float
        Natural-log SD of the library size factors.
    samples_per_patient_probs : tuple of float
        Probabilities of 1, 2, 3, ... tissue samples per patient (GSE124439: 35/13/28 of 76).
    tissues : tuple of str
        Tissue names; a patient's samples come from distinct tissues.
    platforms : tuple of str
        Sequencing platforms; site ``s`` uses platform ``s mod n`` with probability
        ``platform_affinity``, another platform otherwise.
    platform_affinity : float
        Probability that a sample is sequenced on its site's main platform.
    ancestry_probs : dict of str to float
        Ancestry shares of the patients.
    nfl_median_pg_ml, nfl_log_sd : float
        Serum NfL of ALS patients (about 4x controls), pg/mL, and its natural-log SD.
    nfl_log_hr_per_sd : float
        Log hazard ratio of death per SD of log NfL; 0.624 gives top vs bottom tertile HR 3.9.
    survival_median_months : tuple of float
        Median survival from onset by subtype, months.
    follow_up_months : float
        Administrative censoring time, months since onset.
    """

    subtype_names: tuple[str, ...] = ("ALS-Ox", "ALS-Glia", "ALS-TE")
    subtype_props: tuple[float, ...] = (0.61, 0.19, 0.20)
    site_subtype_props: tuple[tuple[float, ...], ...] | None = None
    module_frac: float = 0.05
    module_lfc: float = 0.8
    site_sd: float = 0.25
    platform_sd: float = 0.3
    tissue_scale: float = 0.124
    tissue_df: float = 5.0
    mean_median: float = 349.0
    mean_log_sd: float = 1.78
    disp_a0: float = 0.080
    disp_a1: float = 4.07
    disp_log_sd: float = 0.8
    patient_share: float = 0.64
    size_log_sd: float = 0.25
    samples_per_patient_probs: tuple[float, ...] = (0.46, 0.17, 0.37)
    tissues: tuple[str, ...] = ("frontal_cortex", "motor_cortex", "spinal_cord")
    platforms: tuple[str, ...] = ("platform_A", "platform_B")
    platform_affinity: float = 0.9
    ancestry_probs: dict[str, float] = field(
        default_factory=lambda: {"EUR": 0.80, "EAS": 0.10, "AFR": 0.05, "SAS": 0.05}
    )
    nfl_median_pg_ml: float = 60.0
    nfl_log_sd: float = 0.6
    nfl_log_hr_per_sd: float = 0.624
    survival_median_months: tuple[float, ...] = (36.0, 28.0, 42.0)
    follow_up_months: float = 120.0

    def validate(self, n_sites: int) -> None:
        """Raise ``ValueError`` naming the first inconsistent parameter."""
        k = len(self.subtype_names)
        if len(self.subtype_props) != k or len(self.survival_median_months) != k:
            raise ValueError("subtype_props and survival_median_months need one value per subtype")
        if not np.isclose(sum(self.subtype_props), 1.0):
            raise ValueError("subtype_props must sum to 1")
        if self.site_subtype_props is not None:
            arr = np.asarray(self.site_subtype_props, dtype=np.float64)
            if arr.shape != (n_sites, k) or not np.allclose(arr.sum(axis=1), 1.0):
                raise ValueError(
                    f"site_subtype_props must be {n_sites} rows of {k} shares summing to 1"
                )
        if len(self.samples_per_patient_probs) > len(self.tissues):
            raise ValueError("more samples per patient than tissues")
        if not np.isclose(sum(self.samples_per_patient_probs), 1.0):
            raise ValueError("samples_per_patient_probs must sum to 1")
        if not 0.0 <= self.patient_share < 1.0:
            raise ValueError("patient_share must be in [0, 1)")
        if not 0.0 < self.module_frac * k <= 1.0:
            raise ValueError("module_frac * number of subtypes must be in (0, 1]")
        if not np.isclose(sum(self.ancestry_probs.values()), 1.0):
            raise ValueError("ancestry_probs must sum to 1")


@dataclass(frozen=True)
class SimulatedOmics:
    """Simulated counts with sample and gene annotations (no AnnData needed).

    Attributes
    ----------
    counts : ndarray of int64, shape (n_samples, n_genes)
        Raw counts.
    obs : DataFrame
        One row per sample (index ``sample_id``): patient_id, site, platform, tissue, subtype
        (truth), ancestry, genotype, nfl_pg_ml, survival_days, death_observed, size_factor.
    var : DataFrame
        One row per gene (index ``gene_id``): base_mean, dispersion (truth) and module (the
        subtype whose module contains the gene, else "").
    params : dict
        The parameters used, the seed and the sizes.
    """

    counts: IntArray
    obs: pd.DataFrame
    var: pd.DataFrame
    params: dict[str, Any]

    def to_anndata(self) -> anndata.AnnData:
        """Return an :class:`anndata.AnnData` (``X`` = counts; needs the ``omics`` extra)."""
        ad = _import_anndata()
        adata = ad.AnnData(X=self.counts, obs=self.obs.copy(), var=self.var.copy())
        adata.uns["simulation"] = {"params": _jsonable(self.params)}
        return adata


def _import_anndata() -> Any:
    try:
        import anndata
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("alsnet.omics needs anndata: pip install 'alsnet[omics]'") from exc
    return anndata


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    """Make ``d`` storable in ``uns`` (and in .h5ad): drop ``None``, tuples become arrays."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if value is None:
            continue
        if isinstance(value, dict):
            out[key] = _jsonable(value)
        elif isinstance(value, tuple | list):
            out[key] = np.asarray(value)
        else:
            out[key] = value
    return out


def _cat(codes: npt.NDArray[np.integer[Any]], names: Sequence[str]) -> pd.Categorical:
    """Categorical of ``names[codes]`` keeping every name as a category, in order."""
    return pd.Categorical(np.asarray(names, dtype=object)[codes], categories=list(names))


def _choice_rows(probs: FloatArray, rng: np.random.Generator) -> IntArray:
    """One categorical draw per row of ``probs`` (rows sum to 1)."""
    cum = np.cumsum(probs, axis=1)
    cum[:, -1] = 1.0
    u = rng.random((probs.shape[0], 1))
    return (u >= cum).sum(axis=1).astype(np.int64)


def simulate_arrays(
    n_patients: int = 200,
    n_genes: int = 2000,
    *,
    n_sites: int = 3,
    params: OmicsSimParams | None = None,
    seed: int | np.random.Generator | None = 0,
) -> SimulatedOmics:
    """Simulate ALS transcriptomes (counts plus annotations) without AnnData.

    Parameters
    ----------
    n_patients : int
        Number of patients; each contributes 1-3 tissue samples.
    n_genes : int
        Number of genes.
    n_sites : int
        Number of sites (batches).
    params : OmicsSimParams, optional
        Generative parameters; defaults are calibrated to GSE124439 (see module docstring).
    seed : int or numpy.random.Generator
        Random source; the same seed gives identical output.

    Returns
    -------
    SimulatedOmics
        Counts (samples x genes) with ``obs`` and ``var`` tables.

    Examples
    --------
    >>> sim = simulate_arrays(20, 50, seed=1)
    >>> sim.counts.shape[1], sorted(sim.obs["subtype"].unique())[:1]
    (50, ['ALS-Glia'])
    """
    p = params or OmicsSimParams()
    if n_patients < 1 or n_genes < 1 or n_sites < 1:
        raise ValueError("n_patients, n_genes and n_sites must be positive")
    p.validate(n_sites)
    rng = np.random.default_rng(seed)
    k = len(p.subtype_names)

    # --- patients ---------------------------------------------------------------------------
    site_of_patient = rng.integers(0, n_sites, size=n_patients)
    if p.site_subtype_props is None:
        props = np.tile(np.asarray(p.subtype_props), (n_patients, 1))
    else:
        props = np.asarray(p.site_subtype_props, dtype=np.float64)[site_of_patient]
    subtype = _choice_rows(props, rng)
    anc_names = np.array(list(p.ancestry_probs), dtype=object)
    ancestry = anc_names[
        rng.choice(anc_names.size, size=n_patients, p=np.array(list(p.ancestry_probs.values())))
    ]
    genotype = _draw_genotype(ancestry, subtype == k - 1, rng)
    nfl_z = rng.standard_normal(n_patients)
    nfl = p.nfl_median_pg_ml * np.exp(p.nfl_log_sd * nfl_z)
    base_rate = np.log(2.0) / np.asarray(p.survival_median_months)[subtype]
    rate = base_rate * np.exp(p.nfl_log_hr_per_sd * nfl_z - p.nfl_log_hr_per_sd**2 / 2)
    t_months = rng.exponential(1.0 / rate)
    died = t_months <= p.follow_up_months
    t_months = np.minimum(t_months, p.follow_up_months)

    # --- samples ----------------------------------------------------------------------------
    n_per = 1 + rng.choice(
        len(p.samples_per_patient_probs), size=n_patients, p=np.asarray(p.samples_per_patient_probs)
    )
    patient_of_sample = np.repeat(np.arange(n_patients), n_per)
    n_samples = patient_of_sample.size
    # Distinct tissues per patient: rank random keys within each patient.
    keys = rng.random((n_patients, len(p.tissues)))
    tissue_perm = np.argsort(keys, axis=1)
    within = np.arange(n_samples) - np.repeat(np.cumsum(n_per) - n_per, n_per)
    tissue = tissue_perm[patient_of_sample, within]
    site = site_of_patient[patient_of_sample]
    n_plat = len(p.platforms)
    main_plat = site % n_plat
    other = (main_plat + rng.integers(1, max(n_plat, 2), size=n_samples)) % n_plat
    platform = np.where(rng.random(n_samples) < p.platform_affinity, main_plat, other)
    size = np.exp(p.size_log_sd * rng.standard_normal(n_samples))

    # --- genes ------------------------------------------------------------------------------
    mu = p.mean_median * np.exp(p.mean_log_sd * rng.standard_normal(n_genes))
    disp = (p.disp_a0 + p.disp_a1 / mu) * np.exp(
        p.disp_log_sd * rng.standard_normal(n_genes) - p.disp_log_sd**2 / 2
    )
    n_mod = max(1, round(p.module_frac * n_genes))
    perm = rng.permutation(n_genes)
    beta = np.zeros((k, n_genes))
    module = np.full(n_genes, "", dtype=object)
    for c in range(k):  # k subtypes, not a per-patient loop
        genes = perm[c * n_mod : (c + 1) * n_mod]
        beta[c, genes] = p.module_lfc
        module[genes] = p.subtype_names[c]
    gamma = p.site_sd * rng.standard_normal((n_sites, n_genes))
    phi = p.platform_sd * rng.standard_normal((n_plat, n_genes))
    tau = p.tissue_scale * rng.standard_t(p.tissue_df, size=(len(p.tissues), n_genes))
    u = np.sqrt(p.patient_share * disp) * rng.standard_normal((n_patients, n_genes))

    log2_mean = (
        np.log2(size)[:, None]
        + np.log2(mu)[None, :]
        + beta[subtype[patient_of_sample]]
        + gamma[site]
        + phi[platform]
        + tau[tissue]
    )
    mean = np.exp2(log2_mean) * np.exp(u[patient_of_sample])
    nb_disp = (1.0 - p.patient_share) * disp
    r = 1.0 / nb_disp
    counts = rng.negative_binomial(r[None, :], r[None, :] / (r[None, :] + mean)).astype(np.int64)

    width = len(str(n_patients))
    pid = np.array([f"P{i:0{width}d}" for i in range(n_patients)], dtype=object)
    sample_ids = [
        f"{pid[pp]}_{p.tissues[tt]}" for pp, tt in zip(patient_of_sample, tissue, strict=True)
    ]
    obs = pd.DataFrame(
        {
            "patient_id": pid[patient_of_sample],
            "site": _cat(site, [f"site_{s + 1}" for s in range(n_sites)]),
            "platform": _cat(platform, p.platforms),
            "tissue": _cat(tissue, p.tissues),
            "subtype": _cat(subtype[patient_of_sample], p.subtype_names),
            "ancestry": pd.Categorical(ancestry[patient_of_sample]),
            "genotype": pd.Categorical(genotype[patient_of_sample], categories=["none", *_GENES]),
            "nfl_pg_ml": nfl[patient_of_sample],
            "survival_days": np.round(t_months * _DAYS_PER_MONTH).astype(np.int64)[
                patient_of_sample
            ],
            "death_observed": died[patient_of_sample],
            "size_factor": size,
        },
        index=pd.Index(sample_ids, name="sample_id"),
    )
    gwidth = len(str(n_genes))
    var = pd.DataFrame(
        {"base_mean": mu, "dispersion": disp, "module": module},
        index=pd.Index([f"G{g:0{gwidth}d}" for g in range(n_genes)], name="gene_id"),
    )
    record = {
        **asdict(p),
        "n_patients": n_patients,
        "n_genes": n_genes,
        "n_sites": n_sites,
        "seed": seed if isinstance(seed, int) else None,
    }
    logger.debug("simulated %d samples x %d genes", n_samples, n_genes)
    return SimulatedOmics(counts=counts, obs=obs, var=var, params=record)


def _draw_genotype(
    ancestry: npt.NDArray[Any], te: npt.NDArray[np.bool_], rng: np.random.Generator
) -> npt.NDArray[Any]:
    """Major-gene genotype from sporadic-ALS carrier frequencies by ancestry."""
    n = ancestry.shape[0]
    freq = np.zeros((n, len(_GENES) + 1))
    known = [a for a in GENE_FREQUENCIES if a != "other"]
    for anc, table in GENE_FREQUENCIES.items():
        rows = ~np.isin(ancestry, known) if anc == "other" else ancestry == anc
        for j, gene in enumerate(_GENES, start=1):
            freq[rows, j] = table[gene][1]
    freq[:, 0] = 1.0 - freq[:, 1:].sum(axis=1)
    code = _choice_rows(freq, rng)
    # SOD1-ALS lacks TDP-43 pathology: no SOD1 carriers in the TE/TDP-43 subtype.
    code[te & (code == 2)] = 0
    names = np.array(["none", *_GENES], dtype=object)
    return names[code]


def simulate_transcriptome(
    n_patients: int = 200,
    n_genes: int = 2000,
    *,
    n_sites: int = 3,
    params: OmicsSimParams | None = None,
    seed: int | np.random.Generator | None = 0,
) -> anndata.AnnData:
    """Simulate ALS transcriptomes as an :class:`anndata.AnnData` (needs the ``omics`` extra).

    Same arguments as :func:`simulate_arrays`. ``X`` holds the raw counts (int64), ``obs`` the
    sample annotations (including the true ``subtype``), ``var`` the gene truth and
    ``uns["simulation"]["params"]`` the parameters used.

    Examples
    --------
    >>> adata = simulate_transcriptome(10, 30, seed=0)
    >>> list(adata.obs.columns[:5])
    ['patient_id', 'site', 'platform', 'tissue', 'subtype']
    """
    return simulate_arrays(
        n_patients, n_genes, n_sites=n_sites, params=params, seed=seed
    ).to_anndata()
