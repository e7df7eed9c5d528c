"""Play mode's manuscript workflow and anthology export: the same books code as Discord."""

from __future__ import annotations

import io
from pathlib import Path

from ebooklib import epub

from bot.play import PlaySession
from tests.bot.screen import Screen


async def test_goal_chapters_and_the_manuscript_from_the_terminal(
    session: PlaySession, screen: Screen, tmp_path: Path
) -> None:
    await session.handle("/story goal words:100")
    assert "There's no story here yet" in screen.text
    await session.handle("/write The lamp went dark.")
    await session.handle("/keep")
    await session.handle("/story goal words:100")
    assert "Word goal set: 4 of 100 words (4%) kept so far." in screen.text
    await session.handle("/story goal words:lots")
    assert "words must be a whole number, not 'lots'" in screen.text
    await session.handle('/story chapter title:"The storm"')
    assert "A new chapter “The storm” starts at the next passage." in screen.text
    await session.handle("/write Rain fell hard.")
    await session.handle("/keep")
    await session.handle("/story show")
    assert "Chapter 2: The storm (1 kept passage, 3 words)" in screen.text

    await session.handle("/story export format:manuscript")
    text = (tmp_path / "the-lamp-went-dark-manuscript.md").read_text()
    assert "*7 words*" in text and "## Chapter 2: The storm\n\nRain fell hard." in text
    await session.handle("/story export format:manuscript-epub book.epub")
    book = epub.read_epub(io.BytesIO((tmp_path / "book.epub").read_bytes()), {"ignore_ncx": True})
    assert [link.title for link in book.toc] == ["Chapter 1", "Chapter 2: The storm"]
    await session.handle("/help")
    assert "/story goal words:N" in screen.text and "/story chapter [title]" in screen.text


async def test_the_anthology_exports_from_the_terminal(
    session: PlaySession, screen: Screen, tmp_path: Path
) -> None:
    await session.handle("/poem emotion:joy Gulls")
    await session.handle("/keep")
    await session.handle("/write Not kept.")
    await session.handle("/story export anthology:yes format:epub")
    book = epub.read_epub(io.BytesIO((tmp_path / "anthology.epub").read_bytes()), {})
    assert book.get_metadata("DC", "title")[0][0] == "Campfire anthology"
    await session.handle("/story export anthology:yes")
    assert "## Gulls" in (tmp_path / "anthology.md").read_text()
    await session.handle("/story export anthology:yes format:manuscript")
    assert "export it without anthology" in screen.text
