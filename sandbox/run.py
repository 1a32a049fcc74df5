"""``make run``: the whole local stack in one process tree.

Starts the sandbox PBX (Asterisk 22), the simulated phones, and the Callguard service on SQLite and
local storage; creates the demo users, prints the URL, tokens, SIP credentials and the customer number
plan, and writes the same to ``.run/demo.json``. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import signal
import socket
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from aiohttp import web

from api.app import make_app
from app.compose import compose
from app.container import Container
from auth.models import Role, User
from auth.passwords import hash_password
from auth.service import OPERATOR, create_user, issue_token, revoke_tokens
from cases.rows import CaseIn
from compliance.models import EVERY_CLIENT, ClientPolicy, DoNotCall
from config.settings import load_settings
from dialer.models import PresentedNumber
from dialer.presented import presented_number
from sandbox.pbx import AgentAccount, PbxSandbox
from sandbox.phones.numberplan import EXAMPLE_NUMBERS
from sip.client import PhonesProcess
from sip.config import AgentPhone, PhonesConfig
from sip.ports import free_port, free_tcp_udp_port

RUN_DIR = Path(".run")
DEMO_CLIENT = "demo-bank"  # DEMO policy: any hour
STRICT_CLIENT = "cn-bank"  # CN policy: 08:00-21:00 Shanghai time; shows outside-hours blocks at night
PROBE_SIP_USER = "1099"  # the scheduled recording probe registers as this account (the only one that may dial probe)
BLOCKED_NUMBER = "+8613800000666"  # on the demo do-not-call list: shows a blocked call at any hour
# what each demo client's calls show the customer (GET/PUT /v1/clients/{client}/presented-numbers)
PRESENTED_NUMBERS = {DEMO_CLIENT: "+862161234567", STRICT_CLIENT: "+861062345678"}

BOTH = (DEMO_CLIENT, STRICT_CLIENT)
# name, role, sip user (agents; a supervisor's, to monitor calls), simulated phone behaviour (None: register
# your own softphone), clients served
# (none: a global admin). Two banks with walls between them: each has its own manager, QA and case system; the
# agents and their supervisor work both banks' cases.
DEMO_USERS: tuple[tuple[str, str, str | None, str | None, tuple[str, ...]], ...] = (
    ("agent1", "agent", "1001", "answer", BOTH),
    ("agent2", "agent", "1002", "answer", BOTH),
    ("agent3", "agent", "1003", None, BOTH),
    ("sup1", "supervisor", "1009", "answer", BOTH),  # its phone rings for POST /v1/calls/{id}/monitor
    ("qa1", "qa", None, None, (DEMO_CLIENT,)),
    ("manager1", "manager", None, None, (DEMO_CLIENT,)),
    ("casesys", "integration", None, None, (DEMO_CLIENT,)),
    ("qa-cn", "qa", None, None, (STRICT_CLIENT,)),
    ("manager-cn", "manager", None, None, (STRICT_CLIENT,)),
    ("casesys-cn", "integration", None, None, (STRICT_CLIENT,)),
    ("admin1", "admin", None, None, ()),
)


def _port(preferred: int, kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port(kind)
    return preferred


async def _seed(container: Container, sip_passwords: dict[str, str]) -> list[dict[str, Any]]:
    """Demo users with fresh tokens and console passwords, the demo client's all-hours policy, the do-not-call
    example, one presented number per demo client."""
    users = []
    # a fresh console password per person (the integration signs in with its token only)
    passwords = {user[0]: secrets.token_urlsafe(9) for user in DEMO_USERS if user[1] != "integration"}
    hashes = {name: await hash_password(pw) for name, pw in passwords.items()}
    async with container.db.begin() as s:
        for name, role, sip_user, behaviour, clients in DEMO_USERS:
            await create_user(s, user_id=name, role=Role(role),
                              team="team-a" if role in ("agent", "supervisor") else None,
                              sip_user=sip_user, display_name=name, clients=clients)
            await revoke_tokens(s, user_id=name)
            token = await issue_token(s, user_id=name, label="make run")
            user = await s.get(User, name)
            if user is not None and name in hashes:
                user.password_hash = hashes[name]
            users.append({
                "name": name, "role": role, "token": token, "clients": list(clients),
                **({"password": passwords[name]} if name in passwords else {}),
                **({"agent": name} if role == "agent" else {}),
                **({"sip_user": sip_user, "sip_password": sip_passwords[sip_user],
                    "simulated_phone": behaviour is not None} if sip_user else {}),
            })
        if await s.get(ClientPolicy, DEMO_CLIENT) is None:
            s.add(ClientPolicy(client_id=DEMO_CLIENT, jurisdiction="DEMO", policy={}, updated_by="make-run"))
        if await s.get(ClientPolicy, STRICT_CLIENT) is None:
            s.add(ClientPolicy(client_id=STRICT_CLIENT, jurisdiction="CN", policy={}, updated_by="make-run"))
        for client, number in PRESENTED_NUMBERS.items():
            if await s.get(PresentedNumber, (client, 0)) is None:
                s.add(PresentedNumber(client_id=client, position=0, number=presented_number(number),
                                      updated_by="make-run"))
        if await s.get(DoNotCall, (BLOCKED_NUMBER, "exact", EVERY_CLIENT)) is None:
            s.add(DoNotCall(value=BLOCKED_NUMBER, kind="exact", reason="demo: shows a blocked call",
                            added_by="make-run"))
    return users


#: the demo cases (idempotent): key, client, external id, assigned agent, numbers (mobile, home, work). Every
#: number of the plan an agent may dial is on a case: a number of no case is a supervisor's manual dial.
DEMO_CASES: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("any_hour", DEMO_CLIENT, "DEMO-001", "agent1", (EXAMPLE_NUMBERS["answer"][0],)),
    ("lines", DEMO_CLIENT, "DEMO-002", "agent2", (EXAMPLE_NUMBERS["busy"][0], EXAMPLE_NUMBERS["no_answer"][0],
                                                  EXAMPLE_NUMBERS["unavailable"][0])),
    ("do_not_call", DEMO_CLIENT, "DEMO-003", "agent1", (BLOCKED_NUMBER,)),
    ("calling_hours", STRICT_CLIENT, "CN-001", "agent1", (EXAMPLE_NUMBERS["answer_then_hangup"][0],)),
)


async def _demo_cases(container: Container) -> dict[str, str]:
    """The demo cases (key -> case id), sent as the case system would; agents dial them with ``case_id``."""
    svc = container.cases
    out = {}
    for key, client, external_id, agent, numbers in DEMO_CASES:
        contacts = [{"number": n, "kind": k} for n, k in zip(numbers, ("mobile", "home", "work"), strict=False)]
        data = CaseIn.model_validate({
            "external_id": external_id, "batch": "demo-batch", "debtor_name": "Demo Debtor", "amount": "8800.00",
            "currency": "CNY", "days_overdue": 92, "contacts": contacts, "agent": agent, "team": "team-a"},
            context={"default_region": "CN"})
        result = await svc.upsert(OPERATOR, client_id=client, data=data)
        out[key] = result.case_id
    return out


DEMO_CAMPAIGN = "demo-progressive"


async def _demo_campaign(container: Container) -> str:
    """A draft progressive campaign over agent1's demo-bank cases, agent1 joined (reused on the next run):
    starting it is one call, ``POST /v1/campaigns/{id}/start``."""
    svc = container.campaigns
    existing = [c for c in await svc.campaigns(OPERATOR) if c.name == DEMO_CAMPAIGN and c.state != "stopped"]
    if existing:
        return existing[0].id
    campaign = await svc.create(OPERATOR, client_id=DEMO_CLIENT, name=DEMO_CAMPAIGN, mode="progressive",
                                agent="agent1")
    await svc.join(OPERATOR, campaign.id, "agent1")
    return campaign.id


async def main() -> None:
    """Run the stack until interrupted."""
    sip_passwords = {sip: secrets.token_urlsafe(12) for _, _, sip, _, _ in DEMO_USERS if sip}
    probe_password = secrets.token_urlsafe(12)  # the recording probe's own SIP account
    http_port = _port(8080)
    ami_secret = secrets.token_urlsafe(16)
    async with AsyncExitStack() as stack:
        pbx = await stack.enter_async_context(PbxSandbox(
            ami_port=free_port(), sip_port=_port(5060, socket.SOCK_DGRAM), customer_trunk_port=free_tcp_udp_port(),
            agents=[AgentAccount(sip, pw) for sip, pw in sip_passwords.items()],
            probe_accounts=[AgentAccount(PROBE_SIP_USER, probe_password)], ami_secret=ami_secret,
        ))
        phones = PhonesConfig(
            pbx_host=pbx.sip_host, pbx_port=pbx.sip_port, customer_port=pbx.settings.customer_trunk_port,
            agents=[AgentPhone(sip, sip_passwords[sip], behaviour="answer", answer_delay=2.0)
                    for _, _, sip, behaviour, _ in DEMO_USERS if sip and behaviour],
        )
        await stack.enter_async_context(PhonesProcess(phones))
        settings = load_settings(
            None,
            server={"host": "127.0.0.1", "port": http_port},
            database={"url": f"sqlite+aiosqlite:///{RUN_DIR / 'callguard.db'}"},
            pbx=[{"name": "local", "ami_host": pbx.ami_host, "ami_port": pbx.ami_port, "ami_user": pbx.ami_user,
                  "ami_secret": pbx.ami_secret}],
            recordings={"spool_dir": str(pbx.spool_dir), "probe_interval_s": 3600,
                        "probe_sip_user": PROBE_SIP_USER, "probe_sip_password": probe_password,
                        "probe_sip_host": pbx.sip_host, "probe_sip_port": pbx.sip_port},
            storage={"backend": "local", "local_root": str(RUN_DIR / "recordings")},
            compliance={"default_profile": "DEMO"},  # a supervisor's manual dials: all hours, local demo only
        )
        container = await stack.enter_async_context(compose(settings))
        users = await _seed(container, sip_passwords)
        cases = await _demo_cases(container)
        campaign_id = await _demo_campaign(container)
        runner = web.AppRunner(make_app(container), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, "127.0.0.1", http_port).start()
        url = f"http://127.0.0.1:{http_port}"
        demo = {
            "url": url,
            "sip": {"host": pbx.sip_host, "port": pbx.sip_port, "transport": "udp"},
            "users": users,
            "numbers": {
                "answers": EXAMPLE_NUMBERS["answer"][0],
                "busy": EXAMPLE_NUMBERS["busy"][0],
                "no_answer": EXAMPLE_NUMBERS["no_answer"][0],
                "unreachable": EXAMPLE_NUMBERS["unavailable"][0],
                "blocked_do_not_call": BLOCKED_NUMBER,
            },
            "cases": {
                key: {"case_id": cases[key], "client": client, "external_id": external_id, "agent": agent,
                      "numbers": list(numbers), "number": numbers[0], "presented_number": PRESENTED_NUMBERS.get(client),
                      "policy": _POLICY_NOTES[client]}
                for key, client, external_id, agent, numbers in DEMO_CASES
            },
            "campaign": {"id": campaign_id, "name": DEMO_CAMPAIGN, "mode": "progressive", "agent": "agent1",
                         "start": f"POST /v1/campaigns/{campaign_id}/start",
                         "note": "agent1's demo-bank cases, dialled one after the other while agent1 is available"},
            "manual_dial": {"number": EXAMPLE_NUMBERS["not_found"][0],
                            "note": "on no case: a supervisor's manual dial (an agent gets 403)"},
        }
        await asyncio.to_thread((RUN_DIR / "demo.json").write_text, json.dumps(demo, indent=2, ensure_ascii=False))
        _print(demo)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        print("\nstopping...", file=sys.stderr)
        await _drain(pbx)


async def _drain(pbx: PbxSandbox, within: float = 20.0) -> None:
    """Stop Asterisk first (calls in progress end and their recordings are closed), then let the
    still-running service ingest every finished recording before the sandbox's spool is removed."""
    await pbx.stop()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    markers: list[Path] = []
    while loop.time() < deadline:
        markers = await asyncio.to_thread(lambda: list(pbx.spool_dir.glob("*.done")))
        if not markers:
            return
        await asyncio.sleep(0.5)
    print(f"warning: {len(markers)} recording(s) still in the spool at exit", file=sys.stderr)


