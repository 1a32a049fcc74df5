"""The authorisation matrix: for every route of the registry, which roles of a bank may use it on the bank's own
objects, and what the same roles get on another bank's objects. ``tests/unit/api/test_authz_matrix.py`` checks
every cell (route x role x own/other client) against the running service; ``python -m tests.authz_matrix``
prints docs/AUTHZ.md from this table. A route without a row fails the test.

``own``: the roles that may act on their own bank's objects (the others get 403). ``other``: what every one of
those roles gets for another bank's object: ``404`` (answered exactly as a missing one), ``422`` (a named object
the request refers to does not exist for the caller: a case or an agent to dial), ``empty`` (a list or report
with nothing of the other bank), ``none`` (the route has no client: health, the caller's own ticket).
"""

from __future__ import annotations

AG, SU, MA, QA, IN, AD = "agent", "supervisor", "manager", "qa", "integration", "admin"
ALL = (AG, SU, MA, QA, IN, AD)

#: route key -> (roles allowed on their own bank's objects, what they get on another bank's)
MATRIX: dict[str, tuple[tuple[str, ...], str]] = {
    "GET /healthz": ((), "none"),
    "GET /readyz": ((), "none"),
    "GET /metrics": ((), "none"),  # the scrape token (metrics.token) or a global admin only: every bank's role 403
    "POST /v1/session": ((), "none"),
    "GET /v1/session": (ALL, "none"),
    "DELETE /v1/session": ((), "none"),
    "PUT /v1/users/{user_id}/password": ((AD,), "404"),
    "POST /v1/calls": ((AG, SU, IN, AD), "422"),
    "GET /v1/calls/{call_id}": (ALL, "404"),
    "GET /v1/calls": (ALL, "empty"),
    "POST /v1/calls/{call_id}/hangup": ((AG, SU, IN, AD), "404"),
    "POST /v1/calls/{call_id}/monitor": ((SU, MA), "404"),
    "GET /v1/calls/{call_id}/monitor": ((SU, MA), "404"),
    "PATCH /v1/calls/{call_id}/monitor/{session_id}": ((SU, MA), "404"),
    "DELETE /v1/calls/{call_id}/monitor/{session_id}": ((SU, MA), "404"),
    "POST /v1/calls/{call_id}/transfer": ((AG, SU, IN, AD), "404"),
    "POST /v1/calls/{call_id}/transfer/complete": ((AG, SU, IN, AD), "404"),
    "POST /v1/calls/{call_id}/transfer/cancel": ((AG, SU, IN, AD), "404"),
    "GET /v1/calls/{call_id}/legs": (ALL, "404"),
    "GET /v1/events": (ALL, "none"),
    "POST /v1/compliance/check": ((AG, SU, IN, AD), "422"),
    "GET /v1/compliance/decisions": ((SU, MA, AD), "empty"),
    "GET /v1/compliance/decisions/{decision_id}": ((SU, MA, AD), "404"),
    "PUT /v1/compliance/policies/{client_id}": ((AD,), "404"),
    "GET /v1/compliance/policies/{client_id}": ((SU, MA, AD), "404"),
    "POST /v1/compliance/do-not-call": ((SU, AD), "404"),
    "GET /v1/compliance/do-not-call": ((SU, MA, AD), "empty"),
    "DELETE /v1/compliance/do-not-call/{kind}/{value}": ((AD,), "404"),
    "PUT /v1/clients/{client}/cases/{external_id}": ((IN, AD), "404"),
    "POST /v1/clients/{client}/cases/bulk": ((IN, AD), "404"),
    "GET /v1/clients/{client}/cases/{external_id}": (ALL, "404"),
    "GET /v1/cases": (ALL, "empty"),
    "GET /v1/cases/{case_id}": (ALL, "404"),
    "POST /v1/cases/{case_id}/holds": ((SU, IN, AD), "404"),
    "DELETE /v1/cases/{case_id}/holds/{reason}": ((SU, IN, AD), "404"),
    "POST /v1/cases/{case_id}/status": ((IN, AD), "404"),
    "PUT /v1/cases/{case_id}/assignment": ((SU, IN, AD), "404"),
    "POST /v1/cases/{case_id}/numbers": ((SU, IN, AD), "404"),
    "POST /v1/cases/{case_id}/windows": ((AG, SU, IN, AD), "404"),
    "GET /v1/cases/{case_id}/windows": (ALL, "404"),
    "DELETE /v1/cases/{case_id}/windows/{window_id}": ((AG, SU, IN, AD), "404"),
    "POST /v1/calls/{call_id}/disposition": ((AG, SU, AD), "404"),
    "GET /v1/cases/{case_id}/contacts": (ALL, "404"),
    "GET /v1/cases/{case_id}/evidence": ((SU, MA, QA, IN, AD), "404"),
    "GET /v1/clients/{client_id}/presented-numbers": ((SU, MA, AD), "404"),
    "PUT /v1/clients/{client_id}/presented-numbers": ((AD,), "404"),
    "POST /v1/hooks/subscriptions": ((IN, AD), "none"),
    "GET /v1/hooks/subscriptions": ((IN, AD), "empty"),
    "GET /v1/hooks/subscriptions/{sub_id}": ((IN, AD), "404"),
    "PATCH /v1/hooks/subscriptions/{sub_id}": ((IN, AD), "404"),
    "DELETE /v1/hooks/subscriptions/{sub_id}": ((IN, AD), "404"),
    "GET /v1/hooks/deliveries": ((IN, AD), "empty"),
    "GET /v1/hooks/deliveries/{delivery_id}/attempts": ((IN, AD), "empty"),
    "POST /v1/hooks/replay": ((IN, AD), "empty"),
    "GET /v1/recordings/gaps": ((SU, MA, QA, AD), "empty"),
    "GET /v1/recordings/access-log": ((SU, MA, QA, AD), "404"),  # one recording's log, named by recording_id
    "POST /v1/recordings/probe": ((SU, AD), "none"),
    "GET /v1/recordings/probe": ((SU, MA, QA, AD), "none"),
    "GET /v1/recordings": (ALL, "empty"),
    "GET /v1/recordings/{recording_id}": (ALL, "404"),
    "GET /v1/recordings/{recording_id}/audio": ((AG, SU, MA, QA, AD), "404"),
    "DELETE /v1/recordings/{recording_id}": ((AD,), "404"),
    "PUT /v1/recordings/{recording_id}/legal-hold": ((SU, MA, AD), "404"),
    "DELETE /v1/recordings/{recording_id}/legal-hold": ((SU, MA, AD), "404"),
    "POST /v1/recordings/{recording_id}/reviews": ((SU, MA, QA, AD), "404"),
    "GET /v1/recordings/{recording_id}/reviews": (ALL, "404"),
    "POST /v1/recordings/{recording_id}/pause": ((SU, MA, AD), "404"),
    "POST /v1/recordings/{recording_id}/resume": ((SU, MA, AD), "404"),
    "POST /v1/recordings/{recording_id}/retry": ((SU, AD), "404"),
    "POST /v1/qa/samples": ((SU, MA, QA, AD), "empty"),
    "GET /v1/reports": ((SU, MA, AD), "none"),
    "GET /v1/reports/{report}": ((SU, MA, AD), "empty"),
    "POST /v1/events/tickets": (ALL, "none"),
    "GET /v1/users": ((AD,), "empty"),
    "POST /v1/users": ((AD,), "403"),
    "GET /v1/users/{user_id}": ((AD,), "404"),
    "PATCH /v1/users/{user_id}": ((AD,), "404"),
    "GET /v1/users/{user_id}/tokens": ((AD,), "404"),
    "POST /v1/users/{user_id}/tokens": ((AD,), "404"),
    "POST /v1/tokens/{token_id}/revoke": ((AD,), "404"),
    "GET /v1/audit": ((MA, AD), "empty"),
    "POST /v1/release-requests": ((SU, MA), "404"),
    "GET /v1/release-requests": ((SU, MA, AD), "empty"),
    "GET /v1/release-requests/{request_id}": ((SU, MA, AD), "404"),
    "POST /v1/release-requests/{request_id}/approve": ((MA, AD), "404"),
    "POST /v1/release-requests/{request_id}/reject": ((MA, AD), "404"),
    "GET /v1/agents": ((AG, SU, MA, AD), "empty"),
    "GET /v1/agents/occupancy": ((AG, SU, MA, AD), "empty"),
    "GET /v1/agents/{agent}/state": ((AG, SU, MA, AD), "404"),
    "PUT /v1/agents/{agent}/state": ((AG, SU, AD), "404"),
    "GET /v1/agents/{agent}/history": ((AG, SU, MA, AD), "404"),
    "GET /v1/callbacks": ((AG, SU, MA, AD), "empty"),
    "POST /v1/campaigns": ((SU, MA, AD), "404"),
    "GET /v1/campaigns": ((AG, SU, MA, AD), "empty"),
    "GET /v1/campaigns/{campaign_id}": ((AG, SU, MA, AD), "404"),
    "POST /v1/campaigns/{campaign_id}/{action}": ((SU, MA, AD), "404"),
    "PUT /v1/campaigns/{campaign_id}/agents/{agent}": ((AG, SU, AD), "404"),
    "DELETE /v1/campaigns/{campaign_id}/agents/{agent}": ((AG, SU, AD), "404"),
    "GET /v1/agents/{agent}/next": ((AG, SU, AD), "404"),
    "POST /v1/agents/{agent}/next/skip": ((AG, SU, AD), "404"),
    "POST /v1/clients/{client}/payments": ((IN, AD), "404"),
    "GET /v1/promises": ((AG, SU, MA, IN, AD), "empty"),
    "GET /v1/cases/{case_id}/payments": ((AG, SU, MA, IN, AD), "404"),
    "GET /v1/clients/{client_id}/settings": ((SU, MA, AD), "404"),
    "PUT /v1/clients/{client_id}/settings": ((AD,), "404"),
}

