"""Pure parser tests: byte streams split everywhere, odd framing, a recorded Asterisk 22 trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialer.ami import AmiInjectionError, AmiMessage, AmiParser, encode_action

FIXTURE = Path(__file__).parent / "fixtures" / "asterisk22_call.ami"

SAMPLE = (
    "Asterisk Call Manager/9.0.0\r\n"
    "Event: Newchannel\r\nPrivilege: call,all\r\nCallerIDName: 王小明 Zoë\r\nUniqueid: 1.1\r\n"
    "AppData: a: b: c\r\nUserField: \r\n\r\n"
    "Response: Success\r\nActionID: x-1\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n"
    "Response: Follows\r\nActionID: x-2\r\nOutput: line one\r\nOutput: \r\nOutput: line: three\r\n\r\n"
).encode()


def _feed_all(chunks: list[bytes]) -> tuple[AmiParser, list[AmiMessage]]:
    parser = AmiParser()
    out: list[AmiMessage] = []
    for c in chunks:
        out.extend(parser.feed(c))
    return parser, out


def _check_sample(parser: AmiParser, msgs: list[AmiMessage]) -> None:
    assert parser.banner == "Asterisk Call Manager/9.0.0"
    assert [(m.kind, m.name) for m in msgs] == [
        ("event", "Newchannel"),
        ("response", "Success"),
        ("response", "Follows"),
    ]
    ev, resp, cmd = msgs
    assert ev.get("CallerIDName") == "王小明 Zoë"
    assert ev.get("AppData") == "a: b: c"
    assert ev.get("UserField") == ""
    assert ev.fields[-1] == ("UserField", "")
    assert resp.action_id == "x-1"
    assert resp.get("Variable") == "A=1"
    assert resp.get_all("Variable") == ["A=1", "B=2"]
    assert cmd.output == ["line one", "", "line: three"]
    assert parser.buffered == 0


def test_whole_stream() -> None:
    _check_sample(*_feed_all([SAMPLE]))


def test_split_at_every_byte_position() -> None:
    # Includes cuts inside the 3-byte CJK characters and inside every CRLF.
    for i in range(len(SAMPLE) + 1):
        _check_sample(*_feed_all([SAMPLE[:i], SAMPLE[i:]]))


def test_one_byte_at_a_time() -> None:
    _check_sample(*_feed_all([SAMPLE[i : i + 1] for i in range(len(SAMPLE))]))


def test_multibyte_char_split_is_decoded_whole() -> None:
    data = "Event: X\r\nName: 张伟\r\n\r\n".encode()
    cut = data.index("张".encode()) + 1  # inside the character
    _, msgs = _feed_all([data[:cut], data[cut:]])
    assert msgs[0].get("Name") == "张伟"


def test_invalid_utf8_is_replaced_not_dropped() -> None:
    _, msgs = _feed_all([b"Event: X\r\nName: a\xffb\r\n\r\n"])
    assert msgs[0].get("Name") == "a\ufffdb"


def test_bare_lf_and_mixed_line_endings() -> None:
    data = b"Asterisk Call Manager/2.10.0\nEvent: A\nK: 1\n\nEvent: B\r\nK: 2\r\n\r\nEvent: C\nK: 3\r\n\n"
    parser, msgs = _feed_all([data])
    assert parser.banner == "Asterisk Call Manager/2.10.0"
    assert [(m.name, m.get("K")) for m in msgs] == [("A", "1"), ("B", "2"), ("C", "3")]


def test_no_banner_and_extra_blank_lines() -> None:
    parser, msgs = _feed_all([b"\r\n\r\nEvent: A\r\n\r\n\r\n\r\nEvent: B\r\n\r\n"])
    assert parser.banner is None
    assert [m.name for m in msgs] == ["A", "B"]


def test_incomplete_message_stays_buffered() -> None:
    parser = AmiParser()
    assert parser.feed(b"Event: A\r\nK: 1\r\n") == []
    assert parser.buffered > 0
    assert [m.get("K") for m in parser.feed(b"\r\n")] == ["1"]


def test_missing_key_and_defaults() -> None:
    msg = AmiMessage.from_fields([("Event", "Hangup"), ("Cause", "16")])
    assert msg.get("Nope") is None
    assert msg.get("Nope", "d") == "d"
    assert "Cause" in msg
    assert "Caus" not in msg
    assert msg["Cause"] == "16"
    with pytest.raises(KeyError):
        msg["Nope"]
    # keys are case-sensitive by design
    assert msg.get("cause") is None


def test_value_containing_key_like_text_does_not_match() -> None:
    msg = AmiMessage.from_fields([("Event", "X"), ("AppData", "Cause: 1"), ("Cause", "16")])
    assert msg.get("Cause") == "16"


def test_chan_variables_both_formats() -> None:
    msg = AmiMessage.from_lines(
        [
            "Event: Newexten",
            "ChanVariable: CALL_ID=abc",
            "ChanVariable: EMPTY=",
            "ChanVariable(CASE_ID): 42",
            "DestChanVariable: CALL_ID=dest",
        ]
    )
    assert msg.chan_variables() == {"CALL_ID": "abc", "EMPTY": "", "CASE_ID": "42"}
    assert msg.chan_variables("Dest") == {"CALL_ID": "dest"}
    assert msg.get("ChanVariable(CALL_ID)") == "abc"
    assert msg.get("ChanVariable(CASE_ID)") == "42"
    assert msg.get("DestChanVariable(CALL_ID)") == "dest"
    assert msg.get("ChanVariable(NOPE)") is None


def test_old_style_command_body_goes_to_output() -> None:
    _, msgs = _feed_all([b"Response: Follows\r\nActionID: 9\r\nraw output line\r\n--END COMMAND--\r\n\r\n"])
    assert msgs[0].action_id == "9"
    assert msgs[0].output == ["raw output line"]
    assert msgs[0].fields == [("Response", "Follows"), ("ActionID", "9")]


def test_as_dict_groups_duplicates() -> None:
    msg = AmiMessage.from_lines(["Response: Success", "Variable: A=1", "Variable: B=2", "X: "])
    assert msg.as_dict() == {"Response": "Success", "Variable": ["A=1", "B=2"], "X": ""}


def test_recorded_asterisk22_trace_any_split() -> None:
    data = FIXTURE.read_bytes()
    _, whole = _feed_all([data])
    names = [m.name for m in whole]
    assert names == [
        "Success", "FullyBooted", "Newchannel", "VarSet", "Newexten", "TestEvent",
        "DialBegin", "DialEnd", "Hangup", "Cdr",
    ]
    call_id = "6f1c2a7e-3b9d-4c1e-9a55-0d2b8e4f7a10"
    by_name = {m.name: m for m in whole}
    assert by_name["VarSet"].get("Variable") == "__CALL_ID"
    assert by_name["VarSet"].chan_variables() == {"CALL_ID": call_id}
    dial = by_name["DialBegin"]
    assert dial.get("DestCallerIDName") == "王小明"
    assert dial.get("DestChanVariable(CALL_ID)") == call_id
    assert dial.get("AccountCode") == ""
    assert by_name["Hangup"].get("Cause-txt") == "Normal Clearing"
    assert by_name["Cdr"].fields[-1] == ("UserField", "")
    for step in (1, 7, 100, 4096):
        _, msgs = _feed_all([data[i : i + step] for i in range(0, len(data), step)])
        assert msgs == whole


@pytest.mark.parametrize("bad", ["a\rb", "a\nb", "a\0b", "\r\n"])
def test_encode_refuses_crlf_nul_everywhere(bad: str) -> None:
    with pytest.raises(AmiInjectionError):
        encode_action("Originate", [("Channel", bad)], "id-1")
    with pytest.raises(AmiInjectionError):
        encode_action("Originate", {f"K{bad}": "v"}, "id-1")
    with pytest.raises(AmiInjectionError):
        encode_action(f"Orig{bad}", [], "id-1")
    with pytest.raises(AmiInjectionError):
        encode_action("Originate", [], f"id{bad}")


@pytest.mark.parametrize("key", ["", "Chan:nel", " Channel", "ActionID", "Action"])
def test_encode_refuses_bad_keys(key: str) -> None:
    with pytest.raises(AmiInjectionError):
        encode_action("Originate", [(key, "v")], "id-1")


def test_injection_error_is_value_error() -> None:
    assert issubclass(AmiInjectionError, ValueError)


def test_encode_round_trips_through_parser() -> None:
    data = encode_action(
        "Originate",
        [("Channel", "PJSIP/agent007"), ("Variable", "__CALL_ID=abc"), ("Variable", "X=张"), ("Empty", "")],
        "pbx-1",
    )
    assert data.endswith(b"\r\n\r\n")
    (msg,) = AmiParser().feed(data)
    assert msg.fields == [
        ("Action", "Originate"),
        ("ActionID", "pbx-1"),
        ("Channel", "PJSIP/agent007"),
        ("Variable", "__CALL_ID=abc"),
        ("Variable", "X=张"),
        ("Empty", ""),
    ]
