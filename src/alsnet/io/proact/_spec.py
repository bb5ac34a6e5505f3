"""PRO-ACT source tables: which columns are read, their types and their aliases.

Column names are *normalised* before matching (:func:`norm`): lower case, every
run of non-alphanumeric characters becomes one underscore, leading/trailing
underscores are dropped. ``Subject_Liters__Trial_2_`` (SVC) and
``Subject_Liters_Trial_2`` (FVC) therefore both become ``subject_liters_trial_2``,
and header case does not matter. The same normalisation applies to the
``feature_name`` and ``form_name`` values of the DREAM long format.
"""

from __future__ import annotations

import re

from alsnet.schema import ColumnSpec, TableSpec

__all__ = [
    "DREAM_FORMS",
    "FEATURE_ALIASES",
    "ITEM_COLUMNS",
    "KNOWN_TABLES",
    "KNOWN_UNUSED",
    "RAW_SPECS",
    "R_COLUMNS",
    "TABLE_DELTA",
    "norm",
]

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def norm(name: object) -> str:
    """Normalise a header, table, form or feature name for matching.

    Parameters
    ----------
    name : object
        The name as found in the file.

    Returns
    -------
    str
        Lower case, non-alphanumeric runs replaced by one ``_``, stripped of ``_``.

    Examples
    --------
    >>> norm("Subject_Liters__Trial_2_")
    'subject_liters_trial_2'
    >>> norm(" Q5a_Cutting_without_Gastrostomy")
    'q5a_cutting_without_gastrostomy'
    """
    return _NON_ALNUM.sub("_", str(name).strip().lower()).strip("_")


def _item(name: str) -> ColumnSpec:
    return ColumnSpec(name, "float", lo=0, hi=4, step=0.5, unit="points")


def _delta(name: str, *, required: bool = True) -> ColumnSpec:
    return ColumnSpec(
        name,
        "int",
        required=required,
        nullable=not required,
        lo=-36500,
        hi=36500,
        unit="days since trial day 0",
    )


def _txt(name: str) -> ColumnSpec:
    return ColumnSpec(name, "str")


_SUBJECT = ColumnSpec("subject_id", "str", required=True, nullable=False)

#: ALSFRS item columns shared by both instruments (normalised PRO-ACT names -> canonical).
ITEM_COLUMNS: dict[str, str] = {
    "q1_speech": "q1",
    "q2_salivation": "q2",
    "q3_swallowing": "q3",
    "q4_handwriting": "q4",
    "q5a_cutting_without_gastrostomy": "q5a",
    "q5b_cutting_with_gastrostomy": "q5b",
    "q6_dressing_and_hygiene": "q6",
    "q7_turning_in_bed": "q7",
    "q8_walking": "q8",
    "q9_climbing_stairs": "q9",
}
#: ALSFRS-R respiratory items (normalised PRO-ACT names -> canonical).
R_COLUMNS: dict[str, str] = {
    "r_1_dyspnea": "q10",
    "r_2_orthopnea": "q11",
    "r_3_respiratory_insufficiency": "q12",
}

_TRIALS = ("1", "2", "3")

#: The columns read from each PRO-ACT table (everything else is ignored).
RAW_SPECS: dict[str, TableSpec] = {
    "ALSFRS": TableSpec(
        "ALSFRS",
        (
            _SUBJECT,
            *(_item(c) for c in ITEM_COLUMNS),
            _item("q10_respiratory"),
            *(_item(c) for c in R_COLUMNS),
            ColumnSpec("alsfrs_total", "float", lo=0, hi=40, unit="points"),
            ColumnSpec("alsfrs_r_total", "float", lo=0, hi=48, unit="points"),
            _delta("alsfrs_delta"),
            _txt("mode_of_administration"),
            _txt("alsfrs_responded_by"),
        ),
        key=(),
    ),
    "ALSHISTORY": TableSpec(
        "ALSHISTORY",
        (
            _SUBJECT,
            _txt("site_of_onset_bulbar"),
            _txt("site_of_onset_limb"),
            _txt("site_of_onset_limb_and_bulbar"),
            _txt("site_of_onset_other"),
            _txt("site_of_onset_spine"),
            _txt("site_of_onset"),
            _delta("onset_delta", required=False),
            _delta("diagnosis_delta", required=False),
            _delta("subject_als_history_delta", required=False),
        ),
        key=(),
    ),
    "DEMOGRAPHICS": TableSpec(
        "DEMOGRAPHICS",
        (
            _SUBJECT,
            _delta("demographics_delta", required=False),
            ColumnSpec("age", "float", lo=0, hi=120, unit="years"),
            _txt("sex"),
            _txt("race_americ_indian_alaska_native"),
            _txt("race_asian"),
            _txt("race_black_african_american"),
            _txt("race_hawaiian_pacific_islander"),
            _txt("race_unknown"),
            _txt("race_caucasian"),
            _txt("race_other"),
        ),
        key=(),
    ),
    "DEATHDATA": TableSpec(
        "DEATHDATA",
        (_SUBJECT, _txt("subject_died"), _delta("death_days", required=False)),
        key=(),
    ),
    "FVC": TableSpec(
        "FVC",
        (
            _SUBJECT,
            *(
                ColumnSpec(f"subject_liters_trial_{t}", "float", lo=0, hi=10, unit="L")
                for t in _TRIALS
            ),
            *(
                ColumnSpec(f"pct_of_normal_trial_{t}", "float", lo=0, hi=200, unit="% predicted")
                for t in _TRIALS
            ),
            _delta("forced_vital_capacity_delta"),
            _txt("forced_vital_capacity_units"),
        ),
        key=(),
    ),
    "SVC": TableSpec(
        "SVC",
        (
            _SUBJECT,
            *(
                ColumnSpec(f"subject_liters_trial_{t}", "float", lo=0, hi=10, unit="L")
                for t in _TRIALS
            ),
            *(
                ColumnSpec(f"pct_of_normal_trial_{t}", "float", lo=0, hi=200, unit="% predicted")
                for t in _TRIALS
            ),
            _delta("slow_vital_capacity_delta"),
            _txt("slow_vital_capacity_units"),
        ),
        key=(),
    ),
    "VITALSIGNS": TableSpec(
        "VITALSIGNS",
        (
            _SUBJECT,
            _delta("vital_signs_delta"),
            ColumnSpec("weight", "float", lo=0, hi=1000, unit="kg or lb (see weight_units)"),
            _txt("weight_units"),
        ),
        key=(),
    ),
    "RILUZOLE": TableSpec(
        "RILUZOLE",
        (_SUBJECT, _txt("subject_used_riluzole"), _delta("riluzole_use_delta", required=False)),
        key=(),
    ),
    "TREATMENT": TableSpec(
        "TREATMENT",
        (_SUBJECT, _txt("study_arm"), _delta("treatment_group_delta", required=False)),
        key=(),
    ),
}

