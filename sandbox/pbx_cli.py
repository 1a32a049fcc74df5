"""CLI behind ``python -m sandbox.pbx build|start``."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from sandbox import rootfs
from sandbox.pbx import AgentAccount, PbxSandbox
from sandbox.render import TemplateError, parse_agents


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox.pbx")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build (or reuse) the cached PBX root filesystem")
    build.add_argument("--force", action="store_true", help="rebuild even if a complete rootfs exists")
    start = sub.add_parser("start", help="run one Asterisk instance until interrupted")
    start.add_argument("--ami-port", type=int, default=5038)
    start.add_argument("--sip-port", type=int, default=5060)
    start.add_argument("--customer-port", type=int, default=5070)
    start.add_argument("--agent", action="append", default=[], metavar="USER:PASSWORD")
    start.add_argument("--probe", action="append", default=[], metavar="USER:PASSWORD",
                       help="a recording probe account (the only kind that may dial probe)")
    start.add_argument("--ami-user", default="callguard")
    start.add_argument("--ami-secret", default="callguard-sandbox")
    start.add_argument("--recording-format", default="wav")
    start.add_argument("--customer-dial-timeout", type=int, default=30)
    return parser


async def _run(args: argparse.Namespace) -> None:
    agents = [AgentAccount(user, password) for user, password in parse_agents(",".join(args.agent))]
    probes = [AgentAccount(user, password) for user, password in parse_agents(",".join(args.probe))]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with PbxSandbox(
        ami_port=args.ami_port, sip_port=args.sip_port, customer_trunk_port=args.customer_port, agents=agents,
        probe_accounts=probes,
        ami_user=args.ami_user, ami_secret=args.ami_secret, recording_format=args.recording_format,
        customer_dial_timeout=args.customer_dial_timeout,
    ) as pbx:
        info = {
            "ami_host": pbx.ami_host, "ami_port": pbx.ami_port, "ami_user": pbx.ami_user,
            "sip_host": pbx.sip_host, "sip_port": pbx.sip_port, "spool_dir": str(pbx.spool_dir),
            "log_path": str(pbx.log_path), "agents": [a.sip_user for a in agents],
            "probes": [a.sip_user for a in probes],
        }
        print(json.dumps(info), flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "build":
        print(rootfs.build_rootfs(force=args.force))
        return 0
    try:
        asyncio.run(_run(args))
    except TemplateError as exc:
        print(f"bad configuration: {exc}", file=sys.stderr)
        return 2
    return 0
