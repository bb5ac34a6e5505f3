"""The user guides in docs/ run: every example is executed as written.

For each guide, the fenced blocks are taken in document order and run inside one
temporary working directory:

* ```` ```python ```` blocks share one namespace (a later block sees the names of
  an earlier one); ```` ```python no-run ```` blocks are shown but skipped;
* in ```` ```console ```` blocks every line starting with ``$ alsnet`` is run
  through :class:`typer.testing.CliRunner` on :data:`alsnet.cli.app` and must exit 0
  (other lines are shown output); a line ending in ``\\`` continues on the next.

The registry default is pointed at a throw-away SQLite file (``$ALSNET_DB``) so that
no example can touch a user's database. Links between the guides must resolve and
``docs/index.md`` must list every guide.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

DOCS = Path(__file__).resolve().parents[1] / "docs"

#: Guides whose examples are executed (the ones this test file owns).
GUIDES = ("twin.md", "trials.md", "omics.md", "federated.md")
#: Guides whose examples take longer than 20 s in total.
SLOW_GUIDES: frozenset[str] = frozenset()

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@dataclass(frozen=True)
class Block:
    """One fenced block of a guide: its language, flags, code and first line number."""

    lang: str
    flags: tuple[str, ...]
    code: str
    line: int


def blocks(text: str) -> list[Block]:
    """Fenced code blocks of a markdown text, in order."""
    out = []
    for m in _FENCE.finditer(text):
        info = m.group(1).split()
        lang = info[0] if info else ""
        line = text.count("\n", 0, m.start()) + 2
        out.append(Block(lang, tuple(info[1:]), m.group(2), line))
    return out


def cli_commands(code: str) -> list[list[str]]:
    """The ``$ alsnet ...`` commands of a console block, as argument lists (without 'alsnet')."""
    commands = []
    lines = iter(code.splitlines())
    for raw in lines:
        line = raw.strip()
        if not line.startswith("$ alsnet"):
            continue
        while line.endswith("\\"):
            line = line[:-1] + " " + next(lines, "").strip()
        commands.append(shlex.split(line[2:], comments=True)[1:])
    return commands


def run_guide(path: Path) -> int:
    """Run every runnable block of ``path`` in order (in the current directory).

    Returns the number of blocks run; raises AssertionError naming the guide and
    line of the first failing example.
    """
    from alsnet.cli import app

    runner = CliRunner()
    namespace: dict[str, object] = {"__name__": f"docs_{path.stem}"}
    n = 0
    for b in blocks(path.read_text(encoding="utf-8")):
        where = f"{path.name}, block at line {b.line}"
        if b.lang == "python" and "no-run" not in b.flags:
            try:
                exec(compile(b.code, where, "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"{where}: {type(exc).__name__}: {exc}") from exc
            n += 1
        elif b.lang == "console":
            for args in cli_commands(b.code):
                res = runner.invoke(app, args)
                assert res.exit_code == 0, (
                    f"{where}: `alsnet {shlex.join(args)}` exited {res.exit_code}\n"
                    f"{res.output}\n{res.exception!r}"
                )
                n += 1
    return n


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory with a throw-away registry URL."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALSNET_DB", f"sqlite:///{tmp_path / 'registry.db'}")
    return tmp_path


@pytest.mark.parametrize(
    "guide",
    [pytest.param(g, marks=[pytest.mark.slow] if g in SLOW_GUIDES else []) for g in GUIDES],
)
def test_guide_examples_run(guide: str, sandbox: Path) -> None:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        n = run_guide(DOCS / guide)
    assert n > 0, f"{guide} has no runnable example"


def test_runner_reports_a_failing_example(tmp_path: Path, sandbox: Path) -> None:
    """The harness is able to fail: a raising block and a failing command are reported."""
    bad = tmp_path / "bad.md"
    bad.write_text("x\n\n```python\nx = 1\n```\n\n```python\nassert x == 2\n```\n")
    with pytest.raises(AssertionError, match=r"bad.md, block at line 8: AssertionError"):
        run_guide(bad)
    bad.write_text("```console\n$ alsnet trial bounds --looks 0\n```\n")
    with pytest.raises(AssertionError, match="exited"):
        run_guide(bad)
    skip = tmp_path / "skip.md"
    skip.write_text("```python no-run\nraise SystemExit(3)\n```\n```console\nno command\n```\n")
    assert run_guide(skip) == 0


def test_cli_commands_parse_continuations_and_output() -> None:
    code = "$ alsnet trial bounds \\\n    --looks 3  # comment\nlook  bound\n$ alsnet --help\n"
    assert cli_commands(code) == [["trial", "bounds", "--looks", "3"], ["--help"]]


def test_index_lists_every_guide_and_links_resolve() -> None:
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    linked = set(_LINK.findall(index))
    guides = {p.name for p in DOCS.glob("*.md")} - {"index.md"}
    assert guides <= linked, f"docs/index.md does not link {sorted(guides - linked)}"
    for name in ("index.md", *GUIDES):
        text = (DOCS / name).read_text(encoding="utf-8")
        for target in _LINK.findall(text):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (DOCS / target).resolve().exists(), f"{name}: broken link {target}"


def test_benchmarks_and_tests_cited_exist() -> None:
    """Every benchmarks/... or tests/... path and every `test_...` function a guide cites exists."""
    root = DOCS.parent
    test_source = "\n".join(
        p.read_text(encoding="utf-8") for p in (root / "tests").rglob("test_*.py")
    )
    for name in GUIDES:
        text = (DOCS / name).read_text(encoding="utf-8")
        for cited in set(re.findall(r"\b((?:benchmarks|tests)/[\w/.-]+\.py)\b", text)):
            assert (root / cited).is_file(), f"{name} cites {cited}, which does not exist"
        for func in set(re.findall(r"`(test_\w+)`", text)):
            assert f"def {func}(" in test_source, f"{name} cites {func}, which does not exist"


def _set_literals(path: Path, function: str) -> set[str]:
    """String elements of every set literal inside ``function`` of the module at ``path``."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    keys: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Set):
                    keys |= {
                        e.value
                        for e in sub.elts
                        if isinstance(e, ast.Constant) and isinstance(e.value, str)
                    }
    return keys


