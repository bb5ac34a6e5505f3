"""Genotypes by ancestry and family history, testing, and the ``genetics`` table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsnet.synth._common import BoolArray, IntArray, choice_by_rows
from alsnet.synth.params import SynthParams

__all__ = ["MAJOR_GENES", "Genotypes", "draw_genotypes", "genetics_table"]

#: Major genes in the order of the genotype codes 1..4 (0 = no major-gene variant).
MAJOR_GENES: tuple[str, ...] = ("C9orf72", "SOD1", "TARDBP", "FUS")
#: Minor genes in the order of the minor-finding codes 1..3 (0 = none).
MINOR_GENES: tuple[str, ...] = ("TBK1", "NEK1", "ATXN2")
_MINOR_WEIGHTS = (0.35, 0.35, 0.30)

#: Synthetic variant catalogue: gene -> (variant, relative weight, ACMG class).
_CATALOGUE: dict[str, tuple[tuple[str, float, str], ...]] = {
    "C9orf72": (("repeat_expansion", 1.0, "pathogenic"),),
    "SOD1": (
        ("p.Ala5Val", 0.22, "pathogenic"),
        ("p.Asp91Ala", 0.18, "pathogenic"),
        ("p.His47Arg", 0.12, "pathogenic"),
        ("p.Ile114Thr", 0.12, "pathogenic"),
        ("p.Gly94Ala", 0.10, "pathogenic"),
        ("p.Leu145Phe", 0.08, "pathogenic"),
        ("p.Gly38Arg", 0.08, "pathogenic"),
        ("p.Cys112Tyr", 0.06, "likely_pathogenic"),
        ("p.Glu101Gly", 0.04, "likely_pathogenic"),
    ),
    "TARDBP": (
        ("p.Ala382Thr", 0.35, "pathogenic"),
        ("p.Gly298Ser", 0.20, "pathogenic"),
        ("p.Met337Val", 0.20, "pathogenic"),
        ("p.Asn352Ser", 0.15, "pathogenic"),
        ("p.Gly348Cys", 0.10, "likely_pathogenic"),
    ),
    "FUS": (
        ("p.Pro525Leu", 0.35, "pathogenic"),
        ("p.Arg521Cys", 0.25, "pathogenic"),
        ("p.Arg521His", 0.15, "pathogenic"),
        ("p.Arg514Gly", 0.15, "likely_pathogenic"),
        ("p.Arg495Ter", 0.10, "pathogenic"),
    ),
    "TBK1": (("p.Glu696Lys", 0.5, "likely_pathogenic"), ("p.Arg357Ter", 0.5, "pathogenic")),
    "NEK1": (("p.Arg261His", 1.0, "likely_pathogenic"),),
    "ATXN2": (("intermediate_repeat_expansion", 1.0, "likely_pathogenic"),),
}
#: Genes and (synthetic) variants reported as variants of uncertain significance.
_VUS = (
    ("SOD1", "p.Asn140Lys"),
    ("TARDBP", "p.Ser393Leu"),
    ("FUS", "p.Gly206Ser"),
    ("OPTN", "p.Thr282Pro"),
    ("VCP", "p.Arg159Cys"),
)


@dataclass(frozen=True)
class Genotypes:
    """Latent and observed genetics of each patient.

    Attributes
    ----------
    major : ndarray of int
        0 = none, 1..4 = carrier of ``MAJOR_GENES[major - 1]`` (latent truth).
    minor : ndarray of int
        0 = none, 1..3 = finding in ``MINOR_GENES[minor - 1]`` (latent truth).
    tested : ndarray of bool
        Genetically tested (C9orf72 at least).
    panel : ndarray of bool
        Tested with a full panel (SOD1, FUS, TARDBP and minor genes as well).
    vus : ndarray of int
        0 = none, else 1-based index into the VUS list (observed only if panel).
    """

    major: IntArray
    minor: IntArray
    tested: BoolArray
    panel: BoolArray
    vus: IntArray

    def flag(self, gene: str) -> pd.Series:
        """Nullable 0/1 carrier flag of a major gene (empty where not tested for it)."""
        code = MAJOR_GENES.index(gene) + 1
        seen = self.tested if gene == "C9orf72" else self.panel
        values = (self.major == code).astype(np.float64)
        return pd.Series(np.where(seen, values, np.nan)).astype("Int64")


def draw_genotypes(
    ancestry: np.ndarray,
    familial: BoolArray,
    testing_prob: np.ndarray,
    params: SynthParams,
    rng: np.random.Generator,
) -> Genotypes:
    """Draw genotypes conditional on recorded ancestry and family history.

    Parameters
    ----------
    ancestry : ndarray of str, shape (n,)
        Self-reported ancestry codes.
    familial : ndarray of bool, shape (n,)
        Family history of ALS/FTD.
    testing_prob : ndarray of float, shape (n,)
        Site probability that a sporadic patient was tested (0-1).
    params : SynthParams
        Gene frequencies and testing parameters.
    rng : numpy.random.Generator
        Random source.
    """
    n = ancestry.shape[0]
    freq = np.zeros((n, len(MAJOR_GENES) + 1))
    for anc, table in params.gene_frequencies.items():
        if anc == "other":
            rows = ~np.isin(ancestry, [a for a in params.gene_frequencies if a != "other"])
        else:
            rows = ancestry == anc
        for j, gene in enumerate(MAJOR_GENES, start=1):
            f_fam, f_spor = table.get(gene, (0.0, 0.0))
            freq[rows, j] = np.where(familial[rows], f_fam, f_spor)
    freq[:, 0] = 1.0 - freq[:, 1:].sum(axis=1)
    major = choice_by_rows(freq, rng)
    minor_draw = 1 + rng.choice(len(MINOR_GENES), size=n, p=_MINOR_WEIGHTS)
    minor = np.where((major == 0) & (rng.random(n) < params.other_gene_probability), minor_draw, 0)
    p_test = np.where(familial, params.genetic_testing_familial, testing_prob)
    tested = rng.random(n) < p_test
    # Some sporadic patients are only tested for C9orf72 (repeat-primed PCR without a panel).
    panel = tested & (familial | (rng.random(n) >= 0.15))
    vus = np.where(
        panel & (major == 0) & (minor == 0) & (rng.random(n) < params.vus_probability),
        1 + rng.integers(0, len(_VUS), size=n),
        0,
    )
    return Genotypes(
        major=major.astype(np.int64),
        minor=minor.astype(np.int64),
        tested=tested,
        panel=panel,
        vus=vus.astype(np.int64),
    )


def _pick_variants(gene: str, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    cat = _CATALOGUE[gene]
    w = np.array([c[1] for c in cat], dtype=np.float64)
    pick = rng.choice(len(cat), size=k, p=w / w.sum())
    names = np.array([c[0] for c in cat], dtype=object)
    classes = np.array([c[2] for c in cat], dtype=object)
    return names[pick], classes[pick]


def genetics_table(
    patient_ids: Sequence[str] | np.ndarray, g: Genotypes, rng: np.random.Generator
) -> pd.DataFrame:
    """The canonical ``genetics`` table: observed findings only.

    C9orf72 expansions are seen in every tested patient; other genes only with a
    full panel. Non-carriers tested with a panel may carry a VUS.
    """
    pid = np.asarray(patient_ids, dtype=object)
    parts: list[pd.DataFrame] = []
    for code, gene in enumerate(MAJOR_GENES, start=1):
        seen = g.tested if gene == "C9orf72" else g.panel
        idx = np.flatnonzero((g.major == code) & seen)
        variants, classes = _pick_variants(gene, idx.size, rng)
        parts.append(
            pd.DataFrame(
                {
                    "patient_id": pid[idx],
                    "gene": gene,
                    "variant": variants,
                    "pathogenicity": classes,
                }
            )
        )
    for code, gene in enumerate(MINOR_GENES, start=1):
        idx = np.flatnonzero((g.minor == code) & g.panel)
        variants, classes = _pick_variants(gene, idx.size, rng)
        parts.append(
            pd.DataFrame(
                {
                    "patient_id": pid[idx],
                    "gene": gene,
                    "variant": variants,
                    "pathogenicity": classes,
                }
            )
        )
    idx = np.flatnonzero(g.vus > 0)
    vus = np.array(_VUS, dtype=object)[g.vus[idx] - 1]
    parts.append(
        pd.DataFrame(
            {
                "patient_id": pid[idx],
                "gene": vus[:, 0],
                "variant": vus[:, 1],
                "pathogenicity": "vus",
            }
        )
    )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["patient_id", "gene"], kind="stable").reset_index(drop=True)
