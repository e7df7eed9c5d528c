"""INTERACTION_CREATE payloads, built the way Discord's client builds them.

A slash command is built from the command schema the bot synced: options are checked and typed
against it (choices, ranges, required, channel types, Manage Server-style default permissions), so
a test cannot send what a real Discord client would refuse to, unless it asks for `validate=False`
to play a hostile client.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.discord_server import payloads
from tests.fakes.discord_server.constants import ComponentType, OptionType
from tests.fakes.discord_server.model import (
    JSON,
    Attachment,
    Channel,
    Interaction,
    Member,
    Message,
    Role,
    User,
)
from tests.fakes.discord_server.state import World
from tests.fakes.discord_server.validation import Upload

_JS_MAX_SAFE_INTEGER = 2**53 - 1


class InteractionError(ValueError):
    """The test asked for an interaction a Discord client would not send."""


class CommandNotPermitted(InteractionError):
    """The user lacks the command's default_member_permissions, so Discord hides the command."""


@dataclass(frozen=True)
class UploadFile:
    """A file for an attachment option or a user message: `UploadFile("story.txt", b"...")`."""

    filename: str
    data: bytes
    content_type: str | None = None


UserLike = Member | User | int
ChannelLike = Channel | int


def base_payload(
    world: World,
    kind: int,
    member: Member,
    channel: Channel,
    *,
    locale: str,
) -> tuple[JSON, Interaction]:
    interaction_id = world.next_id()
    token = world.next_token("aW50ZXJhY3Rpb24")
    permissions = world.permissions(channel.guild_id, member.id)
    body: JSON = {
        "app_permissions": str(world.permissions(channel.guild_id, world.bot.id)),
        "application_id": str(world.application_id),
        "attachment_size_limit": world.attachment_size_limit,
        "authorizing_integration_owners": {"0": str(channel.guild_id)},
        "channel": payloads.interaction_channel(world, channel, member.id),
        "channel_id": str(channel.id),
        "context": 0,
        "entitlement_sku_ids": [],
        "entitlements": [],
        "guild": {"id": str(channel.guild_id), "locale": "en-US", "features": []},
        "guild_id": str(channel.guild_id),
        "guild_locale": "en-US",
        "id": str(interaction_id),
        "locale": locale,
        "member": payloads.member(member, permissions=permissions),
        "token": token,
        "type": kind,
        "version": 1,
    }
    record = Interaction(
        id=interaction_id,
        token=token,
        type=kind,
        guild_id=channel.guild_id,
        channel_id=channel.id,
        user_id=member.id,
        created_at=world.now(),
        data={},
    )
    return body, record


class _Resolver:
    """Collects the `resolved` map that goes with snowflake-typed options."""

    def __init__(self, world: World, guild_id: int, channel: Channel) -> None:
        self.world = world
        self.guild_id = guild_id
        self.channel = channel
        self.resolved: dict[str, dict[str, JSON]] = {}

    def add_user(self, user: User) -> None:
        self.resolved.setdefault("users", {})[str(user.id)] = payloads.user(user)
        found = self.world.members.get(self.guild_id, {}).get(user.id)
        if found is not None:
            self.resolved.setdefault("members", {})[str(user.id)] = payloads.member(
                found, with_user=False, permissions=self.world.permissions(self.guild_id, user.id)
            )

    def add_role(self, role: Role) -> None:
        self.resolved.setdefault("roles", {})[str(role.id)] = payloads.role(role)

    def add_channel(self, channel: Channel, user_id: int) -> None:
        self.resolved.setdefault("channels", {})[str(channel.id)] = payloads.interaction_channel(
            self.world, channel, user_id
        )

    def add_attachment(self, attachment: Attachment) -> None:
        self.resolved.setdefault("attachments", {})[str(attachment.id)] = payloads.attachment(
            attachment
        )


