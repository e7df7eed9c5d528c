"""Option values of the wrong type (a modified client) are found before a command runs."""

from __future__ import annotations

from bot.app import wrongly_typed_options


def test_wrongly_typed_options_are_named() -> None:
    data = {
        "options": [
            {"name": "genre", "type": 3, "value": 12345},
            {"name": "count", "type": 4, "value": "five"},
            {"name": "flag", "type": 4, "value": True},
            {"name": "temperature", "type": 10, "value": 1},
            {"name": "text", "type": 3, "value": "fine"},
        ]
    }
    assert wrongly_typed_options(data) == ["genre", "count", "flag"]


def test_sub_command_options_are_checked_and_junk_is_ignored() -> None:
    data = {
        "options": [
            {"name": "use", "type": 1, "options": [{"name": "name", "type": 3, "value": ["x"]}]}
        ]
    }
    assert wrongly_typed_options(data) == ["name"]
    assert wrongly_typed_options({"options": "nonsense"}) == []
    assert wrongly_typed_options(None) == []
    assert wrongly_typed_options({"options": [{"name": "user", "type": 6, "value": "123"}]}) == []
