"""What every part of the story service shares: the store, the model, the per-story locks, the
effective settings, moderation, the context fitter and the writer."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from bot.group.moderation import Moderator, StockProfanityFilter
from bot.group.turns import TurnTaking
from bot.model_client import ModelClient
from bot.store import Store, Story, Turn
from bot.story.context import AssembledContext, ContextFitter
from bot.story.values import NO_STORY, Defaults, EffectiveSettings, Limits, StoryError, StoryKey
from bot.story.writer import Writer, make_request
from core.controls import Genre, Task
from core.protocol import GenerateRequest

T = TypeVar("T")


def _first(channel: T | None, server: T | None, default: T) -> T:
    """The channel's value if set, else the server's, else the default."""
    return channel if channel is not None else server if server is not None else default


@dataclass
class StoryParts:
    store: Store
    model: ModelClient
    defaults: Defaults
    limits: Limits
    writer: Writer
    fitter: ContextFitter
    clock: Callable[[], datetime]
    profanity: StockProfanityFilter = field(default_factory=StockProfanityFilter)
    _locks: weakref.WeakValueDictionary[StoryKey, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )

    def lock(self, key: StoryKey) -> asyncio.Lock:
        """The story's lock (one per channel while anyone holds or waits for it): two commands
        in one channel never interleave, the second waits and continues after the first."""
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def settings_for(self, key: StoryKey) -> EffectiveSettings:
        """Channel settings win over server settings, which win over the defaults."""
        channel = await self.store.channel_settings(key.channel_id)
        server = await self.store.guild_settings(key.guild_id)
        defaults = self.defaults
        return EffectiveSettings(
            checkpoint=channel.checkpoint or server.checkpoint,
            max_new_tokens=_first(
                channel.max_new_tokens, server.max_new_tokens, defaults.max_new_tokens
            ),
            temperature=_first(channel.temperature, server.temperature, defaults.temperature),
            cooldown_seconds=_first(
                channel.cooldown_seconds, server.cooldown_seconds, defaults.cooldown_seconds
            ),
            preset=_first(channel.preset, server.preset, defaults.preset),
        )

    async def moderator(self, guild_id: int) -> Moderator:
        return Moderator(await self.store.moderation_policy(guild_id), self.profanity)

    async def check_input(self, key: StoryKey, *texts: tuple[str, str | None]) -> Moderator:
        """Refuse input that breaks the server's policy; texts are (what, text) pairs."""
        moderator = await self.moderator(key.guild_id)
        for what, text in texts:
            if text:
                moderator.check_input(text, what)
        return moderator

    async def active(self, key: StoryKey) -> Story:
        story = await self.store.active_story(key.guild_id, key.channel_id)
        if story is None:
            raise StoryError(NO_STORY)
        return story

    async def turn_state(self, story: Story) -> TurnTaking:
        extras = await self.store.extras(story.id)
        people = [p.user_id for p in await self.store.participants(story.id)]
        turns = await self.store.turns(story.id)
        authors = [t.author_id if t.kind == "human" else None for t in turns]
        return TurnTaking.of(extras.rules, people, authors)

    async def turn_in_channel(self, key: StoryKey, turn_id: int) -> tuple[Story, Turn]:
        turn = await self.store.turn(turn_id)
        story = await self.store.story(turn.story_id) if turn else None
        if turn is None or story is None or StoryKey(story.guild_id, story.channel_id) != key:
            raise StoryError("That passage is not part of this channel's story.")
        if story.ended_at is not None:
            raise StoryError("That story was reset; its passages can't be changed any more.")
        return story, turn

    async def context(
        self, story_id: int, turns: Sequence[Turn], settings: EffectiveSettings
    ) -> AssembledContext:
        return await self.fitter.fit(
            [t.text for t in turns],
            await self.store.extras(story_id),
            await self.store.lore(story_id),
            checkpoint=settings.checkpoint,
            answer_tokens=settings.max_new_tokens,
        )

    async def continuation_request(
        self,
        story: Story,
        turns: Sequence[Turn],
        settings: EffectiveSettings,
        genre: Genre | None,
        n: int = 1,
    ) -> GenerateRequest:
        """What comes after `turns`: the fitted story text, with memory and lore as background
        and the note apart; a story with no turns yet answers its prompt instead."""
        if not turns:
            return make_request(settings, Task.STORY, genre=genre, context=story.prompt, n=n)
        fitted = await self.context(turns[0].story_id, turns, settings)
        return make_request(
            settings,
            Task.CONTINUE if fitted.story else Task.STORY,
            genre=genre,
            context=fitted.story or story.prompt,
            n=n,
            background=fitted.background,
            note=fitted.note,
        )
