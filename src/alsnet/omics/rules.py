"""Genotype and biomarker rules for trial matching, evaluated over the registry.

A **rule table** is a versioned YAML file listing studies (or arms) and, for each, one
criterion tree. Leaves test one fact of a patient; ``all`` / ``any`` / ``not`` combine them.
Evaluation uses three-valued (Kleene) logic, so a patient is ``eligible``, ``not_eligible``
or ``untested`` (the decision depends on a fact that was never measured, e.g. an untested
gene or a missing NfL). Every answer carries the leaves that were met, failed and untested.

Rule file format (``alsnet.omics.rules/1``)::

    format: alsnet.omics.rules/1
    version: "2026.11"                # required: version of this rule table
    description: free text
    studies:
      - id: tofersen_sod1              # required, unique: letters, digits, _ . -
        name: Tofersen (SOD1-ALS)      # optional
        arm: tofersen                  # optional
        reference: VALOR, NEJM 2022    # optional
        criteria:                      # required: one criterion node
          all:
            - gene: SOD1
              pathogenicity: [pathogenic, likely_pathogenic]

Criterion nodes (each may carry a ``label`` used in the reasons):

``all: [nodes]`` / ``any: [nodes]`` / ``not: node``
    Kleene AND / OR / NOT.
``gene: G`` (+ ``variant: [..]``, ``variant_class: [..]``, ``pathogenicity: [..]``)
    True if the ``genetics`` table holds a matching finding for G; false if G was tested
    (a finding for G, or the patient flag ``c9orf72`` / ``sod1`` / ``fus`` / ``tardbp`` is
    recorded) without a match; untested otherwise. A carrier flag of 1 without a ``genetics``
    row is taken as a pathogenic variant of unknown class (the schema's meaning of the flag):
    it meets leaves that restrict neither variant nor class and admit ``pathogenic``, and is
    untested for the others. Variant classes are derived from the variant text
    (:func:`variant_class`).
``analyte: nfl|pnfh`` (+ ``matrix: [..]`` default ``[serum]``, ``min``, ``max``, ``rise``,
``use: latest|max`` default ``latest``)
    Fluid biomarker, pg/mL, from ``visits.nfl_serum_pg_ml`` (serum NfL) and the
    ``biomarkers`` table. ``rise`` is the increase (pg/mL) of the latest over the previous
    measurement in the same matrix (one matrix only). Untested without (enough) measurements.
``field: COLUMN`` (+ ``in: [..]``, ``min``, ``max``)
    A column of the ``patients`` table (e.g. ``onset_region``, ``ancestry``, ``age_onset``,
    ``family_history``); untested where empty.
``clinical_status: presymptomatic|symptomatic``
    Symptomatic when ``age_onset`` or ``onset_region`` is recorded; presymptomatic when neither
    is and the patient's ``anchor`` is ``enrolment`` (a carrier followed before onset);
    untested otherwise. This is a project convention: the schema has no carrier-status table.
``score: tricals_lp|encals_lp|encals_median_months`` (+ ``min``, ``max``)
    ENCALS / TRICALS risk windows from :func:`alsnet.clinical.encals_table` at the first
    ALSFRS-R visit (TRICALS/MAGNET trials admit profiles between -6.0 and -2.0).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from alsnet.exceptions import DataValidationError, Problem
from alsnet.schema import ANALYTES, GENES, MATRICES, PATHOGENICITY, TABLES

if TYPE_CHECKING:
    from alsnet.cohort import Cohort

__all__ = [
    "FALSE",
    "RULES_FORMAT",
    "STATUS",
    "TRUE",
    "UNKNOWN",
    "VARIANT_CLASSES",
    "Criterion",
    "MatchResult",
    "RuleFileError",
    "RuleSet",
    "Study",
    "default_rules_path",
    "evaluate_rules",
    "load_rules",
    "parse_rules",
    "variant_class",
]

logger = logging.getLogger(__name__)

RULES_FORMAT = "alsnet.omics.rules/1"
#: Kleene truth codes: AND = min, OR = max, NOT = 2 - x.
FALSE, UNKNOWN, TRUE = 0, 1, 2
#: Match status by truth code.
STATUS: tuple[str, str, str] = ("not_eligible", "untested", "eligible")
VARIANT_CLASSES = (
    "missense",
    "nonsense",
    "frameshift",
    "inframe_indel",
    "splice",
    "repeat_expansion",
    "intermediate_repeat_expansion",
    "other",
)
#: Patient flags that record a test result for a major gene (0/1, empty = untested).
_GENE_FLAGS = {"C9orf72": "c9orf72", "SOD1": "sod1", "FUS": "fus", "TARDBP": "tardbp"}
_SCORES = ("tricals_lp", "encals_lp", "encals_median_months")
_CLINICAL = ("presymptomatic", "symptomatic")
_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_LEAF_KEYS: dict[str, frozenset[str]] = {
    "gene": frozenset({"gene", "variant", "variant_class", "pathogenicity", "label"}),
    "analyte": frozenset({"analyte", "matrix", "min", "max", "rise", "use", "label"}),
    "field": frozenset({"field", "in", "min", "max", "label"}),
    "clinical_status": frozenset({"clinical_status", "label"}),
    "score": frozenset({"score", "min", "max", "label"}),
}
_STUDY_KEYS = frozenset({"id", "name", "arm", "reference", "description", "criteria"})
_TOP_KEYS = frozenset({"format", "version", "description", "studies"})

Codes = npt.NDArray[np.int8]


class RuleFileError(DataValidationError):
    """A rule table is malformed; each problem names the file, the field path and the reason."""


def variant_class(variant: pd.Series | Sequence[str] | np.ndarray) -> npt.NDArray[np.object_]:
    """Classify variant notations (vectorised).

    ``repeat_expansion`` and ``intermediate_repeat_expansion`` are kept as written; HGVS
    protein notation ``p.Xaa123Ter`` / ``p.X123*`` is ``nonsense``, ``fs`` ``frameshift``,
    ``del``/``ins``/``dup`` ``inframe_indel``, ``p.Xaa123Yaa`` ``missense``; cDNA intronic
    ``c.123+1G>A`` / ``c.123-2A>G`` is ``splice``; anything else ``other``.

    Examples
    --------
    >>> list(variant_class(["p.Ala5Val", "repeat_expansion", "p.Arg495Ter", "c.456+1G>A"]))
    ['missense', 'repeat_expansion', 'nonsense', 'splice']
    """
    s = pd.Series(np.asarray(variant, dtype=object)).astype("string").str.strip()
    low = s.str.lower()
    rules: list[tuple[pd.Series, str]] = [
        (low == "intermediate_repeat_expansion", "intermediate_repeat_expansion"),
        (low == "repeat_expansion", "repeat_expansion"),
        (low.str.contains(r"^p\.\S*fs", regex=True), "frameshift"),
        (low.str.contains(r"^p\.\S*(?:ter|\*)$", regex=True), "nonsense"),
        (low.str.contains(r"^[pc]\.\S*(?:del|ins|dup)", regex=True), "inframe_indel"),
        (low.str.contains(r"^c\.\d+[+-]\d+", regex=True), "splice"),
        (low.str.contains(r"^p\.[a-z]{3}\d+[a-z]{3}$", regex=True), "missense"),
    ]
    out = np.full(len(s), "other", dtype=object)
    done = np.zeros(len(s), dtype=bool)
    for mask, name in rules:
        m = mask.fillna(False).to_numpy(dtype=bool) & ~done
        out[m] = name
        done |= m
    return out


# ------------------------------------------------------------------------------------------
# Rule objects
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """One node of a criterion tree.

    Attributes
    ----------
    kind : str
        ``all``, ``any``, ``not`` or a leaf kind (``gene``, ``analyte``, ``field``,
        ``clinical_status``, ``score``).
    params : mapping
        Leaf parameters as written in the file (lists normalised to tuples).
    children : tuple of Criterion
        Sub-nodes of ``all`` / ``any`` / ``not``.
    label : str
        Text used in the reasons.
    path : str
        Where the node is in the file (e.g. ``studies[1].criteria.all[0]``).
    """

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)
    children: tuple[Criterion, ...] = ()
    label: str = ""
    path: str = ""

    @property
    def is_leaf(self) -> bool:
        """True for a leaf (a test of one fact)."""
        return self.kind not in ("all", "any", "not")

    def leaves(self) -> list[Criterion]:
        """Leaves in file order."""
        if self.is_leaf:
            return [self]
        return [leaf for c in self.children for leaf in c.leaves()]


@dataclass(frozen=True)
class Study:
    """A study or arm with its eligibility criterion tree."""

    id: str
    criteria: Criterion
    name: str = ""
    arm: str = ""
    reference: str = ""


@dataclass(frozen=True)
class RuleSet:
    """A parsed, validated rule table.

    Attributes
    ----------
    version : str
        Version of the rule table (from the file).
    studies : tuple of Study
        Studies in file order.
    source : str
        File name (or ``"<mapping>"``).
    description : str
        Free text from the file.
    """

    version: str
    studies: tuple[Study, ...]
    source: str = "<mapping>"
    description: str = ""

    def __repr__(self) -> str:
        return f"RuleSet(version={self.version!r}, studies={len(self.studies)}, {self.source})"


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def bad(self, path: str, value: object, reason: str) -> None:
        text = None if value is None else str(value)[:80]
        self.problems.append(Problem(self.source, None, path, text, reason))

    def str_list(
        self, raw: object, path: str, vocab: Sequence[str] | None = None
    ) -> tuple[str, ...]:
        items = raw if isinstance(raw, list) else [raw]
        n_before = len(self.problems)
        out: list[str] = []
        for i, v in enumerate(items):
            p = f"{path}[{i}]" if isinstance(raw, list) else path
            if isinstance(v, bool) or not isinstance(v, str | int | float) or v == "":
                self.bad(p, v, "must be a non-empty text value")
                continue
            text = str(v)
            if vocab is not None and text not in vocab:
                self.bad(p, text, f"must be one of {', '.join(vocab)}")
                continue
            out.append(text)
        if not out and len(self.problems) == n_before:
            self.bad(path, raw, "must list at least one value")
        return tuple(out)

    def number(self, raw: object, path: str) -> float | None:
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not np.isfinite(raw):
            self.bad(path, raw, "must be a finite number")
            return None
        return float(raw)

    def bounds(self, d: Mapping[str, Any], path: str, out: dict[str, Any]) -> None:
        for key in ("min", "max"):
            if key in d:
                out[key] = self.number(d[key], f"{path}.{key}")
        lo, hi = out.get("min"), out.get("max")
        if lo is not None and hi is not None and lo > hi:
            self.bad(f"{path}", f"min {lo:g} > max {hi:g}", "no value can meet min > max")

    def node(self, raw: object, path: str) -> Criterion:
        if not isinstance(raw, Mapping) or not raw:
            self.bad(path, type(raw).__name__, "a criterion must be a non-empty mapping")
            return Criterion("all", path=path)
        label = raw.get("label", "")
        if not isinstance(label, str):
            self.bad(f"{path}.label", label, "must be text")
            label = ""
        ops = [k for k in ("all", "any", "not") if k in raw]
        leaf_kinds = [k for k in _LEAF_KEYS if k in raw]
        if len(ops) + len(leaf_kinds) != 1:
            found = ", ".join(map(str, [*ops, *leaf_kinds])) or ", ".join(map(str, raw))
            self.bad(
                path,
                found,
                "a criterion needs exactly one of all, any, not, gene, analyte, field, "
                "clinical_status, score",
            )
            return Criterion("all", path=path)
        if ops:
            op = ops[0]
            extra = set(raw) - {op, "label"}
            if extra:
                self.bad(path, ", ".join(sorted(map(str, extra))), f"unknown keys beside {op!r}")
            sub = raw[op]
            if op == "not":
                child = self.node(sub, f"{path}.not")
                return Criterion("not", children=(child,), label=label or "not", path=path)
            if not isinstance(sub, list) or not sub:
                self.bad(f"{path}.{op}", sub, f"{op!r} needs a non-empty list of criteria")
                return Criterion(op, path=path)
            kids = tuple(self.node(s, f"{path}.{op}[{i}]") for i, s in enumerate(sub))
            return Criterion(op, children=kids, label=label, path=path)
        kind = leaf_kinds[0]
        extra = set(raw) - _LEAF_KEYS[kind]
        if extra:
            self.bad(
                path,
                ", ".join(sorted(map(str, extra))),
                f"unknown keys for a {kind!r} criterion (allowed: "
                f"{', '.join(sorted(_LEAF_KEYS[kind]))})",
            )
        params = getattr(self, f"leaf_{kind}")(raw, path)
        return Criterion(kind, params=params, label=label or _auto_label(kind, params), path=path)

    def leaf_gene(self, raw: Mapping[str, Any], path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        g = self.str_list(raw["gene"], f"{path}.gene", GENES)
        out["gene"] = g[0] if g else ""
        if isinstance(raw["gene"], list):
            self.bad(f"{path}.gene", raw["gene"], "give one gene (combine genes with 'any')")
        if "variant" in raw:
            out["variant"] = self.str_list(raw["variant"], f"{path}.variant")
        if "variant_class" in raw:
            out["variant_class"] = self.str_list(
                raw["variant_class"], f"{path}.variant_class", VARIANT_CLASSES
            )
        if "pathogenicity" in raw:
            out["pathogenicity"] = self.str_list(
                raw["pathogenicity"], f"{path}.pathogenicity", PATHOGENICITY
            )
        return out

    def leaf_analyte(self, raw: Mapping[str, Any], path: str) -> dict[str, Any]:
        a = self.str_list(raw["analyte"], f"{path}.analyte", ANALYTES)
        out: dict[str, Any] = {"analyte": a[0] if a else ""}
        out["matrix"] = (
            self.str_list(raw["matrix"], f"{path}.matrix", MATRICES)
            if "matrix" in raw
            else ("serum",)
        )
        use = raw.get("use", "latest")
        if use not in ("latest", "max"):
            self.bad(f"{path}.use", use, "must be 'latest' or 'max'")
        out["use"] = use
        self.bounds(raw, path, out)
        if "rise" in raw:
            out["rise"] = self.number(raw["rise"], f"{path}.rise")
            if len(out["matrix"]) != 1:
                self.bad(f"{path}.matrix", out["matrix"], "'rise' needs exactly one matrix")
        if not ({"min", "max", "rise"} & set(raw)):
            self.bad(path, out["analyte"], "a biomarker criterion needs min, max or rise")
        return out

    def leaf_field(self, raw: Mapping[str, Any], path: str) -> dict[str, Any]:
        spec = TABLES["patients"]
        name = raw["field"]
        out: dict[str, Any] = {"field": str(name)}
        if name not in spec.names or name == "patient_id":
            self.bad(f"{path}.field", name, "must be a column of the patients table")
            return out
        col = spec.column(name)
        if "in" in raw:
            vocab = col.vocab if col.kind == "cat" else None
            if col.kind == "flag":
                vocab = ("0", "1")
            out["in"] = self.str_list(raw["in"], f"{path}.in", vocab)
        self.bounds(raw, path, out)
        if col.kind in ("str", "cat") and ("min" in raw or "max" in raw):
            self.bad(path, name, "min/max apply to numeric columns only; use 'in'")
        if not ({"in", "min", "max"} & set(raw)):
            self.bad(path, name, "a field criterion needs 'in', 'min' or 'max'")
        return out

    def leaf_clinical_status(self, raw: Mapping[str, Any], path: str) -> dict[str, Any]:
        v = raw["clinical_status"]
        if v not in _CLINICAL:
            self.bad(f"{path}.clinical_status", v, f"must be one of {', '.join(_CLINICAL)}")
        return {"clinical_status": str(v)}

    def leaf_score(self, raw: Mapping[str, Any], path: str) -> dict[str, Any]:
        v = raw["score"]
        if v not in _SCORES:
            self.bad(f"{path}.score", v, f"must be one of {', '.join(_SCORES)}")
        out: dict[str, Any] = {"score": str(v)}
        self.bounds(raw, path, out)
        if "min" not in raw and "max" not in raw:
            self.bad(path, v, "a score criterion needs min or max")
        return out


def _fmt(x: float) -> str:
    return f"{x:g}"


def _auto_label(kind: str, p: Mapping[str, Any]) -> str:
    def rng(unit: str = "") -> str:
        parts = []
        if p.get("min") is not None:
            parts.append(f"≥ {_fmt(p['min'])}{unit}")
        if p.get("max") is not None:
            parts.append(f"≤ {_fmt(p['max'])}{unit}")
        return " and ".join(parts)

    if kind == "gene":
        bits = [p["gene"]]
        for key in ("variant", "variant_class", "pathogenicity"):
            if key in p:
                bits.append("/".join(p[key]))
        return " ".join(bits)
    if kind == "analyte":
        txt = f"{'/'.join(p['matrix'])} {p['analyte'].upper() if p['analyte'] == 'nfl' else 'pNfH'}"
        txt += f" ({p['use']})"
        r = rng(" pg/mL")
        if r:
            txt += " " + r
        if p.get("rise") is not None:
            txt += f", rise ≥ {_fmt(p['rise'])} pg/mL"
        return txt
    if kind == "field":
        if "in" in p:
            return f"{p['field']} in {'/'.join(p['in'])}"
        return f"{p['field']} {rng()}"
    if kind == "clinical_status":
        return str(p["clinical_status"])
    return f"{p['score']} {rng()}"


def parse_rules(spec: Mapping[str, Any], *, source: str = "<mapping>") -> RuleSet:
    """Validate a rule-table mapping (as read from YAML) and build a :class:`RuleSet`.

    Raises
    ------
    RuleFileError
        Listing every problem: the source, the field path (e.g.
        ``studies[2].criteria.all[0].gene``), the offending value and the reason.
    """
    ps = _Parser(source)
    if not isinstance(spec, Mapping):
        ps.bad("(top level)", type(spec).__name__, "a rule table must be a mapping")
        raise RuleFileError(ps.problems)
    for key in sorted(set(map(str, spec)) - _TOP_KEYS):
        ps.bad(key, None, f"unknown top-level key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    fmt = spec.get("format", RULES_FORMAT)
    if fmt != RULES_FORMAT:
        ps.bad("format", fmt, f"unsupported format; this alsnet reads {RULES_FORMAT}")
    version = spec.get("version")
    if not isinstance(version, str | int | float) or isinstance(version, bool) or version == "":
        ps.bad("version", version, "a rule table needs a version (text, e.g. '2026.11')")
        version = ""
    studies_raw = spec.get("studies")
    studies: list[Study] = []
    if not isinstance(studies_raw, list) or not studies_raw:
        ps.bad("studies", studies_raw, "needs a non-empty list of studies")
        studies_raw = []
    seen: set[str] = set()
    for i, st in enumerate(studies_raw):
        path = f"studies[{i}]"
        if not isinstance(st, Mapping):
            ps.bad(path, type(st).__name__, "a study must be a mapping")
            continue
        sid = st.get("id")
        if not isinstance(sid, str) or not _ID_RE.match(sid):
            ps.bad(f"{path}.id", sid, "needs an id of letters, digits, '_', '.' or '-'")
            sid = f"#{i}"
        elif sid in seen:
            ps.bad(f"{path}.id", sid, "duplicate study id")
        seen.add(sid)
        path = f"studies[{i}] ({sid})"
        for key in sorted(set(map(str, st)) - _STUDY_KEYS):
            ps.bad(
                f"{path}.{key}", None, f"unknown key (allowed: {', '.join(sorted(_STUDY_KEYS))})"
            )
        if "criteria" not in st:
            ps.bad(f"{path}.criteria", None, "a study needs criteria")
            continue
        crit = ps.node(st["criteria"], f"{path}.criteria")
        studies.append(
            Study(
                id=sid,
                criteria=crit,
                name=str(st.get("name", "") or ""),
                arm=str(st.get("arm", "") or ""),
                reference=str(st.get("reference", "") or ""),
            )
        )
    if ps.problems:
        raise RuleFileError(ps.problems)
    return RuleSet(
        version=str(version),
        studies=tuple(studies),
        source=source,
        description=str(spec.get("description", "") or ""),
    )


def default_rules_path() -> Path:
    """Path of the rule table shipped with alsnet (``alsnet/omics/rules/default.yaml``)."""
    return Path(str(resources.files("alsnet.omics").joinpath("rules/default.yaml")))


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Read and validate a YAML rule table (default: the shipped one).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    RuleFileError
        On YAML syntax errors (with the line) and on every schema problem.
    """
    import yaml

    p = default_rules_path() if path is None else Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such rule file: {p}")
    try:
        spec = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else int(mark.line) + 1
        reason = str(getattr(exc, "problem", None) or exc)
        raise RuleFileError(
            [Problem(p.name, line, None, None, f"invalid YAML: {reason}")]
        ) from None
    except UnicodeDecodeError:
        raise RuleFileError([Problem(p.name, None, None, None, "not UTF-8 text")]) from None
    return parse_rules(spec, source=p.name)


