"""The OpenAPI document tells the truth: schemathesis fuzzes the real service (SQLite) with every check.

Fixed seed and a bounded number of examples per operation (``schemathesis.toml`` beside this file); the
examples, coverage, fuzzing and stateful phases (the stateful one follows the document's links) run
against the composed service on a real socket, with an admin token and a case, a policy and a do-not-call
entry to make the operations reachable. Zero failures is the bar.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from api.app import all_routes
from tests.contract.service import Running, running_service

pytestmark = pytest.mark.contract
HERE = Path(__file__).parent
ST = Path(sys.executable).with_name("st")


def _call(svc: Running, method: str, path: str, body: object) -> dict[str, object]:
    req = urllib.request.Request(f"{svc.url}{path}", method=method, data=json.dumps(body).encode(), headers={
        "Authorization": f"Bearer {svc.admin_token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        out: dict[str, object] = json.loads(resp.read() or b"{}")
        return out


def seed_data(svc: Running) -> None:
    """A case with a number, a client policy and a do-not-call entry, through the API itself."""
    _call(svc, "PUT", "/v1/clients/bank1/cases/ext-1", {
        "debtor_name": "Li Lei", "amount": "1200.50", "currency": "CNY", "timezone": "Asia/Shanghai",
        "contacts": [{"number": "+8613800000001", "kind": "mobile"}]})
    _call(svc, "PUT", "/v1/compliance/policies/bank1", {"jurisdiction": "CN"})
    _call(svc, "POST", "/v1/compliance/do-not-call", {"value": "+8613800000666", "reason": "asked"})


@pytest.mark.timeout(600)
def test_schemathesis_finds_no_failure(tmp_path: Path) -> None:
    with running_service(tmp_path) as svc:
        seed_data(svc)
        cmd = [str(ST), "--config-file", str(HERE / "schemathesis.toml"), "run", f"{svc.url}/v1/openapi.json",
               "--header", f"Authorization: Bearer {svc.admin_token}", "--checks", "all",
               "--exclude-checks", "object_level_authorization", "--workers", "1"]
        run = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=540, cwd=tmp_path,
                             env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"})
    report = run.stdout[-40_000:]
    assert run.returncode == 0, f"schemathesis found failures:\n{report}\n{run.stderr[-5000:]}"
    operations = {(r.method, r.path) for r in all_routes()}
    assert f"Tested: {len(operations)}" in report, report  # every operation was exercised
    assert "Stateful" in report and "generated" in report
