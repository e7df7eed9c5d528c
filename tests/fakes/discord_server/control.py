"""The control API under /_fake/: the test-facing API over HTTP, for a fake in another process.

Requests and answers are JSON; records are the model classes' to_json(). A request the fake
refuses (a command a Discord client would not send, an unknown id) answers 400 with
{"error": "...", "kind": "..."}; these calls are not part of Discord and are never logged as
REST calls or protocol errors.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.discord_server.errors import ApiError
from tests.fakes.discord_server.interactions import (
    CommandNotPermitted,
    InteractionError,
    UploadFile,
)
from tests.fakes.discord_server.model import JSON

if TYPE_CHECKING:
    from tests.fakes.discord_server.server import FakeDiscord

ControlHandler = Callable[[web.Request], Awaitable[Any]]


class ControlError(Exception):
    def __init__(self, message: str, kind: str = "bad_request", status: int = 400) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


def _reply(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json"},
    )


def _wrap(handler: ControlHandler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return _reply(await handler(request))
        except CommandNotPermitted as error:
            return _reply({"error": str(error), "kind": "command_not_permitted"}, 403)
        except InteractionError as error:
            return _reply({"error": str(error), "kind": "interaction_refused"}, 400)
        except ControlError as error:
            return _reply({"error": str(error), "kind": error.kind}, error.status)
        except TimeoutError as error:
            return _reply({"error": str(error), "kind": "timeout"}, 408)
        except (ApiError, KeyError, ValueError, TypeError, RuntimeError) as error:
            return _reply({"error": f"{type(error).__name__}: {error}", "kind": "bad_request"}, 400)

    return run


async def _body(request: web.Request) -> JSON:
    if not request.body_exists:
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise ControlError("control API bodies are JSON objects") from None
    if not isinstance(data, dict):
        raise ControlError("control API bodies are JSON objects")
    return data


def _opt_int(data: JSON, key: str) -> int | None:
    value = data.get(key)
    return None if value is None else int(value)


def _files(data: JSON) -> list[UploadFile]:
    return [
        UploadFile(f["filename"], base64.b64decode(f["data_base64"]), f.get("content_type"))
        for f in data.get("files") or []
    ]


def _option_values(options: Any) -> dict[str, Any]:
    """Attachment options arrive as {"filename", "data_base64"}; everything else is used as is."""
    if not isinstance(options, dict):
        raise ControlError("options must be an object of option name -> value")
    out: dict[str, Any] = {}
    for name, value in options.items():
        if isinstance(value, dict) and "data_base64" in value:
            out[name] = UploadFile(
                value["filename"], base64.b64decode(value["data_base64"]), value.get("content_type")
            )
        else:
            out[name] = value
    return out


def add_control_routes(app: web.Application, fake: FakeDiscord) -> None:
    world = fake.world

    def guild_of(data: JSON) -> Any:
        guild_id = _opt_int(data, "guild_id")
        return fake.guild if guild_id is None else world.guild(guild_id)

    async def info(request: web.Request) -> Any:
        defaults = fake.defaults
        return {
            "base_url": fake.base_url,
            "url": fake.url,
            "gateway_url": fake.gateway_url,
            "resume_gateway_url": fake.resume_gateway_url,
            "application_id": fake.application_id,
            "bot": fake.bot.to_json(),
            "defaults": None
            if defaults is None
            else {
                "guild": defaults.guild.to_json(),
                "channel": defaults.channel.to_json(),
                "admin": defaults.admin.to_json(),
                "member": defaults.member.to_json(),
                "manager_role": defaults.manager_role.to_json(),
            },
        }

    async def state(request: web.Request) -> Any:
        return {
            "version": fake.version,
            "sessions": [s.to_json() for s in fake.sessions],
            "guilds": [g.to_json() for g in world.guilds.values()],
            "channels": [c.to_json() for c in world.channels.values()],
            "roles": [r.to_json() for r in world.roles.values()],
            "members": [m.to_json() for g in world.members.values() for m in g.values()],
            "commands": {("global" if k is None else str(k)): v for k, v in world.commands.items()},
        }

    async def changes(request: web.Request) -> Any:
        """Long-poll: answers once the fake changed after `since` (or after `timeout` seconds)
        with the new version and, with records=1, the messages and interactions that changed."""
        since = int(request.query.get("since", "0"))
        timeout = min(float(request.query.get("timeout", "10")), 30.0)
        await fake.wait_for_version(since, timeout=timeout)
        answer: JSON = {"version": fake.version}
        if request.query.get("records") == "1":
            messages, interactions = fake.changes_since(since)
            answer["messages"] = [m.to_json() for m in messages]
            answer["interactions"] = [i.to_json() for i in interactions]
        return answer

    async def add_guild(request: web.Request) -> Any:
        data = await _body(request)
        return fake.add_guild(str(data.get("name", "guild"))).to_json()

    async def add_channel(request: web.Request) -> Any:
        data = await _body(request)
        return fake.add_channel(
            guild_of(data),
            str(data.get("name", "channel")),
            type=int(data.get("type", 0)),
            topic=data.get("topic"),
        ).to_json()

    async def add_role(request: web.Request) -> Any:
        data = await _body(request)
        return fake.add_role(
            guild_of(data),
            str(data["name"]),
            int(data.get("permissions", 0)),
            mentionable=bool(data.get("mentionable")),
        ).to_json()

    async def add_member(request: web.Request) -> Any:
        data = await _body(request)
        roles = [world.roles[int(r)] for r in data.get("role_ids") or []]
        return fake.add_member(
            guild_of(data),
            str(data.get("username", "member")),
            roles=roles,
            manage_guild=bool(data.get("manage_guild")),
            bot=bool(data.get("bot")),
            nick=data.get("nick"),
        ).to_json()

    async def bot_permissions(request: web.Request) -> Any:
        data = await _body(request)
        fake.set_bot_permissions(int(data["permissions"]), guild_of(data))
        return {"ok": True}

    async def slash(request: web.Request) -> Any:
        data = await _body(request)
        interaction = await fake.slash(
            str(data["command"]),
            _option_values(data.get("options") or {}),
            user=_opt_int(data, "user_id"),
            channel=_opt_int(data, "channel_id"),
            locale=str(data.get("locale", "en-US")),
            validate=bool(data.get("validate", True)),
        )
        return interaction.to_json()

    async def autocomplete(request: web.Request) -> Any:
        data = await _body(request)
        choices = await fake.autocomplete(
            str(data["command"]),
            _option_values(data.get("options") or {}),
            focused=str(data["focused"]),
            user=_opt_int(data, "user_id"),
            channel=_opt_int(data, "channel_id"),
            timeout=float(data.get("timeout", 5.0)),
        )
        return {"choices": choices}

    async def click(request: web.Request) -> Any:
        data = await _body(request)
        return (
            await fake.click(
                int(data["message_id"]), str(data["custom_id"]), user=_opt_int(data, "user_id")
            )
        ).to_json()

    async def select(request: web.Request) -> Any:
        data = await _body(request)
        values = [str(v) for v in data["values"]]
        interaction = await fake.select(
            int(data["message_id"]), str(data["custom_id"]), values, user=_opt_int(data, "user_id")
        )
        return interaction.to_json()

    async def modal_submit(request: web.Request) -> Any:
        data = await _body(request)
        interaction = await fake.submit_modal(
            int(data["interaction_id"]), dict(data["values"]), user=_opt_int(data, "user_id")
        )
        return interaction.to_json()

    async def post_message(request: web.Request) -> Any:
        data = await _body(request)
        message = await fake.post_message(
            _opt_int(data, "channel_id"),
            _opt_int(data, "author_id"),
            str(data.get("content", "")),
            files=_files(data),
            reply_to=_opt_int(data, "reply_to"),
            embeds=data.get("embeds"),
        )
        return message.to_json()

    async def list_messages(request: web.Request) -> Any:
        channel_id = request.query.get("channel_id")
        include_deleted = request.query.get("include_deleted", "0") in ("1", "true")
        found = fake.messages(
            None if channel_id is None else int(channel_id), include_deleted=include_deleted
        )
        return [m.to_json() for m in found]

    async def get_message(request: web.Request) -> Any:
        return fake.message(int(request.match_info["message_id"])).to_json()

    async def edit_message(request: web.Request) -> Any:
        data = await _body(request)
        return (
            await fake.edit_user_message(
                int(request.match_info["message_id"]), str(data["content"])
            )
        ).to_json()

    async def delete_message(request: web.Request) -> Any:
        await fake.delete_message(int(request.match_info["message_id"]))
        return {"ok": True}

    async def react(request: web.Request) -> Any:
        data = await _body(request)
        await fake.react(
            int(request.match_info["message_id"]),
            str(data["emoji"]),
            user=_opt_int(data, "user_id"),
        )
        return {"ok": True}

    async def create_thread(request: web.Request) -> Any:
        data = await _body(request)
        thread = await fake.create_thread(
            _opt_int(data, "channel_id"),
            str(data["name"]),
            author=_opt_int(data, "author_id"),
            from_message=_opt_int(data, "from_message_id"),
            private=bool(data.get("private")),
        )
        return thread.to_json()

    async def list_threads(request: web.Request) -> Any:
        parent = request.query.get("parent_id")
        return [t.to_json() for t in fake.threads(None if parent is None else int(parent))]

    async def list_interactions(request: web.Request) -> Any:
        return [i.to_json() for i in fake.interactions]

    async def get_interaction(request: web.Request) -> Any:
        return world.interactions[int(request.match_info["interaction_id"])].to_json()

    async def list_requests(request: web.Request) -> Any:
        since = int(request.query.get("since_seq", "0"))
        return [c.to_json() for c in fake.requests if c.seq > since]

    async def protocol_errors(request: web.Request) -> Any:
        return [e.to_json() for e in fake.protocol_errors]

    async def clear_protocol_errors(request: web.Request) -> Any:
        fake.clear_protocol_errors()
        return {"ok": True}

    async def gateway_frames(request: web.Request) -> Any:
        start = int(request.query.get("start", "0"))
        return [f.to_json() for f in fake.gateway_frames[start:]]

    async def commands(request: web.Request) -> Any:
        guild_id = request.query.get("guild_id")
        return fake.commands(None if guild_id is None else int(guild_id))

    async def typing(request: web.Request) -> Any:
        return [
            {"at": at, "channel_id": channel_id, "user_id": user_id}
            for at, channel_id, user_id in fake.typing
        ]

    async def add_rate_limit(request: web.Request) -> Any:
        data = await _body(request)
        rule = fake.rate_limit(
            str(data.get("route", "*")),
            retry_after=float(data.get("retry_after", 0.5)),
            count=int(data.get("count", 1)),
            is_global=bool(data.get("global")),
            method=data.get("method"),
        )
        return rule.to_json()

    async def list_rate_limits(request: web.Request) -> Any:
        return [r.to_json() for r in fake.limiter.rules]

    async def bucket_limit(request: web.Request) -> Any:
        data = await _body(request)
        fake.set_bucket_limit(int(data["limit"]), float(data.get("window", 1.0)))
        return {"ok": True}

    async def sessions(request: web.Request) -> Any:
        return [s.to_json() for s in fake.sessions]

    async def disconnect(request: web.Request) -> Any:
        data = await _body(request)
        await fake.disconnect(int(data.get("code", 4000)))
        return {"ok": True}

    async def drop(request: web.Request) -> Any:
        await fake.drop_connection()
        return {"ok": True}

    async def reconnect(request: web.Request) -> Any:
        fake.request_reconnect()
        return {"ok": True}

    async def hold(request: web.Request) -> Any:
        fake.hold_new_connections()
        return {"ok": True}

    async def release(request: web.Request) -> Any:
        fake.release_new_connections()
        return {"ok": True}

    async def invalidate(request: web.Request) -> Any:
        data = await _body(request)
        fake.invalidate_session(resumable=bool(data.get("resumable")))
        return {"ok": True}

    async def unknown(request: web.Request) -> web.StreamResponse:
        return _reply(
            {
                "error": f"no control route {request.method} {request.path}",
                "kind": "unknown_control_route",
            },
            404,
        )

    routes: list[tuple[str, str, ControlHandler]] = [
        ("GET", "/_fake/info", info),
        ("GET", "/_fake/state", state),
        ("GET", "/_fake/changes", changes),
        ("POST", "/_fake/guilds", add_guild),
        ("POST", "/_fake/channels", add_channel),
        ("POST", "/_fake/roles", add_role),
        ("POST", "/_fake/members", add_member),
        ("POST", "/_fake/bot-permissions", bot_permissions),
        ("POST", "/_fake/slash", slash),
        ("POST", "/_fake/autocomplete", autocomplete),
        ("POST", "/_fake/click", click),
        ("POST", "/_fake/select", select),
        ("POST", "/_fake/modal-submit", modal_submit),
        ("POST", "/_fake/messages", post_message),
        ("GET", "/_fake/messages", list_messages),
        ("GET", "/_fake/messages/{message_id}", get_message),
        ("POST", "/_fake/messages/{message_id}/edit", edit_message),
        ("POST", "/_fake/messages/{message_id}/delete", delete_message),
        ("POST", "/_fake/messages/{message_id}/reactions", react),
        ("POST", "/_fake/threads", create_thread),
        ("GET", "/_fake/threads", list_threads),
        ("GET", "/_fake/interactions", list_interactions),
        ("GET", "/_fake/interactions/{interaction_id}", get_interaction),
        ("GET", "/_fake/requests", list_requests),
        ("GET", "/_fake/protocol-errors", protocol_errors),
        ("POST", "/_fake/protocol-errors/clear", clear_protocol_errors),
        ("GET", "/_fake/gateway-frames", gateway_frames),
        ("GET", "/_fake/commands", commands),
        ("GET", "/_fake/typing", typing),
        ("POST", "/_fake/rate-limits", add_rate_limit),
        ("GET", "/_fake/rate-limits", list_rate_limits),
        ("POST", "/_fake/bucket-limit", bucket_limit),
        ("GET", "/_fake/sessions", sessions),
        ("POST", "/_fake/gateway/disconnect", disconnect),
        ("POST", "/_fake/gateway/drop", drop),
        ("POST", "/_fake/gateway/reconnect", reconnect),
        ("POST", "/_fake/gateway/invalidate", invalidate),
        ("POST", "/_fake/gateway/hold", hold),
        ("POST", "/_fake/gateway/release", release),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _wrap(handler))
    app.router.add_route("*", "/_fake/{tail:.*}", unknown)