# ------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchResult:
    """Eligibility of every patient for every study.

    Attributes
    ----------
    matches : DataFrame
        One row per patient x study: ``patient_id``, ``site_id``, ``study_id``, ``arm``,
        ``status`` (eligible / not_eligible / untested), ``reason`` and the leaf labels that
        were ``met``, ``failed`` and ``untested`` ("; "-separated).
    rules : RuleSet
        The rule table used.
    """

    matches: pd.DataFrame
    rules: RuleSet

    def __repr__(self) -> str:
        n_pat = self.matches["patient_id"].nunique()
        return f"MatchResult(patients={n_pat}, studies={len(self.rules.studies)})"

    def summary(self) -> pd.DataFrame:
        """Counts per study: eligible, untested, not_eligible and patients."""
        tab = pd.crosstab(self.matches["study_id"], self.matches["status"])
        tab = tab.reindex(
            index=[s.id for s in self.rules.studies], columns=list(STATUS)[::-1], fill_value=0
        )
        tab["patients"] = tab.sum(axis=1)
        return tab.reset_index().rename_axis(columns=None)

    def by_site(self) -> pd.DataFrame:
        """Eligible and untested counts per study and site (long format)."""
        m = self.matches
        g = m.groupby(["study_id", "site_id", "status"], observed=True).size()
        tab = g.unstack("status", fill_value=0).reindex(columns=list(STATUS)[::-1], fill_value=0)
        return tab.reset_index().rename_axis(columns=None)

    def unmet(self) -> list[str]:
        """Studies nobody in the registry meets (no eligible patient)."""
        s = self.summary()
        return [str(x) for x in s.loc[s["eligible"] == 0, "study_id"]]


