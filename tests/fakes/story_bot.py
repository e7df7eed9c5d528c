"""A small discord.py bot that exercises the fake Discord (deliberately not Campfire's bot).

It uses what Campfire's bot will: slash commands with choices, ranges, sub-commands and Manage
Server defaults; defer + streamed edits + a followup with a file and a view; buttons that update
their message; threads; autocomplete; a modal; allowed mentions; typing.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands


class TellView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Again", custom_id="tell:again", style=discord.ButtonStyle.primary)
    async def again(
        self, interaction: discord.Interaction, button: discord.ui.Button[TellView]
    ) -> None:
        await interaction.response.edit_message(content="Told again.", view=None)

    @discord.ui.button(label="Thread", custom_id="tell:thread", style=discord.ButtonStyle.secondary)
    async def thread(
        self, interaction: discord.Interaction, button: discord.ui.Button[TellView]
    ) -> None:
        await interaction.response.defer()
        assert interaction.message is not None
        thread = await interaction.message.create_thread(name="Story thread")
        await thread.send("Inside the thread.")


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
        label="Your feedback", custom_id="feedback:text", max_length=200
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Thanks: {self.text.value}")


class StoryBot(commands.Bot):
    COMMANDS = (
        "tell",
        "thread",
        "admin",
        "echo",
        "slow",
        "inspect",
        "pick",
        "feedback",
        "draft",
        "say",
    )

    def __init__(self, *, intents: discord.Intents | None = None) -> None:
        if intents is None:
            intents = discord.Intents.default()
            intents.message_content = True
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.05)
        self.seen: list[discord.Message] = []
        self.errors: list[BaseException] = []
        self.ready_count = 0
        self.resumed_count = 0
        self.threads_seen: list[discord.Thread] = []
        self.reactions: list[tuple[int, str, int]] = []
        self._register()

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py waits 5 s before a non-initial IDENTIFY; the tests do not need to."""

    async def on_ready(self) -> None:
        self.ready_count += 1

    async def on_resumed(self) -> None:
        self.resumed_count += 1

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.threads_seen.append(thread)

    async def on_raw_reaction_add(self, event: discord.RawReactionActionEvent) -> None:
        self.reactions.append((event.message_id, str(event.emoji), event.user_id))

    def _register(self) -> None:
        tree = self.tree

        @tree.error
        async def on_error(
            interaction: discord.Interaction, error: app_commands.AppCommandError
        ) -> None:
            self.errors.append(error)
            if (
                isinstance(error, app_commands.MissingPermissions)
                and not interaction.response.is_done()
            ):
                await interaction.response.send_message("You need Manage Server.", ephemeral=True)

        @tree.command(name="tell", description="Tell a story in parts")
        @app_commands.describe(genre="What kind of story", parts="How many parts")
        async def tell(
            interaction: discord.Interaction,
            genre: Literal["horror", "comedy"],
            parts: app_commands.Range[int, 1, 5] = 3,
        ) -> None:
            await interaction.response.defer(thinking=True)
            text = f"A {genre} story."
            for number in range(1, parts + 1):
                text += f" Part {number}."
                await interaction.edit_original_response(content=text)
            story = discord.File(io.BytesIO(text.encode()), filename="story.txt")
            await interaction.followup.send("The end.", file=story, view=TellView())

        @tree.command(name="thread", description="Start a story thread")
        async def thread(
            interaction: discord.Interaction, name: str, from_message: bool = True
        ) -> None:
            channel = interaction.channel
            assert isinstance(channel, discord.TextChannel)
            if from_message:
                await interaction.response.send_message(f"Starting {name}")
                message = await interaction.original_response()
                created = await message.create_thread(name=name)
            else:
                await interaction.response.defer(ephemeral=True)
                created = await channel.create_thread(
                    name=name, type=discord.ChannelType.public_thread
                )
                await interaction.followup.send(f"Started {created.mention}", ephemeral=True)
            await created.send("First post.")

        admin = app_commands.Group(
            name="admin",
            description="Server managers only",
            default_permissions=discord.Permissions(manage_guild=True),
        )

        @admin.command(name="reset", description="Reset the channel's story")
        @app_commands.checks.has_permissions(manage_guild=True)
        async def reset(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Story reset.", ephemeral=True)

        tree.add_command(admin)

        @tree.command(name="echo", description="Repeat text")
        async def echo(interaction: discord.Interaction, text: str, pings: bool = False) -> None:
            allowed = discord.AllowedMentions.all() if pings else discord.AllowedMentions.none()
            await interaction.response.send_message(text, allowed_mentions=allowed)

        @tree.command(name="slow", description="Answer after a delay")
        async def slow(interaction: discord.Interaction, delay: float) -> None:
            await asyncio.sleep(delay)
            try:
                await interaction.response.send_message("Late.")
            except discord.HTTPException as error:
                self.errors.append(error)

        @tree.command(name="inspect", description="Look at a member and a file")
        async def inspect(
            interaction: discord.Interaction, who: discord.Member, upload: discord.Attachment
        ) -> None:
            data = await upload.read()
            await interaction.response.send_message(
                f"{who.name} sent {upload.filename}: {data.decode()}"
            )

        @tree.command(name="pick", description="Pick a fruit")
        async def pick(interaction: discord.Interaction, fruit: str) -> None:
            await interaction.response.send_message(f"Picked {fruit}")

        @pick.autocomplete("fruit")
        async def pick_fruit(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            fruits = ["apple", "apricot", "banana"]
            return [app_commands.Choice(name=f, value=f) for f in fruits if f.startswith(current)]

        @tree.command(name="feedback", description="Tell us what you think")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(FeedbackModal())

        @tree.command(name="draft", description="Reply, revise a followup, then clean up")
        async def draft(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("Drafting...")
            note = await interaction.followup.send("A note.", wait=True)
            await note.edit(content="A revised note.")
            fetched = await interaction.followup.fetch_message(note.id)
            await fetched.delete()
            await interaction.delete_original_response()

        @tree.command(name="say", description="Post in the channel while typing")
        async def say(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.defer(ephemeral=True)
            channel = interaction.channel
            assert isinstance(channel, discord.TextChannel | discord.Thread)
            async with channel.typing():
                posted = await channel.send(text)
            await interaction.followup.send(f"Posted {posted.id}", ephemeral=True)


@contextlib.asynccontextmanager
async def running(
    bot: commands.Bot, token: str, *, ready_within: float = 10.0
) -> AsyncIterator[commands.Bot]:
    """Log the bot in, connect it, wait for on_ready; close it afterwards."""
    await bot.login(token)
    connection = asyncio.create_task(bot.connect(reconnect=True))
    ready = asyncio.create_task(bot.wait_until_ready())
    try:
        done, _ = await asyncio.wait(
            {connection, ready}, timeout=ready_within, return_when=asyncio.FIRST_COMPLETED
        )
        if connection in done:
            connection.result()  # raises what made the bot give up
            raise RuntimeError("the bot disconnected before it was ready")
        if ready not in done:
            raise TimeoutError(f"the bot was not ready within {ready_within}s")
        yield bot
    finally:
        ready.cancel()
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError, discord.DiscordException, OSError):
            await connection
