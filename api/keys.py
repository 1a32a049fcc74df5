"""Typed application keys."""

from __future__ import annotations

from aiohttp import web

from app.container import Container
from core.ratelimit import RateLimiter

CONTAINER = web.AppKey("container", Container)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
