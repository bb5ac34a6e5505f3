"""Read one canonical CSV file as text, with file-level checks.

File-level problems (encoding, delimiter, ragged rows, empty files) are found
here, before any cell is interpreted, and reported as
:class:`alsnet.exceptions.Problem` with the file name and line number
(header = line 1).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from alsnet.exceptions import Problem
from alsnet.validation import ProblemLog

__all__ = ["RawTable", "read_raw_csv"]

_OTHER_DELIMITERS = {";": "semicolon ';'", "\t": "tab", "|": "pipe '|'"}


@dataclass(frozen=True)
class RawTable:
    """A CSV file read as text.

    Attributes
    ----------
    frame : DataFrame
        Every cell as ``str`` (empty string for empty cells); header names
        stripped and lower-cased.
    lines : ndarray of int
        Line in the file where each row starts (header = line 1).
    """

    frame: pd.DataFrame
    lines: np.ndarray


def _decode(data: bytes, source: str, log: ProblemLog) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        log.add(
            Problem(
                source,
                line,
                None,
                None,
                f"file is not UTF-8 encoded (first invalid byte 0x{data[exc.start]:02x} at "
                f"byte {exc.start}); save it as UTF-8 (e.g. 'CSV UTF-8' in Excel)",
            )
        )
        return None


def read_raw_csv(path: Path, *, log: ProblemLog, allow_header_only: bool) -> RawTable | None:
    """Read ``path`` as comma-separated UTF-8 text.

    Parameters
    ----------
    path : Path
        The CSV file.
    log : ProblemLog
        Receives file-level problems.
    allow_header_only : bool
        Whether a header without data rows is acceptable ("no rows").

    Returns
    -------
    RawTable or None
        ``None`` when a file-level problem makes the content unusable.
    """
    source = path.name
    data = path.read_bytes()
    if not data:
        log.add(Problem(source, None, None, None, "file is empty (0 bytes)"))
        return None
    text = _decode(data, source, log)
    if text is None:
        return None
    if not text.strip():
        log.add(Problem(source, 1, None, None, "file is empty (no header line)"))
        return None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=",", quotechar='"', strict=False)
    rows: list[list[str]] = []
    starts: list[int] = []
    prev = 0
    try:
        for row in reader:
            if any(cell.strip() for cell in row):  # skip blank lines and ',,,' rows
                rows.append(row)
                starts.append(prev + 1)
            prev = reader.line_num
    except csv.Error as exc:  # pragma: no cover - csv is lenient with strict=False
        log.add(Problem(source, reader.line_num, None, None, f"malformed CSV: {exc}"))
        return None
    if not rows:
        log.add(Problem(source, 1, None, None, "file is empty (no header line)"))
        return None
    header = [h.strip().lower() for h in rows[0]]
    if len(header) == 1:
        found = [name for d, name in _OTHER_DELIMITERS.items() if d in rows[0][0]]
        if found:
            log.add(
                Problem(
                    source,
                    1,
                    None,
                    None,
                    f"wrong delimiter: the header is one column containing a {found[0]}; "
                    "canonical CSV is comma-separated (re-save with ',' as delimiter)",
                )
            )
            return None
    body = rows[1:]
    lines = np.asarray(starts[1:], dtype=np.int64)
    if not body and not allow_header_only:
        log.add(
            Problem(
                source,
                1,
                None,
                None,
                "file has a header but no data rows; this table needs at least one row",
            )
        )
        return None
    lengths = np.fromiter((len(r) for r in body), dtype=np.int64, count=len(body))
    n = len(header)
    ragged = np.flatnonzero(lengths != n)
    for i in ragged[: log.limit]:
        k = int(lengths[i])
        column = header[k] if k < n else None
        what = "truncated row" if k < n else "row has extra fields (unquoted comma?)"
        hint = ""
        if any("\n" in cell or "\r" in cell for cell in body[i]):
            hint = "; a quoted field spans several lines: check for an unbalanced double quote"
        log.add(
            Problem(
                source,
                int(lines[i]),
                column,
                None,
                f"{what}: {k} field(s) but the header has {n}{hint}",
            )
        )
    if ragged.size:
        return None
    frame = pd.DataFrame(body, columns=header, dtype=object)
    return RawTable(frame=frame, lines=lines)
