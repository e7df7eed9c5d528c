"""FakeDiscord: the aiohttp server (REST + gateway + CDN + control API) and its test-facing API."""

# ruff: noqa: ASYNC109 -- the waiting helpers take timeout= like discord.py's own wait_for()

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from tests.fakes.discord_server import interactions as build
from tests.fakes.discord_server import payloads
from tests.fakes.discord_server.constants import (
    DEFAULT_ATTACHMENT_SIZE_LIMIT,
    ChannelType,
    ComponentType,
    Intent,
    InteractionType,
    Permission,
)
from tests.fakes.discord_server.errors import ApiError
from tests.fakes.discord_server.gateway import GatewayHub, GatewaySession
from tests.fakes.discord_server.interactions import InteractionError, UploadFile
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
from tests.fakes.discord_server.ratelimits import RateLimiter, RateLimitRule
from tests.fakes.discord_server.records import Recorder
from tests.fakes.discord_server.rest import InteractionTiming, RestApi, json_response
from tests.fakes.discord_server.state import World
from tests.fakes.discord_server.validation import ThreadBody, Upload, parse_message_body

T = TypeVar("T")
DEFAULT_TOKEN = "fake-discord-token.campfire.do-not-log"
FOLLOWUP_ROUTE = "POST /webhooks/{webhook_id}/{webhook_token}"
_POLL_S = 0.05


@dataclass
class FakeDiscordConfig:
    token: str = DEFAULT_TOKEN
    bot_name: str = "Campfire"
    host: str = "127.0.0.1"
    port: int = 0  # 0 picks a free port
    heartbeat_interval_ms: int = 41_250
    interaction_ack_timeout: float = 3.0
    interaction_token_ttl: float = 900.0
    privileged_intents: int = Intent.PRIVILEGED  # enabled "in the developer portal"
    attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT
    bucket_limit: int = 50  # requests per bucket per window before an automatic 429
    bucket_window: float = 1.0
    default_world: bool = True  # a guild "Campfire Test" with #general, an admin and a member
    session_resume_window: float = 60.0  # seconds a socketless session stays resumable


@dataclass
class DefaultWorld:
    guild: Guild
    channel: Channel
    admin: Member  # has Manage Server
    member: Member  # has no special permission
    manager_role: Role


