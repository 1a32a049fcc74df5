"""Typed application keys."""

from __future__ import annotations

from aiohttp import web

from app.container import Container

CONTAINER = web.AppKey("container", Container)
