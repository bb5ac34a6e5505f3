"""Readers and writers of count matrices and sample metadata (the I/O edge of ``alsnet.omics``).

Supported count formats (genes in rows, samples in columns):

``csv``
    A GEO-style table: comma- or tab-separated (the delimiter is sniffed from the header
    line), optionally gzip-compressed (``.gz``); the first column holds the gene id, every
    other column is one sample; the header line names the samples.
``featurecounts``
    The output of Subread ``featureCounts``: ``#`` comment lines, then a tab-separated header
    ``Geneid Chr Start End Strand Length <sample>...``. The five annotation columns go to
    ``var``; sample columns, which featureCounts names after the BAM files, are renamed to
    the file stem (``/data/S1.sorted.bam`` -> ``S1.sorted``).
``h5ad``
    An AnnData file with raw counts in ``X`` (samples x genes).

The sample metadata CSV has a ``sample_id`` column plus any of ``patient_id`` (the registry
pseudonym), ``site``, ``platform``, ``tissue``, ``ancestry``, ``genotype``, ...

Every rule broken raises :class:`~alsnet.exceptions.DataValidationError` listing file, line
(1-based, header = its own line number), column, value and rule. Identifiers (patient
pseudonyms) are never echoed in errors: the line number locates them.
"""

from __future__ import annotations

import csv
import gzip
import io as _io
import logging
import warnings
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alsnet.exceptions import AlsnetWarning, DataValidationError, Problem

if TYPE_CHECKING:
    import anndata

__all__ = [
    "FEATURECOUNTS_ANNOTATION",
    "CountFormat",
    "CountTable",
    "check_batch",
    "read_counts",
    "read_metadata",
    "read_omics",
    "registry_patient_ids",
    "unknown_patients",
    "write_counts",
]

logger = logging.getLogger(__name__)

CountFormat = Literal["auto", "csv", "featurecounts", "h5ad"]

#: featureCounts annotation columns after ``Geneid`` (stored in ``var``, lower-cased).
FEATURECOUNTS_ANNOTATION = ("Chr", "Start", "End", "Strand", "Length")
_MAX_PROBLEMS = 20


@dataclass(frozen=True)
class CountTable:
    """A validated count matrix as read from a file.

    Attributes
    ----------
    counts : ndarray of int64, shape (n_samples, n_genes)
        Raw counts (samples in rows, as in AnnData).
    sample_ids : list of str
        Sample identifiers, in file order.
    gene_ids : list of str
        Gene identifiers, in file order.
    var : DataFrame
        Gene annotation (index ``gene_id``); featureCounts columns chr/start/end/strand/length.
    format : str
        Format that was read (``csv``, ``featurecounts`` or ``h5ad``).
    obs : DataFrame or None
        Sample annotation stored in an ``.h5ad`` file (None for text formats).
    """

    counts: npt.NDArray[np.int64]
    sample_ids: list[str]
    gene_ids: list[str]
    var: pd.DataFrame
    format: str
    obs: pd.DataFrame | None = None


def _raise(problems: list[Problem], total: int | None = None) -> None:
    if problems:
        n = len(problems) if total is None else total
        raise DataValidationError(problems[:_MAX_PROBLEMS], truncated=max(0, n - _MAX_PROBLEMS))


def _open_text(path: Path) -> _io.TextIOBase:
    if path.suffix == ".gz":
        return _io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _header(path: Path) -> tuple[int, str]:
    """Return (number of leading ``#`` comment lines, the header line)."""
    n_comment = 0
    with _open_text(path) as fh:
        for line in fh:
            if line.startswith("#"):
                n_comment += 1
                continue
            return n_comment, line.rstrip("\r\n")
    return n_comment, ""


def _detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".h5ad"):
        return "h5ad"
    _, header = _header(path)
    cols = [c.strip().strip('"') for c in header.split("\t")]
    if cols[1:6] == list(FEATURECOUNTS_ANNOTATION):
        return "featurecounts"
    return "csv"


def _sample_name(col: str) -> str:
    """featureCounts names samples after their BAM path: keep the file stem."""
    base = col.replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-4] if base.lower().endswith(".bam") else base