def _tables(data: Cohort | Mapping[str, pd.DataFrame]) -> Mapping[str, pd.DataFrame]:
    tables = data.tables if hasattr(data, "tables") else data
    if "patients" not in tables:
        raise DataValidationError(
            [Problem("registry", None, None, None, "a patients table is required")]
        )
    return tables


class _Facts:
    """Per-patient facts needed by the leaves, computed once and vectorised."""

    def __init__(self, tables: Mapping[str, pd.DataFrame]) -> None:
        self.tables = tables
        self.patients = tables["patients"]
        self.pid = pd.Index(self.patients["patient_id"].astype(str))
        self.n = len(self.pid)
        gen = tables.get("genetics")
        if gen is None or not len(gen):
            gen = pd.DataFrame({"patient_id": [], "gene": [], "variant": [], "pathogenicity": []})
        idx = self.pid.get_indexer(pd.Index(gen["patient_id"].astype(str)))
        keep = idx >= 0
        self.g_idx = idx[keep]
        self.g_gene = gen["gene"].astype(str).to_numpy()[keep]
        self.g_variant = gen["variant"].astype(str).to_numpy()[keep]
        self.g_class = variant_class(self.g_variant)
        self.g_path = gen["pathogenicity"].astype(str).to_numpy()[keep]
        self._measures: pd.DataFrame | None = None
        self._scores: pd.DataFrame | None = None

    def col(self, name: str) -> pd.Series:
        if name in self.patients.columns:
            return self.patients[name].reset_index(drop=True)
        return pd.Series([pd.NA] * self.n, dtype="object")

    def measures(self) -> pd.DataFrame:
        if self._measures is None:
            parts = []
            v = self.tables.get("visits")
            if v is not None and "nfl_serum_pg_ml" in v.columns:
                parts.append(
                    pd.DataFrame(
                        {
                            "patient_id": v["patient_id"].astype(str).to_numpy(),
                            "day": v["day"].to_numpy(dtype="float64"),
                            "analyte": "nfl",
                            "matrix": "serum",
                            "value": v["nfl_serum_pg_ml"].to_numpy(
                                dtype="float64", na_value=np.nan
                            ),
                        }
                    )
                )
            b = self.tables.get("biomarkers")
            if b is not None and len(b):
                parts.append(
                    pd.DataFrame(
                        {
                            "patient_id": b["patient_id"].astype(str).to_numpy(),
                            "day": b["day"].to_numpy(dtype="float64"),
                            "analyte": b["analyte"].astype(str).to_numpy(),
                            "matrix": b["matrix"].astype(str).to_numpy(),
                            "value": b["value_pg_ml"].to_numpy(dtype="float64", na_value=np.nan),
                        }
                    )
                )
            m = (
                pd.concat(parts, ignore_index=True)
                if parts
                else pd.DataFrame(
                    {"patient_id": [], "day": [], "analyte": [], "matrix": [], "value": []}
                )
            )
            m = m.loc[np.isfinite(m["value"].to_numpy(dtype="float64"))]
            m = m.assign(idx=self.pid.get_indexer(pd.Index(m["patient_id"])))
            self._measures = m.loc[m["idx"] >= 0].sort_values(["idx", "day"], kind="stable")
        return self._measures

    def scores(self) -> pd.DataFrame:
        if self._scores is None:
            from alsnet.clinical import encals_table
            from alsnet.clinical.baseline import encals_baseline

            visits = self.tables.get("visits")
            if visits is None or not len(visits):
                self._scores = pd.DataFrame({s: np.full(self.n, np.nan) for s in _SCORES})
            else:
                pats = self.patients.reset_index(drop=True)
                need = ("age_onset", "diagnosis_day", "onset_region", "el_escorial", "ftd")
                pats = pats.assign(**{c: np.nan for c in need if c not in pats.columns})
                if "c9orf72" not in pats.columns:
                    pats = pats.assign(c9orf72=np.nan)
                base = encals_baseline(pats, visits)
                tab = encals_table(base, errors="flag", source="patients")
                self._scores = pd.DataFrame(
                    {s: tab[s].to_numpy(dtype="float64", na_value=np.nan) for s in _SCORES}
                )
        return self._scores


