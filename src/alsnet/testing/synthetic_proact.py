"""Synthetic PRO-ACT-format files with known ground truth, for importer tests.

Nothing here comes from PRO-ACT: every value is drawn from a seeded random
generator. The files follow the three PRO-ACT layouts (DREAM long format,
``PROACT_<TABLE>.csv``, ``F_PROACT_<TABLE>.csv``) and, with ``traps=True``,
contain the known pitfalls of the real releases (see docs/proact.md):

* both ALSFRS instruments (original with ``Q10_Respiratory``, revised with
  ``R_1..R_3``; some revised rows also carry ``Q10_Respiratory``);
* half-point items; rows with both Q5a and Q5b; rows with a total but no items;
  reported totals that disagree with the items; two ALSFRS rows on one day;
* SVC headers with double underscores (``Subject_Liters__Trial_2_``); several
  spirometry trials, some empty;
* negative deltas (screening before trial day 0); weights in pounds;
* ALSHISTORY with several rows per subject, one-hot and free-text onset sites in
  varied spellings, one subject with conflicting sites, subjects without
  ``Onset_Delta``;
* deaths without any censoring information; an ignored LABS table;
* DREAM: a few subjects repeated in two files.

:func:`make_proact_truth` returns the canonical tables the importer must
produce, computed here independently of the importer's code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from alsnet.schema import ALSFRS_R_ITEMS

__all__ = ["ProactTruth", "make_proact_truth", "write_proact_files"]

ProactLayout = Literal["dream", "proact", "f_proact"]
_LB = 0.45359237
_ITEMS = ("q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9")
_COLS = {
    "q1": "Q1_Speech",
    "q2": "Q2_Salivation",
    "q3": "Q3_Swallowing",
    "q4": "Q4_Handwriting",
    "q5a": "Q5a_Cutting_without_Gastrostomy",
    "q5b": "Q5b_Cutting_with_Gastrostomy",
    "q6": "Q6_Dressing_and_Hygiene",
    "q7": "Q7_Turning_in_Bed",
    "q8": "Q8_Walking",
    "q9": "Q9_Climbing_Stairs",
    "q10o": "Q10_Respiratory",
    "r1": "R_1_Dyspnea",
    "r2": "R_2_Orthopnea",
    "r3": "R_3_Respiratory_Insufficiency",
}
ALSFRS_HEADER = (
    "subject_id",
    *(_COLS[c] for c in ("q1", "q2", "q3", "q4", "q5a", "q5b", "q6", "q7", "q8", "q9", "q10o")),
    "ALSFRS_Delta",
    "ALSFRS_Total",
    "ALSFRS_R_Total",
    "R_1_Dyspnea",
    "R_2_Orthopnea",
    "R_3_Respiratory_Insufficiency",
    "Mode_of_Administration",
    "ALSFRS_Responded_By",
)
_HISTORY_HEADER = (
    "subject_id",
    "Site_of_Onset___Bulbar",
    "Site_of_Onset___Limb",
    "Site_of_Onset___Limb_and_Bulbar",
    "Site_of_Onset___Other",
    "Site_of_Onset___Other_Specify",
    "Site_of_Onset___Spine",
    "Subject_ALS_History_Delta",
    "Disease_Duration",
    "Symptom",
    "Symptom_Other_Specify",
    "Location",
    "Location_Other_Specify",
    "Site_of_Onset",
    "Onset_Delta",
    "Diagnosis_Delta",
)
_RACES = {
    "EUR": "Race_Caucasian",
    "AFR": "Race_Black_African_American",
    "EAS": "Race_Asian",
    "AMR": "Race_Americ_Indian_Alaska_Native",
    "OCE": "Race_Hawaiian_Pacific_Islander",
}
_DEMO_HEADER = (
    "subject_id",
    "Demographics_Delta",
    "Age",
    "Date_of_Birth",
    "Ethnicity",
    "Race_Americ_Indian_Alaska_Native",
    "Race_Asian",
    "Race_Black_African_American",
    "Race_Hawaiian_Pacific_Islander",
    "Race_Unknown",
    "Race_Caucasian",
    "Race_Other",
    "Race_Other_Specify",
    "Sex",
)
_FVC_HEADER = (
    "subject_id",
    "Subject_Liters_Trial_1",
    "pct_of_Normal_Trial_1",
    "Subject_Liters_Trial_2",
    "pct_of_Normal_Trial_2",
    "Subject_Liters_Trial_3",
    "pct_of_Normal_Trial_3",
    "Forced_Vital_Capacity_Delta",
    "Subject_Normal",
    "Forced_Vital_Capacity_Units",
)
_SVC_HEADER = (
    "subject_id",
    "Subject_Liters_Trial_1",
    "pct_of_Normal_Trial_1",
    "Subject_Liters__Trial_2_",
    "pct_of_Normal_Trial_2",
    "Subject_Liters__Trial_3_",
    "pct_of_Normal_Trial_3",
    "Subject_Normal",
    "Slow_vital_Capacity_Delta",
    "Slow_Vital_Capacity_Units",
)
_SPELLINGS = {
    "bulbar": ("Onset: Bulbar", "Bulbar", "bulbar", " BULBAR "),
    "limb": ("Onset: Limb", "Limb", "limb"),
    "bulbar_limb": (
        "Onset: Limb and Bulbar",
        "Limb and Bulbar",
        "Bulbar and Limb",
        "limb & bulbar",
    ),
}
_ONEHOT = {
    "bulbar": "Site_of_Onset___Bulbar",
    "limb": "Site_of_Onset___Limb",
    "bulbar_limb": "Site_of_Onset___Limb_and_Bulbar",
}
#: PRO-ACT table -> (DREAM form name, delta column or "").
DREAM_FORM_NAMES: dict[str, tuple[str, str]] = {
    "ALSFRS": ("ALSFRS", "ALSFRS_Delta"),
    "ALSHISTORY": ("Subject ALS History", "Subject_ALS_History_Delta"),
    "DEMOGRAPHICS": ("Demographic", "Demographics_Delta"),
    "DEATHDATA": ("Death Report", ""),
    "FVC": ("FVC", "Forced_Vital_Capacity_Delta"),
    "SVC": ("SVC", "Slow_vital_Capacity_Delta"),
    "VITALSIGNS": ("Vitals", "Vital_Signs_Delta"),
    "RILUZOLE": ("Riluzole use", "Riluzole_use_Delta"),
    "TREATMENT": ("Treatment", "Treatment_Group_Delta"),
    "LABS": ("Lab Test", "Laboratory_Delta"),
}
_UNIT_COLUMNS = {
    "Forced_Vital_Capacity_Units",
    "Slow_Vital_Capacity_Units",
    "Weight_Units",
    "Height_Units",
}


@dataclass(frozen=True)
class ProactTruth:
    """Synthetic PRO-ACT source tables and the canonical tables they must import to.

    Attributes
    ----------
    tables : dict of str to DataFrame
        PRO-ACT tables (upper-case name -> text frame with PRO-ACT column names).
    expected : dict of str to DataFrame
        Canonical ``patients``, ``visits``, ``events``, ``treatments`` and
        ``biomarkers`` (patient ids ``"PROACT-" + subject id``), including the
        Neurofilament values (present only in the ``f_proact`` layout; see
        :meth:`expected_for`).
    excluded : list of str
        Subject ids without a usable ``Onset_Delta`` (must be excluded).
    trap_counts : dict of str to int
        How many of each trap were planted (matching :class:`ImportReport` fields).
    traps : bool
        Whether traps were planted.
    """

    tables: dict[str, pd.DataFrame]
    expected: dict[str, pd.DataFrame]
    excluded: list[str]
    trap_counts: dict[str, int] = field(default_factory=dict)
    traps: bool = True

    def expected_for(self, layout: ProactLayout) -> dict[str, pd.DataFrame]:
        """Expected canonical tables for ``layout`` (NfL only exists in ``f_proact``)."""
        out = {k: v.copy() for k, v in self.expected.items()}
        if layout != "f_proact":
            v = out["visits"]
            v["nfl_serum_pg_ml"] = np.nan
            only_nfl = v.drop(columns=["patient_id", "day", "nfl_serum_pg_ml"]).isna().all(axis=1)
            out["visits"] = v.loc[~only_nfl].reset_index(drop=True)
            out["biomarkers"] = out["biomarkers"].iloc[0:0]
        return out


def _fmt(x: object) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    if isinstance(x, float | np.floating) and float(x).is_integer():
        return str(int(x))
    if isinstance(x, np.integer):
        return str(int(x))
    return str(x)


def _frame(rows: list[dict[str, object]], header: Iterable[str]) -> pd.DataFrame:
    cols = list(header)
    return pd.DataFrame([[_fmt(r.get(c)) for c in cols] for r in rows], columns=cols, dtype=object)


def make_proact_truth(
    *, n_subjects: int = 50, seed: int | np.random.Generator = 0, traps: bool = True
) -> ProactTruth:
    """Draw a synthetic PRO-ACT data set and its expected canonical import.

    Parameters
    ----------
    n_subjects : int, default 50
        Subjects written (at least 12 when ``traps`` is True).
    seed : int or Generator, default 0
        Random seed.
    traps : bool, default True
        Plant the known PRO-ACT traps (see module docstring).

    Returns
    -------
    ProactTruth
    """
    if traps and n_subjects < 12:
        raise ValueError("traps=True needs at least 12 subjects")
    rng = np.random.default_rng(seed)
    sids = [str(s) for s in rng.choice(np.arange(100000, 999999), n_subjects, replace=False)]
    g = _Gen(rng, traps)
    for i, sid in enumerate(sids):
        g.subject(i, sid)
    if traps:
        g.plant_alsfrs_traps()
    return g.finish()


class _Gen:
    """Builds source rows and the expected canonical rows side by side."""

    def __init__(self, rng: np.random.Generator, traps: bool) -> None:
        self.rng, self.traps = rng, traps
        self.t: dict[str, list[dict[str, object]]] = {
            k: []
            for k in (
                "ALSFRS",
                "ALSHISTORY",
                "DEMOGRAPHICS",
                "DEATHDATA",
                "FVC",
                "SVC",
                "VITALSIGNS",
                "RILUZOLE",
                "TREATMENT",
                "NEUROFILAMENT",
                "LABS",
            )
        }
        self.patients: list[dict[str, object]] = []
        self.visits: dict[tuple[str, int], dict[str, object]] = {}
        self.events: list[dict[str, object]] = []
        self.treatments: list[dict[str, object]] = []
        self.biomarkers: list[dict[str, object]] = []
        self.excluded: list[str] = []
        self.alsfrs_refs: list[tuple[dict[str, object], tuple[str, int] | None]] = []
        self.counts = {
            "q5_conflicts_resolved": 0,
            "totals_recomputed": 0,
            "half_point_rows": 0,
            "alsfrs_total_only_rows": 0,
            "alsfrs_same_day_rows_dropped": 0,
            "onset_region_conflicts": 0,
            "subjects_excluded_no_onset": 0,
        }

    # ---------------------------------------------------------------- per subject
    def subject(self, i: int, sid: str) -> None:
        rng = self.rng
        no_onset = self.traps and i in (0, 1)
        pid = "PROACT-" + sid
        onset = -int(rng.integers(150, 1500))
        diag = onset + int(rng.integers(30, -onset - 20))
        region = str(rng.choice(["bulbar", "limb", "bulbar_limb"], p=[0.25, 0.65, 0.10]))
        conflict = self.traps and i == 3
        self._history(sid, onset, diag, region, no_onset=no_onset, conflict=conflict, i=i)
        demo_delta = -10 if (self.traps and i == 4) else 0
        age = int(rng.integers(35, 76))
        sex = str(rng.choice(["Male", "Female"]))
        anc = str(
            rng.choice(["EUR", "AFR", "EAS", "unknown", "mixed"], p=[0.8, 0.07, 0.05, 0.04, 0.04])
        )
        race = {c: "" for c in _RACES.values()}
        if anc in _RACES:
            race[_RACES[anc]] = "1"
        elif anc == "mixed":
            race["Race_Caucasian"] = race["Race_Asian"] = "1"
        self.t["DEMOGRAPHICS"].append(
            {
                "subject_id": sid,
                "Demographics_Delta": demo_delta,
                "Age": age,
                "Sex": sex,
                "Ethnicity": "Not Hispanic or Latino",
                "Race_Other": "1" if anc == "unknown" else "",
                **race,
            }
        )
        if no_onset:
            self.excluded.append(sid)
            self.counts["subjects_excluded_no_onset"] += 1
        else:
            self.patients.append(
                {
                    "patient_id": pid,
                    "site_id": "PROACT",
                    "sex": sex[0],
                    "age_onset": age + (onset - demo_delta) / 365.25,
                    "onset_region": None if conflict else region,
                    "diagnosis_day": diag - onset,
                    "el_escorial": "unknown",
                    "ancestry": anc,
                    "anchor": "onset",
                }
            )
        deltas = self._alsfrs(sid, pid, onset, i, keep=not no_onset)
        self._spirometry(sid, pid, onset, deltas, keep=not no_onset)
        last = max(deltas) + 5
        if rng.random() < 0.3 or (self.traps and i == 5):
            dd = last + int(rng.integers(20, 300))
            self.t["DEATHDATA"].append({"subject_id": sid, "Subject_Died": "Yes", "Death_Days": dd})
            if not no_onset:
                self.events.append({"patient_id": pid, "event": "death", "day": dd - onset})
        else:
            self.t["DEATHDATA"].append({"subject_id": sid, "Subject_Died": "No"})
        if rng.random() < 0.7:
            rd = int(rng.integers(onset + 40, 1))
            self.t["RILUZOLE"].append(
                {"subject_id": sid, "Subject_used_Riluzole": "Yes", "Riluzole_use_Delta": rd}
            )
            if not no_onset:
                self.treatments.append(
                    {
                        "patient_id": pid,
                        "treatment": "riluzole",
                        "start_day": rd - onset,
                        "arm": None,
                    }
                )
        else:
            self.t["RILUZOLE"].append(
                {"subject_id": sid, "Subject_used_Riluzole": "No", "Riluzole_use_Delta": 0}
            )
        arm = str(rng.choice(["Active", "Placebo"]))
        self.t["TREATMENT"].append(
            {"subject_id": sid, "Study_Arm": arm, "Treatment_Group_Delta": 0}
        )
        if not no_onset:
            self.treatments.append(
                {"patient_id": pid, "treatment": "trial", "start_day": -onset, "arm": arm.lower()}
            )
        self.t["LABS"].append(
            {
                "subject_id": sid,
                "Test_Name": "Creatinine",
                "Test_Result": round(float(rng.uniform(50, 110)), 1),
                "Test_Unit": "umol/L",
                "Laboratory_Delta": 0,
            }
        )

    def _history(
        self,
        sid: str,
        onset: int,
        diag: int,
        region: str,
        *,
        no_onset: bool,
        conflict: bool,
        i: int,
    ) -> None:
        rng = self.rng
        if no_onset and i == 1:
            return  # no ALSHISTORY row at all
        rows: list[dict[str, object]] = []
        n_rows = 2 if (self.traps and (rng.random() < 0.3 or conflict)) else 1
        for k in range(n_rows):
            reg = region
            if conflict and k == 1:
                reg = "limb" if region == "bulbar" else "bulbar"
            hist_delta = 0 if k == 0 else int(rng.integers(1, 60))
            row: dict[str, object] = {
                "subject_id": sid,
                "Subject_ALS_History_Delta": hist_delta,
                "Onset_Delta": None if no_onset else onset,
                "Diagnosis_Delta": diag,
            }
            if k == 1 and rng.random() < 0.5:
                row["Onset_Delta"] = None  # duplicate row with less information
            if rng.random() < 0.5:
                row[_ONEHOT[reg]] = 1
            else:
                row["Site_of_Onset"] = str(rng.choice(_SPELLINGS[reg]))
            rows.append(row)
        if conflict:
            self.counts["onset_region_conflicts"] += 1
        self.t["ALSHISTORY"].extend(rows)

    def _alsfrs(self, sid: str, pid: str, onset: int, i: int, *, keep: bool) -> list[int]:
        rng = self.rng
        revised = rng.random() < 0.6
        n_vis = int(rng.integers(2, 7))
        deltas = [0] + [int(30 * k + rng.integers(-5, 6)) for k in range(1, n_vis)]
        if self.traps and rng.random() < 0.3:
            deltas = [-int(rng.integers(5, 20)), *deltas]  # screening before day 0
        level = rng.integers(2, 5, size=len(_ITEMS) + 3)
        gastro_from = int(rng.integers(1, len(deltas) + 3))
        for v, delta in enumerate(deltas):
            drop = rng.binomial(1, 0.25 * v / max(len(deltas) - 1, 1), size=level.size)
            vals = np.clip(level - drop * rng.integers(0, 2, size=level.size), 0, 4).astype(float)
            row: dict[str, object] = {"subject_id": sid, "ALSFRS_Delta": delta}
            exp: dict[str, object] = {"patient_id": pid, "day": delta - onset}
            for k, c in enumerate(_ITEMS):
                if c == "q5":
                    name = "q5b" if v >= gastro_from else "q5a"
                    row[_COLS[name]] = vals[k]
                    exp[name] = vals[k]
                else:
                    row[_COLS[c]] = vals[k]
                    exp[c] = vals[k]
            base = float(vals[: len(_ITEMS)].sum())
            if revised:
                r = vals[len(_ITEMS) :]
                for k, c in enumerate(("r1", "r2", "r3")):
                    row[_COLS[c]] = r[k]
                    exp[f"q1{k}"] = r[k]
                total = base + float(r.sum())
                row["ALSFRS_R_Total"] = total
                exp["instrument"] = "alsfrs_r"
                if self.traps and rng.random() < 0.3:
                    row["Q10_Respiratory"] = r[0]  # revised row that also carries Q10
                    exp["q10_alsfrs"] = r[0]
            else:
                q10 = vals[len(_ITEMS)]
                row["Q10_Respiratory"] = q10
                exp["q10_alsfrs"] = q10
                total = base + float(q10)
                row["ALSFRS_Total"] = total
                exp["instrument"] = "alsfrs"
            exp["total_reported"] = total
            row["Mode_of_Administration"] = str(rng.choice(["In person", "Telephone", ""]))
            exp["mode"] = {"In person": "in_person", "Telephone": "phone"}.get(
                str(row["Mode_of_Administration"])
            )
            self.t["ALSFRS"].append(row)
            key = (pid, delta - onset)
            if keep:
                self.visits[key] = exp
                self.alsfrs_refs.append((row, key))
        return deltas

    def _spirometry(self, sid: str, pid: str, onset: int, deltas: list[int], *, keep: bool) -> None:
        rng = self.rng
        normal = round(float(rng.uniform(3.5, 5.0)), 2)
        svc = self.traps and rng.random() < 0.4
        extra = max(deltas) + 3
        for delta in [*deltas, extra]:
            if delta != extra and rng.random() < 0.3:
                continue
            ntr = int(rng.integers(1, 4))
            lit = np.round(rng.uniform(1.5, 4.5, size=ntr), 2)
            pct = np.round(lit / normal * 100, 1)
            kind = "SVC" if (svc and rng.random() < 0.5) else "FVC"
            row: dict[str, object] = {"subject_id": sid, "Subject_Normal": normal}
            header = _SVC_HEADER if kind == "SVC" else _FVC_HEADER
            lcols = [h for h in header if h.startswith("Subject_Liters")]
            pcols = [h for h in header if h.startswith("pct_of")]
            for k in range(ntr):
                row[lcols[k]], row[pcols[k]] = lit[k], pct[k]
            if kind == "FVC":
                row["Forced_Vital_Capacity_Delta"] = delta
                row["Forced_Vital_Capacity_Units"] = "Liters"
            else:
                row["Slow_vital_Capacity_Delta"] = delta
                row["Slow_Vital_Capacity_Units"] = "Liters"
            self.t[kind].append(row)
            p = kind.lower()
            self._visit(
                pid, delta - onset, keep, {f"{p}_l": float(lit.max()), f"{p}_pct": float(pct.max())}
            )
        lbs = rng.random() < 0.4
        for delta in deltas:
            if rng.random() < 0.4:
                continue
            kg = round(float(rng.normal(75, 12)), 1)
            val = round(kg / _LB, 1) if lbs else kg
            self.t["VITALSIGNS"].append(
                {
                    "subject_id": sid,
                    "Vital_Signs_Delta": delta,
                    "Weight": val,
                    "Weight_Units": "Pounds" if lbs else "Kilograms",
                    "Height": 170,
                    "Height_Units": "Centimeters",
                    "Pulse": int(rng.integers(55, 95)),
                }
            )
            self._visit(pid, delta - onset, keep, {"weight_kg": val * _LB if lbs else val})
        if rng.random() < 0.35:
            for delta in deltas[: int(rng.integers(1, 4))]:
                serum = rng.random() < 0.8
                value = round(float(rng.lognormal(np.log(40 if serum else 4000), 0.4)), 1)
                self.t["NEUROFILAMENT"].append(
                    {
                        "subject_id": sid,
                        "Analyte": "NfL",
                        "Matrix": "Serum" if serum else "CSF",
                        "Result": value,
                        "Unit": "pg/mL",
                        "Collection_Delta": delta,
                    }
                )
                if serum:
                    self._visit(pid, delta - onset, keep, {"nfl_serum_pg_ml": value})
                elif keep:
                    self.biomarkers.append(
                        {
                            "patient_id": pid,
                            "day": delta - onset,
                            "analyte": "nfl",
                            "matrix": "csf",
                            "value_pg_ml": value,
                        }
                    )

    def _visit(self, pid: str, day: int, keep: bool, values: dict[str, object]) -> None:
        if keep:
            self.visits.setdefault((pid, day), {"patient_id": pid, "day": day}).update(values)

    # ---------------------------------------------------------------- traps
    def plant_alsfrs_traps(self) -> None:
        """Modify distinct ALSFRS rows of included subjects; expected values follow."""
        rng = self.rng
        order = rng.permutation(len(self.alsfrs_refs))
        picks = iter(order)

        def take() -> tuple[dict[str, object], dict[str, object]]:
            row, key = self.alsfrs_refs[int(next(picks))]
            assert key is not None
            return row, self.visits[key]

        def total_col(row: dict[str, object]) -> str:
            return "ALSFRS_R_Total" if "ALSFRS_R_Total" in row else "ALSFRS_Total"

        for _ in range(3):  # half points, total consistent
            row, exp = take()
            col = _COLS["q4"]
            new = float(row[col]) - 0.5 if float(row[col]) > 0 else 0.5  # type: ignore[arg-type]
            diff = new - float(row[col])  # type: ignore[arg-type]
            row[col], exp["q4"] = new, new
            tc = total_col(row)
            row[tc] = float(row[tc]) + diff  # type: ignore[arg-type]
            exp["total_reported"] = row[tc]
            self.counts["half_point_rows"] += 1
        for _ in range(3):  # both Q5a and Q5b: Q5b is the truth, total follows Q5b
            row, exp = take()
            q5 = float(row.get(_COLS["q5a"]) or row.get(_COLS["q5b"]) or 0)  # type: ignore[arg-type]
            row[_COLS["q5b"]] = q5
            row[_COLS["q5a"]] = 4.0 if q5 < 4 else 3.0
            exp["q5b"], exp["q5a"] = q5, None
            self.counts["q5_conflicts_resolved"] += 1
        for _ in range(3):  # reported total disagrees with the items
            row, exp = take()
            tc = total_col(row)
            row[tc] = float(row[tc]) + (1 if float(row[tc]) < 30 else -2)  # type: ignore[arg-type]
            exp["total_reported"] = None
            self.counts["totals_recomputed"] += 1
        for _ in range(3):  # total without items
            row, exp = take()
            for c in _COLS.values():
                row.pop(c, None)
            for c in (*ALSFRS_R_ITEMS, "q10_alsfrs"):
                exp.pop(c, None)
            self.counts["alsfrs_total_only_rows"] += 1
        row, exp = take()  # a second, total-only row on the same day: the full row is kept
        twin = {
            "subject_id": row["subject_id"],
            "ALSFRS_Delta": row["ALSFRS_Delta"],
            total_col(row): 20,
        }
        self.t["ALSFRS"].append(twin)
        self.counts["alsfrs_same_day_rows_dropped"] += 1

    # ---------------------------------------------------------------- output
    def finish(self) -> ProactTruth:
        tables = {
            "ALSFRS": _frame(self.t["ALSFRS"], ALSFRS_HEADER),
            "ALSHISTORY": _frame(self.t["ALSHISTORY"], _HISTORY_HEADER),
            "DEMOGRAPHICS": _frame(self.t["DEMOGRAPHICS"], _DEMO_HEADER),
            "DEATHDATA": _frame(self.t["DEATHDATA"], ("subject_id", "Subject_Died", "Death_Days")),
            "FVC": _frame(self.t["FVC"], _FVC_HEADER),
            "SVC": _frame(self.t["SVC"], _SVC_HEADER),
            "VITALSIGNS": _frame(
                self.t["VITALSIGNS"],
                (
                    "subject_id",
                    "Vital_Signs_Delta",
                    "Height",
                    "Height_Units",
                    "Weight",
                    "Weight_Units",
                    "Blood_Pressure_Systolic",
                    "Blood_Pressure_Diastolic",
                    "Pulse",
                    "Respiratory_Rate",
                ),
            ),
            "RILUZOLE": _frame(
                self.t["RILUZOLE"], ("subject_id", "Subject_used_Riluzole", "Riluzole_use_Delta")
            ),
            "TREATMENT": _frame(
                self.t["TREATMENT"], ("subject_id", "Study_Arm", "Treatment_Group_Delta")
            ),
            "NEUROFILAMENT": _frame(
                self.t["NEUROFILAMENT"],
                ("subject_id", "Analyte", "Matrix", "Result", "Unit", "Collection_Delta"),
            ),
            "LABS": _frame(
                self.t["LABS"],
                ("subject_id", "Test_Name", "Test_Result", "Test_Unit", "Laboratory_Delta"),
            ),
        }
        visits = pd.DataFrame(list(self.visits.values()))
        for c in (
            *ALSFRS_R_ITEMS,
            "q10_alsfrs",
            "total_reported",
            "fvc_l",
            "fvc_pct",
            "svc_l",
            "svc_pct",
            "weight_kg",
            "nfl_serum_pg_ml",
        ):
            visits[c] = pd.to_numeric(visits[c], errors="coerce") if c in visits else np.nan
        for c in ("instrument", "mode"):
            if c not in visits:
                visits[c] = None
        expected = {
            "patients": pd.DataFrame(self.patients),
            "visits": visits.sort_values(["patient_id", "day"]).reset_index(drop=True),
            "events": pd.DataFrame(self.events, columns=["patient_id", "event", "day"]),
            "treatments": pd.DataFrame(
                self.treatments, columns=["patient_id", "treatment", "start_day", "arm"]
            ),
            "biomarkers": pd.DataFrame(
                self.biomarkers, columns=["patient_id", "day", "analyte", "matrix", "value_pg_ml"]
            ),
        }
        return ProactTruth(
            tables=tables,
            expected=expected,
            excluded=list(self.excluded),
            trap_counts=dict(self.counts) if self.traps else {},
            traps=self.traps,
        )


def write_proact_files(
    directory: str | Path,
    *,
    layout: ProactLayout,
    n_subjects: int = 50,
    seed: int = 0,
    traps: bool = True,
) -> list[Path]:
    """Write synthetic PRO-ACT files in one of the three layouts.

    Parameters
    ----------
    directory : str or Path
        Output directory (created if needed).
    layout : {"dream", "proact", "f_proact"}
        ``dream``: two pipe-delimited ``all_forms_PROACT_*.txt`` long files (with
        traps, three subjects appear in both). ``proact`` / ``f_proact``: one CSV
        per table with that prefix; ``f_proact`` adds ``F_PROACT_Neurofilament.csv``.
    n_subjects, seed, traps
        As in :func:`make_proact_truth`; the same arguments give the same truth.

    Returns
    -------
    list of Path
        The files written.
    """
    truth = make_proact_truth(n_subjects=n_subjects, seed=seed, traps=traps)
    return write_truth(truth, directory, layout=layout, seed=seed)


def write_truth(
    truth: ProactTruth, directory: str | Path, *, layout: ProactLayout, seed: int = 0
) -> list[Path]:
    """Write the source tables of ``truth`` in ``layout`` (see :func:`write_proact_files`)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if layout == "dream":
        return _write_dream(truth, out, seed=seed)
    prefix = "F_PROACT_" if layout == "f_proact" else "PROACT_"
    written = []
    for name, frame in truth.tables.items():
        if name == "NEUROFILAMENT":
            if layout != "f_proact":
                continue
            fname = f"{prefix}Neurofilament.csv"
        else:
            fname = f"{prefix}{name}.csv"
        path = out / fname
        frame.to_csv(path, index=False)
        written.append(path)
    return written


