"""Target prioritisation: aggregation brute force, Cox score test, Spearman, recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from typer.testing import CliRunner

from alsnet.exceptions import DataValidationError
from alsnet.omics.simulate import simulate_transcriptome
from alsnet.omics.targets import (
    cox_score_test,
    de_subtype_vs_rest,
    prioritise_targets,
    rank_aggregate,
    read_gene_scores,
    spearman_columns,
)

anndata = pytest.importorskip("anndata")

SUBTYPES = ("ALS-Ox", "ALS-Glia", "ALS-TE")


@pytest.fixture(scope="module")
def sim() -> anndata.AnnData:
    return simulate_transcriptome(200, 1000, seed=1)


# ------------------------------------------------------------------------------------------
# Aggregation
# ------------------------------------------------------------------------------------------


def _bf_aggregate(values: dict[str, list[float]], weights: dict[str, float], genes: list[str]):
    """Plain-Python percentile ranks (average ties, missing = 0) and weighted mean."""
    n = len(genes)
    total = sum(weights.values())
    score = [0.0] * n
    for e, w in weights.items():
        col = values[e]
        for i in range(n):
            if np.isnan(col[i]):
                continue
            below = sum(1 for v in col if not np.isnan(v) and v < col[i])
            equal = sum(1 for v in col if not np.isnan(v) and v == col[i])
            missing = sum(1 for v in col if np.isnan(v))
            pct = (missing + below + (equal + 1) / 2) / n
            score[i] += w * pct / total
    order = sorted(range(n), key=lambda i: (-score[i], genes[i]))
    rank = [0] * n
    for r, i in enumerate(order, start=1):
        rank[i] = r
    return score, rank


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(
        st.tuples(
            st.one_of(st.sampled_from([0.0, 1.0, 2.5]), st.floats(-5, 5), st.just(np.nan)),
            st.one_of(st.sampled_from([0.0, 3.0]), st.floats(0, 1), st.just(np.nan)),
        ),
        min_size=1,
        max_size=25,
    ),
    w=st.tuples(st.floats(0.1, 3), st.floats(0, 3)),
)
def test_rank_aggregate_equals_brute_force(data: list[tuple[float, float]], w: tuple) -> None:
    genes = [f"g{i:02d}" for i in range(len(data))]
    ev = pd.DataFrame(data, columns=["a", "b"], index=genes)
    weights = {"a": w[0], "b": w[1]}
    got = rank_aggregate(ev, weights)
    score, rank = _bf_aggregate({"a": ev["a"].tolist(), "b": ev["b"].tolist()}, weights, genes)
    np.testing.assert_allclose(got["score"], score, atol=1e-12)
    contrib = got[["a_contribution", "b_contribution"]].sum(axis=1)
    np.testing.assert_allclose(contrib, got["score"], atol=1e-12)
    # Ranks agree wherever scores are not tied to rounding.
    np.testing.assert_array_equal(got["rank"].to_numpy(), rank)


def test_rank_aggregate_rejects_bad_weights() -> None:
    ev = pd.DataFrame({"a": [1.0, 2.0]}, index=["x", "y"])
    with pytest.raises(ValueError, match="no evidence column"):
        rank_aggregate(ev, {"b": 1})
    with pytest.raises(ValueError, match="non-negative"):
        rank_aggregate(ev, {"a": -1})


# ------------------------------------------------------------------------------------------
# Cox score test and Spearman
# ------------------------------------------------------------------------------------------


def _bf_cox_score(x: np.ndarray, t: np.ndarray, d: np.ndarray) -> float:
    u = info = 0.0
    for tj in np.unique(t[d]):
        risk = t >= tj
        dead = d & (t == tj)
        m = x[risk].mean()
        v = (x[risk] ** 2).mean() - m**2
        u += x[dead].sum() - dead.sum() * m
        info += dead.sum() * v
    return u / np.sqrt(info)


def test_cox_score_test_brute_force_with_ties() -> None:
    rng = np.random.default_rng(0)
    n, p = 60, 7
    x = rng.standard_normal((n, p))
    t = rng.integers(1, 15, size=n).astype(float)  # many ties
    d = rng.random(n) < 0.7
    got = cox_score_test(x, t, d)
    want = [_bf_cox_score(x[:, j], t, d) for j in range(p)]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_cox_score_sign_and_size_agree_with_lifelines() -> None:
    lifelines = pytest.importorskip("lifelines")
    rng = np.random.default_rng(3)
    n = 400
    x = rng.standard_normal(n)
    t = rng.exponential(1.0 / np.exp(0.3 * x))
    d = rng.random(n) < 0.8
    z = cox_score_test(x[:, None], t, d)[0]
    cph = lifelines.CoxPHFitter().fit(pd.DataFrame({"x": x, "t": t, "d": d.astype(int)}), "t", "d")
    wald = cph.summary.loc["x", "z"]
    assert z > 3 and abs(z - wald) < 0.15 * abs(wald)  # score and Wald tests agree closely


def test_spearman_columns_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 6))
    x[:, 2] = np.round(x[:, 2])  # ties
    y = x[:, 0] + rng.standard_normal(50)
    y[[3, 9]] = np.nan
    r, p = spearman_columns(x, y)
    ok = ~np.isnan(y)
    for j in range(6):
        ref = stats.spearmanr(x[ok, j], y[ok])
        assert r[j] == pytest.approx(ref.statistic, abs=1e-12)
        assert p[j] == pytest.approx(ref.pvalue, rel=1e-8)


def test_welch_matches_scipy_per_gene() -> None:
    rng = np.random.default_rng(2)
    counts = rng.poisson(50, size=(30, 5)).astype(float)
    vst = np.log2(counts + 1)
    labels = np.array(["a"] * 10 + ["b"] * 20)
    res, method = de_subtype_vs_rest(counts, labels, method="welch", vst=vst)
    assert method == "welch"
    for j in range(5):
        ref = stats.ttest_ind(vst[:10, j], vst[10:, j], equal_var=False)
        assert res["a"]["stat"].iloc[j] == pytest.approx(ref.statistic)
        assert res["a"]["pvalue"].iloc[j] == pytest.approx(ref.pvalue)


# ------------------------------------------------------------------------------------------
# Recovery on the simulator
# ------------------------------------------------------------------------------------------


def _precision(res, adata, subtype: str, n: int = 20) -> float:
    top = res.top(subtype, n)["gene"]
    return float((adata.var.loc[top, "module"].to_numpy() == subtype).mean())


def test_true_marker_genes_rank_top_for_their_subtype(sim: anndata.AnnData) -> None:
    res = prioritise_targets(sim, "subtype", de_method="welch")
    for s in SUBTYPES:
        assert _precision(res, sim, s) >= 0.9, s
    # Marker genes of another subtype are not at the top.
    top = res.top("ALS-Glia", 20)["gene"]
    assert not (sim.var.loc[top, "module"] == "ALS-TE").any()


def test_survival_evidence_promotes_prognostic_markers(sim: anndata.AnnData) -> None:
    """ALS-Glia has the shortest simulated survival: its markers are both DE and prognostic."""
    res = prioritise_targets(
        sim,
        "subtype",
        time_key="survival_days",
        event_key="death_observed",
        de_method="welch",
        weights={"de": 2, "survival": 1},
    )
    assert _precision(res, sim, "ALS-Glia") >= 0.9
    glia = res.table.loc[res.table["subtype"] == "ALS-Glia"].set_index("gene")
    mod = sim.var["module"]
    surv_mod = glia.loc[mod.index[mod == "ALS-Glia"], "survival_percentile"].median()
    surv_null = glia.loc[mod.index[mod == ""], "survival_percentile"].median()
    assert surv_mod > surv_null + 0.2


def test_user_evidence_and_explained_columns(tmp_path: Path, sim: anndata.AnnData) -> None:
    genes = list(sim.var_names[:3])
    path = tmp_path / "drug.csv"
    pd.DataFrame({"gene": genes, "score": [3.0, 2.0, 1.0]}).to_csv(path, index=False)
    drug = read_gene_scores(path, name="druggable")
    res = prioritise_targets(sim, "subtype", druggable=drug, de_method="welch")
    t = res.table.loc[res.table["subtype"] == "ALS-Ox"].set_index("gene")
    n = sim.n_vars
    assert t.loc[genes[0], "druggable_percentile"] == 1.0
    assert t.loc[genes[2], "druggable_percentile"] == pytest.approx((n - 2) / n)
    assert t.loc[sim.var_names[5], "druggable_percentile"] == 0.0
    parts = t["de_contribution"] + t["druggable_contribution"]
    np.testing.assert_allclose(parts, t["score"])


def test_gene_score_table_errors(tmp_path: Path) -> None:
    p = tmp_path / "g.csv"
    p.write_text("gene,score\nA,1\nB,x\nA,2\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        read_gene_scores(p)
    msg = str(err.value)
    assert "g.csv, line 3, column 'score'" in msg and "finite number" in msg
    assert "line 4, column 'gene'" in msg and "duplicated gene" in msg
    p.write_text("symbol,score\nA,1\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="needs a gene column"):
        read_gene_scores(p)


@pytest.mark.slow
def test_pydeseq2_recovers_markers_on_a_small_simulation() -> None:
    small = simulate_transcriptome(40, 200, seed=4)
    res = prioritise_targets(small, "subtype", de_method="deseq2", batch_key="site")
    assert res.de_method == "deseq2"
    assert _precision(res, small, "ALS-Ox", 10) >= 0.8


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------


def test_cli_targets(tmp_path: Path) -> None:
    from alsnet.cli import app

    h5 = tmp_path / "sim.h5ad"
    simulate_transcriptome(60, 300, seed=2).write_h5ad(h5)
    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "omics",
            "targets",
            str(h5),
            "--subtype-key",
            "subtype",
            "--out",
            str(out),
            "--time-key",
            "survival_days",
            "--event-key",
            "death_observed",
            "--method",
            "welch",
            "--weight",
            "de=2",
        ],
    )
    assert res.exit_code == 0, res.output
    tab = pd.read_csv(out / "targets.csv")
    assert set(tab["subtype"]) == set(SUBTYPES)
    assert "survival_contribution" in tab.columns
    assert (out / "report.html").stat().st_size > 10_000
    bad = CliRunner().invoke(
        app, ["omics", "targets", str(h5), "--subtype-key", "nope", "--out", str(out)]
    )
    assert bad.exit_code == 2 and "not an obs column" in bad.output


def test_cox_score_z_is_standard_normal_under_the_null() -> None:
    rng = np.random.default_rng(7)
    n, p = 300, 2000
    x = rng.standard_normal((n, p))
    t = rng.exponential(1.0, size=n)
    d = rng.random(n) < 0.7
    z = cox_score_test(x, t, d)
    assert abs(z.mean()) < 0.08 and abs(z.std() - 1.0) < 0.06
    assert 0.035 < np.mean(np.abs(z) > 1.96) < 0.065
