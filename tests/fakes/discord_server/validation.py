"""Request-body checks, with Discord's limits and error shapes.

Each parser takes the decoded body, raises ApiError("Invalid Form Body", 50035, nested `_errors`)
the way Discord does, and returns a normalised object the state layer applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord_server.constants import (
    MESSAGE_CONTENT_LIMIT,
    ComponentType,
    ErrorCode,
    MessageFlag,
    OptionType,
)
from tests.fakes.discord_server.errors import ApiError, FormErrors
from tests.fakes.discord_server.model import JSON

Path = tuple[str | int, ...]

EMBED_TOTAL_LIMIT = 6000
THREAD_ARCHIVE_DURATIONS = frozenset({60, 1440, 4320, 10080})
_COMMAND_NAME = re.compile(r"[-_'\w]{1,32}")
_SELECT_TYPES = frozenset(
    {
        ComponentType.STRING_SELECT,
        ComponentType.USER_SELECT,
        ComponentType.ROLE_SELECT,
        ComponentType.MENTIONABLE_SELECT,
        ComponentType.CHANNEL_SELECT,
    }
)


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart body (`files[n]`)."""

    field: str
    filename: str
    data: bytes
    content_type: str | None


@dataclass
class MessageBody:
    """A message create/edit body after validation. `provided` lists the keys the client sent."""

    provided: frozenset[str]
    content: str | None = None
    embeds: list[JSON] = field(default_factory=list)
    components: list[JSON] = field(default_factory=list)
    attachments: list[JSON] | None = None
    uploads: list[Upload] = field(default_factory=list)
    allowed_mentions: JSON | None = None
    flags: int | None = None
    message_reference: JSON | None = None
    nonce: str | None = None
    enforce_nonce: bool = False


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_snowflake(value: Any) -> bool:
    return (_is_int(value) and value >= 0) or (isinstance(value, str) and value.isdigit())


