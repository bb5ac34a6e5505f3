"""The calibrated synthetic cohort of an ALS hub-and-spoke network.

>>> from alsnet.synth import synthesize
>>> cohort = synthesize(20, seed=0)
>>> sorted(cohort.sites["role"].unique())
['hub', 'spoke']
"""

from __future__ import annotations

from alsnet.synth._generate import synthesize, synthesize_tables
from alsnet.synth._sites import DEFAULT_SITES, SiteSpec
from alsnet.synth.params import GENE_FREQUENCIES, ONSET_REGION_PROBS, SOURCES, SynthParams

__all__ = [
    "DEFAULT_SITES",
    "GENE_FREQUENCIES",
    "ONSET_REGION_PROBS",
    "SOURCES",
    "SiteSpec",
    "SynthParams",
    "synthesize",
    "synthesize_tables",
]
