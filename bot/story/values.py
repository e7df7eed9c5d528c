"""The story domain's small values: keys, authors, limits, defaults, results and errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.model_client import ModelClientError
from bot.store import Story, Turn
from bot.story.presets import DEFAULT_PRESET
from core.controls import Emotion, Genre, parse_emotion, parse_genre
from core.errors import CampfireError, UnknownChoiceError

OnText = Callable[[str], Awaitable[None]]

WRITE_TASK = "write"  # a turn a person wrote (turns.task), next to core Task values
MODEL_NAME = "Campfire"
# The most writing prompts one request may ask for (seed 000 generated 10 at a time); within
# the model server's default cap on candidates (CAMPFIRE_MAX_N).
MAX_PROMPT_COUNT = 10
NO_STORY = (
    "There's no story in this channel yet. Start one with /respond (add a prompt if you "
    "like), /write or a /prompt's Write this button."
)


class StoryError(CampfireError):
    """Something the person asked for can't be done; the message says why and what to do."""


class OutputWithheld(StoryError):
    """Every try of the model hit the server's blocklist; the message is the notice."""


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
    prompt_count: int = MAX_PROMPT_COUNT

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
    preset: str = DEFAULT_PRESET


@dataclass(frozen=True)
class EffectiveSettings:
    checkpoint: str | None
    max_new_tokens: int
    temperature: float
    cooldown_seconds: float
    preset: str = DEFAULT_PRESET
    """The sampler preset's name (bot/story/presets.py)."""


@dataclass(frozen=True)
class PutAside:
    """The running story a new one replaced: ended, still listed as story `number`."""

    number: int
    title: str

    def notice(self) -> str:
        title = self.title or "Untitled story"
        return (
            f"This started a new story; “{title}” was put aside: /story resume "
            f"story:{self.number} brings it back."
        )


@dataclass(frozen=True)
class Passage:
    """What the model wrote and where it went in the story."""

    story: Story
    turn: Turn
    finish_reason: str
    copied_from_training: bool = False
    put_aside: PutAside | None = None
    notice: str = ""
    """How the passage was written when not as asked (a fallback), to show with it."""


@dataclass(frozen=True)
class TurnTaken:
    turn: Turn
    bot_due: bool
    """Rounds mode: this turn completed the round, the bot writes next."""


def coerce_genre(value: str | Genre | None) -> Genre | None:
    """A genre stored as text (a story's or a turn's), or one given in play mode."""
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


def user_message(error: BaseException) -> str:
    """The message to show for an error a command raised (never a traceback or a secret)."""
    if isinstance(error, ModelClientError):
        return error.user_message
    if isinstance(error, CampfireError):
        return str(error)
    # Its effect is unknown: say so, and where to look.
    return (
        "Something went wrong on the bot's side (its admin can find it in the bot's log). "
        "Check the story with /story show, then try again."
    )
