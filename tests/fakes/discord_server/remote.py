"""Drive a fake Discord that runs in another process (`python -m tests.fakes.discord_server`).

`FakeDiscordProcess` starts the server as a subprocess and hands back a `RemoteFakeDiscord`,
whose async methods mirror FakeDiscord's over the /_fake/ control API and return the same record
classes (Message, Interaction, RestCall, ...), so a smoke test reads like an in-process one.
"""

# ruff: noqa: ASYNC109 -- the waiting helpers take timeout= like discord.py's own wait_for()

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiohttp

from tests.fakes.discord_server.interactions import (
    CommandNotPermitted,
    InteractionError,
    UploadFile,
)
from tests.fakes.discord_server.model import (
    JSON,
    Channel,
    GatewayFrame,
    Guild,
    Interaction,
    Member,
    Message,
    ProtocolError,
    RestCall,
    Role,
    User,
)

T = TypeVar("T")
FOLLOWUP_ROUTE = "POST /webhooks/{webhook_id}/{webhook_token}"
REPO_ROOT = Path(__file__).resolve().parents[3]


class RemoteError(RuntimeError):
    """The control API refused a request; `kind` says why (see control.py)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def _id(value: Any) -> int | None:
    if value is None:
        return None
    return value if isinstance(value, int) else int(value.id)


def _file_json(upload: UploadFile) -> JSON:
    return {
        "filename": upload.filename,
        "data_base64": base64.b64encode(upload.data).decode("ascii"),
        "content_type": upload.content_type,
    }


def _option_json(value: Any) -> Any:
    if isinstance(value, UploadFile):
        return _file_json(value)
    if isinstance(value, Member | User | Channel | Role):
        return value.id
    if hasattr(value, "value") and not isinstance(value, int | str | float | bool):
        return value.value  # Enum members go by value
    return value


class RemoteFakeDiscord:
    """The FakeDiscord API over HTTP. `async with RemoteFakeDiscord(base_url) as fake:`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self.url = ""
        self.gateway_url = ""
        self.resume_gateway_url = ""
        self.application_id = 0
        self.bot: User | None = None
        self.guild: Guild | None = None
        self.channel: Channel | None = None
        self.admin: Member | None = None
        self.member: Member | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._watch_error: BaseException | None = None
        self._version = 0
        self._mirror_messages: dict[int, Message] = {}
        self._mirror_interactions: dict[int, Interaction] = {}
        self._mirror_changed = asyncio.Event()

    async def connect(self) -> RemoteFakeDiscord:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        info = await self._get("/_fake/info")
        self.url = info["url"]
        self.gateway_url = info["gateway_url"]
        self.resume_gateway_url = info["resume_gateway_url"]
        self.application_id = int(info["application_id"])
        self.bot = User.from_json(info["bot"])
        defaults = info.get("defaults")
        if defaults:
            self.guild = Guild.from_json(defaults["guild"])
            self.channel = Channel.from_json(defaults["channel"])
            self.admin = Member.from_json(defaults["admin"])
            self.member = Member.from_json(defaults["member"])
        return self

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> RemoteFakeDiscord:
        return await self.connect()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ transport

    async def _call(
        self,
        method: str,
        path: str,
        body: JSON | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        if self._session is None:
            raise RuntimeError(
                "RemoteFakeDiscord is not connected: use `async with` or await connect()"
            )
        async with self._session.request(
            method, self.base_url + path, json=body, params=params
        ) as response:
            data = await response.json(content_type=None)
            if response.status >= 400:
                message, kind = data.get("error", str(data)), data.get("kind", "error")
                if kind == "command_not_permitted":
                    raise CommandNotPermitted(message)
                if kind == "interaction_refused":
                    raise InteractionError(message)
                if kind == "timeout":
                    raise TimeoutError(message)
                raise RemoteError(message, kind)
            return data

    async def _get(self, path: str, **params: Any) -> Any:
        return await self._call(
            "GET", path, params={k: str(v) for k, v in params.items() if v is not None}
        )

    async def _post(self, path: str, body: JSON | None = None) -> Any:
        return await self._call("POST", path, body or {})

    # ------------------------------------------------------------------ builders

    async def add_guild(self, name: str) -> Guild:
        return Guild.from_json(await self._post("/_fake/guilds", {"name": name}))

    async def add_channel(
        self,
        guild: Guild | int | None = None,
        name: str = "channel",
        *,
        type: int = 0,
        topic: str | None = None,
    ) -> Channel:
        body = {"guild_id": _id(guild), "name": name, "type": type, "topic": topic}
        return Channel.from_json(await self._post("/_fake/channels", body))

    async def add_role(
        self,
        guild: Guild | int | None,
        name: str,
        permissions: int = 0,
        *,
        mentionable: bool = False,
    ) -> Role:
        body = {
            "guild_id": _id(guild),
            "name": name,
            "permissions": permissions,
            "mentionable": mentionable,
        }
        return Role.from_json(await self._post("/_fake/roles", body))

    async def add_member(
        self,
        guild: Guild | int | None = None,
        username: str = "member",
        *,
        roles: Iterable[Role] = (),
        manage_guild: bool = False,
        bot: bool = False,
        nick: str | None = None,
    ) -> Member:
        body = {
            "guild_id": _id(guild),
            "username": username,
            "role_ids": [r.id for r in roles],
            "manage_guild": manage_guild,
            "bot": bot,
            "nick": nick,
        }
        return Member.from_json(await self._post("/_fake/members", body))

    async def set_bot_permissions(self, permissions: int, guild: Guild | int | None = None) -> None:
        await self._post(
            "/_fake/bot-permissions", {"permissions": permissions, "guild_id": _id(guild)}
        )

    # ------------------------------------------------------------------ what users do

    async def slash(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: Member | User | int | None = None,
        channel: Channel | int | None = None,
        locale: str = "en-US",
        validate: bool = True,
    ) -> Interaction:
        body = {
            "command": command,
            "options": {k: _option_json(v) for k, v in (options or {}).items()},
            "user_id": _id(user),
            "channel_id": _id(channel),
            "locale": locale,
            "validate": validate,
        }
        return Interaction.from_json(await self._post("/_fake/slash", body))

    async def autocomplete(
        self,
        command: str,
        options: Mapping[str, Any],
        *,
        focused: str,
        user: Member | User | int | None = None,
        channel: Channel | int | None = None,
        timeout: float = 5.0,
    ) -> list[JSON]:
        body = {
            "command": command,
            "options": {k: _option_json(v) for k, v in options.items()},
            "focused": focused,
            "user_id": _id(user),
            "channel_id": _id(channel),
            "timeout": timeout,
        }
        return list((await self._post("/_fake/autocomplete", body))["choices"])

    async def click(
        self, message: Message | int, custom_id: str, *, user: Member | User | int | None = None
    ) -> Interaction:
        body = {"message_id": _id(message), "custom_id": custom_id, "user_id": _id(user)}
        return Interaction.from_json(await self._post("/_fake/click", body))

    async def select(
        self,
        message: Message | int,
        custom_id: str,
        values: list[str],
        *,
        user: Member | User | int | None = None,
    ) -> Interaction:
        body = {
            "message_id": _id(message),
            "custom_id": custom_id,
            "values": values,
            "user_id": _id(user),
        }
        return Interaction.from_json(await self._post("/_fake/select", body))

    async def submit_modal(
        self,
        interaction: Interaction | int,
        values: Mapping[str, Any],
        *,
        user: Member | User | int | None = None,
    ) -> Interaction:
        body = {"interaction_id": _id(interaction), "values": dict(values), "user_id": _id(user)}
        return Interaction.from_json(await self._post("/_fake/modal-submit", body))

    async def post_message(
        self,
        channel: Channel | int | None,
        author: Member | User | int | None,
        content: str = "",
        *,
        files: Iterable[UploadFile] = (),
        reply_to: Message | int | None = None,
        embeds: list[JSON] | None = None,
    ) -> Message:
        body = {
            "channel_id": _id(channel),
            "author_id": _id(author),
            "content": content,
            "files": [_file_json(f) for f in files],
            "reply_to": _id(reply_to),
            "embeds": embeds,
        }
        return Message.from_json(await self._post("/_fake/messages", body))

    async def edit_user_message(self, message: Message | int, content: str) -> Message:
        return Message.from_json(
            await self._post(f"/_fake/messages/{_id(message)}/edit", {"content": content})
        )

    async def delete_message(self, message: Message | int) -> None:
        await self._post(f"/_fake/messages/{_id(message)}/delete")

    async def react(
        self, message: Message | int, emoji: str, *, user: Member | User | int | None = None
    ) -> None:
        await self._post(
            f"/_fake/messages/{_id(message)}/reactions", {"emoji": emoji, "user_id": _id(user)}
        )

    async def create_thread(
        self,
        channel: Channel | int | None,
        name: str,
        *,
        author: Member | User | int | None = None,
        from_message: Message | int | None = None,
        private: bool = False,
    ) -> Channel:
        body = {
            "channel_id": _id(channel),
            "name": name,
            "author_id": _id(author),
            "from_message_id": _id(from_message),
            "private": private,
        }
        return Channel.from_json(await self._post("/_fake/threads", body))

    # ------------------------------------------------------------------ gateway and rate limits

    async def disconnect(self, code: int = 4000) -> None:
        await self._post("/_fake/gateway/disconnect", {"code": code})

    async def drop_connection(self) -> None:
        await self._post("/_fake/gateway/drop")

    async def request_reconnect(self) -> None:
        await self._post("/_fake/gateway/reconnect")

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        await self._post("/_fake/gateway/invalidate", {"resumable": resumable})

    async def hold_new_connections(self) -> None:
        await self._post("/_fake/gateway/hold")

    async def release_new_connections(self) -> None:
        await self._post("/_fake/gateway/release")

    async def sessions(self) -> list[JSON]:
        return list(await self._get("/_fake/sessions"))

    async def rate_limit(
        self,
        route: str = "*",
        *,
        retry_after: float = 0.5,
        count: int = 1,
        is_global: bool = False,
        method: str | None = None,
    ) -> JSON:
        body = {
            "route": route,
            "retry_after": retry_after,
            "count": count,
            "global": is_global,
            "method": method,
        }
        return dict(await self._post("/_fake/rate-limits", body))

    async def set_bucket_limit(self, limit: int, window: float = 1.0) -> None:
        await self._post("/_fake/bucket-limit", {"limit": limit, "window": window})

    # ------------------------------------------------------------------ records

    async def messages(
        self, channel: Channel | int | None = None, *, include_deleted: bool = False
    ) -> list[Message]:
        data = await self._get(
            "/_fake/messages", channel_id=_id(channel), include_deleted=int(include_deleted)
        )
        return [Message.from_json(m) for m in data]

    async def message(self, message_id: int) -> Message:
        return Message.from_json(await self._get(f"/_fake/messages/{message_id}"))

    async def interactions(self) -> list[Interaction]:
        return [Interaction.from_json(i) for i in await self._get("/_fake/interactions")]

    async def interaction(self, interaction_id: int) -> Interaction:
        return Interaction.from_json(await self._get(f"/_fake/interactions/{interaction_id}"))

    async def requests(self, *, since_seq: int = 0) -> list[RestCall]:
        return [
            RestCall.from_json(c) for c in await self._get("/_fake/requests", since_seq=since_seq)
        ]

    async def protocol_errors(self) -> list[ProtocolError]:
        return [ProtocolError.from_json(e) for e in await self._get("/_fake/protocol-errors")]

    async def clear_protocol_errors(self) -> None:
        await self._post("/_fake/protocol-errors/clear")

    async def gateway_frames(self, *, start: int = 0) -> list[GatewayFrame]:
        return [
            GatewayFrame.from_json(f) for f in await self._get("/_fake/gateway-frames", start=start)
        ]

    async def commands(self, guild: Guild | int | None = None) -> list[JSON]:
        return list(await self._get("/_fake/commands", guild_id=_id(guild)))

    async def threads(self, parent: Channel | int | None = None) -> list[Channel]:
        return [
            Channel.from_json(c) for c in await self._get("/_fake/threads", parent_id=_id(parent))
        ]

    async def typing(self) -> list[JSON]:
        return list(await self._get("/_fake/typing"))

    async def read_attachment(self, url: str) -> bytes:
        if self._session is None:
            raise RuntimeError("not connected")
        async with self._session.get(url) as response:
            response.raise_for_status()
            return await response.read()

    # ------------------------------------------------------------------ waiting
    #
    # One background long-poll of /_fake/changes?records=1 keeps a local mirror of the messages
    # and interactions that changed, so any number of concurrent waiters cost one request per
    # change instead of one each (this matters for load tests on a shared machine).

    async def _ensure_watching(self) -> None:
        if self._watcher is not None:
            if self._watch_error is not None:
                raise RuntimeError("lost the fake Discord's change feed") from self._watch_error
            return
        version = (await self._get("/_fake/changes", since=-1, timeout=0))["version"]
        for message in await self.messages(include_deleted=True):
            self._mirror_messages[message.id] = message
        for record in await self.interactions():
            self._mirror_interactions[record.id] = record
        self._version = int(version)
        self._watcher = asyncio.create_task(self._watch(), name="fake-discord-watch")

    async def _watch(self) -> None:
        try:
            while True:
                data = await self._get("/_fake/changes", since=self._version, timeout=10, records=1)
                for item in data["messages"]:
                    message = Message.from_json(item)
                    self._mirror_messages[message.id] = message
                for item in data["interactions"]:
                    record = Interaction.from_json(item)
                    self._mirror_interactions[record.id] = record
                self._version = int(data["version"])
                self._signal()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the fake went away: wake the waiters with the cause
            self._watch_error = error
            self._signal()

    def _signal(self) -> None:
        event, self._mirror_changed = self._mirror_changed, asyncio.Event()
        event.set()

    async def wait_for(
        self, check: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition"
    ) -> Any:
        """Re-run `check` (plain or async) after every change on the server, and at least every
        250 ms (for state outside the fake, such as a bot's cache), until it returns something
        truthy. Checks that read `self.mirror_messages` / `mirror_interactions` cost no request."""
        await self._ensure_watching()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._watch_error is not None:
                raise RuntimeError("lost the fake Discord's change feed") from self._watch_error
            changed = self._mirror_changed
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 0.25))

    @property
    def mirror_messages(self) -> list[Message]:
        """Every message (deleted ones too) as of the last change seen, in id order."""
        return [self._mirror_messages[k] for k in sorted(self._mirror_messages)]

    @property
    def mirror_interactions(self) -> dict[int, Interaction]:
        return dict(self._mirror_interactions)

    def _failed(self, interaction_id: int) -> Interaction | None:
        record = self._mirror_interactions.get(interaction_id)
        if record is not None and record.failure and not record.acknowledged:
            raise TimeoutError(f"interaction {interaction_id} failed: {record.failure}")
        return record

    def _mirror_followups(self, record: Interaction) -> list[Message]:
        found = [
            self._mirror_messages[m]
            for m in record.followup_message_ids
            if m in self._mirror_messages
        ]
        original = self._mirror_messages.get(record.original_message_id or 0)
        if original is not None and any(r.route == FOLLOWUP_ROUTE for r in original.revisions):
            found.insert(0, original)
        return found

    async def wait_for_message(
        self,
        predicate: Callable[[Message], bool],
        *,
        channel: Channel | int | None = None,
        timeout: float = 10.0,
    ) -> Message:
        channel_id = _id(channel)

        def check() -> Message | None:
            found = self.mirror_messages
            if channel_id is not None:
                found = [m for m in found if m.channel_id == channel_id]
            return next((m for m in found if predicate(m)), None)

        result: Message = await self.wait_for(check, timeout=timeout, what="a matching message")
        return result

    async def wait_for_response(
        self, interaction: Interaction | int, *, timeout: float = 10.0
    ) -> Interaction:
        interaction_id = _id(interaction) or 0

        def check() -> Interaction | None:
            record = self._failed(interaction_id)
            return record if record is not None and record.acknowledged else None

        result: Interaction = await self.wait_for(
            check, timeout=timeout, what=f"a response to {interaction_id}"
        )
        return result

    async def wait_for_original(
        self,
        interaction: Interaction | int,
        predicate: Callable[[Message], bool] = lambda m: not m.loading,
        *,
        timeout: float = 10.0,
    ) -> Message:
        interaction_id = _id(interaction) or 0

        def check() -> Message | None:
            record = self._failed(interaction_id)
            if record is None or record.original_message_id is None:
                return None
            message = self._mirror_messages.get(record.original_message_id)
            return message if message is not None and predicate(message) else None

        result: Message = await self.wait_for(
            check, timeout=timeout, what=f"the original response of {interaction_id}"
        )
        return result

    async def followups(self, interaction: Interaction | int) -> list[Message]:
        """Followup messages (after a thinking defer the first one is the original response)."""
        record = await self.interaction(_id(interaction) or 0)
        found = [await self.message(m) for m in record.followup_message_ids]
        if record.original_message_id is not None:
            original = await self.message(record.original_message_id)
            if any(r.route == FOLLOWUP_ROUTE for r in original.revisions):
                found.insert(0, original)
        return found

    async def wait_for_followup(
        self,
        interaction: Interaction | int,
        predicate: Callable[[Message], bool] = lambda m: True,
        *,
        timeout: float = 10.0,
    ) -> Message:
        interaction_id = _id(interaction) or 0

        def check() -> Message | None:
            record = self._mirror_interactions.get(interaction_id)
            if record is None:
                return None
            return next((m for m in self._mirror_followups(record) if predicate(m)), None)

        result: Message = await self.wait_for(check, timeout=timeout, what="a followup")
        return result

    async def wait_for_commands(
        self, names: Iterable[str], *, guild: Guild | int | None = None, timeout: float = 10.0
    ) -> list[JSON]:
        wanted = set(names)

        async def check() -> list[JSON] | None:
            synced = await self.commands(guild)
            return synced if wanted <= {c["name"] for c in synced} else None

        result: list[JSON] = await self.wait_for(
            check, timeout=timeout, what=f"commands {sorted(wanted)}"
        )
        return result

    async def wait_for_request(
        self, predicate: Callable[[RestCall], bool], *, timeout: float = 10.0
    ) -> RestCall:
        async def check() -> RestCall | None:
            return next((c for c in await self.requests() if predicate(c)), None)

        result: RestCall = await self.wait_for(check, timeout=timeout, what="a matching request")
        return result

    async def wait_until_connected(self, *, timeout: float = 10.0) -> JSON:
        async def check() -> JSON | None:
            live = [s for s in await self.sessions() if s["connected"]]
            return live[-1] if live else None

        result: JSON = await self.wait_for(
            check, timeout=timeout, what="a connected gateway session"
        )
        return result


