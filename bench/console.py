"""The console's first page: its compressed weight (JS + CSS + HTML as the service sends them to Chromium) and
its time to interactive, against the API reference at /docs (Swagger UI) measured the same way in this run.

console_first_page_compressed_bytes: the bytes of ``/``, its script and stylesheet with
``Accept-Encoding: gzip, deflate, br`` (what Chromium sends); baseline: the same for ``/docs``.
console_time_to_interactive_ms: median over runs of a fresh browser context loading ``/`` until the sign-in form
accepts input; baseline: ``/docs`` until its operations are listed.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import print_table, record  # noqa: E402
from tests.contract.service import running_service  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
RUNS = 7
ACCEPT = "gzip, deflate, br"


def sent_bytes(url: str) -> int:
    """How many body bytes the service sends for ``url`` to a browser that accepts compression."""
    req = urllib.request.Request(url, headers={"Accept-Encoding": ACCEPT})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return len(resp.read())


def static_chunks(base: str) -> list[str]:
    """The chunks console.js imports at once (the reports' chart library is fetched later, not counted)."""
    with urllib.request.urlopen(base + "/console/console.js", timeout=10) as resp:
        script = resp.read().decode()
    # static imports only (`import"./chunk.js"` or `...from"./chunk.js"`), not `import("./chunk.js")`
    return [f"/console/{name}" for name in re.findall(r'(?:import|from)"\./(chunk-[A-Za-z0-9]+\.js)"', script)]


def first_page_bytes(base: str, page: str, assets: list[str]) -> int:
    return sum(sent_bytes(base + p) for p in (page, *assets))


def interactive_ms(page: Page, url: str, ready: str) -> float:
    """Milliseconds from navigation start until ``ready`` is visible (the page accepts input)."""
    page.goto(url, wait_until="commit")
    page.locator(ready).first.wait_for(timeout=30_000)
    value: float = page.evaluate("performance.now()")
    return value


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, running_service(Path(tmp)) as svc, sync_playwright() as pw:
        console_bytes = first_page_bytes(svc.url, "/", ["/console/console.js", "/console/console.css",
                                                        *static_chunks(svc.url)])
        docs_bytes = first_page_bytes(svc.url, "/docs", ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css",
                                                         "/docs/docs.js", "/docs/docs.css"])
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            timings: dict[str, list[float]] = {"console": [], "docs": []}
            for _ in range(RUNS):
                for name, url, ready in (("console", "/", "#username"),
                                         ("docs", "/docs", "text=Request a click-to-dial call")):
                    context = browser.new_context()
                    try:
                        timings[name].append(interactive_ms(context.new_page(), svc.url + url, ready))
                    finally:
                        context.close()
        finally:
            browser.close()
    console_ms, docs_ms = (statistics.median(timings[k]) for k in ("console", "docs"))
    record("console_first_page_compressed_bytes", "bytes", console_bytes,
           {"docs_first_page_compressed_bytes": docs_bytes},
           extra={"accept_encoding": ACCEPT,
                  "files": ["/", "/console/console.js", "/console/console.css", "static chunks"]})
    record("console_time_to_interactive_ms", "ms", round(console_ms, 1),
           {"docs_time_to_interactive_ms": round(docs_ms, 1)},
           extra={"runs": RUNS, "ready": "sign-in form visible",
                  "samples_ms": [round(x, 1) for x in timings["console"]]})
    print_table(["console_first_page_compressed_bytes", "console_time_to_interactive_ms"])


if __name__ == "__main__":
    main()
