"""Sites of the synthetic hub-and-spoke network and their case mix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from alsnet.schema import ANCESTRIES
from alsnet.synth._common import IntArray

__all__ = ["DEFAULT_SITES", "SiteSpec", "assign_sites", "sites_table"]

_JURISDICTIONS = ("eu_gdpr", "uk_gdpr", "us_hipaa", "other")


@dataclass(frozen=True)
class SiteSpec:
    """One site of the synthetic network and its case mix.

    Parameters
    ----------
    site_id : str
        Site code.
    role : {"hub", "spoke"}
        Role in the network.
    country : str
        ISO 3166-1 alpha-2 code.
    jurisdiction : {"eu_gdpr", "uk_gdpr", "us_hipaa", "other"}
        Privacy regime.
    weight : float
        Relative size (share of patients = weight / sum of weights).
    ancestry : mapping of str to float
        Self-reported ancestry mix (codes of :data:`alsnet.schema.ANCESTRIES`).
    genetic_testing : float
        Probability that a sporadic patient was genetically tested (0-1).
    biobank : str or None
        Biobank name; ``None`` = no samples and no serum NfL at this site.
    trial_probability : float
        Probability that a patient joins a trial (0-1).
    edaravone_probability : float
        Probability of edaravone treatment (0-1; depends on approval in the country).
    tofersen_available : bool
        Whether tofersen is given to SOD1 carriers.
    tracheostomy_probability : float
        Probability of a tracheostomy instead of death (0-1).
    familial_odds_ratio : float
        Odds ratio of familial ALS relative to the network default (referral case mix).
    age_shift_years : float
        Shift of age at onset (years; case mix).
    referral_delay_factor : float
        Multiplier of the diagnostic delay (spokes see patients later).
    """

    site_id: str
    role: str
    country: str
    jurisdiction: str
    weight: float
    ancestry: Mapping[str, float]
    genetic_testing: float = 0.6
    biobank: str | None = None
    trial_probability: float = 0.08
    edaravone_probability: float = 0.02
    tofersen_available: bool = True
    tracheostomy_probability: float = 0.03
    familial_odds_ratio: float = 1.0
    age_shift_years: float = 0.0
    referral_delay_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.role not in ("hub", "spoke"):
            raise ValueError(f"SiteSpec {self.site_id}: role must be hub or spoke")
        if self.jurisdiction not in _JURISDICTIONS:
            raise ValueError(
                f"SiteSpec {self.site_id}: jurisdiction must be one of {_JURISDICTIONS}"
            )
        if self.weight <= 0:
            raise ValueError(f"SiteSpec {self.site_id}: weight must be positive")
        bad = set(self.ancestry) - set(ANCESTRIES)
        if bad or abs(sum(self.ancestry.values()) - 1.0) > 1e-9:
            raise ValueError(
                f"SiteSpec {self.site_id}: ancestry needs codes of {ANCESTRIES} summing to 1"
            )
        for name in (
            "genetic_testing",
            "trial_probability",
            "edaravone_probability",
            "tracheostomy_probability",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"SiteSpec {self.site_id}: {name} must lie in [0, 1]")


def _mix(**kw: float) -> Mapping[str, float]:
    return MappingProxyType(dict(kw))


#: Default network: one academic hub and four spokes in four jurisdictions.
DEFAULT_SITES: tuple[SiteSpec, ...] = (
    SiteSpec(
        "NL01",
        "hub",
        "NL",
        "eu_gdpr",
        0.34,
        _mix(EUR=0.90, MID=0.04, AFR=0.03, SAS=0.01, mixed=0.02),
        genetic_testing=0.85,
        biobank="NL01-biobank",
        trial_probability=0.20,
        edaravone_probability=0.01,
        familial_odds_ratio=1.5,
        age_shift_years=-1.5,
        referral_delay_factor=0.9,
        tracheostomy_probability=0.02,
    ),
    SiteSpec(
        "GB01",
        "spoke",
        "GB",
        "uk_gdpr",
        0.20,
        _mix(EUR=0.86, SAS=0.07, AFR=0.04, mixed=0.03),
        genetic_testing=0.55,
        biobank="GB01-biobank",
        trial_probability=0.10,
        edaravone_probability=0.01,
        tracheostomy_probability=0.01,
    ),
    SiteSpec(
        "IT01",
        "spoke",
        "IT",
        "eu_gdpr",
        0.16,
        _mix(EUR=0.97, MID=0.01, AFR=0.01, mixed=0.01),
        genetic_testing=0.60,
        biobank=None,
        trial_probability=0.05,
        edaravone_probability=0.03,
        age_shift_years=1.5,
        referral_delay_factor=1.1,
    ),
    SiteSpec(
        "US01",
        "spoke",
        "US",
        "us_hipaa",
        0.18,
        _mix(EUR=0.72, AFR=0.11, AMR=0.09, EAS=0.04, mixed=0.04),
        genetic_testing=0.65,
        biobank="US01-biobank",
        trial_probability=0.12,
        edaravone_probability=0.15,
        tracheostomy_probability=0.05,
    ),
    SiteSpec(
        "JP01",
        "spoke",
        "JP",
        "other",
        0.12,
        _mix(EAS=0.98, mixed=0.01, unknown=0.01),
        genetic_testing=0.50,
        biobank=None,
        trial_probability=0.04,
        edaravone_probability=0.30,
        tofersen_available=False,
        tracheostomy_probability=0.20,
        age_shift_years=3.0,
        referral_delay_factor=1.2,
    ),
)


def sites_table(sites: Sequence[SiteSpec]) -> pd.DataFrame:
    """Canonical ``sites`` table of a network.

    Parameters
    ----------
    sites : sequence of SiteSpec
        The network.

    Returns
    -------
    DataFrame
        Columns site_id, role, country, jurisdiction.
    """
    ids = [s.site_id for s in sites]
    if len(set(ids)) != len(ids):
        raise ValueError("site ids must be unique")
    return pd.DataFrame(
        {
            "site_id": ids,
            "role": [s.role for s in sites],
            "country": [s.country for s in sites],
            "jurisdiction": [s.jurisdiction for s in sites],
        }
    )


def assign_sites(n: int, sites: Sequence[SiteSpec], rng: np.random.Generator) -> IntArray:
    """Allocate ``n`` patients to sites in proportion to their weights.

    Counts are the largest-remainder rounding of ``n * weight`` (deterministic), and
    the order of patients over sites is shuffled with ``rng``.

    Returns
    -------
    ndarray of int, shape (n,)
        Site index (into ``sites``) of each patient.
    """
    w = np.array([s.weight for s in sites], dtype=np.float64)
    exact = n * w / w.sum()
    counts = np.floor(exact).astype(np.int64)
    rest = n - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:rest]] += 1
    idx = np.repeat(np.arange(len(sites), dtype=np.int64), counts)
    return rng.permutation(idx)
