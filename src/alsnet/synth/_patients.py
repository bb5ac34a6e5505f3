"""Baseline characteristics: demographics, onset region, ancestry, family history, genes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from alsnet.synth._common import BoolArray, FloatArray, IntArray, choice_by_rows
from alsnet.synth._genetics import MAJOR_GENES, Genotypes, draw_genotypes
from alsnet.synth._sites import SiteSpec
from alsnet.synth.params import SynthParams

__all__ = ["Baseline", "draw_baseline"]


@dataclass(frozen=True)
class Baseline:
    """Per-patient characteristics fixed at onset (arrays of length n).

    Attributes
    ----------
    site : ndarray of int
        Index into the site list.
    male : ndarray of bool
        Sex (True = male).
    age_onset : ndarray of float
        Age at onset (years).
    region : ndarray of object
        Onset region (schema vocabulary).
    ancestry : ndarray of object
        Self-reported ancestry code.
    familial : ndarray of bool
        Family history of ALS/FTD.
    ftd : ndarray of bool
        Frontotemporal dementia.
    genes : Genotypes
        Latent and observed genetics.
    height_m : ndarray of float
        Height (m).
    """

    site: IntArray
    male: BoolArray
    age_onset: FloatArray
    region: np.ndarray
    ancestry: np.ndarray
    familial: BoolArray
    ftd: BoolArray
    genes: Genotypes
    height_m: FloatArray

    def carrier(self, gene: str) -> BoolArray:
        """Latent carrier status of a major (C9orf72, SOD1, TARDBP, FUS) or ATXN2 gene."""
        if gene == "ATXN2":
            return np.asarray(self.genes.minor == 3)
        return np.asarray(self.genes.major == MAJOR_GENES.index(gene) + 1)


def _bulbar_by_sex(p_bulbar: float, male_fraction: float, odds_ratio: float) -> tuple[float, float]:
    """Bulbar-onset probability for men and women keeping the overall share ``p_bulbar``."""

    def women(pm: float) -> float:
        odds = odds_ratio * pm / (1.0 - pm)
        return odds / (1.0 + odds)

    def gap(pm: float) -> float:
        return male_fraction * pm + (1.0 - male_fraction) * women(pm) - p_bulbar

    if p_bulbar <= 0.0 or p_bulbar >= 1.0 or male_fraction in (0.0, 1.0):
        return p_bulbar, p_bulbar
    pm = float(brentq(gap, 1e-12, 1.0 - 1e-12))
    return pm, women(pm)


def _onset_regions(male: BoolArray, params: SynthParams, rng: np.random.Generator) -> np.ndarray:
    names = list(params.onset_region_probs)
    base = np.array([params.onset_region_probs[r] for r in names], dtype=np.float64)
    n = male.shape[0]
    probs = np.broadcast_to(base, (n, base.size)).copy()
    if "bulbar" in names:
        j = names.index("bulbar")
        pm, pf = _bulbar_by_sex(base[j], params.male_fraction, params.bulbar_odds_ratio_female)
        pb = np.where(male, pm, pf)
        others = np.delete(np.arange(base.size), j)
        rest = base[others].sum()
        if rest > 0:
            probs[:, others] = base[others][None, :] * ((1.0 - pb) / rest)[:, None]
        probs[:, j] = pb
    return np.asarray(names, dtype=object)[choice_by_rows(probs, rng)]


def draw_baseline(
    site: IntArray, sites: Sequence[SiteSpec], params: SynthParams, rng: np.random.Generator
) -> Baseline:
    """Draw the baseline characteristics of the patients at the given sites.

    Parameters
    ----------
    site : ndarray of int, shape (n,)
        Site index of each patient.
    sites : sequence of SiteSpec
        The network (ancestry mix, testing rate and case mix per site).
    params : SynthParams
        Population parameters.
    rng : numpy.random.Generator
        Random source.
    """
    n = site.shape[0]
    male = np.asarray(rng.random(n) < params.male_fraction, dtype=np.bool_)
    region = _onset_regions(male, params, rng)
    codes = sorted({a for s in sites for a in s.ancestry})
    mix = np.array([[s.ancestry.get(a, 0.0) for a in codes] for s in sites], dtype=np.float64)
    ancestry = np.asarray(codes, dtype=object)[choice_by_rows(mix[site], rng)]
    fam_or = np.array([s.familial_odds_ratio for s in sites])[site]
    p0 = params.family_history_probability
    odds = fam_or * p0 / (1.0 - p0)
    familial = np.asarray(rng.random(n) < odds / (1.0 + odds), dtype=np.bool_)
    testing = np.array([s.genetic_testing for s in sites])[site]
    genes = draw_genotypes(ancestry, familial, testing, params, rng)
    shift = np.array([s.age_shift_years for s in sites])[site]
    age = params.age_onset_mean + shift + params.age_onset_sd * rng.standard_normal(n)
    age = age - 10.0 * (genes.major == MAJOR_GENES.index("FUS") + 1)
    age = np.clip(age, params.age_onset_min, params.age_onset_max)
    c9 = genes.major == MAJOR_GENES.index("C9orf72") + 1
    p_ftd = np.where(c9, params.ftd_probability_c9, params.ftd_probability)
    ftd = np.asarray((rng.random(n) < p_ftd) | (region == "ftd"), dtype=np.bool_)
    height = np.where(male, 1.77, 1.64) + 0.07 * rng.standard_normal(n)
    return Baseline(
        site=site,
        male=male,
        age_onset=np.round(age, 1),
        region=region,
        ancestry=ancestry,
        familial=familial,
        ftd=ftd,
        genes=genes,
        height_m=np.clip(height, 1.40, 2.10),
    )
