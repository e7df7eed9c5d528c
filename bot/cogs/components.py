"""Buttons with persistent custom ids (discord.py DynamicItems): the ids carry what they act on
(a turn, a saved prompt, a story), so they keep working after the bot restarts."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import discord

from bot.cogs.common import (
    author_of,
    guard,
    run_generation,
    services_of,
    start_model_command,
    story_key,
)
from bot.store import SavedPrompt, Turn
from bot.story import Author, OnText, Passage, StoryKey
from bot.text import fit_message

# What a model command asks the story service for, once the story and the author are known.
PassageRequest = Callable[[StoryKey, Author, OnText], Awaitable[Passage]]

BaseButton = discord.ui.Button[discord.ui.View]

PASSAGE_ACTIONS = {
    "regen": ("Regenerate", discord.ButtonStyle.secondary, "🔄"),
    "cont": ("Continue", discord.ButtonStyle.primary, "➡️"),
    "keep": ("Keep", discord.ButtonStyle.success, "⭐"),
    "undo": ("Undo", discord.ButtonStyle.danger, "↩️"),
}


class PassageButton(
    discord.ui.DynamicItem[BaseButton],
    template=r"campfire:(?P<action>regen|cont|keep|undo):(?P<turn>[0-9]{1,20})",
):
    def __init__(self, action: str, turn_id: int, *, kept: bool = False) -> None:
        label, style, emoji = PASSAGE_ACTIONS[action]
        if action == "keep" and kept:
            label, style = "Kept", discord.ButtonStyle.secondary
        super().__init__(
            discord.ui.Button(
                label=label, style=style, emoji=emoji, custom_id=f"campfire:{action}:{turn_id}"
            )
        )
        self.action = action
        self.turn_id = turn_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> PassageButton:
        return cls(match["action"], int(match["turn"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler = {
            "regen": regenerate,
            "cont": continue_from,
            "keep": keep,
            "undo": undo,
        }[self.action]
        await handler(interaction, self.turn_id)


def passage_view(turn: Turn) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    actions = (
        ["regen", "cont", "keep", "undo"] if turn.kind == "model" else ["cont", "keep", "undo"]
    )
    for action in actions:
        view.add_item(PassageButton(action, turn.id, kept=turn.kept))
    return view


def view_for_passage(passage: Passage) -> discord.ui.View:
    return passage_view(passage.turn)


async def regenerate(interaction: discord.Interaction[Any], turn_id: int) -> None:
    if not await start_model_command(interaction, thinking=False):
        return
    services = services_of(interaction)
    key = story_key(interaction)
    message = interaction.message
    old_content = message.content if message else ""
    old_ids = await services.stories.message_ids(turn_id)
    old_turn = await services.stories.turn(turn_id)

    async def restore() -> None:
        view = passage_view(old_turn) if old_turn else None
        await interaction.edit_original_response(content=old_content, view=view)

    passage = await run_generation(
        interaction,
        lambda on_text: services.stories.regenerate(key, author_of(interaction), turn_id, on_text),
        view_for_passage,
        restore=restore,
    )
    if passage is not None:
        # The clicked message now shows the new version; the old version's other parts go.
        await delete_other_parts(interaction, old_ids)


async def delete_other_parts(interaction: discord.Interaction[Any], message_ids: list[int]) -> None:
    """Delete the parts of a long passage other than the clicked message (best effort)."""
    channel = interaction.channel
    clicked = interaction.message.id if interaction.message else None
    if channel is None or not hasattr(channel, "get_partial_message"):
        return
    for message_id in message_ids:
        if message_id != clicked:
            with suppress(discord.HTTPException):
                await channel.get_partial_message(message_id).delete()


async def write_passage(interaction: discord.Interaction[Any], request: PassageRequest) -> None:
    """The path of every command that writes one passage: cooldown and defer, then stream it
    and deliver it with its buttons."""
    if not await start_model_command(interaction):
        return
    key, author = story_key(interaction), author_of(interaction)
    await run_generation(
        interaction, lambda on_text: request(key, author, on_text), view_for_passage
    )


async def continue_from(interaction: discord.Interaction[Any], turn_id: int) -> None:
    stories = services_of(interaction).stories
    await write_passage(
        interaction,
        lambda key, author, on_text: stories.continue_story(key, author, None, on_text),
    )


async def keep(interaction: discord.Interaction[Any], turn_id: int) -> None:
    await interaction.response.defer()
    services = services_of(interaction)

    async def work() -> None:
        turn = await services.stories.keep(story_key(interaction), turn_id)
        await interaction.edit_original_response(view=passage_view(turn))
        note = "Kept for the anthology." if turn.kept else "No longer kept."
        await interaction.followup.send(note, ephemeral=True)

    await guard(interaction, work, placeholder=False)


async def undo(interaction: discord.Interaction[Any], turn_id: int) -> None:
    await interaction.response.defer()
    services = services_of(interaction)

    async def work() -> None:
        turn = await services.stories.undo(story_key(interaction), turn_id)
        await delete_other_parts(interaction, await services.stories.message_ids(turn.id))
        await interaction.edit_original_response(
            content=f"*Undone by {interaction.user.display_name}: this passage is no longer part "
            "of the story.*",
            view=None,
        )
        await services.stories.record_messages(turn.id, [])

    await guard(interaction, work, placeholder=False)


class WritePromptButton(
    discord.ui.DynamicItem[BaseButton],
    template=r"campfire:write-prompt:(?P<prompt>[0-9]{1,20})",
):
    def __init__(self, prompt_id: int, number: int = 0) -> None:
        label = f"Write this #{number}" if number else "Write this"
        super().__init__(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.primary,
                custom_id=f"campfire:write-prompt:{prompt_id}",
            )
        )
        self.prompt_id = prompt_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> WritePromptButton:
        return cls(int(match["prompt"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        stories = services_of(interaction).stories
        await write_passage(
            interaction,
            lambda key, author, on_text: stories.write_prompt(key, author, self.prompt_id, on_text),
        )


def prompts_view(prompts: list[SavedPrompt]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for number, prompt in enumerate(prompts, 1):
        view.add_item(WritePromptButton(prompt.id, number if len(prompts) > 1 else 0))
    return view


class ResetButton(
    discord.ui.DynamicItem[BaseButton],
    template=r"campfire:reset:(?P<answer>yes|no):(?P<story>[0-9]{1,20})",
):
    def __init__(self, answer: str, story_id: int) -> None:
        yes = answer == "yes"
        super().__init__(
            discord.ui.Button(
                label="Yes, reset the story" if yes else "Cancel",
                style=discord.ButtonStyle.danger if yes else discord.ButtonStyle.secondary,
                custom_id=f"campfire:reset:{answer}:{story_id}",
            )
        )
        self.answer = answer
        self.story_id = story_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> ResetButton:
        return cls(match["answer"], int(match["story"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        if self.answer == "no":
            await interaction.response.edit_message(
                content="Reset cancelled; the story goes on.", view=None
            )
            return
        await interaction.response.defer()
        services = services_of(interaction)

        async def work() -> None:
            story = await services.stories.reset(story_key(interaction), self.story_id)
            await interaction.edit_original_response(content="The story was reset.", view=None)
            title = story.title or "Untitled story"
            await interaction.followup.send(
                fit_message(
                    f"{interaction.user.display_name} reset the story “{title}”. The next "
                    "/respond, /write or /poem starts a new one; /story resume brings it back "
                    "(see /story list)."
                ),
            )

        await guard(interaction, work, placeholder=False)


def reset_view(story_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ResetButton("yes", story_id))
    view.add_item(ResetButton("no", story_id))
    return view


DYNAMIC_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (
    PassageButton,
    WritePromptButton,
    ResetButton,
)