def _codes(true: np.ndarray, known: np.ndarray) -> Codes:
    return np.where(known, np.where(true, TRUE, FALSE), UNKNOWN).astype(np.int8)


def _in_range(x: np.ndarray, p: Mapping[str, Any]) -> np.ndarray:
    ok = np.ones(x.shape, dtype=bool)
    with np.errstate(invalid="ignore"):
        if p.get("min") is not None:
            ok &= x >= p["min"]
        if p.get("max") is not None:
            ok &= x <= p["max"]
    return ok


def _leaf_gene(f: _Facts, p: Mapping[str, Any]) -> Codes:
    gene = p["gene"]
    of_gene = f.g_gene == gene
    match = of_gene.copy()
    if "variant" in p:
        match &= np.isin(f.g_variant, p["variant"])
    if "variant_class" in p:
        match &= np.isin(f.g_class, p["variant_class"])
    if "pathogenicity" in p:
        match &= np.isin(f.g_path, p["pathogenicity"])
    hit = np.bincount(f.g_idx[match], minlength=f.n) > 0
    has_rows = np.bincount(f.g_idx[of_gene], minlength=f.n) > 0
    flag_name = _GENE_FLAGS.get(gene)
    if flag_name is not None:
        flag = pd.to_numeric(f.col(flag_name), errors="coerce").to_numpy(dtype="float64")
    else:
        flag = np.full(f.n, np.nan)
    tested = has_rows | ~np.isnan(flag)
    # A carrier flag without a finding row: pathogenic variant of unknown detail.
    bare_carrier = (flag == 1) & ~has_rows
    # The C9orf72 flag records a repeat expansion (schema), so its class is known.
    bare_class = "repeat_expansion" if gene == "C9orf72" else None
    plain = "variant" not in p
    plain &= "variant_class" not in p or bare_class in p["variant_class"]
    plain &= "pathogenic" in p.get("pathogenicity", ("pathogenic",))
    out = _codes(hit, tested)
    out[bare_carrier] = TRUE if plain else UNKNOWN
    return out