def test_trial_design_reference_lists_every_key() -> None:
    """Every key the design parsers accept is named (as `key`) in docs/trials.md."""
    src = DOCS.parent / "src" / "alsnet" / "trials"
    keys = set().union(
        *(
            _set_literals(src / "design.py", f)
            for f in ("from_dict", "_parse_scenarios", "_parse_interims")
        )
    )
    keys |= _set_literals(src / "adaptive" / "design.py", "from_dict")
    assert {"regimens", "hazard_drr", "every_weeks", "soften_power"} <= keys  # parsed
    text = (DOCS / "trials.md").read_text(encoding="utf-8")
    missing = sorted(k for k in keys if f"`{k}`" not in text and f"`{k}:" not in text)
    assert not missing, f"docs/trials.md does not document design keys {missing}"


def test_policy_reference_lists_every_field() -> None:
    """Every Policy field and jurisdiction is named in docs/federated.md."""
    from dataclasses import fields

    from alsnet.federated.policy import JURISDICTIONS, Policy

    text = (DOCS / "federated.md").read_text(encoding="utf-8")
    names = [f.name for f in fields(Policy)] + list(JURISDICTIONS)
    missing = [n for n in names if f"`{n}`" not in text]
    assert not missing, f"docs/federated.md does not document policy fields {missing}"


def test_rules_reference_lists_every_key() -> None:
    """Every key of the trial-matching rule format is named in docs/omics.md."""
    from alsnet.omics import rules

    keys = set(rules._TOP_KEYS) | set(rules._STUDY_KEYS) | {"all", "any", "not"}
    for leaf in rules._LEAF_KEYS.values():
        keys |= set(leaf)
    keys |= set(rules.VARIANT_CLASSES) | set(rules._SCORES) | set(rules._CLINICAL)
    text = (DOCS / "omics.md").read_text(encoding="utf-8")
    missing = sorted(
        k for k in keys if f"`{k}" not in text and f"{k}:" not in text and f"|{k}" not in text
    )
    assert not missing, f"docs/omics.md does not document rule keys {missing}"
