"""``/docs`` renders the API reference in Chromium with no request to any other host."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from api.docs import CSP, DOCS_DIR
from tests.contract.service import running_service

pytestmark = pytest.mark.contract
CHROMIUM = "/usr/bin/chromium"


def test_docs_page_is_served_with_a_policy_forbidding_other_origins(tmp_path: Path) -> None:
    with running_service(tmp_path) as svc, urllib.request.urlopen(f"{svc.url}/docs", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/html")
        assert resp.headers["Content-Security-Policy"] == CSP
        page = resp.read().decode()
    assert "http://" not in page and "https://" not in page  # every asset is the service's own
    assert "default-src 'none'" in CSP and "https:" not in CSP and "*" not in CSP


def test_docs_render_in_chromium_without_other_hosts(tmp_path: Path) -> None:
    assert (DOCS_DIR / "index.html").is_file(), "the reference is not built: make web"
    assert shutil.which(CHROMIUM), "Debian's chromium is missing: scripts/system-deps installs it"
    with running_service(tmp_path) as svc, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            requested: list[str] = []
            problems: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{svc.url}/docs", wait_until="networkidle")
            page.get_by_text("Request a click-to-dial call").first.wait_for(timeout=20_000)
            text = page.inner_text("body")
        finally:
            browser.close()
    assert "Callguard" in text and "/v1/calls" in text and "Live domain events (SSE)" in text
    own = [u for u in requested if u.startswith((svc.url + "/", "data:", "blob:"))]
    assert requested and own == requested, f"requests to other hosts: {sorted(set(requested) - set(own))}"
    assert f"{svc.url}/v1/openapi.json" in requested
    assert not problems, problems
