"""Helpers for testing alsnet and code built on it (synthetic input files, no real data)."""

from __future__ import annotations

from alsnet.testing.synthetic_proact import ProactTruth, make_proact_truth, write_proact_files

__all__ = ["ProactTruth", "make_proact_truth", "write_proact_files"]
