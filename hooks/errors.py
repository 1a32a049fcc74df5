"""Errors of the webhooks domain."""

from __future__ import annotations

from core.errors import NotFound, ValidationFailed


class NoSuchSubscription(NotFound):
    """No webhook subscription with that id."""

    code = "no-such-subscription"


class NoSuchDelivery(NotFound):
    """No delivery with that id."""

    code = "no-such-delivery"


class NoSuchClient(NotFound):
    """A subscription's client is not one the caller serves (answered like an unknown client)."""

    code = "no-such-client"


class ClientRequired(ValidationFailed):
    """The caller serves several clients: the subscription must name one."""

    code = "client-required"


class BadEventPattern(ValidationFailed):
    """An event type pattern is not ``*``, ``prefix.*`` or an exact type."""

    code = "bad-event-pattern"
