"""The exports people download, over a real store: what a reader sees in them."""

from __future__ import annotations

import io
import zipfile

import pytest
from ebooklib import epub

from bot.story import Author, StoryError, StoryKey, StoryService
from bot.story.books import render_recap
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


BO = Author(7, "bo")


async def kept_write(service: StoryService, author: Author, text: str) -> None:
    turn = await service.write(HERE, author, text)
    await service.keep(HERE, turn.id)


async def test_word_goal_progress_counts_the_kept_words(service: StoryService) -> None:
    with pytest.raises(StoryError, match="no story in this channel"):
        await service.books.set_goal(HERE, 50)
    await kept_write(service, ADA, "One two three four.")
    await service.write(HERE, BO, "Not kept at all.")
    progress = await service.books.set_goal(HERE, 50)
    assert progress.describe() == "4 of 50 words (8%)"
    shown = render_recap(await service.books.show(HERE))
    assert "**Word goal:** 4 of 50 words (8%) kept, of 8 written" in shown
    for wrong in (-1, 1_000_001):
        with pytest.raises(StoryError, match="words must be between 1 and 1,000,000"):
            await service.books.set_goal(HERE, wrong)
    assert (await service.books.set_goal(HERE, 0)).goal is None
    assert "**Word goal:** none (set one with /story goal)" in render_recap(
        await service.books.show(HERE)
    )


async def test_chapters_follow_the_story_and_show_in_the_recap(service: StoryService) -> None:
    await kept_write(service, ADA, "Opening words.")
    await service.books.add_chapter(HERE, ADA, "Storm")
    chapter, new = await service.books.add_chapter(HERE, BO, "The storm")
    assert not new and chapter.title == "The storm"  # no passage since: renamed
    await kept_write(service, BO, "Rain fell hard.")
    await service.write(HERE, ADA, "Left out.")
    await service.books.add_chapter(HERE, ADA, "Calm")
    recap = await service.books.show(HERE)
    assert "**Chapters:** Chapter 1 (1 kept passage, 2 words); Chapter 2: The storm (1 kept " in (
        render_recap(recap)
    )
    assert "“Calm” (no kept passage yet)" in render_recap(recap)
    with pytest.raises(StoryError, match="title is 51 characters"):
        await service.books.add_chapter(HERE, ADA, "x" * 51)


async def test_manuscript_markdown_has_a_title_page_chapters_and_word_count(
    service: StoryService,
) -> None:
    passage = await service.respond(HERE, ADA, "horror", "The Keeper")
    await service.keep(HERE, passage.turn.id)
    await service.books.add_chapter(HERE, ADA, "The storm")
    await kept_write(service, BO, "Rain fell hard.")
    await service.write(HERE, BO, "Not in the manuscript.")
    await service.books.add_chapter(HERE, BO)
    await kept_write(service, ADA, "Calm came at dawn.")
    await service.books.set_goal(HERE, 1000)
    name, data = await service.books.export_story(HERE, "manuscript")
    text = data.decode()
    words = len(passage.turn.text.split()) + 3 + 4
    assert name == "the-keeper-manuscript.md"
    assert text.startswith(
        f"# The Keeper\n\n*Written by bo and ada, with Campfire.*\n\n*{words} words*\n\n"
        f"*Word goal: 1,000 ({words * 100 // 1000}% written)*\n\n## Chapter 1\n\n"
    )
    assert "## Chapter 2: The storm\n\nRain fell hard.\n\n## Chapter 3\n\nCalm came" in text
    assert text.endswith(f"*The end: {words} words in 3 chapters.*\n")
    assert "Not in the manuscript." not in text and "*— bo*" not in text


async def test_manuscript_epub_opens_with_its_chapters(service: StoryService) -> None:
    await kept_write(service, ADA, "All in one chapter.")
    await kept_write(service, BO, "Still the same one.")
    name, data = await service.books.export_story(HERE, "manuscript-epub")
    assert name.endswith("-manuscript.epub")
    book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    assert [a for a, _ in book.get_metadata("DC", "creator")] == ["ada", "bo"]
    assert [link.title for link in book.toc] == ["Chapter 1"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        title_page = archive.read("EPUB/title.xhtml").decode()
        chapter = archive.read("EPUB/chapter_001.xhtml").decode()
    assert "<p>8 words</p>" in title_page
    assert "Still the same one." in chapter and "The end: 8 words in 1 chapter." in chapter
    assert "— bo" not in chapter


async def test_manuscript_refusals_say_what_to_do(service: StoryService) -> None:
    await service.write(HERE, ADA, "Nothing kept.")
    with pytest.raises(StoryError, match=r"The manuscript is the kept passages\. No passage is"):
        await service.books.export_story(HERE, "manuscript")
    with pytest.raises(StoryError, match="export it without anthology"):
        await service.books.export_anthology(HERE, "manuscript-epub")
    with pytest.raises(StoryError, match="format must be markdown, epub, manuscript or manus"):
        await service.books.export_story(HERE, "pdf")


async def test_hostile_chapter_titles_stay_plain_text_in_the_manuscript(
    service: StoryService,
) -> None:
    await kept_write(service, ADA, HOSTILE)
    await service.books.add_chapter(HERE, ADA, "<i>[x](https://e.example)</i>")
    await kept_write(service, MALLORY, HOSTILE)
    _, data = await service.books.export_story(HERE, "manuscript")
    assert_inert(data.decode(), headings=3)  # the title and two chapters
    assert "Chapter 2: <i>[x](https://e.example)</i>" in visible_text(data.decode())
    _, data = await service.books.export_story(HERE, "manuscript-epub")
    book = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    assert [link.title for link in book.toc][1] == "Chapter 2: <i>[x](https://e.example)</i>"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        chapter = archive.read("EPUB/chapter_002.xhtml").decode()
    assert "&lt;script&gt;" in chapter and "<script" not in chapter
