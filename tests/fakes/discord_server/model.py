"""The fake's records: what Discord holds (users, guilds, channels, messages, commands) and what it
saw (REST calls, gateway frames, protocol errors).

Every record converts to and from plain JSON, so the control API can hand the same objects to a
test that drives the fake in another process.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord_server.constants import THREAD_TYPES, ChannelType, MessageFlag

JSON = dict[str, Any]


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "username": self.username,
            "global_name": self.global_name,
            "bot": self.bot,
        }

    @classmethod
    def from_json(cls, data: JSON) -> User:
        return cls(
            int(data["id"]), data["username"], data.get("global_name"), bool(data.get("bot"))
        )


@dataclass
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    mentionable: bool = False
    bot_id: int | None = None  # set on a bot's managed role

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "guild_id": self.guild_id,
            "name": self.name,
            "permissions": self.permissions,
            "position": self.position,
            "mentionable": self.mentionable,
            "bot_id": self.bot_id,
        }

    @classmethod
    def from_json(cls, data: JSON) -> Role:
        return cls(
            int(data["id"]),
            int(data["guild_id"]),
            data["name"],
            int(data["permissions"]),
            int(data.get("position", 0)),
            bool(data.get("mentionable")),
            None if data.get("bot_id") is None else int(data["bot_id"]),
        )


@dataclass
class Member:
    user: User
    guild_id: int
    role_ids: list[int]
    joined_at: str
    nick: str | None = None

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def mention(self) -> str:
        return self.user.mention

    def to_json(self) -> JSON:
        return {
            "user": self.user.to_json(),
            "guild_id": self.guild_id,
            "role_ids": list(self.role_ids),
            "joined_at": self.joined_at,
            "nick": self.nick,
        }

    @classmethod
    def from_json(cls, data: JSON) -> Member:
        return cls(
            User.from_json(data["user"]),
            int(data["guild_id"]),
            [int(r) for r in data["role_ids"]],
            data["joined_at"],
            data.get("nick"),
        )


@dataclass
class Channel:
    """A guild channel or a thread (threads carry the thread-only fields)."""

    id: int
    guild_id: int
    name: str
    type: int = ChannelType.GUILD_TEXT
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    last_message_id: int | None = None
    rate_limit_per_user: int = 0
    # Thread-only fields.
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    invitable: bool = True
    auto_archive_duration: int = 1440
    archive_timestamp: str | None = None
    create_timestamp: str | None = None
    message_count: int = 0
    total_message_sent: int = 0
    member_ids: list[int] = field(default_factory=list)

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "guild_id": self.guild_id,
            "name": self.name,
            "type": int(self.type),
            "position": self.position,
            "parent_id": self.parent_id,
            "topic": self.topic,
            "last_message_id": self.last_message_id,
            "rate_limit_per_user": self.rate_limit_per_user,
            "owner_id": self.owner_id,
            "archived": self.archived,
            "locked": self.locked,
            "invitable": self.invitable,
            "auto_archive_duration": self.auto_archive_duration,
            "archive_timestamp": self.archive_timestamp,
            "create_timestamp": self.create_timestamp,
            "message_count": self.message_count,
            "total_message_sent": self.total_message_sent,
            "member_ids": list(self.member_ids),
        }

    @classmethod
    def from_json(cls, data: JSON) -> Channel:
        def opt_int(key: str) -> int | None:
            return None if data.get(key) is None else int(data[key])

        return cls(
            id=int(data["id"]),
            guild_id=int(data["guild_id"]),
            name=data["name"],
            type=int(data["type"]),
            position=int(data.get("position", 0)),
            parent_id=opt_int("parent_id"),
            topic=data.get("topic"),
            last_message_id=opt_int("last_message_id"),
            rate_limit_per_user=int(data.get("rate_limit_per_user", 0)),
            owner_id=opt_int("owner_id"),
            archived=bool(data.get("archived")),
            locked=bool(data.get("locked")),
            invitable=bool(data.get("invitable", True)),
            auto_archive_duration=int(data.get("auto_archive_duration", 1440)),
            archive_timestamp=data.get("archive_timestamp"),
            create_timestamp=data.get("create_timestamp"),
            message_count=int(data.get("message_count", 0)),
            total_message_sent=int(data.get("total_message_sent", 0)),
            member_ids=[int(m) for m in data.get("member_ids", [])],
        )


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    bot_role_id: int
    system_channel_id: int | None = None

    @property
    def everyone_role_id(self) -> int:
        return self.id  # Discord gives @everyone the guild's own id

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "name": self.name,
            "owner_id": self.owner_id,
            "bot_role_id": self.bot_role_id,
            "system_channel_id": self.system_channel_id,
        }

    @classmethod
    def from_json(cls, data: JSON) -> Guild:
        system = data.get("system_channel_id")
        return cls(
            int(data["id"]),
            data["name"],
            int(data["owner_id"]),
            int(data["bot_role_id"]),
            None if system is None else int(system),
        )


@dataclass
class Attachment:
    id: int
    filename: str
    size: int
    url: str
    sha256: str
    content_type: str | None = None
    description: str | None = None
    ephemeral: bool = False
    data: bytes | None = field(default=None, repr=False)

    @classmethod
    def from_bytes(
        cls,
        id: int,
        filename: str,
        data: bytes,
        url: str,
        *,
        content_type: str | None = None,
        description: str | None = None,
        ephemeral: bool = False,
    ) -> Attachment:
        return cls(
            id=id,
            filename=filename,
            size=len(data),
            url=url,
            sha256=hashlib.sha256(data).hexdigest(),
            content_type=content_type,
            description=description,
            ephemeral=ephemeral,
            data=data,
        )

    def to_json(self, *, with_data: bool = False) -> JSON:
        out: JSON = {
            "id": self.id,
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "sha256": self.sha256,
            "content_type": self.content_type,
            "description": self.description,
            "ephemeral": self.ephemeral,
        }
        if with_data and self.data is not None:
            out["data_base64"] = base64.b64encode(self.data).decode("ascii")
        return out

    @classmethod
    def from_json(cls, data: JSON) -> Attachment:
        raw = data.get("data_base64")
        return cls(
            id=int(data["id"]),
            filename=data["filename"],
            size=int(data["size"]),
            url=data["url"],
            sha256=data["sha256"],
            content_type=data.get("content_type"),
            description=data.get("description"),
            ephemeral=bool(data.get("ephemeral")),
            data=None if raw is None else base64.b64decode(raw),
        )


@dataclass(frozen=True)
class MessageRevision:
    """One state of a message: the original send or one edit."""

    at: float  # seconds since the fake started (monotonic clock)
    timestamp: str  # ISO 8601 wall-clock time, as Discord reports it
    content: str
    embeds: list[JSON]
    components: list[JSON]
    attachments: list[Attachment]
    allowed_mentions: JSON | None
    flags: int
    # What produced it: "METHOD route template" of the REST call, or "user:..." for the test API.
    route: str

    def to_json(self) -> JSON:
        return {
            "at": self.at,
            "timestamp": self.timestamp,
            "content": self.content,
            "embeds": self.embeds,
            "components": self.components,
            "attachments": [a.to_json() for a in self.attachments],
            "allowed_mentions": self.allowed_mentions,
            "flags": self.flags,
            "route": self.route,
        }

    @classmethod
    def from_json(cls, data: JSON) -> MessageRevision:
        return cls(
            at=float(data["at"]),
            timestamp=data["timestamp"],
            content=data["content"],
            embeds=list(data["embeds"]),
            components=list(data["components"]),
            attachments=[Attachment.from_json(a) for a in data["attachments"]],
            allowed_mentions=data.get("allowed_mentions"),
            flags=int(data["flags"]),
            route=data["route"],
        )


@dataclass
class Message:
    """A message and its whole history: `revisions[0]` is how it was sent, the rest are edits."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    author_bot: bool
    type: int
    revisions: list[MessageRevision]
    created_at: float
    timestamp: str
    nonce: str | None = None
    message_reference: JSON | None = None
    interaction_id: int | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    thread_id: int | None = None
    deleted_at: float | None = None
    pinged_user_ids: list[int] = field(default_factory=list)
    pinged_role_ids: list[int] = field(default_factory=list)
    pinged_everyone: bool = False
    reactions: dict[str, list[int]] = field(default_factory=dict)
    system_flags: int = 0  # flags Discord sets itself (HAS_THREAD), not part of any revision

    @property
    def current(self) -> MessageRevision:
        return self.revisions[-1]

    @property
    def content(self) -> str:
        return self.current.content

    @property
    def embeds(self) -> list[JSON]:
        return self.current.embeds

    @property
    def components(self) -> list[JSON]:
        return self.current.components

    @property
    def attachments(self) -> list[Attachment]:
        return self.current.attachments

    @property
    def allowed_mentions(self) -> JSON | None:
        return self.current.allowed_mentions

    @property
    def flags(self) -> int:
        return self.current.flags | self.system_flags

    @property
    def edits(self) -> list[MessageRevision]:
        return self.revisions[1:]

    @property
    def edited_timestamp(self) -> str | None:
        return self.revisions[-1].timestamp if len(self.revisions) > 1 else None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MessageFlag.EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while a deferred interaction response still shows "is thinking..."."""
        return bool(self.flags & MessageFlag.LOADING)

    @property
    def pings_anyone(self) -> bool:
        """Whether any state of this message notified a user, a role or @everyone/@here."""
        return bool(self.pinged_user_ids or self.pinged_role_ids or self.pinged_everyone)

    def custom_ids(self) -> list[str]:
        """custom_id of every interactive component, in display order."""
        found: list[str] = []

        def walk(components: list[JSON]) -> None:
            for component in components:
                if "custom_id" in component:
                    found.append(component["custom_id"])
                walk(component.get("components", []))
                if isinstance(component.get("component"), dict):
                    walk([component["component"]])
                if isinstance(component.get("accessory"), dict):
                    walk([component["accessory"]])

        walk(self.components)
        return found

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "channel_id": self.channel_id,
            "guild_id": self.guild_id,
            "author_id": self.author_id,
            "author_bot": self.author_bot,
            "type": self.type,
            "revisions": [r.to_json() for r in self.revisions],
            "created_at": self.created_at,
            "timestamp": self.timestamp,
            "nonce": self.nonce,
            "message_reference": self.message_reference,
            "interaction_id": self.interaction_id,
            "webhook_id": self.webhook_id,
            "application_id": self.application_id,
            "thread_id": self.thread_id,
            "deleted_at": self.deleted_at,
            "pinged_user_ids": list(self.pinged_user_ids),
            "pinged_role_ids": list(self.pinged_role_ids),
            "pinged_everyone": self.pinged_everyone,
            "reactions": {k: list(v) for k, v in self.reactions.items()},
            "system_flags": self.system_flags,
        }

    @classmethod
    def from_json(cls, data: JSON) -> Message:
        def opt_int(key: str) -> int | None:
            return None if data.get(key) is None else int(data[key])

        return cls(
            id=int(data["id"]),
            channel_id=int(data["channel_id"]),
            guild_id=opt_int("guild_id"),
            author_id=int(data["author_id"]),
            author_bot=bool(data["author_bot"]),
            type=int(data["type"]),
            revisions=[MessageRevision.from_json(r) for r in data["revisions"]],
            created_at=float(data["created_at"]),
            timestamp=data["timestamp"],
            nonce=data.get("nonce"),
            message_reference=data.get("message_reference"),
            interaction_id=opt_int("interaction_id"),
            webhook_id=opt_int("webhook_id"),
            application_id=opt_int("application_id"),
            thread_id=opt_int("thread_id"),
            deleted_at=None if data.get("deleted_at") is None else float(data["deleted_at"]),
            pinged_user_ids=[int(u) for u in data.get("pinged_user_ids", [])],
            pinged_role_ids=[int(r) for r in data.get("pinged_role_ids", [])],
            pinged_everyone=bool(data.get("pinged_everyone")),
            reactions={k: [int(u) for u in v] for k, v in data.get("reactions", {}).items()},
            system_flags=int(data.get("system_flags", 0)),
        )


@dataclass
class Interaction:
    """An interaction the fake delivered, and everything the bot did to answer it."""

    id: int
    token: str
    type: int
    guild_id: int | None
    channel_id: int
    user_id: int
    created_at: float
    data: JSON
    command_name: str | None = None  # qualified: "story new"
    custom_id: str | None = None
    source_message_id: int | None = None  # the message a clicked component sits on
    acknowledged_at: float | None = None
    callback_types: list[int] = field(default_factory=list)
    original_message_id: int | None = None
    followup_message_ids: list[int] = field(default_factory=list)
    modal: JSON | None = None
    autocomplete_choices: list[JSON] | None = None
    failure: str | None = None  # why Discord would show "The application did not respond"

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "token": self.token,
            "type": self.type,
            "guild_id": self.guild_id,
            "channel_id": self.channel_id,
            "user_id": self.user_id,
            "created_at": self.created_at,
            "data": self.data,
            "command_name": self.command_name,
            "custom_id": self.custom_id,
            "source_message_id": self.source_message_id,
            "acknowledged_at": self.acknowledged_at,
            "callback_types": list(self.callback_types),
            "original_message_id": self.original_message_id,
            "followup_message_ids": list(self.followup_message_ids),
            "modal": self.modal,
            "autocomplete_choices": self.autocomplete_choices,
            "failure": self.failure,
        }

    @classmethod
    def from_json(cls, data: JSON) -> Interaction:
        def opt_int(key: str) -> int | None:
            return None if data.get(key) is None else int(data[key])

        return cls(
            id=int(data["id"]),
            token=data["token"],
            type=int(data["type"]),
            guild_id=opt_int("guild_id"),
            channel_id=int(data["channel_id"]),
            user_id=int(data["user_id"]),
            created_at=float(data["created_at"]),
            data=data["data"],
            command_name=data.get("command_name"),
            custom_id=data.get("custom_id"),
            source_message_id=opt_int("source_message_id"),
            acknowledged_at=None
            if data.get("acknowledged_at") is None
            else float(data["acknowledged_at"]),
            callback_types=[int(t) for t in data.get("callback_types", [])],
            original_message_id=opt_int("original_message_id"),
            followup_message_ids=[int(m) for m in data.get("followup_message_ids", [])],
            modal=data.get("modal"),
            autocomplete_choices=data.get("autocomplete_choices"),
            failure=data.get("failure"),
        )


@dataclass(frozen=True)
class RestCall:
    """One REST request the client made and what the fake answered."""

    seq: int
    at: float  # seconds since the fake started, when the request arrived
    method: str
    path: str  # the real path, without the /api/v10 prefix
    route: str  # the Discord route template ("" when no route matched)
    query: dict[str, str]
    status: int
    body: Any  # the parsed JSON body (payload_json of a multipart body), or None
    files: list[JSON]  # [{"field", "filename", "size", "content_type"}]
    error_code: int | None
    authorized: bool

    @property
    def key(self) -> str:
        """ "METHOD route", the same key discord.py uses for its rate-limit buckets."""
        return f"{self.method} {self.route}"

    def to_json(self) -> JSON:
        return {
            "seq": self.seq,
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "route": self.route,
            "query": self.query,
            "status": self.status,
            "body": self.body,
            "files": self.files,
            "error_code": self.error_code,
            "authorized": self.authorized,
        }

    @classmethod
    def from_json(cls, data: JSON) -> RestCall:
        return cls(
            seq=int(data["seq"]),
            at=float(data["at"]),
            method=data["method"],
            path=data["path"],
            route=data["route"],
            query=dict(data["query"]),
            status=int(data["status"]),
            body=data.get("body"),
            files=list(data.get("files", [])),
            error_code=data.get("error_code"),
            authorized=bool(data.get("authorized")),
        )


@dataclass(frozen=True)
class ProtocolError:
    """Something Discord would have rejected, or a client that broke the protocol.

    kind is one of: unknown_route, method_not_allowed, unauthorized, invalid_json,
    invalid_form_body, empty_message, missing_permissions, missing_access, unknown_resource,
    invalid_channel_type, thread_already_created, thread_archived, request_too_large,
    unknown_interaction, interaction_already_acknowledged, interaction_not_acknowledged,
    interaction_timeout, interaction_token_expired, rate_limit_ignored, fake_internal_error,
    and gateway_* (gateway violations).
    """

    seq: int
    at: float
    kind: str
    detail: str
    request: str  # "METHOD /path" or "gateway"
    status: int | None = None
    code: int | None = None

    def to_json(self) -> JSON:
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "detail": self.detail,
            "request": self.request,
            "status": self.status,
            "code": self.code,
        }

    @classmethod
    def from_json(cls, data: JSON) -> ProtocolError:
        return cls(
            seq=int(data["seq"]),
            at=float(data["at"]),
            kind=data["kind"],
            detail=data["detail"],
            request=data["request"],
            status=data.get("status"),
            code=data.get("code"),
        )


@dataclass(frozen=True)
class GatewayFrame:
    """One gateway payload, in either direction. Tokens are never kept."""

    at: float
    session_id: str | None
    direction: str  # "in" (client -> fake) or "out"
    op: int
    t: str | None
    s: int | None
    d: Any

    def to_json(self) -> JSON:
        return {
            "at": self.at,
            "session_id": self.session_id,
            "direction": self.direction,
            "op": self.op,
            "t": self.t,
            "s": self.s,
            "d": self.d,
        }

    @classmethod
    def from_json(cls, data: JSON) -> GatewayFrame:
        return cls(
            at=float(data["at"]),
            session_id=data.get("session_id"),
            direction=data["direction"],
            op=int(data["op"]),
            t=data.get("t"),
            s=data.get("s"),
            d=data.get("d"),
        )
