"""Tools over AnnData: consensus clustering with PAC / cophenetic k choice and a batch gate."""

from __future__ import annotations

from alsnet.omics._consensus import (
    MAX_BATCH_ARI,
    ConsensusResult,
    GateResult,
    batch_gate,
    consensus_cluster,
    consensus_matrices,
    pac_score,
)

__all__ = [
    "MAX_BATCH_ARI",
    "ConsensusResult",
    "GateResult",
    "batch_gate",
    "consensus_cluster",
    "consensus_matrices",
    "pac_score",
]