def read_counts(path: str | Path, *, format: CountFormat = "auto") -> CountTable:
    """Read and validate a count matrix (genes x samples text table, or ``.h5ad``).

    Parameters
    ----------
    path : str or Path
        Count file (see the module docstring for the formats).
    format : {"auto", "csv", "featurecounts", "h5ad"}
        ``auto`` picks ``h5ad`` by extension, ``featurecounts`` when the header has the
        Chr/Start/End/Strand/Length columns, else ``csv``.

    Returns
    -------
    CountTable
        Counts transposed to samples x genes (int64).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    DataValidationError
        Empty matrix; duplicated gene or sample ids; empty ids; missing, non-numeric,
        non-integer or negative counts.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    fmt = _detect_format(path) if format == "auto" else format
    if fmt not in ("csv", "featurecounts", "h5ad"):
        raise ValueError(f"unknown count format {format!r}")
    if fmt == "h5ad":
        return _read_h5ad_counts(path)
    return _read_text_counts(path, fmt)


def _read_text_counts(path: Path, fmt: str) -> CountTable:
    src = path.name
    n_comment, header_line = _header(path)
    if not header_line.strip():
        _raise([Problem(src, None, None, None, "the file has no header line (empty matrix)")])
    delim = "\t" if fmt == "featurecounts" or "\t" in header_line else ","
    header = next(csv.reader([header_line], delimiter=delim))
    header_lineno = n_comment + 1
    n_annot = 1 + (len(FEATURECOUNTS_ANNOTATION) if fmt == "featurecounts" else 0)
    if fmt == "featurecounts" and header[1:n_annot] != list(FEATURECOUNTS_ANNOTATION):
        _raise(
            [
                Problem(
                    src,
                    header_lineno,
                    None,
                    delim.join(header[:n_annot]),
                    "a featureCounts header starts Geneid, Chr, Start, End, Strand, Length",
                )
            ]
        )
    raw_samples = header[n_annot:]
    samples = [_sample_name(s) for s in raw_samples] if fmt == "featurecounts" else raw_samples
    samples = [s.strip() for s in samples]
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for j, s in enumerate(samples):
        col = raw_samples[j]
        if not s:
            problems.append(
                Problem(src, header_lineno, f"#{n_annot + j + 1}", "", "sample id is empty")
            )
        elif s in seen:
            problems.append(
                Problem(
                    src,
                    header_lineno,
                    col,
                    s,
                    f"duplicated sample id (first in column #{seen[s] + n_annot + 1})",
                )
            )
        else:
            seen[s] = j
    _raise(problems)
    try:
        frame = pd.read_csv(
            path,
            sep=delim,
            header=None,
            skiprows=header_lineno,
            dtype=str,
            keep_default_na=False,
            comment=None,
            engine="c",
        )
    except pd.errors.EmptyDataError:
        frame = pd.DataFrame(columns=range(len(header)), dtype=str)
    if frame.shape[1] != len(header):
        _raise(
            [
                Problem(
                    src,
                    header_lineno,
                    None,
                    str(frame.shape[1]),
                    f"data lines have {frame.shape[1]} fields but the header has {len(header)}",
                )
            ]
        )
    if frame.shape[0] == 0 or not samples:
        _raise([Problem(src, None, None, None, "empty matrix: no genes or no samples")])
    genes = frame.iloc[:, 0].str.strip()
    first_line = header_lineno + 1
    gene_col = header[0] or "gene_id"
    empty = np.flatnonzero((genes == "").to_numpy())
    problems += [Problem(src, first_line + int(i), gene_col, "", "gene id is empty") for i in empty]
    dup = genes.duplicated(keep="first").to_numpy()
    if dup.any():
        first_pos = dict(zip(genes[~dup], np.flatnonzero(~dup), strict=True))
        problems += [
            Problem(
                src,
                first_line + int(i),
                gene_col,
                str(genes.iloc[i]),
                f"duplicated gene id (first on line {first_line + first_pos[genes.iloc[i]]})",
            )
            for i in np.flatnonzero(dup)[:_MAX_PROBLEMS]
        ]
    _raise(problems, len(problems) + max(0, int(dup.sum()) - _MAX_PROBLEMS))
    text = frame.iloc[:, n_annot:]
    values = text.apply(lambda s: pd.to_numeric(s.str.strip(), errors="coerce")).to_numpy(
        dtype=np.float64
    )
    _check_values(values, text.to_numpy(dtype=object), src, first_line, raw_samples)
    var = pd.DataFrame(index=pd.Index(genes.to_numpy(dtype=str), name="gene_id"))
    if fmt == "featurecounts":
        for j, name in enumerate(FEATURECOUNTS_ANNOTATION, start=1):
            annot = frame.iloc[:, j].to_numpy(dtype=str)
            if name == "Length":
                var["length"] = pd.to_numeric(annot, errors="coerce")
            else:  # Chr/Start/End/Strand: ';'-joined per exon in featureCounts output
                var[name.lower()] = annot
    return CountTable(
        counts=values.T.astype(np.int64),
        sample_ids=samples,
        gene_ids=list(var.index),
        var=var,
        format=fmt,
    )


def _check_values(
    values: npt.NDArray[np.float64],
    text: npt.NDArray[Any] | None,
    src: str,
    first_line: int,
    columns: list[str],
    *,
    transposed: bool = False,
) -> None:
    """Raise for missing, non-numeric, non-integer or negative counts (vectorised).

    ``values`` is genes x samples for text files (line = first_line + gene index) and samples
    x genes for h5ad (``transposed``: row = sample, column = gene).
    """
    finite = np.isfinite(values)
    bad = ~finite | (values < 0) | (values != np.round(values))
    if not bad.any():
        return
    rows, cols = np.nonzero(bad)
    problems = []
    for r, c in zip(rows[:_MAX_PROBLEMS], cols[:_MAX_PROBLEMS], strict=True):
        v = values[r, c]
        raw = str(text[r, c]).strip() if text is not None else repr(float(v))
        if not finite[r, c]:
            rule = "count is missing" if raw in ("", "nan", "NA") else "count is not a number"
        elif v < 0:
            rule = "counts must be non-negative"
        else:
            rule = "counts must be whole numbers (raw counts, not normalised values)"
        line = first_line + int(r)
        problems.append(Problem(src, line, columns[int(c)], raw, rule))
    _raise(problems, int(rows.size))


def _read_h5ad_counts(path: Path) -> CountTable:
    import anndata

    adata = anndata.read_h5ad(path)
    src = path.name
    if adata.n_obs == 0 or adata.n_vars == 0:
        _raise([Problem(src, None, None, None, "empty matrix: no genes or no samples")])
    x = adata.X.toarray() if hasattr(adata.X, "toarray") else np.asarray(adata.X)
    values = np.asarray(x, dtype=np.float64)
    problems = []
    for what, index in (("sample", adata.obs_names), ("gene", adata.var_names)):
        dup = index.duplicated()
        problems += [
            Problem(src, int(i) + 1, f"{what} id", str(index[i]), f"duplicated {what} id")
            for i in np.flatnonzero(dup)[:_MAX_PROBLEMS]
        ]
    _raise(problems)
    genes = [str(g) for g in adata.var_names]
    # rows = samples here: report the sample index as the row and the gene id as the column
    _check_values(values, None, f"{src} (X: sample row, gene column)", 1, genes)
    return CountTable(
        counts=values.astype(np.int64),
        sample_ids=[str(s) for s in adata.obs_names],
        gene_ids=genes,
        var=adata.var.copy().rename_axis("gene_id"),
        format="h5ad",
        obs=adata.obs.copy(),
    )


def read_metadata(path: str | Path) -> pd.DataFrame:
    """Read a sample metadata CSV (``sample_id`` plus metadata columns).

    Returns
    -------
    DataFrame
        Index ``sample_id`` (str); text columns become categoricals (missing values allowed),
        ``patient_id`` stays text. The attribute ``attrs["lines"]`` maps sample id to its
        1-based file line (for error messages downstream).

    Raises
    ------
    DataValidationError
        No ``sample_id`` column, empty or duplicated sample ids.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    src = path.name
    with _open_text(path) as fh:
        sample = fh.readline()
    delim = "\t" if "\t" in sample else ","
    meta = pd.read_csv(
        path, sep=delim, dtype={"sample_id": str, "patient_id": str}, keep_default_na=True
    )
    meta.columns = [str(c).strip() for c in meta.columns]
    if "sample_id" not in meta.columns:
        _raise(
            [Problem(src, 1, "sample_id", None, "the metadata needs a 'sample_id' column (header)")]
        )
    ids = meta["sample_id"].fillna("").astype(str).str.strip()
    problems = [
        Problem(src, int(i) + 2, "sample_id", "", "sample id is empty")
        for i in np.flatnonzero((ids == "").to_numpy())
    ]
    dup = ids.duplicated() & (ids != "")
    problems += [
        Problem(src, int(i) + 2, "sample_id", ids.iloc[i], "duplicated sample id")
        for i in np.flatnonzero(dup.to_numpy())
    ]
    _raise(problems)
    lines = dict(zip(ids, range(2, len(ids) + 2), strict=True))
    meta = meta.drop(columns="sample_id")
    meta.index = pd.Index(ids.to_numpy(dtype=str), name="sample_id")
    for col in meta.columns:
        if col == "patient_id":
            meta[col] = meta[col].astype("string").str.strip().astype(object)
        elif meta[col].dtype == object:
            meta[col] = pd.Categorical(meta[col].astype("string").str.strip().astype(object))
    meta.attrs["lines"] = lines
    meta.attrs["source"] = src
    return meta


