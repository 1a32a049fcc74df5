"""Per-call figures from Asterisk's own CDR (``Cdr`` AMI events): the yardstick the reports must agree with.

Asterisk 22 emits one ``Cdr`` per party-A dialplan segment, not per call (see docs/PBX.md):
- the **customer Dial record**: ``LastApplication: Dial`` with ``DestinationChannel: PJSIP/<trunk>-<seq>``;
  its ``Disposition`` is the customer's answer (ANSWERED / NO ANSWER / BUSY / CONGESTION / FAILED) and, when
  ANSWERED, ``BillableSeconds`` is the talk time (customer answer to hang-up, whole seconds, truncated);
- when that Dial fails, a **second record** for the rest of the agent's dialplan (``LastApplication: Hangup``,
  empty ``DestinationChannel``) says ``ANSWERED`` because the *agent* leg was up: it must be ignored, as must
  ``BillableSeconds`` of a failed Dial record (Asterisk counts from the agent's answer there);
- an agent who never answers leaves one record with an empty ``UserField`` (``UniqueID`` = call id) and no
  customer record; an unreachable agent leaves none.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DEFAULT_TRUNK = "customers"


@dataclass
class CdrCall:
    """What the CDR says about one call id."""

    call_id: str
    records: int = 0
    attempted: bool = False  # the customer leg was dialled
    connected: bool = False  # the customer answered
    talk_seconds: int = 0  # BillableSeconds of the answered customer Dial record(s)
    disposition: str | None = None  # Disposition of the customer Dial record


@dataclass(frozen=True)
class CdrTotals:
    """Sums over calls: customer legs dialled, answered, and their talk seconds."""

    attempted: int
    connected: int
    talk_seconds: int


def _field(event: Mapping[str, object], key: str) -> str:
    value = event.get(key)
    if isinstance(value, list):  # a repeated header (never seen on Cdr): the first wins
        value = value[0] if value else ""
    return str(value).strip() if value is not None else ""


def is_customer_dial(event: Mapping[str, object], trunk: str = DEFAULT_TRUNK) -> bool:
    """Whether a ``Cdr`` event is the Dial record toward the customer trunk."""
    return _field(event, "DestinationChannel").startswith(f"PJSIP/{trunk}-")


def cdr_calls(events: Iterable[Mapping[str, object]], *, trunk: str = DEFAULT_TRUNK) -> dict[str, CdrCall]:
    """Per call id (``UserField``, else ``UniqueID``), the CDR's attempted / connected / talk seconds."""
    out: dict[str, CdrCall] = {}
    for ev in events:
        if _field(ev, "Event") not in ("", "Cdr"):
            continue
        call_id = _field(ev, "UserField") or _field(ev, "UniqueID")
        if not call_id:
            continue
        call = out.setdefault(call_id, CdrCall(call_id))
        call.records += 1
        if not is_customer_dial(ev, trunk):
            continue  # the agent's own segment (incl. the extra "ANSWERED" record after a failed Dial)
        call.attempted = True
        disposition = _field(ev, "Disposition")
        if call.disposition is None or disposition == "ANSWERED":
            call.disposition = disposition
        if disposition == "ANSWERED":
            call.connected = True
            call.talk_seconds += int(_field(ev, "BillableSeconds") or 0)
    return out


def cdr_totals(calls: Iterable[CdrCall]) -> CdrTotals:
    """Totals over per-call CDR figures."""
    items = list(calls)
    return CdrTotals(sum(c.attempted for c in items), sum(c.connected for c in items),
                     sum(c.talk_seconds for c in items))
