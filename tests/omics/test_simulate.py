"""Tests of the transcriptome simulator: determinism, structure and calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsnet.omics import OmicsSimParams, simulate_arrays, simulate_transcriptome

NO_FIXED = OmicsSimParams(module_lfc=0.0, site_sd=0.0, platform_sd=0.0, tissue_scale=0.0)


def test_deterministic_for_a_seed() -> None:
    a = simulate_arrays(30, 40, seed=7)
    b = simulate_arrays(30, 40, seed=7)
    c = simulate_arrays(30, 40, seed=8)
    np.testing.assert_array_equal(a.counts, b.counts)
    pd.testing.assert_frame_equal(a.obs, b.obs)
    assert not np.array_equal(a.counts[:5, :5], c.counts[:5, :5]) or len(a.obs) != len(c.obs)


def test_structure_and_obs_columns() -> None:
    sim = simulate_arrays(200, 100, n_sites=4, seed=1)
    obs = sim.obs
    assert sim.counts.shape == (len(obs), 100)
    assert sim.counts.dtype == np.int64 and (sim.counts >= 0).all()
    for col in ("patient_id", "site", "platform", "tissue", "subtype", "ancestry", "genotype"):
        assert col in obs.columns
    assert obs.index.is_unique
    # 1-3 samples per patient, from distinct tissues, all sharing site and subtype
    per = obs.groupby("patient_id", observed=True)
    assert per.size().between(1, 3).all()
    assert (per["tissue"].nunique() == per.size()).all()
    assert (per["site"].nunique() == 1).all() and (per["subtype"].nunique() == 1).all()
    assert set(obs["site"].cat.categories) == {"site_1", "site_2", "site_3", "site_4"}
    # modules: 5 % of genes per subtype
    assert (sim.var["module"] == "ALS-Ox").sum() == 5


def test_subtype_shares_and_sod1_rule() -> None:
    sim = simulate_arrays(4000, 5, seed=2)
    pat = sim.obs.drop_duplicates("patient_id")
    shares = pat["subtype"].value_counts(normalize=True)
    # binomial SE about 0.008 at n = 4000
    assert shares["ALS-Ox"] == pytest.approx(0.61, abs=0.03)
    assert shares["ALS-Glia"] == pytest.approx(0.19, abs=0.03)
    assert shares["ALS-TE"] == pytest.approx(0.20, abs=0.03)
    assert not ((pat["subtype"] == "ALS-TE") & (pat["genotype"] == "SOD1")).any()
    assert (pat["genotype"] == "SOD1").any()
    # C9orf72 (sporadic, EUR 5.1 %) is more frequent in EUR than in EAS patients (0.3 %)
    c9 = (pat["genotype"] == "C9orf72").groupby(pat["ancestry"], observed=True).mean()
    assert c9["EUR"] > 0.03 > c9["EAS"]


def test_site_confounding() -> None:
    props = ((0.9, 0.05, 0.05), (0.1, 0.45, 0.45))
    sim = simulate_arrays(
        2000, 5, n_sites=2, params=OmicsSimParams(site_subtype_props=props), seed=3
    )
    pat = sim.obs.drop_duplicates("patient_id")
    ox = (pat["subtype"] == "ALS-Ox").groupby(pat["site"], observed=True).mean()
    assert ox["site_1"] == pytest.approx(0.9, abs=0.04)
    assert ox["site_2"] == pytest.approx(0.1, abs=0.04)


def test_calibration_means_size_factors_dispersion() -> None:
    sim = simulate_arrays(400, 3000, params=NO_FIXED, seed=4)
    sf = sim.obs["size_factor"].to_numpy()
    q5, q95 = np.quantile(sf, [0.05, 0.95])
    assert 0.6 < q5 < 0.75 and 1.4 < q95 < 1.65  # GSE124439: 0.68-1.57
    assert np.median(sim.var["base_mean"]) == pytest.approx(349, rel=0.15)
    true = sim.var["dispersion"].to_numpy()
    assert 0.06 < np.median(true) < 0.085  # GSE124439 gene-wise median 0.073
    # Method-of-moments dispersion of the simulated counts recovers the stated dispersion
    # (patient effect + NB noise = total extra-Poisson variance).
    normed = sim.counts / sf[:, None]
    m = normed.mean(axis=0)
    v = normed.var(axis=0, ddof=1)
    est = (v - m * np.mean(1 / sf)) / m**2
    keep = m > 50
    ratio = np.median(est[keep]) / np.median(true[keep])
    assert ratio == pytest.approx(1.0, abs=0.12)


def test_patient_correlation_across_tissues() -> None:
    """Same-patient samples correlate about 0.64, different patients about 0 (GSE124439)."""
    sim = simulate_arrays(300, 2000, params=NO_FIXED, seed=5)
    sf = sim.obs["size_factor"].to_numpy()
    high = sim.var["base_mean"].to_numpy() > 1000
    y = np.log(sim.counts[:, high] / sf[:, None] + 0.5)
    y = y - y.mean(axis=0)
    r = np.corrcoef(y)
    pid = sim.obs["patient_id"].to_numpy()
    same = (pid[:, None] == pid[None, :]) & ~np.eye(len(pid), dtype=bool)
    diff = pid[:, None] != pid[None, :]
    assert r[same].mean() == pytest.approx(0.64, abs=0.06)
    assert abs(r[diff].mean()) < 0.03


def test_nfl_hazard_ratio_top_vs_bottom_tertile() -> None:
    lifelines = pytest.importorskip("lifelines")
    sim = simulate_arrays(6000, 2, seed=6)
    pat = sim.obs.drop_duplicates("patient_id")
    tert = pd.qcut(pat["nfl_pg_ml"], 3, labels=False)
    df = pd.DataFrame(
        {
            "t": pat["survival_days"].to_numpy(),
            "e": pat["death_observed"].to_numpy().astype(int),
            "top": (tert == 2).to_numpy().astype(int),
            "subtype": pat["subtype"].cat.codes.to_numpy(),
        }
    )[(tert != 1).to_numpy()]
    cph = lifelines.CoxPHFitter().fit(df, "t", "e", strata=["subtype"])
    hr = float(np.exp(cph.params_["top"]))
    assert hr == pytest.approx(3.9, rel=0.15)


def test_anndata_output_roundtrip(tmp_path: object) -> None:
    pytest.importorskip("anndata")
    import anndata

    adata = simulate_transcriptome(15, 20, seed=0)
    assert isinstance(adata, anndata.AnnData)
    assert adata.uns["simulation"]["params"]["n_genes"] == 20
    path = f"{tmp_path}/sim.h5ad"
    adata.write_h5ad(path)
    back = anndata.read_h5ad(path)
    np.testing.assert_array_equal(back.X, adata.X)
    assert list(back.obs["subtype"]) == list(adata.obs["subtype"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"subtype_props": (0.5, 0.5, 0.5)},
        {"site_subtype_props": ((1.0, 0.0, 0.0),)},
        {"patient_share": 1.0},
        {"samples_per_patient_probs": (0.25, 0.25, 0.25, 0.25)},
    ],
)
def test_bad_parameters_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        simulate_arrays(10, 10, params=OmicsSimParams(**kwargs), seed=0)  # type: ignore[arg-type]
