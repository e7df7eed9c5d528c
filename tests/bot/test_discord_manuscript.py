"""The manuscript workflow through discord.py itself (simcord runs the real bot in-process):
a word goal, chapters, /story show's progress, and the manuscript export."""

from __future__ import annotations

import io
from pathlib import Path

from ebooklib import epub

from tests.bot.group.test_discord import campfire


async def test_goal_chapters_and_manuscript_export(tmp_path: Path) -> None:
    async with campfire(tmp_path) as world:
        thread = await world.new_thread("The Keeper")
        goal = await world.ann.slash(thread, "story goal", words=50000)
        assert goal.response is not None
        assert goal.response.content == "ann: Word goal set: 0 of 50,000 words (0%) kept so far."
        start = await world.ann.slash(thread, "write", text="Ann writes the start.")
        chapter = await world.ben.slash(thread, "story chapter", title="The storm")
        assert chapter.response is not None
        assert "A new chapter “The storm” starts at the next passage." in chapter.response.content
        await world.ann.send(thread, "Not kept.")
        storm = await world.ben.slash(thread, "write", text="Ben writes the storm.")
        for written in (start, storm):
            assert written.response is not None
            await world.cat.click(written.response, label="Keep")

        shown = await world.ann.slash(thread, "story show")
        assert shown.response is not None
        assert "**Word goal:** 8 of 50,000 words (0%) kept" in shown.response.content
        assert "Chapter 2: The storm (1 kept passage, 4 words)" in shown.response.content

        exported = await world.ann.slash(thread, "story export", format="manuscript-epub")
        assert exported.response is not None
        assert exported.response.content.startswith("Here is the manuscript as EPUB: ")
        (attachment,) = exported.response.attachments
        book = epub.read_epub(io.BytesIO(await attachment.read()), {"ignore_ncx": True})
        assert [link.title for link in book.toc] == ["Chapter 1", "Chapter 2: The storm"]

        markdown = await world.ann.slash(thread, "story export", format="manuscript")
        assert markdown.response is not None
        (md,) = markdown.response.attachments
        assert md.filename == "the-keeper-manuscript.md"
        assert "## Chapter 2: The storm\n\nBen writes the storm." in (await md.read()).decode()

        refused = await world.ann.slash(thread, "story goal", words=0)
        assert refused.response is not None and "Word goal removed" in refused.response.content
