"""Interim and final analysis of a live platform trial from registry data.

Inputs: a :class:`~alsnet.trials.design.PlatformDesign`, a registry
:class:`~alsnet.cohort.Cohort` (visits with ALSFRS-R, events) and an **allocation** table,
one row per randomised patient:

``patient_id``
    Pseudonymous id (as in the registry).
``regimen``
    Regimen name of the design (the regimen the patient was randomised within).
``arm``
    ``active`` or ``placebo``.
``randomised_day``
    Day of randomisation on the patient's registry day axis (days since the patient's
    anchor, like ``visits.day``); visit times are counted from it.
``calendar_day`` (optional)
    Day of randomisation since the platform opened. Needed for concurrent control sharing
    and for the calendar-time (period) adjustment; without it every placebo patient counts
    as concurrent and no time adjustment is made.

:func:`allocation_from_cohort` builds it from the registry ``treatments`` table (rows with
``treatment = "trial"``, the trial's ``trial_id``, ``arm = "<regimen>:active"`` or
``"<regimen>:placebo"`` and ``start_day`` = randomisation day).

For each regimen the analysis uses its active patients and its controls (per the design's
``control_sharing`` rule: own placebo; own plus placebo randomised within the window of the
regimen's enrolment; or all placebo, non-concurrent ones with a calendar-period adjustment)
and runs:

- the Bayesian shared-parameter DRR model (:mod:`alsnet.trials.model`; Laplace, plus NumPyro
  MCMC with ``mcmc=True``);
- a frequentist linear mixed model of ALSFRS-R (random intercept and slope per patient;
  slope difference active - control, statsmodels ``MixedLM``);
- CAFS (:func:`alsnet.trials.cafs.cafs`, one-sided: active better);
- PROCOVA (:func:`alsnet.twin.procova.procova_ancova`) of the per-patient OLS slope on a
  prognostic score (e.g. the digital twin's forecast of the untreated slope), if scores are
  given;

and applies the design's decision rules (interim: futility / early success; final: success).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from alsnet.cohort import Cohort
from alsnet.exceptions import DataValidationError, Problem
from alsnet.trials._errors import TrialDesignError
from alsnet.trials.cafs import cafs
from alsnet.trials.design import WEEKS_TO_MONTHS, PlatformDesign
from alsnet.trials.model import DrrData, DrrPosterior, _summaries, fit_drr_laplace, fit_drr_mcmc

__all__ = [
    "ALLOCATION_COLUMNS",
    "RegimenAnalysis",
    "TrialAnalysis",
    "allocation_from_cohort",
    "allocation_from_frame",
    "analyse_trial",
]

log = logging.getLogger(__name__)

#: Required columns of an allocation table (``calendar_day`` is optional).
ALLOCATION_COLUMNS = ("patient_id", "regimen", "arm", "randomised_day")
_ARMS = ("active", "placebo")
_EVENTS = ("death", "pav", "tracheostomy")
_DAY_TO_MONTH = WEEKS_TO_MONTHS / 7.0
_WINDOW_DAYS = 14  # visit window around a scheduled visit (days)


# ------------------------------------------------------------------------------ allocation
def allocation_from_frame(
    frame: pd.DataFrame, design: PlatformDesign, *, source: str = "allocation"
) -> pd.DataFrame:
    """Validate an allocation table (see the module docstring); errors name row and column.

    Returns
    -------
    DataFrame
        Columns ``patient_id`` (str), ``regimen`` (str), ``arm`` (str), ``randomised_day``
        (int) and ``calendar_day`` (float, NaN when unknown).

    Raises
    ------
    DataValidationError
        Missing columns, unknown regimens or arms, non-integer days, duplicate patients.
    """
    problems: list[Problem] = []
    missing = [c for c in ALLOCATION_COLUMNS if c not in frame.columns]
    if missing:
        raise DataValidationError(
            [Problem(source, None, c, None, "required column missing") for c in missing]
        )
    df = frame.reset_index(drop=True)
    regimens = {r.name for r in design.regimens}
    reg = df["regimen"].astype("string")
    arm = df["arm"].astype("string").str.strip().str.lower()
    day = pd.to_numeric(df["randomised_day"], errors="coerce")
    cal = (
        pd.to_numeric(df["calendar_day"], errors="coerce")
        if "calendar_day" in df.columns
        else pd.Series(np.nan, index=df.index)
    )
    for i in np.flatnonzero(~reg.isin(regimens).fillna(False).to_numpy(dtype=bool))[:10]:
        problems.append(
            Problem(source, int(i) + 2, "regimen", str(reg.iloc[i]), f"not in {sorted(regimens)}")
        )
    for i in np.flatnonzero(~arm.isin(_ARMS).fillna(False).to_numpy(dtype=bool))[:10]:
        problems.append(
            Problem(source, int(i) + 2, "arm", str(arm.iloc[i]), "must be active or placebo")
        )
    bad_day = day.isna() | (day != day.round())
    for i in np.flatnonzero(bad_day.to_numpy(dtype=bool))[:10]:
        problems.append(
            Problem(source, int(i) + 2, "randomised_day", None, "must be an integer day")
        )
    dup = df["patient_id"].astype("string").duplicated()
    for i in np.flatnonzero(dup.to_numpy(dtype=bool))[:10]:
        problems.append(Problem(source, int(i) + 2, "patient_id", None, "patient randomised twice"))
    if problems:
        raise DataValidationError(problems)
    return pd.DataFrame(
        {
            "patient_id": df["patient_id"].astype(str),
            "regimen": reg.astype(str),
            "arm": arm.astype(str),
            "randomised_day": day.astype(np.int64),
            "calendar_day": cal.astype(np.float64),
        }
    )


def allocation_from_cohort(cohort: Cohort, trial_id: str, design: PlatformDesign) -> pd.DataFrame:
    """Allocation of trial ``trial_id`` from the registry ``treatments`` table.

    Rows with ``treatment = "trial"`` and ``trial_id = trial_id``; ``arm`` must read
    ``"<regimen>:active"`` or ``"<regimen>:placebo"``; ``start_day`` is the randomisation day.
    No calendar day is stored in the registry (use an allocation file for that).
    """
    tr = cohort.tables.get("treatments")
    if tr is None or tr.empty:
        raise TrialDesignError("treatments: the registry has no treatment rows")
    rows = tr[(tr["treatment"].astype("string") == "trial") & (tr["trial_id"] == trial_id)]
    if rows.empty:
        raise TrialDesignError(
            f"treatments: no rows with treatment=trial and trial_id={trial_id!r}"
        )
    parts = rows["arm"].astype("string").str.split(":", n=1, expand=True)
    if parts.shape[1] < 2:
        raise TrialDesignError(
            "treatments.arm: must read '<regimen>:active' or '<regimen>:placebo'"
        )
    frame = pd.DataFrame(
        {
            "patient_id": rows["patient_id"].to_numpy(),
            "regimen": parts[0].to_numpy(),
            "arm": parts[1].to_numpy(),
            "randomised_day": rows["start_day"].to_numpy(),
        }
    )
    return allocation_from_frame(frame, design, source="treatments")


# ------------------------------------------------------------------------------ patient data
@dataclass(frozen=True)
class _PatientData:
    """Allocation joined with the outcomes (one row per allocated patient, same order)."""

    alloc: pd.DataFrame
    visits: pd.DataFrame  # patient row index, month, week slot, alsfrs
    event: np.ndarray
    event_month: np.ndarray  # NaN if no event in follow-up
    exposure_months: np.ndarray


def _patient_data(design: PlatformDesign, cohort: Cohort, alloc: pd.DataFrame) -> _PatientData:
    from alsnet.clinical.alsfrs import alsfrs_scores

    idx = pd.Series(np.arange(len(alloc)), index=pd.Index(alloc["patient_id"]))
    fu_days = design.follow_up_weeks * 7.0
    v = cohort.visits
    v = v[v["patient_id"].isin(idx.index)]
    total = alsfrs_scores(v)["alsfrs_r_total"].to_numpy(dtype=np.float64)
    row = idx.reindex(v["patient_id"].to_numpy()).to_numpy()
    rel = v["day"].to_numpy(dtype=np.float64) - alloc["randomised_day"].to_numpy()[row]
    keep = np.isfinite(total) & (rel >= -_WINDOW_DAYS) & (rel <= fu_days + _WINDOW_DAYS)
    row, rel, total = row[keep], np.maximum(rel[keep], 0.0), total[keep]
    weeks = np.asarray(design.visit_weeks)
    mids = (weeks[1:] + weeks[:-1]) / 2.0
    slot = np.searchsorted(mids, rel / 7.0)
    visits = pd.DataFrame(
        {"row": row, "month": rel * _DAY_TO_MONTH, "slot": slot, "alsfrs": total}
    ).sort_values(["row", "month"], kind="stable")
    ev = cohort.events
    ev = ev[ev["event"].astype("string").isin(_EVENTS) & ev["patient_id"].isin(idx.index)]
    er = idx.reindex(ev["patient_id"].to_numpy()).to_numpy()
    erel = ev["day"].to_numpy(dtype=np.float64) - alloc["randomised_day"].to_numpy()[er]
    first = np.full(len(alloc), np.inf)
    np.minimum.at(first, er, np.where(erel >= 0, erel, np.inf))
    event = first <= fu_days
    last_seen = np.zeros(len(alloc))
    np.maximum.at(last_seen, visits["row"].to_numpy(), visits["month"].to_numpy() / _DAY_TO_MONTH)
    exposure = np.where(event, first, np.minimum(last_seen, fu_days)) * _DAY_TO_MONTH
    return _PatientData(
        alloc=alloc,
        visits=visits,
        event=event,
        event_month=np.where(event, first * _DAY_TO_MONTH, np.nan),
        exposure_months=exposure,
    )


def _periods(design: PlatformDesign, alloc: pd.DataFrame) -> np.ndarray:
    """Calendar period of each patient: breakpoints where a regimen starts or stops enrolling."""
    cal = alloc["calendar_day"].to_numpy()
    g = alloc.groupby("regimen")["calendar_day"]
    cuts = np.unique(np.r_[g.min().to_numpy(), g.max().to_numpy() + 0.5])
    inner = cuts[(cuts > np.nanmin(cal)) & (cuts <= np.nanmax(cal))]
    return np.searchsorted(inner, cal, side="right").astype(np.int64)


def _controls(design: PlatformDesign, alloc: pd.DataFrame, regimen: str) -> np.ndarray:
    """Boolean mask of the placebo patients used as controls of ``regimen``."""
    plc = (alloc["arm"] == "placebo").to_numpy()
    own = plc & (alloc["regimen"] == regimen).to_numpy()
    rule = design.control_sharing.rule
    has_cal = bool(alloc["calendar_day"].notna().all())
    if rule == "own":
        return own
    if rule in ("all", "nonconcurrent") or not has_cal:
        return plc
    cal = alloc["calendar_day"].to_numpy()
    mine = cal[(alloc["regimen"] == regimen).to_numpy()]
    w = design.control_sharing.window_months / _DAY_TO_MONTH
    return own | (plc & (cal >= mine.min() - w) & (cal <= mine.max() + w))


# ------------------------------------------------------------------------------ analyses
def _mixed_model(visits: pd.DataFrame, active: np.ndarray, period: np.ndarray) -> dict[str, Any]:
    """ALSFRS-R ~ month + month:active (+ month:period) with random intercept and slope."""
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    df = visits.assign(
        active=active[visits["row"].to_numpy()].astype(float),
        period=period[visits["row"].to_numpy()],
    )
    formula = "alsfrs ~ month + month:active"
    if len(np.unique(period)) > 1:
        formula += " + month:C(period)"
    out: dict[str, Any] = {"model": "MixedLM " + formula + ", random intercept and slope"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = smf.mixedlm(formula, df, groups=df["row"], re_formula="~month").fit(reml=True)
        except (np.linalg.LinAlgError, ValueError) as exc:
            out.update(error=f"mixed model failed: {type(exc).__name__}")
            return out
    ctrl = float(fit.params["month"])
    diff = float(fit.params["month:active"])
    se = float(fit.bse["month:active"])
    z = diff / se if se > 0 else float("nan")
    out.update(
        control_slope=ctrl,
        slope_difference=diff,
        slope_difference_se=se,
        z=z,
        p_one_sided=float(special.ndtr(-z)),
        slope_ratio=(ctrl + diff) / ctrl if ctrl != 0 else float("nan"),
        converged=bool(fit.converged)
        and not any(issubclass(w.category, ConvergenceWarning) for w in caught),
    )
    return out


def _cafs(design: PlatformDesign, pdata: _PatientData, rows: np.ndarray) -> dict[str, Any]:
    """CAFS of the selected patients (active better = one-sided ``greater``)."""
    n_slot = len(design.visit_weeks)
    vis = pdata.visits[np.isin(pdata.visits["row"], rows)]
    pos = pd.Series(np.arange(rows.size), index=rows)
    mat = np.full((rows.size, n_slot), np.nan)
    last = vis.groupby(["row", "slot"], sort=False)["alsfrs"].last()
    r_i = pos.reindex(last.index.get_level_values(0)).to_numpy()
    mat[r_i, last.index.get_level_values(1).to_numpy()] = last.to_numpy()
    change = mat[:, 1:] - mat[:, :1]
    active = (pdata.alloc["arm"].to_numpy()[rows] == "active").astype(bool)
    ok = np.isfinite(mat[:, 0])
    if ok.sum() < 4 or active[ok].all() or not active[ok].any():
        return {"error": "too few patients with a baseline ALSFRS-R"}
    res = cafs(
        pdata.event[rows][ok],
        pdata.event_month[rows][ok],
        change[ok],
        active[ok],
        alternative="greater",
    )
    return {str(k): v for k, v in res.summary().iloc[0].items()}


def _procova(
    pdata: _PatientData, rows: np.ndarray, data: DrrData, scores: pd.Series
) -> dict[str, Any]:
    from alsnet.twin.procova import procova_ancova

    s = _summaries(data)
    sc = scores.reindex(pdata.alloc["patient_id"].to_numpy()[rows]).to_numpy(dtype=np.float64)
    ok = s.has2 & np.isfinite(sc)
    if ok.sum() < 4:
        return {"error": "fewer than 4 patients with a score and >= 2 visits"}
    r = procova_ancova(s.slope[ok], data.active[ok].astype(float), sc[ok])
    return {
        "estimate": r.estimate,
        "se": r.se,
        "ci_low": r.ci_low,
        "ci_high": r.ci_high,
        "pvalue": r.pvalue,
        "n_treated": r.n_treated,
        "n_control": r.n_control,
    }


# ------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class RegimenAnalysis:
    """Analysis of one regimen at one look.

    Attributes
    ----------
    regimen : str
    n_active, n_control, n_nonconcurrent : int
        Active patients, controls used, and of those the non-concurrent ones.
    drr : DrrPosterior
        Laplace posterior of the DRR (the decision uses the MCMC one when present).
    drr_mcmc : DrrPosterior or None
    mixed_model, cafs, procova : dict
        Secondary analyses (empty / ``error`` entries when not run or not possible).
    decision : str
        ``success``, ``no success`` (final); ``stop for futility``, ``early success``,
        ``continue`` (interim).
    rule : str
        The rule applied, with the posterior probability or z.
    """

    regimen: str
    n_active: int
    n_control: int
    n_nonconcurrent: int
    drr: DrrPosterior
    drr_mcmc: DrrPosterior | None
    mixed_model: dict[str, Any]
    cafs: dict[str, Any]
    procova: dict[str, Any]
    decision: str
    rule: str

    @property
    def primary(self) -> DrrPosterior:
        """The posterior the decision is based on (MCMC when run)."""
        return self.drr_mcmc if self.drr_mcmc is not None else self.drr


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


@dataclass(frozen=True)
class TrialAnalysis:
    """Interim or final analysis of a live platform trial (all regimens analysed)."""

    design: str
    look: str
    time_adjusted: bool
    regimens: tuple[RegimenAnalysis, ...]
    enrolment: pd.DataFrame
    trajectories: pd.DataFrame
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> pd.DataFrame:
        """One row per regimen: n, DRR mean and 95% CrI, Pr(DRR<1), Pr(DRR<0.9), decision."""
        rows = []
        for r in self.regimens:
            p = r.primary
            rows.append(
                {
                    "regimen": r.regimen,
                    "n_active": r.n_active,
                    "n_control": r.n_control,
                    "n_nonconcurrent": r.n_nonconcurrent,
                    "method": p.method,
                    "drr_mean": p.drr_mean,
                    "drr_ci_low": p.drr_ci[0],
                    "drr_ci_high": p.drr_ci[1],
                    "pr_drr_lt_1": p.pr_below(1.0),
                    "pr_drr_lt_0.9": p.pr_below(0.9),
                    "decision": r.decision,
                }
            )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON result (aggregates only, no patient-level values)."""
        regs = []
        for r in self.regimens:
            regs.append(
                {
                    "name": r.regimen,
                    "n_active": r.n_active,
                    "n_control": r.n_control,
                    "n_nonconcurrent": r.n_nonconcurrent,
                    "drr": r.drr.to_dict(),
                    "drr_mcmc": None if r.drr_mcmc is None else r.drr_mcmc.to_dict(),
                    "mixed_model": r.mixed_model,
                    "cafs": r.cafs,
                    "procova": r.procova,
                    "decision": r.decision,
                    "rule": r.rule,
                }
            )
        return _jsonable(
            {
                "design": self.design,
                "look": self.look,
                "time_adjusted": self.time_adjusted,
                "notes": list(self.notes),
                "regimens": regs,
                "enrolment": self.enrolment.to_dict(orient="records"),
            }
        )

    def __repr__(self) -> str:
        dec = ", ".join(f"{r.regimen}: {r.decision}" for r in self.regimens)
        return f"TrialAnalysis({self.design}, {self.look}, {dec})"


