"""Typed command options: a genre or an emotion arrives in the handler as `Genre` / `Emotion`.

Discord shows the choices (by label); discord.py does not check that a value is one of them, so
a hand-made request with another value gets the story service's "Unknown genre ..." message."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.story.values import coerce_emotion, coerce_genre
from core.controls import Emotion, Genre


class GenreOption(app_commands.Transformer):
    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.string

    @property
    def choices(self) -> list[app_commands.Choice[int | float | str]]:
        return [app_commands.Choice(name=g.label, value=g.value) for g in Genre]

    async def transform(self, interaction: discord.Interaction[Any], value: Any) -> Genre | None:
        return coerce_genre(str(value))


class EmotionOption(app_commands.Transformer):
    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.string

    @property
    def choices(self) -> list[app_commands.Choice[int | float | str]]:
        return [app_commands.Choice(name=e.label, value=e.value) for e in Emotion]

    async def transform(self, interaction: discord.Interaction[Any], value: Any) -> Emotion:
        return coerce_emotion(str(value))


GenreChoice = app_commands.Transform[Genre, GenreOption]
EmotionChoice = app_commands.Transform[Emotion, EmotionOption]
