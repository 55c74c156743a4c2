"""The layering contracts (pyproject.toml, [tool.importlinter]; `make lint` runs
lint-imports): they hold on the tree, and a wrong-way import breaks the build with a
message that names the rule and the import."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
PACKAGES = CONFIG["root_packages"]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd), "COLUMNS": "200"},
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the product packages, to break."""
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def test_every_package_is_in_a_contract_and_every_contract_names_its_rule() -> None:
    top = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"tests", "bench"}
    assert top == set(PACKAGES)
    names = [c["name"] for c in CONFIG["contracts"]]
    assert len(names) == len(set(names)) >= 5
    layers = next(c for c in CONFIG["contracts"] if c["type"] == "layers")["layers"]
    assert set(" | ".join(layers).split(" | ")) == set(PACKAGES) - {"sandbox"}


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "rule", "edge"),
    [
        (
            "connectors/base.py",
            "from runtime.settings import Settings",
            "Layers: each package imports only those below it",
            "connectors.base -> runtime.settings",
        ),
        (
            "domain/tiers.py",
            "import sqlite3",
            "The domain is pure",
            "domain.tiers -> sqlite3",
        ),
        (
            "workflows/churn.py",
            "from wiring.connectors import build_connectors",
            "Workflows are deterministic",
            "workflows.churn -> wiring.connectors",
        ),
        (
            "sandbox/hubspot.py",
            "from connectors.errors import ConnectorError",
            "The sandbox shares no code with the product",
            "sandbox.hubspot -> connectors.errors",
        ),
    ],
)
def test_a_wrong_way_import_fails_naming_the_rule(
    tree: Path, module: str, line: str, rule: str, edge: str
) -> None:
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout
    out = " ".join(result.stdout.split())  # the report wraps long names
    assert f"{rule}" in out and "BROKEN" in out
    assert edge in out


def test_worker_sits_beside_webhooks_below_the_command_line() -> None:
    """worker.py is a module, which import-linter cannot take as a root package."""
    tree = ast.parse((ROOT / "worker.py").read_text())
    imported = {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert imported.isdisjoint({"cshub", "webhooks", "sandbox"}), imported
