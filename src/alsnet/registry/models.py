"""SQLAlchemy ORM models of the registry: one class per canonical table.

The models mirror :data:`alsnet.schema.TABLES` column by column (same names,
order, nullability and primary keys); ``tests/registry/test_models.py`` keeps
the two from drifting apart. Column kinds map to SQL types as follows:

========  =====================  ==========================================
kind      SQL type               constraint
========  =====================  ==========================================
``str``   ``VARCHAR``            --
``cat``   ``VARCHAR``            ``CHECK (col IN (<vocabulary>))``
``int``   ``INTEGER``            ``CHECK (col BETWEEN lo AND hi)`` if bounded
``flag``  ``SMALLINT``           ``CHECK (col IN (0, 1))``
``float`` ``DOUBLE PRECISION``   ``CHECK (col BETWEEN lo AND hi)`` if bounded
========  =====================  ==========================================

Every per-patient table references ``patients.patient_id`` with ``ON DELETE
CASCADE`` and is indexed on ``patient_id`` (by its primary key when
``patient_id`` leads the key, else by an explicit index). ``patients.site_id``
references ``sites.site_id``; because a cohort may carry no ``sites`` rows, the
store creates *placeholder* site rows (``placeholder = true``, all other
columns empty) for unknown site ids at save time. Placeholders are the one
store-only column (see :data:`STORE_ONLY_COLUMNS`); they are replaced by the
real row as soon as a cohort brings one, and never returned as data unless
needed to keep a loaded cohort's site references whole.

The ``imports`` table is the audit log of :meth:`alsnet.registry.Store.save`;
the schema revision lives in Alembic's own ``alembic_version`` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from alsnet.schema import (
    ANALYTES,
    ANCESTRIES,
    CONSENT_SCOPES,
    CRITERIA_VERSIONS,
    EL_ESCORIAL,
    EVENTS,
    GENES,
    MATRICES,
    ONSET_REGIONS,
    PATHOGENICITY,
    SAMPLE_TYPES,
    TREATMENTS,
)

__all__ = [
    "CANONICAL_TABLES",
    "NAMING_CONVENTION",
    "STORE_ONLY_COLUMNS",
    "Base",
    "Biomarker",
    "Biosample",
    "Consent",
    "Event",
    "GeneticFinding",
    "ImportRecord",
    "Patient",
    "Site",
    "Treatment",
    "Visit",
    "table",
]

#: Constraint and index names, identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Columns that exist only in the store, never in a :class:`~alsnet.cohort.Cohort`.
STORE_ONLY_COLUMNS: dict[str, tuple[str, ...]] = {"sites": ("placeholder",)}

_PATIENT_FK = "patients.patient_id"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _in(table_name: str, column: str, vocab: Sequence[str]) -> CheckConstraint:
    """``CHECK (column IN (...))`` named ``ck_<table>_<column>``."""
    values = ", ".join(f"'{v}'" for v in vocab)
    return CheckConstraint(f"{column} IN ({values})", name=f"ck_{table_name}_{column}")


def _flag(table_name: str, column: str) -> CheckConstraint:
    """``CHECK (column IN (0, 1))`` for a 0/1 indicator."""
    return CheckConstraint(f"{column} IN (0, 1)", name=f"ck_{table_name}_{column}")


def _between(table_name: str, column: str, lo: float, hi: float) -> CheckConstraint:
    """``CHECK (column BETWEEN lo AND hi)`` (inclusive bounds)."""
    return CheckConstraint(
        f"{column} BETWEEN {_num(lo)} AND {_num(hi)}", name=f"ck_{table_name}_{column}"
    )


def _items(table_name: str, columns: Sequence[str]) -> tuple[CheckConstraint, ...]:
    return tuple(_between(table_name, c, 0, 4) for c in columns)


class Base(DeclarativeBase):
    """Declarative base carrying the shared :data:`NAMING_CONVENTION`."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Site(Base):
    """Sites of the network (``sites``)."""

    __tablename__ = "sites"
    __table_args__ = (
        _in("sites", "role", ("hub", "spoke")),
        _in("sites", "jurisdiction", ("eu_gdpr", "uk_gdpr", "us_hipaa", "other")),
    )

    site_id: Mapped[str] = mapped_column(String, primary_key=True)
    role: Mapped[str | None] = mapped_column(String)
    country: Mapped[str | None] = mapped_column(String)
    jurisdiction: Mapped[str | None] = mapped_column(String)
    placeholder: Mapped[bool] = mapped_column(
        Boolean(create_constraint=False), nullable=False, default=False, server_default=false()
    )


