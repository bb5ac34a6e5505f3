"""Tests of the count/metadata readers: formats, round trips and every bad-input rule."""

from __future__ import annotations

import gzip
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alsnet.exceptions import AlsnetWarning, DataValidationError
from alsnet.omics import simulate_arrays
from alsnet.omics.io import (
    read_counts,
    read_metadata,
    read_omics,
    unknown_patients,
    write_counts,
)

anndata = pytest.importorskip("anndata")


@pytest.fixture(scope="module")
def sim() -> tuple[pd.DataFrame, pd.DataFrame]:
    s = simulate_arrays(12, 40, seed=3)
    counts = pd.DataFrame(s.counts.T, index=s.var.index, columns=s.obs.index)
    meta = s.obs.reset_index()[["sample_id", "patient_id", "site", "platform", "tissue"]]
    return counts, meta


def _write(
    tmp_path: Path, counts: pd.DataFrame, meta: pd.DataFrame, fmt: str = "csv"
) -> tuple[Path, Path]:
    suffix = {"csv": ".csv", "tsv": ".tsv", "featurecounts": ".txt"}[fmt]
    c = write_counts(counts, tmp_path / f"counts{suffix}", format=fmt)  # type: ignore[arg-type]
    m = tmp_path / "meta.csv"
    meta.to_csv(m, index=False)
    return c, m


@pytest.mark.parametrize("fmt", ["csv", "tsv", "featurecounts"])
def test_text_formats_read_back(tmp_path: Path, sim: tuple[pd.DataFrame, pd.DataFrame], fmt: str):
    counts, meta = sim
    c, m = _write(tmp_path, counts, meta, fmt)
    adata = read_omics(c, m, batch_key="site")
    assert adata.X.dtype == np.int64
    np.testing.assert_array_equal(adata.X, counts.to_numpy().T)
    assert list(adata.obs_names) == list(counts.columns)
    assert list(adata.var_names) == list(counts.index)
    assert list(adata.obs["patient_id"]) == list(meta["patient_id"])
    assert adata.uns["ingest"]["params"]["format"] == (
        "featurecounts" if fmt == "featurecounts" else "csv"
    )
    if fmt == "featurecounts":
        assert {"chr", "start", "end", "strand", "length"} <= set(adata.var.columns)


def test_featurecounts_real_layout_bam_names(tmp_path: Path) -> None:
    # as written by featureCounts: comment line, annotation columns, BAM paths as sample names
    text = (
        '# Program:featureCounts v2.0.1; Command:"featureCounts" "-a" "genes.gtf"\n'
        "Geneid\tChr\tStart\tEnd\tStrand\tLength\t/data/bam/S1.bam\t/data/bam/S2.bam\n"
        "ENSG01\tchr1;chr1\t11869;12010\t12227;12057\t+;+\t1735\t10\t0\n"
        "ENSG02\tchr1\t14404\t29570\t-\t15165\t3\t7\n"
    )
    p = tmp_path / "fc.txt"
    p.write_text(text)
    table = read_counts(p)
    assert table.format == "featurecounts"
    assert table.sample_ids == ["S1", "S2"]
    np.testing.assert_array_equal(table.counts, [[10, 3], [0, 7]])
    assert table.var.loc["ENSG01", "length"] == 1735
    assert table.var.loc["ENSG01", "chr"] == "chr1;chr1"


def test_geo_tsv_gz_and_h5ad(tmp_path: Path, sim: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    counts, meta = sim
    gz = tmp_path / "GSE000_counts.txt.gz"
    with gzip.open(gz, "wt") as fh:
        counts.to_csv(fh, sep="\t")
    m = tmp_path / "meta.csv"
    meta.to_csv(m, index=False)
    adata = read_omics(gz, m)
    np.testing.assert_array_equal(adata.X, counts.to_numpy().T)
    h5 = tmp_path / "x.h5ad"
    adata.write_h5ad(h5)
    back = read_omics(h5)  # obs from the file
    np.testing.assert_array_equal(back.X, adata.X)
    assert list(back.obs["site"].astype(str)) == list(meta["site"].astype(str))


_ids = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=8)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    n_genes=st.integers(1, 6),
    n_samples=st.integers(1, 5),
    fmt=st.sampled_from(["csv", "tsv", "featurecounts"]),
)
def test_write_read_round_trip(
    tmp_path: Path, data: st.DataObject, n_genes: int, n_samples: int, fmt: str
) -> None:
    genes = data.draw(st.lists(_ids, min_size=n_genes, max_size=n_genes, unique=True))
    samples = data.draw(
        st.lists(_ids.map(lambda s: "S" + s), min_size=n_samples, max_size=n_samples, unique=True)
    )
    values = data.draw(
        st.lists(st.integers(0, 2**40), min_size=n_genes * n_samples, max_size=n_genes * n_samples)
    )
    counts = pd.DataFrame(
        np.asarray(values, dtype=np.int64).reshape(n_genes, n_samples), index=genes, columns=samples
    )
    path = write_counts(counts, tmp_path / f"rt_{fmt}.txt", format=fmt)  # type: ignore[arg-type]
    table = read_counts(path)
    assert table.gene_ids == genes
    assert table.sample_ids == samples
    np.testing.assert_array_equal(table.counts, counts.to_numpy().T)