def _max_length(errors: FormErrors, path: Path, value: Any, limit: int) -> None:
    if isinstance(value, str | list) and len(value) > limit:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _bad_length(errors: FormErrors, path: Path, value: Any, low: int, high: int) -> None:
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_STRING", "Must be a string.")
    elif not low <= len(value) <= high:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def require_object(body: Any) -> JSON:
    if not isinstance(body, dict):
        errors = FormErrors()
        errors.add((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        raise errors.error()
    return body


def parse_message_body(body: Any, uploads: list[Upload]) -> MessageBody:
    data = require_object(body)
    errors = FormErrors()
    out = MessageBody(provided=frozenset(data))

    if "content" in data:
        content = data["content"]
        if content is not None and not isinstance(content, str):
            errors.add(("content",), "BASE_TYPE_STRING", "Must be a string.")
        else:
            _max_length(errors, ("content",), content, MESSAGE_CONTENT_LIMIT)
            out.content = content

    if "embeds" in data and data["embeds"] is not None:
        out.embeds = _embeds(errors, data["embeds"])

    if "flags" in data and data["flags"] is not None:
        if not _is_int(data["flags"]):
            errors.add(("flags",), "NUMBER_TYPE_COERCE", "Value is not int.")
        else:
            out.flags = data["flags"] & MessageFlag.SETTABLE

    if "components" in data and data["components"] is not None:
        v2 = out.flags is not None and bool(out.flags & MessageFlag.IS_COMPONENTS_V2)
        out.components = _components(errors, data["components"], v2=v2)

    if "allowed_mentions" in data and data["allowed_mentions"] is not None:
        out.allowed_mentions = _allowed_mentions(errors, data["allowed_mentions"])

    if "attachments" in data and data["attachments"] is not None:
        attachments = data["attachments"]
        if not isinstance(attachments, list):
            errors.add(("attachments",), "BASE_TYPE_LIST", "Must be a list.")
        else:
            _max_length(errors, ("attachments",), attachments, 10)
            for index, item in enumerate(attachments):
                if not isinstance(item, dict) or not _is_snowflake(item.get("id")):
                    errors.add(
                        ("attachments", index, "id"), "BASE_TYPE_REQUIRED", "This field is required"
                    )
            out.attachments = [a for a in attachments if isinstance(a, dict)]
    if len(uploads) > 10:
        errors.add(("files",), "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    out.uploads = list(uploads)

    if "message_reference" in data and data["message_reference"] is not None:
        ref = data["message_reference"]
        if not isinstance(ref, dict) or not _is_snowflake(ref.get("message_id")):
            errors.add(
                ("message_reference", "message_id"), "BASE_TYPE_REQUIRED", "This field is required"
            )
        else:
            out.message_reference = ref

    if "nonce" in data and data["nonce"] is not None:
        nonce = data["nonce"]
        if not isinstance(nonce, str | int) or isinstance(nonce, bool):
            errors.add(("nonce",), "BASE_TYPE_STRING", "Must be a string.")
        elif len(str(nonce)) > 25:
            errors.add(("nonce",), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        else:
            out.nonce = str(nonce)
        out.enforce_nonce = bool(data.get("enforce_nonce"))

    errors.raise_if_any()
    return out


def _embeds(errors: FormErrors, embeds: Any) -> list[JSON]:
    if not isinstance(embeds, list):
        errors.add(("embeds",), "BASE_TYPE_LIST", "Must be a list.")
        return []
    _max_length(errors, ("embeds",), embeds, 10)
    out: list[JSON] = []
    total = 0
    for index, embed in enumerate(embeds):
        path: Path = ("embeds", index)
        if not isinstance(embed, dict):
            errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        for key, limit in (("title", 256), ("description", 4096)):
            if key in embed and embed[key] is not None:
                if not isinstance(embed[key], str):
                    errors.add((*path, key), "BASE_TYPE_STRING", "Must be a string.")
                else:
                    _max_length(errors, (*path, key), embed[key], limit)
                    total += len(embed[key])
        fields = embed.get("fields") or []
        _max_length(errors, (*path, "fields"), fields, 25)
        for f_index, item in enumerate(fields if isinstance(fields, list) else []):
            f_path: Path = (*path, "fields", f_index)
            for key, limit in (("name", 256), ("value", 1024)):
                text = item.get(key) if isinstance(item, dict) else None
                if not isinstance(text, str) or not text:
                    errors.add((*f_path, key), "BASE_TYPE_REQUIRED", "This field is required")
                else:
                    _max_length(errors, (*f_path, key), text, limit)
                    total += len(text)
        footer = embed.get("footer")
        if isinstance(footer, dict) and isinstance(footer.get("text"), str):
            _max_length(errors, (*path, "footer", "text"), footer["text"], 2048)
            total += len(footer["text"])
        author = embed.get("author")
        if isinstance(author, dict) and isinstance(author.get("name"), str):
            _max_length(errors, (*path, "author", "name"), author["name"], 256)
            total += len(author["name"])
        normalised = dict(embed)
        normalised.setdefault("type", "rich")
        out.append(normalised)
    if total > EMBED_TOTAL_LIMIT:
        errors.add(
            ("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
        )
    return out


def _components(errors: FormErrors, components: Any, *, v2: bool) -> list[JSON]:
    if not isinstance(components, list):
        errors.add(("components",), "BASE_TYPE_LIST", "Must be a list.")
        return []
    _max_length(errors, ("components",), components, 40 if v2 else 5)
    seen_ids: set[str] = set()
    counter = [0]

    def check(component: Any, path: Path, *, top: bool) -> JSON:
        if not isinstance(component, dict):
            errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            return {}
        out = dict(component)
        counter[0] += 1
        out.setdefault("id", counter[0])
        kind = component.get("type")
        if top and not v2 and kind != ComponentType.ACTION_ROW:
            errors.add(
                (*path, "type"), "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
            )
            return out
        if kind == ComponentType.ACTION_ROW:
            children = component.get("components")
            if not isinstance(children, list) or not children:
                errors.add((*path, "components"), "BASE_TYPE_REQUIRED", "This field is required")
                return out
            _max_length(errors, (*path, "components"), children, 5)
            if (
                any(isinstance(c, dict) and c.get("type") in _SELECT_TYPES for c in children)
                and len(children) > 1
            ):
                errors.add(
                    (*path, "components"),
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
            out["components"] = [
                check(c, (*path, "components", i), top=False) for i, c in enumerate(children)
            ]
            return out
        if kind == ComponentType.BUTTON:
            style = component.get("style")
            if style not in (1, 2, 3, 4, 5, 6):
                errors.add(
                    (*path, "style"),
                    "BASE_TYPE_CHOICES",
                    "Value must be one of {1, 2, 3, 4, 5, 6}.",
                )
            if "label" in component and component["label"] is not None:
                _max_length(errors, (*path, "label"), component["label"], 80)
            if style == 5:
                if not component.get("url"):
                    errors.add((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
                if component.get("custom_id"):
                    errors.add(
                        (*path, "custom_id"),
                        "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                        "A custom id cannot be specified for a link button",
                    )
                return out
            if style == 6:
                return out
        elif kind not in (*_SELECT_TYPES, ComponentType.TEXT_INPUT) and not v2:
            errors.add(
                (*path, "type"),
                "BASE_TYPE_CHOICES",
                f"Value must be one of {{2, 3, 5, 6, 7, 8}}, not {kind}.",
            )
            return out
        elif kind in _SELECT_TYPES:
            if kind == ComponentType.STRING_SELECT:
                options = component.get("options")
                if not isinstance(options, list) or not 1 <= len(options) <= 25:
                    errors.add(
                        (*path, "options"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 25 in length.",
                    )
            if "placeholder" in component and component["placeholder"] is not None:
                _max_length(errors, (*path, "placeholder"), component["placeholder"], 150)
        for child_key in ("components",):
            if isinstance(component.get(child_key), list):
                out[child_key] = [
                    check(c, (*path, child_key, i), top=False)
                    for i, c in enumerate(component[child_key])
                ]
        for child_key in ("accessory", "component"):
            if isinstance(component.get(child_key), dict):
                out[child_key] = check(component[child_key], (*path, child_key), top=False)
        if "custom_id" in component or kind in (ComponentType.BUTTON, *_SELECT_TYPES):
            custom_id = component.get("custom_id")
            if not isinstance(custom_id, str) or not custom_id:
                errors.add((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
            else:
                _max_length(errors, (*path, "custom_id"), custom_id, 100)
                if custom_id in seen_ids:
                    errors.add(
                        (*path, "custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                seen_ids.add(custom_id)
        return out

    return [check(c, ("components", i), top=True) for i, c in enumerate(components)]


def _allowed_mentions(errors: FormErrors, value: Any) -> JSON:
    path: Path = ("allowed_mentions",)
    if not isinstance(value, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return {}
    parse = value.get("parse", [])
    if not isinstance(parse, list) or any(p not in ("users", "roles", "everyone") for p in parse):
        errors.add(
            (*path, "parse"),
            "BASE_TYPE_CHOICES",
            "Value must be one of ('roles', 'users', 'everyone').",
        )
        parse = []
    for key in ("users", "roles"):
        ids = value.get(key)
        if ids is None:
            continue
        if not isinstance(ids, list) or not all(_is_snowflake(i) for i in ids):
            errors.add((*path, key), "BASE_TYPE_LIST", "Must be a list of snowflakes.")
            continue
        _max_length(errors, (*path, key), ids, 100)
        if key in parse:
            errors.add(
                (*path, "parse"),
                "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                f'parse:["{key}"] and {key}: [ids...] are mutually exclusive.',
            )
    return dict(value)


def empty_message_error() -> ApiError:
    return ApiError(
        400,
        ErrorCode.CANNOT_SEND_EMPTY_MESSAGE,
        "Cannot send an empty message",
        kind="empty_message",
    )


# ---------------------------------------------------------------------------------------------
# Application commands


def validate_commands(body: Any) -> list[JSON]:
    """Bulk-overwrite body: a list of commands. Returns them unchanged after the checks."""
    if not isinstance(body, list):
        errors = FormErrors()
        errors.add((), "BASE_TYPE_LIST", "Must be a list.")
        raise errors.error()
    errors = FormErrors()
    seen: set[tuple[int, str]] = set()
    for index, command in enumerate(body):
        _command(errors, (index,), command)
        if isinstance(command, dict):
            key = (command.get("type", 1), str(command.get("name")))
            if key in seen:
                errors.add(
                    (index, "name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    f"Application command names must be unique (duplicate: {key[1]})",
                )
            seen.add(key)
    chat_input = [c for c in body if isinstance(c, dict) and c.get("type", 1) == 1]
    if len(chat_input) > 100:
        errors.add((), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
    errors.raise_if_any()
    return body


def validate_command(body: Any) -> JSON:
    errors = FormErrors()
    _command(errors, (), body)
    errors.raise_if_any()
    return require_object(body)


def _command(errors: FormErrors, path: Path, command: Any) -> None:
    if not isinstance(command, dict):
        errors.add(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    kind = command.get("type", 1)
    if kind not in (1, 2, 3, 4):
        errors.add((*path, "type"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.")
        return
    name = command.get("name")
    if kind == 1:
        _option_name(errors, (*path, "name"), name)
        _bad_length(errors, (*path, "description"), command.get("description"), 1, 100)
    else:
        _bad_length(errors, (*path, "name"), name, 1, 32)
        if command.get("description"):
            errors.add(
                (*path, "description"),
                "APPLICATION_COMMAND_INVALID_DESCRIPTION",
                "Context menu commands cannot have a description",
            )
    permissions = command.get("default_member_permissions")
    if permissions is not None and not (_is_snowflake(permissions)):
        errors.add((*path, "default_member_permissions"), "NUMBER_TYPE_COERCE", "Value is not int.")
    options = command.get("options") or []
    if kind != 1 and options:
        errors.add(
            (*path, "options"),
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Context menu commands cannot have options",
        )
        return
    _options(errors, (*path, "options"), options, depth=0)


def _option_name(errors: FormErrors, path: Path, name: Any) -> None:
    if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name) or name != name.lower():
        errors.add(path, "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")


def _options(errors: FormErrors, path: Path, options: Any, *, depth: int) -> None:
    if not isinstance(options, list):
        errors.add(path, "BASE_TYPE_LIST", "Must be a list.")
        return
    _max_length(errors, path, options, 25)
    names: set[str] = set()
    seen_optional = False
    kinds: set[str] = set()
    for index, option in enumerate(options):
        o_path: Path = (*path, index)
        if not isinstance(option, dict):
            errors.add(o_path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            continue
        kind = option.get("type")
        if kind not in {t.value for t in OptionType}:
            errors.add((*o_path, "type"), "BASE_TYPE_CHOICES", "Value must be one of {1, ..., 11}.")
            continue
        _option_name(errors, (*o_path, "name"), option.get("name"))
        _bad_length(errors, (*o_path, "description"), option.get("description"), 1, 100)
        name = str(option.get("name"))
        if name in names:
            errors.add(
                (*o_path, "name"),
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
        names.add(name)
        if kind in (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP):
            kinds.add("sub")
            if (kind == OptionType.SUB_COMMAND_GROUP and depth > 0) or (
                kind == OptionType.SUB_COMMAND and depth > 1
            ):
                errors.add(
                    (*o_path, "type"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-command nesting is too deep",
                )
            children = option.get("options") or []
            if kind == OptionType.SUB_COMMAND_GROUP and any(
                isinstance(c, dict) and c.get("type") != OptionType.SUB_COMMAND for c in children
            ):
                errors.add(
                    (*o_path, "options"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Sub-command groups can only contain sub-commands",
                )
            _options(errors, (*o_path, "options"), children, depth=depth + 1)
            continue
        kinds.add("value")
        required = bool(option.get("required", False))
        if required and seen_optional:
            errors.add(
                (*o_path, "required"),
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )
        seen_optional = seen_optional or not required
        choices = option.get("choices")
        if choices:
            if option.get("autocomplete"):
                errors.add(
                    (*o_path, "autocomplete"),
                    "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                    "Autocomplete cannot be enabled on options that have choices",
                )
            if kind not in (OptionType.STRING, OptionType.INTEGER, OptionType.NUMBER):
                errors.add(
                    (*o_path, "choices"),
                    "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                    "Choices are not allowed for this option type",
                )
            _max_length(errors, (*o_path, "choices"), choices, 25)
            for c_index, choice in enumerate(choices if isinstance(choices, list) else []):
                c_path: Path = (*o_path, "choices", c_index)
                if not isinstance(choice, dict):
                    errors.add(
                        c_path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"
                    )
                    continue
                _bad_length(errors, (*c_path, "name"), choice.get("name"), 1, 100)
                value = choice.get("value")
                if kind == OptionType.STRING:
                    if not isinstance(value, str):
                        errors.add((*c_path, "value"), "BASE_TYPE_STRING", "Must be a string.")
                    else:
                        _max_length(errors, (*c_path, "value"), value, 100)
                elif kind == OptionType.INTEGER and not _is_int(value):
                    errors.add((*c_path, "value"), "NUMBER_TYPE_COERCE", "Value is not int.")
                elif kind == OptionType.NUMBER and (
                    not isinstance(value, int | float) or isinstance(value, bool)
                ):
                    errors.add((*c_path, "value"), "NUMBER_TYPE_COERCE", "Value is not a number.")
    if kinds == {"sub", "value"}:
        errors.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-commands cannot be mixed with other options",
        )


def normalise_command(
    command: JSON, *, id: int, application_id: int, version: int, guild_id: int | None
) -> JSON:
    """The command as Discord returns it: ids and version added, defaults filled in."""
    kind = command.get("type", 1)
    permissions = command.get("default_member_permissions")
    out: JSON = {
        "id": str(id),
        "application_id": str(application_id),
        "version": str(version),
        "default_member_permissions": None if permissions is None else str(permissions),
        "type": kind,
        "name": command["name"],
        "name_localizations": command.get("name_localizations"),
        "description": command.get("description", "") if kind == 1 else "",
        "description_localizations": command.get("description_localizations"),
        "contexts": command.get("contexts"),
        "integration_types": command.get("integration_types") or [0],
        "nsfw": bool(command.get("nsfw", False)),
    }
    if guild_id is None:
        out["dm_permission"] = command.get("dm_permission", True) is not False
    else:
        out["guild_id"] = str(guild_id)
    options = [_normalise_option(o) for o in command.get("options") or []]
    if options:
        out["options"] = options
    return out


def _normalise_option(option: JSON) -> JSON:
    out: JSON = {
        "type": option["type"],
        "name": option["name"],
        "description": option.get("description", ""),
    }
    for key in ("name_localizations", "description_localizations"):
        if option.get(key):
            out[key] = option[key]
    if option.get("required"):
        out["required"] = True
    for key in ("choices", "channel_types", "min_value", "max_value", "min_length", "max_length"):
        if option.get(key) is not None:
            out[key] = option[key]
    if option.get("autocomplete"):
        out["autocomplete"] = True
    if option.get("options"):
        out["options"] = [_normalise_option(o) for o in option["options"]]
    return out


# ---------------------------------------------------------------------------------------------
# Threads, modals, autocomplete


@dataclass(frozen=True)
class ThreadBody:
    name: str
    auto_archive_duration: int
    type: int | None
    invitable: bool
    rate_limit_per_user: int


def parse_thread_body(body: Any, *, with_message: bool) -> ThreadBody:
    data = require_object(body)
    errors = FormErrors()
    name = data.get("name")
    _bad_length(errors, ("name",), name, 1, 100)
    duration = data.get("auto_archive_duration") or 4320
    if duration not in THREAD_ARCHIVE_DURATIONS:
        errors.add(
            ("auto_archive_duration",),
            "BASE_TYPE_CHOICES",
            "Value must be one of {60, 1440, 4320, 10080}.",
        )
    kind = data.get("type")
    if not with_message and kind is not None and kind not in (10, 11, 12):
        errors.add(("type",), "BASE_TYPE_CHOICES", "Value must be one of {10, 11, 12}.")
    slowmode = data.get("rate_limit_per_user") or 0
    if not _is_int(slowmode) or not 0 <= slowmode <= 21600:
        errors.add(
            ("rate_limit_per_user",),
            "NUMBER_TYPE_MAX",
            "int value should be less than or equal to 21600.",
        )
    errors.raise_if_any()
    return ThreadBody(
        name=str(name),
        auto_archive_duration=int(duration),
        type=None if kind is None else int(kind),
        invitable=bool(data.get("invitable", True)),
        rate_limit_per_user=int(slowmode),
    )


def validate_modal(data: Any) -> JSON:
    modal = require_object(data)
    errors = FormErrors()
    custom_id = modal.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        errors.add(("data", "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
    else:
        _max_length(errors, ("data", "custom_id"), custom_id, 100)
    _bad_length(errors, ("data", "title"), modal.get("title"), 1, 45)
    components = modal.get("components")
    if not isinstance(components, list) or not 1 <= len(components) <= 5:
        errors.add(
            ("data", "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
    errors.raise_if_any()
    return modal


def validate_autocomplete(data: Any) -> list[JSON]:
    body = require_object(data)
    errors = FormErrors()
    choices = body.get("choices")
    if not isinstance(choices, list):
        errors.add(("data", "choices"), "BASE_TYPE_REQUIRED", "This field is required")
        errors.raise_if_any()
        return []
    _max_length(errors, ("data", "choices"), choices, 25)
    for index, choice in enumerate(choices):
        if not isinstance(choice, dict):
            errors.add(
                ("data", "choices", index),
                "DICT_TYPE_CONVERT",
                "Only dictionaries may be used in a DictType",
            )
            continue
        _bad_length(errors, ("data", "choices", index, "name"), choice.get("name"), 1, 100)
    errors.raise_if_any()
    return choices
