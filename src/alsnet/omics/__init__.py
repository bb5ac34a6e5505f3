"""Molecular stratification over AnnData: simulator, ``pp`` (normalisation, batch correction)
and ``tl`` (consensus clustering with a batch QC gate).

AnnData is an optional dependency (``pip install 'alsnet[omics]'``); it is imported lazily.
"""

from __future__ import annotations

from alsnet.omics import pp, priors, rules, targets, tl
from alsnet.omics.simulate import (
    OmicsSimParams,
    SimulatedOmics,
    simulate_arrays,
    simulate_transcriptome,
)

__all__ = [
    "OmicsSimParams",
    "SimulatedOmics",
    "pp",
    "priors",
    "rules",
    "simulate_arrays",
    "simulate_transcriptome",
    "targets",
    "tl",
]
