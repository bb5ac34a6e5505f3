"""Package boundary: public API and allowed imports."""

from __future__ import annotations

import ast
from pathlib import Path

import alsnet.clinical as clinical

ALLOWED = {"alsnet.schema", "alsnet.exceptions", "alsnet.validation"}


def test_all_is_sorted_and_importable() -> None:
    assert clinical.__all__ == sorted(clinical.__all__)
    for name in clinical.__all__:
        assert hasattr(clinical, name)


def test_imports_no_other_alsnet_domain() -> None:
    root = Path(clinical.__file__).parent
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                mod = node.module
            elif isinstance(node, ast.Import):
                mod = node.names[0].name
            else:
                continue
            if mod.startswith("alsnet"):
                assert mod.startswith("alsnet.clinical") or mod in ALLOWED, (path.name, mod)
