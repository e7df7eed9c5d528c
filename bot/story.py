"""The story service: every command's logic, in plain Python (no Discord).

Discord cogs and the terminal play mode both call this. A story belongs to a (guild, channel)
pair; every operation on one story holds that story's lock, so two commands in one channel never
interleave: the second waits and then continues after the first. The model is asked first and
the store is written only when the model answered, so a model failure leaves the story as it was.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.context import build_context
from bot.model_client import ModelClient, ModelClientError, ModelError
from bot.store import SavedPrompt, Scope, ScopeSettings, Store, Story, Turn
from bot.text import short_title
from core.controls import Emotion, Genre, Task, parse_emotion, parse_genre
from core.errors import CampfireError, UnknownChoiceError
from core.protocol import (
    CheckpointInfo,
    GenerateRequest,
    GenerateResponse,
    LoadCheckpointRequest,
    StreamChunk,
)

OnText = Callable[[str], Awaitable[None]]

WRITE_TASK = "write"  # a turn a person wrote (turns.task), next to core Task values
# Tokens kept free for the prompt's own text around the context (template, headers).
PROMPT_OVERHEAD_TOKENS = 160  # the instruction style with background and note: 114 SmolLM2 tokens
# Used when the server can't count tokens (another OpenAI-style backend): ~3 chars a token.
FALLBACK_WINDOW = 1024
FALLBACK_CHARS_PER_TOKEN = 3.0
MAX_TOKENIZE_TEXTS = 256  # core.protocol.TokenizeRequest.texts
# A sampled answer can end before its first word; that is chance, so the model is asked again
# (unseeded requests draw anew) before the user is told it wrote nothing.
EMPTY_ANSWER_TRIES = 3
NOTHING_WRITTEN = "The model wrote nothing this time. Try again."


class StoryError(CampfireError):
    """Something the person asked for can't be done; the message says why and what to do."""


@dataclass(frozen=True)
class StoryKey:
    """Where a story lives: a server (0 outside one) and a channel or thread."""

    guild_id: int
    channel_id: int


@dataclass(frozen=True)
class Author:
    id: int
    name: str


@dataclass(frozen=True)
class Limits:
    """Input length limits, checked before anything else (also by the cogs before deferring)."""

    prompt_chars: int = 500
    title_chars: int = 200
    write_chars: int = 4000
    prompt_count: int = 5

    def check_prompt(self, prompt: str | None) -> str | None:
        return _check_length("prompt", prompt, self.prompt_chars)

    def check_topic(self, topic: str | None) -> str | None:
        return _check_length("topic", topic, self.title_chars)

    def check_title(self, title: str | None) -> str | None:
        return _check_length("title", title, self.title_chars)

    def check_write(self, text: str) -> str:
        checked = _check_length("text", text, self.write_chars)
        if not checked:
            raise StoryError("Your passage is empty: give the text you want to add.")
        return checked

    def check_count(self, count: int) -> int:
        if not 1 <= count <= self.prompt_count:
            raise StoryError(f"count must be between 1 and {self.prompt_count} (you gave {count}).")
        return count


def _check_length(what: str, text: str | None, limit: int) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if len(text) > limit:
        raise StoryError(
            f"The {what} is {len(text)} characters long; the limit is {limit}. Shorten it and "
            "try again."
        )
    return text or None


@dataclass(frozen=True)
class Defaults:
    """Settings used where neither the server nor the channel set their own."""

    max_new_tokens: int = 200
    temperature: float = 0.8
    cooldown_seconds: float = 5.0
    prompt_max_new_tokens: int = 60
    """A writing prompt is one or two sentences: it gets its own, short length."""
    repetition_penalty: float = 1.1
    """Above 1.0 so a small model does not loop ("I walked home, and I walked home")."""


@dataclass(frozen=True)
class EffectiveSettings:
    checkpoint: str | None
    max_new_tokens: int
    temperature: float
    cooldown_seconds: float


@dataclass(frozen=True)
class ModelContext:
    """What the model reads to continue a story: the story text, and apart from it the
    background (memory, lore) and the author's note, which the server places for its model."""

    story: str
    background: str = ""
    note: str = ""


@dataclass(frozen=True)
class Passage:
    """What the model wrote and where it went in the story."""

    story: Story
    turn: Turn
    finish_reason: str
    copied_from_training: bool = False


