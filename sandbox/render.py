"""Tiny safe template renderer for Asterisk config templates (``@@NAME@@`` placeholders).

Asterisk's own ``${VAR}`` syntax is left untouched. Every placeholder in the template must be
given a value and every given value must be used, so a typo fails loudly instead of silently
producing a broken PBX config. Importable without heavy dependencies (used by the Docker entrypoint).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

PLACEHOLDER = re.compile(r"@@([A-Z][A-Z0-9_]*)@@")
TEMPLATE_SUFFIX = ".tmpl"


class TemplateError(ValueError):
    """A template references an unknown placeholder or a value was never used."""


def placeholders(template: str) -> set[str]:
    """Return the set of placeholder names used in ``template``."""
    return set(PLACEHOLDER.findall(template))


def render(template: str, values: Mapping[str, object], *, allow_unused: bool = False) -> str:
    """Substitute ``@@NAME@@`` placeholders; missing values (or unused ones) raise TemplateError."""
    used = placeholders(template)
    missing = sorted(used - set(values))
    if missing:
        raise TemplateError(f"no value for placeholder(s): {', '.join(missing)}")
    if not allow_unused:
        unused = sorted(set(values) - used)
        if unused:
            raise TemplateError(f"unknown placeholder(s) (not in template): {', '.join(unused)}")
    for name, value in values.items():
        text = str(value)
        if "\n" in text or "\r" in text:
            raise TemplateError(f"value for {name} contains a newline")
    return PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), template)


def render_dir(src: Path, dst: Path, values: Mapping[str, object]) -> list[Path]:
    """Render every ``*.conf.tmpl`` in ``src`` into ``dst`` (suffix stripped); return written paths.

    Each template may use any subset of ``values``; a value used by no template at all is an error.
    """
    dst.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    used_anywhere: set[str] = set()
    for tmpl in sorted(src.glob(f"*{TEMPLATE_SUFFIX}")):
        text = tmpl.read_text(encoding="utf-8")
        used_anywhere |= placeholders(text)
        try:
            out = render(text, values, allow_unused=True)
        except TemplateError as exc:
            raise TemplateError(f"{tmpl.name}: {exc}") from exc
        target = dst / tmpl.name.removesuffix(TEMPLATE_SUFFIX)
        target.write_text(out, encoding="utf-8")
        written.append(target)
    unused = sorted(set(values) - used_anywhere)
    if unused:
        raise TemplateError(f"unknown placeholder(s) (in no template): {', '.join(unused)}")
    return written


def manager_tls_conf(bind_address: str, port: int | str, cert_file: str, key_file: str) -> str:
    """``manager_tls.conf`` (included in manager.conf's ``[general]``): AMI's TLS listener beside the plain one."""
    values = {"bind address": bind_address, "port": str(port), "certificate": cert_file, "key": key_file}
    for what, value in values.items():
        if not value or any(c in value for c in "\r\n;"):
            raise TemplateError(f"AMI TLS {what} is empty or holds a newline or ';': {value!r}")
    if not str(port).isdigit() or not 0 < int(port) < 65536:
        raise TemplateError(f"AMI TLS port is not a port number: {port!r}")
    return "\n".join([
        "; generated: AMI over TLS (the service's [[pbx]] ami_tls = true, ami_port = this port)",
        "tlsenable = yes", f"tlsbindaddr = {bind_address}:{port}", f"tlscertfile = {cert_file}",
        f"tlsprivatekey = {key_file}", "",
    ])


def pjsip_tls_conf(bind_address: str, port: int | str, cert_file: str, key_file: str) -> str:
    """``pjsip_tls.conf`` (included by pjsip.conf): the SIP TLS transport ``transport-tls`` beside the UDP one;
    agents whose endpoints name it (``agents_pjsip_conf(..., tls=True)``) register and are called over it."""
    values = {"bind address": bind_address, "port": str(port), "certificate": cert_file, "key": key_file}
    for what, value in values.items():
        if not value or any(c in value for c in "\r\n;"):
            raise TemplateError(f"SIP TLS {what} is empty or holds a newline or ';': {value!r}")
    if not str(port).isdigit() or not 0 < int(port) < 65536:
        raise TemplateError(f"SIP TLS port is not a port number: {port!r}")
    return "\n".join([
        "; generated: SIP over TLS (agents' phones register with sip:...;transport=tls to this port)",
        "[transport-tls]", "type = transport", "protocol = tls", f"bind = {bind_address}:{port}",
        f"cert_file = {cert_file}", f"priv_key_file = {key_file}", "method = tlsv1_2", "",
    ])


def existing_pbx_dialplan(template: str, values: Mapping[str, object]) -> tuple[str, str]:
    """Callguard's dialplan for an agency's own Asterisk (docs/EXISTING-PBX.md), from ``extensions.conf.tmpl``:
    its global variables (lines for the PBX's own ``[globals]``: Asterisk reads only the first section of that
    name) and its contexts (for ``#include`` at the end of extensions.conf); its ``[general]`` is dropped (the
    PBX keeps its own)."""
    text = render(template, values, allow_unused=True)
    head = "; generated from Callguard's config/asterisk/extensions.conf.tmpl (docs/EXISTING-PBX.md)"
    globals_, contexts, section = [head], [head], ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip()
            if section in ("[general]", "[globals]"):
                continue
        if section == "[globals]":
            globals_.append(line)
        elif section and section != "[general]":
            contexts.append(line)
    return "\n".join([*globals_, ""]), "\n".join([*contexts, ""])


SIP_USER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def agents_pjsip_conf(agents: Sequence[tuple[str, str]], probes: Sequence[tuple[str, str]] = (), *,
                      tls: bool = False, srtp: bool = False) -> str:
    """Return ``pjsip_agents.conf`` text: endpoint, auth and aor per ``(sip_user, password)``.

    ``tls``: agents' endpoints use ``transport-tls`` (``pjsip_tls.conf``); ``srtp``: their media is SRTP with
    SDES keys (``media_encryption = sdes``: a phone offering plain RTP is refused). The probe's stay as they are.

    Agents use the ``agent-endpoint`` template (context ``callguard-agents``: nothing to dial), the
    recording probe's accounts ``probe-endpoint`` (context ``callguard-probe``); both are defined in
    ``pjsip.conf``. A user name may appear only once across both lists.
    """
    blocks: list[str] = ["; generated by sandbox.render.agents_pjsip_conf: one block per account", ""]
    seen: set[str] = set()
    accounts = [(u, p, "agent-endpoint") for u, p in agents] + [(u, p, "probe-endpoint") for u, p in probes]
    for user, password, endpoint in accounts:
        if not SIP_USER.match(user):
            raise TemplateError(f"invalid SIP user name {user!r}")
        if user in seen:
            raise TemplateError(f"duplicate SIP user {user!r}")
        if not password or any(c in password for c in "\r\n;") or password != password.strip():
            raise TemplateError(f"invalid password for SIP user {user!r}")
        seen.add(user)
        blocks += [
            f"[{user}]({endpoint})",
            f"auth = {user}-auth",
            f"aors = {user}",
            *(["transport = transport-tls"] if tls and endpoint == "agent-endpoint" else []),
            *(["media_encryption = sdes"] if srtp and endpoint == "agent-endpoint" else []),
            "",
            f"[{user}-auth](agent-auth)",
            f"username = {user}",
            f"password = {password}",
            "",
            f"[{user}](agent-aor)",
            "",
        ]
    return "\n".join(blocks)


def parse_agents(spec: str) -> list[tuple[str, str]]:
    """Parse ``"user:password,user2:password2"`` (the Docker entrypoint's AGENTS variable)."""
    agents: list[tuple[str, str]] = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        user, sep, password = item.partition(":")
        if not sep:
            raise TemplateError(f"agent entry {item!r} is not user:password")
        agents.append((user, password))
    return agents


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python render.py SRC_DIR DST_DIR``: render templates from env vars (+ ``AGENTS``, ``PROBE_ACCOUNTS``;
    AMI's TLS listener when ``AMI_TLS_PORT`` is set, with ``AMI_TLS_CERT`` and ``AMI_TLS_KEY``; the SIP TLS
    transport for agents when ``SIP_TLS_PORT`` is set, with ``SIP_TLS_CERT`` and ``SIP_TLS_KEY``; agents' SRTP
    when ``SIP_SRTP`` is ``yes``)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 3 and args[0] == "--existing-pbx-dialplan":  # ... TEMPLATE DST_DIR
        template = Path(args[1]).read_text(encoding="utf-8")
        try:
            globals_, contexts = existing_pbx_dialplan(template, {n: os.environ[n] for n in placeholders(template)
                                                                 if n in os.environ})
        except TemplateError as exc:
            print(f"render: {exc}", file=sys.stderr)
            return 1
        Path(args[2], "extensions_callguard_globals.conf").write_text(globals_, encoding="utf-8")
        Path(args[2], "extensions_callguard.conf").write_text(contexts, encoding="utf-8")
        return 0
    if len(args) != 2:
        print("usage: render.py SRC_DIR DST_DIR | render.py --existing-pbx-dialplan TEMPLATE DST_DIR", file=sys.stderr)
        return 2
    src, dst = Path(args[0]), Path(args[1])
    needed: set[str] = set()
    for tmpl in src.glob(f"*{TEMPLATE_SUFFIX}"):
        needed |= placeholders(tmpl.read_text(encoding="utf-8"))
    values = {name: os.environ[name] for name in needed if name in os.environ}
    try:
        render_dir(src, dst, values)
        sip_tls = bool(os.environ.get("SIP_TLS_PORT"))
        srtp = os.environ.get("SIP_SRTP", "no").lower()
        if srtp not in ("yes", "no"):
            raise TemplateError(f"SIP_SRTP must be yes or no, got {srtp!r}")
        (dst / "pjsip_agents.conf").write_text(
            agents_pjsip_conf(parse_agents(os.environ.get("AGENTS", "")),
                              parse_agents(os.environ.get("PROBE_ACCOUNTS", "")), tls=sip_tls, srtp=srtp == "yes"),
            encoding="utf-8",
        )
        sip_tls_file = dst / "pjsip_tls.conf"
        if sip_tls:
            sip_tls_file.write_text(pjsip_tls_conf(os.environ.get("BIND_ADDRESS", "0.0.0.0"),
                                                   os.environ["SIP_TLS_PORT"], os.environ.get("SIP_TLS_CERT", ""),
                                                   os.environ.get("SIP_TLS_KEY", "")), encoding="utf-8")
        else:
            sip_tls_file.unlink(missing_ok=True)
        tls = dst / "manager_tls.conf"
        if os.environ.get("AMI_TLS_PORT"):
            tls.write_text(manager_tls_conf(os.environ.get("BIND_ADDRESS", "0.0.0.0"), os.environ["AMI_TLS_PORT"],
                                            os.environ.get("AMI_TLS_CERT", ""), os.environ.get("AMI_TLS_KEY", "")),
                           encoding="utf-8")
        else:
            tls.unlink(missing_ok=True)
    except TemplateError as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