#: Tables the importer understands; NEUROFILAMENT and ELESCORIAL are detected by header.
KNOWN_TABLES: frozenset[str] = frozenset({*RAW_SPECS, "NEUROFILAMENT", "ELESCORIAL"})

#: The time column of each table, which ``feature_delta`` fills in the DREAM format.
TABLE_DELTA: dict[str, str] = {
    "ALSFRS": "alsfrs_delta",
    "ALSHISTORY": "subject_als_history_delta",
    "DEMOGRAPHICS": "demographics_delta",
    "DEATHDATA": "",
    "FVC": "forced_vital_capacity_delta",
    "SVC": "slow_vital_capacity_delta",
    "VITALSIGNS": "vital_signs_delta",
    "RILUZOLE": "riluzole_use_delta",
    "TREATMENT": "treatment_group_delta",
}

#: DREAM ``form_name`` (normalised) -> PRO-ACT table. The DREAM form names were not
#: checked against the released files, so several plausible spellings are accepted.
DREAM_FORMS: dict[str, str] = {
    "alsfrs": "ALSFRS",
    "alsfrs_r": "ALSFRS",
    "als_history": "ALSHISTORY",
    "alshistory": "ALSHISTORY",
    "subject_als_history": "ALSHISTORY",
    "demographic": "DEMOGRAPHICS",
    "demographics": "DEMOGRAPHICS",
    "death_report": "DEATHDATA",
    "death": "DEATHDATA",
    "deathdata": "DEATHDATA",
    "death_data": "DEATHDATA",
    "fvc": "FVC",
    "forced_vital_capacity": "FVC",
    "svc": "SVC",
    "slow_vital_capacity": "SVC",
    "vitals": "VITALSIGNS",
    "vital_signs": "VITALSIGNS",
    "vitalsigns": "VITALSIGNS",
    "riluzole": "RILUZOLE",
    "riluzole_use": "RILUZOLE",
    "treatment": "TREATMENT",
    "treatment_group": "TREATMENT",
    "study_arm": "TREATMENT",
}

#: Alternative (normalised) names of columns / DREAM features -> the name in RAW_SPECS.
FEATURE_ALIASES: dict[str, dict[str, str]] = {
    "ALSHISTORY": {
        "onset_site": "site_of_onset",
        "diag_delta": "diagnosis_delta",
        "site_of_onset_onset_bulbar": "site_of_onset_bulbar",
        "site_of_onset_onset_limb": "site_of_onset_limb",
        "site_of_onset_onset_limb_and_bulbar": "site_of_onset_limb_and_bulbar",
    },
    "ALSFRS": {
        "r1_dyspnea": "r_1_dyspnea",
        "r2_orthopnea": "r_2_orthopnea",
        "r3_respiratory_insufficiency": "r_3_respiratory_insufficiency",
    },
    "DEMOGRAPHICS": {"gender": "sex"},
}

#: PRO-ACT columns (normalised) that exist in the releases but are not imported; in the
#: DREAM format these features are skipped silently, other unknown features are counted
#: (and refused in strict mode).
KNOWN_UNUSED: dict[str, frozenset[str]] = {
    "ALSFRS": frozenset(),
    "ALSHISTORY": frozenset(
        {
            "site_of_onset_other_specify",
            "disease_duration",
            "symptom",
            "symptom_other_specify",
            "location",
            "location_other_specify",
        }
    ),
    "DEMOGRAPHICS": frozenset({"date_of_birth", "ethnicity", "race_other_specify"}),
    "DEATHDATA": frozenset(),
    "FVC": frozenset({"subject_normal"}),
    "SVC": frozenset({"subject_normal"}),
    "VITALSIGNS": frozenset(
        {
            "height",
            "height_units",
            "blood_pressure_systolic",
            "blood_pressure_diastolic",
            "pulse",
            "respiratory_rate",
            "temperature",
            "temperature_units",
        }
    ),
    "RILUZOLE": frozenset(),
    "TREATMENT": frozenset(),
}
