"""Asterisk boots from the cached rootfs, AMI works, SIP digest auth is enforced."""

from __future__ import annotations

import asyncio

import pytest

from sandbox.ami_check import format_action, read_message
from sandbox.amitap import AmiTap
from sandbox.pbx import PbxSandbox
from sip.client import PhonesProcess
from sip.config import AgentPhone, PhonesConfig
from tests.integration.conftest import AGENTS

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]


async def test_ami_login_and_core_status(ami: AmiTap) -> None:
    response = await ami.action("CoreStatus")
    assert response["Response"] == "Success"
    assert int(response["CoreCurrentCalls"]) >= 0


async def test_ami_login_with_wrong_secret_is_refused(pbx: PbxSandbox) -> None:
    reader, writer = await asyncio.open_connection(pbx.ami_host, pbx.ami_port)
    try:
        await reader.readline()
        writer.write(format_action("Login", Username=pbx.ami_user, Secret="wrong", ActionID="x"))
        await writer.drain()
        response = await asyncio.wait_for(read_message(reader), 5)
        assert response["Response"] == "Error"
    finally:
        writer.close()


async def test_required_modules_are_loaded(ami: AmiTap) -> None:
    modules = ("res_pjsip_authenticator_digest.so", "app_mixmonitor.so", "cdr_manager.so", "chan_pjsip.so",
               "res_manager_devicestate.so")
    for module in modules:
        response = await ami.action("ModuleCheck", Module=module)
        assert response["Response"] == "Success", (module, response)


async def test_agents_registered_except_offline(phones: PhonesProcess, ami: AmiTap) -> None:
    contacts = await ami.collect_list("PJSIPShowContacts", "ContactListComplete")
    registered = {c.get("Endpoint") for c in contacts if c.get("Status") == "Reachable"}
    expected_online = {user for user, behaviour in AGENTS.items() if behaviour != "offline"}
    assert expected_online <= registered
    assert "1004" not in registered


async def test_register_with_wrong_password_is_refused(pbx: PbxSandbox, ami: AmiTap) -> None:
    config = PhonesConfig(
        pbx_host=pbx.sip_host, pbx_port=pbx.sip_port, customer_port=0,
        agents=[AgentPhone(sip_user="1004", password="not-the-password", behaviour="offline")],
    )
    async with PhonesProcess(config) as intruder:
        await intruder.send({"cmd": "set_behaviour", "phone": "1004", "behaviour": "answer"})
        failed = await intruder.wait_for("registration_failed", user="1004", timeout=10)
        assert failed["code"] in (401, 403)
        assert intruder.find("registered", user="1004") is None
    contacts = await ami.collect_list("PJSIPShowContacts", "ContactListComplete")
    assert "1004" not in {c.get("Endpoint") for c in contacts}