def _leaf_analyte(f: _Facts, p: Mapping[str, Any]) -> Codes:
    m = f.measures()
    m = m.loc[(m["analyte"] == p["analyte"]).to_numpy() & m["matrix"].isin(p["matrix"]).to_numpy()]
    value = np.full(f.n, np.nan)
    idx = m["idx"].to_numpy()
    vals = m["value"].to_numpy(dtype="float64")
    if idx.size:
        if p["use"] == "max":
            np.fmax.at(value, idx, vals)
        else:
            last = np.r_[idx[1:] != idx[:-1], True]
            value[idx[last]] = vals[last]
    known = ~np.isnan(value)
    ok = _in_range(value, p)
    if p.get("rise") is not None:
        rise = np.full(f.n, np.nan)
        if idx.size > 1:
            last = np.r_[idx[1:] != idx[:-1], True]
            prev_same = np.r_[False, idx[1:] == idx[:-1]]
            # Row before the last of each patient, when it belongs to the same patient.
            li = np.flatnonzero(last & prev_same)
            rise[idx[li]] = vals[li] - vals[li - 1]
        known &= ~np.isnan(rise)
        with np.errstate(invalid="ignore"):
            ok &= rise >= p["rise"]
    return _codes(ok, known)


def _leaf_field(f: _Facts, p: Mapping[str, Any]) -> Codes:
    s = f.col(p["field"])
    known = s.notna().to_numpy()
    ok = np.ones(f.n, dtype=bool)
    if "in" in p:
        txt = s.astype("string")
        if TABLES["patients"].column(p["field"]).kind in ("flag", "int"):
            txt = pd.to_numeric(s, errors="coerce").astype("Int64").astype("string")
        ok &= txt.isin(p["in"]).fillna(False).to_numpy(dtype=bool)
    if "min" in p or "max" in p:
        x = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        known &= ~np.isnan(x)
        ok &= _in_range(x, p)
    return _codes(ok, known)