class Patient(Base):
    """One row per patient (``patients``); ages in years, days since onset."""

    __tablename__ = "patients"
    __table_args__ = (
        _in("patients", "sex", ("F", "M")),
        _between("patients", "age_onset", 10, 100),
        _in("patients", "onset_region", ONSET_REGIONS),
        _between("patients", "diagnosis_day", -3650, 36500),
        _in("patients", "el_escorial", EL_ESCORIAL),
        _in("patients", "criteria_version", CRITERIA_VERSIONS),
        _flag("patients", "ftd"),
        _flag("patients", "family_history"),
        _flag("patients", "c9orf72"),
        _flag("patients", "sod1"),
        _flag("patients", "fus"),
        _flag("patients", "tardbp"),
        _in("patients", "ancestry", ANCESTRIES),
        _in("patients", "genetic_ancestry", ANCESTRIES),
        _in("patients", "anchor", ("onset", "diagnosis", "enrolment")),
        Index(None, "site_id"),
    )

    patient_id: Mapped[str] = mapped_column(String, primary_key=True)
    site_id: Mapped[str] = mapped_column(String, ForeignKey("sites.site_id"), nullable=False)
    sex: Mapped[str | None] = mapped_column(String)
    age_onset: Mapped[float | None] = mapped_column(Double)
    onset_region: Mapped[str | None] = mapped_column(String)
    diagnosis_day: Mapped[int | None] = mapped_column(Integer)
    el_escorial: Mapped[str | None] = mapped_column(String)
    criteria_version: Mapped[str | None] = mapped_column(String)
    ftd: Mapped[int | None] = mapped_column(SmallInteger)
    family_history: Mapped[int | None] = mapped_column(SmallInteger)
    c9orf72: Mapped[int | None] = mapped_column(SmallInteger)
    sod1: Mapped[int | None] = mapped_column(SmallInteger)
    fus: Mapped[int | None] = mapped_column(SmallInteger)
    tardbp: Mapped[int | None] = mapped_column(SmallInteger)
    ancestry: Mapped[str | None] = mapped_column(String)
    genetic_ancestry: Mapped[str | None] = mapped_column(String)
    anchor: Mapped[str | None] = mapped_column(String)


_ITEMS = (
    "q1", "q2", "q3", "q4", "q5a", "q5b", "q6", "q7", "q8", "q9", "q10", "q11", "q12",
    "q10_alsfrs",
)  # fmt: skip


