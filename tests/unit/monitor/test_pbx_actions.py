"""What the PBX gateway sends for a monitoring leg, and what it refuses to send (nothing reaches AMI)."""

from __future__ import annotations

from typing import Any

import pytest

from config.settings import PbxSettings
from dialer.errors import InvalidMonitorTarget
from dialer.pbx import PbxGateway

CALL = "6f1c2b9e-0c1d-4e7a-9a55-3c2d1e0f9a10"
SESSION = "0f0e0d0c-0b0a-4909-8807-060504030201"


class _Ami:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[tuple[str, str]]]] = []

    async def send_action(self, name: str, fields: Any = (), **_: Any) -> None:
        self.sent.append((name, list(fields)))


def _gateway() -> tuple[PbxGateway, _Ami]:
    ami = _Ami()
    settings = PbxSettings(name="local", ami_host="127.0.0.1", ami_port=5038, ami_user="u", ami_secret="s",
                           agent_ring_timeout_s=20)
    return PbxGateway({"local": ami}, [settings]), ami  # type: ignore[dict-item]


async def test_start_change_and_end_address_the_leg_by_its_uniqueid() -> None:
    pbx, ami = _gateway()
    await pbx.originate_monitor("local", session_id=SESSION, sip_user="2001", mode="whisper", call_id=CALL,
                                agent_channel="PJSIP/1001-0000002a")
    await pbx.change_monitor_mode("local", session_id=SESSION, mode="barge")
    await pbx.end_monitor("local", session_id=SESSION)
    (n1, originate), (n2, redirect), (n3, hangup) = ami.sent
    assert (n1, n2, n3) == ("Originate", "Redirect", "Hangup")
    assert dict(originate)["ChannelId"] == f"monitor-{SESSION}" and dict(originate)["Timeout"] == "20000"
    assert [v for k, v in originate if k == "Variable"] == ["MONITOR_TARGET=PJSIP/1001-0000002a",
                                                           f"MONITOR_CALL_ID={CALL}"]
    assert redirect == [("Channel", f"monitor-{SESSION}"), ("Context", "callguard-monitor"), ("Exten", "barge"),
                        ("Priority", "1")]
    assert hangup == [("Channel", f"monitor-{SESSION}"), ("Cause", "16")]


@pytest.mark.parametrize("kwargs", [
    {"agent_channel": "PJSIP/1001-0000002a,MONITOR_CALL_ID=x"},  # a comma would add a variable
    {"agent_channel": "PJSIP/1001-0000002a\r\nAction: Hangup"},
    {"agent_channel": "PJSIP/1001"},  # an endpoint, not a channel: ChanSpy would pick any of its calls
    {"agent_channel": "Local/x@callguard-outbound-0000002a;1"},
    {"agent_channel": ""},
    {"sip_user": "2001,MONITOR_TARGET=PJSIP/9"},
    {"sip_user": "2001/../x"},
    {"mode": "spy"},
    {"mode": "listen,B"},
    {"call_id": "not-a-uuid"},
    {"session_id": "../x"},
    {"session_id": SESSION.upper()},
])
async def test_values_not_of_their_form_are_refused_and_nothing_is_sent(kwargs: dict[str, str]) -> None:
    pbx, ami = _gateway()
    args = {"session_id": SESSION, "sip_user": "2001", "mode": "listen", "call_id": CALL,
            "agent_channel": "PJSIP/1001-0000002a", **kwargs}
    with pytest.raises(InvalidMonitorTarget) as exc:
        await pbx.originate_monitor("local", **args)
    assert exc.value.code == "invalid-monitor-target" and exc.value.status == 422
    if "session_id" in kwargs or "mode" in kwargs:  # the same checks guard the Redirect and the Hangup
        with pytest.raises(InvalidMonitorTarget):
            await pbx.change_monitor_mode("local", session_id=args["session_id"], mode=args["mode"])
        if "session_id" in kwargs:
            with pytest.raises(InvalidMonitorTarget):
                await pbx.end_monitor("local", session_id=args["session_id"])
    assert ami.sent == []
