"""Export a cohort as OMOP CDM 5.4 tables (CSV).

Written tables: ``person``, ``observation_period``, ``condition_occurrence``
(ALS, concept 373182), ``observation`` (ALSFRS-R items and total),
``measurement`` (FVC, SVC, weight, BMI, NfL and the biomarkers table) and
``death``. Columns and their order follow the CDM 5.4 DDL of each table.

Synthetic dates
---------------
OMOP needs calendar dates; alsnet holds none. Every patient's day 0 (symptom
onset) is placed on the same synthetic date ``origin_date`` (default
2000-01-01) and a record on day *d* gets ``origin_date + d`` days. These are
**not real dates**: calendar-time analyses (seasonality, secular trends,
calendar-year strata) of the export are meaningless, while every interval
(onset to diagnosis, visit to visit, onset to death) is exact.
``year_of_birth`` is the year of ``origin_date - age_onset`` (365.25-day
years); month and day of birth are left empty. Patients without
``age_onset`` cannot get the required ``year_of_birth`` and are left out
(logged).

Concepts
--------
Concept ids come from ``omop_concepts.csv`` shipped with this package (see
:func:`load_concepts`); its ``confidence`` column marks ids taken from
secondary sources or **inferred** (the intermediate ALSFRS-R item ids), to be
confirmed in Athena. Measures without a sourced standard concept (FVC, SVC,
weight, BMI, NfL) are written with ``measurement_concept_id = 0`` and their
alsnet column name and unit as source values. Only ALSFRS-R (instrument
``alsfrs_r``, 0-48) totals use the ALSFRS-R total concept; items and totals of
the original ALSFRS (0-40) are written with concept 0 and source values
``alsfrs:<item>`` / ``alsfrs:total``.

Identifiers
-----------
``person_id`` is a sequence number (patients sorted by pseudonym);
``person_source_value`` holds the alsnet pseudonym. No other id, no free text
(assay names, trial ids, variants) and no site codes are exported.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from alsnet.cohort import Cohort
from alsnet.schema import ALSFRS_ITEMS, ALSFRS_R_ITEMS, TABLES

__all__ = ["OMOP_COLUMNS", "load_concepts", "write_omop"]

log = logging.getLogger(__name__)

#: Columns of the written tables, in CDM 5.4 DDL order.
OMOP_COLUMNS: dict[str, tuple[str, ...]] = {
    "person": (
        "person_id",
        "gender_concept_id",
        "year_of_birth",
        "month_of_birth",
        "day_of_birth",
        "birth_datetime",
        "race_concept_id",
        "ethnicity_concept_id",
        "location_id",
        "provider_id",
        "care_site_id",
        "person_source_value",
        "gender_source_value",
        "gender_source_concept_id",
        "race_source_value",
        "race_source_concept_id",
        "ethnicity_source_value",
        "ethnicity_source_concept_id",
    ),
    "observation_period": (
        "observation_period_id",
        "person_id",
        "observation_period_start_date",
        "observation_period_end_date",
        "period_type_concept_id",
    ),
    "condition_occurrence": (
        "condition_occurrence_id",
        "person_id",
        "condition_concept_id",
        "condition_start_date",
        "condition_start_datetime",
        "condition_end_date",
        "condition_end_datetime",
        "condition_type_concept_id",
        "condition_status_concept_id",
        "stop_reason",
        "provider_id",
        "visit_occurrence_id",
        "visit_detail_id",
        "condition_source_value",
        "condition_source_concept_id",
        "condition_status_source_value",
    ),
    "observation": (
        "observation_id",
        "person_id",
        "observation_concept_id",
        "observation_date",
        "observation_datetime",
        "observation_type_concept_id",
        "value_as_number",
        "value_as_string",
        "value_as_concept_id",
        "qualifier_concept_id",
        "unit_concept_id",
        "provider_id",
        "visit_occurrence_id",
        "visit_detail_id",
        "observation_source_value",
        "observation_source_concept_id",
        "unit_source_value",
        "qualifier_source_value",
        "value_source_value",
        "observation_event_id",
        "obs_event_field_concept_id",
    ),
    "measurement": (
        "measurement_id",
        "person_id",
        "measurement_concept_id",
        "measurement_date",
        "measurement_datetime",
        "measurement_time",
        "measurement_type_concept_id",
        "operator_concept_id",
        "value_as_number",
        "value_as_concept_id",
        "unit_concept_id",
        "range_low",
        "range_high",
        "provider_id",
        "visit_occurrence_id",
        "visit_detail_id",
        "measurement_source_value",
        "measurement_source_concept_id",
        "unit_source_value",
        "unit_source_concept_id",
        "value_source_value",
        "measurement_event_id",
        "meas_event_field_concept_id",
    ),
    "death": (
        "person_id",
        "death_date",
        "death_datetime",
        "death_type_concept_id",
        "cause_concept_id",
        "cause_source_value",
        "cause_source_concept_id",
    ),
}

#: Visit columns exported to ``measurement``.
MEASUREMENT_COLUMNS = (
    "fvc_l",
    "fvc_pct",
    "svc_l",
    "svc_pct",
    "weight_kg",
    "bmi",
    "nfl_serum_pg_ml",
)


def load_concepts() -> pd.DataFrame:
    """Return the concept mapping shipped as ``alsnet/io/omop_concepts.csv``.

    Returns
    -------
    DataFrame
        Indexed by ``key`` (e.g. ``"alsfrs_r:q1"``, ``"als"``, ``"sex:F"``) with
        ``omop_table``, ``concept_id``, ``concept_name``, ``vocabulary``,
        ``code`` (LOINC/SNOMED), ``confidence`` (of the concept id),
        ``code_confidence`` and ``note``.
    """
    ref = resources.files("alsnet.io").joinpath("omop_concepts.csv")
    with ref.open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh, dtype={"concept_id": "int64"}, keep_default_na=False)
    return df.set_index("key")


def _concept(concepts: pd.DataFrame, key: str) -> int:
    ids = {str(k): int(v) for k, v in concepts["concept_id"].items()}
    return ids[key]


def _dates(origin: pd.Timestamp, days: pd.Series | np.ndarray) -> np.ndarray:
    """ISO dates ``origin + days`` (days are whole numbers; formatted once per distinct day)."""
    uniq, inverse = np.unique(np.asarray(days, dtype="float64"), return_inverse=True)
    text = (origin + pd.to_timedelta(uniq, unit="D")).strftime("%Y-%m-%d")
    return np.asarray(text, dtype=object)[inverse.reshape(-1)]


def _person_index(cohort: Cohort) -> pd.DataFrame:
    p = cohort.patients.sort_values("patient_id", kind="stable").reset_index(drop=True)
    missing = p["age_onset"].isna()
    if missing.any():
        log.warning(
            "OMOP export: %d patient(s) without age_onset left out (year_of_birth is required)",
            int(missing.sum()),
        )
    p = p.loc[~missing].reset_index(drop=True)
    p["person_id"] = np.arange(1, len(p) + 1, dtype=np.int64)
    return p


def _observations(cohort: Cohort, pid: pd.Series, concepts: pd.DataFrame) -> pd.DataFrame:
    v = cohort.visits.loc[cohort.visits["patient_id"].isin(pid.index)].reset_index(drop=True)
    self_report = (
        (v["respondent"] == "patient").fillna(False) | (v["mode"] == "self_online").fillna(False)
    ).to_numpy(dtype=bool)
    type_id = np.where(
        self_report,
        _concept(concepts, "type:patient_survey"),
        _concept(concepts, "type:clinician_survey"),
    )
    parts = []
    for instrument, items in (("alsfrs_r", ALSFRS_R_ITEMS), ("alsfrs", ALSFRS_ITEMS)):
        sel = (v["instrument"] == instrument).fillna(False).to_numpy(dtype=bool)
        sub = v.loc[sel, ["patient_id", "day", *items, "total_reported"]]
        vals = sub[list(items)]
        has_items = vals.notna().any(axis=1)
        total = vals.sum(axis=1, min_count=1).where(has_items, sub["total_reported"])
        long = sub[["patient_id", "day"]]
        frames = [long.assign(item=it, value=sub[it].to_numpy()) for it in items]
        frames.append(long.assign(item="total", value=total.to_numpy()))
        stacked = pd.concat(frames, ignore_index=False)
        stacked["type_id"] = np.tile(type_id[sel], len(frames))
        stacked["order"] = np.tile(np.flatnonzero(sel), len(frames))
        stacked = stacked.loc[stacked["value"].notna()]
        stacked["source"] = instrument + ":" + stacked["item"]
        if instrument == "alsfrs_r":
            stacked["concept"] = stacked["source"].map(concepts["concept_id"])
        else:
            stacked["concept"] = 0
        parts.append(stacked)
    obs = pd.concat(parts, ignore_index=True)
    item_rank = {it: i for i, it in enumerate([*ALSFRS_R_ITEMS, "q10_alsfrs", "total"])}
    obs["rank"] = obs["item"].map(item_rank)
    obs = obs.sort_values(["order", "rank"], kind="stable").reset_index(drop=True)
    return obs


def _measurements(cohort: Cohort, pid: pd.Series) -> pd.DataFrame:
    v = cohort.visits.loc[cohort.visits["patient_id"].isin(pid.index)]
    spec = TABLES["visits"]
    frames = [
        pd.DataFrame(
            {
                "patient_id": v["patient_id"].to_numpy(),
                "day": v["day"].to_numpy(),
                "value": v[c].to_numpy(dtype="float64"),
                "source": c,
                "unit": spec.column(c).unit,
            }
        )
        for c in MEASUREMENT_COLUMNS
    ]
    b = cohort.biomarkers.loc[cohort.biomarkers["patient_id"].isin(pid.index)]
    frames.append(
        pd.DataFrame(
            {
                "patient_id": b["patient_id"].to_numpy(),
                "day": b["day"].to_numpy(),
                "value": b["value_pg_ml"].to_numpy(dtype="float64"),
                "source": (b["analyte"] + "_" + b["matrix"] + "_pg_ml").to_numpy(),
                "unit": "pg/mL",
            }
        )
    )
    m = pd.concat(frames, ignore_index=True)
    return m.loc[m["value"].notna()].reset_index(drop=True)


def _write(df: pd.DataFrame, path: Path) -> Path:
    df.to_csv(path, index=False, na_rep="", lineterminator="\n", encoding="utf-8")
    return path


def _table(table: str, n: int, **cols: object) -> pd.DataFrame:
    """An OMOP table with ``n`` rows, DDL column order; unspecified columns empty."""
    data: dict[str, object] = {}
    empty = np.full(n, None, dtype=object)
    for c in OMOP_COLUMNS[table]:
        v = cols.get(c)
        if v is None:
            data[c] = empty
        elif isinstance(v, int | float | str):
            data[c] = np.full(n, v)
        else:
            data[c] = np.asarray(v)
    return pd.DataFrame(data, index=range(n), columns=list(OMOP_COLUMNS[table]))


def write_omop(
    cohort: Cohort, directory: str | Path, *, origin_date: str = "2000-01-01"
) -> list[Path]:
    """Write ``cohort`` as OMOP CDM 5.4 CSV tables.

    Parameters
    ----------
    cohort : Cohort
    directory : str or Path
        Created if missing; ``<table>.csv`` files are overwritten.
    origin_date : str, default "2000-01-01"
        ISO date on which every patient's day 0 (symptom onset) is placed.
        All exported dates are synthetic (see the module notes).

    Returns
    -------
    list of Path
        ``person``, ``observation_period``, ``condition_occurrence``,
        ``observation``, ``measurement`` and ``death`` CSV files.
    """
    origin = pd.Timestamp(origin_date)
    concepts = load_concepts()
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    registry = _concept(concepts, "type:registry")
    p = _person_index(cohort)
    n = len(p)
    pid = pd.Series(p["person_id"].to_numpy(), index=p["patient_id"].to_numpy())
    gender = (
        p["sex"]
        .map({"M": _concept(concepts, "sex:M"), "F": _concept(concepts, "sex:F")})
        .fillna(0)
        .astype("int64")
    )
    birth = origin - pd.to_timedelta(p["age_onset"].to_numpy() * 365.25, unit="D")
    tables: dict[str, pd.DataFrame] = {}
    tables["person"] = _table(
        "person",
        n,
        person_id=p["person_id"],
        gender_concept_id=gender,
        year_of_birth=np.asarray(birth.year, dtype=np.int64),
        race_concept_id=0,
        ethnicity_concept_id=0,
        person_source_value=p["patient_id"].to_numpy(dtype=object),
        gender_source_value=p["sex"].astype(object),
        race_source_value=p["ancestry"].astype(object),
    )
    dx_day = p["diagnosis_day"].astype("float64").fillna(0.0).to_numpy()
    tables["condition_occurrence"] = _table(
        "condition_occurrence",
        n,
        condition_occurrence_id=np.arange(1, n + 1),
        person_id=p["person_id"],
        condition_concept_id=_concept(concepts, "als"),
        condition_start_date=_dates(origin, dx_day),
        condition_type_concept_id=registry,
        condition_source_value="ALS",
    )
    obs = _observations(cohort, pid, concepts)
    tables["observation"] = _table(
        "observation",
        len(obs),
        observation_id=np.arange(1, len(obs) + 1),
        person_id=obs["patient_id"].map(pid).to_numpy(),
        observation_concept_id=obs["concept"].to_numpy(dtype=np.int64),
        observation_date=_dates(origin, obs["day"]),
        observation_type_concept_id=obs["type_id"].to_numpy(dtype=np.int64),
        value_as_number=obs["value"].to_numpy(dtype="float64"),
        observation_source_value=obs["source"].to_numpy(),
        unit_source_value="points",
    )
    m = _measurements(cohort, pid)
    tables["measurement"] = _table(
        "measurement",
        len(m),
        measurement_id=np.arange(1, len(m) + 1),
        person_id=m["patient_id"].map(pid).to_numpy(),
        measurement_concept_id=0,
        measurement_date=_dates(origin, m["day"]),
        measurement_type_concept_id=registry,
        value_as_number=m["value"].to_numpy(),
        measurement_source_value=m["source"].to_numpy(),
        unit_source_value=m["unit"].to_numpy(),
    )
    e = cohort.events
    d = e.loc[(e["event"] == "death").fillna(False) & e["patient_id"].isin(pid.index)]
    d = d.assign(person_id=d["patient_id"].map(pid)).sort_values("person_id")
    tables["death"] = _table(
        "death",
        len(d),
        person_id=d["person_id"].to_numpy(),
        death_date=_dates(origin, d["day"]),
        death_type_concept_id=registry,
    )
    days = pd.concat(
        [
            pd.DataFrame({"person_id": p["person_id"], "day": dx_day}),
            pd.DataFrame({"person_id": obs["patient_id"].map(pid), "day": obs["day"]}),
            pd.DataFrame({"person_id": m["patient_id"].map(pid), "day": m["day"]}),
            pd.DataFrame({"person_id": d["person_id"], "day": d["day"]}),
        ],
        ignore_index=True,
    ).astype("float64")
    span = days.groupby("person_id")["day"].agg(["min", "max"]).reindex(p["person_id"])
    tables["observation_period"] = _table(
        "observation_period",
        n,
        observation_period_id=np.arange(1, n + 1),
        person_id=p["person_id"],
        observation_period_start_date=_dates(origin, span["min"]),
        observation_period_end_date=_dates(origin, span["max"]),
        period_type_concept_id=registry,
    )
    order = (
        "person",
        "observation_period",
        "condition_occurrence",
        "observation",
        "measurement",
        "death",
    )
    return [_write(tables[t], out / f"{t}.csv") for t in order]