_POLICY_NOTES = {DEMO_CLIENT: "DEMO (all hours, local demo only)",
                 STRICT_CLIENT: "CN (08:00-21:00 Asia/Shanghai): blocked outside those hours"}


def _sip(user: dict[str, Any]) -> str:
    if "sip_user" not in user:
        return ""
    own = "" if user["simulated_phone"] else "  <- register your own softphone"
    return f"  sip {user['sip_user']}/{user['sip_password']}{own}"


def _print(demo: dict[str, Any]) -> None:
    agent = next(u for u in demo["users"] if u["name"] == "agent1")
    sup = next(u for u in demo["users"] if u["role"] == "supervisor")
    lines = [
        "", f"Callguard is running at {demo['url']}  (also written to .run/demo.json)", "",
        f"Console: {demo['url']}/  (sign in with a name and password below)",
        "Demo users (clients, console password, bearer token):",
        *(f"  {u['name']:<10} {u['role']:<11} {','.join(u['clients']) or '(every client)':<18} "
          f"{u.get('password', '-'):<13} {u['token']}{_sip(u)}"
          for u in demo["users"]),
        "", f"SIP registrar: udp {demo['sip']['host']}:{demo['sip']['port']}",
        "Customer numbers: " + ", ".join(f"{k} {v}" for k, v in demo["numbers"].items()),
        *(f"Case {c['case_id']} ({c['client']}, {c['agent']}, {', '.join(c['numbers'])}, shows "
          f"{c['presented_number'] or 'the PBX default'}): {c['policy']}"
          for c in demo["cases"].values()),
        "",
        "Try it (agent1 dials the case of the answering number):",
        f"  curl -N -H 'Authorization: Bearer {sup['token']}' {demo['url']}/v1/events &",
        f"  curl -s -X POST -H 'Authorization: Bearer {agent['token']}' -H 'Content-Type: application/json' "
        f"-d '{{\"agent\": \"agent1\", \"number\": \"{demo['numbers']['answers']}\", "
        f"\"case_id\": \"{demo['cases']['any_hour']['case_id']}\"}}' {demo['url']}/v1/calls",
        "A progressive campaign over agent1's demo-bank cases (agent1 joined; it dials while agent1 is available):",
        f"  curl -s -X POST -H 'Authorization: Bearer {sup['token']}' "
        f"{demo['url']}/v1/campaigns/{demo['campaign']['id']}/start",
        "Walls: manager1, qa1 and casesys serve demo-bank only, manager-cn, qa-cn and casesys-cn cn-bank only;",
        "each gets 404 for the other bank's cases, calls and recordings, exactly as for missing ones.",
        "Press Ctrl-C to stop everything.", "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    RUN_DIR.mkdir(exist_ok=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
