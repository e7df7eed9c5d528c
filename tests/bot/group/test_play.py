"""Play mode's group commands: memory, note, lore, the richer show, EPUB export."""

from __future__ import annotations

import io
from pathlib import Path

from ebooklib import epub

from bot.play import PlaySession
from tests.bot.fake_model import FakeModel
from tests.bot.screen import Screen


async def test_memory_note_and_lore_reach_the_model(
    session: PlaySession, screen: Screen, model: FakeModel
) -> None:
    await session.handle("/write The storm came at dusk.")
    await session.handle("/story memory Mira keeps the lighthouse.")
    await session.handle("/story note Keep it eerie.")
    await session.handle('/lore add name:Lamp keywords:"lamp, light" The lamp never dies.')
    await session.handle("/lore add name:Boat keywords:boat The boat is cracked.")
    await session.handle("/write The lamp flickered.")
    await session.handle("/continue")
    request = model.requests[-1]
    assert request.context == "The storm came at dusk.\n\nThe lamp flickered."
    assert request.background == "Mira keeps the lighthouse.\n\n[Lamp: The lamp never dies.]"
    assert request.note == "Keep it eerie."
    assert "Lore entry Lamp added." in screen.text
    await session.handle("/lore list")
    assert "Boat (boat): The boat is cracked." in screen.text
    await session.handle("/lore remove name:Boat")
    await session.handle("/story memory")
    assert "Memory: Mira keeps the lighthouse." in screen.text
    await session.handle("/story note clear")
    assert "Author's note cleared." in screen.text
    await session.handle("/story show")
    assert "\nLore: Lamp (lamp, light)" in screen.text


async def test_refusals_are_printed_not_raised(session: PlaySession, screen: Screen) -> None:
    await session.handle("/lore add name:Lamp keywords:lamp text")
    assert "There's no story here yet" in screen.text
    await session.handle("/write Start.")
    await session.handle("/lore add name:Lamp keywords:, ;")
    assert "at least one keyword" in screen.text
    await session.handle("/lore dance")
    assert "Use /lore add, /lore remove or /lore list." in screen.text
    await session.handle("/story export format:pdf")
    assert "format must be markdown, epub, manuscript or manuscript-epub" in screen.text


async def test_epub_export_writes_a_book_that_opens(
    session: PlaySession, screen: Screen, tmp_path: Path
) -> None:
    await session.handle("/write Ada begins the tale.")
    await session.handle("/continue")
    await session.handle("/story export format:epub tale.epub")
    assert f"Wrote {tmp_path / 'tale.epub'}" in screen.text
    book = epub.read_epub(io.BytesIO((tmp_path / "tale.epub").read_bytes()), {"ignore_ncx": True})
    assert [a for a, _ in book.get_metadata("DC", "creator")] == ["ada"]
    await session.handle("/help")
    assert "/lore add" in screen.text
