"""Map typed PRO-ACT source tables to the canonical alsnet tables.

Every decision documented in ``docs/proact.md`` is made here: re-anchoring to
symptom onset, onset region reconciliation, ALSFRS instrument per visit, Q5a/Q5b,
totals, best spirometry trial, units, deaths, riluzole and trial arms. Output
tables keep ``patient_id`` = PRO-ACT subject id (the caller replaces it) and two
bookkeeping columns, ``_source`` and ``_line``, naming where each row came from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsnet.io.proact._raw import RawData
from alsnet.io.proact._report import ImportReport
from alsnet.io.proact._spec import ITEM_COLUMNS, R_COLUMNS
from alsnet.schema import TABLES
from alsnet.validation import ProblemLog, empty_table

__all__ = ["DAYS_PER_YEAR", "LB_TO_KG", "RACE_TO_ANCESTRY", "SITE_ID", "map_tables"]

#: Site id of every PRO-ACT patient.
SITE_ID = "PROACT"
#: Days per year used for ages (Julian year).
DAYS_PER_YEAR = 365.25
#: Pounds to kilograms (exact, international avoirdupois pound).
LB_TO_KG = 0.45359237
#: PRO-ACT race flag (normalised column) -> self-reported ancestry code of alsnet.
#: US "Asian" covers East and South Asia; alsnet has no pan-Asian code, so it maps to EAS
#: (documented caveat). Race_Other / Race_Unknown map to "unknown"; two or more flags -> mixed.
RACE_TO_ANCESTRY: dict[str, str] = {
    "race_caucasian": "EUR",
    "race_black_african_american": "AFR",
    "race_asian": "EAS",
    "race_americ_indian_alaska_native": "AMR",
    "race_hawaiian_pacific_islander": "OCE",
}
_TRUE = {"1", "1.0", "yes", "y", "true", "t", "x", "checked"}
_FALSE = {"0", "0.0", "no", "n", "false", "f", "unchecked"}
_SHARED = ("q1", "q2", "q3", "q4", "q6", "q7", "q8", "q9")
_DISPLAY = {
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
}
_REGION_TEXT = {
    "bulbar": "bulbar",
    "limb": "limb",
    "limb and bulbar": "bulbar_limb",
    "bulbar and limb": "bulbar_limb",
    "limb bulbar": "bulbar_limb",
    "bulbar limb": "bulbar_limb",
    "both": "bulbar_limb",
    "upper limb": "upper_limb",
    "arm": "upper_limb",
    "lower limb": "lower_limb",
    "leg": "lower_limb",
    "respiratory": "respiratory",
    "trunk": "trunk",
    "axial": "trunk",
    "generalized": "generalised",
    "generalised": "generalised",
    "spine": "other",
    "spinal": "other",
    "other": "other",
}


# ----------------------------------------------------------------------------- helpers
def _empty(name: str) -> pd.DataFrame:
    """An empty canonical table with the bookkeeping columns."""
    return empty_table(TABLES[name]).assign(
        _source=pd.Series(dtype=object), _line=pd.Series(dtype="int64")
    )


def _concat(frames: list[pd.DataFrame], name: str) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else _empty(name)


def _flag_rows(
    log: ProblemLog,
    frame: pd.DataFrame,
    mask: np.ndarray,
    column: str | None,
    values: pd.Series | np.ndarray | None,
    rule: str,
) -> None:
    """One problem per True row of ``mask``, located by the row's ``_source``/``_line``."""
    log.add_mask(
        np.asarray(mask, dtype=bool),
        source=frame["_source"].to_numpy(),
        lines=frame["_line"].to_numpy(),
        column=column,
        values=values,
        rule=rule,
    )