class FakeDiscord:
    """A Discord for one bot, on 127.0.0.1. Use `async with FakeDiscord() as fake:`.

    Point discord.py at it with `discord.http.Route.BASE = fake.url` and
    `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)`, log in with
    `fake.token`. See the package docstring for the whole API.
    """

    def __init__(self, config: FakeDiscordConfig | None = None, **overrides: Any) -> None:
        self.config = config or FakeDiscordConfig(**overrides)
        if config is not None and overrides:
            raise TypeError("pass either a FakeDiscordConfig or keyword overrides, not both")
        self.world = World(
            bot_name=self.config.bot_name,
            privileged_intents=self.config.privileged_intents,
            attachment_size_limit=self.config.attachment_size_limit,
        )
        self.recorder = Recorder(self.world)
        self.limiter = RateLimiter(limit=self.config.bucket_limit, window=self.config.bucket_window)
        self.hub = GatewayHub(
            self.world,
            token=self.config.token,
            heartbeat_interval_ms=self.config.heartbeat_interval_ms,
            gateway_url=lambda: self.gateway_url,
            resume_url=lambda: self.resume_gateway_url,
            protocol_error=self._gateway_protocol_error,
            resume_window_s=self.config.session_resume_window,
        )
        self.rest = RestApi(
            self.world,
            self.hub,
            self.limiter,
            self.recorder,
            self.config.token,
            lambda: self.gateway_url,
            InteractionTiming(
                self.config.interaction_ack_timeout, self.config.interaction_token_ttl
            ),
        )
        self.world.dispatch = self._dispatch
        self.world.changed = self._bump
        self.version = 0
        self._changed = asyncio.Event()
        self._change_log: list[tuple[int, str, int]] = []  # (version, "message"|"interaction", id)
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._timers: list[asyncio.TimerHandle] = []
        self.defaults: DefaultWorld | None = None
        if self.config.default_world:
            self.defaults = self._build_default_world()

    def _dispatch(self, event: str, data: JSON, guild_id: int | None) -> None:
        self.hub.dispatch(event, data, guild_id)

    def _gateway_protocol_error(self, kind: str, detail: str) -> None:
        self.recorder.protocol_error(kind, detail, "gateway")

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        from tests.fakes.discord_server.control import add_control_routes

        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{tail:.*}", self.rest.handle)
        app.router.add_get("/gateway", self.hub.handle)
        app.router.add_get("/resume-gateway", self.hub.handle)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._cdn)
        add_control_routes(app, self)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])
        self.world.base_url = self.base_url
        return self

    async def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        await self.hub.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("FakeDiscord is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """The server root: the control API lives under {base_url}/_fake/."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def url(self) -> str:
        """The REST base to put in discord.http.Route.BASE (CAMPFIRE_DISCORD_API_URL)."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The gateway for DiscordWebSocket.DEFAULT_GATEWAY (CAMPFIRE_DISCORD_GATEWAY_URL)."""
        return f"ws://{self.config.host}:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/resume-gateway"

    @property
    def token(self) -> str:
        return self.config.token

    @property
    def bot(self) -> User:
        return self.world.bot

    @property
    def application_id(self) -> int:
        return self.world.application_id

    # ------------------------------------------------------------------ the default world

    def _build_default_world(self) -> DefaultWorld:
        guild = self.add_guild("Campfire Test")
        channel = self.add_channel(guild, "general")
        manager = self.add_role(guild, "Server Manager", Permission.MANAGE_GUILD)
        admin = self.add_member(guild, "ada", roles=[manager])
        member = self.add_member(guild, "bo")
        return DefaultWorld(guild, channel, admin, member, manager)

    def _default(self) -> DefaultWorld:
        if self.defaults is None:
            raise InteractionError(
                "this FakeDiscord was built with default_world=False; pass guild/channel/user"
            )
        return self.defaults

    @property
    def guild(self) -> Guild:
        return self._default().guild

    @property
    def channel(self) -> Channel:
        return self._default().channel

    @property
    def admin(self) -> Member:
        """A member with Manage Server (passes default_member_permissions=manage_guild)."""
        return self._default().admin

    @property
    def member(self) -> Member:
        """A member with @everyone's permissions only."""
        return self._default().member

    # ------------------------------------------------------------------ builders

    def add_guild(self, name: str) -> Guild:
        return self.world.add_guild(name)

    def add_channel(
        self,
        guild: Guild | None = None,
        name: str = "channel",
        *,
        type: int = ChannelType.GUILD_TEXT,
        topic: str | None = None,
    ) -> Channel:
        return self.world.add_channel(guild or self.guild, name, type=type, topic=topic)

    def add_role(
        self, guild: Guild | None, name: str, permissions: int = 0, *, mentionable: bool = False
    ) -> Role:
        return self.world.add_role(guild or self.guild, name, permissions, mentionable=mentionable)

    def add_member(
        self,
        guild: Guild | None = None,
        username: str = "member",
        *,
        roles: Iterable[Role] = (),
        manage_guild: bool = False,
        bot: bool = False,
        nick: str | None = None,
    ) -> Member:
        """A new user joins the guild; manage_guild=True gives them the Manage Server permission."""
        guild = guild or self.guild
        role_list = list(roles)
        if manage_guild:
            role_list.append(self._manager_role(guild))
        user = self.world.add_user(username, bot=bot)
        return self.world.add_member(guild, user, roles=role_list, nick=nick)

    def _manager_role(self, guild: Guild) -> Role:
        for role in self.world.roles_of(guild.id):
            if (
                role.permissions & Permission.MANAGE_GUILD
                and role.bot_id is None
                and role.id != guild.id
            ):
                return role
        return self.world.add_role(guild, "Server Manager", Permission.MANAGE_GUILD)

    def set_bot_permissions(self, permissions: int, guild: Guild | None = None) -> None:
        """Change what the bot's managed role allows (e.g. drop SEND_MESSAGES to test a refusal)."""
        guild = guild or self.guild
        self.world.set_role_permissions(self.world.roles[guild.bot_role_id], permissions)

    def set_everyone_permissions(self, permissions: int, guild: Guild | None = None) -> None:
        guild = guild or self.guild
        self.world.set_role_permissions(self.world.roles[guild.everyone_role_id], permissions)

    # ------------------------------------------------------------------ what users do

    def _member(self, user: Member | User | int | None, channel: Channel) -> Member:
        if user is None:
            return self.member
        user_id = user if isinstance(user, int) else user.id
        found = self.world.members.get(channel.guild_id, {}).get(user_id)
        if found is None:
            raise InteractionError(f"user {user_id} is not a member of guild {channel.guild_id}")
        return found

    def _channel(self, channel: Channel | int | None) -> Channel:
        if channel is None:
            return self.channel
        channel_id = channel if isinstance(channel, int) else channel.id
        found = self.world.channels.get(channel_id)
        if found is None:
            raise InteractionError(f"channel {channel_id} does not exist in this fake Discord")
        return found

    def _message(self, message: Message | int) -> Message:
        message_id = message if isinstance(message, int) else message.id
        found = self.world.messages.get(message_id)
        if found is None or found.deleted:
            raise InteractionError(f"message {message_id} does not exist (or was deleted)")
        return found

    def _deliver(self, payload: JSON, record: Interaction) -> Interaction:
        self.world.interactions[record.id] = record
        self.world.interaction_ids_by_token[record.token] = record.id
        delivered = self.hub.dispatch("INTERACTION_CREATE", payload, record.guild_id)
        if not delivered:
            record.failure = "no bot session on the gateway received it"
        self._timers.append(
            asyncio.get_running_loop().call_later(
                self.config.interaction_ack_timeout, self._check_ack, record.id
            )
        )
        self.world.changed("interaction", record.id)
        return record

    def _check_ack(self, interaction_id: int) -> None:
        record = self.world.interactions.get(interaction_id)
        if record is None or record.acknowledged:
            return
        record.failure = (
            record.failure or f"not acknowledged within {self.config.interaction_ack_timeout:g}s"
        )
        self.world.changed("interaction", record.id)
        self.recorder.protocol_error(
            "interaction_timeout",
            f"interaction {record.id} ({record.command_name or record.custom_id}) "
            "was not acknowledged in time",
            "gateway",
        )

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
        """A user runs `/command` ("story new" for a sub-command) with these option values.

        Values are typed against the synced schema: str/int/float/bool, Member/User for user
        options, Channel, Role, UploadFile for attachments, Enum members by value. Raises
        InteractionError for what Discord's client would refuse (unknown command or option, missing
        required option, value outside the choices) and CommandNotPermitted when the user lacks
        the command's default_member_permissions. validate=False sends the values as given, like a
        hostile client would.
        """
        channel_obj = self._channel(channel)
        member = self._member(user, channel_obj)
        root, *path = command.split()
        found = self.world.command_named(channel_obj.guild_id, root)
        if found is None:
            synced = sorted(
                {
                    c["name"]
                    for scope in (channel_obj.guild_id, None)
                    for c in self.world.commands.get(scope, [])
                }
            )
            raise InteractionError(
                f"/{root} is not a synced command here; synced commands: {synced}"
            )
        schema, scope = found
        if validate:
            build.check_can_use(self.world, schema, member, channel_obj)
        option_list, resolved = build.build_command_options(
            self.world,
            schema,
            path,
            options or {},
            user_id=member.id,
            channel=channel_obj,
            validate=validate,
        )
        payload, record = build.base_payload(
            self.world, InteractionType.APPLICATION_COMMAND, member, channel_obj, locale=locale
        )
        data: JSON = {"id": schema["id"], "name": schema["name"], "type": 1}
        if option_list:
            data["options"] = option_list
        if resolved:
            data["resolved"] = resolved
        if scope is not None:
            data["guild_id"] = str(scope)
        payload["data"] = data
        record.data = data
        record.command_name = " ".join([root, *path])
        return self._deliver(payload, record)

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
        """A user types into an autocomplete option; returns the choices the bot answered."""
        channel_obj = self._channel(channel)
        member = self._member(user, channel_obj)
        root, *path = command.split()
        found = self.world.command_named(channel_obj.guild_id, root)
        if found is None:
            raise InteractionError(f"/{root} is not a synced command here")
        schema, scope = found
        option_list, _ = build.build_command_options(
            self.world,
            schema,
            path,
            options,
            user_id=member.id,
            channel=channel_obj,
            validate=True,
            focused=focused,
        )
        payload, record = build.base_payload(
            self.world,
            InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE,
            member,
            channel_obj,
            locale="en-US",
        )
        data: JSON = {"id": schema["id"], "name": schema["name"], "type": 1, "options": option_list}
        if scope is not None:
            data["guild_id"] = str(scope)
        payload["data"] = data
        record.data = data
        record.command_name = " ".join([root, *path])
        self._deliver(payload, record)
        done = await self.wait_for_response(record, timeout=timeout)
        return list(done.autocomplete_choices or [])

    def _component_interaction(
        self,
        message: Message | int,
        custom_id: str,
        user: Member | User | int | None,
        values: list[str] | None,
    ) -> Interaction:
        source = self._message(message)
        channel = self._channel(source.channel_id)
        member = self._member(user, channel)
        if source.ephemeral:
            owner = self.world.interactions.get(source.interaction_id or 0)
            if owner is None or owner.user_id != member.id:
                raise InteractionError(
                    "an ephemeral message can only be used by the user it was shown to"
                )
        component = build.find_component(source, custom_id)
        kind = component["type"]
        if kind == ComponentType.BUTTON:
            if component.get("style") == 5:
                raise InteractionError(
                    f"{custom_id!r} is a link button; clicking it opens a URL, not an interaction"
                )
            if values is not None:
                raise InteractionError(f"{custom_id!r} is a button: use click(), not select()")
        elif values is None:
            raise InteractionError(
                f"{custom_id!r} is a select menu: use select(message, custom_id, values)"
            )
        if component.get("disabled"):
            raise InteractionError(
                f"{custom_id!r} is disabled; Discord would not let anyone use it"
            )
        resolved: dict[str, dict[str, JSON]] = {}
        if values is not None:
            self._check_select(component, values)
        payload, record = build.base_payload(
            self.world, InteractionType.MESSAGE_COMPONENT, member, channel, locale="en-US"
        )
        data = build.component_data(component, values, resolved)
        payload["data"] = data
        payload["message"] = payloads.message(self.world, source)
        record.data = data
        record.custom_id = custom_id
        record.source_message_id = source.id
        return self._deliver(payload, record)

    @staticmethod
    def _check_select(component: JSON, values: list[str]) -> None:
        low, high = component.get("min_values", 1), component.get("max_values", 1)
        if not low <= len(values) <= high:
            raise InteractionError(
                f"select {component['custom_id']!r} takes {low}..{high} values, got {len(values)}"
            )
        if component["type"] == ComponentType.STRING_SELECT:
            offered = [o["value"] for o in component.get("options", [])]
            wrong = [v for v in values if v not in offered]
            if wrong:
                raise InteractionError(
                    f"select {component['custom_id']!r} offers {offered}, not {wrong}"
                )

    async def click(
        self, message: Message | int, custom_id: str, *, user: Member | User | int | None = None
    ) -> Interaction:
        """A user clicks the button `custom_id` on `message`."""
        return self._component_interaction(message, custom_id, user, None)

    async def select(
        self,
        message: Message | int,
        custom_id: str,
        values: list[str],
        *,
        user: Member | User | int | None = None,
    ) -> Interaction:
        """A user picks `values` in the select menu `custom_id` on `message`."""
        return self._component_interaction(message, custom_id, user, values)

    async def submit_modal(
        self,
        interaction: Interaction | int,
        values: Mapping[str, Any],
        *,
        user: Member | User | int | None = None,
    ) -> Interaction:
        """The user fills in and submits the modal the bot answered `interaction` with."""
        opened = self.world.interactions.get(
            interaction if isinstance(interaction, int) else interaction.id
        )
        if opened is None or opened.modal is None:
            raise InteractionError("that interaction was not answered with a modal")
        build.check_modal_values(opened.modal, values)
        channel = self._channel(opened.channel_id)
        member = self._member(user if user is not None else opened.user_id, channel)
        payload, record = build.base_payload(
            self.world, InteractionType.MODAL_SUBMIT, member, channel, locale="en-US"
        )
        data: JSON = {
            "custom_id": opened.modal["custom_id"],
            "components": build.modal_submit_components(opened.modal, values),
        }
        payload["data"] = data
        if opened.source_message_id is not None:
            source = self.world.messages.get(opened.source_message_id)
            if source is not None:
                payload["message"] = payloads.message(self.world, source)
            record.source_message_id = opened.source_message_id
        record.data = data
        record.custom_id = opened.modal["custom_id"]
        return self._deliver(payload, record)

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
        """A user posts a plain message (MESSAGE_CREATE goes to the bot, subject to its intents)."""
        channel_obj = self._channel(channel)
        member = self._member(author, channel_obj)
        body: JSON = {"content": content}
        if embeds is not None:
            body["embeds"] = embeds
        if reply_to is not None:
            body["message_reference"] = {
                "message_id": reply_to if isinstance(reply_to, int) else reply_to.id
            }
        uploads = [
            Upload(f"files[{i}]", f.filename, f.data, f.content_type) for i, f in enumerate(files)
        ]
        parsed = parse_message_body(body, uploads)
        try:
            return self.world.create_message(
                channel_obj, member.id, parsed, route="user:post_message"
            )
        except ApiError as error:
            raise InteractionError(f"Discord would refuse this message: {error}") from error

    async def edit_user_message(self, message: Message | int, content: str) -> Message:
        """The author edits their own message (MESSAGE_UPDATE)."""
        target = self._message(message)
        return self.world.edit_message(
            target, parse_message_body({"content": content}, []), route="user:edit"
        )

    async def delete_message(self, message: Message | int) -> None:
        """A moderator (or the author) deletes a message (MESSAGE_DELETE)."""
        self.world.delete_message(self._message(message))

    async def create_thread(
        self,
        channel: Channel | int | None,
        name: str,
        *,
        author: Member | User | int | None = None,
        from_message: Message | int | None = None,
        private: bool = False,
    ) -> Channel:
        """A user starts a thread (THREAD_CREATE), from a message or standalone."""
        parent = self._channel(channel)
        member = self._member(author, parent)
        kind = ChannelType.PRIVATE_THREAD if private else ChannelType.PUBLIC_THREAD
        body = ThreadBody(
            name=name, auto_archive_duration=1440, type=kind, invitable=True, rate_limit_per_user=0
        )
        starter = None if from_message is None else self._message(from_message)
        return self.world.create_thread(parent, member.id, body, starter=starter)

    async def add_to_thread(self, thread: Channel | int, user: Member | User | int) -> None:
        channel = self._channel(thread)
        self.world.add_thread_member(channel, self._member(user, channel).id)

    async def react(
        self, message: Message | int, emoji: str, *, user: Member | User | int | None = None
    ) -> None:
        target = self._message(message)
        self.world.add_reaction(
            target, emoji, self._member(user, self._channel(target.channel_id)).id
        )

    # ------------------------------------------------------------------ gateway control

    async def disconnect(self, code: int = 4000) -> None:
        """Close the bot's socket with `code`; its session stays resumable (see GatewayHub)."""
        await self.hub.close_connections(code)

    async def drop_connection(self) -> None:
        """Cut the TCP connection without a close frame."""
        await self.hub.drop_connections()

    def hold_new_connections(self) -> None:
        """Make new gateway handshakes wait, as in a gateway outage (REST keeps working)."""
        self.hub.hold_new_connections()

    def release_new_connections(self) -> None:
        self.hub.release_new_connections()

    def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: the client should reconnect and RESUME."""
        self.hub.request_reconnect()

    def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION: with resumable=False the client must IDENTIFY again."""
        self.hub.invalidate_sessions(resumable=resumable)

    @property
    def sessions(self) -> list[GatewaySession]:
        return list(self.hub.sessions)

    @property
    def identify_count(self) -> int:
        return len(self.hub.sessions)

    @property
    def resume_count(self) -> int:
        return sum(s.resumes for s in self.hub.sessions)

    @property
    def gateway_frames(self) -> list[GatewayFrame]:
        return list(self.hub.frames)

    def dispatched(self, event: str) -> list[GatewayFrame]:
        """DISPATCH frames of this event type that went out to the client."""
        return [f for f in self.hub.frames if f.direction == "out" and f.t == event]

    # ------------------------------------------------------------------ rate limits

    def rate_limit(
        self,
        route: str = "*",
        *,
        retry_after: float = 0.5,
        count: int = 1,
        is_global: bool = False,
        method: str | None = None,
    ) -> RateLimitRule:
        """Make the next `count` requests to `route` answer 429 with this retry_after.

        route is a Discord route template as discord.py writes it
        ("/channels/{channel_id}/messages",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original") or "*" for any route;
        "POST /channels/{channel_id}/messages" also works. is_global makes it a global limit.
        """
        if " " in route:
            method, route = route.split(" ", 1)
        return self.limiter.inject(
            route, retry_after=retry_after, count=count, is_global=is_global, method=method
        )

    def set_bucket_limit(self, limit: int, window: float = 1.0) -> None:
        """How many requests each bucket allows per window before an automatic 429."""
        self.limiter.limit = limit
        self.limiter.window = window

    # ------------------------------------------------------------------ records

    @property
    def requests(self) -> list[RestCall]:
        return list(self.recorder.rest_calls)

    @property
    def protocol_errors(self) -> list[ProtocolError]:
        return list(self.recorder.protocol_errors)

    def clear_protocol_errors(self) -> None:
        self.recorder.protocol_errors.clear()

    def messages(
        self, channel: Channel | int | None = None, *, include_deleted: bool = False
    ) -> list[Message]:
        """Messages in creation order (all channels when channel is None)."""
        found = sorted(self.world.messages.values(), key=lambda m: m.id)
        if channel is not None:
            channel_id = channel if isinstance(channel, int) else channel.id
            found = [m for m in found if m.channel_id == channel_id]
        return found if include_deleted else [m for m in found if not m.deleted]

    def message(self, message_id: int) -> Message:
        return self.world.messages[message_id]

    def followups(self, interaction: Interaction | int) -> list[Message]:
        """Messages the bot sent through the followup webhook for this interaction."""
        record = self.world.interactions[
            interaction if isinstance(interaction, int) else interaction.id
        ]
        found = [self.world.messages[m] for m in record.followup_message_ids]
        original = self.world.messages.get(record.original_message_id or 0)
        if original is not None and any(r.route == FOLLOWUP_ROUTE for r in original.revisions):
            found.insert(0, original)
        return found

    @property
    def interactions(self) -> list[Interaction]:
        return sorted(self.world.interactions.values(), key=lambda i: i.id)

    def commands(self, guild: Guild | int | None = None) -> list[JSON]:
        """Synced commands: global when guild is None."""
        scope = guild.id if isinstance(guild, Guild) else guild
        return list(self.world.commands.get(scope, []))

    def threads(self, parent: Channel | int | None = None) -> list[Channel]:
        found = [c for c in self.world.channels.values() if c.is_thread]
        if parent is not None:
            parent_id = parent if isinstance(parent, int) else parent.id
            found = [c for c in found if c.parent_id == parent_id]
        return sorted(found, key=lambda c: c.id)

    @property
    def typing(self) -> list[tuple[float, int, int]]:
        """(at, channel_id, user_id) for every typing indicator the bot triggered."""
        return list(self.world.typing)

    def attachment_bytes(self, attachment_id: int) -> bytes:
        found = self.world.find_attachment(attachment_id)
        if found is None or found.data is None:
            raise KeyError(attachment_id)
        return found.data

    # ------------------------------------------------------------------ waiting

    def _bump(self, kind: str = "", item_id: int = 0) -> None:
        self.version += 1
        if kind:
            self._change_log.append((self.version, kind, item_id))
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def changes_since(self, version: int) -> tuple[list[Message], list[Interaction]]:
        """Messages and interactions that changed after `version` (each once, current state)."""
        start = bisect.bisect_right(self._change_log, version, key=lambda entry: entry[0])
        message_ids: dict[int, None] = {}
        interaction_ids: dict[int, None] = {}
        for _, kind, item_id in self._change_log[start:]:
            (message_ids if kind == "message" else interaction_ids)[item_id] = None
        messages = [self.world.messages[i] for i in message_ids if i in self.world.messages]
        found = [
            self.world.interactions[i] for i in interaction_ids if i in self.world.interactions
        ]
        return messages, found

    async def wait_for(
        self, check: Callable[[], T | None], *, timeout: float = 5.0, what: str = "condition"
    ) -> T:
        """Re-run `check` after every change (and every 50 ms, for state outside the fake, such
        as a bot's cache) until it returns something truthy; TimeoutError says what was seen."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"timed out after {timeout:g}s waiting for {what}; {self._summary()}"
                )
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, _POLL_S))

    def _summary(self) -> str:
        recent = self.messages(include_deleted=True)[-5:]
        lines = [
            f"msg {m.id} in {m.channel_id}: {m.content[:60]!r} flags={m.flags} edits={len(m.edits)}"
            for m in recent
        ]
        errors = [f"{e.kind}: {e.detail[:100]}" for e in self.recorder.protocol_errors[-3:]]
        sessions = [s.to_json() for s in self.hub.sessions]
        return f"last messages: {lines}; protocol errors: {errors}; sessions: {sessions}"

    async def wait_for_version(self, since: int, *, timeout: float) -> int:
        """Wait until anything changed after version `since`; returns the current version."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.version <= since and (remaining := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self.version

    async def wait_for_message(
        self,
        predicate: Callable[[Message], bool],
        *,
        channel: Channel | int | None = None,
        timeout: float = 5.0,
    ) -> Message:
        """The first message (in id order; deleted ones too) for which predicate(message) holds,
        now or after a later send or edit. `channel` narrows the search to one channel."""

        def check() -> Message | None:
            found = self.messages(channel, include_deleted=True)
            return next((m for m in found if predicate(m)), None)

        return await self.wait_for(check, timeout=timeout, what="a matching message")

    async def wait_for_response(
        self, interaction: Interaction | int, *, timeout: float = 5.0
    ) -> Interaction:
        """Wait until the bot acknowledged the interaction (any callback type)."""
        interaction_id = interaction if isinstance(interaction, int) else interaction.id

        def check() -> Interaction | None:
            record = self.world.interactions[interaction_id]
            if record.failure and not record.acknowledged:
                raise TimeoutError(f"interaction {interaction_id} failed: {record.failure}")
            return record if record.acknowledged else None

        return await self.wait_for(
            check, timeout=timeout, what=f"a response to interaction {interaction_id}"
        )

    async def wait_for_original(
        self,
        interaction: Interaction | int,
        predicate: Callable[[Message], bool] = lambda m: not m.loading,
        *,
        timeout: float = 5.0,
    ) -> Message:
        """The original response once predicate holds (default: no longer "thinking...")."""
        interaction_id = interaction if isinstance(interaction, int) else interaction.id

        def check() -> Message | None:
            record = self.world.interactions[interaction_id]
            if record.failure and not record.acknowledged:
                raise TimeoutError(f"interaction {interaction_id} failed: {record.failure}")
            message = self.world.messages.get(record.original_message_id or 0)
            return message if message is not None and predicate(message) else None

        return await self.wait_for(
            check, timeout=timeout, what=f"the original response of {interaction_id}"
        )

    async def wait_for_followup(
        self,
        interaction: Interaction | int,
        predicate: Callable[[Message], bool] = lambda m: True,
        *,
        timeout: float = 5.0,
    ) -> Message:
        """A followup message matching predicate.

        After a "thinking" defer Discord turns the first followup into the original response (the
        loading message is edited, no new message appears); that message counts as a followup here.
        """
        interaction_id = interaction if isinstance(interaction, int) else interaction.id

        def check() -> Message | None:
            record = self.world.interactions[interaction_id]
            for message in self.followups(record):
                if predicate(message):
                    return message
            return None

        return await self.wait_for(check, timeout=timeout, what=f"a followup to {interaction_id}")

    async def wait_for_commands(
        self, names: Iterable[str], *, guild: Guild | int | None = None, timeout: float = 5.0
    ) -> list[JSON]:
        """Wait until commands with all these names are synced (globally, or to `guild`)."""
        wanted = set(names)
        scope = guild.id if isinstance(guild, Guild) else guild

        def check() -> list[JSON] | None:
            synced = self.world.commands.get(scope, [])
            return synced if wanted <= {c["name"] for c in synced} else None

        return await self.wait_for(
            check, timeout=timeout, what=f"commands {sorted(wanted)} to be synced"
        )

    async def wait_until_connected(self, *, timeout: float = 5.0) -> GatewaySession:
        """Wait until a gateway session is live (READY or RESUMED sent)."""

        def check() -> GatewaySession | None:
            live = self.hub.live_sessions
            return live[-1] if live else None

        return await self.wait_for(check, timeout=timeout, what="a connected gateway session")

    async def wait_for_request(
        self, predicate: Callable[[RestCall], bool], *, timeout: float = 5.0
    ) -> RestCall:
        def check() -> RestCall | None:
            return next((c for c in self.recorder.rest_calls if predicate(c)), None)

        return await self.wait_for(check, timeout=timeout, what="a matching REST request")

    # ------------------------------------------------------------------ CDN and 404s

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        attachment_id = request.match_info["attachment_id"]
        found = self.world.find_attachment(int(attachment_id)) if attachment_id.isdigit() else None
        if found is None or found.data is None or found.filename != request.match_info["filename"]:
            return web.Response(status=404, text="Not Found")
        return web.Response(
            body=found.data, content_type=found.content_type or "application/octet-stream"
        )

    async def _unknown(self, request: web.Request) -> web.StreamResponse:
        self.recorder.protocol_error(
            "unknown_route",
            "no such path on Discord",
            f"{request.method} {request.path}",
            status=404,
        )
        return json_response(404, {"message": "404: Not Found", "code": 0})