def _decide(
    design: PlatformDesign, post: DrrPosterior, mixed: Mapping[str, Any], final: bool, look: int
) -> tuple[str, str]:
    fq = design.frequentist
    if fq is not None:
        z = float(mixed.get("z", float("nan")))
        if not math.isfinite(z):
            return "no decision", "frequentist rule: mixed model failed"
        if final:
            z_b = float(special.ndtri(1.0 - fq.alpha))
            if fq.spending != "none":
                from alsnet.trials.boundaries import gs_bounds

                z_b = float(gs_bounds(look, alpha=fq.alpha, spending=fq.spending).z[-1])
            dec = "success" if z > z_b else "no success"
            return dec, f"z = {z:.3f} vs efficacy bound {z_b:.3f}"
        fp = fq.futility_p
        if fp:
            cut = fp[min(look - 1, len(fp) - 1)]
            p = float(special.ndtr(-z))
            dec = "stop for futility" if p > cut else "continue"
            return dec, f"one-sided p = {p:.4f} vs futility cut-off {cut:g}"
        return "continue", f"z = {z:.3f} (no interim rule)"
    s = design.success
    p_s = post.pr_below(s.drr)
    if final:
        dec = "success" if p_s > s.threshold else "no success"
        return dec, f"Pr(DRR < {s.drr:g}) = {p_s:.4f} vs success threshold {s.threshold:g}"
    if s.early and p_s > s.threshold:
        return "early success", f"Pr(DRR < {s.drr:g}) = {p_s:.4f} > {s.threshold:g}"
    f = design.futility
    if f is not None:
        p_f = post.pr_below(f.drr)
        dec = "stop for futility" if p_f < f.threshold else "continue"
        return dec, f"Pr(DRR < {f.drr:g}) = {p_f:.4f} vs futility threshold {f.threshold:g}"
    return "continue", f"Pr(DRR < {s.drr:g}) = {p_s:.4f} (no futility rule)"