def _blank_to_none(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` as an object array with None where ``mask`` is True."""
    out = np.asarray(values, dtype=object).copy()
    out[np.asarray(mask, dtype=bool)] = None
    return out


def _num(frame: pd.DataFrame, col: str) -> np.ndarray:
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return frame[col].to_numpy(dtype="float64", na_value=np.nan)


def _text(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame.columns:
        return pd.Series("", index=frame.index, dtype="string")
    return frame[col].astype("string").fillna("").str.strip().str.lower()


def _onehot(frame: pd.DataFrame, col: str) -> np.ndarray:
    """One-hot cell: empty or a "no" value = 0, anything else = 1 (defensive)."""
    t = _text(frame, col)
    return ((t != "") & ~t.isin(_FALSE)).to_numpy(dtype=bool)


def _yesno(frame: pd.DataFrame, col: str, display: str, log: ProblemLog) -> np.ndarray:
    t = _text(frame, col)
    out = np.where(t.isin(_TRUE), 1.0, np.where(t.isin(_FALSE), 0.0, np.nan))
    bad = ((t != "") & ~t.isin(_TRUE | _FALSE)).to_numpy(dtype=bool)
    _flag_rows(
        log, frame, bad, display, frame.get(col, None), "must be Yes or No (empty = unknown)"
    )
    return out


def _keep(frame: pd.DataFrame | None, onset: pd.Series) -> pd.DataFrame | None:
    if frame is None:
        return None
    return frame.loc[frame["subject_id"].isin(onset.index).to_numpy()].reset_index(drop=True)


def _day(frame: pd.DataFrame, delta: np.ndarray, onset: pd.Series) -> np.ndarray:
    return delta - frame["subject_id"].map(onset).to_numpy(dtype="float64")


def _classify(text: pd.Series, rules: list[tuple[str, str]]) -> np.ndarray:
    """First matching (regex, label) rule per cell; "" when no rule matches."""
    conds = [text.str.contains(pat, regex=True).to_numpy(dtype=bool) for pat, _ in rules]
    return np.select(conds, [lab for _, lab in rules], default="")


def _unit_factor(
    frame: pd.DataFrame,
    col: str,
    display: str,
    factors: dict[str, float],
    has_value: np.ndarray,
    *,
    strict: bool,
    log: ProblemLog,
    report: ImportReport,
    counter: str,
) -> np.ndarray:
    """Conversion factor per row; NaN (value dropped, counted; error if strict) when unknown."""
    t = _text(frame, col).str.replace(".", "", regex=False)
    f = t.map(factors).to_numpy(dtype="float64", na_value=np.nan)
    bad = has_value & ~np.isfinite(f)
    if strict:
        _flag_rows(
            log,
            frame,
            bad,
            display,
            frame.get(col, None),
            "unknown or missing unit; expected one of "
            + ", ".join(sorted(k for k in factors if k)),
        )
    report.count(counter, int(bad.sum()))
    return f


# ----------------------------------------------------------------------------- patients
def _onset(raw: RawData, report: ImportReport) -> tuple[pd.Series, pd.Series]:
    h = raw.tables.get("ALSHISTORY")
    if h is None:
        report.notes.append("no ALSHISTORY table: no subject can be re-anchored to onset")
        empty = pd.Series(dtype="float64")
        return empty, empty
    out = []
    for col, key in (
        ("onset_delta", "onset_delta_conflicts"),
        ("diagnosis_delta", "diagnosis_delta_conflicts"),
    ):
        d = h.loc[h[col].notna().to_numpy(), ["subject_id", col]]
        g = d.groupby("subject_id", sort=False)[col]
        report.count(key, int((g.nunique() > 1).sum()))
        out.append(g.first().astype("float64"))
    onset, diag = out
    late = onset > 0
    report.count("excluded_onset_after_entry", int(late.sum()))
    return onset.loc[~late], diag


def _regions(h: pd.DataFrame, *, strict: bool, log: ProblemLog, report: ImportReport) -> pd.Series:
    b, lm = _onehot(h, "site_of_onset_bulbar"), _onehot(h, "site_of_onset_limb")
    lb = _onehot(h, "site_of_onset_limb_and_bulbar")
    other = _onehot(h, "site_of_onset_other") | _onehot(h, "site_of_onset_spine")
    hot = np.select([lb | (b & lm), b, lm, other], ["bulbar_limb", "bulbar", "limb", "other"], "")
    raw_text = _text(h, "site_of_onset")
    t = (
        raw_text.str.replace(r"^\s*onset\s*:\s*", "", regex=True)
        .str.replace(r"[^a-z]+", " ", regex=True)
        .str.strip()
    )
    txt = t.map(_REGION_TEXT).fillna("").to_numpy(dtype=object)
    unknown = ((t != "") & (txt == "")).to_numpy(dtype=bool)
    if strict:
        _flag_rows(
            log,
            h,
            unknown,
            "Site_of_Onset",
            h.get("site_of_onset"),
            "onset site text not recognised (expected Bulbar, Limb, Limb and Bulbar, "
            "Spine or Other)",
        )
    report.count("onset_text_unrecognised", int(unknown.sum()))
    clash = (hot != "") & (txt != "") & (hot != txt)
    row = np.where(clash, "!", np.where(hot != "", hot, txt))
    r = pd.DataFrame({"subject_id": h["subject_id"].to_numpy(), "region": row})
    r = r.loc[r["region"] != ""]
    g = r.groupby("subject_id", sort=False)["region"]
    n = g.nunique()
    first = g.first()
    conflict = (n > 1) | (first == "!")
    report.count("onset_region_conflicts", int(conflict.sum()))
    report.count("onset_other_or_spine", int(((first == "other") & ~conflict).sum()))
    return first.where(~conflict & (first != "other"))


def _ancestry(d: pd.DataFrame) -> np.ndarray:
    flags = (
        np.column_stack([_onehot(d, c) for c in RACE_TO_ANCESTRY])
        if len(d)
        else np.zeros((0, len(RACE_TO_ANCESTRY)), dtype=bool)
    )
    n = flags.sum(axis=1)
    codes = np.asarray(list(RACE_TO_ANCESTRY.values()), dtype=object)
    single = codes[np.argmax(flags, axis=1)] if len(d) else np.zeros(0, dtype=object)
    other = _onehot(d, "race_other") | _onehot(d, "race_unknown")
    return _blank_to_none(
        (n == 0) & ~other, np.where(n >= 2, "mixed", np.where(n == 1, single, "unknown"))
    )


def _el_escorial(raw: RawData, *, strict: bool, log: ProblemLog, report: ImportReport) -> pd.Series:
    e = raw.tables.get("ELESCORIAL")
    if e is None or "category" not in e.columns:
        return pd.Series(dtype="string")
    t = _text(e, "category")
    cat = _classify(
        t,
        [
            ("definite", "definite"),
            ("lab", "probable_lab"),
            ("probable", "probable"),
            ("possible", "possible"),
            ("suspected", "suspected"),
        ],
    )
    bad = ((t != "") & (cat == "")).to_numpy(dtype=bool)
    if strict:
        _flag_rows(
            log,
            e,
            bad,
            "El Escorial category",
            e["category"],
            "El Escorial category not recognised",
        )
    report.count("el_escorial_unrecognised", int(bad.sum()))
    s = pd.Series(_blank_to_none(cat == "", cat), index=e["subject_id"].to_numpy())
    return s.dropna().groupby(level=0, sort=False).first()


def _patients(
    raw: RawData,
    onset: pd.Series,
    diag: pd.Series,
    *,
    strict: bool,
    log: ProblemLog,
    report: ImportReport,
) -> pd.DataFrame:
    h = _keep(raw.tables["ALSHISTORY"], onset)
    assert h is not None
    first = h.groupby("subject_id", sort=False)[["_source", "_line"]].first()
    ids = onset.index
    p = pd.DataFrame({"patient_id": ids, "site_id": SITE_ID}, index=ids)
    p["onset_region"] = _regions(h, strict=strict, log=log, report=report).reindex(ids)
    p["diagnosis_day"] = (diag.reindex(ids) - onset).round()
    d = _keep(raw.tables.get("DEMOGRAPHICS"), onset)
    if d is not None and len(d):
        sex_t = _text(d, "sex")
        sex = np.select([sex_t.isin(["male", "m"]), sex_t.isin(["female", "f"])], ["M", "F"], "")
        bad = ((sex == "") & ~sex_t.isin(["", "unknown", "not reported", "unk"])).to_numpy()
        _flag_rows(log, d, bad, "Sex", d.get("sex"), "sex must be Male or Female (empty = unknown)")
        ref = _num(d, "demographics_delta")
        work = pd.DataFrame(
            {
                "sex": _blank_to_none(sex == "", sex),
                "age": _num(d, "age"),
                "ref": np.where(np.isfinite(ref), ref, 0.0),
                "ancestry": _ancestry(d),
            },
            index=d["subject_id"].to_numpy(),
        )
        g = work.groupby(level=0, sort=False).first().reindex(ids)
        age_ref = (
            work.loc[np.isfinite(work["age"].to_numpy())]
            .groupby(level=0, sort=False)["ref"]
            .first()
            .reindex(ids)
        )
        p["sex"] = g["sex"]
        p["age_onset"] = g["age"] + (onset - age_ref) / DAYS_PER_YEAR
        p["ancestry"] = g["ancestry"].fillna("unknown")
    else:
        report.notes.append("no DEMOGRAPHICS table: sex, age and ancestry unknown")
        p["sex"], p["age_onset"], p["ancestry"] = None, np.nan, "unknown"
    p["el_escorial"] = (
        _el_escorial(raw, strict=strict, log=log, report=report).reindex(ids).fillna("unknown")
    )
    for c in (
        "criteria_version",
        "ftd",
        "family_history",
        "c9orf72",
        "sod1",
        "fus",
        "tardbp",
        "genetic_ancestry",
    ):
        p[c] = None
    p["anchor"] = "onset"
    p["_source"] = first["_source"].reindex(ids)
    p["_line"] = first["_line"].reindex(ids)
    return p.reset_index(drop=True)


# ----------------------------------------------------------------------------- ALSFRS
def _alsfrs(
    a: pd.DataFrame, onset: pd.Series, *, strict: bool, log: ProblemLog, report: ImportReport
) -> pd.DataFrame:
    it = {canon: _num(a, src) for src, canon in ITEM_COLUMNS.items()}
    rr = {canon: _num(a, src) for src, canon in R_COLUMNS.items()}
    q10o = _num(a, "q10_respiratory")
    tot_o, tot_r = _num(a, "alsfrs_total"), _num(a, "alsfrs_r_total")
    fin = np.isfinite
    r_mat = np.column_stack([rr[c] for c in ("q10", "q11", "q12")])
    sh_mat = np.column_stack([it[c] for c in _SHARED])
    has_r = fin(r_mat).any(axis=1)
    has_o = fin(q10o)
    any_item = fin(sh_mat).any(axis=1) | fin(it["q5a"]) | fin(it["q5b"]) | has_r | has_o
    instrument = np.select(
        [has_r, has_o, fin(tot_r), fin(tot_o)], ["alsfrs_r", "alsfrs", "alsfrs_r", "alsfrs"], ""
    )
    # Q5a and Q5b both filled
    both5 = fin(it["q5a"]) & fin(it["q5b"])
    if strict:
        _flag_rows(
            log,
            a,
            both5,
            f"{_DISPLAY['q5a']},{_DISPLAY['q5b']}",
            None,
            "both Q5a (without gastrostomy) and Q5b (with gastrostomy) are filled; exactly "
            "one applies (strict mode)",
        )
    else:
        it["q5a"] = np.where(both5, np.nan, it["q5a"])
        report.q5_conflicts_resolved += int(both5.sum())
    q5 = np.where(fin(it["q5a"]), it["q5a"], it["q5b"])
    resp_ok = np.where(
        instrument == "alsfrs_r",
        fin(r_mat).all(axis=1),
        np.where(instrument == "alsfrs", has_o, False),
    )
    complete = any_item & fin(sh_mat).all(axis=1) & fin(q5) & resp_ok
    partial = any_item & ~complete
    if strict and partial.any():
        need = np.column_stack(
            [
                fin(sh_mat),
                fin(q5),
                fin(r_mat) | (instrument != "alsfrs_r")[:, None],
                has_o | (instrument != "alsfrs"),
            ]
        )
        names = [
            *(_DISPLAY[c] for c in _SHARED),
            "Q5a/Q5b",
            "R_1_Dyspnea/R_2_Orthopnea/R_3_Respiratory_Insufficiency",
            "Q10_Respiratory or R_1..R_3",
        ]
        miss = np.asarray(names, dtype=object)[np.argmin(need, axis=1)]
        _flag_rows(
            log,
            a,
            partial,
            None,
            miss,
            "incomplete ALSFRS: this item is empty while others are filled (items are "
            "used all together or not at all; strict mode)",
        )
    report.count("alsfrs_partial_item_rows_dropped_items", int(partial.sum()))
    keep_items = complete[:, None]
    sum_items = (
        np.nan_to_num(sh_mat).sum(axis=1)
        + np.nan_to_num(q5)
        + np.where(instrument == "alsfrs_r", np.nan_to_num(r_mat).sum(axis=1), np.nan_to_num(q10o))
    )
    reported = np.where(
        instrument == "alsfrs_r", tot_r, np.where(instrument == "alsfrs", tot_o, np.nan)
    )
    with np.errstate(invalid="ignore"):
        disagree = complete & fin(reported) & (np.abs(reported - sum_items) > 1e-9)
    if strict:
        disagree &= ~both5  # already refused; the item sum is undefined
    if strict:
        tot_col = np.where(instrument == "alsfrs_r", "ALSFRS_R_Total", "ALSFRS_Total")
        for col in ("ALSFRS_R_Total", "ALSFRS_Total"):
            m = disagree & (tot_col == col)
            _flag_rows(
                log,
                a,
                m,
                col,
                reported,
                "reported total disagrees with the sum of the items (strict mode)",
            )
    report.totals_recomputed += int(disagree.sum())
    reported = np.where(disagree, np.nan, reported)
    item_mat = np.column_stack([sh_mat, it["q5a"], it["q5b"], r_mat, q10o])
    with np.errstate(invalid="ignore"):
        half = complete & (np.abs(item_mat - np.round(item_mat)) > 1e-9).any(axis=1)
    report.half_point_rows += int(half.sum())
    report.count("alsfrs_total_only_rows", int((~any_item & fin(reported)).sum()))
    out = pd.DataFrame(
        {"patient_id": a["subject_id"].to_numpy(), "day": _day(a, _num(a, "alsfrs_delta"), onset)}
    )
    for c, v in (*zip(_SHARED, sh_mat.T, strict=True), ("q5a", it["q5a"]), ("q5b", it["q5b"])):
        out[c] = np.where(keep_items[:, 0], v, np.nan)
    for c, v in zip(("q10", "q11", "q12"), r_mat.T, strict=True):
        out[c] = np.where(complete & (instrument == "alsfrs_r"), v, np.nan)
    out["q10_alsfrs"] = np.where(complete, q10o, np.nan)
    out["total_reported"] = reported
    has_any = complete | fin(reported)
    out["instrument"] = _blank_to_none(~has_any, instrument)
    out["mode"] = _mode(a)
    out["respondent"] = _respondent(a)
    out["_source"] = a["_source"].to_numpy()
    out["_line"] = a["_line"].to_numpy()
    empty = ~has_any
    report.count("alsfrs_rows_without_items_or_total", int(empty.sum()))
    out = out.loc[~empty]
    score = complete[~empty].astype(int) * 2 + fin(reported[~empty]).astype(int)
    out = out.assign(_score=-score, _ord=np.arange(len(out)))
    out = out.sort_values(["patient_id", "day", "_score", "_ord"], kind="stable")
    dup = out.duplicated(["patient_id", "day"], keep="first").to_numpy()
    report.count("alsfrs_same_day_rows_dropped", int(dup.sum()))
    return out.loc[~dup].drop(columns=["_score", "_ord"]).reset_index(drop=True)


def _mode(a: pd.DataFrame) -> np.ndarray:
    t = _text(a, "mode_of_administration")
    m = _classify(
        t,
        [
            ("video", "video"),
            ("online|web|internet|self", "self_online"),
            ("phone|telephon", "phone"),
            ("person|clinic|site|visit", "in_person"),
        ],
    )
    return _blank_to_none(m == "", m)


def _respondent(a: pd.DataFrame) -> np.ndarray:
    t = _text(a, "alsfrs_responded_by")
    m = _classify(
        t,
        [
            ("care|family|spouse|proxy|partner", "caregiver"),
            ("patient|subject|self", "patient"),
            ("clinic|physician|investigat|rater|nurse|evaluat|staff|coordinat", "clinician"),
        ],
    )
    return _blank_to_none(m == "", m)


# ----------------------------------------------------------------------------- measurements
_LITRES = {"": 1.0, "l": 1.0, "liter": 1.0, "liters": 1.0, "litre": 1.0, "litres": 1.0}


def _vital_capacity(
    f: pd.DataFrame,
    kind: str,
    delta_col: str,
    unit_col: str,
    onset: pd.Series,
    *,
    strict: bool,
    log: ProblemLog,
    report: ImportReport,
) -> pd.DataFrame:
    lit = np.column_stack([_num(f, f"subject_liters_trial_{t}") for t in "123"])
    pct = np.column_stack([_num(f, f"pct_of_normal_trial_{t}") for t in "123"])
    with np.errstate(invalid="ignore"):
        report.count(f"{kind}_nonpositive_trials_ignored", int(((lit <= 0) | (pct <= 0)).sum()))
        lit = np.where(lit > 0, lit, np.nan)
        pct = np.where(pct > 0, pct, np.nan)
    best_l = np.fmax.reduce(lit, axis=1)
    best_p = np.fmax.reduce(pct, axis=1)
    factor = _unit_factor(
        f,
        unit_col,
        unit_col.title(),
        _LITRES,
        np.isfinite(best_l),
        strict=strict,
        log=log,
        report=report,
        counter=f"{kind}_unit_unknown",
    )
    best_l = best_l * factor
    out = pd.DataFrame(
        {
            "patient_id": f["subject_id"].to_numpy(),
            "day": _day(f, _num(f, delta_col), onset),
            f"{kind}_l": best_l,
            f"{kind}_pct": best_p,
            "_source": f["_source"].to_numpy(),
            "_line": f["_line"].to_numpy(),
        }
    )
    out = out.loc[np.isfinite(best_l) | np.isfinite(best_p)]
    g = out.groupby(["patient_id", "day"], sort=False)
    report.count(f"{kind}_same_day_rows_merged", int(len(out) - g.ngroups))
    agg = g.agg({f"{kind}_l": "max", f"{kind}_pct": "max", "_source": "first", "_line": "first"})
    return agg.reset_index()


_KG = {
    "kg": 1.0,
    "kgs": 1.0,
    "kilogram": 1.0,
    "kilograms": 1.0,
    "lb": LB_TO_KG,
    "lbs": LB_TO_KG,
    "pound": LB_TO_KG,
    "pounds": LB_TO_KG,
}


def _weights(
    v: pd.DataFrame, onset: pd.Series, *, strict: bool, log: ProblemLog, report: ImportReport
) -> pd.DataFrame:
    w = _num(v, "weight")
    factor = _unit_factor(
        v,
        "weight_units",
        "Weight_Units",
        _KG,
        np.isfinite(w),
        strict=strict,
        log=log,
        report=report,
        counter="weights_dropped_unknown_unit",
    )
    kg = w * factor
    out = pd.DataFrame(
        {
            "patient_id": v["subject_id"].to_numpy(),
            "day": _day(v, _num(v, "vital_signs_delta"), onset),
            "weight_kg": kg,
            "_source": v["_source"].to_numpy(),
            "_line": v["_line"].to_numpy(),
        }
    )
    out = out.loc[np.isfinite(kg)]
    dup = out.duplicated(["patient_id", "day"], keep="first").to_numpy()
    report.count("weights_same_day_dropped", int(dup.sum()))
    return out.loc[~dup]


_PG_ML = {"": 1.0, "pg/ml": 1.0, "pg/ml ": 1.0, "ng/l": 1.0, "pgml": 1.0, "ng/ml": 1000.0}


def _neurofilament(
    nf: pd.DataFrame,
    onset: pd.Series,
    *,
    strict: bool,
    log: ProblemLog,
    report: ImportReport,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    value = _num(nf, "value")
    factor = _unit_factor(
        nf,
        "unit",
        "unit",
        _PG_ML,
        np.isfinite(value),
        strict=strict,
        log=log,
        report=report,
        counter="nfl_unit_unknown",
    )
    analyte_t = _text(nf, "analyte")
    analyte = _classify(
        analyte_t, [("pnfh|heavy|nf h|nfh", "pnfh"), ("nfl|nf l|nf-l|light|neurofilament", "nfl")]
    )
    if "analyte" not in nf.columns:
        analyte = np.full(len(nf), "nfl", dtype=object)
        report.notes.append("Neurofilament table has no analyte column: values taken as NfL")
    matrix = _classify(
        _text(nf, "matrix"),
        [("serum", "serum"), ("plasma", "plasma"), ("csf|cerebro|spinal", "csf")],
    )
    unknown = np.isfinite(value) & ((analyte == "") | (matrix == ""))
    if strict:
        _flag_rows(
            log,
            nf,
            unknown,
            "analyte/matrix",
            None,
            "Neurofilament analyte or matrix not recognised (NfL/pNfH; serum/plasma/CSF)",
        )
    report.count("nfl_rows_unrecognised", int(unknown.sum()))
    out = pd.DataFrame(
        {
            "patient_id": nf["subject_id"].to_numpy(),
            "day": _day(nf, _num(nf, "delta"), onset),
            "analyte": analyte,
            "matrix": matrix,
            "assay": nf["assay"].to_numpy() if "assay" in nf else None,
            "value_pg_ml": value * factor,
            "_source": nf["_source"].to_numpy(),
            "_line": nf["_line"].to_numpy(),
        }
    )
    out = out.loc[np.isfinite(out["value_pg_ml"].to_numpy()) & ~unknown]
    dup = out.duplicated(["patient_id", "day", "analyte", "matrix"], keep="first").to_numpy()
    report.count("nfl_same_day_dropped", int(dup.sum()))
    out = out.loc[~dup]
    serum = (out["analyte"] == "nfl") & (out["matrix"] == "serum")
    visits = out.loc[serum, ["patient_id", "day", "value_pg_ml", "_source", "_line"]].rename(
        columns={"value_pg_ml": "nfl_serum_pg_ml"}
    )
    return visits, out.loc[~serum].reset_index(drop=True)


# ----------------------------------------------------------------------------- events, treatments
def _deaths(
    dd: pd.DataFrame, onset: pd.Series, *, strict: bool, log: ProblemLog, report: ImportReport
) -> pd.DataFrame:
    died = _yesno(dd, "subject_died", "Subject_Died", log)
    days = _num(dd, "death_days")
    has_day = np.isfinite(days)
    contradiction = has_day & (died == 0)
    if strict:
        _flag_rows(
            log,
            dd,
            contradiction,
            "Death_Days",
            dd["death_days"],
            "Death_Days is filled but Subject_Died is No (strict mode)",
        )
    report.count("death_days_with_subject_died_no_dropped", int(contradiction.sum()))
    report.count("deaths_without_day", int(((died == 1) & ~has_day).sum()))
    ok = has_day & (died != 0)
    out = pd.DataFrame(
        {
            "patient_id": dd["subject_id"].to_numpy(),
            "event": "death",
            "day": _day(dd, days, onset),
            "_source": dd["_source"].to_numpy(),
            "_line": dd["_line"].to_numpy(),
        }
    ).loc[ok]
    dup = out.duplicated(["patient_id"], keep="first").to_numpy()
    report.count("death_rows_duplicate_dropped", int(dup.sum()))
    return out.loc[~dup]


def _riluzole(
    r: pd.DataFrame, onset: pd.Series, *, log: ProblemLog, report: ImportReport
) -> pd.DataFrame:
    used = _yesno(r, "subject_used_riluzole", "Subject_used_Riluzole", log)
    delta = _num(r, "riluzole_use_delta")
    report.count("riluzole_without_delta", int(((used == 1) & ~np.isfinite(delta)).sum()))
    ok = (used == 1) & np.isfinite(delta)
    return pd.DataFrame(
        {
            "patient_id": r["subject_id"].to_numpy(),
            "treatment": "riluzole",
            "start_day": _day(r, delta, onset),
            "stop_day": np.nan,
            "trial_id": None,
            "arm": None,
            "_source": r["_source"].to_numpy(),
            "_line": r["_line"].to_numpy(),
        }
    ).loc[ok]


def _trial_arms(t: pd.DataFrame, onset: pd.Series, report: ImportReport) -> pd.DataFrame:
    arm = _text(t, "study_arm")
    delta = _num(t, "treatment_group_delta")
    report.count("trial_arm_start_taken_as_day0", int(((arm != "") & ~np.isfinite(delta)).sum()))
    delta = np.where(np.isfinite(delta), delta, 0.0)
    return pd.DataFrame(
        {
            "patient_id": t["subject_id"].to_numpy(),
            "treatment": "trial",
            "start_day": _day(t, delta, onset),
            "stop_day": np.nan,
            "trial_id": None,
            "arm": arm.to_numpy(dtype=object),
            "_source": t["_source"].to_numpy(),
            "_line": t["_line"].to_numpy(),
        }
    ).loc[(arm != "").to_numpy()]


# ----------------------------------------------------------------------------- main
def map_tables(
    raw: RawData, *, strict: bool, log: ProblemLog, report: ImportReport
) -> dict[str, pd.DataFrame]:
    """Map typed PRO-ACT tables to canonical tables (plus ``_source``/``_line``).

    Parameters
    ----------
    raw : RawData
        Output of :func:`alsnet.io.proact._raw.read_raw`.
    strict : bool
        Turn resolvable conflicts (Q5a+Q5b, totals, partial items, unknown units and
        onset text) into errors instead of documented resolutions.
    log : ProblemLog
        Receives problems.
    report : ImportReport
        Receives counts.

    Returns
    -------
    dict of str to DataFrame
        ``sites``, ``patients``, ``visits``, ``events``, ``treatments``, ``biomarkers``;
        ``patient_id`` still holds the PRO-ACT subject id.
    """
    subjects = pd.Index(
        np.unique(
            np.concatenate(
                [t["subject_id"].dropna().to_numpy(dtype=object) for t in raw.tables.values()]
                or [np.zeros(0, dtype=object)]
            )
        )
    )
    report.subjects_read = len(subjects)
    onset, diag = _onset(raw, report)
    onset = onset.loc[onset.index.isin(subjects)]
    report.subjects_excluded_no_onset = int(len(subjects) - len(onset))
    tables: dict[str, pd.DataFrame] = {
        "sites": pd.DataFrame(
            {
                "site_id": [SITE_ID],
                "role": [None],
                "country": [None],
                "jurisdiction": [None],
                "_source": ["PRO-ACT"],
                "_line": [1],
            }
        ),
    }
    if "ALSHISTORY" in raw.tables:
        tables["patients"] = _patients(raw, onset, diag, strict=strict, log=log, report=report)
    else:
        tables["patients"] = _empty("patients")

    def part(name: str) -> pd.DataFrame | None:
        return _keep(raw.tables.get(name), onset)

    parts = []
    if (a := part("ALSFRS")) is not None:
        parts.append(_alsfrs(a, onset, strict=strict, log=log, report=report))
    if (f := part("FVC")) is not None:
        parts.append(
            _vital_capacity(
                f,
                "fvc",
                "forced_vital_capacity_delta",
                "forced_vital_capacity_units",
                onset,
                strict=strict,
                log=log,
                report=report,
            )
        )
    if (s := part("SVC")) is not None:
        parts.append(
            _vital_capacity(
                s,
                "svc",
                "slow_vital_capacity_delta",
                "slow_vital_capacity_units",
                onset,
                strict=strict,
                log=log,
                report=report,
            )
        )
    if (v := part("VITALSIGNS")) is not None:
        parts.append(_weights(v, onset, strict=strict, log=log, report=report))
    biomarkers = _empty("biomarkers")
    if (nf := part("NEUROFILAMENT")) is not None and "value" in nf.columns:
        serum, biomarkers = _neurofilament(nf, onset, strict=strict, log=log, report=report)
        parts.append(serum)
    events = _empty("events")
    if (dd := part("DEATHDATA")) is not None:
        events = _deaths(dd, onset, strict=strict, log=log, report=report)
    treat: list[pd.DataFrame] = []
    if (r := part("RILUZOLE")) is not None:
        treat.append(_riluzole(r, onset, log=log, report=report))
    if (t := part("TREATMENT")) is not None:
        treat.append(_trial_arms(t, onset, report))
    treatments = _concat(treat, "treatments")
    tdup = treatments.duplicated(["patient_id", "treatment", "start_day"], keep="first")
    report.count("treatment_rows_duplicate_dropped", int(tdup.sum()))
    tables["treatments"] = treatments.loc[~tdup.to_numpy()].reset_index(drop=True)
    visits = _merge_visits(parts)
    if not strict and len(events) and len(visits):
        dday = visits["patient_id"].map(events.set_index("patient_id")["day"])
        after = (visits["day"] > dday).fillna(False).to_numpy(dtype=bool)
        report.count("visits_after_death_dropped", int(after.sum()))
        visits = visits.loc[~after].reset_index(drop=True)
    tables["visits"] = visits
    tables["events"] = events.reset_index(drop=True)
    tables["biomarkers"] = biomarkers if len(biomarkers) else _empty("biomarkers")
    for name in raw.ignored:
        report.notes.append(f"{name} not imported (the importer does not map this table)")
    return tables


def _merge_visits(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Outer-merge visit parts on (patient, day).

    ``_source``/``_line`` name the first part's row (ALSFRS first); ``_src:<col>`` and
    ``_ln:<col>`` name the row each value came from, so problems point at the right file.
    """
    parts = [p for p in parts if len(p)]
    if not parts:
        return _empty("visits")
    located = []
    for part in parts:
        extra = {}
        for c in part.columns:
            if c in ("patient_id", "day") or c.startswith("_"):
                continue
            has = part[c].notna().to_numpy()
            extra[f"_src:{c}"] = part["_source"].where(has)
            extra[f"_ln:{c}"] = part["_line"].where(has)
        located.append(part.assign(**extra))
    allv = pd.concat(located, ignore_index=True)
    allv["day"] = allv["day"].astype("float64")
    merged = allv.groupby(["patient_id", "day"], sort=True).first().reset_index()
    if "instrument" not in merged.columns:
        merged["instrument"] = None
    return merged
