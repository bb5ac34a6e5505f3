"""What a PRO-ACT import did: counts of everything read, dropped, resolved or recomputed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

__all__ = ["ImportReport"]


@dataclass
class ImportReport:
    """Mutable collector filled by :func:`alsnet.io.proact.read_proact`.

    Pass an empty ``ImportReport()`` to ``read_proact(..., report=r)`` and read
    it afterwards; ``str(r)`` is a short human-readable account, ``r.summary()``
    a tidy DataFrame (``item``, ``count``).

    Attributes
    ----------
    layout : str
        ``"dream"``, ``"proact"`` or ``"f_proact"``.
    files : list of str
        Files read (names only).
    subjects_read : int
        Distinct subject ids found in any imported table.
    subjects_excluded_no_onset : int
        Subjects without a usable ``Onset_Delta`` (missing, or after trial day 0):
        not imported at all, never guessed.
    rows_read : dict of str to int
        Data rows per PRO-ACT table (DREAM: records after pivoting input).
    rows_out : dict of str to int
        Rows per canonical table of the returned cohort.
    instrument_counts : dict of str to int
        Visits per ALSFRS instrument (``alsfrs_r``, ``alsfrs``, ``none``).
    totals_recomputed : int
        ALSFRS rows whose reported total disagreed with the item sum; the
        reported total was dropped (the total is the item sum).
    q5_conflicts_resolved : int
        ALSFRS rows with both Q5a and Q5b filled; Q5b kept, Q5a dropped.
    half_point_rows : int
        ALSFRS rows with at least one half-point item (kept as is).
    ignored_tables : dict of str to int
        Tables or DREAM forms present but not imported (LABS, ADVERSEEVENTS...).
    counts : dict of str to int
        Every other counter (duplicates, conflicts, unit problems...); see docs/proact.md.
    notes : list of str
        Free-text remarks.
    """

    layout: str = ""
    files: list[str] = field(default_factory=list)
    subjects_read: int = 0
    subjects_excluded_no_onset: int = 0
    rows_read: dict[str, int] = field(default_factory=dict)
    rows_out: dict[str, int] = field(default_factory=dict)
    instrument_counts: dict[str, int] = field(default_factory=dict)
    totals_recomputed: int = 0
    q5_conflicts_resolved: int = 0
    half_point_rows: int = 0
    ignored_tables: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def count(self, key: str, n: int) -> None:
        """Add ``n`` to the counter ``key`` of :attr:`counts` (zero counts are not stored)."""
        if n:
            self.counts[key] = self.counts.get(key, 0) + int(n)

    def summary(self) -> pd.DataFrame:
        """Every count as a tidy frame with columns ``item`` and ``count``."""
        rows: list[tuple[str, int]] = [
            ("subjects_read", self.subjects_read),
            ("subjects_excluded_no_onset", self.subjects_excluded_no_onset),
            ("totals_recomputed", self.totals_recomputed),
            ("q5_conflicts_resolved", self.q5_conflicts_resolved),
            ("half_point_rows", self.half_point_rows),
        ]
        rows += [(f"rows_read.{k}", v) for k, v in self.rows_read.items()]
        rows += [(f"rows_out.{k}", v) for k, v in self.rows_out.items()]
        rows += [(f"instrument.{k}", v) for k, v in self.instrument_counts.items()]
        rows += [(f"ignored.{k}", v) for k, v in self.ignored_tables.items()]
        rows += sorted(self.counts.items())
        return pd.DataFrame(rows, columns=["item", "count"])

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form (JSON-serialisable)."""
        return asdict(self)

    def __str__(self) -> str:
        head = (
            f"PRO-ACT import ({self.layout or 'no layout'}, {len(self.files)} file(s)): "
            f"{self.subjects_read} subjects read, {self.subjects_excluded_no_onset} excluded "
            "(no usable Onset_Delta)"
        )
        out = [head]
        if self.rows_out:
            out.append("  rows: " + ", ".join(f"{k}={v}" for k, v in self.rows_out.items() if v))
        if self.instrument_counts:
            out.append(
                "  instruments: " + ", ".join(f"{k}={v}" for k, v in self.instrument_counts.items())
            )
        out.append(
            f"  ALSFRS: {self.totals_recomputed} reported totals disagreeing with items dropped, "
            f"{self.q5_conflicts_resolved} Q5a/Q5b conflicts resolved (Q5b kept), "
            f"{self.half_point_rows} rows with half points"
        )
        if self.counts:
            out.append("  other: " + ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items())))
        if self.ignored_tables:
            out.append("  not imported: " + ", ".join(sorted(self.ignored_tables)))
        out += [f"  note: {n}" for n in self.notes]
        return "\n".join(out)
