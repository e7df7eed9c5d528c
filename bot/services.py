"""The bot's dependencies, opened in one place and handed to the Discord bot or the REPL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.backends import make_model_client
from bot.cooldown import Cooldowns
from bot.model_client import ModelClient
from bot.settings import BotSettings
from bot.store import Store
from bot.story import Defaults, Limits, StoryService


@dataclass
class Services:
    settings: BotSettings
    store: Store
    model: ModelClient
    stories: StoryService
    cooldowns: Cooldowns


def defaults_from(settings: BotSettings) -> Defaults:
    return Defaults(
        max_new_tokens=settings.default_max_tokens,
        temperature=settings.default_temperature,
        cooldown_seconds=settings.cooldown_seconds,
    )


def limits_from(settings: BotSettings) -> Limits:
    return Limits(
        prompt_chars=settings.max_prompt_chars,
        title_chars=settings.max_title_chars,
        write_chars=settings.max_write_chars,
        prompt_count=settings.max_prompt_count,
    )


def build_services(settings: BotSettings, store: Store, model: ModelClient) -> Services:
    stories = StoryService(
        store, model, defaults=defaults_from(settings), limits=limits_from(settings)
    )
    return Services(settings, store, model, stories, Cooldowns())


@asynccontextmanager
async def open_services(settings: BotSettings) -> AsyncIterator[Services]:
    """Open the store and the model client; close both on the way out."""
    store = await Store.open(settings.db)
    try:
        model = make_model_client(settings)
        try:
            yield build_services(settings, store, model)
        finally:
            await model.aclose()
    finally:
        await store.close()
