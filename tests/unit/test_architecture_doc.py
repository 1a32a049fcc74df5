"""docs/ARCHITECTURE.md matches the tree: every package and file it names exists, every package is named."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "ARCHITECTURE.md"
_ROW = re.compile(r"^\| `(?P<pkg>[a-z_/]+/)` \| (?P<text>.*)\|\s*$")
_PATH = re.compile(r"`([a-z_][a-z_/]*(?:/|\.py))`")


def _rows() -> dict[str, str]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = _ROW.match(line)
        if m:
            rows[m["pkg"]] = m["text"]
    return rows


def test_every_package_in_the_table_exists() -> None:
    rows = _rows()
    assert len(rows) >= 10, "the package table was not found"
    missing = [pkg for pkg in rows if not (ROOT / pkg).is_dir()]
    assert not missing, f"docs/ARCHITECTURE.md names packages that do not exist: {missing}"


def test_every_file_a_row_names_exists_in_its_package() -> None:
    wrong = []
    for pkg, text in _rows().items():
        for name in _PATH.findall(text):
            candidates = [ROOT / name, ROOT / pkg / name]
            if name.endswith(".py") and "/" not in name:
                candidates += list((ROOT / pkg).rglob(name))
            if not any(c.exists() for c in candidates):
                wrong.append(f"{pkg}: {name}")
    assert not wrong, f"docs/ARCHITECTURE.md names files that do not exist: {wrong}"


def test_every_product_package_is_in_the_table() -> None:
    packages = {p.parent.name + "/" for p in ROOT.glob("*/__init__.py")} - {"tests/"}
    unnamed = sorted(packages - set(_rows()))
    assert not unnamed, f"packages missing from docs/ARCHITECTURE.md: {unnamed}"