def _leaf_clinical_status(f: _Facts, p: Mapping[str, Any]) -> Codes:
    onset = f.col("age_onset").notna().to_numpy() | f.col("onset_region").notna().to_numpy()
    enrol = (f.col("anchor").astype("string") == "enrolment").fillna(False).to_numpy(dtype=bool)
    pre = ~onset & enrol
    known = onset | pre
    want_pre = p["clinical_status"] == "presymptomatic"
    return _codes(pre if want_pre else onset, known)


def _leaf_score(f: _Facts, p: Mapping[str, Any]) -> Codes:
    x = f.scores()[p["score"]].to_numpy(dtype="float64")
    return _codes(_in_range(x, p), ~np.isnan(x))


_LEAF_FUNCS = {
    "gene": _leaf_gene,
    "analyte": _leaf_analyte,
    "field": _leaf_field,
    "clinical_status": _leaf_clinical_status,
    "score": _leaf_score,
}


def _evaluate(node: Criterion, f: _Facts, leaf_codes: dict[int, Codes]) -> Codes:
    if node.is_leaf:
        key = id(node)
        if key not in leaf_codes:
            leaf_codes[key] = _LEAF_FUNCS[node.kind](f, node.params)
        return leaf_codes[key]
    kids = [_evaluate(c, f, leaf_codes) for c in node.children]
    if not kids:
        return np.full(f.n, TRUE, dtype=np.int8)
    if node.kind == "not":
        return (TRUE - kids[0]).astype(np.int8)
    stack = np.vstack(kids)
    return (stack.min(axis=0) if node.kind == "all" else stack.max(axis=0)).astype(np.int8)


