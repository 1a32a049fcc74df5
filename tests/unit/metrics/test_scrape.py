"""``GET /metrics`` of the composed service, scraped after real actions and read with prometheus_client's parser.

The service is the composition root's (real gate, event log, hooks, recordings) over SQLite and PostgreSQL, with
a fake AMI server answering the Originate, so the AMI metrics are the real client's.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dialer.ami import AmiMessage
from dialer.translate import FactUpdate
from tests.support.composed import Composed, composed
from tests.unit.dialer.ami.fake_ami import FakeAmi, FakeConn

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "scrape-" + "x" * 40
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}
DNC_NUMBER = "+8613800000666"


def _answer_originate(conn: FakeConn, action: AmiMessage) -> None:
    conn.reply(action, "Success", ("Message", "Originate successfully queued"))


@pytest.fixture
async def svc(tmp_path: Path, database_url: str) -> AsyncIterator[tuple[Composed, FakeAmi]]:
    async with FakeAmi(_answer_originate) as fake, composed(
            tmp_path, database_url, compliance={"default_profile": "DEMO"},
            metrics={"token": TOKEN, "db_state_max_age_s": 0},
            pbx=[{"name": "local", "ami_host": "127.0.0.1", "ami_port": fake.port, "ami_user": "callguard",
                  "ami_secret": "s3cret"}]) as c:
        assert await c.container.pbx.client("local").wait_connected(5.0)
        yield c, fake


async def scrape(c: Composed) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``GET /metrics`` by (name, sorted labels)."""
    r = await c.client.get("/metrics", headers=SCRAPER)
    assert r.status == 200, await r.text()
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    out = {}
    for family in text_string_to_metric_families(await r.text()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_dials_blocked_and_allowed_and_call_states_are_counted(svc: tuple[Composed, FakeAmi]) -> None:
    c, _fake = svc
    before = await scrape(c)
    assert value(before, "callguard_gate_decisions_total", decision="blocked", rule="do-not-call") == 0
    assert value(before, "callguard_ami_connected", pbx="local") == 1
    assert value(before, "callguard_db_state_up") == 1

    r = await c.client.post("/v1/compliance/do-not-call", headers=c.auth("sam"),
                            json={"value": DNC_NUMBER, "kind": "exact", "reason": "asked"})
    assert r.status == 201, await r.text()
    r = await c.client.post("/v1/calls", headers=c.auth("sam"), json={"agent": "alice", "number": DNC_NUMBER})
    assert r.status == 409, await r.text()
    r = await c.client.post("/v1/calls", headers=c.auth("sam"), json={"agent": "alice", "number": "+8613800000001"})
    assert r.status == 202, await r.text()
    call_id = (await r.json())["id"]

    after = await scrape(c)
    assert value(after, "callguard_gate_decisions_total", decision="blocked", rule="do-not-call") == 1
    assert value(after, "callguard_gate_decisions_total", decision="allowed", rule="none") == 1
    assert value(after, "callguard_gate_decisions_total", decision="blocked", rule="frequency-cap") == 0
    assert value(after, "callguard_calls_total", state="requested") == 1
    assert value(after, "callguard_calls_in_progress", state="requested") == 1  # the database's count
    assert value(after, "callguard_ami_action_duration_seconds_count", pbx="local", action="Originate") == 1

    # the PBX's facts move the call on, through the same path AMI events take
    now = c.container.clock.now()
    await c.container.calls.apply(FactUpdate(call_id, "Newstate", {"agent_ringing_at": now}))
    await c.container.calls.apply(FactUpdate(call_id, "Hangup", {"failure": "test", "ended_at": now}))
    ended = await scrape(c)
    assert value(ended, "callguard_calls_total", state="agent_ringing") == 1
    assert value(ended, "callguard_calls_total", state="ended") == 1
    assert value(ended, "callguard_calls_ended_total", end_reason="failed") == 1
    assert value(ended, "callguard_calls_ended_total", end_reason="completed") == 0
    assert value(ended, "callguard_calls_in_progress", state="requested") == 0
    # the same facts again change nothing, and count nothing
    await c.container.calls.apply(FactUpdate(call_id, "Hangup", {"failure": "test", "ended_at": now}))
    assert value(await scrape(c), "callguard_calls_total", state="ended") == 1
    r = await c.client.get("/metrics", headers=SCRAPER)
    _every_metric_is_documented_and_the_dashboard_reads_real_ones(await r.text())


def _every_metric_is_documented_and_the_dashboard_reads_real_ones(text: str) -> None:
    families = [f for f in text_string_to_metric_families(text)  # (``_created``: each series' start time)
                if f.name.startswith("callguard_") and not f.name.endswith("_created")]
    served = {f.name + ("_total" if f.type == "counter" else "") for f in families}
    samples = {s.name for f in families for s in f.samples}
    documented = set(re.findall(r"^\| `(callguard_[a-z_]+)`", (ROOT / "docs/OPERATIONS.md").read_text(), re.M))
    assert served == documented, {"not documented": served - documented, "documented, not served": documented - served}
    exprs = [t["expr"] for p in json.loads((ROOT / "docs/grafana/callguard.json").read_text())["panels"]
             for t in p.get("targets", [])]
    used = {m for e in exprs for m in re.findall(r"\b(callguard_[a-z_]+)", e)}
    assert used and used <= served | samples, used - served - samples
    shown = {re.sub(r"_bucket$", "", m) for m in used}
    assert shown == documented, documented - shown  # the dashboard shows every metric


async def test_an_open_event_stream_shows_in_the_gauge(svc: tuple[Composed, FakeAmi]) -> None:
    c, _fake = svc
    assert value(await scrape(c), "callguard_sse_streams_open") == 0
    async with c.client.get("/v1/events", headers=c.auth("sam")) as stream:
        assert stream.status == 200
        await asyncio.wait_for(c.container.stream.wait_for_subscribers(1), 5.0)
        assert value(await scrape(c), "callguard_sse_streams_open") == 1


async def test_only_the_scrape_token_or_a_global_admin_reads_the_metrics(svc: tuple[Composed, FakeAmi]) -> None:
    c, _fake = svc
    r = await c.client.get("/metrics")
    assert r.status == 401
    assert (await r.json())["error"]["code"] == "unauthorized"
    r = await c.client.get("/metrics", headers={"Authorization": "Bearer " + "y" * 47})  # neither scrape nor user
    assert r.status == 401
    for user in ("sam", "mia", "casesys"):  # a bank's people and case system: the numbers are every bank's
        r = await c.client.get("/metrics", headers=c.auth(user))
        assert r.status == 403
        assert (await r.json())["error"]["code"] == "metrics-forbidden"
    r = await c.client.get("/metrics", headers=c.auth("ada"))  # a global admin
    assert r.status == 200
    text = await r.text()
    assert "callguard_calls_total" in text and "bank1" not in text and "alice" not in text
