"""The story service: every command's logic, in plain Python (no Discord).

Discord cogs and the terminal play mode both call it. Each operation on one story holds that
story's lock. The model is asked first and the store written only when the model answered, so a
model failure leaves the story as it was. Everything people send passes the server's moderation
first; what the model writes is regenerated while it hits the blocklist, then withheld.

The writing commands live here; the rest are collaborators on the service, each built on the
same `StoryParts`: `group` (threads, turn modes, participants, memory, note, lore), `votes`
(candidate votes), `books` (recap and exports), `admin` (checkpoints, settings, blocklist).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from bot.group.moderation import Moderator
from bot.group.turns import TurnMode
from bot.model_client import ModelClient
from bot.store import SavedPrompt, Store, Story, Turn
from bot.story.admin import Admin
from bot.story.books import Books
from bot.story.context import ContextFitter, ContextSettings
from bot.story.group import StoryGroup
from bot.story.parts import StoryParts
from bot.story.values import (
    WRITE_TASK,
    Author,
    Defaults,
    EffectiveSettings,
    Limits,
    OnText,
    OutputWithheld,
    Passage,
    PutAside,
    StoryError,
    StoryKey,
    TurnTaken,
    coerce_emotion,
    coerce_genre,
)
from bot.story.votes import Votes
from bot.story.writer import Writer, make_request
from bot.text import short_title
from core.controls import Emotion, Genre, Task
from core.protocol import GenerateResponse

log = logging.getLogger(__name__)

RoundListener = Callable[[StoryKey, Author], Coroutine[Any, Any, None]]


class StoryService:
    def __init__(
        self,
        store: Store,
        model: ModelClient,
        *,
        defaults: Defaults | None = None,
        limits: Limits | None = None,
        writer: Writer | None = None,
        context: ContextSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.parts = StoryParts(
            store,
            model,
            defaults or Defaults(),
            limits or Limits(),
            writer or Writer(model),
            ContextFitter(model, context),
            clock,
        )
        self.store, self.model, self.limits, self.clock = store, model, self.parts.limits, clock
        self.group = StoryGroup(self.parts)
        self.votes = Votes(self.parts)
        self.books = Books(self.parts)
        self.admin = Admin(self.parts)
        self.round_listeners: list[RoundListener] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def settings_for(self, key: StoryKey) -> EffectiveSettings:
        return await self.parts.settings_for(key)

    async def check_input(self, key: StoryKey, what: str, text: str | None) -> None:
        """Raise Blocked when text breaks the server's policy (what: "Your title", ...)."""
        await self.parts.check_input(key, (what, text))

    # --- the model writes ----------------------------------------------------------------------

    async def prompts(
        self, key: StoryKey, author: Author, topic: str | None = None, count: int = 1
    ) -> list[SavedPrompt]:
        """Invent `count` writing prompts (the topic starts each one, like a prefix)."""
        topic = self.limits.check_topic(topic)
        count = self.limits.check_count(count)
        moderator = await self.parts.check_input(key, ("Your topic", topic))
        settings = await self.parts.settings_for(key)
        request = make_request(settings, Task.PROMPT, prefix=topic or "", n=count)
        response, texts = await self.parts.writer.prompts(request)
        clean = [t for t in texts if moderator.allows(t)]
        if not clean:
            raise OutputWithheld(
                "The prompts were withheld: they used words this server blocks. Try again."
            )
        return await self.store.save_prompts(
            key.guild_id, key.channel_id, clean, response.checkpoint
        )

    async def joke(
        self, key: StoryKey, author: Author, topic: str | None = None, on_text: OnText | None = None
    ) -> str:
        """A joke (the topic starts it), from a checkpoint trained for jokes; not a story turn."""
        topic = self.limits.check_topic(topic)
        moderator = await self.parts.check_input(key, ("Your topic", topic))
        settings = await self.parts.settings_for(key)
        await self.parts.require_task(settings, Task.JOKE, "tell jokes")
        request = make_request(settings, Task.JOKE, prefix=topic or "")
        return (await self.parts.writer.write(request, moderator, on_text))[1]

    async def respond(
        self,
        key: StoryKey,
        author: Author,
        genre: Genre | str,
        prompt: str | None = None,
        on_text: OnText | None = None,
    ) -> Passage:
        """With a prompt: start a new story answering it. Without: continue the channel's story
        in the genre (or, with no story yet, open one)."""
        checked_genre = coerce_genre(genre)
        prompt = self.limits.check_prompt(prompt)
        moderator = await self.parts.check_input(key, ("Your prompt", prompt))
        async with self.parts.lock(key):
            story = await self.store.active_story(key.guild_id, key.channel_id)
            if prompt is None and story is not None:
                return await self._continue_locked(
                    key, story, author, checked_genre, moderator, on_text
                )
            return await self._start_locked(key, author, checked_genre, prompt, moderator, on_text)

    async def write_prompt(
        self, key: StoryKey, author: Author, prompt_id: int, on_text: OnText | None = None
    ) -> Passage:
        """The "Write this" button of a /prompt answer: start a story from that prompt."""
        saved = await self.store.prompt(prompt_id)
        if saved is None:
            raise StoryError("That prompt is no longer known. Ask for new ones with /prompt.")
        if StoryKey(saved.guild_id, saved.channel_id) != key:
            raise StoryError(
                "That prompt belongs to another channel. Ask for prompts here with /prompt."
            )
        moderator = await self.parts.moderator(key.guild_id)
        async with self.parts.lock(key):
            story = await self.store.active_story(key.guild_id, key.channel_id)
            genre = coerce_genre(story.genre) if story is not None else None
            return await self._start_locked(key, author, genre, saved.text, moderator, on_text)

    async def continue_story(
        self,
        key: StoryKey,
        author: Author,
        genre: Genre | str | None = None,
        on_text: OnText | None = None,
    ) -> Passage:
        """Continue where the story stopped, in its last genre unless one is given."""
        checked_genre = coerce_genre(genre)
        moderator = await self.parts.moderator(key.guild_id)
        async with self.parts.lock(key):
            story = await self.parts.active(key)
            return await self._continue_locked(
                key, story, author, checked_genre, moderator, on_text
            )

    async def poem(
        self,
        key: StoryKey,
        author: Author,
        emotion: Emotion | str,
        title: str | None = None,
        on_text: OnText | None = None,
    ) -> Passage:
        """A poem in that emotional tone, added to the channel's story (opening one if none)."""
        checked = coerce_emotion(emotion)
        title = self.limits.check_title(title)
        moderator = await self.parts.check_input(key, ("Your title", title))
        async with self.parts.lock(key):
            settings = await self.parts.settings_for(key)
            request = make_request(settings, Task.POEM, emotion=checked, context=title or "")
            response, text = await self.parts.writer.write(request, moderator, on_text)

            async def story_for() -> Story:
                found = await self.store.active_story(key.guild_id, key.channel_id)
                return found or await self.store.start_story(
                    key.guild_id,
                    key.channel_id,
                    title=title or short_title(text),
                    created_by=author.id,
                )

            turn = _ModelTurn(Task.POEM, None, checked, title, None)
            return await self._add_model_turn(story_for, author, turn, response, text)

    async def regenerate(
        self, key: StoryKey, author: Author, turn_id: int, on_text: OnText | None = None
    ) -> Passage:
        """Write a model passage again; the old one stays in history, no longer shown."""
        moderator = await self.parts.moderator(key.guild_id)
        async with self.parts.lock(key):
            story, turn = await self.parts.turn_in_channel(key, turn_id)
            if turn.kind != "model":
                raise StoryError("Only the model's passages can be regenerated.")
            if not turn.shown:
                raise StoryError("That passage was already replaced or undone.")
            genre = coerce_genre(turn.genre)
            earlier = [t for t in await self.store.turns(story.id) if t.position < turn.position]
            if turn.task == Task.POEM.value:
                emotion = coerce_emotion(turn.emotion or Emotion.NEUTRAL)
                again = _ModelTurn(Task.POEM, None, emotion, turn.prompt, turn)
            elif turn.task == Task.STORY.value or not earlier:
                prompt = turn.prompt or story.prompt
                again = _ModelTurn(Task.STORY, genre, None, prompt or None, turn)
            else:
                return await self._continue_locked(
                    key, story, author, genre, moderator, on_text, replaces=turn
                )
            settings = await self.parts.settings_for(key)
            request = make_request(
                settings,
                again.task,
                genre=again.genre,
                emotion=again.emotion,
                context=again.prompt or "",
            )
            response, text = await self.parts.writer.write(request, moderator, on_text)
            return await self._add_model_turn(partial(_same, story), author, again, response, text)

    async def _start_locked(
        self,
        key: StoryKey,
        author: Author,
        genre: Genre | None,
        prompt: str | None,
        moderator: Moderator,
        on_text: OnText | None,
    ) -> Passage:
        settings = await self.parts.settings_for(key)
        request = make_request(settings, Task.STORY, genre=genre, context=prompt or "")
        response, text = await self.parts.writer.write(request, moderator, on_text)
        running = await self.store.active_story(key.guild_id, key.channel_id)
        put_aside = None
        if running is not None:
            put_aside = PutAside(await self.store.story_number(running), running.title)
        story_for = partial(
            self.store.start_story,
            key.guild_id,
            key.channel_id,
            title=short_title(prompt or text),
            prompt=prompt or "",
            genre=genre.value if genre else None,
            created_by=author.id,
        )
        turn = _ModelTurn(Task.STORY, genre, None, prompt, None)
        passage = await self._add_model_turn(story_for, author, turn, response, text)
        return replace(passage, put_aside=put_aside)

    async def _continue_locked(
        self,
        key: StoryKey,
        story: Story,
        author: Author,
        genre: Genre | None,
        moderator: Moderator,
        on_text: OnText | None,
        *,
        replaces: Turn | None = None,
    ) -> Passage:
        genre = genre or coerce_genre(story.genre)
        settings = await self.parts.settings_for(key)
        turns = await self.store.turns(story.id)
        if replaces is not None:
            turns = [t for t in turns if t.position < replaces.position]
        continuation = await self.parts.continuation_request(story, turns, settings, genre)
        request = continuation.request
        response, text = await self.parts.writer.write(request, moderator, on_text)

        async def story_for() -> Story:
            if genre is not None and genre.value != story.genre:
                await self.store.set_story_genre(story.id, genre.value)
            return story

        turn = _ModelTurn(request.task, genre, None, None, replaces)
        passage = await self._add_model_turn(story_for, author, turn, response, text)
        return replace(passage, notice=continuation.notice)

    async def _add_model_turn(
        self,
        story_for: Callable[[], Awaitable[Story]],
        author: Author,
        what: _ModelTurn,
        response: GenerateResponse,
        text: str,
    ) -> Passage:
        """Store what the model wrote, in one transaction with what `story_for` changes (the
        story it goes into: found, opened or updated)."""

        async def record() -> tuple[Story, Turn]:
            story = await story_for()
            turn = await self.store.add_turn(
                story.id,
                kind="model",
                task=what.task.value,
                author_id=author.id,
                author_name=author.name,
                text=text,
                genre=what.genre.value if what.genre else None,
                emotion=what.emotion.value if what.emotion else None,
                prompt=what.prompt,
                checkpoint=response.checkpoint,
                replaces=what.replaces.id if what.replaces else None,
            )
            return await self.store.story(story.id) or story, turn

        story, turn = await self.store.atomically(record)
        candidate = response.candidates[0]
        return Passage(
            story=story,
            turn=turn,
            finish_reason=candidate.finish_reason,
            copied_from_training=candidate.copied_from_training,
        )

    # --- people write, undo, keep, reset -------------------------------------------------------

    async def write(self, key: StoryKey, author: Author, text: str) -> Turn:
        return (await self.take_turn(key, author, text)).turn

    async def take_turn(self, key: StoryKey, author: Author, text: str) -> TurnTaken:
        """A person's own passage, if the story's moderation and turn mode allow it."""
        text = self.limits.check_write(text)
        await self.parts.check_input(key, ("Your turn", text))

        async def record() -> tuple[Story, Turn]:
            story = await self.store.active_story(key.guild_id, key.channel_id)
            if story is None:
                story = await self.store.start_story(
                    key.guild_id, key.channel_id, title=short_title(text), created_by=author.id
                )
            state = await self.parts.turn_state(story)
            if state.rules.mode is TurnMode.ROUNDS:
                state.check(author.id)
            await self.store.add_participant(story.id, author.id, author.name)
            turn = await self.store.add_turn(
                story.id,
                kind="human",
                task=WRITE_TASK,
                author_id=author.id,
                author_name=author.name,
                text=text,
            )
            return story, turn

        async with self.parts.lock(key):
            story, turn = await self.store.atomically(record)
            after = await self.parts.turn_state(story)
        if after.bot_due:
            self._tell_round_listeners(key, author)
        return TurnTaken(turn, after.bot_due)

    async def undo(self, key: StoryKey, turn_id: int | None = None) -> Turn:
        """Hide the story's latest passage (or the given one, if it is the latest)."""
        async with self.parts.lock(key):
            story = await self.parts.active(key)
            last = await self.store.last_turn(story.id)
            if last is None:
                raise StoryError("The story has no passages left to undo.")
            if turn_id is not None and turn_id != last.id:
                _, turn = await self.parts.turn_in_channel(key, turn_id)
                if not turn.shown:
                    raise StoryError("That passage was already replaced or undone.")
                raise StoryError(
                    "Only the latest passage can be undone; later passages follow this one."
                )
            await self.store.set_turn_status(last.id, "undone")
            return last

    async def keep(self, key: StoryKey, turn_id: int, kept: bool | None = None) -> Turn:
        """Mark (or, kept=False, unmark; None toggles) a passage for the anthology."""
        async with self.parts.lock(key):
            _, turn = await self.parts.turn_in_channel(key, turn_id)
            await self.store.set_kept(turn.id, (not turn.kept) if kept is None else kept)
            updated = await self.store.turn(turn.id)
            assert updated is not None
            return updated

    async def reset(self, key: StoryKey, story_id: int | None = None) -> Story:
        """End the channel's story (kept in the file); the next command starts a new one."""
        async with self.parts.lock(key):
            story = await self.store.active_story(key.guild_id, key.channel_id)
            if story is None or (story_id is not None and story.id != story_id):
                raise StoryError("There's no story to reset here (it may be reset already).")
            await self.store.end_story(story.id)
            return story

    async def record_messages(self, turn_id: int, message_ids: Sequence[int]) -> None:
        """The messages showing a turn, in order (none: it is no longer shown anywhere)."""
        await self.store.add_turn_messages(turn_id, message_ids)

    async def message_ids(self, turn_id: int) -> list[int]:
        return await self.store.turn_message_ids(turn_id)

    async def turn(self, turn_id: int) -> Turn | None:
        return await self.store.turn(turn_id)

    # --- rounds: the bot writes when a round completes ----------------------------------------

    def _tell_round_listeners(self, key: StoryKey, author: Author) -> None:
        for listener in self.round_listeners:
            task = asyncio.create_task(self._run_listener(listener, key, author))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run_listener(listener: RoundListener, key: StoryKey, author: Author) -> None:
        try:
            await listener(key, author)
        except Exception:  # a listener's failure must not go unseen, nor stop the others
            log.exception("round listener failed for channel %s", key.channel_id)

    async def wait_for_listeners(self) -> None:
        """Let the round listeners started so far finish (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


@dataclass(frozen=True)
class _ModelTurn:
    """What a model passage is, as stored with its turn."""

    task: Task
    genre: Genre | None
    emotion: Emotion | None
    prompt: str | None
    replaces: Turn | None


async def _same(story: Story) -> Story:
    return story
