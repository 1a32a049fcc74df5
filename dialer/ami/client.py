"""Asyncio AMI client: login, ActionID-keyed futures, keepalive with pong timeout, reconnect.

Pending actions are NEVER re-sent after a reconnect: an Originate whose connection dropped may or
may not have been executed by Asterisk, so its caller gets `AmiConnectionLost` and must learn the
call's fate from events (e.g. by ChannelId / CALL_ID) once the connection is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from dialer.ami.dispatch import ConnectionCallback, Dispatcher, EventCallback, RunCallback
from dialer.ami.errors import (
    AmiActionError,
    AmiActionTimeout,
    AmiConnectionLost,
    AmiError,
    AmiLoginError,
    AmiNotConnected,
)
from dialer.ami.parser import AmiMessage, AmiParser, encode_action

#: ``observer(action, seconds, outcome)`` after each action sent: outcome ``ok``, ``error`` (Response: Error),
#: ``timeout``, ``cancelled`` or ``lost`` (the connection went away first). Called on the loop; must be cheap
#: and must not raise.
ActionObserver = Callable[[str, float, str], None]

Fields = Sequence[tuple[str, str]] | Mapping[str, str]
_READ_SIZE = 64 * 1024


class AmiPongTimeout(AmiError):
    """The PBX did not answer a keepalive Ping in time (hung PBX): the session is dropped."""


class _Pending:
    """One action waiting for its response (and, for list actions, its events)."""

    __slots__ = ("events", "future", "is_list", "response")

    def __init__(self, future: asyncio.Future[Any], is_list: bool) -> None:
        self.future = future
        self.is_list = is_list
        self.response: AmiMessage | None = None
        self.events: list[AmiMessage] = []


class AmiClient:
    """Long-lived AMI connection; `async with AmiClient(...) as ami:` keeps it up until exit."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        name: str = "pbx",
        ping_interval: float = 5.0,
        pong_timeout: float = 3.0,
        connect_timeout: float = 5.0,
        reconnect_initial: float = 0.5,
        reconnect_max: float = 10.0,
        action_timeout: float = 10.0,
        logger: logging.Logger | None = None,
        max_queued_events: int = 100_000,
        ignore_events: Iterable[str] = ("TestEvent",),
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port, self.username, self.name = host, port, username, name
        self.tls = tls  # AMI over TLS (Asterisk's tlsbindaddr); the context verifies the PBX by ``host``
        self.__secret = secret
        self.ping_interval, self.pong_timeout = ping_interval, pong_timeout
        self.connect_timeout, self.action_timeout = connect_timeout, action_timeout
        self.reconnect_initial, self.reconnect_max = reconnect_initial, reconnect_max
        self._log = logger or logging.getLogger("dialer.ami")
        self._ignored = frozenset(ignore_events)
        self._dispatcher = Dispatcher(name=name, logger=self._log, max_queued=max_queued_events)
        self._id_prefix = f"{name}-{secrets.token_hex(4)}"
        self._ids = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._lists = 0  # pending list actions: events are checked for ActionID only when > 0
        self._writer: asyncio.StreamWriter | None = None
        self._write_lock = asyncio.Lock()
        self._connected = False
        self._connected_event = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._since: datetime | None = None
        self._last_error: str | None = None
        self._reconnects = 0
        self._ever_connected = False
        self._down_logged = False
        self._action_observers: list[ActionObserver] = []
        self.banner: str | None = None

    def __repr__(self) -> str:
        return (
            f"AmiClient(name={self.name!r}, host={self.host!r}, port={self.port}, "
            f"username={self.username!r}, secret='***', tls={self.tls is not None}, connected={self._connected})"
        )

    # ---- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> AmiClient:
        """Start the dispatcher and the connection supervisor (connecting happens in background)."""
        self._stopping.clear()
        self._tasks = [
            asyncio.create_task(self._dispatcher.run(), name=f"ami-{self.name}-dispatch"),
            asyncio.create_task(self._supervise(), name=f"ami-{self.name}-supervisor"),
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Log off (best effort), stop every task, fail pending actions."""
        if self._connected:
            with contextlib.suppress(AmiError, OSError, TimeoutError):
                await self._request("Logoff", (), timeout=min(1.0, self.action_timeout), is_list=False)
        self._stopping.set()
        for task in reversed(self._tasks):
            task.cancel()
        for task in reversed(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    # ---- public API --------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while logged in."""
        return self._connected

    async def wait_connected(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - API contract
        """Wait until logged in; False if `timeout` passed first."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected_event.wait()
        except TimeoutError:
            return False
        return True

    @property
    def event_backlog(self) -> int:
        """Events read from the PBX and not yet applied by this instance."""
        return self._dispatcher.backlog

    def state(self) -> dict[str, Any]:
        """Small status dict for readiness probes."""
        return {
            "name": self.name,
            "connected": self._connected,
            "since": self._since.isoformat() if self._since else None,
            "last_error": self._last_error,
            "reconnects": self._reconnects,
            "dropped_events": self._dispatcher.dropped,
        }

    def add_listener(
        self, callback: EventCallback, *, events: Iterable[str] | None = None
    ) -> Callable[[], None]:
        """Call `callback(event)` (sync or async) for each event, in order; returns a remover."""
        return self._dispatcher.add_listener(callback, events)

    def add_run_listener(
        self, callback: RunCallback, *, events: Iterable[str] | None = None
    ) -> Callable[[], None]:
        """Call `callback(events)` (sync or async) with the events queued together, in order; returns a remover."""
        return self._dispatcher.add_run_listener(callback, events)

    def add_connection_listener(self, callback: ConnectionCallback) -> Callable[[], None]:
        """Call `callback(connected)` on login (True) and on connection loss (False); returns a remover."""
        return self._dispatcher.add_connection_listener(callback)

    def add_action_observer(self, observer: ActionObserver) -> None:
        """Tell ``observer`` how long each action sent took and how it ended (for latency metrics)."""
        self._action_observers.append(observer)

    async def send_action(
        self,
        name: str,
        fields: Fields = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - per-action deadline is part of the API
    ) -> AmiMessage:
        """Send one action and return its response; raises AmiActionError on `Response: Error`."""
        result: AmiMessage = await self._request(name, fields, timeout=timeout, is_list=False)
        return result

    async def send_list_action(
        self,
        name: str,
        fields: Fields = (),
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - per-action deadline is part of the API
    ) -> tuple[AmiMessage, list[AmiMessage]]:
        """Send an event-list action; return its response and its events (without the Complete one)."""
        result: tuple[AmiMessage, list[AmiMessage]] = await self._request(
            name, fields, timeout=timeout, is_list=True
        )
        return result

    # ---- actions -----------------------------------------------------------------------------

    async def _request(
        self,
        name: str,
        fields: Fields,
        *,
        timeout: float | None,  # noqa: ASYNC109 - applied with asyncio.timeout below
        is_list: bool,
        login: bool = False,
    ) -> Any:
        action_id = f"{self._id_prefix}-{next(self._ids)}"
        data = encode_action(name, fields, action_id)  # refuses injection before anything is sent
        writer = self._writer
        if writer is None or not (self._connected or login):
            raise AmiNotConnected(f"AMI {self.name} is not connected")
        loop = asyncio.get_running_loop()
        pending = _Pending(loop.create_future(), is_list)
        self._pending[action_id] = pending
        self._lists += is_list
        started, outcome = loop.time(), "lost"
        try:
            async with asyncio.timeout(self.action_timeout if timeout is None else timeout):
                async with self._write_lock:
                    if writer is not self._writer:
                        raise AmiConnectionLost(f"AMI {self.name} connection lost before {name} was sent")
                    try:
                        writer.write(data)
                        await writer.drain()
                    except (ConnectionError, OSError) as exc:
                        raise AmiConnectionLost(f"AMI {self.name} write failed: {exc}") from exc
                result = await pending.future
                outcome = "ok"
                return result
        except AmiActionError:
            outcome = "error"
            raise
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except TimeoutError as exc:
            outcome = "timeout"
            raise AmiActionTimeout(f"AMI {self.name}: no response to {name} ({action_id})") from exc
        finally:
            self._lists -= is_list
            self._pending.pop(action_id, None)
            for observer in self._action_observers:
                observer(name, loop.time() - started, outcome)

    def _on_message(self, msg: AmiMessage) -> None:
        if msg.kind == "response":
            action_id = msg.action_id
            pending = self._pending.get(action_id) if action_id is not None else None
            if pending is None or pending.future.done():
                return
            if msg.name == "Error":
                error = AmiActionError(msg.get("Message") or "AMI action failed", msg)
                pending.future.set_exception(error)
            elif pending.is_list and msg.get("EventList") == "start":
                pending.response = msg  # events follow; completed by the `EventList: Complete` event
            else:
                pending.future.set_result((msg, []) if pending.is_list else msg)
            return
        if msg.kind != "event":
            return
        if self._lists:
            action_id = msg.action_id
            pending = self._pending.get(action_id) if action_id is not None else None
            if pending is not None and pending.is_list and pending.response is not None:
                if msg.get("EventList") == "Complete":
                    if not pending.future.done():
                        pending.future.set_result((pending.response, pending.events))
                else:
                    pending.events.append(msg)
                return
        if msg.name not in self._ignored:
            self._dispatcher.push_event(msg)

    def _fail_pending(self, reason: str) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(AmiConnectionLost(reason))

    # ---- connection supervision -------------------------------------------------------------

    async def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._session()
            except (OSError, TimeoutError, AmiError, EOFError) as exc:
                self._last_error = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # noqa: BLE001 - logged with traceback, loop must survive
                # A bug must not end reconnecting for good: log it loudly and go round again.
                self._last_error = f"{type(exc).__name__}: {exc}"
                self._log.exception("AMI %s: unexpected error in connection supervisor", self.name)
            if self._connected_event.is_set():
                failures = 0  # this session had logged in: start backoff afresh
            self._set_down()
            if self._stopping.is_set():
                return
            delay = min(self.reconnect_max, self.reconnect_initial * (2**failures))
            delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
            failures += 1
            self._connected_event.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()

    async def _session(self) -> None:
        async with asyncio.timeout(self.connect_timeout):
            # with TLS the handshake (and the certificate check) is part of connecting: a PBX whose
            # certificate does not verify fails here (ssl.SSLError is an OSError) and is retried like a
            # refused connection, with its reason in state()["last_error"]
            reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.tls)
        self._writer = writer
        parser = AmiParser()
        read_task = asyncio.create_task(self._read_loop(reader, parser), name=f"ami-{self.name}-reader")
        ping_task: asyncio.Task[None] | None = None
        try:
            login = self._request(
                "Login",
                (("Username", self.username), ("Secret", self.__secret), ("Events", "on")),
                timeout=self.connect_timeout,
                is_list=False,
                login=True,
            )
            login_task = asyncio.create_task(login, name=f"ami-{self.name}-login")
            done, _ = await asyncio.wait({read_task, login_task}, return_when=asyncio.FIRST_COMPLETED)
            if login_task not in done:
                login_task.cancel()
                await asyncio.gather(login_task, return_exceptions=True)
                read_task.result()  # raises why the connection ended
                raise AmiConnectionLost("connection closed during login")
            try:
                login_task.result()
            except AmiActionError as exc:
                raise AmiLoginError(f"AMI {self.name} login refused: {exc.message}") from exc
            self.banner = parser.banner
            self._set_up()
            ping_task = asyncio.create_task(self._ping_loop(), name=f"ami-{self.name}-keepalive")
            done, _ = await asyncio.wait({read_task, ping_task}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            self._writer = None
            writer.transport.abort()
            tasks = [t for t in (read_task, ping_task) if t is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._connected = False
            self._fail_pending(f"AMI {self.name} connection lost")

    async def _read_loop(self, reader: asyncio.StreamReader, parser: AmiParser) -> None:
        on_message = self._on_message
        while True:
            data = await reader.read(_READ_SIZE)
            if not data:
                raise AmiConnectionLost("connection closed by the PBX")
            for msg in parser.feed(data):
                on_message(msg)

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self._request("Ping", (), timeout=self.pong_timeout, is_list=False)
            except AmiActionTimeout as exc:
                raise AmiPongTimeout(f"no Pong within {self.pong_timeout}s: PBX hung") from exc

    def _set_up(self) -> None:
        self._connected = True
        self._connected_event.set()
        self._since = datetime.now(UTC)
        if self._ever_connected:
            self._reconnects += 1
            self._log.info("AMI %s: connection restored (%s:%s)", self.name, self.host, self.port)
        else:
            self._log.info("AMI %s: connected to %s:%s (%s)", self.name, self.host, self.port, self.banner)
        self._ever_connected = True
        self._down_logged = False
        self._dispatcher.push_connection(True)

    def _set_down(self) -> None:
        was_up = self._connected_event.is_set()
        self._connected = False
        self._connected_event.clear()
        if was_up:
            self._since = datetime.now(UTC)
            self._dispatcher.push_connection(False)
        if not self._down_logged and not self._stopping.is_set():
            self._down_logged = True
            self._log.warning("AMI %s: connection down (%s); reconnecting", self.name, self._last_error)