def _long(truth: ProactTruth) -> pd.DataFrame:
    parts = []
    for name, frame in truth.tables.items():
        if name not in DREAM_FORM_NAMES or not len(frame):
            continue
        form, delta_col = DREAM_FORM_NAMES[name]
        unit_cols = [c for c in frame.columns if c in _UNIT_COLUMNS]
        value_cols = [c for c in frame.columns if c not in ("subject_id", delta_col, *unit_cols)]
        df = frame.assign(_row=np.arange(len(frame)))
        long = df.melt(
            id_vars=["subject_id", "_row", *([delta_col] if delta_col else [])],
            value_vars=value_cols,
            var_name="feature_name",
            value_name="feature_value",
        )
        long = long.loc[long["feature_value"] != ""]
        long["feature_unit"] = ""
        if "Weight_Units" in unit_cols:
            w = long["feature_name"] == "Weight"
            long.loc[w, "feature_unit"] = long.loc[w, "_row"].map(frame["Weight_Units"])
        long["form_name"] = form
        long["feature_delta"] = long[delta_col] if delta_col else ""
        parts.append(long.sort_values(["_row"], kind="stable"))
    allrec = pd.concat(parts, ignore_index=True)
    return allrec.rename(columns={"subject_id": "SubjectID"})[
        ["SubjectID", "form_name", "feature_name", "feature_value", "feature_unit", "feature_delta"]
    ]


def _write_dream(truth: ProactTruth, out: Path, *, seed: int) -> list[Path]:
    rec = _long(truth)
    rng = np.random.default_rng(seed + 1)
    subjects = rec["SubjectID"].unique()
    first = set(rng.choice(subjects, len(subjects) // 2, replace=False).tolist())
    in_first = rec["SubjectID"].isin(first).to_numpy()
    repeated = sorted(first)[:3] if truth.traps else []
    again = rec["SubjectID"].isin(repeated).to_numpy()
    paths = [out / "all_forms_PROACT_training.txt", out / "all_forms_PROACT_leaderboard_full.txt"]
    rec.loc[in_first].to_csv(paths[0], sep="|", index=False)
    rec.loc[~in_first | again].to_csv(paths[1], sep="|", index=False)
    return paths
