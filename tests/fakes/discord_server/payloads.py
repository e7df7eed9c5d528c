"""Discord v10 JSON shapes built from the fake's records.

Shapes follow Discord's documented objects (and discord.py's types/*.py, which mirror them): ids
are strings, timestamps ISO 8601, every documented field present with its usual default, so a
client that reads a field real Discord always sends finds it here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.fakes.discord_server.constants import ChannelType
from tests.fakes.discord_server.model import (
    JSON,
    Attachment,
    Channel,
    Guild,
    Member,
    Message,
    Role,
    User,
)

if TYPE_CHECKING:
    from tests.fakes.discord_server.state import World


def snowflake(value: int | None) -> str | None:
    return None if value is None else str(value)


def user(u: User) -> JSON:
    out: JSON = {
        "id": str(u.id),
        "username": u.username,
        "discriminator": "0",
        "global_name": u.global_name,
        "avatar": None,
        "avatar_decoration_data": None,
        "banner": None,
        "accent_color": None,
        "public_flags": 0,
        "flags": 0,
        "collectibles": None,
        "primary_guild": None,
    }
    if u.bot:
        out["bot"] = True
    return out


def current_user(u: User) -> JSON:
    """GET /users/@me and READY.user: the private fields a bot sees about itself."""
    out = user(u)
    out.update(
        {
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "locale": "en-US",
            "premium_type": 0,
        }
    )
    return out


def role(r: Role) -> JSON:
    out: JSON = {
        "id": str(r.id),
        "name": r.name,
        "description": None,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": r.position,
        "permissions": str(r.permissions),
        "managed": r.bot_id is not None,
        "mentionable": r.mentionable,
        "flags": 0,
    }
    if r.bot_id is not None:
        out["tags"] = {"bot_id": str(r.bot_id)}
    return out


def member(m: Member, *, with_user: bool = True, permissions: int | None = None) -> JSON:
    out: JSON = {
        "avatar": None,
        "banner": None,
        "communication_disabled_until": None,
        "deaf": False,
        "flags": 0,
        "joined_at": m.joined_at,
        "mute": False,
        "nick": m.nick,
        "pending": False,
        "premium_since": None,
        "roles": [str(r) for r in m.role_ids],
        "unusual_dm_activity_until": None,
    }
    if with_user:
        out["user"] = user(m.user)
    if permissions is not None:
        out["permissions"] = str(permissions)
    return out


def thread_metadata(c: Channel) -> JSON:
    out: JSON = {
        "archived": c.archived,
        "auto_archive_duration": c.auto_archive_duration,
        "archive_timestamp": c.archive_timestamp,
        "locked": c.locked,
        "create_timestamp": c.create_timestamp,
    }
    if c.type == ChannelType.PRIVATE_THREAD:
        out["invitable"] = c.invitable
    return out


def thread_member(world: World, c: Channel, user_id: int) -> JSON:
    return {
        "id": str(c.id),
        "user_id": str(user_id),
        "join_timestamp": c.create_timestamp,
        "flags": 1 if user_id == world.bot.id else 0,
    }


def channel(world: World, c: Channel, *, with_guild_id: bool = True) -> JSON:
    if c.is_thread:
        out: JSON = {
            "id": str(c.id),
            "type": int(c.type),
            "guild_id": str(c.guild_id),
            "parent_id": snowflake(c.parent_id),
            "owner_id": snowflake(c.owner_id),
            "name": c.name,
            "last_message_id": snowflake(c.last_message_id),
            "message_count": c.message_count,
            "member_count": min(len(c.member_ids), 50),
            "total_message_sent": c.total_message_sent,
            "rate_limit_per_user": c.rate_limit_per_user,
            "flags": 0,
            "thread_metadata": thread_metadata(c),
        }
        if world.bot.id in c.member_ids:
            out["member"] = thread_member(world, c, world.bot.id)
        return out
    out = {
        "id": str(c.id),
        "type": int(c.type),
        "name": c.name,
        "position": c.position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": snowflake(c.parent_id),
        "flags": 0,
    }
    if with_guild_id:
        out["guild_id"] = str(c.guild_id)
    if c.type in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
        out.update(
            {
                "topic": c.topic,
                "last_message_id": snowflake(c.last_message_id),
                "rate_limit_per_user": c.rate_limit_per_user,
                "default_auto_archive_duration": 1440,
                "default_thread_rate_limit_per_user": 0,
            }
        )
    return out


def interaction_channel(world: World, c: Channel, user_id: int) -> JSON:
    """The channel object inside INTERACTION_CREATE and in resolved data: adds `permissions`."""
    out = channel(world, c)
    out["permissions"] = str(world.permissions(c.guild_id, user_id))
    return out


def guild_create(world: World, g: Guild, *, include_all_members: bool) -> JSON:
    members = world.members_of(g.id)
    if not include_all_members:
        # Without GUILD_MEMBERS Discord sends only the bot's own member (and voice members).
        members = [m for m in members if m.id == world.bot.id]
    channels = [c for c in world.channels_of(g.id) if not c.is_thread]
    threads = [c for c in world.channels_of(g.id) if c.is_thread and not c.archived]
    bot_member = world.member(g.id, world.bot.id)
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "icon_hash": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": str(g.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "widget_enabled": False,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role(r) for r in world.roles_of(g.id)],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": snowflake(g.system_channel_id),
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "max_members": 500000,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "incidents_data": None,
        "joined_at": bot_member.joined_at,
        "large": False,
        "lazy": True,
        "unavailable": False,
        "member_count": len(world.members_of(g.id)),
        "voice_states": [],
        "members": [member(m) for m in members],
        "channels": [channel(world, c, with_guild_id=False) for c in channels],
        "threads": [channel(world, c) for c in threads],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
        "activity_instances": [],
        "application_command_counts": {},
    }


def attachment(a: Attachment) -> JSON:
    out: JSON = {
        "id": str(a.id),
        "filename": a.filename,
        "size": a.size,
        "url": a.url,
        "proxy_url": a.url,
    }
    if a.content_type is not None:
        out["content_type"] = a.content_type
    if a.description is not None:
        out["description"] = a.description
    if a.ephemeral:
        out["ephemeral"] = True
    return out


def message(world: World, m: Message, *, for_gateway: bool = False) -> JSON:
    author = world.users[m.author_id]
    rev = m.current
    out: JSON = {
        "type": m.type,
        "content": rev.content,
        "mentions": [_mention_user(world, m.guild_id, uid) for uid in world.mentioned_user_ids(m)],
        "mention_roles": [str(r) for r in world.mentioned_role_ids(m)],
        "attachments": [attachment(a) for a in rev.attachments],
        "embeds": rev.embeds,
        "timestamp": m.timestamp,
        "edited_timestamp": m.edited_timestamp,
        "flags": m.flags,
        "components": rev.components,
        "id": str(m.id),
        "channel_id": str(m.channel_id),
        "author": user(author),
        "pinned": False,
        "mention_everyone": world.mentions_everyone(m),
        "tts": False,
    }
    if m.nonce is not None:
        out["nonce"] = m.nonce
    if m.webhook_id is not None:
        out["webhook_id"] = str(m.webhook_id)
    if m.application_id is not None:
        out["application_id"] = str(m.application_id)
    if m.message_reference is not None:
        out["message_reference"] = m.message_reference
        ref_id = m.message_reference.get("message_id")
        referenced = world.messages.get(int(ref_id)) if ref_id is not None else None
        if m.type == 19:
            out["referenced_message"] = (
                None if referenced is None or referenced.deleted else message(world, referenced)
            )
    if m.reactions:
        out["reactions"] = [
            {
                "emoji": {"id": None, "name": emoji},
                "count": len(users),
                "count_details": {"burst": 0, "normal": len(users)},
                "burst_colors": [],
                "me_burst": False,
                "burst_me": False,
                "me": world.bot.id in users,
                "burst_count": 0,
            }
            for emoji, users in m.reactions.items()
            if users
        ]
    channel_obj = world.channels.get(m.channel_id)
    if channel_obj is not None and channel_obj.is_thread:
        out["position"] = world.position_in_thread(m)
    if m.thread_id is not None and m.thread_id in world.channels:
        out["thread"] = channel(world, world.channels[m.thread_id])
    if m.interaction_id is not None and m.interaction_id in world.interactions:
        _add_interaction_metadata(world, m, out)
    if for_gateway and m.guild_id is not None:
        out["guild_id"] = str(m.guild_id)
        author_member = world.members.get(m.guild_id, {}).get(m.author_id)
        if author_member is not None and m.webhook_id is None:
            out["member"] = member(author_member, with_user=False)
    return out


def _mention_user(world: World, guild_id: int | None, user_id: int) -> JSON:
    out = user(world.users[user_id])
    if guild_id is not None:
        found = world.members.get(guild_id, {}).get(user_id)
        if found is not None:
            out["member"] = member(found, with_user=False)
    return out


def _add_interaction_metadata(world: World, m: Message, out: JSON) -> None:
    inter = world.interactions[m.interaction_id] if m.interaction_id is not None else None
    if inter is None:
        return
    invoker = world.users[inter.user_id]
    owners: dict[str, str] = {"0": str(inter.guild_id)} if inter.guild_id is not None else {}
    metadata: JSON = {
        "id": str(inter.id),
        "type": inter.type,
        "user": user(invoker),
        "authorizing_integration_owners": owners,
    }
    if inter.type == 2:
        metadata["name"] = inter.command_name
        metadata["command_type"] = 1
    if inter.type == 3 and inter.source_message_id is not None:
        metadata["interacted_message_id"] = str(inter.source_message_id)
    if inter.original_message_id is not None and inter.original_message_id != m.id:
        metadata["original_response_message_id"] = str(inter.original_message_id)
    out["interaction_metadata"] = metadata
    legacy: JSON = {
        "id": str(inter.id),
        "type": inter.type,
        "name": inter.command_name or "",
        "user": user(invoker),
    }
    if inter.guild_id is not None:
        found = world.members.get(inter.guild_id, {}).get(inter.user_id)
        if found is not None:
            legacy["member"] = member(found, with_user=False)
    out["interaction"] = legacy


def application(world: World) -> JSON:
    """GET /oauth2/applications/@me."""
    return {
        "id": str(world.application_id),
        "name": world.bot.username,
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "hook": True,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": user(world.owner),
        "flags": world.application_flags,
        "bot": user(world.bot),
        "team": None,
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "redirect_uris": [],
        "rpc_origins": [],
        "tags": [],
        "install_params": {"scopes": ["bot", "applications.commands"], "permissions": "0"},
        "integration_types_config": {"0": {}},
        "approximate_guild_count": len(world.guilds),
        "approximate_user_install_count": 0,
        "is_monetized": False,
        "is_verified": False,
        "is_discoverable": False,
        "storefront_available": False,
    }
