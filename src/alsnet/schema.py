"""The canonical alsnet data model: tables, columns, units and vocabularies.

This module is the single source of truth for column names. The canonical CSV
layout (``alsnet export csv``), the registry's SQL tables and the validation
rules of :class:`alsnet.cohort.Cohort` are all generated from :data:`TABLES`.

Time is always an integer number of **days since the patient's anchor**
(symptom onset where known; see ``patients.anchor``). Calendar dates never
appear in research tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ALSFRS_ITEMS",
    "ALSFRS_R_ITEMS",
    "DOMAINS",
    "EVENTS",
    "IDENTIFIER_COLUMNS",
    "ONSET_REGIONS",
    "SCHEMA_VERSION",
    "TABLES",
    "ColumnSpec",
    "TableSpec",
]

SCHEMA_VERSION = "1.0"

Kind = Literal["str", "int", "float", "cat", "flag"]

#: ALSFRS-R items in canonical order (q5a and q5b are alternatives).
ALSFRS_R_ITEMS: tuple[str, ...] = (
    "q1",
    "q2",
    "q3",
    "q4",
    "q5a",
    "q5b",
    *(f"q{i}" for i in range(6, 13)),
)
#: Items of the original ALSFRS (0-40): items 1-9 shared, one respiratory item.
ALSFRS_ITEMS: tuple[str, ...] = (*ALSFRS_R_ITEMS[:10], "q10_alsfrs")
#: ALSFRS-R domains; ``q5`` stands for whichever of q5a/q5b was answered.
DOMAINS: dict[str, tuple[str, ...]] = {
    "bulbar": ("q1", "q2", "q3"),
    "fine_motor": ("q4", "q5", "q6"),
    "gross_motor": ("q7", "q8", "q9"),
    "respiratory": ("q10", "q11", "q12"),
}

ONSET_REGIONS = (
    "bulbar",
    "upper_limb",
    "lower_limb",
    "respiratory",
    "trunk",
    "generalised",
    "ftd",
    "limb",
    "bulbar_limb",
)
"""Onset regions. ``limb`` (side not recorded) and ``bulbar_limb`` (both at once) exist
because PRO-ACT records onset only as Bulbar / Limb / Limb and Bulbar."""
EL_ESCORIAL = ("definite", "probable", "probable_lab", "possible", "suspected", "unknown")
CRITERIA_VERSIONS = ("revised_el_escorial", "awaji", "gold_coast")
EVENTS = ("gastrostomy", "niv", "pav", "tracheostomy", "death", "lost_to_follow_up")
GENES = ("C9orf72", "SOD1", "FUS", "TARDBP", "TBK1", "NEK1", "ATXN2", "OPTN", "VCP", "other")
PATHOGENICITY = ("pathogenic", "likely_pathogenic", "vus", "likely_benign", "benign")
ANCESTRIES = ("EUR", "AFR", "EAS", "SAS", "AMR", "MID", "OCE", "mixed", "unknown")
TREATMENTS = ("riluzole", "edaravone", "tofersen", "trial", "other")
SAMPLE_TYPES = ("serum", "plasma", "csf", "whole_blood", "dna", "rna", "pbmc", "tissue", "ipsc")
CONSENT_SCOPES = ("registry", "biobank", "genetics", "data_sharing", "commercial", "recontact")
MATRICES = ("serum", "plasma", "csf")
ANALYTES = ("nfl", "pnfh")

#: Column names that carry direct identifiers: refused at import.
IDENTIFIER_COLUMNS: frozenset[str] = frozenset(
    {
        "name",
        "first_name",
        "firstname",
        "given_name",
        "last_name",
        "lastname",
        "surname",
        "family_name",
        "full_name",
        "patient_name",
        "address",
        "street",
        "street_address",
        "postcode",
        "postal_code",
        "zip",
        "zip_code",
        "phone",
        "phone_number",
        "telephone",
        "mobile",
        "email",
        "e_mail",
        "email_address",
        "nhs_number",
        "ssn",
        "social_security_number",
        "national_id",
        "bsn",
        "personnummer",
        "insurance_number",
        "mrn",
        "medical_record_number",
        "hospital_number",
        "date_of_birth",
        "dob",
        "birth_date",
        "birthdate",
        "ip_address",
    }
)


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One canonical column.

    Parameters
    ----------
    name : str
        Column name (snake_case; units in the name where they apply).
    kind : {"str", "int", "float", "cat", "flag"}
        ``flag`` is a nullable 0/1 indicator; ``cat`` takes values from ``vocab``.
    required : bool
        Whether the column must be present in the input.
    nullable : bool
        Whether empty cells are allowed.
    vocab : tuple of str
        Allowed values for ``cat`` columns.
    lo, hi : float or None
        Inclusive bounds for numeric columns.
    step : float or None
        Values must be multiples of ``step`` (e.g. 0.5 for ALSFRS-R items).
    unit : str
        Unit, documented in the canonical layout.
    doc : str
        One-line description.
    """

    name: str
    kind: Kind
    required: bool = False
    nullable: bool = True
    vocab: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    unit: str = ""
    doc: str = ""


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One canonical table: its columns and primary key."""

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    doc: str = ""
    per_patient: bool = True
    required: bool = False
    _by_name: dict[str, ColumnSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in canonical order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSpec:
        """Return the spec of column ``name`` (KeyError if unknown)."""
        return self._by_name[name]


def _item(name: str, doc: str) -> ColumnSpec:
    return ColumnSpec(name, "float", lo=0, hi=4, step=0.5, unit="points", doc=doc)


_PID = ColumnSpec("patient_id", "str", required=True, nullable=False, doc="pseudonymous patient id")
_DAY = ColumnSpec(
    "day",
    "int",
    required=True,
    nullable=False,
    lo=-36500,
    hi=36500,
    unit="days since anchor",
    doc="days since the patient's anchor (symptom onset)",
)

SITES = TableSpec(
    "sites",
    (
        ColumnSpec("site_id", "str", required=True, nullable=False, doc="site code"),
        ColumnSpec("role", "cat", vocab=("hub", "spoke"), doc="hub or spoke of the network"),
        ColumnSpec("country", "str", doc="ISO 3166-1 alpha-2 country code"),
        ColumnSpec(
            "jurisdiction",
            "cat",
            vocab=("eu_gdpr", "uk_gdpr", "us_hipaa", "other"),
            doc="privacy regime that governs the site's data",
        ),
    ),
    key=("site_id",),
    doc="Sites of the network.",
    per_patient=False,
)

PATIENTS = TableSpec(
    "patients",
    (
        _PID,
        ColumnSpec(
            "site_id", "str", required=True, nullable=False, doc="site that holds the patient"
        ),
        ColumnSpec("sex", "cat", required=True, vocab=("F", "M"), doc="sex recorded at birth"),
        ColumnSpec(
            "age_onset",
            "float",
            required=True,
            lo=10,
            hi=100,
            unit="years",
            doc="age at symptom onset",
        ),
        ColumnSpec(
            "onset_region",
            "cat",
            required=True,
            vocab=ONSET_REGIONS,
            doc="region of first symptoms",
        ),
        ColumnSpec(
            "diagnosis_day",
            "int",
            required=True,
            lo=-3650,
            hi=36500,
            unit="days",
            doc="day of diagnosis (days since onset = diagnostic delay)",
        ),
        ColumnSpec(
            "el_escorial",
            "cat",
            required=True,
            vocab=EL_ESCORIAL,
            doc="diagnostic category at diagnosis",
        ),
        ColumnSpec(
            "criteria_version",
            "cat",
            vocab=CRITERIA_VERSIONS,
            doc="criteria used for the diagnostic category",
        ),
        ColumnSpec("ftd", "flag", required=True, doc="frontotemporal dementia (0/1)"),
        ColumnSpec("family_history", "flag", doc="first- or second-degree relative with ALS/FTD"),
        ColumnSpec(
            "c9orf72", "flag", required=True, doc="C9orf72 repeat expansion (0/1, empty = untested)"
        ),
        ColumnSpec(
            "sod1", "flag", required=True, doc="pathogenic SOD1 variant (0/1, empty = untested)"
        ),
        ColumnSpec("fus", "flag", doc="pathogenic FUS variant (0/1, empty = untested)"),
        ColumnSpec("tardbp", "flag", doc="pathogenic TARDBP variant (0/1, empty = untested)"),
        ColumnSpec(
            "ancestry",
            "cat",
            required=True,
            vocab=ANCESTRIES,
            doc="self-reported ancestry (continental group)",
        ),
        ColumnSpec(
            "genetic_ancestry", "cat", vocab=ANCESTRIES, doc="genetically inferred ancestry"
        ),
        ColumnSpec(
            "anchor",
            "cat",
            vocab=("onset", "diagnosis", "enrolment"),
            doc="what day 0 means for this patient (default onset)",
        ),
    ),
    key=("patient_id",),
    doc="One row per patient.",
    required=True,
)

_VISIT_ITEMS = (
    _item("q1", "speech"),
    _item("q2", "salivation"),
    _item("q3", "swallowing"),
    _item("q4", "handwriting"),
    _item("q5a", "cutting food without gastrostomy"),
    _item("q5b", "cutting food / handling utensils with gastrostomy"),
    _item("q6", "dressing and hygiene"),
    _item("q7", "turning in bed"),
    _item("q8", "walking"),
    _item("q9", "climbing stairs"),
    _item("q10", "dyspnoea (ALSFRS-R R-1)"),
    _item("q11", "orthopnoea (ALSFRS-R R-2)"),
    _item("q12", "respiratory insufficiency (ALSFRS-R R-3)"),
    _item("q10_alsfrs", "respiratory item of the original ALSFRS (0-40 scale)"),
)

VISITS = TableSpec(
    "visits",
    (
        _PID,
        _DAY,
        ColumnSpec(
            "instrument",
            "cat",
            required=True,
            vocab=("alsfrs_r", "alsfrs"),
            doc="alsfrs_r (0-48) or the original alsfrs (0-40); empty when no ALSFRS was taken",
        ),
        *_VISIT_ITEMS,
        ColumnSpec(
            "total_reported",
            "float",
            lo=0,
            hi=48,
            unit="points",
            doc="total as recorded at source; checked against the items",
        ),
        ColumnSpec(
            "respondent",
            "cat",
            vocab=("patient", "caregiver", "clinician"),
            doc="who answered the ALSFRS-R",
        ),
        ColumnSpec(
            "mode",
            "cat",
            vocab=("in_person", "phone", "video", "self_online"),
            doc="mode of administration",
        ),
        ColumnSpec(
            "fvc_l", "float", lo=0, hi=10, unit="L", doc="forced vital capacity (best trial)"
        ),
        ColumnSpec("fvc_pct", "float", lo=0, hi=200, unit="% predicted", doc="FVC % predicted"),
        ColumnSpec("svc_l", "float", lo=0, hi=10, unit="L", doc="slow vital capacity (best trial)"),
        ColumnSpec("svc_pct", "float", lo=0, hi=200, unit="% predicted", doc="SVC % predicted"),
        ColumnSpec("weight_kg", "float", lo=20, hi=300, unit="kg", doc="body weight"),
        ColumnSpec("bmi", "float", lo=8, hi=80, unit="kg/m2", doc="body-mass index"),
        ColumnSpec(
            "nfl_serum_pg_ml",
            "float",
            lo=0,
            hi=100000,
            unit="pg/mL",
            doc="serum neurofilament light chain",
        ),
    ),
    key=("patient_id", "day"),
    doc="One row per patient and visit day.",
    required=True,
)

BIOMARKERS = TableSpec(
    "biomarkers",
    (
        _PID,
        _DAY,
        ColumnSpec(
            "analyte", "cat", required=True, nullable=False, vocab=ANALYTES, doc="nfl or pnfh"
        ),
        ColumnSpec(
            "matrix", "cat", required=True, nullable=False, vocab=MATRICES, doc="sample matrix"
        ),
        ColumnSpec("assay", "str", doc="assay platform (e.g. simoa, ella, elisa)"),
        ColumnSpec(
            "value_pg_ml",
            "float",
            required=True,
            nullable=False,
            lo=0,
            hi=1e6,
            unit="pg/mL",
            doc="concentration",
        ),
    ),
    key=("patient_id", "day", "analyte", "matrix"),
    doc="Fluid biomarker measurements beyond serum NfL at visits.",
)

EVENTS_T = TableSpec(
    "events",
    (
        _PID,
        ColumnSpec("event", "cat", required=True, nullable=False, vocab=EVENTS, doc="event type"),
        _DAY,
    ),
    key=("patient_id", "event"),
    doc="First occurrence of each clinical milestone.",
    required=True,
)

GENETICS = TableSpec(
    "genetics",
    (
        _PID,
        ColumnSpec("gene", "cat", required=True, nullable=False, vocab=GENES, doc="gene symbol"),
        ColumnSpec(
            "variant",
            "str",
            required=True,
            nullable=False,
            doc="HGVS protein/cDNA notation or 'repeat_expansion'",
        ),
        ColumnSpec(
            "pathogenicity",
            "cat",
            required=True,
            nullable=False,
            vocab=PATHOGENICITY,
            doc="ACMG class",
        ),
    ),
    key=("patient_id", "gene", "variant"),
    doc="Genetic findings per gene.",
)

TREATMENTS_T = TableSpec(
    "treatments",
    (
        _PID,
        ColumnSpec(
            "treatment",
            "cat",
            required=True,
            nullable=False,
            vocab=TREATMENTS,
            doc="drug or trial participation",
        ),
        ColumnSpec(
            "start_day", "int", required=True, nullable=False, lo=-36500, hi=36500, unit="days"
        ),
        ColumnSpec("stop_day", "int", lo=-36500, hi=36500, unit="days", doc="empty = ongoing"),
        ColumnSpec("trial_id", "str", doc="trial identifier for treatment = trial"),
        ColumnSpec("arm", "str", doc="trial arm (e.g. placebo, active, regimen name)"),
    ),
    key=("patient_id", "treatment", "start_day"),
    doc="Treatments and trial participation.",
)

BIOSAMPLES = TableSpec(
    "biosamples",
    (
        _PID,
        ColumnSpec("sample_id", "str", required=True, nullable=False, doc="pseudonymous sample id"),
        ColumnSpec("sample_type", "cat", required=True, nullable=False, vocab=SAMPLE_TYPES),
        _DAY,
        ColumnSpec("biobank", "str", doc="biobank holding the sample"),
        ColumnSpec(
            "consent_scope", "cat", vocab=CONSENT_SCOPES, doc="consent the sample falls under"
        ),
    ),
    key=("sample_id",),
    doc="Biobank samples.",
)

CONSENTS = TableSpec(
    "consents",
    (
        _PID,
        ColumnSpec("scope", "cat", required=True, nullable=False, vocab=CONSENT_SCOPES),
        ColumnSpec(
            "granted",
            "flag",
            required=True,
            nullable=False,
            doc="1 = granted, 0 = refused/withdrawn",
        ),
        _DAY,
    ),
    key=("patient_id", "scope", "day"),
    doc="Consent decisions over time.",
)

#: All canonical tables in load order (parents first).
TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        SITES,
        PATIENTS,
        VISITS,
        BIOMARKERS,
        EVENTS_T,
        GENETICS,
        TREATMENTS_T,
        BIOSAMPLES,
        CONSENTS,
    )
}
