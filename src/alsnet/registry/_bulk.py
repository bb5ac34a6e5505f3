"""Bulk movement of pandas frames into and out of the registry tables.

Writes never go row by row through the ORM: PostgreSQL receives a CSV stream
through psycopg's ``COPY ... FROM STDIN``; SQLite receives chunked
``executemany`` inserts. Reads fetch plain tuples and hand them to
:func:`alsnet.validation.coerce_table` so loaded frames carry exactly the
canonical dtypes of :data:`alsnet.validation.DTYPES`.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from alsnet.exceptions import StoreError
from alsnet.schema import TABLES, ColumnSpec
from alsnet.validation import coerce_table, empty_table

__all__ = [
    "SQLITE_CHUNK_ROWS",
    "canonical_frame",
    "insert_frame",
    "read_frame",
    "records",
    "stage_ids",
    "tuples",
]

#: Rows per ``executemany`` call on SQLite.
SQLITE_CHUNK_ROWS = 10_000
_NUMERIC_KINDS = ("int", "float", "flag")


def _columns(df: pd.DataFrame) -> list[np.ndarray]:
    return [
        df[c].to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
        for c in df.columns
    ]


def tuples(df: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Rows of ``df`` as tuples of plain Python values (``None`` for missing)."""
    return list(zip(*_columns(df), strict=True))


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``df`` as dicts of plain Python values (``None`` for missing)."""
    names = [str(c) for c in df.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*_columns(df), strict=True)]


def _copy_csv(conn: sa.Connection, table: sa.Table, df: pd.DataFrame) -> None:
    """Stream ``df`` into ``table`` with PostgreSQL ``COPY ... FROM STDIN`` (CSV)."""
    prep = conn.dialect.identifier_preparer
    cols = ", ".join(prep.quote(c) for c in df.columns)
    target = prep.format_table(table)
    sql = f"COPY {target} ({cols}) FROM STDIN WITH (FORMAT csv, FORCE_NULL ({cols}))"
    buf = io.StringIO()
    # Missing values are written as empty fields; FORCE_NULL makes even a quoted empty
    # field NULL. Canonical text is never empty (blank cells are missing), so nothing is lost.
    df.to_csv(buf, header=False, index=False, na_rep="", lineterminator="\n")
    dbapi_conn = conn.connection.driver_connection
    if dbapi_conn is None:  # pragma: no cover - only for detached connections
        raise StoreError("no driver connection available for COPY")
    with dbapi_conn.cursor() as cur, cur.copy(sql) as copy:
        copy.write(buf.getvalue())


def insert_frame(conn: sa.Connection, table: sa.Table, df: pd.DataFrame) -> int:
    """Insert every row of ``df`` into ``table`` in bulk; return the number of rows.

    Parameters
    ----------
    conn : Connection
        Open connection inside the caller's transaction.
    table : Table
        Target table; ``df`` columns must be a subset of its columns.
    df : DataFrame
        Rows to insert; missing values become SQL ``NULL``.
    """
    if df.empty:
        return 0
    if conn.dialect.name == "postgresql":
        _copy_csv(conn, table, df)
    else:
        prep = conn.dialect.identifier_preparer
        cols = ", ".join(prep.quote(str(c)) for c in df.columns)
        marks = ", ".join("?" * df.shape[1])
        sql = f"INSERT INTO {prep.format_table(table)} ({cols}) VALUES ({marks})"
        for start in range(0, len(df), SQLITE_CHUNK_ROWS):
            conn.exec_driver_sql(sql, tuples(df.iloc[start : start + SQLITE_CHUNK_ROWS]))
    return len(df)


def stage_ids(conn: sa.Connection, name: str, ids: Iterable[str]) -> sa.Table:
    """Create a temporary one-column table ``name(patient_id)`` holding ``ids``.

    The table lives until the end of the transaction on PostgreSQL (``ON COMMIT
    DROP``); on SQLite it is dropped first if an earlier transaction of the same
    pooled connection left it behind. Use it in ``IN (SELECT ...)`` filters so
    lookups of many ids stay one statement.
    """
    tmp = sa.Table(
        name,
        sa.MetaData(),
        sa.Column("patient_id", sa.String, primary_key=True),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{name}")
    tmp.create(conn)
    values = pd.DataFrame({"patient_id": pd.Series(list(ids), dtype=object)}).drop_duplicates()
    insert_frame(conn, tmp, values)
    return tmp


def read_frame(
    conn: sa.Connection,
    table: sa.Table,
    *,
    where: sa.ColumnElement[bool] | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Read canonical rows of ``table`` as a frame with the canonical dtypes.

    Parameters
    ----------
    conn : Connection
        Open connection.
    table : Table
        One of the canonical tables.
    where : SQL expression, optional
        Row filter.
    columns : sequence of str, optional
        Columns to read (default: the canonical columns of the table).
    """
    spec = TABLES[table.name]
    names = list(spec.names if columns is None else columns)
    stmt = sa.select(*(table.c[c] for c in names))
    if where is not None:
        stmt = stmt.where(where)
    rows = conn.execute(stmt).all()
    if columns is not None:
        return pd.DataFrame.from_records(rows, columns=names)
    values = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return pd.DataFrame({c.name: _typed(v, c) for c, v in zip(spec.columns, values, strict=True)})


def _typed(values: Sequence[Any], col: ColumnSpec) -> pd.Series:
    """Database values of one column as a Series of the canonical dtype.

    Equivalent to :func:`alsnet.validation.coerce_table` for values that were
    valid when written (the schema's CHECK constraints keep them so), without
    re-validating: text as ``string``, floats as ``float64`` (``NULL`` -> NaN),
    required integers as ``int64`` and other integers and flags as ``Int64``.
    """
    if col.kind in ("str", "cat"):
        return pd.Series(pd.array(values, dtype="string"))
    if col.kind == "float":
        return pd.Series(np.array(values, dtype="float64"))
    if col.kind == "int" and not col.nullable:
        return pd.Series(np.array(values, dtype="int64"))
    return pd.Series(pd.array(np.array(values, dtype="float64"), dtype="Float64").astype("Int64"))


@functools.cache
def _canonical_dtypes(name: str) -> pd.Series:
    return empty_table(TABLES[name]).dtypes


def canonical_frame(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """``df`` with the canonical column order and dtypes of table ``name``.

    Frames of a validated :class:`~alsnet.cohort.Cohort` already are canonical
    and are returned as they are; anything else goes through
    :func:`alsnet.validation.coerce_table`.
    """
    spec = TABLES[name]
    want = _canonical_dtypes(name)
    if list(df.columns) == list(spec.names) and all(df[c].dtype == want[c] for c in spec.names):
        return df.reset_index(drop=True)
    return coerce_table(df.reset_index(drop=True), spec, source=name)