class FakeDiscordProcess:
    """Run `python -m tests.fakes.discord_server` as a subprocess; yields a RemoteFakeDiscord.

    >>> async with FakeDiscordProcess(token="t") as fake:
    ...     env = {"CAMPFIRE_DISCORD_API_URL": fake.url,
    ...            "CAMPFIRE_DISCORD_GATEWAY_URL": fake.gateway_url}
    """

    def __init__(
        self, *args: str, token: str | None = None, port: int = 0, startup_timeout: float = 20.0
    ) -> None:
        self.args = list(args)
        self.token = token
        self.port = port
        self.startup_timeout = startup_timeout
        self.process: asyncio.subprocess.Process | None = None
        self.remote: RemoteFakeDiscord | None = None
        self.ready: JSON = {}

    async def __aenter__(self) -> RemoteFakeDiscord:
        command = [
            sys.executable,
            "-m",
            "tests.fakes.discord_server",
            "--port",
            str(self.port),
            *self.args,
        ]
        if self.token is not None:
            command += ["--token", self.token]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = await asyncio.create_subprocess_exec(
            *command, cwd=REPO_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=None
        )
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), self.startup_timeout)
            self.ready = json.loads(line)
        except (TimeoutError, ValueError) as error:
            await self._terminate()
            raise RuntimeError(f"the fake Discord process did not start: {error!r}") from error
        self.remote = await RemoteFakeDiscord(self.ready["base_url"]).connect()
        return self.remote

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.remote is not None:
            await self.remote.close()
        await self._terminate()

    async def _terminate(self) -> None:
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            with contextlib.suppress(ProcessLookupError):
                await process.wait()
