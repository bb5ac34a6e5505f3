"""Molecular stratification over AnnData: simulator, ``pp`` (normalisation, batch correction)
``tl`` (consensus clustering with a batch QC gate), ``classify`` (frozen subtype classifier)
and ``panel`` (stability-selected panels, nested CV, prognostic value of NfL).

AnnData is an optional dependency (``pip install 'alsnet[omics]'``); it is imported lazily.
"""

from __future__ import annotations

from alsnet.omics import classify, panel, pp, priors, rules, targets, tl
from alsnet.omics.simulate import (
    OmicsSimParams,
    SimulatedOmics,
    simulate_arrays,
    simulate_transcriptome,
)

__all__ = [
    "OmicsSimParams",
    "SimulatedOmics",
    "classify",
    "panel",
    "pp",
    "priors",
    "rules",
    "simulate_arrays",
    "simulate_transcriptome",
    "targets",
    "tl",
]
