"""Trial-matching rules: vectorised evaluation vs a per-patient brute force, bad rule files."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alsnet.omics.rules import (
    RuleFileError,
    evaluate_rules,
    load_rules,
    parse_rules,
    variant_class,
)

# Variants used in the generated data with their class, written out by hand (independent of
# variant_class, which is tested separately).
VARIANTS = {
    "SOD1": [("p.Ala5Val", "missense"), ("p.Gly94Ter", "nonsense")],
    "C9orf72": [("repeat_expansion", "repeat_expansion")],
    "FUS": [("p.Pro525Leu", "missense"), ("p.Arg495fs", "frameshift")],
    "TARDBP": [("p.Ala382Thr", "missense")],
    "TBK1": [("c.1340+1G>A", "splice")],
}
CLASS_OF = {v: c for vs in VARIANTS.values() for v, c in vs}
PATHS = ["pathogenic", "likely_pathogenic", "vus", "benign"]
FLAGS = {"SOD1": "sod1", "C9orf72": "c9orf72", "FUS": "fus", "TARDBP": "tardbp"}

LEAVES: list[dict[str, Any]] = [
    {"gene": "SOD1", "pathogenicity": ["pathogenic", "likely_pathogenic"]},
    {"gene": "SOD1", "variant_class": ["missense"]},
    {"gene": "C9orf72", "variant_class": ["repeat_expansion"], "pathogenicity": ["pathogenic"]},
    {"gene": "FUS"},
    {"gene": "FUS", "variant": ["p.Pro525Leu"]},
    {"gene": "TBK1", "pathogenicity": ["pathogenic"]},
    {"gene": "TARDBP", "pathogenicity": ["vus"]},
    {"analyte": "nfl", "min": 44},
    {"analyte": "nfl", "min": 44, "rise": 10},
    {"analyte": "nfl", "matrix": ["serum", "csf"], "max": 100, "use": "max"},
    {"analyte": "pnfh", "matrix": ["csf"], "min": 200},
    {"field": "onset_region", "in": ["bulbar"]},
    {"field": "age_onset", "min": 40, "max": 70},
    {"field": "family_history", "in": [1]},
    {"clinical_status": "presymptomatic"},
    {"clinical_status": "symptomatic"},
]


# ------------------------------------------------------------------------------------------
# Brute force: one patient at a time, plain Python, straight from the documented semantics.
# ------------------------------------------------------------------------------------------

T, U, F = "T", "U", "F"


def _bf_leaf(
    leaf: dict[str, Any], pat: dict[str, Any], tabs: dict[str, list[dict[str, Any]]]
) -> str:
    pid = pat["patient_id"]
    if "gene" in leaf:
        g = leaf["gene"]
        rows = [r for r in tabs["genetics"] if r["patient_id"] == pid]
        rows = [r for r in rows if r["gene"] == g]

        def ok(r: dict[str, Any]) -> bool:
            return (
                ("variant" not in leaf or r["variant"] in leaf["variant"])
                and ("variant_class" not in leaf or CLASS_OF[r["variant"]] in leaf["variant_class"])
                and ("pathogenicity" not in leaf or r["pathogenicity"] in leaf["pathogenicity"])
            )

        flag = pat.get(FLAGS[g]) if g in FLAGS else None
        flag = None if flag is None or (isinstance(flag, float) and math.isnan(flag)) else flag
        if any(ok(r) for r in rows):
            return T
        if flag == 1 and not rows:
            cls = "repeat_expansion" if g == "C9orf72" else None
            plain = (
                "variant" not in leaf
                and ("variant_class" not in leaf or cls in leaf["variant_class"])
                and "pathogenic" in leaf.get("pathogenicity", ["pathogenic"])
            )
            return T if plain else U
        if rows or flag is not None:
            return F
        return U
    if "analyte" in leaf:
        matrices = leaf.get("matrix", ["serum"])
        ms: list[tuple[float, float]] = []
        for r in tabs["visits"]:
            v = r["nfl_serum_pg_ml"]
            here = r["patient_id"] == pid and leaf["analyte"] == "nfl" and "serum" in matrices
            if here and v is not None and not math.isnan(v):
                ms.append((r["day"], v))
        for r in tabs["biomarkers"]:
            here = r["patient_id"] == pid and r["analyte"] == leaf["analyte"]
            if here and r["matrix"] in matrices:
                ms.append((r["day"], r["value_pg_ml"]))
        ms.sort()
        if not ms:
            return U
        value = ms[-1][1] if leaf.get("use", "latest") == "latest" else max(v for _, v in ms)
        good = ("min" not in leaf or value >= leaf["min"]) and (
            "max" not in leaf or value <= leaf["max"]
        )
        if "rise" in leaf:
            if len(ms) < 2:
                return U
            good = good and (ms[-1][1] - ms[-2][1] >= leaf["rise"])
        return T if good else F
    if "field" in leaf:
        v = pat[leaf["field"]]
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return U
        good = True
        if "in" in leaf:
            good = str(int(v)) in map(str, leaf["in"]) if isinstance(v, float) else v in leaf["in"]
        if "min" in leaf:
            good = good and v >= leaf["min"]
        if "max" in leaf:
            good = good and v <= leaf["max"]
        return T if good else F
    onset = pat["age_onset"] is not None and not math.isnan(pat["age_onset"])
    onset = onset or pat["onset_region"] is not None
    pre = not onset and pat["anchor"] == "enrolment"
    if not onset and not pre:
        return U
    return T if (pre if leaf["clinical_status"] == "presymptomatic" else onset) else F


def _bf(node: dict[str, Any], pat: dict[str, Any], tabs: dict[str, list[dict[str, Any]]]) -> str:
    if "all" in node:
        vals = [_bf(c, pat, tabs) for c in node["all"]]
        return F if F in vals else (U if U in vals else T)
    if "any" in node:
        vals = [_bf(c, pat, tabs) for c in node["any"]]
        return T if T in vals else (U if U in vals else F)
    if "not" in node:
        return {T: F, F: T, U: U}[_bf(node["not"], pat, tabs)]
    return _bf_leaf(node, pat, tabs)


# ------------------------------------------------------------------------------------------
# Strategies
# ------------------------------------------------------------------------------------------


@st.composite
def registries(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    n = draw(st.integers(1, 8))
    pids = [f"P{i}" for i in range(n)]
    flag = st.sampled_from([0.0, 1.0, math.nan])
    pats = pd.DataFrame(
        {
            "patient_id": pids,
            "site_id": [draw(st.sampled_from(["A", "B"])) for _ in pids],
            "age_onset": [draw(st.sampled_from([30.0, 55.0, 75.0, math.nan])) for _ in pids],
            "onset_region": [draw(st.sampled_from(["bulbar", "lower_limb", None])) for _ in pids],
            "anchor": [draw(st.sampled_from(["onset", "enrolment", None])) for _ in pids],
            "family_history": [draw(flag) for _ in pids],
            **{col: [draw(flag) for _ in pids] for col in FLAGS.values()},
        }
    )
    gen_rows = []
    for pid in pids:
        for _ in range(draw(st.integers(0, 2))):
            gene = draw(st.sampled_from(sorted(VARIANTS)))
            var, _cls = draw(st.sampled_from(VARIANTS[gene]))
            gen_rows.append((pid, gene, var, draw(st.sampled_from(PATHS))))
    genetics = pd.DataFrame(gen_rows, columns=["patient_id", "gene", "variant", "pathogenicity"])
    genetics = genetics.drop_duplicates(["patient_id", "gene", "variant"])
    vis_rows, bio_rows = [], []
    value = st.sampled_from([10.0, 34.0, 44.0, 54.0, 100.0, 120.0, 200.0])
    for pid in pids:
        days = draw(st.lists(st.integers(0, 50), min_size=0, max_size=4, unique=True))
        for d in days:  # even days: visits, odd days: biomarkers (no ties within a patient)
            if d % 2 == 0:
                vis_rows.append((pid, d, draw(st.one_of(value, st.just(math.nan)))))
            else:
                an = draw(st.sampled_from(["nfl", "pnfh"]))
                mat = draw(st.sampled_from(["serum", "csf"]))
                bio_rows.append((pid, d, an, mat, draw(value)))
    visits = pd.DataFrame(vis_rows, columns=["patient_id", "day", "nfl_serum_pg_ml"])
    bio = pd.DataFrame(bio_rows, columns=["patient_id", "day", "analyte", "matrix", "value_pg_ml"])
    return {"patients": pats, "genetics": genetics, "visits": visits, "biomarkers": bio}


def trees(depth: int = 3) -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.sampled_from(LEAVES)
    return st.recursive(
        leaf,
        lambda kids: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(kids, min_size=1, max_size=3)),
            st.builds(lambda xs: {"any": xs}, st.lists(kids, min_size=1, max_size=3)),
            st.builds(lambda x: {"not": x}, kids),
        ),
        max_leaves=6,
    )


def _leaf_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    for op in ("all", "any"):
        if op in node:
            return [leaf for c in node[op] for leaf in _leaf_nodes(c)]
    if "not" in node:
        return _leaf_nodes(node["not"])
    return [node]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tabs=registries(), tree=trees())
def test_vectorised_equals_brute_force(tabs: dict[str, pd.DataFrame], tree: dict[str, Any]) -> None:
    rs = parse_rules({"version": "t1", "studies": [{"id": "s", "criteria": tree}]})
    res = evaluate_rules(rs, tabs).matches
    status = {T: "eligible", F: "not_eligible", U: "untested"}
    leaves = _leaf_nodes(tree)
    labels = [leaf.label for leaf in rs.studies[0].criteria.leaves()]
    recs = {k: v.to_dict("records") for k, v in tabs.items()}
    for i, pat in enumerate(recs["patients"]):
        pat = {k: (None if v is None else v) for k, v in pat.items()}
        row = res.iloc[i]
        assert row["patient_id"] == pat["patient_id"]
        assert row["status"] == status[_bf(tree, pat, recs)]
        per_leaf = [_bf_leaf(leaf, pat, recs) for leaf in leaves]
        for col, code in (("met", T), ("failed", F), ("untested", U)):
            want = [lab for lab, c in zip(labels, per_leaf, strict=True) if c == code]
            got = [x for x in row[col].split("; ") if x]
            assert got == want, (col, tree)


# ------------------------------------------------------------------------------------------
# Examples and the shipped table
# ------------------------------------------------------------------------------------------


def _tiny() -> dict[str, pd.DataFrame]:
    pats = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C", "D", "E"],
            "site_id": ["S1", "S1", "S2", "S2", "S2"],
            "age_onset": [50.0, 60.0, 70.0, math.nan, 45.0],
            "onset_region": ["bulbar", "lower_limb", "bulbar", None, "upper_limb"],
            "anchor": ["onset", "onset", "onset", "enrolment", "onset"],
            "sod1": [1.0, 0.0, math.nan, 1.0, 1.0],
            "c9orf72": [0.0, 1.0, math.nan, 0.0, 0.0],
        }
    )
    genetics = pd.DataFrame(
        {
            "patient_id": ["A", "D", "E"],
            "gene": ["SOD1", "SOD1", "SOD1"],
            "variant": ["p.Ala5Val", "p.Asp91Ala", "p.Asn140Lys"],
            "pathogenicity": ["pathogenic", "pathogenic", "vus"],
        }
    )
    visits = pd.DataFrame(
        {
            "patient_id": ["D", "D", "A"],
            "day": [0, 180, 0],
            "nfl_serum_pg_ml": [30.0, 48.0, 90.0],
        }
    )
    return {"patients": pats, "genetics": genetics, "visits": visits}


def test_default_rules_on_a_hand_made_registry() -> None:
    res = evaluate_rules(load_rules(), _tiny())
    m = res.matches.set_index(["study_id", "patient_id"])
    # A: SOD1 pathogenic -> tofersen; E: only a VUS in SOD1 -> not eligible; C untested.
    assert m.loc[("tofersen_sod1", "A"), "status"] == "eligible"
    assert m.loc[("tofersen_sod1", "E"), "status"] == "not_eligible"
    assert "SOD1" in m.loc[("tofersen_sod1", "E"), "failed"]
    assert m.loc[("tofersen_sod1", "C"), "status"] == "untested"
    assert m.loc[("tofersen_sod1", "C"), "reason"].startswith("untested: SOD1")
    # B: C9orf72 flag 1 without a finding row = repeat expansion.
    assert m.loc[("c9orf72_studies", "B"), "status"] == "eligible"
    # D: presymptomatic SOD1 carrier whose NfL rose 30 -> 48 pg/mL: ATLAS-like arm.
    assert m.loc[("atlas_presymptomatic_sod1", "D"), "status"] == "eligible"
    assert m.loc[("tofersen_sod1", "D"), "status"] == "not_eligible"
    summ = res.summary().set_index("study_id")
    assert summ.loc["tofersen_sod1", "eligible"] == 1
    assert (summ["patients"] == 5).all()
    site = res.by_site().set_index(["study_id", "site_id"])
    assert site.loc[("atlas_presymptomatic_sod1", "S2"), "eligible"] == 1


def test_rule_nobody_can_meet_is_reported() -> None:
    from alsnet.synth import synthesize

    cohort = synthesize(200, seed=3)
    res = evaluate_rules(load_rules(), cohort)
    # Registry patients are all symptomatic: nobody meets the presymptomatic ATLAS-like arm.
    assert "atlas_presymptomatic_sod1" in res.unmet()
    assert "c9orf72_studies" not in res.unmet()
    rs = parse_rules(
        {
            "version": "1",
            "studies": [{"id": "huge_nfl", "criteria": {"analyte": "nfl", "min": 1e6}}],
        }
    )
    assert evaluate_rules(rs, cohort).unmet() == ["huge_nfl"]


def test_tricals_window_matches_encals_table() -> None:
    from alsnet.clinical import encals_table
    from alsnet.clinical.baseline import encals_baseline
    from alsnet.synth import synthesize

    cohort = synthesize(150, seed=5)
    rs = parse_rules(
        {
            "version": "1",
            "studies": [{"id": "w", "criteria": {"score": "tricals_lp", "min": -6, "max": -2}}],
        }
    )
    got = evaluate_rules(rs, cohort).matches["status"].to_numpy()
    lp = encals_table(encals_baseline(cohort.patients, cohort.visits), errors="flag")[
        "tricals_lp"
    ].to_numpy(dtype=float)
    want = np.where(
        np.isnan(lp), "untested", np.where((lp >= -6) & (lp <= -2), "eligible", "not_eligible")
    )
    np.testing.assert_array_equal(got, want)


def test_variant_class() -> None:
    got = variant_class(
        [
            "p.Ala5Val",
            "p.Arg495Ter",
            "p.Gly12*",
            "p.Arg495fs",
            "p.Glu22del",
            "c.12+1G>A",
            "x",
            "intermediate_repeat_expansion",
        ]
    )
    assert list(got) == [
        "missense",
        "nonsense",
        "nonsense",
        "frameshift",
        "inframe_indel",
        "splice",
        "other",
        "intermediate_repeat_expansion",
    ]


# ------------------------------------------------------------------------------------------
# Bad rule files
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ({"studies": [{"id": "a", "criteria": {"gene": "SOD1"}}]}, ["version", "needs a version"]),
        (
            {"version": "1", "studies": [{"id": "a", "criteria": {"gene": "SOD2"}}]},
            ["studies[0] (a).criteria.gene", "SOD2", "must be one of"],
        ),
        (
            {"version": "1", "studies": [{"id": "a", "criteria": {"gene": "SOD1"}}] * 2},
            ["studies[1]", "duplicate study id"],
        ),
        (
            {
                "version": "1",
                "studies": [{"id": "a", "criteria": {"analyte": "nfl", "min": 50, "max": 10}}],
            },
            ["min 50 > max 10", "no value can meet"],
        ),
        (
            {
                "version": "1",
                "studies": [{"id": "a", "criteria": {"gene": "SOD1", "pathogenicty": ["vus"]}}],
            },
            ["pathogenicty", "unknown keys"],
        ),
        (
            {
                "version": "1",
                "studies": [{"id": "a", "criteria": {"field": "shoe_size", "min": 3}}],
            },
            ["criteria.field", "shoe_size", "patients table"],
        ),
        (
            {"version": "1", "studies": [{"id": "a", "criteria": {"all": []}}]},
            ["criteria.all", "non-empty list"],
        ),
        (
            {
                "version": "1",
                "studies": [{"id": "a", "criteria": {"gene": "SOD1", "analyte": "nfl"}}],
            },
            ["exactly one of"],
        ),
        (
            {
                "version": "1",
                "studies": [
                    {
                        "id": "a",
                        "criteria": {"analyte": "nfl", "rise": 10, "matrix": ["serum", "csf"]},
                    }
                ],
            },
            ["'rise' needs exactly one matrix"],
        ),
        (
            {
                "version": "1",
                "studies": [{"id": "a", "criteria": {"gene": "FUS", "pathogenicity": ["bad"]}}],
            },
            ["pathogenicity[0]", "likely_pathogenic"],
        ),
        ({"version": "1", "format": "other/2", "studies": []}, ["unsupported format", "studies"]),
    ],
)
def test_bad_rule_tables_name_field_and_reason(spec: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(RuleFileError) as err:
        parse_rules(spec, source="rules.yaml")
    msg = str(err.value)
    assert "rules.yaml" in msg
    for frag in fragments:
        assert frag in msg


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "r.yaml"
    p.write_text("version: '1'\nstudies:\n  - id: a\n    criteria: {gene: SOD1\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match=r"r\.yaml, line \d+: invalid YAML"):
        load_rules(p)
    with pytest.raises(FileNotFoundError):
        load_rules(tmp_path / "missing.yaml")


def test_every_problem_is_listed() -> None:
    spec = {
        "version": "1",
        "studies": [
            {"id": "a", "criteria": {"gene": "XYZ"}},
            {"id": "b b", "criteria": {"field": "ancestry", "in": ["MARS"]}},
        ],
    }
    with pytest.raises(RuleFileError) as err:
        parse_rules(spec)
    assert len(err.value.problems) == 3


def test_nfl_rise_boundary_and_latest_vs_max() -> None:
    pats = pd.DataFrame({"patient_id": ["A", "B", "C"], "site_id": ["S"] * 3})
    visits = pd.DataFrame(
        {
            "patient_id": ["A", "A", "B", "B", "C"],
            "day": [0, 90, 0, 90, 0],
            "nfl_serum_pg_ml": [34.0, 44.0, 35.0, 44.0, 80.0],
        }
    )
    bio = pd.DataFrame(  # a CSF value must not enter a serum rule
        {
            "patient_id": ["B"],
            "day": [120],
            "analyte": ["nfl"],
            "matrix": ["csf"],
            "value_pg_ml": [9000.0],
        }
    )
    tabs = {"patients": pats, "visits": visits, "biomarkers": bio}
    rise = {"analyte": "nfl", "min": 44, "rise": 10}
    rs = parse_rules({"version": "1", "studies": [{"id": "r", "criteria": rise}]})
    got = evaluate_rules(rs, tabs).matches["status"].tolist()
    assert got == ["eligible", "not_eligible", "untested"]  # +10, +9, one measurement
    both = {"analyte": "nfl", "matrix": ["serum", "csf"], "max": 100, "use": "max"}
    rs = parse_rules({"version": "1", "studies": [{"id": "m", "criteria": both}]})
    assert evaluate_rules(rs, tabs).matches["status"].tolist() == [
        "eligible",
        "not_eligible",
        "eligible",
    ]


def test_cli_match_writes_matches_and_report(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from alsnet.cli import app
    from alsnet.io.canonical import write_csv
    from alsnet.synth import synthesize

    reg = tmp_path / "reg"
    write_csv(synthesize(120, seed=2), reg)
    out = tmp_path / "out"
    runner = CliRunner()
    res = runner.invoke(
        app, ["omics", "match", "--input", str(reg), "--out", str(out), "--draws", "5"]
    )
    assert res.exit_code == 0, res.output
    assert "no patient meets study atlas_presymptomatic_sod1" in res.output
    m = pd.read_csv(out / "matches.csv")
    assert len(m) == 120 * 5
    assert set(m["status"]) <= {"eligible", "not_eligible", "untested"}
    assert {"expected.csv", "summary.csv", "report.html"} <= {p.name for p in out.iterdir()}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "2026.11-1" in html and "atlas_presymptomatic_sod1" in html
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: '1'\nstudies:\n  - id: x\n    criteria: {gene: SOD9}\n")
    res = runner.invoke(
        app, ["omics", "match", "--input", str(reg), "--out", str(out), "--rules", str(bad)]
    )
    assert res.exit_code == 1
    assert "bad.yaml" in res.output and "SOD9" in res.output