def read_omics(
    counts_path: str | Path,
    meta_path: str | Path | None = None,
    *,
    format: CountFormat = "auto",
    batch_key: str | None = None,
) -> anndata.AnnData:
    """Read counts and sample metadata into an AnnData (samples x genes, int counts in ``X``).

    Parameters
    ----------
    counts_path : str or Path
        Count matrix (see :func:`read_counts`).
    meta_path : str or Path, optional
        Sample metadata CSV. Required for text formats; for ``.h5ad`` it replaces or adds
        ``obs`` columns.
    format : {"auto", "csv", "featurecounts", "h5ad"}
        Count format.
    batch_key : str, optional
        Batch column (e.g. ``site``) to be corrected later: it must exist, be complete, and
        every batch needs at least two samples (ComBat cannot estimate a one-sample batch).

    Returns
    -------
    AnnData
        ``X`` int64 counts, ``obs`` the metadata (index ``sample_id``, in count-file order),
        ``var`` the gene annotation, ``uns["ingest"]`` the provenance (file names, format,
        number of metadata rows without samples).

    Raises
    ------
    DataValidationError
        Count rules (see :func:`read_counts`), samples without metadata, batch rules.

    Warns
    -----
    AlsnetWarning
        Metadata rows whose sample is not in the count matrix (they are dropped).
    """
    import anndata

    table = read_counts(counts_path, format=format)
    counts_name = Path(counts_path).name
    if meta_path is None:
        if table.obs is None:
            raise DataValidationError(
                [
                    Problem(
                        counts_name,
                        None,
                        None,
                        None,
                        "text count tables need a sample metadata file (--meta)",
                    )
                ]
            )
        obs = table.obs.copy()
        extra = 0
    else:
        meta = read_metadata(meta_path)
        obs, extra = _join_metadata(table, meta, Path(meta_path).name)
    obs.index = pd.Index(table.sample_ids, name="sample_id")
    if batch_key is not None:
        check_batch(obs, batch_key, Path(meta_path).name if meta_path else counts_name)
    adata = anndata.AnnData(X=table.counts, obs=obs, var=table.var)
    adata.uns["ingest"] = {
        "params": {
            "counts": counts_name,
            "meta": "" if meta_path is None else Path(meta_path).name,
            "format": table.format,
            "batch_key": batch_key or "",
        },
        "n_metadata_without_samples": extra,
    }
    logger.info("ingested %d samples x %d genes (%s)", adata.n_obs, adata.n_vars, table.format)
    return adata


