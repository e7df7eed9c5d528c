"""What every part of the story service shares: the store, the model, the per-story locks, the
effective settings, moderation, the context fitter and the writer."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from bot.group.moderation import Moderator, StockProfanityFilter
from bot.group.turns import TurnTaking
from bot.model_client import ModelClient, ModelClientError
from bot.store import Store, Story, Turn
from bot.story.context import AssembledContext, ContextFitter
from bot.story.values import NO_STORY, Defaults, EffectiveSettings, Limits, StoryError, StoryKey
from bot.story.writer import Writer, make_request
from core.controls import Genre, Task
from core.protocol import CheckpointInfo, GenerateRequest

T = TypeVar("T")
log = logging.getLogger(__name__)


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
            raise StoryError(
                "That story isn't running any more, so its passages can't be changed; "
                "/story resume brings it back (see /story list)."
            )
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

    async def checkpoint_info(self, settings: EffectiveSettings) -> CheckpointInfo | None:
        """The checkpoint these settings use, as the model server lists it (None: not listed)."""
        return await self.checkpoint_named(settings.checkpoint)

    async def checkpoint_named(self, name: str | None) -> CheckpointInfo | None:
        """A checkpoint as the model server lists it (name None: the server's default); None
        too when the server lists none (some OpenAI-compatible servers): the request may try."""
        try:
            infos = await self.model.checkpoints()
        except ModelClientError as error:
            log.info("no checkpoint list, so no check of what it was trained for: %s", error)
            return None
        for info in infos:
            if (info.name == name) if name else info.default:
                return info
        return None

    async def require_task(self, settings: EffectiveSettings, task: Task, does: str) -> None:
        """Refuse, naming the command that switches, when the checkpoint was not trained for
        `task` (a checkpoint whose tasks are unknown, such as another server's model, may try).
        does: what the task is for ("tell jokes")."""
        info = await self.checkpoint_info(settings)
        if info is None or not info.tasks or task in info.tasks:
            return
        knows = ", ".join(t.value for t in info.tasks)
        able = [i.name for i in await self.model.checkpoints() if i.valid and task in i.tasks]
        which = f" (checkpoints that can: {', '.join(able)})" if able else ""
        raise StoryError(
            f"The checkpoint {info.name!r} was not trained to {does} (it knows: {knows}). "
            f"An admin can switch to one that was with /checkpoint use{which}."
        )

    async def continuation_request(
        self,
        story: Story,
        turns: Sequence[Turn],
        settings: EffectiveSettings,
        genre: Genre | None,
        n: int = 1,
    ) -> Continuation:
        """What comes after `turns`: the fitted story text, with memory and lore as background
        and the note apart; a story with no turns yet answers its prompt instead. A checkpoint
        not trained to continue (say, one trained on writing prompts only) writes a new
        passage from the story's last lines, with a notice saying so."""
        if not turns:
            request = make_request(settings, Task.STORY, genre=genre, context=story.prompt, n=n)
            return Continuation(request)
        fitted = await self.context(turns[0].story_id, turns, settings)
        task, context, notice = Task.CONTINUE, fitted.story, ""
        if not fitted.story:
            task, context = Task.STORY, story.prompt
        elif not await self._can_continue(settings):
            task, context, notice = Task.STORY, last_lines(fitted.story), FROM_LAST_LINES
        request = make_request(
            settings,
            task,
            genre=genre,
            context=context,
            n=n,
            background=fitted.background,
            note=fitted.note,
            lore_names=[entry.name for entry in fitted.lore.included],
        )
        return Continuation(request, notice)

    async def _can_continue(self, settings: EffectiveSettings) -> bool:
        """False only for a checkpoint known to lack the continue task but to write stories."""
        info = await self.checkpoint_info(settings)
        if info is None or not info.tasks or Task.CONTINUE in info.tasks:
            return True
        return Task.STORY not in info.tasks


FROM_LAST_LINES = (
    "This checkpoint was not trained to continue; it wrote a new passage from the story's last "
    "lines."
)
LAST_LINES_CHARS = 400


@dataclass(frozen=True)
class Continuation:
    request: GenerateRequest
    notice: str = ""
    """Said with the passage: how it was written when not as asked (empty: as asked)."""


def last_lines(story: str, chars: int = LAST_LINES_CHARS) -> str:
    """The end of the story text, at most `chars` long, starting at a line or sentence start
    where one is near (the prompt a checkpoint that can't continue writes from)."""
    story = story.strip()
    if len(story) <= chars:
        return story
    tail = story[-chars:]
    starts = [tail.find(mark) + len(mark) for mark in ("\n", ". ", "! ", "? ") if mark in tail]
    start = min(starts) if starts else tail.find(" ") + 1
    return tail[start:].strip() or tail.strip()
