"""Find PRO-ACT files, decide the layout and read delimited text with file-level checks.

File-level problems (encoding, wrong delimiter, truncated or over-long rows,
missing header columns) are reported as :class:`alsnet.exceptions.Problem`
naming the file and line (header = line 1) before any cell is interpreted.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from alsnet.exceptions import AlsnetError, Problem
from alsnet.io._csvfile import _decode
from alsnet.validation import ProblemLog

__all__ = ["Layout", "ProactFiles", "TextTable", "find_files", "read_delimited"]

Layout = Literal["dream", "proact", "f_proact"]

_DREAM = re.compile(r"^all_forms_proact.*\.txt$", re.IGNORECASE)
_CSV = re.compile(r"^(f_)?proact_(?P<table>.+)\.csv$", re.IGNORECASE)
_DELIMS = {",": "comma ','", ";": "semicolon ';'", "\t": "tab", "|": "pipe '|'"}


@dataclass(frozen=True)
class ProactFiles:
    """The PRO-ACT files found at a path.

    Attributes
    ----------
    layout : {"dream", "proact", "f_proact"}
        The detected release layout.
    dream : list of Path
        DREAM long files (layout ``dream``), in name order.
    tables : dict of str to Path
        Upper-case table name (``ALSFRS``, ``NEUROFILAMENT``...) -> CSV file.
    """

    layout: Layout
    dream: list[Path] = field(default_factory=list)
    tables: dict[str, Path] = field(default_factory=dict)


def find_files(path: str | Path | Sequence[str | Path]) -> ProactFiles:
    """Detect the PRO-ACT layout from file names.

    Parameters
    ----------
    path : str, Path or sequence of them
        A directory holding PRO-ACT files, one file, or several files.

    Returns
    -------
    ProactFiles

    Raises
    ------
    AlsnetError
        If nothing PRO-ACT-like is found, or if layouts are mixed (DREAM and CSV,
        or the same table under both the ``PROACT_`` and ``F_PROACT_`` prefix).
    """
    if isinstance(path, str | Path):
        p = Path(path)
        if not p.exists():
            raise AlsnetError(f"PRO-ACT path not found: {p}")
        candidates = sorted(q for q in p.iterdir() if q.is_file()) if p.is_dir() else [p]
    else:
        candidates = [Path(q) for q in path]
        missing = [str(q) for q in candidates if not q.is_file()]
        if missing:
            raise AlsnetError("PRO-ACT file(s) not found: " + ", ".join(missing))
    dream = sorted((q for q in candidates if _DREAM.match(q.name)), key=lambda q: q.name.lower())
    tables: dict[str, Path] = {}
    prefixes: set[bool] = set()
    for q in candidates:
        m = _CSV.match(q.name)
        if not m:
            continue
        name = m.group("table").upper()
        if name in tables:
            raise AlsnetError(
                f"PRO-ACT table {name} is present twice ({tables[name].name} and {q.name}); "
                "keep the files of one release only"
            )
        tables[name] = q
        prefixes.add(q.name.lower().startswith("f_"))
    if dream and tables:
        raise AlsnetError(
            "both DREAM long files (all_forms_PROACT_*.txt) and PRO-ACT CSV files were found; "
            "import one layout at a time"
        )
    if dream:
        return ProactFiles("dream", dream=dream)
    if not tables:
        names = ", ".join(q.name for q in candidates[:10]) or "(no files)"
        raise AlsnetError(
            "no PRO-ACT files found: expected all_forms_PROACT_*.txt, PROACT_<TABLE>.csv or "
            f"F_PROACT_<TABLE>.csv; found {names}"
        )
    layout: Layout = "f_proact" if True in prefixes else "proact"
    return ProactFiles(layout, tables=tables)


@dataclass(frozen=True)
class TextTable:
    """A delimited file read as text.

    Attributes
    ----------
    frame : DataFrame
        Every cell as ``str``; columns are the header names exactly as in the file.
    lines : ndarray of int
        Line in the file where each row starts (header = line 1).
    """

    frame: pd.DataFrame
    lines: np.ndarray


def _field_counts(data: bytes, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """Fields per line and a blank-line mask, counted without a Python loop."""
    arr = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    ends = np.append(nl, arr.size)
    starts = np.concatenate(([0], nl + 1))
    if arr.size and arr[-1] == 10:  # final newline does not open a line
        ends, starts = ends[:-1], starts[:-1]
    seps = np.flatnonzero(arr == ord(sep))
    counts = np.bincount(np.searchsorted(ends, seps), minlength=ends.size)[: ends.size] + 1
    length = ends - starts
    last = arr[np.clip(ends - 1, 0, max(arr.size - 1, 0))] if arr.size else np.zeros(0)
    blank = (length == 0) | ((length == 1) & (last == 13))
    return counts, blank


def read_delimited(path: Path, *, sep: str, log: ProblemLog) -> TextTable | None:
    """Read a delimited UTF-8 text file, checking rows against the header.

    Parameters
    ----------
    path : Path
        The file.
    sep : str
        Expected one-character delimiter (``","`` or ``"|"``).
    log : ProblemLog
        Receives file-level problems.

    Returns
    -------
    TextTable or None
        ``None`` when a file-level problem makes the content unusable.
    """
    source = path.name
    data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
    text = _decode(data, source, log)
    if text is None:
        return None
    if not text.strip():
        log.add(Problem(source, None, None, None, "file is empty (no header line)"))
        return None
    first = text.split("\n", 1)[0].rstrip("\r")
    if sep not in first:
        others = [name for d, name in _DELIMS.items() if d != sep and d in first]
        hint = f" (the header contains a {others[0]})" if others else ""
        log.add(
            Problem(
                source,
                1,
                None,
                None,
                f"wrong delimiter{hint}: this file must be separated by {_DELIMS[sep]}",
            )
        )
        return None
    if sep == "," and '"' in text:
        return _read_quoted(text, sep, source, log)
    counts, blank = _field_counts(data, sep)
    n = int(counts[0])
    body = np.flatnonzero(~blank)
    body = body[body > 0]
    bad = body[counts[body] != n]
    header = first.split(sep)
    for i in bad[: log.limit]:
        _ragged(log, source, int(i) + 1, int(counts[i]), header)
    log.dropped += max(bad.size - log.limit, 0)
    if bad.size:
        return None
    frame = pd.read_csv(
        io.StringIO(text),
        sep=sep,
        dtype=str,
        na_filter=False,
        quoting=csv.QUOTE_NONE,
        engine="c",
        skip_blank_lines=True,
    )
    lines = body.astype(np.int64) + 1
    if len(frame) != lines.size:  # pragma: no cover - defensive; counts and parser disagree
        log.add(Problem(source, None, None, None, "could not parse the file consistently"))
        return None
    return TextTable(frame, lines)


def _ragged(log: ProblemLog, source: str, line: int, k: int, header: list[str]) -> None:
    n = len(header)
    if k < n:
        log.add(
            Problem(
                source,
                line,
                header[k].strip(),
                None,
                f"truncated row: {k} field(s) but the header has {n}",
            )
        )
    else:
        log.add(
            Problem(
                source,
                line,
                None,
                None,
                f"row has {k} fields but the header has {n} (unquoted delimiter?)",
            )
        )


def _read_quoted(text: str, sep: str, source: str, log: ProblemLog) -> TextTable | None:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quotechar='"')
    rows: list[list[str]] = []
    starts: list[int] = []
    prev = 0
    for row in reader:
        if row and any(cell.strip() for cell in row):
            rows.append(row)
            starts.append(prev + 1)
        prev = reader.line_num
    header, body = rows[0], rows[1:]
    lengths = np.fromiter((len(r) for r in body), dtype=np.int64, count=len(body))
    lines = np.asarray(starts[1:], dtype=np.int64)
    bad = np.flatnonzero(lengths != len(header))
    for i in bad[: log.limit]:
        _ragged(log, source, int(lines[i]), int(lengths[i]), header)
    if bad.size:
        return None
    return TextTable(pd.DataFrame(body, columns=header, dtype=object), lines)