@dataclass(frozen=True)
class Recap:
    story: Story
    turns: list[Turn]

    @property
    def authors(self) -> dict[str, int]:
        """Passages per writer; the model's passages count as "Campfire"."""
        counts: dict[str, int] = {}
        for turn in self.turns:
            name = turn.author_name if turn.kind == "human" else "Campfire"
            counts[name] = counts.get(name, 0) + 1
        return counts

    @property
    def checkpoints(self) -> list[str]:
        return sorted({t.checkpoint for t in self.turns if t.checkpoint})


def coerce_genre(value: str | Genre | None) -> Genre | None:
    """A genre from a command option, checked again here (discord.py doesn't check choices)."""
    if value is None or isinstance(value, Genre):
        return value
    try:
        return parse_genre(value)
    except UnknownChoiceError as error:
        raise StoryError(str(error).capitalize() + ".") from None


def coerce_emotion(value: str | Emotion) -> Emotion:
    if isinstance(value, Emotion):
        return value
    try:
        return parse_emotion(value)
    except UnknownChoiceError as error:
        raise StoryError(str(error).capitalize() + ".") from None


NO_STORY = (
    "There's no story in this channel yet. Start one with /respond (add a prompt if you "
    "like), /write or a /prompt's Write this button."
)


class StoryService:
    def __init__(
        self,
        store: Store,
        model: ModelClient,
        *,
        defaults: Defaults | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.store = store
        self.model = model
        self.defaults = defaults or Defaults()
        self.limits = limits or Limits()
        self._locks: weakref.WeakValueDictionary[StoryKey, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    # --- locking and settings ----------------------------------------------------------------

    def lock(self, key: StoryKey) -> asyncio.Lock:
        """The story's lock (one per channel while anyone holds or waits for it)."""
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def settings_for(self, key: StoryKey) -> EffectiveSettings:
        """Channel settings win over server settings, which win over the defaults."""
        server = await self.store.guild_settings(key.guild_id)
        channel = await self.store.channel_settings(key.channel_id)

        scopes = (channel, server)
        checkpoint = next((s.checkpoint for s in scopes if s.checkpoint is not None), None)
        tokens = next((s.max_new_tokens for s in scopes if s.max_new_tokens is not None), None)
        temperature = next((s.temperature for s in scopes if s.temperature is not None), None)
        cooldown = next(
            (s.cooldown_seconds for s in scopes if s.cooldown_seconds is not None), None
        )
        return EffectiveSettings(
            checkpoint=checkpoint,
            max_new_tokens=self.defaults.max_new_tokens if tokens is None else tokens,
            temperature=self.defaults.temperature if temperature is None else temperature,
            cooldown_seconds=self.defaults.cooldown_seconds if cooldown is None else cooldown,
        )

    # --- the model ---------------------------------------------------------------------------

    async def _generate(
        self, request: GenerateRequest, on_text: OnText | None
    ) -> tuple[GenerateResponse, str]:
        for _ in range(EMPTY_ANSWER_TRIES):
            response, text = await self._generate_once(request, on_text)
            if text:
                return response, text
        raise ModelError(NOTHING_WRITTEN)

    async def _generate_once(
        self, request: GenerateRequest, on_text: OnText | None
    ) -> tuple[GenerateResponse, str]:
        """One answer and its first candidate's text (empty when the model wrote nothing)."""
        if on_text is None:
            response = await self.model.generate(request)
        else:
            streamed: list[str] = []

            async def on_chunk(chunk: StreamChunk) -> None:
                if chunk.index == 0:
                    streamed.append(chunk.text)
                    await on_text("".join(streamed))

            response = await self.model.stream(request, on_chunk)
        if not response.candidates:
            raise ModelError("The model server returned no text. Try again.")
        return response, response.candidates[0].text.strip()

    async def _fit_context(
        self, opening: str, turns: Sequence[str], settings: EffectiveSettings
    ) -> str:
        """The story text for the model, trimmed to the checkpoint's window."""
        # /v1/tokenize takes at most 256 texts; turns older than that would not fit anyway.
        recent = list(turns[-(MAX_TOKENIZE_TEXTS - 1) :])
        pieces = [opening, *recent]
        try:
            counted = await self.model.tokenize(pieces, settings.checkpoint)
            window, counts = counted.context_window, counted.counts
            if len(counts) != len(pieces):
                raise ModelError("The model server counted the wrong number of texts.")
        except ModelError:
            window = FALLBACK_WINDOW
            counts = [math.ceil(len(p) / FALLBACK_CHARS_PER_TOKEN) for p in pieces]
        total_chars = sum(len(p) for p in pieces) or 1
        # Tokens per character from the exact counts; cut pieces and joins are estimated with
        # it (with 10% to spare) and the result is checked exactly below.
        ratio = max(sum(counts) / total_chars, 1 / 8) * 1.1
        exact = dict(zip(pieces, counts, strict=True))

        def count(text: str) -> int:
            return exact.get(text) or math.ceil(len(text) * ratio) + 1

        limit = max(window - settings.max_new_tokens - PROMPT_OVERHEAD_TOKENS, 0)
        budget = limit
        for _ in range(3):
            context = build_context(opening, recent, budget, count)
            if not context:
                return context
            try:
                actual = (await self.model.tokenize([context], settings.checkpoint)).counts[0]
            except (ModelError, IndexError):
                return context
            if actual <= limit:
                return context
            # Shrink in proportion: joins may cost more than the pieces suggested.
            budget = max(int(budget * limit / actual) - 8, 0)
        return build_context("", recent[-1:], budget, count)

    def _request(
        self,
        settings: EffectiveSettings,
        task: Task,
        *,
        genre: Genre | None = None,
        emotion: Emotion | None = None,
        context: str = "",
        prefix: str = "",
        n: int = 1,
        background: str = "",
        note: str = "",
    ) -> GenerateRequest:
        max_new_tokens = settings.max_new_tokens
        if task is Task.PROMPT:
            max_new_tokens = min(max_new_tokens, self.defaults.prompt_max_new_tokens)
        return GenerateRequest(
            task=task,
            genre=genre,
            emotion=emotion,
            context=context,
            prefix=prefix,
            background=background,
            note=note,
            complete_sentences=task is not Task.JOKE,
            n=n,
            checkpoint=settings.checkpoint,
            max_new_tokens=max_new_tokens,
            temperature=settings.temperature,
            repetition_penalty=self.defaults.repetition_penalty,
        )

    async def _story_turns(self, story: Story) -> list[Turn]:
        return await self.store.turns(story.id)

    async def _continuation_context(
        self, turns: Sequence[Turn], settings: EffectiveSettings
    ) -> ModelContext:
        if not turns:
            return ModelContext("")
        story = await self._fit_context(turns[0].text, [t.text for t in turns[1:]], settings)
        return ModelContext(story)

    async def _continuation_request(
        self,
        settings: EffectiveSettings,
        story: Story,
        turns: Sequence[Turn],
        genre: Genre | None,
        n: int = 1,
    ) -> GenerateRequest:
        """Continue the story's turns (or, with none, answer its prompt)."""
        fitted = await self._continuation_context(turns, settings)
        return self._request(
            settings,
            Task.CONTINUE if fitted.story else Task.STORY,
            genre=genre,
            context=fitted.story or story.prompt,
            n=n,
            background=fitted.background,
            note=fitted.note,
        )

    # --- commands ----------------------------------------------------------------------------

    async def prompts(
        self,
        key: StoryKey,
        author: Author,
        topic: str | None = None,
        count: int = 1,
    ) -> list[SavedPrompt]:
        """Invent `count` writing prompts (the topic starts each one, like a prefix)."""
        topic = self.limits.check_topic(topic)
        count = self.limits.check_count(count)
        settings = await self.settings_for(key)
        request = self._request(settings, Task.PROMPT, prefix=topic or "", n=count)
        for _ in range(EMPTY_ANSWER_TRIES):
            response = await self.model.generate(request)
            texts = [" ".join(c.text.split()) for c in response.candidates]
            texts = [t for t in texts if t]
            if texts:
                break
        else:
            raise ModelError(NOTHING_WRITTEN)
        return await self.store.save_prompts(
            key.guild_id, key.channel_id, texts, response.checkpoint
        )

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
        async with self.lock(key):
            story = await self.store.active_story(key.guild_id, key.channel_id)
            if prompt is None and story is not None:
                return await self._continue_locked(key, story, author, checked_genre, on_text)
            return await self._start_locked(key, author, checked_genre, prompt, on_text)

    async def write_prompt(
        self, key: StoryKey, author: Author, prompt_id: int, on_text: OnText | None = None
    ) -> Passage:
        """The "Write this" button of a /prompt answer: start a story from that prompt."""
        saved = await self.store.prompt(prompt_id)
        if saved is None:
            raise StoryError("That prompt is no longer known. Ask for new ones with /prompt.")
        async with self.lock(key):
            story = await self.store.active_story(key.guild_id, key.channel_id)
            genre = coerce_genre(story.genre) if story is not None else None
            return await self._start_locked(key, author, genre, saved.text, on_text)

    async def _start_locked(
        self,
        key: StoryKey,
        author: Author,
        genre: Genre | None,
        prompt: str | None,
        on_text: OnText | None,
    ) -> Passage:
        settings = await self.settings_for(key)
        request = self._request(settings, Task.STORY, genre=genre, context=prompt or "")
        response, text = await self._generate(request, on_text)
        story = await self.store.start_story(
            key.guild_id,
            key.channel_id,
            title=short_title(prompt or text),
            prompt=prompt or "",
            genre=genre.value if genre else None,
            created_by=author.id,
        )
        return await self._add_model_turn(
            story, author, Task.STORY, genre, None, response, text, prompt=prompt
        )

    async def continue_story(
        self,
        key: StoryKey,
        author: Author,
        genre: Genre | str | None = None,
        on_text: OnText | None = None,
    ) -> Passage:
        """Continue where the story stopped, in its last genre unless one is given."""
        checked_genre = coerce_genre(genre)
        async with self.lock(key):
            story = await self.store.active_story(key.guild_id, key.channel_id)
            if story is None:
                raise StoryError(NO_STORY)
            return await self._continue_locked(key, story, author, checked_genre, on_text)

    async def _continue_locked(
        self,
        key: StoryKey,
        story: Story,
        author: Author,
        genre: Genre | None,
        on_text: OnText | None,
        *,
        replaces: Turn | None = None,
    ) -> Passage:
        if genre is None:
            genre = coerce_genre(story.genre)
        settings = await self.settings_for(key)
        turns = await self._story_turns(story)
        if replaces is not None:
            turns = [t for t in turns if t.position < replaces.position]
        request = await self._continuation_request(settings, story, turns, genre)
        task = request.task
        response, text = await self._generate(request, on_text)
        if genre is not None and genre.value != story.genre:
            await self.store.set_story_genre(story.id, genre.value)
        return await self._add_model_turn(
            story, author, task, genre, None, response, text, replaces=replaces
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
        async with self.lock(key):
            settings = await self.settings_for(key)
            request = self._request(settings, Task.POEM, emotion=checked, context=title or "")
            response, text = await self._generate(request, on_text)
            story = await self.store.active_story(key.guild_id, key.channel_id)
            if story is None:
                story = await self.store.start_story(
                    key.guild_id,
                    key.channel_id,
                    title=title or short_title(text),
                    created_by=author.id,
                )
            return await self._add_model_turn(
                story, author, Task.POEM, None, checked, response, text, prompt=title
            )

    async def write(self, key: StoryKey, author: Author, text: str) -> Turn:
        """A person's own passage, added to the story (or opening a new one)."""
        text = self.limits.check_write(text)
        async with self.lock(key):
            story = await self.store.active_story(key.guild_id, key.channel_id)
            if story is None:
                story = await self.store.start_story(
                    key.guild_id, key.channel_id, title=short_title(text), created_by=author.id
                )
            return await self.store.add_turn(
                story.id,
                kind="human",
                task=WRITE_TASK,
                author_id=author.id,
                author_name=author.name,
                text=text,
            )

    async def _add_model_turn(
        self,
        story: Story,
        author: Author,
        task: Task,
        genre: Genre | None,
        emotion: Emotion | None,
        response: GenerateResponse,
        text: str,
        *,
        prompt: str | None = None,
        replaces: Turn | None = None,
    ) -> Passage:
        turn = await self.store.add_turn(
            story.id,
            kind="model",
            task=task.value,
            author_id=author.id,
            author_name=author.name,
            text=text,
            genre=genre.value if genre else None,
            emotion=emotion.value if emotion else None,
            prompt=prompt,
            checkpoint=response.checkpoint,
            replaces=replaces.id if replaces else None,
        )
        fresh = await self.store.story(story.id)
        candidate = response.candidates[0]
        return Passage(
            story=fresh or story,
            turn=turn,
            finish_reason=candidate.finish_reason,
            copied_from_training=candidate.copied_from_training,
        )

    async def _turn_in_channel(self, key: StoryKey, turn_id: int) -> tuple[Story, Turn]:
        turn = await self.store.turn(turn_id)
        story = await self.store.story(turn.story_id) if turn else None
        if (
            turn is None
            or story is None
            or (story.guild_id, story.channel_id) != (key.guild_id, key.channel_id)
        ):
            raise StoryError("That passage is not part of this channel's story.")
        if story.ended_at is not None:
            raise StoryError("That story was reset; its passages can't be changed any more.")
        return story, turn

    async def regenerate(
        self, key: StoryKey, author: Author, turn_id: int, on_text: OnText | None = None
    ) -> Passage:
        """Write a model passage again; the old one stays in history, no longer shown."""
        async with self.lock(key):
            story, turn = await self._turn_in_channel(key, turn_id)
            if turn.kind != "model":
                raise StoryError("Only the model's passages can be regenerated.")
            if not turn.shown:
                raise StoryError("That passage was already replaced or undone.")
            settings = await self.settings_for(key)
            genre = coerce_genre(turn.genre)
            if turn.task == Task.POEM.value:
                request = self._request(
                    settings,
                    Task.POEM,
                    emotion=coerce_emotion(turn.emotion or Emotion.NEUTRAL),
                    context=turn.prompt or "",
                )
                response, text = await self._generate(request, on_text)
                return await self._add_model_turn(
                    story,
                    author,
                    Task.POEM,
                    None,
                    request.emotion,
                    response,
                    text,
                    prompt=turn.prompt,
                    replaces=turn,
                )
            earlier = [t for t in await self._story_turns(story) if t.position < turn.position]
            if turn.task == Task.STORY.value or not earlier:
                prompt = turn.prompt or story.prompt
                request = self._request(settings, Task.STORY, genre=genre, context=prompt)
                response, text = await self._generate(request, on_text)
                return await self._add_model_turn(
                    story,
                    author,
                    Task.STORY,
                    genre,
                    None,
                    response,
                    text,
                    prompt=prompt or None,
                    replaces=turn,
                )
            return await self._continue_locked(key, story, author, genre, on_text, replaces=turn)

    async def undo(self, key: StoryKey, turn_id: int | None = None) -> Turn:
        """Hide the story's latest passage (or the given one, if it is the latest)."""
        async with self.lock(key):
            story = await self.store.active_story(key.guild_id, key.channel_id)
            if story is None:
                raise StoryError(NO_STORY)
            last = await self.store.last_turn(story.id)
            if last is None:
                raise StoryError("The story has no passages left to undo.")
            if turn_id is not None and turn_id != last.id:
                _, turn = await self._turn_in_channel(key, turn_id)
                if not turn.shown:
                    raise StoryError("That passage was already replaced or undone.")
                raise StoryError(
                    "Only the latest passage can be undone; later passages follow this one."
                )
            await self.store.set_turn_status(last.id, "undone")
            return last

    async def keep(self, key: StoryKey, turn_id: int, kept: bool | None = None) -> Turn:
        """Mark (or, kept=False, unmark; None toggles) a passage for the anthology."""
        async with self.lock(key):
            _, turn = await self._turn_in_channel(key, turn_id)
            new_value = (not turn.kept) if kept is None else kept
            await self.store.set_kept(turn.id, new_value)
            updated = await self.store.turn(turn.id)
            assert updated is not None
            return updated

    async def reset(self, key: StoryKey, story_id: int | None = None) -> Story:
        """End the channel's story (kept in the file); the next command starts a new one."""
        async with self.lock(key):
            story = await self.store.active_story(key.guild_id, key.channel_id)
            if story is None or (story_id is not None and story.id != story_id):
                raise StoryError("There's no story to reset here (it may be reset already).")
            await self.store.end_story(story.id)
            return story

    async def show(self, key: StoryKey) -> Recap:
        story = await self.store.active_story(key.guild_id, key.channel_id)
        if story is None:
            raise StoryError(NO_STORY)
        return Recap(story, await self.store.turns(story.id))

    async def export_markdown(self, key: StoryKey, *, kept_only: bool = False) -> tuple[str, str]:
        """(file name, Markdown text) of the channel's story, or only its kept passages."""
        recap = await self.show(key)
        turns = [t for t in recap.turns if t.kept] if kept_only else recap.turns
        if kept_only and not turns:
            raise StoryError("No passage is kept yet: press Keep under the ones you like.")
        return export_filename(recap.story, kept_only), render_markdown(
            recap.story, turns, kept_only=kept_only
        )

    async def record_messages(self, turn_id: int, message_ids: Sequence[int]) -> None:
        await self.store.add_turn_messages(turn_id, message_ids)

    # --- checkpoints and settings (admin) ----------------------------------------------------

    async def checkpoints(self) -> list[CheckpointInfo]:
        return await self.model.checkpoints()

    async def pin_checkpoint(self, key: StoryKey, scope: Scope, name: str | None) -> ScopeSettings:
        """Pin a checkpoint for the server or the channel (None: back to the server default).
        The checkpoint must be one the server lists as valid; it is loaded if it isn't yet."""
        if name is not None:
            known = {c.name: c for c in await self.model.checkpoints()}
            info = known.get(name)
            if info is None:
                choices = ", ".join(sorted(known)) or "none"
                raise StoryError(f"Unknown checkpoint {name!r}. Known checkpoints: {choices}.")
            if not info.valid:
                raise StoryError(f"Checkpoint {name!r} can't be used: {info.problem}.")
            if not info.loaded:
                await self.model.load_checkpoint(
                    LoadCheckpointRequest(name=name, make_default=False)
                )
        return await self.store.update_settings(
            scope, key.guild_id, key.channel_id, checkpoint=name
        )

    async def update_settings(
        self,
        key: StoryKey,
        scope: Scope,
        *,
        max_new_tokens: int | None = None,
        temperature: float | None = None,
        cooldown_seconds: float | None = None,
    ) -> ScopeSettings:
        """Change the given defaults for the server or channel (None: leave unchanged)."""
        changes: dict[str, object] = {}
        if max_new_tokens is not None:
            if not 1 <= max_new_tokens <= 2000:
                raise StoryError("length must be between 1 and 2000 tokens.")
            changes["max_new_tokens"] = max_new_tokens
        if temperature is not None:
            if not 0.0 <= temperature <= 2.0:
                raise StoryError("temperature must be between 0 and 2.")
            changes["temperature"] = temperature
        if cooldown_seconds is not None:
            if not 0 <= cooldown_seconds <= 3600:
                raise StoryError("cooldown must be between 0 and 3600 seconds.")
            changes["cooldown_seconds"] = cooldown_seconds
        return await self.store.update_settings(scope, key.guild_id, key.channel_id, **changes)


# --- rendering shared by Discord and the terminal ---------------------------------------------


def turn_label(turn: Turn) -> str:
    """Who wrote a passage, and how: "ada" or "Campfire (horror, asked by ada)"."""
    if turn.kind == "human":
        return turn.author_name
    details = [d for d in (turn.genre, turn.emotion) if d]
    if turn.task == Task.POEM.value:
        details.insert(0, "poem")
    details.append(f"asked by {turn.author_name}")
    return f"Campfire ({', '.join(d.replace('_', '-') for d in details)})"


def render_recap(recap: Recap) -> str:
    story = recap.story
    lines = [f"**{story.title or 'Untitled story'}**"]
    if story.prompt:
        lines.append(f"Prompt: {story.prompt}")
    who = ", ".join(f"{name} ({n})" for name, n in recap.authors.items()) or "nobody yet"
    lines.append(f"{len(recap.turns)} passages · written by {who}")
    lines.append(f"Checkpoint: {', '.join(recap.checkpoints) or 'none yet'}")
    for index, turn in enumerate(recap.turns, 1):
        kept = " ★" if turn.kept else ""
        lines.append(f"\n{index}. {turn_label(turn)}{kept}:\n{turn.text}")
    return "\n".join(lines)


def export_filename(story: Story, kept_only: bool = False) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in story.title.lower())[:40].strip("-")
    suffix = "-anthology" if kept_only else ""
    return f"{slug or 'story'}{suffix}.md"


def render_markdown(story: Story, turns: Sequence[Turn], *, kept_only: bool = False) -> str:
    started = datetime.fromisoformat(story.created_at).strftime("%Y-%m-%d")
    lines = [f"# {story.title or 'Untitled story'}", ""]
    kind = "anthology of kept passages" if kept_only else "story"
    checkpoints = sorted({t.checkpoint for t in turns if t.checkpoint})
    lines.append(f"*A Campfire {kind}, started {started}.*")
    if checkpoints:
        lines.append(f"*Model checkpoint: {', '.join(checkpoints)}.*")
    lines.append("")
    if story.prompt:
        lines += [f"> **Prompt:** {story.prompt}", ""]
    for turn in turns:
        lines += [f"**{turn_label(turn)}**", "", turn.text.strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def user_message(error: BaseException) -> str:
    """The message to show for an error a command raised (never a traceback or a secret)."""
    if isinstance(error, ModelClientError):
        return error.user_message
    if isinstance(error, CampfireError):
        return str(error)
    return "Something went wrong on the bot's side; the story is unchanged. Try again."
