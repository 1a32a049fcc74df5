"""People's sign-in through the HTTP API of two instances: passwords, the session cookie, CSRF, idle timeout."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from app.cli import main
from auth.models import ApiToken, AuthFailure, User
from auth.sessions import CSRF_HEADER, SESSION_COOKIE, csrf_ok, csrf_token
from tests.support.cluster import Cluster, Instance

PASSWORD = "correct horse 1"


def code(body: dict[str, Any]) -> str:
    return str(body["error"]["code"])


async def set_password(cluster: Cluster, user: str = "alice", password: str = PASSWORD) -> None:
    r = await cluster.a.client.put(f"/v1/users/{user}/password", headers=cluster.auth("ada"),
                                   json={"password": password, "reason": "first sign-in"})
    assert r.status == 204, await r.text()


async def sign_in(inst: Instance, user: str = "alice", password: str = PASSWORD) -> tuple[str, dict[str, Any]]:
    """The session's secret (the cookie) and the answer."""
    r = await inst.client.post("/v1/session", json={"username": user, "password": password})
    body: dict[str, Any] = await r.json()
    assert r.status == 201, body
    morsel = SimpleCookie(r.headers["Set-Cookie"])[SESSION_COOKIE]
    inst.client.session.cookie_jar.clear()  # each request below names its cookie
    return morsel.value, body


def cookie(secret: str, csrf: str | None = None) -> dict[str, str]:
    headers = {"Cookie": f"{SESSION_COOKIE}={secret}"}
    if csrf is not None:
        headers[CSRF_HEADER] = csrf
    return headers


