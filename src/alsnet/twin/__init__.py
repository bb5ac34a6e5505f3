"""Digital twins: prognostic features, prognostic scores and PROCOVA trial adjustment."""

from __future__ import annotations

from alsnet.twin.procova import (
    ProcovaResult,
    SampleSize,
    adjusted_sample_size,
    procova_ancova,
    procova_power,
    procova_sample_size,
    procova_variance,
)

__all__ = [
    "ProcovaResult",
    "SampleSize",
    "adjusted_sample_size",
    "procova_ancova",
    "procova_power",
    "procova_sample_size",
    "procova_variance",
]