def _trajectories(design: PlatformDesign, pdata: _PatientData) -> pd.DataFrame:
    v = pdata.visits
    a = pdata.alloc
    df = pd.DataFrame(
        {
            "regimen": a["regimen"].to_numpy()[v["row"].to_numpy()],
            "arm": a["arm"].to_numpy()[v["row"].to_numpy()],
            "week": np.asarray(design.visit_weeks)[v["slot"].to_numpy()],
            "alsfrs": v["alsfrs"].to_numpy(),
        }
    )
    g = df.groupby(["regimen", "arm", "week"])["alsfrs"]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["se"] = out["std"] / np.sqrt(out["count"])
    return out.rename(columns={"count": "n"}).drop(columns="std")


def analyse_trial(
    design: PlatformDesign,
    cohort: Cohort,
    allocation: pd.DataFrame,
    *,
    final: bool = False,
    regimens: list[str] | None = None,
    mcmc: bool = False,
    mcmc_options: Mapping[str, Any] | None = None,
    scores: pd.Series | None = None,
    time_adjustment: bool | None = None,
    look: int = 1,
    secondary: bool = True,
) -> TrialAnalysis:
    """Interim (default) or final analysis of each regimen of a live trial.

    Parameters
    ----------
    design : PlatformDesign
        The trial's design (decision rules, control sharing, visit schedule).
    cohort : Cohort
        Registry data with the trial patients' visits and events.
    allocation : DataFrame
        From :func:`allocation_from_frame` or :func:`allocation_from_cohort`.
    final : bool, default False
        Final analysis (success rule) instead of an interim (futility / early success).
    regimens : list of str, optional
        Regimens to analyse (default: every regimen with patients).
    mcmc : bool, default False
        Also fit the full model by NumPyro MCMC and base the decision on it.
    mcmc_options : mapping, optional
        Keyword arguments of :func:`~alsnet.trials.model.fit_drr_mcmc`.
    scores : Series, optional
        Prognostic score per ``patient_id`` (the twin's forecast of the untreated
        ALSFRS-R slope, points/month) for the PROCOVA analysis.
    time_adjustment : bool, optional
        Calendar-period adjustment of the DRR (default: on for rule ``nonconcurrent``
        when calendar days are known; rule ``all`` pools every placebo unadjusted, as in
        the simulator, unless this is set).
    look : int, default 1
        1-based number of this look (frequentist designs: selects the futility cut-off and
        the group-sequential bound).
    secondary : bool, default True
        Run the mixed model and CAFS (needed for frequentist designs).

    Returns
    -------
    TrialAnalysis
    """
    alloc = allocation.reset_index(drop=True)
    notes: list[str] = []
    has_cal = bool(alloc["calendar_day"].notna().all())
    if not has_cal and design.control_sharing.rule == "concurrent":
        notes.append(
            "calendar days unknown: every placebo patient is treated as a concurrent control"
        )
    if time_adjustment is None:
        # as in the simulator: `nonconcurrent` adjusts for calendar time, `all` does not
        time_adjustment = design.control_sharing.rule == "nonconcurrent" and has_cal
    if time_adjustment and not has_cal:
        raise TrialDesignError("time_adjustment: needs calendar_day in the allocation")
    period = _periods(design, alloc) if time_adjustment else np.zeros(len(alloc), np.int64)
    pdata = _patient_data(design, cohort, alloc)
    present = list(dict.fromkeys(alloc["regimen"]))
    wanted = regimens or [r.name for r in design.regimens if r.name in present]
    for name in wanted:
        if name not in present:
            raise TrialDesignError(f"regimen: {name!r} has no allocated patients")
    out = []
    for name in wanted:
        act = ((alloc["regimen"] == name) & (alloc["arm"] == "active")).to_numpy()
        ctl = _controls(design, alloc, name)
        rows = np.flatnonzero(act | ctl)
        vis = pdata.visits[np.isin(pdata.visits["row"], rows)]
        pos = pd.Series(np.arange(rows.size), index=rows)
        data = DrrData.from_arrays(
            pos.reindex(vis["row"].to_numpy()).to_numpy(),
            vis["month"].to_numpy(),
            vis["alsfrs"].to_numpy(),
            act[rows],
            pdata.event[rows],
            pdata.exposure_months[rows],
            period=period[rows],
        )
        try:
            lap = fit_drr_laplace(data)
        except TrialDesignError as exc:
            raise TrialDesignError(
                f"regimen {name}: {exc}; analyse the other regimens with --regimen"
            ) from None
        post_mc = fit_drr_mcmc(data, **dict(mcmc_options or {})) if mcmc else None
        run2 = secondary or design.frequentist is not None
        mixed = (
            _mixed_model(
                vis.assign(row=pos.reindex(vis["row"].to_numpy()).to_numpy()),
                act[rows],
                data.period,
            )
            if run2
            else {}
        )
        cf = _cafs(design, pdata, rows) if secondary else {}
        pc = _procova(pdata, rows, data, scores) if scores is not None else {}
        primary = post_mc if post_mc is not None else lap
        decision, rule = _decide(design, primary, mixed, final, look)
        own = (alloc["regimen"] == name).to_numpy()
        nonconc = 0
        if has_cal:
            cal = alloc["calendar_day"].to_numpy()
            w = design.control_sharing.window_months / _DAY_TO_MONTH
            lo, hi = cal[own].min() - w, cal[own].max() + w
            nonconc = int(np.sum(ctl & ~own & ((cal < lo) | (cal > hi))))
        out.append(
            RegimenAnalysis(
                regimen=name,
                n_active=int(act.sum()),
                n_control=int(ctl.sum()),
                n_nonconcurrent=nonconc,
                drr=lap,
                drr_mcmc=post_mc,
                mixed_model=mixed,
                cafs=cf,
                procova=pc,
                decision=decision,
                rule=rule,
            )
        )
        log.info("analysed regimen %s: %s", name, decision)
    enrol = (
        alloc.groupby(["regimen", "arm"]).size().unstack(fill_value=0).reindex(columns=list(_ARMS))
    )
    enrol = enrol.fillna(0).astype(int).reset_index()
    enrol["total"] = enrol["active"] + enrol["placebo"]
    return TrialAnalysis(
        design=design.name,
        look="final" if final else "interim",
        time_adjusted=bool(time_adjustment),
        regimens=tuple(out),
        enrolment=enrol,
        trajectories=_trajectories(design, pdata),
        notes=tuple(notes),
    )
