"""Phone registrations from AMI: DeviceStateChange (live and as DeviceStateList items) to DeviceUpdate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dialer.ami import AmiParser
from dialer.translate import DeviceUpdate, device_snapshot, translate, translate_device

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)

# as Asterisk 22 sent them to the service's AMI account (read = call), res_manager_devicestate loaded
LIVE = (b"Event: DeviceStateChange\r\nPrivilege: call,all\r\nTimestamp: 1796455418.778570\r\n"
        b"SystemName: callguard-sandbox\r\nDevice: PJSIP/1001\r\nState: NOT_INUSE\r\n\r\n")
LIST = (b"Response: Success\r\nActionID: t2\r\nEventList: start\r\nMessage: Device State Changes will follow\r\n\r\n"
        b"Event: DeviceStateChange\r\nActionID: t2\r\nDevice: PJSIP/customers\r\nState: NOT_INUSE\r\n\r\n"
        b"Event: DeviceStateChange\r\nActionID: t2\r\nDevice: PJSIP/1001\r\nState: UNAVAILABLE\r\n\r\n"
        b"Event: DeviceStateChange\r\nActionID: t2\r\nDevice: Custom:foo\r\nState: INUSE\r\n\r\n"
        b"Event: DeviceStateListComplete\r\nActionID: t2\r\nEventList: Complete\r\nListItems: 3\r\n\r\n")


def test_a_live_device_state_change_is_a_registered_phone_at_the_pbx_s_time() -> None:
    [msg] = AmiParser().feed(LIVE)
    update = translate_device(msg, T0)
    assert update == DeviceUpdate("1001", True, "NOT_INUSE", datetime.fromtimestamp(1796455418.77857, UTC))
    assert translate(msg, T0) is None  # not a call fact


@pytest.mark.parametrize(("state", "registered"), [
    ("NOT_INUSE", True), ("INUSE", True), ("RINGING", True), ("RINGINUSE", True), ("BUSY", True),
    ("ONHOLD", True), ("UNAVAILABLE", False), ("INVALID", False), ("UNKNOWN", None), ("", None),
])
def test_device_states_mean_registered_or_not(state: str, registered: bool | None) -> None:
    [msg] = AmiParser().feed(f"Event: DeviceStateChange\r\nDevice: PJSIP/2001\r\nState: {state}\r\n\r\n".encode())
    update = translate_device(msg, T0)
    assert update is not None and update.registered is registered and update.at == T0


@pytest.mark.parametrize("device", ["SIP/1001", "Custom:x", "PJSIP/", "PJSIP/a b", "PJSIP/1001/extra", ""])
def test_only_pjsip_endpoints_are_phones(device: str) -> None:
    [msg] = AmiParser().feed(f"Event: DeviceStateChange\r\nDevice: {device}\r\nState: INUSE\r\n\r\n".encode())
    assert translate_device(msg, T0) is None


def test_other_events_tell_nothing_about_phones() -> None:
    [msg] = AmiParser().feed(b"Event: Newstate\r\nChannel: PJSIP/1001-0001\r\nChannelState: 6\r\n\r\n")
    assert translate_device(msg, T0) is None


def test_a_device_state_list_gives_each_phone_once_without_the_completion() -> None:
    msgs = AmiParser().feed(LIST)
    items = [m for m in msgs if m.name == "DeviceStateChange"]
    assert device_snapshot(items, T0) == [DeviceUpdate("customers", True, "NOT_INUSE", T0),
                                          DeviceUpdate("1001", False, "UNAVAILABLE", T0)]
    complete = [m for m in msgs if m.name == "DeviceStateListComplete"]
    assert device_snapshot(complete, T0) == []
