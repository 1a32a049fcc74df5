"""Every product package is installed, and is in the mutation run's copy (pyproject.toml): a package added
later and forgotten there is imported by the mutants' tests from the working tree instead of mutmut's copy."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_PRODUCT = {"tests", "bench"}


def _packages() -> set[str]:
    return {p.parent.name for p in ROOT.glob("*/__init__.py")} - NOT_PRODUCT


def test_every_package_is_installed_and_copied_for_the_mutation_run() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    installed = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    mutmut = project["tool"]["mutmut"]
    assert _packages() - installed == set()
    assert _packages() - set(mutmut["source_paths"]) - set(mutmut["also_copy"]) == set()
    assert {f.split("/")[0] for f in mutmut["only_mutate"]} <= set(mutmut["source_paths"])
