"""Message splitting, the stream throttle, cooldowns and settings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bot.cogs.common import LiveMessage
from bot.cooldown import Cooldowns
from bot.settings import BotSettings, load_settings
from bot.text import short_title, split_message


def test_short_text_is_one_message() -> None:
    assert split_message("Hello.") == ["Hello."]
    assert split_message("") == [""]


def test_long_text_splits_at_paragraphs_then_words_within_the_limit() -> None:
    paragraphs = "\n\n".join("x" * 700 for _ in range(5))
    pieces = split_message(paragraphs, 2000)
    assert all(len(p) <= 2000 for p in pieces)
    assert pieces[0] == "x" * 700 + "\n\n" + "x" * 700
    assert "".join(pieces).replace("\n", "") == "x" * 3500
    words = " ".join(["word"] * 1000)
    pieces = split_message(words, 100)
    assert all(len(p) <= 100 for p in pieces)
    assert " ".join(pieces) == words


def test_text_without_spaces_is_cut_hard() -> None:
    pieces = split_message("y" * 4500, 2000)
    assert [len(p) for p in pieces] == [2000, 2000, 500]


def test_short_title() -> None:
    assert short_title("  A   knock\nat the door ") == "A knock at the door"
    title = short_title("word " * 50, 30)
    assert len(title) <= 30 and title.endswith("…")


class RecordingInteraction:
    def __init__(self) -> None:
        self.edits: list[str] = []

    async def edit_original_response(self, **kwargs: Any) -> None:
        self.edits.append(kwargs["content"])


async def test_live_message_edits_at_most_once_per_interval() -> None:
    now = [0.0]
    interaction = RecordingInteraction()
    live = LiveMessage(interaction, 1.0, clock=lambda: now[0])  # type: ignore[arg-type]
    for step in range(30):  # 30 chunks over 3 seconds
        now[0] = step * 0.1
        await live.on_text("w" * (step + 1))
    assert len(interaction.edits) == 3  # at 0.0, 1.0 and 2.0 s
    assert interaction.edits[0] == "w ▌" and interaction.edits[1] == "w" * 11 + " ▌"


async def test_live_message_preview_stays_within_discords_limit() -> None:
    interaction = RecordingInteraction()
    live = LiveMessage(interaction, 0.0)  # type: ignore[arg-type]
    await live.on_text("z" * 5000)
    assert len(interaction.edits[0]) <= 2000 and interaction.edits[0].endswith("▌")


def test_cooldowns_count_down_and_release() -> None:
    now = [100.0]
    cooldowns = Cooldowns(clock=lambda: now[0])
    assert cooldowns.try_start(1, 10) == 0.0
    now[0] = 103.0
    assert cooldowns.try_start(1, 10) == pytest.approx(7.0)
    assert cooldowns.try_start(2, 10) == 0.0  # per user
    cooldowns.release(1)
    assert cooldowns.try_start(1, 10) == 0.0
    assert cooldowns.try_start(1, 0) == 0.0  # no cooldown configured


def test_settings_from_environment_and_dotenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "DISCORD_TOKEN=\nCAMPFIRE_API_KEY=\nCAMPFIRE_SERVER_URL=http://dotenv:1\n"
        "CAMPFIRE_COOLDOWN_SECONDS=3\n"
    )
    monkeypatch.setenv("CAMPFIRE_SERVER_URL", "http://env:2")
    monkeypatch.setenv("CAMPFIRE_ADMIN_KEY", "admin-secret")
    settings = load_settings()
    assert settings.discord_token is None and settings.api_key is None  # empty means unset
    assert settings.server_url == "http://env:2"  # the environment wins over .env
    assert settings.cooldown_seconds == 3.0
    assert settings.admin_key is not None
    assert "admin-secret" not in repr(settings) and "admin-secret" not in str(settings)


def test_bad_settings_are_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMPFIRE_DEFAULT_TEMPERATURE", "hot")
    with pytest.raises(ValueError, match="default_temperature"):
        BotSettings(_env_file=None)


def test_env_example_lists_every_bot_setting_and_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    text = example.read_text()
    for name in BotSettings.model_fields:
        variable = "DISCORD_TOKEN" if name == "discord_token" else f"CAMPFIRE_{name.upper()}"
        assert f"\n{variable}=" in text, f"{variable} is missing from .env.example"
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith(("CAMPFIRE_", "DISCORD_")):
            monkeypatch.delenv(key)
    (tmp_path / ".env").write_text(text)
    settings = load_settings()
    assert settings.discord_token is None and settings.cooldown_seconds == 5.0
