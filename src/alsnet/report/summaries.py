"""Small tabular aggregations behind the report figures.

The report renders results; these helpers only reshape canonical tables into
what a figure or a table needs (counts, shares, Kaplan–Meier inputs). Numbers
live here and display lives in :mod:`alsnet.report.figures`, so tests can check
the numbers without parsing figures.

Time is integer days since symptom onset in the inputs; outputs use months
(``days / DAYS_PER_MONTH``) or whole years since onset (``floor(days / 365.25)``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

from alsnet.schema import ONSET_REGIONS

__all__ = [
    "DAYS_PER_MONTH",
    "DAYS_PER_YEAR",
    "KINGS_STAGES",
    "MITOS_STAGES",
    "KMGroup",
    "add_death_stage",
    "delta_fs_first_visit",
    "km_groups",
    "km_summary_table",
    "site_summary",
    "stage_counts",
    "stage_shares",
    "survival_data",
]

logger = logging.getLogger(__name__)

#: Days per month (Julian year / 12), as in ENCALS/TRICALS code.
DAYS_PER_MONTH = 365.25 / 12.0
#: Days per year since onset.
DAYS_PER_YEAR = 365.25
#: King's stages in display order (stage 5 = death).
KINGS_STAGES: tuple[str, ...] = ("1", "2", "3", "4A", "4B", "5")
#: MiToS stages in display order (stage 5 = death).
MITOS_STAGES: tuple[str, ...] = ("0", "1", "2", "3", "4", "5")

StageName = Literal["kings", "mitos"]


def _stage_vocab(stage: str) -> tuple[str, ...]:
    if stage == "kings":
        return KINGS_STAGES
    if stage == "mitos":
        return MITOS_STAGES
    raise ValueError(f"stage must be 'kings' or 'mitos', got {stage!r}")


def _normalise_stage(values: pd.Series) -> pd.Series:
    """Render stage codes as canonical text ('4A', '2'); missing stays missing."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        num = pd.to_numeric(values, errors="coerce")
        out = pd.Series(pd.NA, index=values.index, dtype="string")
        ok = num.notna().to_numpy()
        out[ok] = num[ok].round().astype("int64").astype(str).to_numpy()
        return out
    return values.astype("string").str.strip().str.upper()


def stage_counts(
    visits_scored: pd.DataFrame,
    *,
    stage: StageName = "kings",
    max_year: int | None = None,
) -> pd.DataFrame:
    """Count patients per stage and year since onset.

    Each patient contributes at most once per year: the stage at their latest
    staged visit within that year (so frequently seen patients do not weigh
    more). Visits before onset count towards year 0.

    Parameters
    ----------
    visits_scored : DataFrame
        Columns ``patient_id``, ``day`` (days since onset) and the stage column
        (``kings`` with codes 1, 2, 3, 4A, 4B, 5 or ``mitos`` with 0..5).
        Rows with a missing stage are ignored.
    stage : {"kings", "mitos"}
        Which staging system.
    max_year : int, optional
        Years above this are pooled into ``max_year``.

    Returns
    -------
    DataFrame
        Index ``year`` (whole years since onset, 0-based); one column per stage
        in display order; integer patient counts.
    """
    vocab = _stage_vocab(stage)
    codes = _normalise_stage(visits_scored[stage])
    known = codes.isin(vocab).fillna(False).to_numpy(dtype=bool)
    unknown = codes.notna().to_numpy(dtype=bool) & ~known
    if unknown.any():
        logger.warning("%d visits with an unknown %s stage were ignored", int(unknown.sum()), stage)
    day = visits_scored["day"].to_numpy(dtype=float)[known]
    year = np.floor(np.clip(day, 0, None) / DAYS_PER_YEAR).astype(np.int64)
    if max_year is not None:
        year = np.minimum(year, max_year)
    frame = pd.DataFrame(
        {
            "patient_id": visits_scored["patient_id"].to_numpy()[known],
            "day": day,
            "year": year,
            "stage": codes.to_numpy()[known],
        }
    )
    latest = frame.sort_values(["patient_id", "year", "day"], kind="stable").drop_duplicates(
        ["patient_id", "year"], keep="last"
    )
    counts = pd.crosstab(latest["year"], latest["stage"])
    counts = counts.reindex(columns=list(vocab), fill_value=0)
    counts.columns.name = stage
    counts.index.name = "year"
    return counts.astype(np.int64)


