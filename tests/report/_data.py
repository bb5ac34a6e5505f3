"""A small, valid toy cohort with scored visits for the report tests.

Not a calibrated generator: just enough structure (onset regions, item-level
decline, deaths, losses to follow-up, sites) to exercise every figure. Stages
are derived with simplified rules here so the tests do not depend on
``alsnet.clinical``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsnet.cohort import Cohort

ITEMS = ("q1", "q2", "q3", "q4", "q5a", "q6", "q7", "q8", "q9", "q10", "q11", "q12")
REGIONS = ("bulbar", "upper_limb", "lower_limb", "respiratory")
# Relative speed of decline of each item by onset region.
_WEIGHTS = {
    "bulbar": (2.0, 1.5, 2.0, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6, 0.5, 0.4, 0.4),
    "upper_limb": (0.6, 0.4, 0.5, 2.0, 2.0, 1.5, 0.8, 0.7, 0.7, 0.5, 0.4, 0.4),
    "lower_limb": (0.5, 0.4, 0.5, 0.7, 0.7, 1.0, 1.5, 2.0, 2.0, 0.5, 0.4, 0.4),
    "respiratory": (0.6, 0.4, 0.6, 0.6, 0.6, 0.8, 0.8, 0.8, 0.8, 1.8, 1.5, 1.5),
}
DAYS_PER_MONTH = 365.25 / 12


def make_cohort(
    n: int = 200, *, seed: int = 0, site_ids: tuple[str, ...] = ("S01", "S02", "S03")
) -> tuple[Cohort, pd.DataFrame]:
    """Return a validated cohort and its scored visits."""
    rng = np.random.default_rng(seed)
    pid = np.array([f"P{i:05d}" for i in range(n)])
    region = rng.choice(REGIONS, size=n, p=[0.3, 0.3, 0.3, 0.1])
    site = rng.choice(np.array(site_ids), size=n)
    diag = rng.integers(150, 500, size=n)
    rate = rng.lognormal(np.log(0.9), 0.5, size=n)  # points per month
    death = (diag + rng.gamma(4.0, 200.0, size=n) + 300 / rate).astype(int)
    n_vis = rng.integers(1, 9, size=n)
    patients = pd.DataFrame(
        {
            "patient_id": pid,
            "site_id": site,
            "sex": rng.choice(["F", "M"], size=n),
            "age_onset": np.round(rng.uniform(35, 80, size=n), 1),
            "onset_region": region,
            "diagnosis_day": diag,
            "el_escorial": "probable",
            "ftd": 0,
            "c9orf72": np.where(rng.random(n) < 0.1, "1", np.where(rng.random(n) < 0.2, "", "0")),
            "sod1": np.where(rng.random(n) < 0.03, "1", "0"),
            "ancestry": "EUR",
        }
    )
    # Visits every ~3 months from diagnosis, stopping before death.
    rep = np.repeat(np.arange(n), n_vis)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(n_vis) - n_vis, n_vis)
    day = diag[rep] + k * 91 + rng.integers(0, 20, size=len(rep))
    keep = day < death[rep]
    rep, day = rep[keep], day[keep]
    months = day / DAYS_PER_MONTH
    w = np.array([_WEIGHTS[r] for r in region])[rep]  # (visits, 12)
    decline = (rate[rep] * months)[:, None] * w / w.sum(axis=1, keepdims=True)
    items = np.clip(4 - np.floor(decline), 0, 4)
    visits = pd.DataFrame(items, columns=list(ITEMS))
    visits.insert(0, "patient_id", pid[rep])
    visits.insert(1, "day", day)
    visits.insert(2, "instrument", "alsfrs_r")
    # Events: death if before the data cut, otherwise some are lost to follow-up.
    cut = 2200
    dead = death < cut
    lost = ~dead & (rng.random(n) < 0.3)
    last_visit = pd.Series(day).groupby(rep).max().reindex(range(n)).to_numpy()
    ltfu_day = np.where(np.isnan(last_visit), diag, np.nan_to_num(last_visit) + 60).astype(int)
    events = pd.concat(
        [
            pd.DataFrame({"patient_id": pid[dead], "event": "death", "day": death[dead]}),
            pd.DataFrame(
                {"patient_id": pid[lost], "event": "lost_to_follow_up", "day": ltfu_day[lost]}
            ),
        ],
        ignore_index=True,
    )
    sites = pd.DataFrame(
        {
            "site_id": list(site_ids),
            "role": ["hub"] + ["spoke"] * (len(site_ids) - 1),
            "country": ["NL", "BE", "DE", "FR", "IT"][: len(site_ids)],
            "jurisdiction": "eu_gdpr",
        }
    )
    cohort = Cohort.from_tables(
        {"patients": patients, "visits": visits, "events": events, "sites": sites}
    )
    return cohort, score(cohort.visits)


def score(visits: pd.DataFrame) -> pd.DataFrame:
    """Add totals, domain scores and simplified King's/MiToS stages."""
    v = visits.copy()
    q = {c: v[c].to_numpy(dtype=float) for c in ITEMS}
    v["alsfrs_r_total"] = sum(q[c] for c in ITEMS)
    v["bulbar"] = q["q1"] + q["q2"] + q["q3"]
    v["fine_motor"] = q["q4"] + q["q5a"] + q["q6"]
    v["gross_motor"] = q["q7"] + q["q8"] + q["q9"]
    v["respiratory"] = q["q10"] + q["q11"] + q["q12"]
    regions = (
        (np.minimum.reduce([q["q1"], q["q2"], q["q3"]]) < 4).astype(int)
        + ((q["q4"] < 4) | (q["q5a"] < 4)).astype(int)
        + (q["q8"] < 4).astype(int)
    )
    kings = np.maximum(regions, 1).astype(str).astype(object)
    kings[(q["q10"] == 0) | (q["q12"] < 4)] = "4B"
    v["kings"] = kings
    v["mitos"] = (
        ((q["q8"] <= 1) | (q["q6"] <= 1)).astype(int)
        + (q["q3"] <= 1).astype(int)
        + ((q["q1"] <= 1) & (q["q4"] <= 1)).astype(int)
        + ((q["q10"] <= 1) | (q["q12"] <= 2)).astype(int)
    )
    return v