def _evaluate_study_codes(
    rules: RuleSet, f: _Facts, fixed: dict[int, Codes] | None = None
) -> list[Codes]:
    """Truth codes of every study (no reasons), for repeated evaluation (imputation).

    ``fixed`` caches the codes of non-genetic leaves across calls in which only the gene
    flags of ``f.patients`` change.
    """
    out = []
    for st in rules.studies:
        cache: dict[int, Codes] = {}
        if fixed is not None:
            cache.update(fixed)
        out.append(_evaluate(st.criteria, f, cache))
        if fixed is not None:
            for leaf in st.criteria.leaves():
                if leaf.kind != "gene":
                    fixed[id(leaf)] = cache[id(leaf)]
    return out


def _join(labels: Sequence[str], codes: Sequence[Codes], want: int, n: int) -> np.ndarray:
    out = np.full(n, "", dtype=object)
    for lab, c in zip(labels, codes, strict=True):
        hit = c == want
        out[hit] = out[hit] + np.where(out[hit] == "", "", "; ") + lab
    return out


def evaluate_rules(rules: RuleSet, data: Cohort | Mapping[str, pd.DataFrame]) -> MatchResult:
    """Evaluate every study's criteria for every registry patient (vectorised).

    Parameters
    ----------
    rules : RuleSet
        From :func:`load_rules` or :func:`parse_rules`.
    data : Cohort or mapping of str to DataFrame
        Canonical tables; ``patients`` is required, ``genetics``, ``visits`` (serum NfL,
        ALSFRS-R for ENCALS scores) and ``biomarkers`` are used when present.

    Returns
    -------
    MatchResult
        Patient x study eligibility with reasons.

    Examples
    --------
    >>> import pandas as pd
    >>> rs = parse_rules({"version": "1", "studies": [
    ...     {"id": "sod1", "criteria": {"gene": "SOD1", "pathogenicity": ["pathogenic"]}}]})
    >>> pats = pd.DataFrame({"patient_id": ["A", "B", "C"], "site_id": ["S"] * 3,
    ...                      "sod1": [1, 0, None]})
    >>> evaluate_rules(rs, {"patients": pats}).matches["status"].tolist()
    ['eligible', 'not_eligible', 'untested']
    """
    tables = _tables(data)
    f = _Facts(tables)
    site = f.col("site_id").astype("string").fillna("").to_numpy(dtype=object)
    frames = []
    for st in rules.studies:
        cache: dict[int, Codes] = {}
        total = _evaluate(st.criteria, f, cache)
        leaves = st.criteria.leaves()
        labels = [leaf.label for leaf in leaves]
        codes = [cache[id(leaf)] for leaf in leaves]
        met = _join(labels, codes, TRUE, f.n)
        failed = _join(labels, codes, FALSE, f.n)
        untested = _join(labels, codes, UNKNOWN, f.n)
        status = np.asarray(STATUS, dtype=object)[total]
        reason = np.select(
            [total == TRUE, total == FALSE],
            ["met: " + met, "failed: " + failed],
            "untested: " + untested,
        )
        frames.append(
            pd.DataFrame(
                {
                    "patient_id": f.pid.to_numpy(dtype=object),
                    "site_id": site,
                    "study_id": st.id,
                    "arm": st.arm,
                    "status": status,
                    "reason": reason,
                    "met": met,
                    "failed": failed,
                    "untested": untested,
                }
            )
        )
        logger.debug("study %s: %d eligible", st.id, int((total == TRUE).sum()))
    cols = ["patient_id", "site_id", "study_id", "arm", "status", "reason", "met", "failed"]
    matches = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=[*cols, "untested"])
    )
    return MatchResult(matches=matches, rules=rules)
