"""The gateway websocket: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME with replay.

A session outlives its websocket: events dispatched while the client is away are kept with their
sequence numbers and replayed on RESUME, as Discord does. Tests can close the socket with any
close code, send RECONNECT (op 7) or INVALID_SESSION (op 9) to exercise the client's recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord_server import payloads
from tests.fakes.discord_server.constants import API_VERSION, EVENT_INTENTS, CloseCode, Intent, Op
from tests.fakes.discord_server.model import JSON, GatewayFrame
from tests.fakes.discord_server.state import World

ProtocolErrorSink = Callable[[str, str], None]

# Close codes after which Discord does not accept a RESUME of the session.
_SESSION_ENDING_CODES = frozenset({1000, 1001, CloseCode.INVALID_SEQ, CloseCode.SESSION_TIMED_OUT})
_CLOSE = object()  # queue sentinel: close the socket after everything before it was sent


class _Compressor:
    """zlib-stream transport compression: one deflate stream per connection, sync-flushed."""

    def __init__(self) -> None:
        self._zlib = zlib.compressobj()

    def compress(self, text: str) -> bytes:
        return self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)


class _ZstdCompressor:
    """zstd-stream, used by discord.py when the `zstandard` module is installed."""

    def __init__(self) -> None:
        import zstandard  # type: ignore[import-not-found, unused-ignore]

        self._zstd = zstandard.ZstdCompressor().compressobj()
        self._flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK

    def compress(self, text: str) -> bytes:
        return bytes(self._zstd.compress(text.encode()) + self._zstd.flush(self._flush))


@dataclass
class Connection:
    """One websocket. It belongs to a session once IDENTIFY or RESUME succeeded."""

    ws: web.WebSocketResponse
    path: str  # "/gateway" or the resume URL's path
    compressor: _Compressor | _ZstdCompressor | None
    transport: asyncio.BaseTransport | None
    compress: str | None  # the transport compression the client asked for
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    session: GatewaySession | None = None
    heartbeats: int = 0


@dataclass
class GatewaySession:
    session_id: str
    intents: int
    shard: tuple[int, int]
    seq: int = 0
    sent: list[tuple[int, str, JSON]] = field(default_factory=list)
    connection: Connection | None = None
    resumable: bool = True
    compress: str | None = None
    disconnected_at: float = 0.0
    resumes: int = 0
    resume_paths: list[str] = field(default_factory=list)

    @property
    def connected(self) -> bool:
        return self.connection is not None and not self.connection.ws.closed

    def to_json(self) -> JSON:
        return {
            "session_id": self.session_id,
            "intents": self.intents,
            "shard": list(self.shard),
            "seq": self.seq,
            "connected": self.connected,
            "resumable": self.resumable,
            "compress": self.compress,
            "resumes": self.resumes,
            "resume_paths": list(self.resume_paths),
        }


class GatewayHub:
    def __init__(
        self,
        world: World,
        *,
        token: str,
        heartbeat_interval_ms: int,
        gateway_url: Callable[[], str],
        resume_url: Callable[[], str],
        protocol_error: ProtocolErrorSink,
        resume_window_s: float = 60.0,
    ) -> None:
        self.world = world
        self._token = token
        # How long Discord keeps a session without a socket (events buffered for RESUME).
        self.resume_window_s = resume_window_s
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self._gateway_url = gateway_url
        self._resume_url = resume_url
        self._protocol_error = protocol_error
        self.sessions: list[GatewaySession] = []
        self.connections: list[Connection] = []
        self.frames: list[GatewayFrame] = []
        self._session_counter = 0
        self._writers: set[asyncio.Task[None]] = set()
        self._accepting = asyncio.Event()
        self._accepting.set()
        self.held_handshakes = 0

    # ------------------------------------------------------------------ public

    @property
    def live_sessions(self) -> list[GatewaySession]:
        return [s for s in self.sessions if s.connected]

    def dispatch(self, event: str, data: JSON, guild_id: int | None) -> int:
        """Send a DISPATCH to every session that should get it; returns how many did."""
        delivered = 0
        for session in self.sessions:
            self._expire(session)
            if not session.resumable:
                continue
            shard_id, shard_count = session.shard
            if guild_id is not None and (guild_id >> 22) % shard_count != shard_id:
                continue
            needed = EVENT_INTENTS.get(event)
            if needed is not None and not session.intents & needed:
                continue
            self._send_dispatch(session, event, self._filtered(session, event, data))
            delivered += 1
        return delivered

    async def close_connections(self, code: int) -> None:
        """Close every live socket with `code` (a session-ending code makes it unresumable)."""
        for connection in list(self.connections):
            if connection.session is not None and code in _SESSION_ENDING_CODES:
                connection.session.resumable = False
            await self._close(connection, code)

    async def drop_connections(self) -> None:
        """Cut every socket without a close frame, as a network failure would."""
        for connection in list(self.connections):
            if isinstance(connection.transport, asyncio.Transport):
                connection.transport.abort()
            self._detach(connection)

    def request_reconnect(self) -> None:
        for connection in list(self.connections):
            if connection.session is not None:
                self._enqueue(connection, {"op": Op.RECONNECT, "d": None})

    def invalidate_sessions(self, *, resumable: bool) -> None:
        for connection in list(self.connections):
            if connection.session is None:
                continue
            if not resumable:
                connection.session.resumable = False
            self._enqueue(connection, {"op": Op.INVALID_SESSION, "d": resumable})

    async def shutdown(self) -> None:
        self._accepting.set()
        for connection in list(self.connections):
            await self._close(connection, 1001)
        for task in list(self._writers):
            task.cancel()
        for task in list(self._writers):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ------------------------------------------------------------------ websocket

    def hold_new_connections(self) -> None:
        """New gateway handshakes wait (as during a gateway outage) until released."""
        self._accepting.clear()

    def release_new_connections(self) -> None:
        self._accepting.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.held_handshakes += 0 if self._accepting.is_set() else 1
        await self._accepting.wait()
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        version = request.query.get("v")
        encoding = request.query.get("encoding", "json")
        compress = request.query.get("compress")
        compressor: _Compressor | _ZstdCompressor | None = None
        if compress == "zlib-stream":
            compressor = _Compressor()
        elif compress == "zstd-stream":
            try:
                compressor = _ZstdCompressor()
            except ImportError:
                self._gateway_error(
                    "gateway_unsupported_compression", "zstd-stream asked, zstandard missing"
                )
        elif compress is not None:
            self._gateway_error("gateway_bad_query", f"unknown compress={compress!r}")
        connection = Connection(ws, request.path, compressor, request.transport, compress)
        self.connections.append(connection)
        writer = asyncio.create_task(self._writer(connection))
        self._writers.add(writer)
        writer.add_done_callback(self._writers.discard)
        try:
            if version != str(API_VERSION):
                self._gateway_error(
                    "gateway_bad_query", f"v={version!r}, Discord speaks v{API_VERSION}"
                )
                await self._close(connection, CloseCode.INVALID_API_VERSION)
                return ws
            if encoding != "json":
                self._gateway_error(
                    "gateway_bad_query", f"encoding={encoding!r}, the fake speaks json"
                )
                await self._close(connection, CloseCode.DECODE_ERROR)
                return ws
            self._enqueue(
                connection,
                {"op": Op.HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}},
            )
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    if message.type == WSMsgType.BINARY:
                        self._gateway_error("gateway_decode_error", "binary frame from client")
                        await self._close(connection, CloseCode.DECODE_ERROR)
                    break
                await self._received(connection, message.data)
        finally:
            self._detach(connection)
            writer.cancel()
        return ws

    async def _received(self, connection: Connection, text: str) -> None:
        try:
            payload = json.loads(text)
            op = payload["op"]
            data = payload.get("d")
        except (ValueError, KeyError, TypeError):
            self._gateway_error("gateway_decode_error", f"undecodable payload {text[:80]!r}")
            await self._close(connection, CloseCode.DECODE_ERROR)
            return
        session_id = connection.session.session_id if connection.session else None
        self._record("in", session_id, op, None, None, _redacted(op, data))
        if op == Op.HEARTBEAT:
            connection.heartbeats += 1
            self._enqueue(connection, {"op": Op.HEARTBEAT_ACK, "d": None})
        elif op == Op.IDENTIFY:
            await self._identify(connection, data)
        elif op == Op.RESUME:
            await self._resume(connection, data)
        elif connection.session is None:
            self._gateway_error("gateway_not_authenticated", f"op {op} before IDENTIFY")
            await self._close(connection, CloseCode.NOT_AUTHENTICATED)
        elif op == Op.PRESENCE_UPDATE:
            self.world.presence_updates.append(data)
        elif op == Op.VOICE_STATE_UPDATE:
            pass  # no voice in the fake; Discord would answer with VOICE_STATE_UPDATE
        elif op == Op.REQUEST_GUILD_MEMBERS:
            self._members_chunk(connection.session, data)
        else:
            self._gateway_error("gateway_unknown_opcode", f"op {op}")
            await self._close(connection, CloseCode.UNKNOWN_OPCODE)

    async def _identify(self, connection: Connection, data: Any) -> None:
        if connection.session is not None:
            self._gateway_error(
                "gateway_already_authenticated", "second IDENTIFY on one connection"
            )
            await self._close(connection, CloseCode.ALREADY_AUTHENTICATED)
            return
        if not isinstance(data, dict) or data.get("token") != self._token:
            self._gateway_error("gateway_authentication_failed", "IDENTIFY with a wrong token")
            await self._close(connection, CloseCode.AUTHENTICATION_FAILED)
            return
        intents = data.get("intents")
        if (
            not isinstance(intents, int)
            or isinstance(intents, bool)
            or intents < 0
            or intents > Intent.ALL
        ):
            self._gateway_error("gateway_invalid_intents", f"intents={intents!r}")
            await self._close(connection, CloseCode.INVALID_INTENTS)
            return
        if intents & Intent.PRIVILEGED & ~self.world.privileged_intents:
            self._gateway_error(
                "gateway_disallowed_intents",
                f"privileged intents {intents & Intent.PRIVILEGED:#x} not enabled",
            )
            await self._close(connection, CloseCode.DISALLOWED_INTENTS)
            return
        shard = data.get("shard") or [0, 1]
        if not (isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]):
            self._gateway_error("gateway_invalid_shard", f"shard={shard!r}")
            await self._close(connection, CloseCode.INVALID_SHARD)
            return
        properties = data.get("properties")
        if not isinstance(properties, dict) or not {"os", "browser", "device"} <= set(properties):
            self._gateway_error(
                "gateway_decode_error", "IDENTIFY without properties os/browser/device"
            )
            await self._close(connection, CloseCode.DECODE_ERROR)
            return
        self._session_counter += 1
        session = GatewaySession(
            f"{self._session_counter:08d}" + "f" * 24,
            intents,
            (shard[0], shard[1]),
            compress=connection.compress,
        )
        self.sessions.append(session)
        self._attach(connection, session)
        ready: JSON = {
            "v": API_VERSION,
            "user_settings": {},
            "user": payloads.current_user(self.world.bot),
            "session_type": "normal",
            "session_id": session.session_id,
            "resume_gateway_url": self._resume_url(),
            "relationships": [],
            "private_channels": [],
            "presences": [],
            "guilds": [
                {"id": str(g.id), "unavailable": True}
                for g in self.world.guilds.values()
                if self._on_shard(session, g.id)
            ],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["local"],
            "auth": {},
            "application": {
                "id": str(self.world.application_id),
                "flags": self.world.application_flags,
            },
            "_trace": ['["fake-discord-gateway",{"micros":0}]'],
        }
        if data.get("shard") is not None:
            ready["shard"] = list(session.shard)
        self._send_dispatch(session, "READY", ready)
        if intents & Intent.GUILDS:
            for guild in self.world.guilds.values():
                if self._on_shard(session, guild.id):
                    event = payloads.guild_create(
                        self.world, guild, include_all_members=bool(intents & Intent.GUILD_MEMBERS)
                    )
                    self._send_dispatch(session, "GUILD_CREATE", event)
        self.world.changed()

    async def _resume(self, connection: Connection, data: Any) -> None:
        if not isinstance(data, dict) or data.get("token") != self._token:
            self._gateway_error("gateway_authentication_failed", "RESUME with a wrong token")
            await self._close(connection, CloseCode.AUTHENTICATION_FAILED)
            return
        session = next((s for s in self.sessions if s.session_id == data.get("session_id")), None)
        if session is not None:
            self._expire(session)
        seq = data.get("seq")
        if (
            session is None
            or not session.resumable
            or not isinstance(seq, int)
            or seq > session.seq
        ):
            # Discord answers an unusable RESUME with INVALID_SESSION(false): identify again.
            self._enqueue(connection, {"op": Op.INVALID_SESSION, "d": False})
            return
        if session.connection is not None and session.connection is not connection:
            await self._close(session.connection, CloseCode.UNKNOWN_ERROR)
        session.resumes += 1
        session.resume_paths.append(connection.path)
        # Replay, then RESUMED, then whatever comes next: all queued before any await.
        for number, event, event_data in session.sent:
            if number > seq:
                self._enqueue(
                    connection, {"op": Op.DISPATCH, "t": event, "s": number, "d": event_data}
                )
        connection.session = session
        session.connection = connection
        self._send_dispatch(
            session, "RESUMED", {"_trace": ['["fake-discord-gateway",{"micros":0}]']}
        )
        self.world.changed()

    def _members_chunk(self, session: GatewaySession, data: Any) -> None:
        if not isinstance(data, dict) or "guild_id" not in data:
            self._gateway_error("gateway_decode_error", "REQUEST_GUILD_MEMBERS without guild_id")
            return
        guild_id = int(data["guild_id"])
        members = self.world.members_of(guild_id)
        not_found: list[str] = []
        if data.get("user_ids"):
            wanted = [int(u) for u in data["user_ids"]]
            by_id = {m.id: m for m in members}
            members = [by_id[u] for u in wanted if u in by_id]
            not_found = [str(u) for u in wanted if u not in by_id]
        else:
            query = str(data.get("query") or "").lower()
            members = [m for m in members if m.user.username.lower().startswith(query)]
            limit = int(data.get("limit") or 0)
            if limit:
                members = members[:limit]
        event: JSON = {
            "guild_id": str(guild_id),
            "members": [payloads.member(m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": not_found,
        }
        if data.get("nonce") is not None:
            event["nonce"] = data["nonce"]
        self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", event)

    # ------------------------------------------------------------------ plumbing

    def _expire(self, session: GatewaySession) -> None:
        """A session nobody resumed within the window is gone, as on Discord."""
        idle = self.world.now() - session.disconnected_at
        if session.connection is None and idle > self.resume_window_s:
            session.resumable = False

    def _on_shard(self, session: GatewaySession, guild_id: int) -> bool:
        return (guild_id >> 22) % session.shard[1] == session.shard[0]

    def _filtered(self, session: GatewaySession, event: str, data: JSON) -> JSON:
        if event == "GUILD_CREATE" and not session.intents & Intent.GUILD_MEMBERS:
            data = dict(data)
            data["members"] = [
                m for m in data["members"] if m["user"]["id"] == str(self.world.bot.id)
            ]
        if (
            event in ("MESSAGE_CREATE", "MESSAGE_UPDATE")
            and not session.intents & Intent.MESSAGE_CONTENT
        ):
            bot_id = str(self.world.bot.id)
            mentioned = any(m.get("id") == bot_id for m in data.get("mentions", []))
            if data.get("author", {}).get("id") != bot_id and not mentioned:
                data = dict(data)
                data.update({"content": "", "embeds": [], "attachments": [], "components": []})
                data.pop("poll", None)
        return data

    def _send_dispatch(self, session: GatewaySession, event: str, data: JSON | None) -> None:
        session.seq += 1
        session.sent.append((session.seq, event, data or {}))
        if session.connection is not None and not session.connection.ws.closed:
            self._enqueue(
                session.connection, {"op": Op.DISPATCH, "t": event, "s": session.seq, "d": data}
            )

    def _enqueue(self, connection: Connection, payload: JSON) -> None:
        connection.queue.put_nowait(payload)

    async def _writer(self, connection: Connection) -> None:
        while True:
            payload = await connection.queue.get()
            if payload is _CLOSE:
                return
            if connection.ws.closed:
                continue
            session_id = connection.session.session_id if connection.session else None
            self._record(
                "out",
                session_id,
                payload["op"],
                payload.get("t"),
                payload.get("s"),
                payload.get("d"),
            )
            text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            try:
                if connection.compressor is not None:
                    await connection.ws.send_bytes(connection.compressor.compress(text))
                else:
                    await connection.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def _attach(self, connection: Connection, session: GatewaySession) -> None:
        connection.session = session
        session.connection = connection

    def _detach(self, connection: Connection) -> None:
        if connection in self.connections:
            self.connections.remove(connection)
        if connection.session is not None and connection.session.connection is connection:
            connection.session.connection = None
            connection.session.disconnected_at = self.world.now()
        connection.queue.put_nowait(_CLOSE)
        self.world.changed()

    async def _close(self, connection: Connection, code: int) -> None:
        self._detach(connection)
        if not connection.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await connection.ws.close(code=code)

    def _gateway_error(self, kind: str, detail: str) -> None:
        self._protocol_error(kind, detail)

    def _record(
        self, direction: str, session_id: str | None, op: int, t: str | None, s: int | None, d: Any
    ) -> None:
        self.frames.append(GatewayFrame(self.world.now(), session_id, direction, int(op), t, s, d))


def _redacted(op: int, data: Any) -> Any:
    """Drop the token from IDENTIFY/RESUME before the frame is recorded."""
    if op in (Op.IDENTIFY, Op.RESUME) and isinstance(data, dict) and "token" in data:
        return {**data, "token": "<redacted>"}
    return data
