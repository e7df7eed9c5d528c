"""The story domain: one story service with explicit collaborators (no Discord here).

values.py   keys, authors, limits, defaults, results and errors
writer.py   asking the model (retries, streaming, moderation of what it writes)
context.py  the one context fitter (memory, lore, note, opening, recent turns)
parts.py    what every collaborator shares: store, model, locks, settings, moderation
service.py  StoryService: the writing commands, and its collaborators:
group.py      threads, turn modes, participants, memory, note, lore
votes.py      candidate votes
books.py      the recap and the exports
admin.py      checkpoints, settings, blocklist
"""

from __future__ import annotations

from bot.story.service import StoryService
from bot.story.values import (
    Author,
    Defaults,
    EffectiveSettings,
    Limits,
    OnText,
    OutputWithheld,
    Passage,
    StoryError,
    StoryKey,
    TurnTaken,
    user_message,
)

__all__ = [
    "Author",
    "Defaults",
    "EffectiveSettings",
    "Limits",
    "OnText",
    "OutputWithheld",
    "Passage",
    "StoryError",
    "StoryKey",
    "StoryService",
    "TurnTaken",
    "user_message",
]