def stage_shares(
    visits_scored: pd.DataFrame,
    *,
    stage: StageName = "kings",
    max_year: int | None = None,
) -> pd.DataFrame:
    """Share of patients per stage and year since onset (rows sum to 1).

    See :func:`stage_counts` for how visits are counted.
    """
    counts = stage_counts(visits_scored, stage=stage, max_year=max_year)
    return counts.div(counts.sum(axis=1), axis=0)


def add_death_stage(visits_scored: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Append one stage-5 row (King's and MiToS) at each patient's death day.

    Parameters
    ----------
    visits_scored : DataFrame
        Scored visits with ``patient_id``, ``day``, ``kings``, ``mitos``.
    events : DataFrame
        Canonical events; rows with ``event == "death"`` are used.

    Returns
    -------
    DataFrame
        ``visits_scored`` plus the death rows (other columns missing), sorted by
        patient and day.
    """
    deaths = events.loc[events["event"] == "death", ["patient_id", "day"]]
    extra = pd.DataFrame(
        {
            "patient_id": deaths["patient_id"].to_numpy(),
            "day": deaths["day"].to_numpy(),
            "kings": "5",
            "mitos": "5",
        }
    )
    base = visits_scored.copy()
    for col in ("kings", "mitos"):
        if col in base:
            base[col] = _normalise_stage(base[col])
    out = pd.concat([base, extra], ignore_index=True)
    return out.sort_values(["patient_id", "day"], kind="stable").reset_index(drop=True)


def survival_data(
    patients: pd.DataFrame,
    events: pd.DataFrame,
    visits: pd.DataFrame,
    *,
    endpoints: Sequence[str] = ("death",),
) -> pd.DataFrame:
    """Time from onset to the first endpoint, censored at last contact.

    Parameters
    ----------
    patients, events, visits : DataFrame
        Canonical tables (days since onset).
    endpoints : sequence of str, default ("death",)
        Event types that end follow-up; ``("death", "tracheostomy", "pav")``
        gives the usual composite.

    Returns
    -------
    DataFrame
        One row per patient with follow-up: ``patient_id``, ``onset_region``,
        ``time_months`` (months since onset) and ``event`` (bool). Last contact
        is the latest visit or recorded non-endpoint event (including
        ``lost_to_follow_up``). Patients without any contact or with a negative
        time are left out.
    """
    ev = events.loc[events["event"].isin(list(endpoints))].groupby("patient_id")["day"].min()
    other = events.loc[~events["event"].isin(list(endpoints))].groupby("patient_id")["day"].max()
    last_visit = visits.groupby("patient_id")["day"].max()
    contact = pd.concat([last_visit, other], axis=1).max(axis=1)
    pid = patients["patient_id"]
    ev_day = pid.map(ev).astype("float64")
    contact_day = pid.map(contact).astype("float64")
    event = ev_day.notna()
    day = ev_day.where(event, contact_day)
    out = pd.DataFrame(
        {
            "patient_id": pid.to_numpy(),
            "onset_region": patients["onset_region"].astype("string").to_numpy(),
            "time_months": (day / DAYS_PER_MONTH).to_numpy(),
            "event": event.to_numpy(),
        }
    )
    keep = out["time_months"].notna() & (out["time_months"] >= 0)
    dropped = int((~keep).sum())
    if dropped:
        logger.info("%d patients without follow-up left out of the survival data", dropped)
    return out.loc[keep].reset_index(drop=True)


@dataclass(frozen=True)
class KMGroup:
    """Kaplan–Meier estimate of one group (times in months since onset).

    Attributes
    ----------
    label : str
        Group value (e.g. onset region).
    n, n_events : int
        Patients and observed endpoints.
    median_months : float
        Median survival in months (``inf`` when not reached).
    median_ci : tuple of float
        95% confidence interval of the median (bounds may be ``inf`` or NaN).
    fitter : KaplanMeierFitter
        The fitted lifelines estimator (timeline, CI, event table).
    """

    label: str
    n: int
    n_events: int
    median_months: float
    median_ci: tuple[float, float]
    fitter: KaplanMeierFitter

    def at_risk(self, months: Sequence[float]) -> np.ndarray:
        """Numbers at risk (time ≥ t) at each of ``months``."""
        durations = np.asarray(self.fitter.durations, dtype=float)
        return np.array([(durations >= t).sum() for t in months], dtype=np.int64)


def km_groups(
    surv: pd.DataFrame,
    *,
    group: str = "onset_region",
    min_group_size: int = 5,
    order: Sequence[str] | None = None,
) -> list[KMGroup]:
    """Fit one Kaplan–Meier estimator per group.

    Parameters
    ----------
    surv : DataFrame
        Output of :func:`survival_data` (``time_months``, ``event`` and ``group``).
    group : str, default "onset_region"
        Grouping column.
    min_group_size : int, default 5
        Groups with fewer patients are left out (and logged).
    order : sequence of str, optional
        Group display order; default: onset regions in schema order, then any
        other values sorted.

    Returns
    -------
    list of KMGroup
    """
    sizes = surv[group].value_counts(sort=True)
    if order is None:
        present = {str(g) for g in sizes.index}
        order = [r for r in ONSET_REGIONS if r in present] + sorted(present - set(ONSET_REGIONS))
    labels = [g for g in order if g in sizes.index]
    out: list[KMGroup] = []
    for label in labels:
        n = int(sizes[label])
        if n < min_group_size:
            logger.info("group %s has %d patients (< %d): no KM curve", label, n, min_group_size)
            continue
        sub = surv.loc[surv[group] == label]
        kmf = KaplanMeierFitter(label=str(label)).fit(
            sub["time_months"].to_numpy(dtype=float),
            event_observed=sub["event"].to_numpy(dtype=bool),
        )
        ci = median_survival_times(kmf.confidence_interval_)
        lo, hi = (float(v) for v in np.asarray(ci, dtype=float).ravel()[:2])
        out.append(
            KMGroup(
                label=str(label),
                n=n,
                n_events=int(sub["event"].sum()),
                median_months=float(kmf.median_survival_time_),
                median_ci=(lo, hi),
                fitter=kmf,
            )
        )
    return out


def _fmt_months(x: float) -> str:
    if np.isnan(x):
        return "–"
    if np.isinf(x):
        return "NR"
    return f"{x:.1f}"


def km_summary_table(
    groups: Sequence[KMGroup], *, at_months: Sequence[float] = (0, 12, 24, 36, 48, 60)
) -> pd.DataFrame:
    """Median survival and numbers at risk per group.

    Returns
    -------
    DataFrame
        Columns ``group``, ``patients``, ``events``, ``median (months)`` (text,
        ``NR`` = not reached), ``95% CI`` and ``at risk <t> mo`` per time.
    """
    rows = []
    for g in groups:
        row: dict[str, object] = {
            "group": g.label,
            "patients": g.n,
            "events": g.n_events,
            "median (months)": _fmt_months(g.median_months),
            "95% CI": f"{_fmt_months(g.median_ci[0])}–{_fmt_months(g.median_ci[1])}",
        }
        for t, k in zip(at_months, g.at_risk(at_months), strict=True):
            row[f"at risk {t:g} mo"] = int(k)
        rows.append(row)
    return pd.DataFrame(rows)


def delta_fs_first_visit(visits_scored: pd.DataFrame) -> pd.Series:
    """ΔFS at the first ALSFRS-R visit (points per month, positive = decline).

    ΔFS = (48 − ALSFRS-R total) / months from onset (Kimura et al., *Neurology*
    2006), at each patient's first visit with an ALSFRS-R total. Undefined
    (left out) when that visit is on or before the onset day.

    Parameters
    ----------
    visits_scored : DataFrame
        ``patient_id``, ``day`` (days since onset) and ``alsfrs_r_total``.

    Returns
    -------
    Series
        Indexed by ``patient_id``, named ``delta_fs_per_month``.
    """
    v = visits_scored.loc[visits_scored["alsfrs_r_total"].notna(), ["patient_id", "day"]]
    v = v.assign(total=visits_scored["alsfrs_r_total"])
    first = v.sort_values(["patient_id", "day"], kind="stable").drop_duplicates(
        "patient_id", keep="first"
    )
    months = first["day"].to_numpy(dtype=float) / DAYS_PER_MONTH
    total = first["total"].to_numpy(dtype=float)
    ok = months > 0
    rate = (48.0 - total[ok]) / months[ok]
    return pd.Series(
        rate,
        index=pd.Index(first["patient_id"].to_numpy()[ok], name="patient_id"),
        name="delta_fs_per_month",
    )


def site_summary(
    patients: pd.DataFrame,
    visits: pd.DataFrame,
    sites: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per-site counts for the cohort overview, plus an "All sites" row.

    Parameters
    ----------
    patients, visits : DataFrame
        Canonical tables.
    sites : DataFrame, optional
        Canonical sites (adds ``role`` and ``country``; sites without patients
        are listed with zeros).
    events : DataFrame, optional
        Canonical events (deaths and last contact); without it ``deaths`` is
        missing and follow-up ends at the last visit.

    Returns
    -------
    DataFrame
        Columns ``site_id``, ``role``, ``country``, ``patients``, ``visits``,
        ``median_follow_up_months`` (first visit to last contact, over patients
        with a visit), ``deaths``, ``bulbar_onset_pct`` (% of patients with
        ``onset_region == "bulbar"``), ``c9orf72_carriers``, ``sod1_carriers``.
    """
    p = patients[["patient_id", "site_id", "onset_region", "c9orf72", "sod1"]].copy()
    p["site_id"] = p["site_id"].astype("string")
    n_visits = visits.groupby("patient_id").size()
    first = visits.groupby("patient_id")["day"].min()
    last = visits.groupby("patient_id")["day"].max()
    if events is not None and len(events):
        last = pd.concat([last, events.groupby("patient_id")["day"].max()], axis=1).max(axis=1)
        dead = set(events.loc[events["event"] == "death", "patient_id"])
        p["dead"] = p["patient_id"].isin(dead).astype(np.int64)
    else:
        p["dead"] = np.nan
    p["visits"] = p["patient_id"].map(n_visits).fillna(0).astype(np.int64)
    p["fu"] = (p["patient_id"].map(last) - p["patient_id"].map(first)).astype("float64")
    p["fu"] = p["fu"] / DAYS_PER_MONTH
    p["bulbar"] = (p["onset_region"].astype("string") == "bulbar").fillna(False).astype(float)
    for src, dst in (("c9orf72", "c9"), ("sod1", "s1")):
        flag = pd.to_numeric(p[src], errors="coerce").astype("float64")
        p[dst] = (flag == 1).to_numpy(dtype=np.int64)

    def agg(df: pd.DataFrame) -> pd.DataFrame:
        g = df.groupby("site_id", sort=True)
        return pd.DataFrame(
            {
                "patients": g.size(),
                "visits": g["visits"].sum(),
                "median_follow_up_months": g["fu"].median(),
                "deaths": g["dead"].sum(min_count=1),
                "bulbar_onset_pct": 100.0 * g["bulbar"].mean(),
                "c9orf72_carriers": g["c9"].sum(),
                "sod1_carriers": g["s1"].sum(),
            }
        )

    per_site = agg(p)
    site_ids = per_site.index.astype(str).tolist()
    meta = pd.DataFrame(index=pd.Index([], name="site_id"), columns=["role", "country"])
    if sites is not None and len(sites):
        meta = sites.assign(site_id=sites["site_id"].astype(str)).set_index("site_id")
        meta = meta.reindex(columns=["role", "country"])
        site_ids = sorted(set(site_ids) | set(meta.index))
    per_site = per_site.reindex(site_ids)
    for col in ("patients", "visits", "c9orf72_carriers", "sod1_carriers"):
        per_site[col] = per_site[col].fillna(0).astype(np.int64)
    if events is not None:
        per_site["deaths"] = per_site["deaths"].fillna(0).astype(np.int64)
    per_site = per_site.join(meta.reindex(site_ids)).reset_index(names="site_id")
    total = agg(p.assign(site_id="All sites")).reset_index(names="site_id")
    total["role"], total["country"] = "", ""
    out = pd.concat([per_site, total], ignore_index=True)
    cols = [
        "site_id", "role", "country", "patients", "visits", "median_follow_up_months",
        "deaths", "bulbar_onset_pct", "c9orf72_carriers", "sod1_carriers",
    ]  # fmt: skip
    return out[cols]
