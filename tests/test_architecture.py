"""The arrows point one way: the domain knows neither botbuilder nor a storage backend; storage/ and cards/ depend on
the domain only; only bot/ touches botbuilder. Checked on the source, so a stray import fails the build."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HOST = ("botbuilder", "botframework", "msrest")

# package -> top-level modules it must never import
FORBIDDEN = {
    "register": HOST + ("aiohttp", "storage", "cards", "bot", "admin", "azure", "sqlite3"),
    "storage": HOST + ("cards", "bot", "admin"),
    "cards": HOST + ("aiohttp", "storage", "bot", "admin", "azure"),
    "admin": HOST + ("bot", "cards"),
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_point_one_way(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    bad = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & set(FORBIDDEN[package]))
        for path in files
        if imported_modules(path) & set(FORBIDDEN[package])
    }
    assert bad == {}


def test_the_checker_sees_imports(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text("import botbuilder.core\nfrom storage.sqlite import SQLiteStore\nfrom . import y\n")
    assert imported_modules(sample) == {"botbuilder", "storage"}
