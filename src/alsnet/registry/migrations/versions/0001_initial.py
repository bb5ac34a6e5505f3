"""Initial registry schema: the nine canonical tables and the imports audit log.

Hand-reviewed autogenerate output. Vocabularies and ranges are frozen here as
literals (a migration is a snapshot); later schema changes get new revisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-26 06:03:10.733552
"""

# ruff: noqa: E501  (CHECK constraints are kept as single literals, one per line)

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("n_patients", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("replaced", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    op.create_table(
        "sites",
        sa.Column("site_id", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=True),
        sa.Column("country", sa.String(), nullable=True),
        sa.Column("jurisdiction", sa.String(), nullable=True),
        sa.Column("placeholder", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(
            "jurisdiction IN ('eu_gdpr', 'uk_gdpr', 'us_hipaa', 'other')",
            name="ck_sites_jurisdiction",
        ),
        sa.CheckConstraint("role IN ('hub', 'spoke')", name="ck_sites_role"),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_sites")),
    )
    op.create_table(
        "patients",
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("site_id", sa.String(), nullable=False),
        sa.Column("sex", sa.String(), nullable=True),
        sa.Column("age_onset", sa.Double(), nullable=True),
        sa.Column("onset_region", sa.String(), nullable=True),
        sa.Column("diagnosis_day", sa.Integer(), nullable=True),
        sa.Column("el_escorial", sa.String(), nullable=True),
        sa.Column("criteria_version", sa.String(), nullable=True),
        sa.Column("ftd", sa.SmallInteger(), nullable=True),
        sa.Column("family_history", sa.SmallInteger(), nullable=True),
        sa.Column("c9orf72", sa.SmallInteger(), nullable=True),
        sa.Column("sod1", sa.SmallInteger(), nullable=True),
        sa.Column("fus", sa.SmallInteger(), nullable=True),
        sa.Column("tardbp", sa.SmallInteger(), nullable=True),
        sa.Column("ancestry", sa.String(), nullable=True),
        sa.Column("genetic_ancestry", sa.String(), nullable=True),
        sa.Column("anchor", sa.String(), nullable=True),
        sa.CheckConstraint(
            "ancestry IN ('EUR', 'AFR', 'EAS', 'SAS', 'AMR', 'MID', 'OCE', 'mixed', 'unknown')",
            name="ck_patients_ancestry",
        ),
        sa.CheckConstraint(
            "anchor IN ('onset', 'diagnosis', 'enrolment')", name="ck_patients_anchor"
        ),
        sa.CheckConstraint(
            "criteria_version IN ('revised_el_escorial', 'awaji', 'gold_coast')",
            name="ck_patients_criteria_version",
        ),
        sa.CheckConstraint(
            "el_escorial IN ('definite', 'probable', 'probable_lab', 'possible', 'suspected', 'unknown')",
            name="ck_patients_el_escorial",
        ),
        sa.CheckConstraint(
            "genetic_ancestry IN ('EUR', 'AFR', 'EAS', 'SAS', 'AMR', 'MID', 'OCE', 'mixed', 'unknown')",
            name="ck_patients_genetic_ancestry",
        ),
        sa.CheckConstraint(
            "onset_region IN ('bulbar', 'upper_limb', 'lower_limb', 'respiratory', 'trunk', 'generalised', 'ftd', 'limb', 'bulbar_limb')",
            name="ck_patients_onset_region",
        ),
        sa.CheckConstraint("sex IN ('F', 'M')", name="ck_patients_sex"),
        sa.CheckConstraint("age_onset BETWEEN 10 AND 100", name="ck_patients_age_onset"),
        sa.CheckConstraint("c9orf72 IN (0, 1)", name="ck_patients_c9orf72"),
        sa.CheckConstraint(
            "diagnosis_day BETWEEN -3650 AND 36500", name="ck_patients_diagnosis_day"
        ),
        sa.CheckConstraint("family_history IN (0, 1)", name="ck_patients_family_history"),
        sa.CheckConstraint("ftd IN (0, 1)", name="ck_patients_ftd"),
        sa.CheckConstraint("fus IN (0, 1)", name="ck_patients_fus"),
        sa.CheckConstraint("sod1 IN (0, 1)", name="ck_patients_sod1"),
        sa.CheckConstraint("tardbp IN (0, 1)", name="ck_patients_tardbp"),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.site_id"], name=op.f("fk_patients_site_id_sites")
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patients")),
    )
    op.create_index(op.f("ix_patients_site_id"), "patients", ["site_id"], unique=False)
    op.create_table(
        "biomarkers",
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("analyte", sa.String(), nullable=False),
        sa.Column("matrix", sa.String(), nullable=False),
        sa.Column("assay", sa.String(), nullable=True),
        sa.Column("value_pg_ml", sa.Double(), nullable=False),
        sa.CheckConstraint("analyte IN ('nfl', 'pnfh')", name="ck_biomarkers_analyte"),
        sa.CheckConstraint("matrix IN ('serum', 'plasma', 'csf')", name="ck_biomarkers_matrix"),
        sa.CheckConstraint("day BETWEEN -36500 AND 36500", name="ck_biomarkers_day"),
        sa.CheckConstraint("value_pg_ml BETWEEN 0 AND 1000000", name="ck_biomarkers_value_pg_ml"),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.patient_id"],
            name=op.f("fk_biomarkers_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "patient_id", "day", "analyte", "matrix", name=op.f("pk_biomarkers")
        ),
    )
    op.create_table(
        "biosamples",
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("sample_id", sa.String(), nullable=False),
        sa.Column("sample_type", sa.String(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("biobank", sa.String(), nullable=True),
        sa.Column("consent_scope", sa.String(), nullable=True),
        sa.CheckConstraint(
            "consent_scope IN ('registry', 'biobank', 'genetics', 'data_sharing', 'commercial', 'recontact')",
            name="ck_biosamples_consent_scope",
        ),
        sa.CheckConstraint(
            "sample_type IN ('serum', 'plasma', 'csf', 'whole_blood', 'dna', 'rna', 'pbmc', 'tissue', 'ipsc')",
            name="ck_biosamples_sample_type",
        ),
        sa.CheckConstraint("day BETWEEN -36500 AND 36500", name="ck_biosamples_day"),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.patient_id"],
            name=op.f("fk_biosamples_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("sample_id", name=op.f("pk_biosamples")),
    )
    op.create_index(op.f("ix_biosamples_patient_id"), "biosamples", ["patient_id"], unique=False)
    op.create_table(
        "consents",
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("granted", sa.SmallInteger(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "scope IN ('registry', 'biobank', 'genetics', 'data_sharing', 'commercial', 'recontact')",
            name="ck_consents_scope",
        ),
        sa.CheckConstraint("day BETWEEN -36500 AND 36500", name="ck_consents_day"),
        sa.CheckConstraint("granted IN (0, 1)", name="ck_consents_granted"),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.patient_id"],
            name=op.f("fk_consents_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patient_id", "scope", "day", name=op.f("pk_consents")),
    )
    op.create_table(
        "events",
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "event IN ('gastrostomy', 'niv', 'pav', 'tracheostomy', 'death', 'lost_to_follow_up')",
            name="ck_events_event",
        ),
        sa.CheckConstraint("day BETWEEN -36500 AND 36500", name="ck_events_day"),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.patient_id"],
            name=op.f("fk_events_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patient_id", "event", name=op.f("pk_events")),
    )
    op.create_table(
        "genetics",
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("gene", sa.String(), nullable=False),
        sa.Column("variant", sa.String(), nullable=False),
        sa.Column("pathogenicity", sa.String(), nullable=False),
        sa.CheckConstraint(
            "gene IN ('C9orf72', 'SOD1', 'FUS', 'TARDBP', 'TBK1', 'NEK1', 'ATXN2', 'OPTN', 'VCP', 'other')",
            name="ck_genetics_gene",
        ),
        sa.CheckConstraint(
            "pathogenicity IN ('pathogenic', 'likely_pathogenic', 'vus', 'likely_benign', 'benign')",
            name="ck_genetics_pathogenicity",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.patient_id"],
            name=op.f("fk_genetics_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patient_id", "gene", "variant", name=op.f("pk_genetics")),
    )
    op.create_table(
        "treatments",
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("treatment", sa.String(), nullable=False),
        sa.Column("start_day", sa.Integer(), nullable=False),
        sa.Column("stop_day", sa.Integer(), nullable=True),
        sa.Column("trial_id", sa.String(), nullable=True),
        sa.Column("arm", sa.String(), nullable=True),
        sa.CheckConstraint(
            "treatment IN ('riluzole', 'edaravone', 'tofersen', 'trial', 'other')",
            name="ck_treatments_treatment",
        ),
        sa.CheckConstraint("start_day BETWEEN -36500 AND 36500", name="ck_treatments_start_day"),
        sa.CheckConstraint("stop_day BETWEEN -36500 AND 36500", name="ck_treatments_stop_day"),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.patient_id"],
            name=op.f("fk_treatments_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patient_id", "treatment", "start_day", name=op.f("pk_treatments")),
    )
    op.create_table(
        "visits",
        sa.Column("patient_id", sa.String(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(), nullable=True),
        sa.Column("q1", sa.Double(), nullable=True),
        sa.Column("q2", sa.Double(), nullable=True),
        sa.Column("q3", sa.Double(), nullable=True),
        sa.Column("q4", sa.Double(), nullable=True),
        sa.Column("q5a", sa.Double(), nullable=True),
        sa.Column("q5b", sa.Double(), nullable=True),
        sa.Column("q6", sa.Double(), nullable=True),
        sa.Column("q7", sa.Double(), nullable=True),
        sa.Column("q8", sa.Double(), nullable=True),
        sa.Column("q9", sa.Double(), nullable=True),
        sa.Column("q10", sa.Double(), nullable=True),
        sa.Column("q11", sa.Double(), nullable=True),
        sa.Column("q12", sa.Double(), nullable=True),
        sa.Column("q10_alsfrs", sa.Double(), nullable=True),
        sa.Column("total_reported", sa.Double(), nullable=True),
        sa.Column("respondent", sa.String(), nullable=True),
        sa.Column("mode", sa.String(), nullable=True),
        sa.Column("fvc_l", sa.Double(), nullable=True),
        sa.Column("fvc_pct", sa.Double(), nullable=True),
        sa.Column("svc_l", sa.Double(), nullable=True),
        sa.Column("svc_pct", sa.Double(), nullable=True),
        sa.Column("weight_kg", sa.Double(), nullable=True),
        sa.Column("bmi", sa.Double(), nullable=True),
        sa.Column("nfl_serum_pg_ml", sa.Double(), nullable=True),
        sa.CheckConstraint("instrument IN ('alsfrs_r', 'alsfrs')", name="ck_visits_instrument"),
        sa.CheckConstraint(
            "mode IN ('in_person', 'phone', 'video', 'self_online')", name="ck_visits_mode"
        ),
        sa.CheckConstraint(
            "respondent IN ('patient', 'caregiver', 'clinician')", name="ck_visits_respondent"
        ),
        sa.CheckConstraint("bmi BETWEEN 8 AND 80", name="ck_visits_bmi"),
        sa.CheckConstraint("day BETWEEN -36500 AND 36500", name="ck_visits_day"),
        sa.CheckConstraint("fvc_l BETWEEN 0 AND 10", name="ck_visits_fvc_l"),
        sa.CheckConstraint("fvc_pct BETWEEN 0 AND 200", name="ck_visits_fvc_pct"),
        sa.CheckConstraint(
            "nfl_serum_pg_ml BETWEEN 0 AND 100000", name="ck_visits_nfl_serum_pg_ml"
        ),
        sa.CheckConstraint("q1 BETWEEN 0 AND 4", name="ck_visits_q1"),
        sa.CheckConstraint("q10 BETWEEN 0 AND 4", name="ck_visits_q10"),
        sa.CheckConstraint("q10_alsfrs BETWEEN 0 AND 4", name="ck_visits_q10_alsfrs"),
        sa.CheckConstraint("q11 BETWEEN 0 AND 4", name="ck_visits_q11"),
        sa.CheckConstraint("q12 BETWEEN 0 AND 4", name="ck_visits_q12"),
        sa.CheckConstraint("q2 BETWEEN 0 AND 4", name="ck_visits_q2"),
        sa.CheckConstraint("q3 BETWEEN 0 AND 4", name="ck_visits_q3"),
        sa.CheckConstraint("q4 BETWEEN 0 AND 4", name="ck_visits_q4"),
        sa.CheckConstraint("q5a BETWEEN 0 AND 4", name="ck_visits_q5a"),
        sa.CheckConstraint("q5b BETWEEN 0 AND 4", name="ck_visits_q5b"),
        sa.CheckConstraint("q6 BETWEEN 0 AND 4", name="ck_visits_q6"),
        sa.CheckConstraint("q7 BETWEEN 0 AND 4", name="ck_visits_q7"),
        sa.CheckConstraint("q8 BETWEEN 0 AND 4", name="ck_visits_q8"),
        sa.CheckConstraint("q9 BETWEEN 0 AND 4", name="ck_visits_q9"),
        sa.CheckConstraint("svc_l BETWEEN 0 AND 10", name="ck_visits_svc_l"),
        sa.CheckConstraint("svc_pct BETWEEN 0 AND 200", name="ck_visits_svc_pct"),
        sa.CheckConstraint("total_reported BETWEEN 0 AND 48", name="ck_visits_total_reported"),
        sa.CheckConstraint("weight_kg BETWEEN 20 AND 300", name="ck_visits_weight_kg"),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.patient_id"],
            name=op.f("fk_visits_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("patient_id", "day", name=op.f("pk_visits")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("visits")
    op.drop_table("treatments")
    op.drop_table("genetics")
    op.drop_table("events")
    op.drop_table("consents")
    op.drop_index(op.f("ix_biosamples_patient_id"), table_name="biosamples")
    op.drop_table("biosamples")
    op.drop_table("biomarkers")
    op.drop_index(op.f("ix_patients_site_id"), table_name="patients")
    op.drop_table("patients")
    op.drop_table("sites")
    op.drop_table("imports")
