"""Who sees which event of the live stream: the principal's ``Scope`` applied to each event.

- an event of a client the principal does not serve is never shown; an event of no client (the
  platform's: probes, orphan files) only to a global admin;
- an agent sees only its own calls' events (``agent_id``);
- a supervisor with a team sees only that team's events (``team``; an event without a team is not its);
- managers, QA and integrations see every event of their clients.
Session events never reach a client: they only end the stream of the user or token they name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from auth.events import SESSION_EVENTS, ends_session
from auth.scope import Scope
from auth.service import Principal

EventFilter = Callable[[dict[str, Any]], bool]


def sees_event(scope: Scope, event: dict[str, Any]) -> bool:
    """May ``scope`` see ``event`` (the stream's JSON form, ``core.events.event_to_json``)?"""
    if not scope.sees_client(event.get("client_id")):
        return False
    if scope.agent is not None:
        return bool(event.get("agent_id") == scope.agent)
    return scope.team is None or event.get("team") == scope.team


def stream_filter(who: Principal, prefixes: tuple[str, ...] = ()) -> EventFilter:
    """The filter of ``who``'s live stream: its scope, then the optional type ``prefixes``.

    Session events pass only when they end ``who``'s own session (the stream then closes).
    """
    scope = Scope.of(who)

    def keep(event: dict[str, Any]) -> bool:
        if event["type"] in SESSION_EVENTS:
            return ends_session(who, event)
        if not sees_event(scope, event):
            return False
        return not prefixes or str(event["type"]).startswith(prefixes)

    return keep
