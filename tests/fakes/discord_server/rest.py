"""Discord's REST API (v10), the routes a bot built on discord.py uses.

Route templates use discord.py's parameter names
(`/interactions/{webhook_id}/{webhook_token}/callback`),
so "METHOD template" is the same key discord.py buckets rate limits by, and the key a test names
when it injects a 429.

Every answer is JSON with Content-Type exactly `application/json` (discord.py compares the header
verbatim) and a `Via` header (discord.py treats a 429 without one as a Cloudflare ban).
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web

from tests.fakes.discord_server import payloads
from tests.fakes.discord_server.constants import (
    API_VERSION,
    CallbackType,
    ChannelType,
    ErrorCode,
    Intent,
    InteractionType,
    MessageFlag,
    MessageType,
    Permission,
)
from tests.fakes.discord_server.errors import ApiError, FormErrors, not_found
from tests.fakes.discord_server.gateway import GatewayHub
from tests.fakes.discord_server.model import JSON, Channel, Interaction, Message, RestCall
from tests.fakes.discord_server.ratelimits import RateLimiter
from tests.fakes.discord_server.records import Recorder
from tests.fakes.discord_server.state import World
from tests.fakes.discord_server.validation import (
    MessageBody,
    Upload,
    parse_message_body,
    parse_thread_body,
    require_object,
    validate_autocomplete,
    validate_command,
    validate_commands,
    validate_modal,
)

_log = logging.getLogger("fake_discord")
API_PREFIX = f"/api/v{API_VERSION}"
_ALLOWED_CALLBACKS: dict[int, frozenset[int]] = {
    InteractionType.PING: frozenset({CallbackType.PONG}),
    InteractionType.APPLICATION_COMMAND: frozenset(
        {
            CallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.MODAL,
        }
    ),
    InteractionType.MESSAGE_COMPONENT: frozenset(
        {
            CallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.DEFERRED_UPDATE_MESSAGE,
            CallbackType.UPDATE_MESSAGE,
            CallbackType.MODAL,
        }
    ),
    InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE: frozenset(
        {CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT}
    ),
    InteractionType.MODAL_SUBMIT: frozenset(
        {
            CallbackType.CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.DEFERRED_UPDATE_MESSAGE,
            CallbackType.UPDATE_MESSAGE,
        }
    ),
}


@dataclass
class RestRequest:
    method: str
    path: str
    route: str
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    uploads: list[Upload]

    def id(self, name: str) -> int:
        value = self.params[name]
        if not value.isdigit():
            raise ApiError(404, ErrorCode.GENERAL, "404: Not Found", kind="unknown_route")
        return int(value)

    def flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("1", "true")


@dataclass
class Reply:
    status: int
    body: Any = None


Handler = Callable[[RestRequest], Awaitable[Reply]]


@dataclass(frozen=True)
class _Route:
    method: str
    template: str
    segments: tuple[str, ...]
    handler: Handler
    needs_bot_auth: bool

    @property
    def literal_count(self) -> int:
        return sum(1 for s in self.segments if not s.startswith("{"))


@dataclass
class InteractionTiming:
    ack_timeout: float = 3.0  # Discord fails an interaction not acknowledged within 3 s
    token_ttl: float = 900.0  # interaction tokens work for 15 minutes


@dataclass
class RestApi:
    world: World
    hub: GatewayHub
    limiter: RateLimiter
    recorder: Recorder
    token: str
    gateway_url: Callable[[], str]
    timing: InteractionTiming = field(default_factory=InteractionTiming)
    _routes: list[_Route] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._register()

    # ------------------------------------------------------------------ plumbing

    def _add(self, method: str, template: str, handler: Handler, *, bot_auth: bool = True) -> None:
        segments = tuple(template.strip("/").split("/"))
        self._routes.append(_Route(method, template, segments, handler, bot_auth))

    def _match(self, method: str, segments: list[str]) -> tuple[_Route, dict[str, str]]:
        candidates: list[tuple[_Route, dict[str, str]]] = []
        for route in self._routes:
            if len(route.segments) != len(segments):
                continue
            params: dict[str, str] = {}
            for pattern, actual in zip(route.segments, segments, strict=True):
                if pattern.startswith("{"):
                    if not actual:
                        break
                    params[pattern[1:-1]] = actual
                elif pattern != actual:
                    break
            else:
                candidates.append((route, params))
        if not candidates:
            raise ApiError(404, ErrorCode.GENERAL, "404: Not Found", kind="unknown_route")
        same_method = [c for c in candidates if c[0].method == method]
        if not same_method:
            raise ApiError(
                405, ErrorCode.GENERAL, "405: Method Not Allowed", kind="method_not_allowed"
            )
        return max(same_method, key=lambda c: c[0].literal_count)

    async def handle(self, http: web.Request) -> web.StreamResponse:
        at = self.world.now()
        method = http.method
        raw = http.rel_url.raw_path
        path = raw[len(API_PREFIX) :] if raw.startswith(API_PREFIX + "/") else raw
        query = {k: v for k, v in http.query.items()}
        route: _Route | None = None
        body: Any = None
        uploads: list[Upload] = []
        authorized = http.headers.get("Authorization") == f"Bot {self.token}"
        headers: dict[str, str] = {}
        try:
            if not raw.startswith(API_PREFIX + "/"):
                raise ApiError(404, ErrorCode.GENERAL, "404: Not Found", kind="unknown_route")
            segments = [unquote(s) for s in path.strip("/").split("/")]
            route, params = self._match(method, segments)
            body, uploads = await self._read_body(http)
            if route.needs_bot_auth and not authorized:
                raise ApiError(401, ErrorCode.GENERAL, "401: Unauthorized", kind="unauthorized")
            major = "+".join(
                params[k]
                for k in ("channel_id", "guild_id", "webhook_id", "webhook_token")
                if k in params
            )
            verdict = self.limiter.check(method, route.template, path, major)
            if verdict is not None:
                headers = self.limiter.limited_headers(method, route.template, verdict)
                if verdict.ignored_previous:
                    self.recorder.protocol_error(
                        "rate_limit_ignored",
                        f"request {verdict.retry_after:.3f}s before the previous 429's "
                        "retry_after was over",
                        f"{method} {path}",
                        status=429,
                    )
                reply_body = {
                    "message": "You are being rate limited.",
                    "retry_after": round(verdict.retry_after, 3),
                    "global": verdict.is_global,
                    "code": ErrorCode.GENERAL,
                }
                return self._finish(
                    at,
                    method,
                    path,
                    route,
                    query,
                    body,
                    uploads,
                    authorized,
                    429,
                    reply_body,
                    headers,
                    None,
                )
            headers = self.limiter.headers(method, route.template, major)
            request = RestRequest(method, path, route.template, params, query, body, uploads)
            reply = await route.handler(request)
            return self._finish(
                at,
                method,
                path,
                route,
                query,
                body,
                uploads,
                authorized,
                reply.status,
                reply.body,
                headers,
                None,
            )
        except ApiError as error:
            self.recorder.protocol_error(
                error.kind,
                _describe_error(error),
                f"{method} {path}",
                status=error.status,
                code=error.code,
            )
            return self._finish(
                at,
                method,
                path,
                route,
                query,
                body,
                uploads,
                authorized,
                error.status,
                error.body(),
                headers,
                error.code,
            )
        except Exception:
            # A bug in the fake, not the client: answer 400 (discord.py retries a 500 for seconds)
            # and record it so the test fails with the traceback.
            _log.exception("fake Discord failed on %s %s", method, path)
            self.recorder.protocol_error(
                "fake_internal_error", traceback.format_exc(limit=6), f"{method} {path}", status=400
            )
            failed = {"message": "fake Discord internal error (see protocol_errors)", "code": 0}
            return self._finish(
                at, method, path, route, query, body, uploads, authorized, 400, failed, headers, 0
            )

    def _finish(
        self,
        at: float,
        method: str,
        path: str,
        route: _Route | None,
        query: dict[str, str],
        body: Any,
        uploads: list[Upload],
        authorized: bool,
        status: int,
        reply_body: Any,
        headers: dict[str, str],
        error_code: int | None,
    ) -> web.Response:
        self.recorder.rest_call(
            RestCall(
                seq=self.recorder.next_seq(),
                at=at,
                method=method,
                path=path,
                route="" if route is None else route.template,
                query=query,
                status=status,
                body=body,
                files=[
                    {
                        "field": u.field,
                        "filename": u.filename,
                        "size": len(u.data),
                        "content_type": u.content_type,
                    }
                    for u in uploads
                ],
                error_code=error_code,
                authorized=authorized,
            )
        )
        return json_response(status, reply_body, headers)

    async def _read_body(self, http: web.Request) -> tuple[Any, list[Upload]]:
        if not http.body_exists:
            return None, []
        content_type = http.content_type
        if content_type == "multipart/form-data":
            return await self._read_multipart(http)
        raw = await http.read()
        if not raw:
            return None, []
        if content_type != "application/json":
            raise ApiError(
                400,
                ErrorCode.INVALID_JSON,
                "The request body contains invalid JSON.",
                kind="invalid_json",
            )
        try:
            return json.loads(raw), []
        except (ValueError, UnicodeDecodeError):
            raise ApiError(
                400,
                ErrorCode.INVALID_JSON,
                "The request body contains invalid JSON.",
                kind="invalid_json",
            ) from None

    async def _read_multipart(self, http: web.Request) -> tuple[Any, list[Upload]]:
        body: Any = None
        uploads: list[Upload] = []
        try:
            reader = await http.multipart()
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader):
                    raise ValueError("nested multipart")
                name = part.name or ""
                data = await part.read(decode=False)
                if name == "payload_json":
                    body = json.loads(bytes(data))
                elif part.filename is not None:
                    uploads.append(
                        Upload(name, part.filename, bytes(data), part.headers.get("Content-Type"))
                    )
        except (ValueError, UnicodeDecodeError, AssertionError):
            raise ApiError(
                400,
                ErrorCode.INVALID_JSON,
                "The request body contains invalid JSON.",
                kind="invalid_json",
            ) from None
        return body, uploads

    # ------------------------------------------------------------------ route table

    def _register(self) -> None:
        add = self._add
        add("GET", "/gateway", self.get_gateway, bot_auth=False)
        add("GET", "/gateway/bot", self.get_gateway_bot)
        add("GET", "/users/@me", self.get_me)
        add("GET", "/users/{user_id}", self.get_user)
        add("GET", "/oauth2/applications/@me", self.get_application)
        add("GET", "/applications/@me", self.get_application)

        for prefix in (
            "/applications/{application_id}",
            "/applications/{application_id}/guilds/{guild_id}",
        ):
            add("GET", f"{prefix}/commands", self.get_commands)
            add("PUT", f"{prefix}/commands", self.put_commands)
            add("POST", f"{prefix}/commands", self.post_command)
            add("GET", f"{prefix}/commands/{{command_id}}", self.get_command)
            add("PATCH", f"{prefix}/commands/{{command_id}}", self.patch_command)
            add("DELETE", f"{prefix}/commands/{{command_id}}", self.delete_command)
        add(
            "GET",
            "/applications/{application_id}/guilds/{guild_id}/commands/permissions",
            self.get_command_permissions,
        )

        add("GET", "/guilds/{guild_id}", self.get_guild)
        add("GET", "/guilds/{guild_id}/channels", self.get_guild_channels)
        add("GET", "/guilds/{guild_id}/roles", self.get_guild_roles)
        add("GET", "/guilds/{guild_id}/members", self.get_guild_members)
        add("GET", "/guilds/{guild_id}/members/{member_id}", self.get_guild_member)
        add("GET", "/guilds/{guild_id}/threads/active", self.get_active_threads)

        add("GET", "/channels/{channel_id}", self.get_channel)
        add("PATCH", "/channels/{channel_id}", self.patch_channel)
        add("DELETE", "/channels/{channel_id}", self.delete_channel)
        add("GET", "/channels/{channel_id}/messages", self.get_messages)
        add("POST", "/channels/{channel_id}/messages", self.post_message)
        add("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message)
        add("PATCH", "/channels/{channel_id}/messages/{message_id}", self.patch_message)
        add("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message)
        add("POST", "/channels/{channel_id}/typing", self.post_typing)
        add(
            "PUT",
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
            self.put_reaction,
        )
        add(
            "DELETE",
            "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
            self.delete_reaction,
        )
        add(
            "POST",
            "/channels/{channel_id}/messages/{message_id}/threads",
            self.post_thread_from_message,
        )
        add("POST", "/channels/{channel_id}/threads", self.post_thread)
        add("GET", "/channels/{channel_id}/thread-members", self.get_thread_members)
        add("GET", "/channels/{channel_id}/thread-members/{user_id}", self.get_thread_member)
        add("PUT", "/channels/{channel_id}/thread-members/@me", self.put_thread_member)
        add("PUT", "/channels/{channel_id}/thread-members/{user_id}", self.put_thread_member)
        add("DELETE", "/channels/{channel_id}/thread-members/@me", self.delete_thread_member)
        add("DELETE", "/channels/{channel_id}/thread-members/{user_id}", self.delete_thread_member)

        add(
            "POST",
            "/interactions/{webhook_id}/{webhook_token}/callback",
            self.interaction_callback,
            bot_auth=False,
        )
        add("POST", "/webhooks/{webhook_id}/{webhook_token}", self.post_followup, bot_auth=False)
        for template in (
            "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
            "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}",
        ):
            add("GET", template, self.get_webhook_message, bot_auth=False)
            add("PATCH", template, self.patch_webhook_message, bot_auth=False)
            add("DELETE", template, self.delete_webhook_message, bot_auth=False)

    # ------------------------------------------------------------------ gateway, users, app

    async def get_gateway(self, req: RestRequest) -> Reply:
        return Reply(200, {"url": self.gateway_url()})

    async def get_gateway_bot(self, req: RestRequest) -> Reply:
        return Reply(
            200,
            {
                "url": self.gateway_url(),
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            },
        )

    async def get_me(self, req: RestRequest) -> Reply:
        return Reply(200, payloads.current_user(self.world.bot))

    async def get_user(self, req: RestRequest) -> Reply:
        user = self.world.users.get(req.id("user_id"))
        if user is None:
            raise not_found(ErrorCode.UNKNOWN_USER, "User")
        return Reply(200, payloads.user(user))

    async def get_application(self, req: RestRequest) -> Reply:
        return Reply(200, payloads.application(self.world))

    # ------------------------------------------------------------------ application commands

    def _command_scope(self, req: RestRequest) -> int | None:
        if req.id("application_id") != self.world.application_id:
            raise ApiError(403, 50001, "Missing Access", kind="missing_access")
        if "guild_id" not in req.params:
            return None
        guild_id = req.id("guild_id")
        if guild_id not in self.world.guilds:
            raise ApiError(403, 50001, "Missing Access", kind="missing_access")
        return guild_id

    async def get_commands(self, req: RestRequest) -> Reply:
        return Reply(200, self.world.commands.get(self._command_scope(req), []))

    async def put_commands(self, req: RestRequest) -> Reply:
        scope = self._command_scope(req)
        commands = validate_commands(req.body)
        return Reply(200, self.world.overwrite_commands(scope, commands))

    async def post_command(self, req: RestRequest) -> Reply:
        scope = self._command_scope(req)
        command = validate_command(req.body)
        existed = (
            self.world.command_named(scope, command["name"], kind=command.get("type", 1))
            is not None
        )
        return Reply(200 if existed else 201, self.world.upsert_command(scope, command))

    async def get_command(self, req: RestRequest) -> Reply:
        return Reply(200, self.world.find_command(self._command_scope(req), req.id("command_id")))

    async def patch_command(self, req: RestRequest) -> Reply:
        scope = self._command_scope(req)
        current = self.world.find_command(scope, req.id("command_id"))
        changes = require_object(req.body)
        merged = {**current, **{k: v for k, v in changes.items() if k != "id"}}
        validate_command(merged)
        return Reply(200, self.world.upsert_command(scope, merged))

    async def delete_command(self, req: RestRequest) -> Reply:
        self.world.delete_command(self._command_scope(req), req.id("command_id"))
        return Reply(204)

    async def get_command_permissions(self, req: RestRequest) -> Reply:
        self._command_scope(req)
        return Reply(200, [])

    # ------------------------------------------------------------------ guilds

    def _guild(self, req: RestRequest) -> int:
        guild_id = req.id("guild_id")
        self.world.guild(guild_id)
        return guild_id

    async def get_guild(self, req: RestRequest) -> Reply:
        guild = self.world.guild(req.id("guild_id"))
        body = payloads.guild_create(self.world, guild, include_all_members=False)
        for key in (
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
            "joined_at",
            "large",
            "member_count",
        ):
            body.pop(key, None)
        if req.flag("with_counts"):
            body["approximate_member_count"] = len(self.world.members_of(guild.id))
            body["approximate_presence_count"] = 0
        return Reply(200, body)

    async def get_guild_channels(self, req: RestRequest) -> Reply:
        guild_id = self._guild(req)
        return Reply(
            200,
            [
                payloads.channel(self.world, c)
                for c in self.world.channels_of(guild_id)
                if not c.is_thread
            ],
        )

    async def get_guild_roles(self, req: RestRequest) -> Reply:
        return Reply(200, [payloads.role(r) for r in self.world.roles_of(self._guild(req))])

    async def get_guild_members(self, req: RestRequest) -> Reply:
        guild_id = self._guild(req)
        if not self.world.privileged_intents & Intent.GUILD_MEMBERS:
            raise ApiError(403, 50001, "Missing Access", kind="missing_access")
        limit = _int_param(req, "limit", 1, low=1, high=1000)
        after = _int_param(req, "after", 0, low=0, high=2**64)
        members = sorted(
            (m for m in self.world.members_of(guild_id) if m.id > after), key=lambda m: m.id
        )
        return Reply(200, [payloads.member(m) for m in members[:limit]])

    async def get_guild_member(self, req: RestRequest) -> Reply:
        return Reply(200, payloads.member(self.world.member(self._guild(req), req.id("member_id"))))

    async def get_active_threads(self, req: RestRequest) -> Reply:
        guild_id = self._guild(req)
        threads = [c for c in self.world.channels_of(guild_id) if c.is_thread and not c.archived]
        members = [
            payloads.thread_member(self.world, t, self.world.bot.id)
            for t in threads
            if self.world.bot.id in t.member_ids
        ]
        return Reply(
            200, {"threads": [payloads.channel(self.world, t) for t in threads], "members": members}
        )

    # ------------------------------------------------------------------ channels and messages

    def _channel(self, req: RestRequest) -> Channel:
        channel = self.world.channel(req.id("channel_id"))
        self.world.require(channel, self.world.bot.id)
        return channel

    def _message(self, req: RestRequest, channel: Channel) -> Message:
        message = self.world.message(channel.id, req.id("message_id"))
        if message.ephemeral:
            raise not_found(ErrorCode.UNKNOWN_MESSAGE, "Message")
        return message

    async def get_channel(self, req: RestRequest) -> Reply:
        return Reply(200, payloads.channel(self.world, self._channel(req)))

    async def patch_channel(self, req: RestRequest) -> Reply:
        channel = self._channel(req)
        data = require_object(req.body)
        errors = FormErrors()
        changes: dict[str, Any] = {}
        if "name" in data:
            name = data["name"]
            if not isinstance(name, str) or not 1 <= len(name) <= 100:
                errors.add(
                    ("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                )
            changes["name"] = name
        if channel.is_thread:
            own = channel.owner_id == self.world.bot.id
            for key in ("archived", "locked", "invitable"):
                if key in data:
                    if not isinstance(data[key], bool):
                        errors.add((key,), "BASE_TYPE_BOOLEAN", "Must be either true or false.")
                    changes[key] = data[key]
            if "auto_archive_duration" in data:
                if data["auto_archive_duration"] not in (60, 1440, 4320, 10080):
                    errors.add(
                        ("auto_archive_duration",),
                        "BASE_TYPE_CHOICES",
                        "Value must be one of {60, 1440, 4320, 10080}.",
                    )
                changes["auto_archive_duration"] = data["auto_archive_duration"]
            errors.raise_if_any()
            needs_manage = "locked" in changes or not own
            if needs_manage:
                self.world.require(channel, self.world.bot.id, Permission.MANAGE_THREADS)
            return Reply(
                200, payloads.channel(self.world, self.world.update_thread(channel, **changes))
            )
        if "topic" in data:
            changes["topic"] = data["topic"]
        errors.raise_if_any()
        self.world.require(channel, self.world.bot.id, Permission.MANAGE_CHANNELS)
        for key, value in changes.items():
            setattr(channel, key, value)
        self.world.dispatch(
            "CHANNEL_UPDATE", payloads.channel(self.world, channel), channel.guild_id
        )
        self.world.changed()
        return Reply(200, payloads.channel(self.world, channel))

    async def delete_channel(self, req: RestRequest) -> Reply:
        channel = self._channel(req)
        if not channel.is_thread:
            self.world.require(channel, self.world.bot.id, Permission.MANAGE_CHANNELS)
        else:
            self.world.require(channel, self.world.bot.id, Permission.MANAGE_THREADS)
        body = payloads.channel(self.world, channel)
        del self.world.channels[channel.id]
        event = "THREAD_DELETE" if channel.is_thread else "CHANNEL_DELETE"
        self.world.dispatch(event, body, channel.guild_id)
        self.world.changed()
        return Reply(200, body)

    async def get_messages(self, req: RestRequest) -> Reply:
        channel = self._channel(req)
        self.world.require(channel, self.world.bot.id, Permission.READ_MESSAGE_HISTORY)
        limit = _int_param(req, "limit", 50, low=1, high=100)
        found = [m for m in self.world.channel_messages(channel.id) if not m.ephemeral]
        if "before" in req.query:
            before = _int_param(req, "before", 0, low=0, high=2**64)
            found = [m for m in found if m.id < before]
        if "after" in req.query:
            after = _int_param(req, "after", 0, low=0, high=2**64)
            found = [m for m in found if m.id > after][:limit]
        if "around" in req.query:
            around = _int_param(req, "around", 0, low=0, high=2**64)
            older = [m for m in found if m.id <= around][-((limit + 1) // 2) :]
            newer = [m for m in found if m.id > around][: limit // 2]
            found = older + newer
        newest_first = sorted(found, key=lambda m: m.id, reverse=True)[:limit]
        return Reply(200, [payloads.message(self.world, m) for m in newest_first])

    async def post_message(self, req: RestRequest) -> Reply:
        channel = self._channel(req)
        body = parse_message_body(req.body, req.uploads)
        message = self.world.create_message(
            channel, self.world.bot.id, body, route=f"{req.method} {req.route}"
        )
        return Reply(200, payloads.message(self.world, message))

    async def get_message(self, req: RestRequest) -> Reply:
        channel = self._channel(req)
        self.world.require(channel, self.world.bot.id, Permission.READ_MESSAGE_HISTORY)
        return Reply(200, payloads.message(self.world, self._message(req, channel)))

    async def patch_message(self, req: RestRequest) -> Reply:
        channel = self._channel(req)
        message = self._message(req, channel)
        body = parse_message_body(req.body, req.uploads)
        if message.author_id != self.world.bot.id:
            raise ApiError(
                403,
                ErrorCode.CANNOT_EDIT_OTHER_USERS_MESSAGE,
                "Cannot edit a message authored by another user",
                kind="missing_permissions",
            )
        edited = self.world.edit_message(message, body, route=f"{req.method} {req.route}")
        return Reply(200, payloads.message(self.world, edited))

    async def delete_message(self, req: RestRequest) -> Reply:
        channel = self._channel(req)
        message = self._message(req, channel)
        if message.author_id != self.world.bot.id:
            self.world.require(channel, self.world.bot.id, Permission.MANAGE_MESSAGES)
        self.world.delete_message(message)
        return Reply(204)

    async def post_typing(self, req: RestRequest) -> Reply:
        channel = self._channel(req)
        self.world.require(
            channel,
            self.world.bot.id,
            Permission.SEND_MESSAGES_IN_THREADS if channel.is_thread else Permission.SEND_MESSAGES,
        )
        self.world.record_typing(channel, self.world.bot.id)
        return Reply(204)

    async def put_reaction(self, req: RestRequest) -> Reply:
        channel = self._channel(req)
        message = self._message(req, channel)
        if req.params["emoji"] not in message.reactions:
            self.world.require(
                channel,
                self.world.bot.id,
                Permission.ADD_REACTIONS,
                Permission.READ_MESSAGE_HISTORY,
            )
        self.world.add_reaction(message, req.params["emoji"], self.world.bot.id)
        return Reply(204)

    async def delete_reaction(self, req: RestRequest) -> Reply:
        channel = self._channel(req)
        self.world.remove_reaction(
            self._message(req, channel), req.params["emoji"], self.world.bot.id
        )
        return Reply(204)

    # ------------------------------------------------------------------ threads

    async def post_thread_from_message(self, req: RestRequest) -> Reply:
        channel = self._channel(req)
        starter = self._message(req, channel)
        body = parse_thread_body(req.body, with_message=True)
        self.world.require(channel, self.world.bot.id, Permission.READ_MESSAGE_HISTORY)
        thread = self.world.create_thread(channel, self.world.bot.id, body, starter=starter)
        return Reply(201, payloads.channel(self.world, thread))

    async def post_thread(self, req: RestRequest) -> Reply:
        channel = self._channel(req)
        if channel.type == ChannelType.GUILD_FORUM:
            raise ApiError(
                400,
                ErrorCode.INVALID_CHANNEL_TYPE,
                "Cannot execute action on this channel type",
                kind="invalid_channel_type",
            )
        body = parse_thread_body(req.body, with_message=False)
        thread = self.world.create_thread(channel, self.world.bot.id, body)
        return Reply(201, payloads.channel(self.world, thread))

    def _thread(self, req: RestRequest) -> Channel:
        channel = self._channel(req)
        if not channel.is_thread:
            raise ApiError(
                400,
                ErrorCode.INVALID_CHANNEL_TYPE,
                "Cannot execute action on this channel type",
                kind="invalid_channel_type",
            )
        return channel

    def _thread_user(self, req: RestRequest, thread: Channel) -> int:
        user_id = self.world.bot.id if "user_id" not in req.params else req.id("user_id")
        self.world.member(thread.guild_id, user_id)
        return user_id

    async def get_thread_members(self, req: RestRequest) -> Reply:
        thread = self._thread(req)
        return Reply(
            200, [payloads.thread_member(self.world, thread, u) for u in thread.member_ids]
        )

    async def get_thread_member(self, req: RestRequest) -> Reply:
        thread = self._thread(req)
        user_id = self._thread_user(req, thread)
        if user_id not in thread.member_ids:
            raise not_found(ErrorCode.UNKNOWN_MEMBER, "Member")
        return Reply(200, payloads.thread_member(self.world, thread, user_id))

    async def put_thread_member(self, req: RestRequest) -> Reply:
        thread = self._thread(req)
        self.world.add_thread_member(thread, self._thread_user(req, thread))
        return Reply(204)

    async def delete_thread_member(self, req: RestRequest) -> Reply:
        thread = self._thread(req)
        user_id = self._thread_user(req, thread)
        if user_id != self.world.bot.id:
            self.world.require(thread, self.world.bot.id, Permission.MANAGE_THREADS)
        self.world.remove_thread_member(thread, user_id)
        return Reply(204)

    # ------------------------------------------------------------------ interactions

    def _callback_interaction(self, req: RestRequest) -> Interaction:
        found = (
            self.world.interactions.get(int(req.params["webhook_id"]))
            if req.params["webhook_id"].isdigit()
            else None
        )
        if found is None or found.token != req.params["webhook_token"]:
            raise ApiError(
                404,
                ErrorCode.UNKNOWN_INTERACTION,
                "Unknown interaction",
                kind="unknown_interaction",
            )
        if found.acknowledged:
            raise ApiError(
                400,
                ErrorCode.INTERACTION_ALREADY_ACKNOWLEDGED,
                "Interaction has already been acknowledged.",
                kind="interaction_already_acknowledged",
            )
        if self.world.now() - found.created_at > self.timing.ack_timeout:
            found.failure = found.failure or f"not acknowledged within {self.timing.ack_timeout:g}s"
            self.world.changed("interaction", found.id)
            raise ApiError(
                404,
                ErrorCode.UNKNOWN_INTERACTION,
                "Unknown interaction",
                kind="interaction_timeout",
            )
        return found

    def _interaction_message(
        self, inter: Interaction, body: MessageBody, route: str, *, extra_flags: int = 0
    ) -> Message:
        channel = self.world.channel(inter.channel_id)
        # Command responses show as "used /command"; component and modal responses are plain
        # messages carrying interaction_metadata.
        if inter.type == InteractionType.APPLICATION_COMMAND:
            kind = MessageType.CHAT_INPUT_COMMAND
        else:
            kind = MessageType.DEFAULT
        return self.world.create_message(
            channel,
            self.world.bot.id,
            body,
            route=route,
            type=kind,
            interaction=inter,
            extra_flags=extra_flags,
            allow_empty=bool(extra_flags & MessageFlag.LOADING),
            check_permissions=False,
        )

    async def interaction_callback(self, req: RestRequest) -> Reply:
        inter = self._callback_interaction(req)
        data = require_object(req.body)
        kind = data.get("type")
        allowed = _ALLOWED_CALLBACKS[inter.type]
        if kind not in allowed:
            errors = FormErrors()
            errors.add(("type",), "BASE_TYPE_CHOICES", f"Value must be one of {sorted(allowed)}.")
            raise errors.error()
        callback_data = data.get("data") or {}
        route = f"{req.method} {req.route}"
        answer: JSON = {"id": str(inter.id), "type": inter.type}
        resource: JSON = {"type": kind}
        if kind == CallbackType.CHANNEL_MESSAGE_WITH_SOURCE:
            message = self._interaction_message(
                inter, parse_message_body(callback_data, req.uploads), route
            )
            inter.original_message_id = message.id
            answer.update(
                response_message_id=str(message.id),
                response_message_loading=False,
                response_message_ephemeral=message.ephemeral,
            )
            resource["message"] = payloads.message(self.world, message)
        elif kind == CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
            body = parse_message_body({"flags": callback_data.get("flags", 0)}, [])
            ephemeral = (body.flags or 0) & MessageFlag.EPHEMERAL
            body.flags = None
            message = self._interaction_message(
                inter, body, route, extra_flags=MessageFlag.LOADING | ephemeral
            )
            inter.original_message_id = message.id
            answer.update(
                response_message_id=str(message.id),
                response_message_loading=True,
                response_message_ephemeral=bool(ephemeral),
            )
        elif kind == CallbackType.DEFERRED_UPDATE_MESSAGE:
            inter.original_message_id = inter.source_message_id
            if inter.source_message_id is not None:
                answer["response_message_id"] = str(inter.source_message_id)
        elif kind == CallbackType.UPDATE_MESSAGE:
            source = self.world.messages.get(inter.source_message_id or 0)
            if source is None or source.deleted:
                raise not_found(ErrorCode.UNKNOWN_MESSAGE, "Message")
            self.world.edit_message(
                source, parse_message_body(callback_data, req.uploads), route=route
            )
            inter.original_message_id = source.id
            answer.update(
                response_message_id=str(source.id),
                response_message_loading=False,
                response_message_ephemeral=source.ephemeral,
            )
            resource["message"] = payloads.message(self.world, source)
        elif kind == CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            inter.autocomplete_choices = validate_autocomplete(callback_data)
        elif kind == CallbackType.MODAL:
            inter.modal = validate_modal(callback_data)
        inter.acknowledged_at = self.world.now()
        inter.callback_types.append(int(kind))
        self.world.changed("interaction", inter.id)
        if req.flag("with_response"):
            return Reply(200, {"interaction": answer, "resource": resource})
        return Reply(204)

    def _webhook_interaction(self, req: RestRequest) -> Interaction:
        if req.params["webhook_id"] != str(self.world.application_id):
            raise ApiError(
                404, ErrorCode.UNKNOWN_WEBHOOK, "Unknown Webhook", kind="unknown_interaction"
            )
        interaction_id = self.world.interaction_ids_by_token.get(req.params["webhook_token"])
        if interaction_id is None:
            raise ApiError(
                404, ErrorCode.UNKNOWN_WEBHOOK, "Unknown Webhook", kind="unknown_interaction"
            )
        inter = self.world.interactions[interaction_id]
        if self.world.now() - inter.created_at > self.timing.token_ttl:
            raise ApiError(401, 50027, "Invalid Webhook Token", kind="interaction_token_expired")
        if not inter.acknowledged:
            raise ApiError(
                404,
                ErrorCode.UNKNOWN_WEBHOOK,
                "Unknown Webhook",
                kind="interaction_not_acknowledged",
            )
        return inter

    def _webhook_message(self, req: RestRequest, inter: Interaction) -> Message:
        if req.route.endswith("@original"):
            message_id = inter.original_message_id
        else:
            message_id = req.id("message_id")
            if (
                message_id != inter.original_message_id
                and message_id not in inter.followup_message_ids
            ):
                message_id = None
        message = self.world.messages.get(message_id or 0)
        if message is None or message.deleted:
            raise not_found(ErrorCode.UNKNOWN_MESSAGE, "Message")
        return message

    async def post_followup(self, req: RestRequest) -> Reply:
        inter = self._webhook_interaction(req)
        body = parse_message_body(req.body, req.uploads)
        route = f"{req.method} {req.route}"
        original = self.world.messages.get(inter.original_message_id or 0)
        if original is not None and original.loading and not original.deleted:
            # The first followup after a "thinking" defer replaces the loading message.
            if not (body.content or body.embeds or body.uploads or body.components):
                raise ApiError(
                    400,
                    ErrorCode.CANNOT_SEND_EMPTY_MESSAGE,
                    "Cannot send an empty message",
                    kind="empty_message",
                )
            body.flags = None
            message = self.world.edit_message(original, body, route=route)
        else:
            message = self._interaction_message(inter, body, route)
            inter.followup_message_ids.append(message.id)
            self.world.changed("interaction", inter.id)
        if req.flag("wait"):
            return Reply(200, payloads.message(self.world, message))
        return Reply(204)

    async def get_webhook_message(self, req: RestRequest) -> Reply:
        inter = self._webhook_interaction(req)
        return Reply(200, payloads.message(self.world, self._webhook_message(req, inter)))

    async def patch_webhook_message(self, req: RestRequest) -> Reply:
        inter = self._webhook_interaction(req)
        message = self._webhook_message(req, inter)
        body = parse_message_body(req.body, req.uploads)
        edited = self.world.edit_message(message, body, route=f"{req.method} {req.route}")
        return Reply(200, payloads.message(self.world, edited))

    async def delete_webhook_message(self, req: RestRequest) -> Reply:
        inter = self._webhook_interaction(req)
        self.world.delete_message(self._webhook_message(req, inter))
        return Reply(204)


def _int_param(req: RestRequest, name: str, default: int, *, low: int, high: int) -> int:
    raw = req.query.get(name)
    if raw is None:
        return default
    if not raw.lstrip("-").isdigit() or not low <= int(raw) <= high:
        errors = FormErrors()
        errors.add(
            (name,),
            "NUMBER_TYPE_COERCE" if not raw.lstrip("-").isdigit() else "NUMBER_TYPE_MAX",
            f"Value must be an integer between {low} and {high}.",
        )
        raise errors.error()
    return int(raw)


def _describe_error(error: ApiError) -> str:
    if error.errors is None:
        return error.message
    return f"{error.message}: {json.dumps(error.errors, ensure_ascii=False)[:500]}"


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    """A Discord-style answer: exact `application/json`, `Via`, and no body on 204."""
    out = {"Via": "1.1 google", **(headers or {})}
    if status == 204 or body is None:
        return web.Response(
            status=204 if body is None and 200 <= status < 300 else status, headers=out
        )
    out["Content-Type"] = "application/json"
    data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return web.Response(status=status, body=data, headers=out)