def _bad_table(tmp_path: Path, rows: list[str], name: str = "bad.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(rows) + "\n")
    return p


def _problems(
    exc: pytest.ExceptionInfo[DataValidationError],
) -> list[tuple[int | None, str | None, str | None, str]]:
    return [(p.row, p.column, p.value, p.rule) for p in exc.value.problems]


def test_non_integer_negative_and_text_counts_named(tmp_path: Path) -> None:
    p = _bad_table(tmp_path, ["gene,S1,S2", "G1,1,2.5", "G2,-3,4", "G3,x,", "G4,5.0,6"])
    with pytest.raises(DataValidationError) as exc:
        read_counts(p)
    probs = _problems(exc)
    assert (
        2,
        "S2",
        "2.5",
        "counts must be whole numbers (raw counts, not normalised values)",
    ) in probs
    assert (3, "S1", "-3", "counts must be non-negative") in probs
    assert (4, "S1", "x", "count is not a number") in probs
    assert (4, "S2", "", "count is missing") in probs
    assert len(probs) == 4  # "5.0" is a whole number and accepted
    assert "bad.csv, line 2, column 'S2'" in str(exc.value)


def test_duplicated_gene_and_sample_ids(tmp_path: Path) -> None:
    p = _bad_table(tmp_path, ["gene,S1,S2", "G1,1,2", "G2,1,2", "G1,3,4"])
    with pytest.raises(DataValidationError) as exc:
        read_counts(p)
    assert _problems(exc) == [(4, "gene", "G1", "duplicated gene id (first on line 2)")]
    p2 = _bad_table(tmp_path, ["gene,S1,S2,S1", "G1,1,2,3"], "dup_s.csv")
    with pytest.raises(DataValidationError) as exc2:
        read_counts(p2)
    assert _problems(exc2) == [(1, "S1", "S1", "duplicated sample id (first in column #2)")]


def test_empty_matrix(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="empty matrix"):
        read_counts(_bad_table(tmp_path, ["gene,S1,S2"]))
    with pytest.raises(DataValidationError, match="no header"):
        read_counts(_bad_table(tmp_path, [""], "empty.csv"))
    with pytest.raises(DataValidationError, match="empty matrix"):
        read_counts(_bad_table(tmp_path, ["gene", "G1", "G2"], "nosamples.csv"))


def test_samples_without_metadata_error_and_extra_metadata_warns(
    tmp_path: Path, sim: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    counts, meta = sim
    c, m = _write(tmp_path, counts, meta.iloc[1:])
    with pytest.raises(DataValidationError, match="has no metadata row") as exc:
        read_omics(c, m)
    assert exc.value.problems[0].value == counts.columns[0]
    extra = pd.concat([meta, meta.iloc[:2].assign(sample_id=["X1", "X2"])])
    c, m = _write(tmp_path, counts, extra)
    with pytest.warns(AlsnetWarning, match=r"2 metadata row\(s\) have no sample.*lines "):
        adata = read_omics(c, m)
    assert adata.n_obs == counts.shape[1]
    assert adata.uns["ingest"]["n_metadata_without_samples"] == 2


def test_metadata_rules(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("sample,site\nS1,a\n")
    with pytest.raises(DataValidationError, match="needs a 'sample_id' column"):
        read_metadata(p)
    p.write_text("sample_id,site\nS1,a\nS2,b\nS1,c\n")
    with pytest.raises(DataValidationError) as exc:
        read_metadata(p)
    assert _problems(exc) == [(4, "sample_id", "S1", "duplicated sample id")]


def test_single_sample_batch_and_missing_batch(
    tmp_path: Path, sim: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    counts, meta = sim
    m2 = meta.copy()
    m2["site"] = m2["site"].astype(str)
    m2.loc[0, "site"] = "lonely_site"
    c, m = _write(tmp_path, counts, m2)
    with pytest.raises(DataValidationError, match="batch has a single sample") as exc:
        read_omics(c, m, batch_key="site")
    assert exc.value.problems[0].value == "lonely_site"
    read_omics(c, m)  # without --batch the single-sample site is fine
    with pytest.raises(DataValidationError, match="batch column not found"):
        read_omics(c, m, batch_key="centre")


def test_unknown_patients() -> None:
    obs = pd.DataFrame({"patient_id": ["P1", "P2", None, "P9"]}, index=["s1", "s2", "s3", "s4"])
    assert list(unknown_patients(obs, {"P1", "P2"})) == ["s3", "s4"]
    with pytest.raises(KeyError):
        unknown_patients(obs.rename(columns={"patient_id": "pid"}), {"P1"})


def test_errors_do_not_leak_patient_ids(
    tmp_path: Path, sim: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    counts, meta = sim
    m2 = meta.copy()
    m2.loc[3, "sample_id"] = m2.loc[2, "sample_id"]
    c, m = _write(tmp_path, counts, m2)
    with pytest.raises(DataValidationError) as exc:
        read_omics(c, m)
    pids = set(meta["patient_id"]) - {
        p for p in meta["patient_id"] if p in str(meta.loc[2, "sample_id"])
    }
    assert not any(pid in str(exc.value) for pid in pids)