_OTHER = {"404": "404, as for a missing object",
          "403": "403: a user may be given only the admin's own clients",
          "422": "422: the named case or agent does not exist for the caller",
          "empty": "200 with nothing of the other bank", "none": "no client involved"}


def markdown() -> str:
    """docs/AUTHZ.md."""
    lines = [
        "# Who may do what (generated by `python -m tests.authz_matrix`; checked cell by cell by "
        "`tests/unit/api/test_authz_matrix.py` on SQLite and PostgreSQL)", "",
        "Each bank's people: an agent (its assigned cases and own calls), a team's supervisor (its team's), a "
        "manager, QA and the bank's case system (integration) (the bank's), and a bank's admin. A role not listed "
        "gets 403 (on another bank's object 403 or 404). Signing in and out (`/v1/session`) concerns a console "
        "session only: a bearer token gets 403 `not-a-session` on sign-out; the console's own tests check them. "
        "On another bank's objects every listed role gets the answer in the last column, never the object. "
        "A global admin (an admin of no client) sees every bank.", "",
        "| route | " + " | ".join(ALL) + " | another bank's object |",
        "|---|" + "---|" * len(ALL) + "---|",
    ]
    for key, (roles, other) in MATRIX.items():
        marks = " | ".join("yes" if r in roles else "" for r in ALL)
        lines.append(f"| `{key}` | {marks} | {_OTHER[other]} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
