"""Template renderer: placeholders substituted, Asterisk syntax untouched, mistakes are errors."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from dialer.translate import AMI_EVENTS
from sandbox.pbx import TEMPLATES_DIR, PbxSettings, sandbox_manager_conf, sandbox_pjsip_conf, template_values
from sandbox.render import (
    TemplateError,
    agents_pjsip_conf,
    existing_pbx_dialplan,
    main,
    manager_tls_conf,
    parse_agents,
    pjsip_tls_conf,
    placeholders,
    render,
    render_dir,
)


def test_substitutes_and_leaves_asterisk_variables_alone() -> None:
    text = "exten => _X.,1,Dial(PJSIP/${EXTEN}@customers,@@TIMEOUT@@)\n"
    assert render(text, {"TIMEOUT": 30}) == "exten => _X.,1,Dial(PJSIP/${EXTEN}@customers,30)\n"


def test_missing_placeholder_is_an_error() -> None:
    with pytest.raises(TemplateError, match="AMI_PORT"):
        render("port = @@AMI_PORT@@", {})


def test_unknown_value_is_an_error() -> None:
    with pytest.raises(TemplateError, match="TYPO"):
        render("port = @@AMI_PORT@@", {"AMI_PORT": 1, "TYPO": 2})


def test_newline_in_value_is_rejected() -> None:
    with pytest.raises(TemplateError, match="newline"):
        render("secret = @@SECRET@@", {"SECRET": "a\n[evil]"})


def test_render_dir_strips_suffix_and_rejects_unused_values(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.conf.tmpl").write_text("x=@@X@@ ${Y}")
    written = render_dir(src, tmp_path / "out", {"X": 1})
    assert [p.name for p in written] == ["a.conf"]
    assert (tmp_path / "out" / "a.conf").read_text() == "x=1 ${Y}"
    with pytest.raises(TemplateError, match="NOPE"):
        render_dir(src, tmp_path / "out2", {"X": 1, "NOPE": 2})


def test_real_templates_render_with_the_runner_values(tmp_path: Path) -> None:
    settings = PbxSettings(ami_port=5038, sip_port=5060, customer_trunk_port=5070, agents=())
    render_dir(TEMPLATES_DIR, tmp_path, template_values(settings, "/run/callguard/x"))
    extensions = (tmp_path / "extensions.conf").read_text()
    assert "Dial(PJSIP/${EXTEN}@customers,30," in extensions
    assert "@@" not in "".join(p.read_text() for p in tmp_path.iterdir())
    assert "bind = 127.0.0.1:5060" in (tmp_path / "pjsip.conf").read_text()


def test_every_template_placeholder_has_a_runner_value() -> None:
    settings = PbxSettings(ami_port=1, sip_port=2, customer_trunk_port=3, agents=())
    used = set().union(*(placeholders(p.read_text()) for p in TEMPLATES_DIR.glob("*.tmpl")))
    assert used == set(template_values(settings, "/x"))


def test_agent_blocks() -> None:
    text = agents_pjsip_conf([("1001", "pw1"), ("1002", "pw2")])
    assert "[1001](agent-endpoint)" in text and "[1002-auth](agent-auth)" in text
    assert "password = pw2" in text
    with pytest.raises(TemplateError):
        agents_pjsip_conf([("10 01", "pw")])
    with pytest.raises(TemplateError):
        agents_pjsip_conf([("1001", "pw;x")])
    with pytest.raises(TemplateError):
        agents_pjsip_conf([("1001", "a"), ("1001", "b")])


def test_probe_accounts_get_the_probe_endpoint_and_agents_cannot_share_their_names() -> None:
    text = agents_pjsip_conf([("1001", "pw1")], [("1099", "pw9")])
    assert "[1001](agent-endpoint)" in text and "[1099](probe-endpoint)" in text
    assert "[1099](agent-endpoint)" not in text and "username = 1099" in text
    with pytest.raises(TemplateError, match="duplicate"):
        agents_pjsip_conf([("1099", "pw1")], [("1099", "pw9")])


def _rendered(tmp_path: Path) -> dict[str, str]:
    settings = PbxSettings(ami_port=5038, sip_port=5060, customer_trunk_port=5070, agents=())
    render_dir(TEMPLATES_DIR, tmp_path, template_values(settings, "/run/callguard/x"))
    return {p.name: p.read_text() for p in tmp_path.iterdir()}


def _section(text: str, header: str) -> str:
    """The lines (comments left out) of the section that starts with the line ``header``."""
    body = text.split(f"\n{header}\n", 1)[1].split("\n[", 1)[0]
    return "\n".join(line for line in body.splitlines() if not line.startswith(";")) + "\n"


def test_agents_dial_nothing_and_only_the_probe_context_reaches_probe(tmp_path: Path) -> None:
    conf = _rendered(tmp_path)
    pjsip, extensions = conf["pjsip.conf"], conf["extensions.conf"]
    assert "context = callguard-agents" in _section(pjsip, "[agent-endpoint](!)")
    assert "context = callguard-probe" in _section(pjsip, "[probe-endpoint](!,agent-endpoint)")
    agents = _section(extensions, "[callguard-agents]")
    assert "Hangup(21)" in agents and "probe" not in agents and "MixMonitor" not in agents and "Gosub" not in agents
    probe = _section(extensions, "[callguard-probe]")
    # the header is checked (REGEX) before it becomes CALL_ID, and CALL_ID before the call is answered
    assert probe.index("REGEX") < probe.index("Set(__CALL_ID") < probe.index("callguard-check-id") < probe.index(
        "Answer()")
    record = _section(extensions, "[callguard-record]")
    assert record.index("Gosub(callguard-check-id") < record.index("MixMonitor(")
    assert "${CALL_ID}" not in record  # only the checked, filtered REC_ID reaches file names and the shell


def test_only_barge_records_the_supervisor_under_a_name_made_of_checked_uuids(tmp_path: Path) -> None:
    extensions = _rendered(tmp_path)["extensions.conf"]
    monitor = _section(extensions, "[callguard-monitor]")
    modes = {m: monitor.split(f"exten => {m},", 1)[1].split("exten =>", 1)[0] for m in ("listen", "whisper", "barge")}
    for mode in ("listen", "whisper"):  # a barge stint ends before anything else runs; nothing starts one
        block = modes[mode]
        assert block.index("callguard-monitor-unrecord") < block.index("callguard-monitor-target") < block.index(
            "ChanSpy(")
        assert "callguard-monitor-record," not in block and "MixMonitor" not in block
    barge = modes["barge"]
    assert barge.index("callguard-monitor-target") < barge.index("callguard-monitor-record") < barge.index("ChanSpy(")
    record = _section(extensions, "[callguard-monitor-record]")
    assert record.index('REGEX("^monitor-[0-9a-f]{8}-') < record.index("Set(MON_SID=") < record.index("MixMonitor(")
    stem = next(line for line in record.splitlines() if "Set(MON_STEM=" in line)
    assert re.findall(r"\$\{(?!FILTER)[A-Z_]+", stem) == ["${MONITOR_CALL_ID", "${MON_SID", "${MON_REC_N"]
    assert stem.count("${FILTER(0-9a-f-,") == 2 and stem.count("${FILTER(0-9,") == 1
    mix = next(line for line in record.splitlines() if "MixMonitor(" in line)
    assert set(re.findall(r"\$\{([A-Z_]+)\}", mix)) == {"RECDIR", "MON_STEM", "RECFMT"}
    assert "MixMonitor(," in mix  # no mixed file: only what the supervisor says (r)


def test_the_service_ami_account_has_only_what_the_service_uses(tmp_path: Path) -> None:
    manager = _rendered(tmp_path)["manager.conf"]
    account = _section(manager, "[callguard]")
    assert "\nread = call,user\n" in account and "\nwrite = call,originate,reporting\n" in account
    assert "permit = 127.0.0.1/255.255.255.255" in account and "deny = 0.0.0.0/0.0.0.0" in account
    assert "command" not in account and "system" not in account
    assert "#tryinclude manager_sandbox.conf" in manager
    tools = sandbox_manager_conf("sandbox-tools", "s3cret")
    assert "[sandbox-tools]" in tools and "permit = 127.0.0.1/255.255.255.255" in tools
    assert "command" not in tools


def test_parse_agents() -> None:
    assert parse_agents("1001:a, 1002:b:c,") == [("1001", "a"), ("1002", "b:c")]
    with pytest.raises(TemplateError):
        parse_agents("1001")


def test_cli_renders_from_environment_like_the_docker_entrypoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    settings = PbxSettings(ami_port=1, sip_port=2, customer_trunk_port=3, agents=())
    for name, value in template_values(settings, "/var/lib/callguard").items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("AGENTS", "1001:pw1")
    monkeypatch.setenv("PROBE_ACCOUNTS", "1099:pw9")
    assert main([str(TEMPLATES_DIR), str(tmp_path)]) == 0
    accounts = (tmp_path / "pjsip_agents.conf").read_text()
    assert "[1001](agent-endpoint)" in accounts and "[1099](probe-endpoint)" in accounts
    monkeypatch.delenv("AMI_SECRET")
    assert main([str(TEMPLATES_DIR), str(tmp_path / "again")]) == 1  # missing value -> error exit


def test_the_customer_sees_only_the_filtered_presented_number_or_the_pbx_default(tmp_path: Path) -> None:
    extensions = _rendered(tmp_path)["extensions.conf"]
    present = _section(extensions, "[callguard-present]")
    # OUTBOUND_CLI, else DEFAULT_CLI, each filtered to "+" and digits; neither: presentation prohibited
    assert "FILTER(+0123456789,${OUTBOUND_CLI})" in present and "FILTER(+0123456789,${DEFAULT_CLI})" in present
    assert present.index("${OUTBOUND_CLI}") < present.index("${DEFAULT_CLI}") < present.index("CALLERID(pres)=prohib")
    assert "CALLERID(all)=<${CLI}>)" in present and "CALLERID(all)=)" in present  # never the agent leg's own id
    outbound = _section(extensions, "[callguard-outbound]")
    assert outbound.count("Gosub(callguard-present,s,1)") == 2
    assert outbound.index("callguard-present") < outbound.index("Dial(")
    assert "OUTBOUND_CLI" not in outbound.replace("; OUTBOUND_CLI", "")


def test_default_cli_is_digits_with_an_optional_plus() -> None:
    ok = PbxSettings(ami_port=1, sip_port=2, customer_trunk_port=3, agents=(), default_cli="+862161234567")
    assert template_values(ok, "/x")["DEFAULT_CLI"] == "+862161234567"
    for bad in ("+86 21", "123,OTHER=1", "abc", "+" + "1" * 21):
        with pytest.raises(ValueError, match="default_cli"):
            template_values(dataclasses.replace(ok, default_cli=bad), "/x")


def test_the_sandbox_customer_line_calls_in_as_the_customers_trunk_after_agents(tmp_path: Path) -> None:
    pjsip = _rendered(tmp_path)["pjsip.conf"]
    assert "endpoint_identifier_order = username,ip\n" in pjsip  # agents and the probe by name first
    assert "#tryinclude pjsip_sandbox.conf" in pjsip
    assert "send_pai = yes" in _section(pjsip, "[customers]")
    identify = sandbox_pjsip_conf("127.0.0.1")
    assert "type = identify" in identify and "endpoint = customers" in identify and "match = 127.0.0.1" in identify
    assert "context = callguard-inbound\n" in _section(pjsip, "[customers]")


def test_the_inbound_dial_plan_filters_what_the_caller_sends_and_checks_the_service_s_route(tmp_path: Path) -> None:
    extensions = _rendered(tmp_path)["extensions.conf"]
    inbound = _section(extensions, "[callguard-inbound]")
    # the caller's number and the dialled one are filtered before the UserEvent (or anything else) uses them
    assert inbound.index("FILTER(+0123456789,${CALLERID(num)})") < inbound.index("UserEvent(CallguardInbound")
    assert "FILTER(+0123456789,${EXTEN})" in inbound and "${CALLERID(num)}" not in inbound.replace(
        "FILTER(+0123456789,${CALLERID(num)})", "")
    assert "PJSIP_HEADER" not in inbound  # no SIP header is read at all
    # the route is filtered, then checked, and only then cut into a call id and an agent
    assert inbound.index("FILTER(0-9a-zA-Z-:_.,${CALLGUARD_ROUTE})") < inbound.index('REGEX("${ROUTE_RE}" ${ROUTE})') \
        < inbound.index("Set(__CALL_ID=${CUT(ROUTE,:,1)})") < inbound.index("Dial(PJSIP/${IN_AGENT}")
    assert inbound.count("${CALLGUARD_ROUTE}") == 2  # EXISTS() and FILTER(): never in an expression
    answered = _section(extensions, "[callguard-inbound-answered]")
    assert "Gosub(callguard-record,s,1)" in answered  # checked call id, recorded like outbound calls
    assert "[callguard-no-inbound]" not in extensions


def test_ami_tls_listener_is_generated_only_when_asked_and_refuses_injection(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    conf = manager_tls_conf("0.0.0.0", 5039, "/etc/asterisk/keys/ami.crt", "/etc/asterisk/keys/ami.key")
    assert conf.splitlines()[1:] == ["tlsenable = yes", "tlsbindaddr = 0.0.0.0:5039",
                                     "tlscertfile = /etc/asterisk/keys/ami.crt",
                                     "tlsprivatekey = /etc/asterisk/keys/ami.key"]
    for bad in ("/k.crt\n[evil]", "/k.crt;x", ""):
        with pytest.raises(TemplateError):
            manager_tls_conf("0.0.0.0", 5039, bad, "/k.key")
    with pytest.raises(TemplateError, match="port"):
        manager_tls_conf("0.0.0.0", "5039x", "/k.crt", "/k.key")
    # the entrypoint's renderer: the listener file from AMI_TLS_*, and none without them
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "manager.conf.tmpl").write_text("[general]\nport = @@AMI_PORT@@\n#tryinclude manager_tls.conf\n")
    monkeypatch.setenv("AMI_PORT", "5038")
    monkeypatch.setenv("AMI_TLS_PORT", "5039")
    monkeypatch.setenv("AMI_TLS_CERT", "/keys/ami.crt")
    monkeypatch.setenv("AMI_TLS_KEY", "/keys/ami.key")
    assert main([str(src), str(dst)]) == 0
    assert "tlsbindaddr = 0.0.0.0:5039" in (dst / "manager_tls.conf").read_text()
    monkeypatch.delenv("AMI_TLS_PORT")
    assert main([str(src), str(dst)]) == 0
    assert not (dst / "manager_tls.conf").exists()
    monkeypatch.setenv("AMI_TLS_PORT", "5039")
    monkeypatch.delenv("AMI_TLS_KEY")
    assert main([str(src), str(dst)]) == 1  # a listener without its key stops the container's start


def test_sip_tls_and_srtp_are_off_by_default_and_only_for_agents_when_asked(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    plain = agents_pjsip_conf([("1001", "pw1")], [("1099", "pw9")])
    assert "transport-tls" not in plain and "media_encryption" not in plain
    secure = agents_pjsip_conf([("1001", "pw1")], [("1099", "pw9")], tls=True, srtp=True)
    agent, probe = secure.split("[1099](probe-endpoint)")
    assert "transport = transport-tls" in agent and "media_encryption = sdes" in agent
    assert "transport-tls" not in probe and "media_encryption" not in probe  # the probe (pjsua2) stays on UDP
    conf = pjsip_tls_conf("0.0.0.0", 5061, "/keys/sip.crt", "/keys/sip.key")
    assert conf.splitlines()[1:] == ["[transport-tls]", "type = transport", "protocol = tls", "bind = 0.0.0.0:5061",
                                     "cert_file = /keys/sip.crt", "priv_key_file = /keys/sip.key",
                                     "method = tlsv1_2"]
    for bad in ("/k.crt\n[evil]", "/k.crt;x", ""):
        with pytest.raises(TemplateError):
            pjsip_tls_conf("0.0.0.0", 5061, bad, "/k.key")
    with pytest.raises(TemplateError, match="port"):
        pjsip_tls_conf("0.0.0.0", "0", "/k.crt", "/k.key")
    assert "#tryinclude pjsip_tls.conf" in (TEMPLATES_DIR / "pjsip.conf.tmpl").read_text()
    assert "load => res_srtp.so" in (TEMPLATES_DIR / "modules.conf.tmpl").read_text()
    # the entrypoint's renderer: the transport file and the agents' lines from SIP_TLS_* and SIP_SRTP
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "pjsip.conf.tmpl").write_text("[t]\nbind = @@SIP_PORT@@\n#tryinclude pjsip_tls.conf\n")
    monkeypatch.setenv("SIP_PORT", "5060")
    monkeypatch.setenv("AGENTS", "1001:pw1")
    assert main([str(src), str(dst)]) == 0
    assert not (dst / "pjsip_tls.conf").exists() and "transport-tls" not in (dst / "pjsip_agents.conf").read_text()
    monkeypatch.setenv("SIP_TLS_PORT", "5061")
    monkeypatch.setenv("SIP_TLS_CERT", "/keys/sip.crt")
    monkeypatch.setenv("SIP_TLS_KEY", "/keys/sip.key")
    monkeypatch.setenv("SIP_SRTP", "yes")
    assert main([str(src), str(dst)]) == 0
    assert "bind = 0.0.0.0:5061" in (dst / "pjsip_tls.conf").read_text()
    assert "media_encryption = sdes" in (dst / "pjsip_agents.conf").read_text()
    monkeypatch.setenv("SIP_SRTP", "maybe")
    assert main([str(src), str(dst)]) == 1
    monkeypatch.setenv("SIP_SRTP", "no")
    monkeypatch.delenv("SIP_TLS_KEY")
    assert main([str(src), str(dst)]) == 1  # a transport without its key stops the container's start


def test_existing_pbx_dialplan_keeps_the_pbx_general_and_separates_the_globals(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    template = (TEMPLATES_DIR / "extensions.conf.tmpl").read_text()
    values = template_values(PbxSettings(ami_port=1, sip_port=2, customer_trunk_port=3, agents=()), "/i")
    globals_, contexts = existing_pbx_dialplan(template, values)
    assert "[general]" not in globals_ + contexts and "[globals]" not in globals_ + contexts
    assert "RECDIR = /i/recordings" in globals_ and "RECDIR" not in contexts.split("[callguard-check-id]")[0]
    assert "[callguard-outbound]" in contexts and "[callguard-await-go]" in contexts
    assert "@@" not in globals_ + contexts
    for name in placeholders(template):
        monkeypatch.setenv(name, str(values[name]))
    assert main(["--existing-pbx-dialplan", str(TEMPLATES_DIR / "extensions.conf.tmpl"), str(tmp_path)]) == 0
    assert (tmp_path / "extensions_callguard.conf").read_text() == contexts
    assert (tmp_path / "extensions_callguard_globals.conf").read_text() == globals_


def test_the_service_account_receives_exactly_the_events_the_service_listens_to() -> None:
    text = (TEMPLATES_DIR / "manager.conf.tmpl").read_text(encoding="utf-8")
    account = text.split("[@@AMI_USER@@]", 1)[1].split("\n[", 1)[0]
    included = set(re.findall(r"^eventfilter\(action\(include\),name\(([A-Za-z]+)\)\) =$", account, re.M))
    assert included == AMI_EVENTS
    assert not re.findall(r"^eventfilter\s*=", account, re.M)  # no regex filter beside them (a whole-event scan)
