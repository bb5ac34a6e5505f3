"""Shared synthetic network for the federated tests."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from alsnet.cohort import Cohort
from alsnet.federated import split_sites
from alsnet.synth import synthesize


@pytest.fixture(scope="session")
def network() -> Cohort:
    """A 1,200-patient synthetic network (5 sites)."""
    return synthesize(1200, seed=11)


@pytest.fixture(scope="session")
def site_cohorts(network: Cohort) -> Mapping[str, Cohort]:
    """The network split into one cohort per site."""
    return split_sites(network)
