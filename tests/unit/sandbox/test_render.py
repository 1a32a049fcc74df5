"""Template renderer: placeholders substituted, Asterisk syntax untouched, mistakes are errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.pbx import TEMPLATES_DIR, PbxSettings, template_values
from sandbox.render import TemplateError, agents_pjsip_conf, parse_agents, placeholders, render, render_dir


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


def test_parse_agents() -> None:
    assert parse_agents("1001:a, 1002:b:c,") == [("1001", "a"), ("1002", "b:c")]
    with pytest.raises(TemplateError):
        parse_agents("1001")


def test_cli_renders_from_environment_like_the_docker_entrypoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.render import main

    settings = PbxSettings(ami_port=1, sip_port=2, customer_trunk_port=3, agents=())
    for name, value in template_values(settings, "/var/lib/callguard").items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("AGENTS", "1001:pw1")
    assert main([str(TEMPLATES_DIR), str(tmp_path)]) == 0
    assert "username = 1001" in (tmp_path / "pjsip_agents.conf").read_text()
    monkeypatch.delenv("AMI_SECRET")
    assert main([str(TEMPLATES_DIR), str(tmp_path / "again")]) == 1  # missing value -> error exit
