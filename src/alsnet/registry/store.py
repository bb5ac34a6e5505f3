"""The registry store: save and load :class:`~alsnet.cohort.Cohort` objects.

One schema on SQLite (embedded default, WAL) and PostgreSQL (production),
migrated by the packaged Alembic scripts. Every :meth:`Store.save` is one
transaction that compares the incoming cohort with what is stored, patient by
patient but vectorised, and writes in bulk.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa

from alsnet.cohort import Cohort
from alsnet.exceptions import StoreError
from alsnet.registry._bulk import (
    canonical_frame,
    insert_frame,
    read_frame,
    records,
    stage_ids,
)
from alsnet.registry._diff import differing_ids, differing_tables
from alsnet.registry._report import SaveReport
from alsnet.registry.engine import make_engine, sqlite_path
from alsnet.registry.migrate import current_revision, head_revision, upgrade
from alsnet.registry.models import table
from alsnet.schema import TABLES
from alsnet.validation import empty_table

__all__ = ["MAX_LISTED", "SaveReport", "Store"]

log = logging.getLogger(__name__)

#: Most patient or site ids named in a conflict message.
MAX_LISTED = 20
#: Key of the PostgreSQL advisory lock taken while migrating (any fixed 64-bit number).
_MIGRATION_LOCK = 0x616C736E6574  # "alsnet"
#: Per-patient tables, parents first.
_PATIENT_TABLES = tuple(n for n, s in TABLES.items() if s.per_patient)
_CHILD_TABLES = tuple(n for n in _PATIENT_TABLES if n != "patients")
_SITE_COLUMNS = TABLES["sites"].names


def _redact(url: str) -> str:
    return sa.make_url(url).render_as_string(hide_password=True)


def _db_message(exc: BaseException) -> str:
    """First line of a database error: names the constraint, never the row's values."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip()
    first = text.splitlines()[0] if text else type(orig).__name__
    return f"save failed and was rolled back, nothing was written: {first}"


def _listing(items: Mapping[str, list[str]] | Iterable[str]) -> str:
    if isinstance(items, Mapping):
        parts = [f"{k} ({', '.join(v)})" for k, v in items.items()]
    else:
        parts = [str(k) for k in items]
    text = "; ".join(parts[:MAX_LISTED])
    if len(parts) > MAX_LISTED:
        text += f"; ... and {len(parts) - MAX_LISTED} more"
    return text