def _join_metadata(table: CountTable, meta: pd.DataFrame, src: str) -> tuple[pd.DataFrame, int]:
    samples = pd.Index(table.sample_ids)
    missing = samples[~samples.isin(meta.index)]
    if len(missing):
        problems = [
            Problem(src, None, "sample_id", s, "sample of the count matrix has no metadata row")
            for s in missing[:_MAX_PROBLEMS]
        ]
        _raise(problems, len(missing))
    extra = meta.index[~meta.index.isin(samples)]
    if len(extra):
        lines = meta.attrs.get("lines", {})
        where = ", ".join(str(lines.get(s, "?")) for s in extra[:10])
        warnings.warn(
            f"{src}: {len(extra)} metadata row(s) have no sample in the count matrix "
            f"(lines {where}{', ...' if len(extra) > 10 else ''}); they were dropped",
            AlsnetWarning,
            stacklevel=3,
        )
    obs = meta.loc[samples].copy()
    for col in obs.columns:
        if isinstance(obs[col].dtype, pd.CategoricalDtype):
            obs[col] = obs[col].cat.remove_unused_categories()
    obs.attrs = {}
    return obs, len(extra)


def check_batch(obs: pd.DataFrame, batch_key: str, src: str) -> None:
    """Raise unless ``obs[batch_key]`` exists, is complete and has >= 2 samples per batch.

    ``src`` names the file in the error (the metadata file).
    """
    if batch_key not in obs.columns:
        _raise(
            [
                Problem(
                    src,
                    1,
                    batch_key,
                    None,
                    f"batch column not found (have: {', '.join(map(str, obs.columns))})",
                )
            ]
        )
    col = obs[batch_key]
    problems = [
        Problem(src, None, batch_key, None, f"sample {s!r} has no batch value")
        for s in obs.index[col.isna().to_numpy()][:_MAX_PROBLEMS]
    ]
    sizes = col.astype(str).value_counts()
    problems += [
        Problem(
            src,
            None,
            batch_key,
            str(b),
            "batch has a single sample; ComBat needs at least two per batch "
            "(merge it into another batch or drop the sample)",
        )
        for b in sizes.index[sizes.to_numpy() == 1]
    ]
    _raise(problems)


