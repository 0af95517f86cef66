"""One home per fact: the contract's names, paths and description wordings are values in one module only.

A string literal (docstrings aside) "uses" a name when it is the name itself or a path-like piece
without white space that contains it (`f"{folder}/statistics.json"`); prose with spaces, such as help
texts and messages, may mention the names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("analyzer", "contract", "lambda", "stacks", "workshop", "scripts", "model", "benchmarks", "app.py")
HOMES = {
    "constraint_violations.json": "contract/layout.py",
    "statistics.json": "contract/layout.py",
    "constraints.json": "contract/layout.py",
    "datacapture": "contract/layout.py",
    "/opt/ml/processing": "contract/processing.py",
    "aws/sagemaker/Endpoints/data-metrics": "contract/metrics.py",
}
# The description wordings of contract.violations: written and read nowhere else.
WORDINGS = (
    "Baseline drift distance",
    "requirement is not met",
    "Observed: Only",
    "rows have fewer fields than the baseline's",
    "rows have more fields than the baseline's",
)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _strings() -> list[tuple[str, str]]:
    """(module path, literal) of every string constant in non-test code, docstrings left out."""
    files = [p for name in SOURCES for p in ([ROOT / name] if name.endswith(".py") else (ROOT / name).rglob("*.py"))]
    found = []
    for path in files:
        if "__pycache__" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        found += [
            (path.relative_to(ROOT).as_posix(), node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip
        ]
    return found


STRINGS = _strings()


@pytest.mark.parametrize("name", sorted(HOMES))
def test_each_name_is_a_value_in_its_home_module_only(name):
    users = {module for module, text in STRINGS if name in text and not any(c.isspace() for c in text)}
    assert users == {HOMES[name]}


def test_the_description_wordings_live_in_contract_violations_only():
    users = {module for module, text in STRINGS if any(wording in text for wording in WORDINGS)}
    assert users == {"contract/violations.py"}
