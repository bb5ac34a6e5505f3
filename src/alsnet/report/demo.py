"""The demo report: a tour of a (synthetic) network cohort in one HTML file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from alsnet.cohort import Cohort
from alsnet.report.figures import (
    alsfrs_trajectories,
    encals_calibration,
    km_by_onset,
    progression_rate_hist,
    site_overview,
    stage_distribution,
)
from alsnet.report.html import Section, Table, render_report
from alsnet.report.summaries import (
    add_death_stage,
    delta_fs_first_visit,
    km_groups,
    km_summary_table,
    survival_data,
)

__all__ = ["DEMO_SECTIONS", "ENCALS_SECTION", "demo_report"]

#: Section titles of the demo report, in order.
DEMO_SECTIONS: tuple[str, ...] = (
    "Cohort overview",
    "ALSFRS-R trajectories",
    "Survival by onset region",
    "King's stage over time",
    "MiToS stage over time",
    "Progression rate",
)

#: Title of the optional section shown when ENCALS predictions are given.
ENCALS_SECTION = "ENCALS prognosis"

_SITE_COLUMNS = {
    "site_id": "site",
    "role": "role",
    "country": "country",
    "patients": "patients",
    "visits": "visits",
    "median_follow_up_months": "median follow-up (months)",
    "deaths": "deaths",
    "bulbar_onset_pct": "bulbar onset (%)",
    "c9orf72_carriers": "C9orf72 carriers",
    "sod1_carriers": "SOD1 carriers",
}


def _p(template: str, *values: object) -> Markup:
    """A paragraph with escaped values."""
    return Markup("<p>" + template + "</p>").format(*values)


def demo_report(
    cohort: Cohort,
    visits_scored: pd.DataFrame,
    out_path: str | Path,
    *,
    provenance: Mapping[str, object],
    encals: pd.DataFrame | None = None,
    extra_sections: Sequence[Section] = (),
) -> Path:
    """Write the demo report of a cohort.

    Parameters
    ----------
    cohort : Cohort
        Canonical tables (patients, visits, events, sites).
    visits_scored : DataFrame
        Canonical visits plus ``alsfrs_r_total``, ``bulbar``, ``fine_motor``,
        ``gross_motor``, ``respiratory``, ``kings`` and ``mitos`` (e.g. from
        ``alsnet.clinical.stage_visits``).
    out_path : str or Path
        HTML file to write.
    provenance : mapping
        Shown in the footer; ``seed`` (default 0) also seeds the trajectory
        sample. The cohort fingerprint is added as ``data fingerprint`` unless
        a key containing "fingerprint" is given.
    encals : DataFrame, optional
        ENCALS predictions per patient (``alsnet.clinical.encals_table`` output
        with ``patient_id``); adds a section comparing them with observed
        survival (:func:`alsnet.report.figures.encals_calibration`).
    extra_sections : sequence of Section, optional
        Appended after the built-in sections (e.g. from :mod:`alsnet.report.domains`).

    Returns
    -------
    Path
        ``out_path``.
    """
    prov = dict(provenance)
    if not any("fingerprint" in str(k).lower() for k in prov):
        prov["data fingerprint"] = cohort.fingerprint
    seed = int(prov.get("seed", 0))  # type: ignore[call-overload]
    patients, visits, events, sites = (
        cohort.patients, cohort.visits, cohort.events, cohort.sites,
    )  # fmt: skip

    table, site_fig = site_overview(patients, visits, sites, events)
    total = table.iloc[-1]
    overview = Section(
        DEMO_SECTIONS[0],
        _p(
            "{} patients at {} sites with {} visits; {} deaths recorded. Median follow-up "
            "from first visit to last contact: {} months. Time is counted from symptom onset.",
            f"{int(total['patients']):,}",
            len(table) - 1,
            f"{int(total['visits']):,}",
            f"{int(total['deaths']):,}",
            f"{total['median_follow_up_months']:.1f}",
        ),
        figures=[site_fig],
        tables=[Table(table.rename(columns=_SITE_COLUMNS), caption="Patients per site")],
    )

    n_scored = int(visits_scored["alsfrs_r_total"].notna().sum())
    trajectories = Section(
        DEMO_SECTIONS[1],
        _p(
            "Thin lines: ALSFRS-R totals (0–48) of 60 randomly drawn patients (seed {}). "
            "Thick lines: median total per onset region in 3-month bins over all {} scored "
            "visits. Visits scored on the original ALSFRS (0–40) are not shown.",
            seed,
            f"{n_scored:,}",
        ),
        figures=[alsfrs_trajectories(visits_scored, patients, n_sample=60, seed=seed)],
    )

    surv = survival_data(patients, events, visits)
    groups = km_groups(surv)
    survival = Section(
        DEMO_SECTIONS[2],
        _p(
            "Kaplan–Meier estimates of survival from symptom onset (endpoint: death), censored "
            "at last contact, with 95% confidence bands. Entry into the registry after onset "
            "is not accounted for (no left truncation), so medians are biased upwards."
        ),
        figures=[km_by_onset(patients, events, visits)],
        tables=[Table(km_summary_table(groups), caption="Median survival and numbers at risk")],
    )

    staged = add_death_stage(visits_scored, events)
    stage_text = (
        "Share of patients per stage in each year since onset. A patient counts in a year if "
        "staged at a visit in that year (with the stage of their latest visit in it) or if "
        "they died in it (stage 5, from events); patients without a visit in a year are not "
        "counted, so late years over-represent deaths when follow-up visits stop early."
    )
    kings = Section(
        DEMO_SECTIONS[3],
        _p(stage_text + " King's stage from ALSFRS-R items (Balendra et al. 2014)."),
        figures=[stage_distribution(staged, stage="kings")],
    )
    mitos = Section(
        DEMO_SECTIONS[4],
        _p(stage_text + " MiToS stage = number of functional domains lost (Chiò et al. 2015)."),
        figures=[stage_distribution(staged, stage="mitos")],
    )

    rate = delta_fs_first_visit(visits_scored)
    q = np.quantile(rate.to_numpy(), [0.25, 0.5, 0.75]) if len(rate) else [np.nan] * 3
    progression = Section(
        DEMO_SECTIONS[5],
        _p(
            "ΔFS = (48 − ALSFRS-R total) / months since onset at each patient's first "
            "ALSFRS-R visit (Kimura et al. 2006); positive = decline. {} patients; median {} "
            "points/month (IQR {}–{}).",
            f"{len(rate):,}",
            f"{q[1]:.2f}",
            f"{q[0]:.2f}",
            f"{q[2]:.2f}",
        ),
        figures=[progression_rate_hist(visits_scored, patients)],
    )
    sections = [overview, trajectories, survival, kings, mitos, progression]
    if encals is not None:
        sections.append(_encals_section(encals, cohort))
    sections.extend(extra_sections)
    return render_report("alsnet demo report", sections, out_path, provenance=prov)


def _encals_section(encals: pd.DataFrame, cohort: Cohort) -> Section:
    table, fig = encals_calibration(encals, cohort.patients, cohort.events, cohort.visits)
    n_pred = int(encals["encals_lp"].notna().sum())
    text = _p(
        "ENCALS prediction of survival from onset (Westeneng et al. 2018; endpoint death, "
        "tracheostomy or permanent ventilation) for {} of {} patients with complete "
        "predictors, in five equal groups of the linear predictor. Lines: observed "
        "Kaplan–Meier; diamonds: mean predicted survival at 12, 24, 36 and 60 months. "
        "∞ = median not reached.",
        f"{n_pred:,}",
        f"{len(encals):,}",
    )
    tables = [Table(table, caption="Observed vs predicted", float_digits=2)] if len(table) else []
    return Section(ENCALS_SECTION, text, figures=[fig] if len(table) else [], tables=tables)
