"""What the fake Discord holds, and the operations both the REST API and the test API perform on it.

World knows nothing about HTTP or websockets: an operation checks Discord's rules, changes the
records, and hands the gateway events it caused to `dispatch` (the gateway hub filters them per
session by intent). `changed` is called after every change so waiters can re-check.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from tests.fakes.discord_server import payloads
from tests.fakes.discord_server.constants import (
    DEFAULT_ATTACHMENT_SIZE_LIMIT,
    DISCORD_EPOCH_MS,
    ChannelType,
    ErrorCode,
    Intent,
    MessageFlag,
    MessageType,
    Permission,
)
from tests.fakes.discord_server.errors import ApiError, FormErrors, missing_permissions, not_found
from tests.fakes.discord_server.model import (
    JSON,
    Attachment,
    Channel,
    Guild,
    Interaction,
    Member,
    Message,
    MessageRevision,
    Role,
    User,
)
from tests.fakes.discord_server.validation import (
    MessageBody,
    ThreadBody,
    Upload,
    empty_message_error,
    normalise_command,
)

Dispatch = Callable[[str, JSON, "int | None"], None]

_USER_MENTION = re.compile(r"<@!?(\d{1,20})>")
_ROLE_MENTION = re.compile(r"<@&(\d{1,20})>")
_EVERYONE = re.compile(r"@(everyone|here)")
# How long Discord remembers an enforced nonce (docs: "the past few minutes").
NONCE_WINDOW_S = 120.0
# ApplicationFlags for privileged intents enabled in the developer portal (non-verified bot).
_APP_FLAG_FOR_INTENT = {
    Intent.GUILD_PRESENCES: 1 << 13,
    Intent.GUILD_MEMBERS: 1 << 15,
    Intent.MESSAGE_CONTENT: 1 << 19,
}


class ChangeListener(Protocol):
    """Called after every change; kind "message" or "interaction" names the record that changed."""

    def __call__(self, kind: str = "", item_id: int = 0) -> None: ...


def _ignore_change(kind: str = "", item_id: int = 0) -> None:
    pass


@dataclass(frozen=True)
class Mentions:
    users: tuple[int, ...]
    roles: tuple[int, ...]
    everyone: bool


class World:
    def __init__(
        self,
        *,
        bot_name: str = "Campfire",
        privileged_intents: int = Intent.PRIVILEGED,
        attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT,
    ) -> None:
        self._t0 = time.monotonic()
        self._last_id = 0
        self._token_counter = 0
        self.base_url = ""  # set by the server once it listens; attachment URLs hang off it
        self.privileged_intents = privileged_intents
        self.attachment_size_limit = attachment_size_limit
        self.dispatch: Dispatch = lambda event, data, guild_id: None
        self.changed: ChangeListener = _ignore_change

        self.users: dict[int, User] = {}
        self.guilds: dict[int, Guild] = {}
        self.roles: dict[int, Role] = {}
        self.members: dict[int, dict[int, Member]] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.channel_message_ids: dict[int, list[int]] = {}
        self.commands: dict[int | None, list[JSON]] = {}
        self.interactions: dict[int, Interaction] = {}
        self.interaction_ids_by_token: dict[str, int] = {}
        self.typing: list[tuple[float, int, int]] = []  # (at, channel_id, user_id)
        self.presence_updates: list[JSON] = []
        self._nonces: dict[tuple[int, int, str], tuple[float, int]] = {}
        # Files uploaded as slash-command options belong to no message.
        self._loose_attachments: dict[int, Attachment] = {}

        self.bot = self.add_user(bot_name, bot=True)
        self.owner = self.add_user("app-owner")
        self.application_id = self.bot.id

    # ------------------------------------------------------------------ clocks and ids

    def now(self) -> float:
        """Seconds since the fake started (monotonic): the time base of every record."""
        return time.monotonic() - self._t0

    @staticmethod
    def iso_now() -> str:
        return datetime.now(UTC).isoformat(timespec="microseconds")

    def next_id(self) -> int:
        """A snowflake whose timestamp is now; strictly increasing, so ids order like events."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        self._last_id = max(self._last_id + 1, ms << 22)
        return self._last_id

    def next_token(self, prefix: str) -> str:
        self._token_counter += 1
        return f"{prefix}.{self._token_counter:06d}.{self.next_id():x}"

    @property
    def application_flags(self) -> int:
        flags = 0
        for intent, flag in _APP_FLAG_FOR_INTENT.items():
            if self.privileged_intents & intent:
                flags |= flag
        return flags

    # ------------------------------------------------------------------ builders

    def add_user(self, username: str, *, bot: bool = False, global_name: str | None = None) -> User:
        user = User(self.next_id(), username, global_name, bot)
        self.users[user.id] = user
        self.changed()
        return user

    def add_guild(self, name: str, *, owner: User | None = None) -> Guild:
        guild_id = self.next_id()
        owner = owner or self.owner
        bot_role = Role(
            self.next_id(),
            guild_id,
            self.bot.username,
            Permission.BOT_DEFAULT,
            1,
            bot_id=self.bot.id,
        )
        guild = Guild(guild_id, name, owner.id, bot_role.id)
        self.guilds[guild_id] = guild
        self.roles[guild_id] = Role(guild_id, guild_id, "@everyone", Permission.EVERYONE_DEFAULT, 0)
        self.roles[bot_role.id] = bot_role
        self.members[guild_id] = {}
        self._new_member(guild, self.bot, [bot_role.id])
        if owner.id != self.bot.id:
            self._new_member(guild, owner, [])
        self.dispatch(
            "GUILD_CREATE", payloads.guild_create(self, guild, include_all_members=True), guild_id
        )
        self.changed()
        return guild

    def add_role(
        self, guild: Guild, name: str, permissions: int = 0, *, mentionable: bool = False
    ) -> Role:
        position = 1 + max((r.position for r in self.roles_of(guild.id)), default=0)
        role = Role(self.next_id(), guild.id, name, permissions, position, mentionable)
        self.roles[role.id] = role
        self.dispatch(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": payloads.role(role)}, guild.id
        )
        self.changed()
        return role

    def add_channel(
        self,
        guild: Guild,
        name: str,
        *,
        type: int = ChannelType.GUILD_TEXT,
        parent: Channel | None = None,
        topic: str | None = None,
    ) -> Channel:
        position = len([c for c in self.channels_of(guild.id) if not c.is_thread])
        channel = Channel(
            self.next_id(),
            guild.id,
            name,
            type,
            position,
            parent_id=None if parent is None else parent.id,
            topic=topic,
        )
        self.channels[channel.id] = channel
        self.channel_message_ids[channel.id] = []
        if guild.system_channel_id is None and type == ChannelType.GUILD_TEXT:
            guild.system_channel_id = channel.id
        self.dispatch("CHANNEL_CREATE", payloads.channel(self, channel), guild.id)
        self.changed()
        return channel

    def add_member(
        self, guild: Guild, user: User, *, roles: list[Role] | None = None, nick: str | None = None
    ) -> Member:
        member = self._new_member(guild, user, [r.id for r in roles or []], nick=nick)
        event = payloads.member(member)
        event["guild_id"] = str(guild.id)
        self.dispatch("GUILD_MEMBER_ADD", event, guild.id)
        self.changed()
        return member

    def _new_member(
        self, guild: Guild, user: User, role_ids: list[int], *, nick: str | None = None
    ) -> Member:
        member = Member(user, guild.id, role_ids, self.iso_now(), nick)
        self.members[guild.id][user.id] = member
        return member

    def set_role_permissions(self, role: Role, permissions: int) -> None:
        role.permissions = permissions
        self.dispatch(
            "GUILD_ROLE_UPDATE",
            {"guild_id": str(role.guild_id), "role": payloads.role(role)},
            role.guild_id,
        )
        self.changed()

    # ------------------------------------------------------------------ lookups

    def roles_of(self, guild_id: int) -> list[Role]:
        return sorted(
            (r for r in self.roles.values() if r.guild_id == guild_id),
            key=lambda r: (r.position, r.id),
        )

    def members_of(self, guild_id: int) -> list[Member]:
        return list(self.members.get(guild_id, {}).values())

    def channels_of(self, guild_id: int) -> list[Channel]:
        return [c for c in self.channels.values() if c.guild_id == guild_id]

    def guild(self, guild_id: int) -> Guild:
        try:
            return self.guilds[guild_id]
        except KeyError:
            raise not_found(ErrorCode.UNKNOWN_GUILD, "Guild") from None

    def channel(self, channel_id: int) -> Channel:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise not_found(ErrorCode.UNKNOWN_CHANNEL, "Channel") from None

    def member(self, guild_id: int, user_id: int) -> Member:
        try:
            return self.members[guild_id][user_id]
        except KeyError:
            raise not_found(ErrorCode.UNKNOWN_MEMBER, "Member") from None

    def message(self, channel_id: int, message_id: int) -> Message:
        found = self.messages.get(message_id)
        if found is None or found.channel_id != channel_id or found.deleted:
            raise not_found(ErrorCode.UNKNOWN_MESSAGE, "Message")
        return found

    def channel_messages(self, channel_id: int, *, include_deleted: bool = False) -> list[Message]:
        ids = self.channel_message_ids.get(channel_id, [])
        found = [self.messages[i] for i in ids]
        return found if include_deleted else [m for m in found if not m.deleted]

    def position_in_thread(self, message: Message) -> int:
        return self.channel_message_ids.get(message.channel_id, []).index(message.id)

    # ------------------------------------------------------------------ permissions

    def permissions(self, guild_id: int, user_id: int) -> int:
        """Guild-level permissions (the fake has no channel overwrites)."""
        guild = self.guilds.get(guild_id)
        if guild is None:
            return 0
        if user_id == guild.owner_id:
            return Permission.ALL
        found = self.members.get(guild_id, {}).get(user_id)
        if found is None:
            return 0
        value = self.roles[guild.everyone_role_id].permissions
        for role_id in found.role_ids:
            value |= self.roles[role_id].permissions
        return Permission.ALL if value & Permission.ADMINISTRATOR else value

    def require(self, channel: Channel, user_id: int, *needed: int) -> None:
        granted = self.permissions(channel.guild_id, user_id)
        for permission in (Permission.VIEW_CHANNEL, *needed):
            if not granted & permission:
                raise missing_permissions()

    # ------------------------------------------------------------------ mentions

    def mentions_for(
        self, revision: MessageRevision, guild_id: int | None, reply_to: int | None
    ) -> Mentions:
        """Who Discord would notify for this text under these allowed_mentions.

        Deliberately conservative: a role ping counts even if the role is not mentionable and an
        @everyone counts even if the author lacks Mention Everyone, so a test asserting "nobody
        was pinged" fails whenever the text *could* ping in a guild configured loosely.
        """
        allowed = revision.allowed_mentions
        parse = (
            {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        )
        user_ids = [int(u) for u in _USER_MENTION.findall(revision.content) if int(u) in self.users]
        role_ids = [int(r) for r in _ROLE_MENTION.findall(revision.content) if int(r) in self.roles]
        if allowed is not None and "users" not in parse:
            listed = {int(u) for u in allowed.get("users") or []}
            user_ids = [u for u in user_ids if u in listed]
        if allowed is not None and "roles" not in parse:
            listed = {int(r) for r in allowed.get("roles") or []}
            role_ids = [r for r in role_ids if r in listed]
        if reply_to is not None and (allowed is None or allowed.get("replied_user")):
            user_ids.append(reply_to)
        if guild_id is not None:
            role_ids = [r for r in role_ids if self.roles[r].guild_id == guild_id]
        everyone = (
            guild_id is not None
            and "everyone" in parse
            and bool(_EVERYONE.search(revision.content))
        )
        return Mentions(tuple(dict.fromkeys(user_ids)), tuple(dict.fromkeys(role_ids)), everyone)

    def _current_mentions(self, message: Message) -> Mentions:
        return self.mentions_for(message.current, message.guild_id, self._reply_author(message))

    def mentioned_user_ids(self, message: Message) -> tuple[int, ...]:
        return self._current_mentions(message).users

    def mentioned_role_ids(self, message: Message) -> tuple[int, ...]:
        return self._current_mentions(message).roles

    def mentions_everyone(self, message: Message) -> bool:
        return self._current_mentions(message).everyone

    def _reply_author(self, message: Message) -> int | None:
        if message.type != MessageType.REPLY or message.message_reference is None:
            return None
        ref = message.message_reference.get("message_id")
        referenced = self.messages.get(int(ref)) if ref is not None else None
        return None if referenced is None else referenced.author_id

    def _record_pings(self, message: Message) -> None:
        found = self._current_mentions(message)
        for user_id in found.users:
            if user_id != message.author_id and user_id not in message.pinged_user_ids:
                message.pinged_user_ids.append(user_id)
        for role_id in found.roles:
            if role_id not in message.pinged_role_ids:
                message.pinged_role_ids.append(role_id)
        message.pinged_everyone = message.pinged_everyone or found.everyone

    # ------------------------------------------------------------------ messages

    def attachment_url(self, channel_id: int, attachment_id: int, filename: str) -> str:
        return f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{filename}"

    def new_attachment(
        self,
        channel_id: int,
        upload: Upload,
        *,
        description: str | None = None,
        ephemeral: bool = False,
    ) -> Attachment:
        if len(upload.data) > self.attachment_size_limit:
            raise ApiError(
                413,
                ErrorCode.REQUEST_ENTITY_TOO_LARGE,
                "Request entity too large",
                kind="request_too_large",
            )
        attachment_id = self.next_id()
        return Attachment.from_bytes(
            attachment_id,
            upload.filename,
            upload.data,
            self.attachment_url(channel_id, attachment_id, upload.filename),
            content_type=upload.content_type,
            description=description,
            ephemeral=ephemeral,
        )

    def find_attachment(self, attachment_id: int) -> Attachment | None:
        for message in self.messages.values():
            for revision in message.revisions:
                for attachment in revision.attachments:
                    if attachment.id == attachment_id:
                        return attachment
        return self._loose_attachments.get(attachment_id)

    def register_loose_attachment(self, attachment: Attachment) -> None:
        self._loose_attachments[attachment.id] = attachment

    def _resolve_attachments(
        self, channel_id: int, body: MessageBody, existing: list[Attachment]
    ) -> list[Attachment]:
        """Apply `attachments` + uploaded files the way Discord does on create and edit."""
        uploads = {index: upload for index, upload in enumerate(body.uploads)}
        for upload in body.uploads:  # files[n] may be numbered out of order
            digits = "".join(ch for ch in upload.field if ch.isdigit())
            if digits:
                uploads[int(digits)] = upload
        if body.attachments is None:
            return existing + [self.new_attachment(channel_id, u) for u in body.uploads]
        by_id = {a.id: a for a in existing}
        result: list[Attachment] = []
        used: set[int] = set()
        errors = FormErrors()
        for index, descriptor in enumerate(body.attachments):
            ref = int(descriptor["id"])
            if ref in by_id:
                result.append(by_id[ref])
            elif ref in uploads and ref not in used:
                used.add(ref)
                result.append(
                    self.new_attachment(
                        channel_id, uploads[ref], description=descriptor.get("description")
                    )
                )
            else:
                errors.add(
                    ("attachments", index, "id"),
                    "ATTACHMENT_NOT_FOUND",
                    f"Unknown attachment: {ref}",
                )
        errors.raise_if_any()
        return result

    def create_message(
        self,
        channel: Channel,
        author_id: int,
        body: MessageBody,
        *,
        route: str,
        type: int = MessageType.DEFAULT,
        interaction: Interaction | None = None,
        extra_flags: int = 0,
        allow_empty: bool = False,
        check_permissions: bool = True,
    ) -> Message:
        if check_permissions:
            self._check_can_send(channel, author_id, has_files=bool(body.uploads))
        if body.nonce is not None and body.enforce_nonce:
            seen = self._nonces.get((channel.id, author_id, body.nonce))
            if seen is not None and self.now() - seen[0] < NONCE_WINDOW_S:
                return self.messages[seen[1]]
        flags = (body.flags or 0) | extra_flags
        if interaction is None:
            flags &= ~MessageFlag.EPHEMERAL
        attachments = self._resolve_attachments(channel.id, body, [])
        reference = self._message_reference(channel, body.message_reference)
        if reference is not None and type == MessageType.DEFAULT:
            type = MessageType.REPLY
        content = body.content or ""
        if not allow_empty and not (content or body.embeds or attachments or body.components):
            raise empty_message_error()
        revision = MessageRevision(
            at=self.now(),
            timestamp=self.iso_now(),
            content=content,
            embeds=body.embeds,
            components=body.components,
            attachments=attachments,
            allowed_mentions=body.allowed_mentions,
            flags=flags,
            route=route,
        )
        author = self.users[author_id]
        message = Message(
            id=self.next_id(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author_id=author_id,
            author_bot=author.bot,
            type=type,
            revisions=[revision],
            created_at=revision.at,
            timestamp=revision.timestamp,
            nonce=body.nonce,
            message_reference=reference,
            interaction_id=None if interaction is None else interaction.id,
            webhook_id=None if interaction is None else self.application_id,
            application_id=None if interaction is None else self.application_id,
        )
        self._store_new_message(channel, message)
        if body.nonce is not None and body.enforce_nonce:
            self._nonces[(channel.id, author_id, body.nonce)] = (message.created_at, message.id)
        return message

    def _store_new_message(self, channel: Channel, message: Message) -> None:
        self.messages[message.id] = message
        self.channel_message_ids.setdefault(channel.id, []).append(message.id)
        self._record_pings(message)
        if not message.ephemeral:
            channel.last_message_id = message.id
            if channel.is_thread:
                channel.message_count += 1
                channel.total_message_sent += 1
            self.dispatch(
                "MESSAGE_CREATE",
                payloads.message(self, message, for_gateway=True),
                channel.guild_id,
            )
        self.changed("message", message.id)

    def _check_can_send(self, channel: Channel, author_id: int, *, has_files: bool) -> None:
        needed = [
            Permission.SEND_MESSAGES_IN_THREADS if channel.is_thread else Permission.SEND_MESSAGES
        ]
        if has_files:
            needed.append(Permission.ATTACH_FILES)
        self.require(channel, author_id, *needed)
        if channel.is_thread and channel.archived:
            if channel.locked:
                raise ApiError(400, 50083, "Thread is archived", kind="thread_archived")
            self.update_thread(channel, archived=False)

    def _message_reference(self, channel: Channel, reference: JSON | None) -> JSON | None:
        if reference is None:
            return None
        message_id = int(reference["message_id"])
        target = self.messages.get(message_id)
        ref_channel = int(reference.get("channel_id") or channel.id)
        if target is None or target.deleted or target.channel_id != ref_channel:
            if reference.get("fail_if_not_exists", True):
                errors = FormErrors()
                errors.add(
                    ("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
                raise errors.error()
            return None
        return {
            "type": 0,
            "channel_id": str(target.channel_id),
            "message_id": str(target.id),
            "guild_id": str(channel.guild_id),
        }

    def edit_message(self, message: Message, body: MessageBody, *, route: str) -> Message:
        previous = message.current
        content = previous.content
        if "content" in body.provided:
            content = body.content or ""
        embeds = body.embeds if "embeds" in body.provided else previous.embeds
        components = body.components if "components" in body.provided else previous.components
        attachments = self._resolve_attachments(message.channel_id, body, previous.attachments)
        allowed = (
            body.allowed_mentions
            if "allowed_mentions" in body.provided
            else previous.allowed_mentions
        )
        flags = previous.flags & ~MessageFlag.LOADING
        if body.flags is not None:
            keep = MessageFlag.EPHEMERAL | MessageFlag.IS_COMPONENTS_V2
            flags = (flags & keep) | (body.flags & ~MessageFlag.EPHEMERAL)
        if not (content or embeds or attachments or components):
            raise empty_message_error()
        revision = MessageRevision(
            at=self.now(),
            timestamp=self.iso_now(),
            content=content,
            embeds=embeds,
            components=components,
            attachments=attachments,
            allowed_mentions=allowed,
            flags=flags,
            route=route,
        )
        message.revisions.append(revision)
        self._record_pings(message)
        if not message.ephemeral:
            self.dispatch(
                "MESSAGE_UPDATE",
                payloads.message(self, message, for_gateway=True),
                message.guild_id,
            )
        self.changed("message", message.id)
        return message

    def delete_message(self, message: Message) -> None:
        message.deleted_at = self.now()
        if not message.ephemeral:
            event: JSON = {"id": str(message.id), "channel_id": str(message.channel_id)}
            if message.guild_id is not None:
                event["guild_id"] = str(message.guild_id)
            self.dispatch("MESSAGE_DELETE", event, message.guild_id)
        self.changed("message", message.id)

    def add_reaction(self, message: Message, emoji: str, user_id: int) -> None:
        users = message.reactions.setdefault(emoji, [])
        if user_id in users:
            return
        users.append(user_id)
        event: JSON = {
            "user_id": str(user_id),
            "channel_id": str(message.channel_id),
            "message_id": str(message.id),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
            "message_author_id": str(message.author_id),
        }
        if message.guild_id is not None:
            event["guild_id"] = str(message.guild_id)
            found = self.members.get(message.guild_id, {}).get(user_id)
            if found is not None:
                event["member"] = payloads.member(found)
        self.dispatch("MESSAGE_REACTION_ADD", event, message.guild_id)
        self.changed("message", message.id)

    def remove_reaction(self, message: Message, emoji: str, user_id: int) -> None:
        users = message.reactions.get(emoji, [])
        if user_id not in users:
            return
        users.remove(user_id)
        event: JSON = {
            "user_id": str(user_id),
            "channel_id": str(message.channel_id),
            "message_id": str(message.id),
            "emoji": {"id": None, "name": emoji},
            "burst": False,
            "type": 0,
        }
        if message.guild_id is not None:
            event["guild_id"] = str(message.guild_id)
        self.dispatch("MESSAGE_REACTION_REMOVE", event, message.guild_id)
        self.changed("message", message.id)

    def record_typing(self, channel: Channel, user_id: int) -> None:
        self.typing.append((self.now(), channel.id, user_id))
        event: JSON = {
            "channel_id": str(channel.id),
            "guild_id": str(channel.guild_id),
            "user_id": str(user_id),
            "timestamp": int(time.time()),
        }
        found = self.members.get(channel.guild_id, {}).get(user_id)
        if found is not None:
            event["member"] = payloads.member(found)
        self.dispatch("TYPING_START", event, channel.guild_id)
        self.changed()

    # ------------------------------------------------------------------ threads

    def create_thread(
        self,
        parent: Channel,
        owner_id: int,
        body: ThreadBody,
        *,
        starter: Message | None = None,
        check_permissions: bool = True,
    ) -> Channel:
        if parent.is_thread or parent.type not in (
            ChannelType.GUILD_TEXT,
            ChannelType.GUILD_ANNOUNCEMENT,
        ):
            raise ApiError(
                400,
                ErrorCode.INVALID_CHANNEL_TYPE,
                "Cannot execute action on this channel type",
                kind="invalid_channel_type",
            )
        if starter is not None:
            kind: int = (
                ChannelType.ANNOUNCEMENT_THREAD
                if parent.type == ChannelType.GUILD_ANNOUNCEMENT
                else ChannelType.PUBLIC_THREAD
            )
        else:
            kind = body.type if body.type is not None else ChannelType.PRIVATE_THREAD
        if check_permissions:
            needed = (
                Permission.CREATE_PRIVATE_THREADS
                if kind == ChannelType.PRIVATE_THREAD
                else Permission.CREATE_PUBLIC_THREADS
            )
            self.require(parent, owner_id, needed)
        if starter is not None and starter.thread_id is not None:
            raise ApiError(
                400,
                ErrorCode.THREAD_ALREADY_CREATED,
                "A thread has already been created for this message",
                kind="thread_already_created",
            )
        now = self.iso_now()
        thread = Channel(
            id=starter.id if starter is not None else self.next_id(),
            guild_id=parent.guild_id,
            name=body.name,
            type=kind,
            parent_id=parent.id,
            rate_limit_per_user=body.rate_limit_per_user,
            owner_id=owner_id,
            invitable=body.invitable,
            auto_archive_duration=body.auto_archive_duration,
            archive_timestamp=now,
            create_timestamp=now,
            member_ids=[owner_id],
        )
        self.channels[thread.id] = thread
        self.channel_message_ids[thread.id] = []
        event = payloads.channel(self, thread)
        event["newly_created"] = True
        self.dispatch("THREAD_CREATE", event, thread.guild_id)
        if starter is not None:
            starter.thread_id = thread.id
            starter.system_flags |= MessageFlag.HAS_THREAD
            self.changed("message", starter.id)
            self.dispatch(
                "MESSAGE_UPDATE",
                payloads.message(self, starter, for_gateway=True),
                starter.guild_id,
            )
        elif kind != ChannelType.PRIVATE_THREAD:
            notice = MessageRevision(
                at=self.now(),
                timestamp=now,
                content=thread.name,
                embeds=[],
                components=[],
                attachments=[],
                allowed_mentions=None,
                flags=0,
                route="system:thread_created",
            )
            system = Message(
                id=self.next_id(),
                channel_id=parent.id,
                guild_id=parent.guild_id,
                author_id=owner_id,
                author_bot=self.users[owner_id].bot,
                type=MessageType.THREAD_CREATED,
                revisions=[notice],
                created_at=notice.at,
                timestamp=now,
                message_reference={
                    "type": 0,
                    "channel_id": str(thread.id),
                    "guild_id": str(parent.guild_id),
                },
            )
            self._store_new_message(parent, system)
        self.changed()
        return thread

    def update_thread(self, thread: Channel, **changes: Any) -> Channel:
        for key, value in changes.items():
            setattr(thread, key, value)
        if "archived" in changes:
            thread.archive_timestamp = self.iso_now()
        self.dispatch("THREAD_UPDATE", payloads.channel(self, thread), thread.guild_id)
        self.changed()
        return thread

    def add_thread_member(self, thread: Channel, user_id: int) -> None:
        if user_id in thread.member_ids:
            return
        thread.member_ids.append(user_id)
        added: JSON = payloads.thread_member(self, thread, user_id)
        found = self.members.get(thread.guild_id, {}).get(user_id)
        if found is not None:
            added["member"] = payloads.member(found)
        self.dispatch(
            "THREAD_MEMBERS_UPDATE",
            {
                "id": str(thread.id),
                "guild_id": str(thread.guild_id),
                "member_count": len(thread.member_ids),
                "added_members": [added],
            },
            thread.guild_id,
        )
        self.changed()

    def remove_thread_member(self, thread: Channel, user_id: int) -> None:
        if user_id not in thread.member_ids:
            return
        thread.member_ids.remove(user_id)
        self.dispatch(
            "THREAD_MEMBERS_UPDATE",
            {
                "id": str(thread.id),
                "guild_id": str(thread.guild_id),
                "member_count": len(thread.member_ids),
                "removed_member_ids": [str(user_id)],
            },
            thread.guild_id,
        )
        self.changed()

    # ------------------------------------------------------------------ application commands

    def overwrite_commands(self, guild_id: int | None, commands: list[JSON]) -> list[JSON]:
        """Bulk overwrite: a command that keeps its name and type keeps its id (and version)."""
        prior = {(c["type"], c["name"]): c for c in self.commands.get(guild_id, [])}
        result = [self._stored_command(command, guild_id, prior) for command in commands]
        self.commands[guild_id] = result
        self.changed()
        return result

    def upsert_command(self, guild_id: int | None, command: JSON) -> JSON:
        existing = self.commands.setdefault(guild_id, [])
        prior = {(c["type"], c["name"]): c for c in existing}
        stored = self._stored_command(command, guild_id, prior)
        self.commands[guild_id] = [c for c in existing if c["id"] != stored["id"]] + [stored]
        self.changed()
        return stored

    def _stored_command(
        self, command: JSON, guild_id: int | None, prior: dict[tuple[Any, Any], JSON]
    ) -> JSON:
        key = (command.get("type", 1), command["name"])
        old = prior.get(key)
        command_id = int(old["id"]) if old is not None else self.next_id()
        fresh = normalise_command(
            command, id=command_id, application_id=self.application_id, version=0, guild_id=guild_id
        )
        if old is not None and {**old, "version": "0"} == fresh:
            return old
        fresh["version"] = str(self.next_id())
        return fresh

    def find_command(self, guild_id: int | None, command_id: int) -> JSON:
        for command in self.commands.get(guild_id, []):
            if int(command["id"]) == command_id:
                return command
        raise not_found(ErrorCode.UNKNOWN_APPLICATION_COMMAND, "application command")

    def delete_command(self, guild_id: int | None, command_id: int) -> None:
        command = self.find_command(guild_id, command_id)
        self.commands[guild_id] = [c for c in self.commands[guild_id] if c is not command]
        self.changed()

    def command_named(
        self, guild_id: int | None, name: str, *, kind: int = 1
    ) -> tuple[JSON, int | None] | None:
        """The command a user in this guild sees under this name: guild scope first, then global."""
        for scope in (guild_id, None) if guild_id is not None else (None,):
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == kind:
                    return command, scope
        return None