def unknown_patients(
    obs: pd.DataFrame, known: Collection[str], *, patient_key: str = "patient_id"
) -> pd.Index:
    """Samples whose ``obs[patient_key]`` is not among the ``known`` registry pseudonyms.

    Returns
    -------
    Index
        Sample ids (not patient ids) of unlinked samples; missing patient ids count as
        unknown. Empty when ``obs`` has no ``patient_key`` column there is nothing to link
        and a ``KeyError`` is raised instead.
    """
    if patient_key not in obs.columns:
        raise KeyError(f"obs has no {patient_key!r} column to link samples to patients")
    pid = obs[patient_key].astype(object)
    ok = pid.notna().to_numpy() & pid.astype(str).isin(set(known)).to_numpy()
    return obs.index[~ok]


def registry_patient_ids(url: str) -> set[str]:
    """All ``patients.patient_id`` pseudonyms of the registry at ``url``."""
    import sqlalchemy as sa

    from alsnet.registry import Store

    with Store.open(url, create=False) as store, store.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT patient_id FROM patients")).scalars()
        return {str(r) for r in rows}


def write_counts(
    counts: pd.DataFrame,
    path: str | Path,
    *,
    format: Literal["csv", "tsv", "featurecounts"] = "csv",
    annotation: pd.DataFrame | None = None,
) -> Path:
    """Write a genes x samples count table as GEO (csv/tsv) or featureCounts would.

    Parameters
    ----------
    counts : DataFrame
        Genes in rows (index = gene id), samples in columns, integer counts.
    path : str or Path
        Output file.
    format : {"csv", "tsv", "featurecounts"}
        Layout; ``featurecounts`` writes a ``# Program:featureCounts`` comment line and the
        Chr/Start/End/Strand/Length columns (from ``annotation`` or placeholders).
    annotation : DataFrame, optional
        featureCounts annotation (columns chr, start, end, strand, length), indexed by gene.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = counts.copy()
    frame.index = frame.index.rename(counts.index.name or "gene_id")
    if format == "featurecounts":
        n = frame.shape[0]
        ann = pd.DataFrame(
            {
                "Chr": ["chr1"] * n,
                "Start": np.arange(1, n + 1) * 1000,
                "End": np.arange(1, n + 1) * 1000 + 999,
                "Strand": ["+"] * n,
                "Length": [1000] * n,
            },
            index=frame.index,
        )
        if annotation is not None:
            for name in FEATURECOUNTS_ANNOTATION:
                if name.lower() in annotation.columns:
                    ann[name] = annotation.loc[frame.index, name.lower()].to_numpy()
        frame = pd.concat([ann, frame], axis=1)
        frame.index = frame.index.rename("Geneid")
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write("# Program:featureCounts v2.0.6; Command:written by alsnet\n")
            frame.to_csv(fh, sep="\t")
        return path
    frame.to_csv(path, sep="\t" if format == "tsv" else ",")
    return path
