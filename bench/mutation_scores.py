"""Write ``mutation_score_<module>`` = killed / (killed + survived) per mutated module into bench/results.json.

Reads the per-file results mutmut leaves in ``mutants/<path>.meta`` after ``mutmut run`` (``make mutation``
runs this at the end). A mutant that timed out counts as killed (the tests did not pass); a mutant no test
reaches counts as survived (nothing would notice it). A module with unchecked mutants is reported and left
out, so an interrupted run never records a score. The modules are the ``only_mutate`` list of
``[tool.mutmut]`` in pyproject.toml.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import record  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: mutmut's exit codes (mutmut/stats.py) grouped into what the score needs.
KILLED = {1: "killed", 3: "killed", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout",
          255: "timeout", -11: "segfault", -9: "segfault", 37: "type_check"}
SURVIVED = {0: "survived", 5: "no_tests", 33: "no_tests"}


def modules() -> list[str]:
    """The mutated files, as configured for mutmut."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["mutmut"]["only_mutate"])


def tally(exit_codes: dict[str, int | None]) -> Counter[str]:
    """Count one file's mutants by outcome (``killed``, ``timeout``, ``survived``, ``no_tests``...)."""
    counts: Counter[str] = Counter()
    for code in exit_codes.values():
        if code is None:
            counts["not_checked"] += 1
        elif code in KILLED:
            counts[KILLED[code]] += 1
        elif code in SURVIVED:
            counts[SURVIVED[code]] += 1
        else:
            counts["suspicious"] += 1
    return counts


def score(counts: Counter[str]) -> float | None:
    """killed / (killed + survived); timeouts are kills, unreached and suspicious mutants survivors."""
    killed = counts["killed"] + counts["timeout"] + counts["segfault"] + counts["type_check"]
    survived = counts["survived"] + counts["no_tests"] + counts["suspicious"]
    return None if killed + survived == 0 else killed / (killed + survived)


def main() -> int:
    """Record one entry per module; exit 1 if any module has no complete result."""
    incomplete = 0
    for path in modules():
        meta = ROOT / "mutants" / (path + ".meta")
        if not meta.exists():
            print(f"{path}: no mutmut results (run `make mutation`)")
            incomplete += 1
            continue
        exit_codes: dict[str, int | None] = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        counts = tally(exit_codes)
        value = score(counts)
        name = "mutation_score_" + path.removesuffix(".py").replace("/", "_")
        if counts["not_checked"] or value is None:
            print(f"{name}: {counts['not_checked']} of {len(exit_codes)} mutants not checked; not recorded")
            incomplete += 1
            continue
        extra: dict[str, Any] = {"module": path, "mutants": len(exit_codes), **dict(sorted(counts.items())),
                                 "tool": "mutmut 3.8.1", "equivalent_survivors": "docs/MUTATION.md"}
        record(name, "killed / (killed + survived)", round(value, 3), {}, extra)
        print(f"{name}: {value:.3f} ({dict(sorted(counts.items()))})")
    return 1 if incomplete else 0


if __name__ == "__main__":
    sys.exit(main())