async def test_a_person_signs_in_and_the_cookie_is_httponly_strict_and_works_on_every_instance(
        cluster: Cluster) -> None:
    await set_password(cluster)
    r = await cluster.a.client.post("/v1/session", json={"username": "alice", "password": PASSWORD})
    assert r.status == 201, await r.text()
    raw = r.headers["Set-Cookie"]
    morsel = SimpleCookie(raw)[SESSION_COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/"
    assert not morsel["secure"]  # served over plain HTTP here; over TLS the cookie is Secure
    secret, body = morsel.value, await r.json()
    cluster.a.client.session.cookie_jar.clear()
    assert secret not in json.dumps(body)  # the secret is only in the cookie
    assert body["user_id"] == "alice" and body["role"] == "agent" and body["kind"] == "session"
    assert body["csrf_token"] == csrf_token(secret) and body["idle_timeout_s"] == 1800
    async with cluster.b.container.db.read() as s:  # stored as SHA-256 like a token, of kind session
        row = (await s.scalars(select(ApiToken).where(ApiToken.user_id == "alice", ApiToken.kind == "session"))).one()
        assert secret not in row.token_hash and row.expires_at is not None
    r = await cluster.b.client.get("/v1/session", headers=cookie(secret))
    who = await r.json()
    assert r.status == 200 and who["user_id"] == "alice" and who["csrf_token"] == body["csrf_token"]
    r = await cluster.b.client.get("/v1/session", headers=cluster.auth("mia"))  # a bearer token: no CSRF needed
    assert (await r.json())["kind"] == "token" and (await r.json())["csrf_token"] is None
    r = await cluster.b.client.get("/v1/calls", headers=cookie(secret))  # the role and scope of the user
    assert r.status == 200
    r = await cluster.b.client.get("/v1/audit", headers=cookie(secret))
    assert r.status == 403


async def test_a_state_changing_request_with_the_cookie_needs_the_csrf_token(cluster: Cluster) -> None:
    await set_password(cluster)
    secret, body = await sign_in(cluster.a)
    for headers in (cookie(secret), cookie(secret, "0" * 64), cookie(secret, csrf_token(secret + "x"))):
        r = await cluster.a.client.post("/v1/events/tickets", headers=headers)
        assert r.status == 403 and code(await r.json()) == "csrf-token-invalid"
    r = await cluster.a.client.post("/v1/events/tickets", headers=cookie(secret, body["csrf_token"]))
    assert r.status == 201  # and a session gets EventSource tickets like a token
    assert csrf_ok(secret, body["csrf_token"]) and not csrf_ok(secret, None)


async def test_a_wrong_password_is_refused_recorded_and_throttled_like_a_guessed_token(cluster: Cluster) -> None:
    await set_password(cluster)
    c = cluster.a.client
    r = await c.post("/v1/session", json={"username": "alice", "password": "not the password"})
    assert r.status == 401 and code(await r.json()) == "sign-in-failed"
    assert "Set-Cookie" not in r.headers
    r = await c.post("/v1/session", json={"username": "nobody", "password": PASSWORD})
    assert r.status == 401 and code(await r.json()) == "sign-in-failed"  # an unknown user looks the same
    r = await c.post("/v1/session", json={"username": "mia", "password": PASSWORD})  # no password set
    assert r.status == 401 and code(await r.json()) == "sign-in-failed"
    async with cluster.a.container.db.read() as s:
        failures = (await s.execute(select(AuthFailure.reason, AuthFailure.user_id).order_by(AuthFailure.id))).all()
    assert [tuple(f) for f in failures] == [("sign-in-failed", "alice"), ("sign-in-failed", None),
                                            ("sign-in-failed", "mia")]
    assert cluster.sleeps  # held back from the 2nd failure (cluster settings)
    r = await cluster.b.client.post("/v1/session", json={"username": "alice", "password": "guess 4"})
    assert r.status == 401
    r = await cluster.b.client.post("/v1/session", json={"username": "alice", "password": PASSWORD})
    assert r.status == 429 and code(await r.json()) == "too-many-failed-sign-ins"  # even the right one now
    assert int(r.headers["Retry-After"]) > 0


async def test_sign_in_needs_a_json_body(cluster: Cluster) -> None:
    await set_password(cluster)
    r = await cluster.a.client.post("/v1/session", data=json.dumps({"username": "alice", "password": PASSWORD}),
                                    headers={"Content-Type": "text/plain"})
    assert r.status == 400 and code(await r.json()) == "json-required"


async def test_deactivation_revocation_and_sign_out_end_the_session(cluster: Cluster) -> None:
    await set_password(cluster)
    await set_password(cluster, "mia")
    secret, body = await sign_in(cluster.a)
    r = await cluster.a.client.patch("/v1/users/alice", headers=cluster.auth("ada"), json={"active": False})
    assert r.status == 200
    r = await cluster.b.client.get("/v1/session", headers=cookie(secret))
    assert r.status == 401 and code(await r.json()) == "user-deactivated"
    r = await cluster.a.client.post("/v1/session", json={"username": "alice", "password": PASSWORD})
    assert r.status == 401 and code(await r.json()) == "user-deactivated"
    # an admin sees and revokes sessions with the tokens
    secret, body = await sign_in(cluster.a, "mia")
    r = await cluster.a.client.get("/v1/users/mia/tokens", headers=cluster.auth("ada"))
    (session,) = [t for t in (await r.json())["items"] if t["kind"] == "session"]
    r = await cluster.a.client.post(f"/v1/tokens/{session['id']}/revoke", headers=cluster.auth("ada"), json={})
    assert r.status == 200
    r = await cluster.b.client.get("/v1/session", headers=cookie(secret))
    assert r.status == 401 and code(await r.json()) == "token-revoked"
    # signing out: the cookie is cleared and the session refused from then on
    secret, body = await sign_in(cluster.a, "mia")
    r = await cluster.a.client.delete("/v1/session", headers=cookie(secret))
    assert r.status == 403 and code(await r.json()) == "csrf-token-invalid"
    r = await cluster.a.client.delete("/v1/session", headers=cookie(secret, body["csrf_token"]))
    assert r.status == 204
    assert SimpleCookie(r.headers["Set-Cookie"])[SESSION_COOKIE].value == ""
    r = await cluster.b.client.get("/v1/session", headers=cookie(secret))
    assert r.status == 401 and code(await r.json()) == "token-revoked"
    r = await cluster.a.client.delete("/v1/session", headers=cluster.auth("mia"))
    assert r.status == 403 and code(await r.json()) == "not-a-session"


async def test_a_session_ends_after_the_idle_timeout(cluster: Cluster) -> None:
    await set_password(cluster)
    secret, _ = await sign_in(cluster.a)
    idle = cluster.b.container.settings.auth.session_idle_s
    async with cluster.b.container.db.begin() as s:
        await s.execute(update(ApiToken).where(ApiToken.kind == "session")
                        .values(last_used_at=datetime.now(UTC) - timedelta(seconds=idle - 30)))
    r = await cluster.b.client.get("/v1/session", headers=cookie(secret))
    assert r.status == 200  # used 30 s before the timeout: still signed in
    async with cluster.b.container.db.begin() as s:
        await s.execute(update(ApiToken).where(ApiToken.kind == "session")
                        .values(last_used_at=datetime.now(UTC) - timedelta(seconds=idle + 1)))
    cluster.b.container.auth._touched.clear()  # this instance's note of the use above  # noqa: SLF001
    r = await cluster.b.client.get("/v1/session", headers=cookie(secret))
    assert r.status == 401 and code(await r.json()) == "session-expired"
    async with cluster.b.container.db.read() as s:
        reasons = (await s.scalars(select(AuthFailure.reason))).all()
    assert reasons == ["session-expired"]  # recorded, not counted as a guess


async def test_a_session_is_only_a_cookie_and_a_token_only_a_header(cluster: Cluster) -> None:
    await set_password(cluster)
    secret, _ = await sign_in(cluster.a)
    r = await cluster.a.client.get("/v1/session", headers={"Authorization": f"Bearer {secret}"})
    assert r.status == 401 and code(await r.json()) == "unknown-token"
    r = await cluster.a.client.get("/v1/session", headers=cookie(cluster.tokens["alice"]))
    assert r.status == 401 and code(await r.json()) == "unknown-token"


async def test_passwords_own_with_the_old_one_others_only_by_an_admin(cluster: Cluster) -> None:
    await set_password(cluster)
    c = cluster.a.client
    secret, body = await sign_in(cluster.a)
    other, _ = await sign_in(cluster.b)
    me = cookie(secret, body["csrf_token"])
    r = await c.put("/v1/users/alice/password", headers=me, json={"password": "new password 2"})
    assert r.status == 403 and code(await r.json()) == "wrong-password"
    r = await c.put("/v1/users/alice/password", headers=me,
                    json={"password": "new password 2", "old_password": "wrong old one"})
    assert r.status == 403 and code(await r.json()) == "wrong-password"
    r = await c.put("/v1/users/alice/password", headers=me, json={"password": "short", "old_password": PASSWORD})
    assert r.status == 422 and code(await r.json()) == "validation-failed"  # under the schema's floor of 8
    r = await c.put("/v1/users/alice/password", headers=me, json={"password": "nine char", "old_password": PASSWORD})
    assert r.status == 422 and code(await r.json()) == "weak-password"  # under auth.password_min_length
    r = await c.put("/v1/users/alice/password", headers=me, json={"password": "a" * 12, "old_password": PASSWORD})
    assert r.status == 422 and code(await r.json()) == "weak-password"
    r = await c.put("/v1/users/mia/password", headers=me, json={"password": "new password 2"})
    assert r.status == 403 and code(await r.json()) == "not-your-password"
    r = await c.put("/v1/users/alice/password", headers=me,
                    json={"password": "new password 2", "old_password": PASSWORD})
    assert r.status == 204
    r = await c.get("/v1/session", headers=cookie(secret))
    assert r.status == 200  # this session stays
    r = await c.get("/v1/session", headers=cookie(other))
    assert r.status == 401 and code(await r.json()) == "token-revoked"  # the other one ended
    r = await c.post("/v1/session", json={"username": "alice", "password": PASSWORD})
    assert r.status == 401
    await sign_in(cluster.b, "alice", "new password 2")
    async with cluster.a.container.db.read() as s:
        user = await s.get(User, "alice")
        reasons = (await s.scalars(select(AuthFailure.reason).order_by(AuthFailure.id))).all()
    assert user is not None and user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert reasons[:2] == ["wrong-password", "wrong-password"]
    # one's first password needs no old one: there is none to prove (a bearer token's holder sets it)
    r = await c.put("/v1/users/mia/password", headers=cluster.auth("mia"), json={"password": "first password 1"})
    assert r.status == 204
    r = await c.put("/v1/users/mia/password", headers=cluster.auth("mia"), json={"password": "second password 2"})
    assert r.status == 403 and code(await r.json()) == "wrong-password"  # from then on, the old one is needed


def test_the_cli_sets_a_password_from_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CALLGUARD__DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("CALLGUARD_CONFIG", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret password\n"))
    assert main(["user", "qa1", "--role", "qa", "--client", "bank1", "--password-stdin"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["password_set"] is True and "s3cret" not in json.dumps(out)
    monkeypatch.setattr("sys.stdin", io.StringIO("nine char\n"))
    assert main(["user", "qa1", "--password-stdin"]) == 1
    assert "weak-password" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "qa1", "--password-stdin"]) == 1
    assert "validation-failed" in capsys.readouterr().err
