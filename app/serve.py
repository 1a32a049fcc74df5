"""Serve the composed application over HTTP until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

from aiohttp import web

from api.access import runner_options
from api.app import make_app
from app.compose import compose, instance_name
from config.settings import Settings
from config.tls import server_context
from core import heap

log = logging.getLogger(__name__)


async def serve(settings: Settings, *, on_ready: Callable[[str], Any] | None = None) -> None:
    """Run the HTTP service until SIGTERM or SIGINT (a clean stop: exit status 0), or until cancelled."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    server = settings.server
    tls = (server_context(server.tls_cert_file, server.tls_key_file)
           if server.tls_cert_file is not None and server.tls_key_file is not None else None)
    async with compose(settings) as container:
        app = make_app(container)
        runner = web.AppRunner(app, shutdown_timeout=5.0, **runner_options(access_log=settings.logging.access_log))
        await runner.setup()
        try:
            site = web.TCPSite(runner, server.host, server.port, ssl_context=tls)
            await site.start()
            host, port = runner.addresses[0][:2]  # the bound port (server.port 0: any free one)
            url = f"{'https' if tls else 'http'}://{host}:{port}"
            log.info("Callguard %s listening on %s", instance_name(settings), url)
            if on_ready:
                on_ready(url)
            heap.settle()  # start-up is over: its objects are never garbage (core/heap.py)
            await stop.wait()
            log.info("Callguard %s stopping", instance_name(settings))
        finally:
            await runner.cleanup()