class Store:
    """A registry database holding canonical cohorts.

    Parameters
    ----------
    url : str
        SQLAlchemy URL: ``sqlite:///path/registry.db`` or
        ``postgresql+psycopg://user@host/db`` (the connection's ``search_path``
        decides the PostgreSQL schema). The constructor only connects lazily;
        use :meth:`open` to create or migrate the schema.

    Notes
    -----
    *Sites.* ``patients.site_id`` is a foreign key to ``sites``. When a cohort
    refers to a site that neither it nor the store describes, :meth:`save`
    creates a *placeholder* site row (only ``site_id``; ``placeholder`` true).
    A later cohort that brings the real row replaces the placeholder.
    Placeholders are not counted by :meth:`counts` and are returned by
    :meth:`load` only when the loaded cohort has real site rows too (so that
    every ``patients.site_id`` is found in ``sites``, as validation requires).

    Examples
    --------
    >>> with Store.open("sqlite:///registry.db") as store:  # doctest: +SKIP
    ...     report = store.save(cohort, source="site A export")
    ...     same = store.load()
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine = make_engine(url)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str, *, create: bool = True) -> Store:
        """Open the store at ``url``, migrating its schema to the newest revision.

        Parameters
        ----------
        url : str
            Database URL (see :class:`Store`).
        create : bool, default True
            Create a missing SQLite file (and its parent directories) and
            create or upgrade the schema. With ``False`` the database must
            already exist at the newest revision.

        Raises
        ------
        StoreError
            If ``create`` is false and the database is missing or not at the
            newest revision, or if the database is at a revision this version
            of alsnet does not know.
        """
        path = sqlite_path(url)
        if path is not None:
            if create:
                path.parent.mkdir(parents=True, exist_ok=True)
            elif not path.exists():
                raise StoreError(f"no registry database at {path} (open it with create=True)")
        store = cls(url)
        try:
            store._migrate(create=create)
        except BaseException:
            store.close()
            raise
        return store

    def _migrate(self, *, create: bool) -> None:
        head = head_revision()
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            rev = current_revision(conn)
            if rev == head:
                return
            if not create:
                raise StoreError(
                    f"registry at {_redact(self.url)} is at schema revision {rev or 'none'}, "
                    f"expected {head}; open it with create=True to migrate"
                )
            try:
                upgrade(conn)
            except Exception as exc:
                raise StoreError(
                    f"cannot migrate registry at {_redact(self.url)} from revision {rev} "
                    f"to {head}: {exc}"
                ) from exc
            log.info("registry %s migrated from %s to %s", _redact(self.url), rev, head)

    @property
    def revision(self) -> str | None:
        """Alembic revision the database is at (``None`` for an empty database)."""
        with self._engine.connect() as conn:
            return current_revision(conn)

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine (for inspection; write through :meth:`save`)."""
        return self._engine

    def close(self) -> None:
        """Release every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({_redact(self.url)!r})"

    @contextmanager
    def _snapshot(self) -> Iterator[sa.Connection]:
        """A read transaction that sees one consistent snapshot of the database."""
        with self._engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    # ------------------------------------------------------------------ save
    def save(
        self,
        cohort: Cohort,
        *,
        source: str = "",
        on_conflict: Literal["error", "replace"] = "error",
    ) -> SaveReport:
        """Save ``cohort`` in one transaction.

        Patients not yet stored are inserted with all their rows. Patients
        stored with identical rows in every table are left alone. Patients
        stored with different rows are a conflict: with ``on_conflict="error"``
        a :class:`~alsnet.exceptions.StoreError` names them (up to
        :data:`MAX_LISTED`) with the tables that differ and nothing is written;
        with ``"replace"`` their stored rows are deleted from every table and
        the incoming rows written. Site rows follow the same rule (replaced in
        place). Stored patients absent from ``cohort`` are never touched.

        Parameters
        ----------
        cohort : Cohort
            A validated cohort.
        source : str, default ""
            Label recorded in the ``imports`` audit table (e.g. the file imported).
        on_conflict : {"error", "replace"}, default "error"
            What to do with stored patients whose rows differ.

        Returns
        -------
        SaveReport
            Patients inserted, unchanged and replaced; rows written and deleted per table.

        Raises
        ------
        StoreError
            On conflicts (with ``on_conflict="error"``) or when the database
            refuses a row; the transaction is rolled back completely.
        """
        if on_conflict not in ("error", "replace"):
            raise ValueError(f"on_conflict must be 'error' or 'replace', not {on_conflict!r}")
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        frames = {
            name: canonical_frame(cohort.tables[name], name)
            if name in cohort.tables
            else empty_table(TABLES[name])
            for name in TABLES
        }
        dbapi_error = getattr(self._engine.dialect, "loaded_dbapi", None)
        db_errors: tuple[type[BaseException], ...] = (sa.exc.SQLAlchemyError,)
        if dbapi_error is not None:
            db_errors += (dbapi_error.Error,)
        try:
            with self._engine.begin() as conn:
                report = self._save(conn, frames, cohort, source, on_conflict, started, t0)
        except StoreError:
            raise
        except db_errors as exc:
            raise StoreError(_db_message(exc)) from exc
        log.info("saved %r into %s", report, _redact(self.url))
        return report

    def _save(
        self,
        conn: sa.Connection,
        frames: dict[str, pd.DataFrame],
        cohort: Cohort,
        source: str,
        on_conflict: str,
        started: datetime,
        t0: float,
    ) -> SaveReport:
        patients_t = table("patients")
        ids = frames["patients"]["patient_id"]
        incoming = stage_ids(conn, "_alsnet_incoming", ids)
        in_incoming = sa.select(incoming.c.patient_id)
        existing = pd.Index(
            conn.execute(
                sa.select(patients_t.c.patient_id).where(patients_t.c.patient_id.in_(in_incoming))
            )
            .scalars()
            .all(),
            dtype=object,
        )
        conflicts: dict[str, list[str]] = {}
        if len(existing):
            stored = {
                n: read_frame(conn, table(n), where=table(n).c.patient_id.in_(in_incoming))
                for n in _PATIENT_TABLES
            }
            mine = {
                n: f.loc[f["patient_id"].isin(existing)]
                for n, f in frames.items()
                if n in _PATIENT_TABLES
            }
            conflicts = differing_tables(mine, stored, "patient_id")
        sites = self._plan_sites(conn, frames["sites"], frames["patients"]["site_id"])
        if on_conflict == "error" and (conflicts or len(sites["changed"])):
            msg = []
            if conflicts:
                msg.append(
                    f"{len(conflicts)} stored patient(s) differ from the incoming cohort: "
                    + _listing(conflicts)
                )
            if len(sites["changed"]):
                msg.append(
                    f"{len(sites['changed'])} stored site(s) differ: "
                    + _listing(sites["changed"]["site_id"].tolist())
                )
            raise StoreError(
                "; ".join(msg) + ". Nothing was written; save with on_conflict='replace' "
                "to overwrite them."
            )
        rows = dict.fromkeys(TABLES, 0)
        deleted = dict.fromkeys(TABLES, 0)
        rows["sites"], deleted["sites"] = self._write_sites(conn, sites)
        replaced = pd.Index(list(conflicts), dtype=object)
        if len(replaced):
            doomed = stage_ids(conn, "_alsnet_replaced", replaced)
            for name in (*_CHILD_TABLES[::-1], "patients"):
                t = table(name)
                gone = t.c.patient_id.in_(sa.select(doomed.c.patient_id))
                deleted[name] = int(conn.execute(t.delete().where(gone)).rowcount)
        unchanged = existing.difference(replaced)
        for name in _PATIENT_TABLES:
            f = frames[name]
            if len(unchanged):
                f = f.loc[~f["patient_id"].isin(unchanged)]
            rows[name] = insert_frame(conn, table(name), f)
        n_patients = len(frames["patients"])
        inserted = n_patients - len(existing)
        import_id = conn.execute(
            table("imports")
            .insert()
            .values(
                started_utc=started,
                source=source,
                fingerprint=cohort.fingerprint,
                n_patients=n_patients,
                inserted=inserted,
                unchanged=len(unchanged),
                replaced=len(replaced),
            )
        ).inserted_primary_key
        return SaveReport(
            inserted=inserted,
            unchanged=len(unchanged),
            replaced=len(replaced),
            rows=rows,
            deleted=deleted,
            source=source,
            fingerprint=cohort.fingerprint,
            import_id=None if import_id is None else int(import_id[0]),
            elapsed_s=time.perf_counter() - t0,
        )

    @staticmethod
    def _plan_sites(
        conn: sa.Connection, incoming: pd.DataFrame, referenced: pd.Series
    ) -> dict[str, pd.DataFrame]:
        """Sort site rows into new, filling a placeholder, unchanged, changed, and missing."""
        sites_t = table("sites")
        stored = read_frame(conn, sites_t, where=sites_t.c.placeholder.is_(sa.false()))
        placeholders = pd.Index(
            conn.execute(sa.select(sites_t.c.site_id).where(sites_t.c.placeholder.is_(sa.true())))
            .scalars()
            .all(),
            dtype=object,
        )
        known = incoming["site_id"].isin(stored["site_id"])
        fills = incoming["site_id"].isin(placeholders)
        common = incoming.loc[known]
        mine = stored.loc[stored["site_id"].isin(common["site_id"])]
        diff = differing_ids(common, mine, "site_id")
        changed = common.loc[common["site_id"].isin(diff)]
        everything = pd.Index(stored["site_id"]).union(placeholders).union(incoming["site_id"])
        missing = pd.Index(referenced.dropna().unique()).difference(everything)
        return {
            "new": incoming.loc[~known & ~fills],
            "fill": incoming.loc[fills],
            "changed": changed,
            "missing": pd.DataFrame({"site_id": pd.Series(missing, dtype=object)}),
        }

    @staticmethod
    def _write_sites(conn: sa.Connection, plan: dict[str, pd.DataFrame]) -> tuple[int, int]:
        """Apply a site plan; return (rows written, rows replaced)."""
        sites_t = table("sites")
        written = insert_frame(conn, sites_t, plan["new"])
        updates = pd.concat([plan["fill"], plan["changed"]], ignore_index=True)
        if len(updates):
            cols = [c for c in _SITE_COLUMNS if c != "site_id"]
            values: dict[str, Any] = {c: sa.bindparam(f"b_{c}") for c in cols}
            stmt = (
                sites_t.update()
                .where(sites_t.c.site_id == sa.bindparam("b_site_id"))
                .values(placeholder=False, **values)
            )
            params = updates.rename(columns=lambda c: f"b_{c}")
            conn.execute(stmt, records(params))
            written += len(updates)
        if len(plan["missing"]):
            insert_frame(conn, sites_t, plan["missing"].assign(placeholder=True))
            log.info("created %d placeholder site row(s)", len(plan["missing"]))
        return written, len(plan["changed"])

    # ------------------------------------------------------------------ load
    def load(
        self,
        *,
        patient_ids: Iterable[str] | None = None,
        site_ids: Iterable[str] | None = None,
    ) -> Cohort:
        """Load stored patients as a :class:`~alsnet.cohort.Cohort`.

        Parameters
        ----------
        patient_ids : iterable of str, optional
            Only these patients (unknown ids are ignored).
        site_ids : iterable of str, optional
            Only patients of these sites; the ``sites`` table is restricted to
            them too. Both filters together select their intersection.

        Returns
        -------
        Cohort
            Tables in canonical dtypes, sorted by their keys. Without filters,
            a cohort saved into an empty store is returned equal (same
            fingerprint) to the one saved.
        """
        patients_t, sites_t = table("patients"), table("sites")
        sids = None if site_ids is None else [str(s) for s in site_ids]
        with self._snapshot() as conn:
            conds: list[sa.ColumnElement[bool]] = []
            if patient_ids is not None:
                wanted = stage_ids(conn, "_alsnet_wanted", [str(p) for p in patient_ids])
                conds.append(patients_t.c.patient_id.in_(sa.select(wanted.c.patient_id)))
            if sids is not None:
                conds.append(patients_t.c.site_id.in_(sids))
            where = sa.and_(*conds) if conds else None
            out = {"patients": read_frame(conn, patients_t, where=where)}
            chosen = sa.select(patients_t.c.patient_id).where(*conds)
            for name in _CHILD_TABLES:
                t = table(name)
                out[name] = read_frame(conn, t, where=t.c.patient_id.in_(chosen) if conds else None)
            site_conds = [sites_t.c.placeholder.is_(sa.false())]
            if sids is not None:
                site_conds.append(sites_t.c.site_id.in_(sids))
            sites = read_frame(conn, sites_t, where=sa.and_(*site_conds))
            if len(sites):
                lacking = pd.Index(out["patients"]["site_id"].unique()).difference(sites["site_id"])
                if len(lacking):
                    extra = read_frame(conn, sites_t, where=sites_t.c.site_id.in_(list(lacking)))
                    sites = pd.concat([sites, extra], ignore_index=True)
            out["sites"] = sites
        tables = {
            name: out[name].sort_values(list(spec.key), kind="stable").reset_index(drop=True)
            for name, spec in TABLES.items()
        }
        return Cohort(tables)

    # ------------------------------------------------------------------ inspection
    def counts(self) -> dict[str, int]:
        """Number of stored rows per canonical table (placeholder sites excluded)."""
        out: dict[str, int] = {}
        with self._snapshot() as conn:
            for name in TABLES:
                t = table(name)
                q = sa.select(sa.func.count()).select_from(t)
                if name == "sites":
                    q = q.where(t.c.placeholder.is_(sa.false()))
                out[name] = int(conn.execute(q).scalar_one())
        return out

    def imports(self) -> pd.DataFrame:
        """The ``imports`` audit log, oldest first (one row per successful save)."""
        t = table("imports")
        with self._snapshot() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.id)).all()
        out = pd.DataFrame.from_records(rows, columns=[c.name for c in t.columns])
        out["started_utc"] = pd.to_datetime(out["started_utc"], utc=True)
        return out
