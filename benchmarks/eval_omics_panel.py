"""Evaluation table of the biomarker-panel pipeline on simulated data (prints markdown).

For each scenario (module log2 fold change 0.4, 0.25 and 0 = pure noise; 200 patients,
2,000 genes, 3 sites) it reports the macro one-vs-rest AUC with a patient-bootstrap 95 % CI
for: nested CV grouped by patient (selection inside the loop), leave-one-site-out, and the
leaky mistake (top-20 genes chosen on all samples, then CV). Also the share of panel genes
that are true module genes.

``--prognostic`` instead prints the prognostic-panel table: on the synthetic registry cohort
(600 patients), does the age/BMI-adjusted NfL z-score (and a random, uninformative
"subtype") add to a clinical baseline model of the ALSFRS-R slope (months 3-12) and of
survival from the first visit? Two baselines: a weak one (age, onset region, first ALSFRS-R,
first FVC) and a strong one (plus ALSFRS-R slope in the first 3 months, delta-FS and
diagnostic delay).

Run: ``.venv/bin/python benchmarks/eval_omics_panel.py [--prognostic]``
"""

from __future__ import annotations

import numpy as np

from alsnet.omics import OmicsSimParams, simulate_transcriptome
from alsnet.omics.panel import cross_validate_panel, leaky_cross_validation, stability_selector


def main(n_patients: int = 200, n_genes: int = 2000) -> None:
    print(f"{n_patients} patients, {n_genes} genes, 3 sites; stability selection 100 subsamples")
    print("| module log2FC | scheme | macro AUC (95% CI) | panel genes in modules | seconds |")
    print("|---:|---|---|---:|---:|")
    for lfc in (0.4, 0.25, 0.0):
        adata = simulate_transcriptome(
            n_patients, n_genes, seed=21, params=OmicsSimParams(module_lfc=lfc)
        )
        module = set(adata.var_names[adata.var["module"] != ""])
        runs = [
            cross_validate_panel(adata, "subtype", selector=stability_selector()),
            cross_validate_panel(adata, "subtype", scheme="site", selector=stability_selector()),
            leaky_cross_validation(adata, "subtype"),
        ]
        for r in runs:
            auc, lo, hi = r.macro_auc
            genes = [g for fold in r.fold_genes for g in fold]
            share = np.mean([g in module for g in genes]) if module else float("nan")
            shown = "–" if not module else f"{share:.2f}"
            print(
                f"| {lfc} | {r.scheme} | {auc:.3f} ({lo:.3f}-{hi:.3f}) | {shown} "
                f"| {r.seconds:.0f} |",
                flush=True,
            )


def prognostic(n_patients: int = 600) -> None:
    import pandas as pd

    from alsnet.omics.panel import prognostic_value
    from alsnet.testing.prognostic import synthetic_prognostic_table

    f = synthetic_prognostic_table(n_patients, seed=3)
    weak = ["age_at_window", "onset_bulbar", "alsfrs_r_total_first", "fvc_pct_first"]
    strong = [*weak, "alsfrs_r_total_slope", "delta_fs", "diagnostic_delay_days"]
    print("| baseline | outcome | metric | model | estimate (95% CI) | gain (95% CI) | n |")
    print("|---|---|---|---|---|---|---:|")
    for name, clinical in (("weak", weak), ("strong", strong)):
        res = prognostic_value(
            f,
            clinical=clinical,
            nfl="nfl_serum_pg_ml_first",
            age="age_at_window",
            bmi="bmi_first",
            subtype="subtype",
            slope="target_slope",
            time_col="time_days",
            event_col="event",
            n_boot=1000,
        )
        t: pd.DataFrame = res.summary()
        for r in t.itertuples():
            print(
                f"| {name} | {r.outcome} | {r.metric} | {r.model} | {r.estimate:.3f} "
                f"({r.ci_low:.3f}-{r.ci_high:.3f}) | {r.gain:+.3f} "
                f"({r.gain_ci_low:+.3f} to {r.gain_ci_high:+.3f}) | {r.n} |",
                flush=True,
            )


if __name__ == "__main__":
    import sys

    prognostic() if "--prognostic" in sys.argv else main()
