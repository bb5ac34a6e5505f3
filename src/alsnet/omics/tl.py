"""Tools over AnnData: consensus clustering with PAC + silhouette k choice and a batch gate;
per-sample membership probabilities and per-patient labels across tissues."""

from __future__ import annotations

from alsnet.omics._consensus import (
    MAX_BATCH_ARI,
    PAC_TOLERANCE,
    ConsensusResult,
    GateResult,
    batch_gate,
    batch_purity,
    choose_k,
    consensus_cluster,
    consensus_matrices,
    pac_score,
)
from alsnet.omics._labels import (
    DISCORDANT,
    UNASSIGNED,
    membership_probability,
    patient_labels,
)

__all__ = [
    "DISCORDANT",
    "MAX_BATCH_ARI",
    "PAC_TOLERANCE",
    "UNASSIGNED",
    "ConsensusResult",
    "GateResult",
    "batch_gate",
    "batch_purity",
    "choose_k",
    "consensus_cluster",
    "consensus_matrices",
    "membership_probability",
    "pac_score",
    "patient_labels",
]
