"""Validation of raw count matrices (shared by normalisation and the CLI)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from alsnet.exceptions import DataValidationError, Problem

__all__ = ["as_count_matrix"]


def as_count_matrix(x: Any, *, source: str = "counts") -> npt.NDArray[np.float64]:
    """Return ``x`` as a float64 samples x genes matrix of non-negative whole numbers.

    Parameters
    ----------
    x : array-like or sparse matrix, shape (n_samples, n_genes)
        Raw counts.
    source : str
        Name used in error messages.

    Raises
    ------
    DataValidationError
        If ``x`` is not two-dimensional or holds negative, non-finite or non-integer values.
    """
    if hasattr(x, "toarray"):
        x = x.toarray()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise DataValidationError(
            [Problem(source, None, None, str(arr.shape), "counts must be a 2-D matrix")]
        )
    problems: list[Problem] = []
    bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr))
    if bad.any():
        rows, cols = np.nonzero(bad)
        for r, c in zip(rows[:10], cols[:10], strict=True):
            problems.append(
                Problem(
                    source,
                    int(r) + 1,
                    f"gene #{int(c) + 1}",
                    repr(float(arr[r, c])),
                    "raw counts must be non-negative whole numbers",
                )
            )
        raise DataValidationError(problems, truncated=max(0, rows.size - 10))
    return arr
