"""Evaluation table of the biomarker-panel pipeline on simulated data (prints markdown).

For each scenario (module log2 fold change 0.4, 0.25 and 0 = pure noise; 200 patients,
2,000 genes, 3 sites) it reports the macro one-vs-rest AUC with a patient-bootstrap 95 % CI
for: nested CV grouped by patient (selection inside the loop), leave-one-site-out, and the
leaky mistake (top-20 genes chosen on all samples, then CV). Also the share of panel genes
that are true module genes.

Run: ``.venv/bin/python benchmarks/eval_omics_panel.py``
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


if __name__ == "__main__":
    main()