def _user_of(world: World, value: Any) -> User:
    if isinstance(value, Member):
        return value.user
    if isinstance(value, User):
        return value
    if isinstance(value, int) and value in world.users:
        return world.users[value]
    raise InteractionError(f"{value!r} is not a user of this fake Discord")


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _describe(command: JSON, options: list[JSON]) -> str:
    names = (
        ", ".join(f"{o['name']} ({OptionType(o['type']).name.lower()})" for o in options) or "none"
    )
    return f"/{command['name']} takes options: {names}"


def build_command_options(
    world: World,
    command: JSON,
    path: list[str],
    values: Mapping[str, Any],
    *,
    user_id: int,
    channel: Channel,
    validate: bool,
    focused: str | None = None,
) -> tuple[list[JSON], dict[str, dict[str, JSON]]]:
    """data.options (nested for sub-commands) and data.resolved for a chat-input command."""
    schema: list[JSON] = command.get("options", [])
    chain: list[JSON] = []
    for name in path:
        found = next(
            (
                o
                for o in schema
                if o["name"] == name
                and o["type"] in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP)
            ),
            None,
        )
        if found is None:
            subs = [
                o["name"]
                for o in schema
                if o["type"] in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP)
            ]
            raise InteractionError(f"/{command['name']} has no sub-command {name!r}; it has {subs}")
        chain.append(found)
        schema = found.get("options", [])
    if validate and any(
        o["type"] in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP) for o in schema
    ):
        subs = [o["name"] for o in schema]
        raise InteractionError(
            f"/{' '.join([command['name'], *path])} needs a sub-command: one of {subs}"
        )
    resolver = _Resolver(world, channel.guild_id, channel)
    leaf: list[JSON] = []
    by_name = {o["name"]: o for o in schema}
    for name, raw in values.items():
        option = by_name.get(name)
        if option is None and validate:
            raise InteractionError(f"unknown option {name!r}: {_describe(command, schema)}")
        leaf.append(
            _option_value(
                world,
                option,
                name,
                raw,
                resolver,
                user_id=user_id,
                validate=validate,
                focused=focused,
            )
        )
    if validate:
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
        if missing and focused is None:
            raise InteractionError(
                f"missing required option(s) {missing}: {_describe(command, schema)}"
            )
    nested: list[JSON] = leaf
    for option in reversed(chain):
        nested = [{"type": option["type"], "name": option["name"], "options": nested}]
    return nested, resolver.resolved


