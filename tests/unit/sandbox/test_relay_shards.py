"""Customer-trunk relay routing and the split of phones over pjsua processes (pure parts)."""

from __future__ import annotations

from sandbox.phones.relay import ROUTE_TTL_S, RelayState, summarize, top_via_address
from sandbox.phones.shards import plan_shards
from sip.config import PJSUA_MAX_ACC, PJSUA_MAX_CALLS, AgentPhone, PhonesConfig

ASTERISK = ("127.0.0.1", 5060)
W0, W1 = ("127.0.0.1", 41000), ("127.0.0.1", 41002)


def request(method: str, call_id: str) -> bytes:
    return (f"{method} sip:+8613800000001@127.0.0.1:5070 SIP/2.0\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5060;rport;branch=z9hG4bKabc\r\n"
            f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n").encode()


def response(code: int, method: str, call_id: str) -> bytes:
    return (f"SIP/2.0 {code} Whatever\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5060;rport=5061;received=127.0.0.2;branch=z9hG4bKabc\r\n"
            f"i: {call_id}\r\nCSeq: 1 {method}\r\n\r\n").encode()


def test_summarize_requests_responses_and_keepalives() -> None:
    invite = summarize(request("INVITE", "c1"))
    assert invite is not None and (invite.call_id, invite.method, invite.status) == ("c1", "INVITE", 0)
    busy = summarize(response(486, "INVITE", "c1"))  # compact Call-ID form
    assert busy is not None and (busy.call_id, busy.method, busy.status) == ("c1", "INVITE", 486)
    assert summarize(b"\r\n\r\n") is None
    assert top_via_address(response(200, "INVITE", "c1")) == ("127.0.0.2", 5061)


def test_invites_spread_to_least_loaded_and_dialog_follows() -> None:
    state = RelayState(capacity=PJSUA_MAX_CALLS)
    state.set_workers([W0, W1])
    targets = [state.route_request(summarize(request("INVITE", f"c{i}")), ASTERISK, 0.0)
               for i in range(4)]
    assert targets == [W0, W1, W0, W1]
    # CANCEL / retransmission of c1 go where its INVITE went, without counting twice
    assert state.route_request(summarize(request("CANCEL", "c1")), ASTERISK, 0.1) == W1
    assert [len(a) for a in state.active] == [2, 2]
    # the worker's response goes back to the request's source
    assert state.route_response(response(180, "INVITE", "c1"), summarize(response(180, "INVITE", "c1")), 0.2) \
        == ASTERISK
    # a refusal frees the slot; so does the process's "ended" report
    state.route_response(response(486, "INVITE", "c1"), summarize(response(486, "INVITE", "c1")), 0.3)
    state.release("c2", 0.3)
    assert [len(a) for a in state.active] == [1, 1]
    # the route stays for stray ACKs, then is pruned when a new call arrives
    assert state.route_request(summarize(request("ACK", "c1")), ASTERISK, 1.0) == W1
    state.route_request(summarize(request("INVITE", "c9")), ASTERISK, 1.0 + ROUTE_TTL_S + 1)
    assert "c1" not in state.routes and "c3" in state.routes


def test_plan_respects_pjsua_limits_and_splits_rtp_range() -> None:
    agents = [AgentPhone(f"2{i:03d}", "pw") for i in range(20)]
    config = PhonesConfig(pbx_host="127.0.0.1", pbx_port=5060, customer_port=5070, agents=agents,
                          rtp_port=40000, rtp_port_range=10000, log_file="/tmp/p.log")
    shards = plan_shards(config)
    agent_shards = [s for s in shards if not s.customer]
    customer_shards = [s for s in shards if s.customer]
    assert sorted(a for s in agent_shards for a in s.agents) == sorted(a.sip_user for a in agents)
    assert all(len(s.config.agents) <= min(PJSUA_MAX_CALLS, PJSUA_MAX_ACC - 1) for s in shards)
    assert not any(s.config.customer_line for s in agent_shards)
    # one customer call per agent fits: 5 customer-line processes x 4 calls
    assert len(customer_shards) * PJSUA_MAX_CALLS >= len(agents)
    assert all(s.config.customer_line and not s.config.agents and s.config.customer_port == 0
               for s in customer_shards)
    ranges = sorted((s.config.rtp_port, s.config.rtp_port + s.config.rtp_port_range) for s in shards)
    assert all(a[1] <= b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    assert ranges[0][0] == 40000 and ranges[-1][1] <= 50000
    assert len({s.config.log_file for s in shards}) == len(shards)
    explicit = plan_shards(PhonesConfig(pbx_host="h", pbx_port=1, customer_port=2, customer_processes=3))
    assert [s.customer for s in explicit] == [True, True, True]