class Visit(Base):
    """One row per patient and visit day (``visits``): ALSFRS(-R), lung function, weight."""

    __tablename__ = "visits"
    __table_args__ = (
        _between("visits", "day", -36500, 36500),
        _in("visits", "instrument", ("alsfrs_r", "alsfrs")),
        *_items("visits", _ITEMS),
        _between("visits", "total_reported", 0, 48),
        _in("visits", "respondent", ("patient", "caregiver", "clinician")),
        _in("visits", "mode", ("in_person", "phone", "video", "self_online")),
        _between("visits", "fvc_l", 0, 10),
        _between("visits", "fvc_pct", 0, 200),
        _between("visits", "svc_l", 0, 10),
        _between("visits", "svc_pct", 0, 200),
        _between("visits", "weight_kg", 20, 300),
        _between("visits", "bmi", 8, 80),
        _between("visits", "nfl_serum_pg_ml", 0, 100000),
    )

    patient_id: Mapped[str] = mapped_column(
        String, ForeignKey(_PATIENT_FK, ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument: Mapped[str | None] = mapped_column(String)
    q1: Mapped[float | None] = mapped_column(Double)
    q2: Mapped[float | None] = mapped_column(Double)
    q3: Mapped[float | None] = mapped_column(Double)
    q4: Mapped[float | None] = mapped_column(Double)
    q5a: Mapped[float | None] = mapped_column(Double)
    q5b: Mapped[float | None] = mapped_column(Double)
    q6: Mapped[float | None] = mapped_column(Double)
    q7: Mapped[float | None] = mapped_column(Double)
    q8: Mapped[float | None] = mapped_column(Double)
    q9: Mapped[float | None] = mapped_column(Double)
    q10: Mapped[float | None] = mapped_column(Double)
    q11: Mapped[float | None] = mapped_column(Double)
    q12: Mapped[float | None] = mapped_column(Double)
    q10_alsfrs: Mapped[float | None] = mapped_column(Double)
    total_reported: Mapped[float | None] = mapped_column(Double)
    respondent: Mapped[str | None] = mapped_column(String)
    mode: Mapped[str | None] = mapped_column(String)
    fvc_l: Mapped[float | None] = mapped_column(Double)
    fvc_pct: Mapped[float | None] = mapped_column(Double)
    svc_l: Mapped[float | None] = mapped_column(Double)
    svc_pct: Mapped[float | None] = mapped_column(Double)
    weight_kg: Mapped[float | None] = mapped_column(Double)
    bmi: Mapped[float | None] = mapped_column(Double)
    nfl_serum_pg_ml: Mapped[float | None] = mapped_column(Double)


class Biomarker(Base):
    """Fluid biomarker measurements in pg/mL (``biomarkers``)."""

    __tablename__ = "biomarkers"
    __table_args__ = (
        _between("biomarkers", "day", -36500, 36500),
        _in("biomarkers", "analyte", ANALYTES),
        _in("biomarkers", "matrix", MATRICES),
        _between("biomarkers", "value_pg_ml", 0, 1e6),
    )

    patient_id: Mapped[str] = mapped_column(
        String, ForeignKey(_PATIENT_FK, ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    analyte: Mapped[str] = mapped_column(String, primary_key=True)
    matrix: Mapped[str] = mapped_column(String, primary_key=True)
    assay: Mapped[str | None] = mapped_column(String)
    value_pg_ml: Mapped[float] = mapped_column(Double, nullable=False)


class Event(Base):
    """First occurrence of each clinical milestone (``events``)."""

    __tablename__ = "events"
    __table_args__ = (
        _in("events", "event", EVENTS),
        _between("events", "day", -36500, 36500),
    )

    patient_id: Mapped[str] = mapped_column(
        String, ForeignKey(_PATIENT_FK, ondelete="CASCADE"), primary_key=True
    )
    event: Mapped[str] = mapped_column(String, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, nullable=False)


class GeneticFinding(Base):
    """Genetic findings per gene (``genetics``)."""

    __tablename__ = "genetics"
    __table_args__ = (
        _in("genetics", "gene", GENES),
        _in("genetics", "pathogenicity", PATHOGENICITY),
    )

    patient_id: Mapped[str] = mapped_column(
        String, ForeignKey(_PATIENT_FK, ondelete="CASCADE"), primary_key=True
    )
    gene: Mapped[str] = mapped_column(String, primary_key=True)
    variant: Mapped[str] = mapped_column(String, primary_key=True)
    pathogenicity: Mapped[str] = mapped_column(String, nullable=False)


class Treatment(Base):
    """Treatments and trial participation (``treatments``); days since onset."""

    __tablename__ = "treatments"
    __table_args__ = (
        _in("treatments", "treatment", TREATMENTS),
        _between("treatments", "start_day", -36500, 36500),
        _between("treatments", "stop_day", -36500, 36500),
    )

    patient_id: Mapped[str] = mapped_column(
        String, ForeignKey(_PATIENT_FK, ondelete="CASCADE"), primary_key=True
    )
    treatment: Mapped[str] = mapped_column(String, primary_key=True)
    start_day: Mapped[int] = mapped_column(Integer, primary_key=True)
    stop_day: Mapped[int | None] = mapped_column(Integer)
    trial_id: Mapped[str | None] = mapped_column(String)
    arm: Mapped[str | None] = mapped_column(String)


class Biosample(Base):
    """Biobank samples (``biosamples``), keyed by their own pseudonymous id."""

    __tablename__ = "biosamples"
    __table_args__ = (
        _in("biosamples", "sample_type", SAMPLE_TYPES),
        _between("biosamples", "day", -36500, 36500),
        _in("biosamples", "consent_scope", CONSENT_SCOPES),
        Index(None, "patient_id"),
    )

    patient_id: Mapped[str] = mapped_column(
        String, ForeignKey(_PATIENT_FK, ondelete="CASCADE"), nullable=False
    )
    sample_id: Mapped[str] = mapped_column(String, primary_key=True)
    sample_type: Mapped[str] = mapped_column(String, nullable=False)
    day: Mapped[int] = mapped_column(Integer, nullable=False)
    biobank: Mapped[str | None] = mapped_column(String)
    consent_scope: Mapped[str | None] = mapped_column(String)


class Consent(Base):
    """Consent decisions over time (``consents``)."""

    __tablename__ = "consents"
    __table_args__ = (
        _in("consents", "scope", CONSENT_SCOPES),
        _flag("consents", "granted"),
        _between("consents", "day", -36500, 36500),
    )

    patient_id: Mapped[str] = mapped_column(
        String, ForeignKey(_PATIENT_FK, ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(String, primary_key=True)
    granted: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)


class ImportRecord(Base):
    """Audit log: one row per successful :meth:`~alsnet.registry.Store.save` (``imports``).

    ``inserted``, ``unchanged`` and ``replaced`` count patients;
    ``started_utc`` is when the save began (UTC).
    """

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_utc: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    source: Mapped[str] = mapped_column(String, nullable=False)
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    n_patients: Mapped[int] = mapped_column(Integer, nullable=False)
    inserted: Mapped[int] = mapped_column(Integer, nullable=False)
    unchanged: Mapped[int] = mapped_column(Integer, nullable=False)
    replaced: Mapped[int] = mapped_column(Integer, nullable=False)


#: Canonical table name -> ORM class, in load order (parents first).
CANONICAL_TABLES: dict[str, type[Base]] = {
    "sites": Site,
    "patients": Patient,
    "visits": Visit,
    "biomarkers": Biomarker,
    "events": Event,
    "genetics": GeneticFinding,
    "treatments": Treatment,
    "biosamples": Biosample,
    "consents": Consent,
}


def table(name: str) -> Table:
    """Return the Core :class:`~sqlalchemy.Table` of registry table ``name``."""
    return Base.metadata.tables[name]