def _option_value(
    world: World,
    option: JSON | None,
    name: str,
    raw: Any,
    resolver: _Resolver,
    *,
    user_id: int,
    validate: bool,
    focused: str | None,
) -> JSON:
    value = _plain(raw)
    kind = _guess_type(value) if option is None else OptionType(option["type"])
    out: JSON = {"name": name, "type": int(kind)}
    if focused == name:
        out["focused"] = True
        out["value"] = "" if value is None else str(value)
        return out
    if not validate:
        out["value"] = _raw_wire_value(world, value, resolver, user_id)
        return out
    assert option is not None
    if kind == OptionType.STRING:
        if not isinstance(value, str):
            raise InteractionError(f"option {name!r} is a string, got {value!r}")
        _check_choices(option, value)
        if "min_length" in option and len(value) < option["min_length"]:
            raise InteractionError(
                f"option {name!r} must be at least {option['min_length']} characters"
            )
        if len(value) > option.get("max_length", 6000):
            raise InteractionError(
                f"option {name!r} must be at most {option.get('max_length', 6000)} characters"
            )
        out["value"] = value
    elif kind in (OptionType.INTEGER, OptionType.NUMBER):
        number_ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not number_ok or (kind == OptionType.INTEGER and not isinstance(value, int)):
            raise InteractionError(f"option {name!r} is {kind.name.lower()}, got {value!r}")
        if abs(value) > _JS_MAX_SAFE_INTEGER:
            raise InteractionError(f"option {name!r} is out of Discord's number range")
        _check_choices(option, value)
        if "min_value" in option and value < option["min_value"]:
            raise InteractionError(f"option {name!r} must be >= {option['min_value']}")
        if "max_value" in option and value > option["max_value"]:
            raise InteractionError(f"option {name!r} must be <= {option['max_value']}")
        out["value"] = value
    elif kind == OptionType.BOOLEAN:
        if not isinstance(value, bool):
            raise InteractionError(f"option {name!r} is a boolean, got {value!r}")
        out["value"] = value
    elif kind == OptionType.USER:
        user = _user_of(world, value)
        resolver.add_user(user)
        out["value"] = str(user.id)
    elif kind == OptionType.CHANNEL:
        channel = (
            world.channels.get(value.id if isinstance(value, Channel) else value)
            if isinstance(value, Channel | int)
            else None
        )
        if channel is None:
            raise InteractionError(
                f"option {name!r}: {value!r} is not a channel of this fake Discord"
            )
        allowed = option.get("channel_types")
        if allowed and channel.type not in allowed:
            raise InteractionError(
                f"option {name!r} accepts channel types {allowed}, not {channel.type}"
            )
        resolver.add_channel(channel, user_id)
        out["value"] = str(channel.id)
    elif kind == OptionType.ROLE:
        role = (
            world.roles.get(value.id if isinstance(value, Role) else value)
            if isinstance(value, Role | int)
            else None
        )
        if role is None:
            raise InteractionError(f"option {name!r}: {value!r} is not a role of this fake Discord")
        resolver.add_role(role)
        out["value"] = str(role.id)
    elif kind == OptionType.MENTIONABLE:
        if isinstance(value, int) and value in world.roles:
            value = world.roles[value]
        if isinstance(value, Role):
            resolver.add_role(value)
            out["value"] = str(value.id)
        else:
            user = _user_of(world, value)
            resolver.add_user(user)
            out["value"] = str(user.id)
    elif kind == OptionType.ATTACHMENT:
        if not isinstance(value, UploadFile):
            raise InteractionError(
                f"option {name!r} is an attachment: pass UploadFile(filename, data)"
            )
        attachment = world.new_attachment(
            resolver.channel.id,
            Upload("files[0]", value.filename, value.data, value.content_type),
            ephemeral=True,
        )
        world.register_loose_attachment(attachment)
        resolver.add_attachment(attachment)
        out["value"] = str(attachment.id)
    return out


def _check_choices(option: JSON, value: Any) -> None:
    choices = option.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise InteractionError(
            f"option {option['name']!r} only accepts the choices "
            f"{[c['value'] for c in choices]}, not {value!r}"
        )


def _guess_type(value: Any) -> OptionType:
    if isinstance(value, bool):
        return OptionType.BOOLEAN
    if isinstance(value, int):
        return OptionType.INTEGER
    if isinstance(value, float):
        return OptionType.NUMBER
    if isinstance(value, Member | User):
        return OptionType.USER
    if isinstance(value, Channel):
        return OptionType.CHANNEL
    if isinstance(value, Role):
        return OptionType.ROLE
    if isinstance(value, UploadFile):
        return OptionType.ATTACHMENT
    return OptionType.STRING


def _raw_wire_value(world: World, value: Any, resolver: _Resolver, user_id: int) -> Any:
    """What a hostile client puts on the wire for a value it did not have to validate."""
    if isinstance(value, Member | User):
        user = value.user if isinstance(value, Member) else value
        resolver.add_user(user)
        return str(user.id)
    if isinstance(value, Channel):
        resolver.add_channel(value, user_id)
        return str(value.id)
    if isinstance(value, Role):
        resolver.add_role(value)
        return str(value.id)
    if isinstance(value, UploadFile):
        attachment = world.new_attachment(
            resolver.channel.id,
            Upload("files[0]", value.filename, value.data, value.content_type),
            ephemeral=True,
        )
        world.register_loose_attachment(attachment)
        resolver.add_attachment(attachment)
        return str(attachment.id)
    return value


