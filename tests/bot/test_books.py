"""The exports people download, over a real store: what a reader sees in them."""

from __future__ import annotations

from bot.story import Author, StoryKey, StoryService
from tests.bot.markdown_view import HOSTILE, assert_inert, visible_text

HERE = StoryKey(guild_id=1, channel_id=10)
ADA = Author(5, "ada")
MALLORY = Author(6, "<b>@here</b> [me](https://evil.example)")


async def test_story_exports_show_hostile_passages_as_plain_text(service: StoryService) -> None:
    await service.respond(HERE, ADA, "horror", "A knock <b>\n# at the door @everyone")
    turn = await service.write(HERE, MALLORY, HOSTILE)
    await service.keep(HERE, turn.id)

    _, story = await service.books.export_story(HERE, "markdown")
    assert_inert(story.decode(), headings=1)
    shown = visible_text(story.decode())
    assert "Prompt: A knock <b>\n# at the door @\u200beveryone" in shown
    assert "<b>@\u200bhere</b> [me](https://evil.example)" in shown

    _, kept = await service.books.export_story(HERE, "markdown", kept_only=True)
    assert_inert(kept.decode(), headings=1)
    _, anthology = await service.books.export_anthology(HERE, "markdown")
    assert_inert(anthology.decode(), headings=3)  # title, kept passages, writing prompts
