"""What Campfire can be asked for: tasks, genres and emotions, and their control tokens.

These enums are the one source of the slash-command choices, the server's accepted values and
the control tokens a fine-tuned checkpoint is trained with. Add a member here and every side
picks it up.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TypeVar

from core.errors import UnknownChoiceError

START_MARKER = "<|startoftext|>"
# GPT-2 and SmolLM2 both already know this string as one special token.
END_MARKER = "<|endoftext|>"


class Task(StrEnum):
    """What the model is asked to write."""

    PROMPT = "prompt"
    STORY = "story"
    POEM = "poem"
    CONTINUE = "continue"
    JOKE = "joke"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def token(self) -> str:
        return f"<|task:{self.value}|>"

    @property
    def takes_genre(self) -> bool:
        return self in (Task.STORY, Task.CONTINUE)

    @property
    def takes_emotion(self) -> bool:
        return self is Task.POEM


class Genre(StrEnum):
    """Story genres, after the six genres of seed 002's movie-plot generator."""

    SUPERHERO = "superhero"
    SCI_FI = "sci_fi"
    ACTION = "action"
    DRAMA = "drama"
    HORROR = "horror"
    THRILLER = "thriller"

    @property
    def label(self) -> str:
        return "Sci-fi" if self is Genre.SCI_FI else self.value.capitalize()

    @property
    def token(self) -> str:
        return f"<|genre:{self.value}|>"


class Emotion(StrEnum):
    """Poem emotions: the eight NRC EmoLex emotions plus neutral (seed 004)."""

    ANGER = "anger"
    ANTICIPATION = "anticipation"
    DISGUST = "disgust"
    FEAR = "fear"
    JOY = "joy"
    SADNESS = "sadness"
    SURPRISE = "surprise"
    TRUST = "trust"
    NEUTRAL = "neutral"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def token(self) -> str:
        return f"<|emotion:{self.value}|>"


Control = Genre | Emotion
_E = TypeVar("_E", bound=StrEnum)


def control_tokens() -> list[str]:
    """Every special token a control-token checkpoint needs, in a stable order."""
    tokens = [START_MARKER, END_MARKER]
    tokens += [task.token for task in Task]
    tokens += [genre.token for genre in Genre]
    tokens += [emotion.token for emotion in Emotion]
    return tokens


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _parse(kind: str, enum: type[_E], name: str) -> _E:
    key = _normalise(name)
    for member in enum:
        if key in (member.value, member.value.replace("_", "")):
            return member
    choices = ", ".join(member.value for member in enum)
    raise UnknownChoiceError(f"unknown {kind} {name!r}; choose one of: {choices}")


def parse_task(name: str) -> Task:
    return _parse("task", Task, name)


def parse_genre(name: str) -> Genre:
    """Accepts 'sci_fi', 'sci-fi', 'Sci Fi' and 'scifi' alike."""
    return _parse("genre", Genre, name)


def parse_emotion(name: str) -> Emotion:
    return _parse("emotion", Emotion, name)


def check_control(task: Task, control: Control | None) -> None:
    """Refuse a control that makes no sense for the task (a genre on a poem, say)."""
    if control is None:
        return
    if isinstance(control, Genre) and not task.takes_genre:
        raise UnknownChoiceError(
            f"a genre applies to the story and continue tasks, not {task.value!r}; drop the genre"
        )
    if isinstance(control, Emotion) and not task.takes_emotion:
        raise UnknownChoiceError(
            f"an emotion applies to the poem task, not {task.value!r}; drop the emotion"
        )