def check_can_use(world: World, command: JSON, member: Member, channel: Channel) -> None:
    """Discord hides a command from members without its default_member_permissions."""
    required = command.get("default_member_permissions")
    if required is None:
        return
    granted = world.permissions(channel.guild_id, member.id)
    if int(required) & granted != int(required):
        raise CommandNotPermitted(
            f"{member.user.username} lacks permissions {int(required):#x} that "
            f"/{command['name']} requires, "
            "so Discord would not show them the command"
        )
    contexts = command.get("contexts")
    if contexts is not None and 0 not in contexts:
        raise InteractionError(
            f"/{command['name']} is not available in guilds (contexts={contexts})"
        )


def find_component(message: Message, custom_id: str) -> JSON:
    def walk(components: list[JSON]) -> JSON | None:
        for component in components:
            if component.get("custom_id") == custom_id:
                return component
            for key in ("components",):
                found = walk(component.get(key, []))
                if found is not None:
                    return found
            for key in ("accessory", "component"):
                if isinstance(component.get(key), dict):
                    found = walk([component[key]])
                    if found is not None:
                        return found
        return None

    found = walk(message.components)
    if found is None:
        raise InteractionError(
            f"message {message.id} has no component with custom_id {custom_id!r}; "
            f"it has {message.custom_ids()}"
        )
    return found


def component_data(
    component: JSON, values: list[str] | None, resolver_data: dict[str, dict[str, JSON]]
) -> JSON:
    data: JSON = {"custom_id": component["custom_id"], "component_type": component["type"]}
    if "id" in component:
        data["id"] = component["id"]
    if component["type"] != ComponentType.BUTTON:
        data["values"] = values or []
        if resolver_data:
            data["resolved"] = resolver_data
    return data


def modal_submit_components(modal: JSON, values: Mapping[str, Any]) -> list[JSON]:
    """The `components` of a MODAL_SUBMIT: the modal's inputs with what the user typed."""

    def answer(component: JSON) -> JSON:
        out: JSON = {"type": component["type"], "custom_id": component.get("custom_id")}
        if "id" in component:
            out["id"] = component["id"]
        given = values.get(component.get("custom_id", ""))
        if component["type"] == ComponentType.TEXT_INPUT:
            out["value"] = "" if given is None else str(given)
        else:
            out["values"] = [] if given is None else [str(v) for v in given]
        return out

    result: list[JSON] = []
    for top in modal.get("components", []):
        if top.get("type") == ComponentType.ACTION_ROW:
            result.append(
                {
                    "type": 1,
                    "id": top.get("id"),
                    "components": [answer(c) for c in top.get("components", [])],
                }
            )
        elif top.get("type") == ComponentType.LABEL and isinstance(top.get("component"), dict):
            result.append({"type": 18, "id": top.get("id"), "component": answer(top["component"])})
        elif top.get("type") == 10:
            result.append({"type": 10, "id": top.get("id"), "content": top.get("content", "")})
    return result


def check_modal_values(modal: JSON, values: Mapping[str, Any]) -> None:
    inputs: dict[str, JSON] = {}

    def walk(components: list[JSON]) -> None:
        for component in components:
            if component.get("type") == ComponentType.TEXT_INPUT:
                inputs[component["custom_id"]] = component
            walk(component.get("components", []))
            if isinstance(component.get("component"), dict):
                walk([component["component"]])

    walk(modal.get("components", []))
    for custom_id in values:
        if custom_id not in inputs:
            raise InteractionError(
                f"modal {modal.get('custom_id')!r} has no input {custom_id!r}; "
                f"it has {sorted(inputs)}"
            )
    for custom_id, component in inputs.items():
        text = str(values.get(custom_id, ""))
        if component.get("required", True) and not text:
            raise InteractionError(f"modal input {custom_id!r} is required")
        if text and len(text) < component.get("min_length", 0):
            raise InteractionError(
                f"modal input {custom_id!r} needs at least {component['min_length']} characters"
            )
        if len(text) > component.get("max_length", 4000):
            raise InteractionError(
                f"modal input {custom_id!r} takes at most "
                f"{component.get('max_length', 4000)} characters"
            )
