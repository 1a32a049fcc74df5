"""JSON-lines protocol of the phones process and SIP text helpers."""

from __future__ import annotations

import pytest

from sip.config import AgentPhone, PhonesConfig
from sip.protocol import (
    ProtocolError,
    caller_numbers,
    decode,
    decode_command,
    encode,
    event,
    matches,
    parse_sip_request,
    uri_user_host_port,
)


def test_encode_decode_round_trip() -> None:
    line = encode(event("registered", user="1001", code=200))
    assert line.endswith("\n") and line.count("\n") == 1
    assert decode(line) == {"event": "registered", "user": "1001", "code": 200}


@pytest.mark.parametrize("line", ["not json", "[1, 2]", '"x"'])
def test_decode_rejects_non_objects(line: str) -> None:
    with pytest.raises(ProtocolError):
        decode(line)


def test_commands_validated() -> None:
    assert decode_command('{"cmd":"hangup","phone":"1001"}')["phone"] == "1001"
    with pytest.raises(ProtocolError, match="unknown command"):
        decode_command('{"cmd":"explode"}')
    with pytest.raises(ProtocolError, match="uri"):
        decode_command('{"cmd":"call","phone":"1001"}')
    with pytest.raises(ProtocolError, match="headers"):
        decode_command('{"cmd":"call","phone":"1001","uri":"sip:probe@x","headers":{"a":1}}')


def test_unknown_event_name_rejected() -> None:
    with pytest.raises(ProtocolError):
        event("exploded")


def test_matches() -> None:
    assert matches({"event": "ended", "phone": "1001", "code": 200}, {"phone": "1001"})
    assert not matches({"event": "ended"}, {"phone": "1001"})


def test_parse_sip_request_and_uri() -> None:
    raw = ("INVITE sip:+8613800000001@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1\r\n"
           "X-Callguard-Call-Id: abc\r\nFrom: <sip:1001@127.0.0.1>;tag=1\r\n\r\nv=0\r\n")
    method, uri, headers = parse_sip_request(raw)
    assert (method, uri) == ("INVITE", "sip:+8613800000001@127.0.0.1:5070")
    assert headers["x-callguard-call-id"] == "abc"
    assert uri_user_host_port(uri) == ("+8613800000001", "127.0.0.1", 5070)
    assert uri_user_host_port('"A" <sip:1001@127.0.0.1;ob>') == ("1001", "127.0.0.1", None)


def test_config_round_trip_and_behaviour_update() -> None:
    config = PhonesConfig(pbx_host="127.0.0.1", pbx_port=5060, customer_port=5070,
                          agents=[AgentPhone("1001", "pw", behaviour="never")])
    again = PhonesConfig.from_dict(decode(config.to_json().replace("\n", "")))
    assert again == config
    agent = again.agents[0]
    agent.update({"behaviour": "reject", "reject_code": 603})
    assert (agent.behaviour, agent.reject_code) == ("reject", 603)
    with pytest.raises(ValueError):
        agent.update({"behaviour": "explode"})


def test_caller_numbers_prefer_the_asserted_identity() -> None:
    both = {"from": '"Bank" <sip:+862161234567@pbx>;tag=1', "p-asserted-identity": "<sip:+862160000000@pbx>"}
    assert caller_numbers(both) == {"caller": "+862160000000", "from_number": "+862161234567",
                                    "pai_number": "+862160000000"}
    withheld = {"from": '"Anonymous" <sip:anonymous@anonymous.invalid>;tag=2'}
    assert caller_numbers(withheld) == {"caller": "anonymous", "from_number": "anonymous", "pai_number": None}
    assert caller_numbers({}) == {"caller": None, "from_number": None, "pai_number": None}


@pytest.mark.parametrize("line", [
    '{"cmd": "call", "phone": "customer", "uri": "sip:1@h", "caller": "+86 21"}',
    '{"cmd": "call", "phone": "customer", "uri": "sip:1@h", "caller": "1@evil>"}',
    '{"cmd": "dtmf", "phone": "1001"}',
    '{"cmd": "dtmf", "phone": "1001", "digits": "12\\r\\nX"}',
    '{"cmd": "dtmf", "phone": "1001", "digits": ""}',
    '{"cmd": "tone", "phone": "1001", "hz": "600"}',
    '{"cmd": "tone", "phone": "1001", "hz": 9000}',
    '{"cmd": "tone", "phone": "1001", "hz": true}',
])
def test_in_call_commands_and_the_caller_number_are_checked(line: str) -> None:
    with pytest.raises(ProtocolError):
        decode_command(line)


def test_in_call_commands_accepted() -> None:
    assert decode_command('{"cmd": "dtmf", "phone": "customer", "digits": "12*#A"}')["digits"] == "12*#A"
    assert decode_command('{"cmd": "tone", "phone": "1001", "hz": 0}')["hz"] == 0
    call = decode_command('{"cmd": "call", "phone": "customer", "uri": "sip:+1@h", "caller": "+8613900000001"}')
    assert call["caller"] == "+8613900000001"
