import io
import zipfile

import ebooklib
import pytest
from ebooklib import epub

from bot.group.export import (
    AnthologyKind,
    AnthologyPiece,
    Book,
    Chapter,
    ExportError,
    ExportFormat,
    Passage,
    anthology_book,
    export_filename,
    render,
    to_epub,
    to_markdown,
)
from tests.bot.markdown_view import HOSTILE, assert_inert, visible_text

BOOK = Book(
    "The Lighthouse <Keeper>",
    [
        Chapter(
            "The storm",
            [
                Passage("The storm came at dusk.\n\nMira lit the lamp.", "Ann"),
                Passage("Something knocked & waited.", None),
            ],
        ),
        Chapter("Morning", [Passage("The sea was calm.", "Ben"), Passage("Gulls.", "Ann")]),
        Chapter("Empty", []),
    ],
    identifier="urn:uuid:test-book",
)


def test_contributors_in_order_of_first_passage_and_the_model_credited() -> None:
    assert BOOK.contributors == ["Ann", "Ben"]
    assert BOOK.byline() == "Written by Ann and Ben, with Campfire."
    solo = Book("t", [Chapter("c", [Passage("x", "Ann")])])
    assert solo.byline() == "Written by Ann."
    three = Book("t", [Chapter("c", [Passage("x", n) for n in ("A", "B", "C")])])
    assert three.byline() == "Written by A, B and C."


def test_markdown_has_title_byline_chapters_and_attribution() -> None:
    text = to_markdown(BOOK)
    assert text.startswith("# The Lighthouse \\<Keeper\\>\n\n*Written by Ann and Ben, with Camp")
    assert "## The storm\n\nThe storm came at dusk.\n\nMira lit the lamp.\n\n*— Ann*" in text
    assert "Something knocked & waited.\n\n## Morning" in text
    assert "## Empty" not in text


def test_epub_opens_with_title_authors_and_chapter_text() -> None:
    data = to_epub(BOOK)
    parsed = epub.read_epub(io.BytesIO(data), {"ignore_ncx": True})
    assert parsed.get_metadata("DC", "title")[0][0] == "The Lighthouse <Keeper>"
    assert [author for author, _ in parsed.get_metadata("DC", "creator")] == ["Ann", "Ben"]
    assert parsed.get_metadata("DC", "identifier")[0][0] == "urn:uuid:test-book"
    documents = {
        item.get_name(): item.get_content().decode("utf-8")
        for item in parsed.get_items_of_type(ebooklib.ITEM_DOCUMENT)
    }
    assert "<h2>The storm</h2>" in documents["chapter_001.xhtml"]
    assert "<p>Mira lit the lamp.</p>" in documents["chapter_001.xhtml"]
    assert "Something knocked &amp; waited." in documents["chapter_001.xhtml"]
    assert "The sea was calm." in documents["chapter_002.xhtml"]
    assert "chapter_003.xhtml" not in documents  # the empty chapter is left out
    assert [link.title for link in parsed.toc] == ["The storm", "Morning"]


def test_epub_is_a_valid_epub_container() -> None:
    with zipfile.ZipFile(io.BytesIO(to_epub(BOOK))) as archive:
        names = archive.namelist()
        assert names[0] == "mimetype"
        assert archive.read("mimetype") == b"application/epub+zip"
        assert archive.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        assert "META-INF/container.xml" in names


def test_nothing_to_export_says_so() -> None:
    empty = Book("t", [Chapter("c", [])])
    with pytest.raises(ExportError, match="nothing to export"):
        to_markdown(empty)
    with pytest.raises(ExportError, match="nothing to export"):
        to_epub(empty)


def test_render_and_filename_per_format() -> None:
    assert render(BOOK, ExportFormat.MARKDOWN).decode().startswith("# The Lighthouse")
    assert render(BOOK, ExportFormat.EPUB)[:2] == b"PK"
    assert export_filename(BOOK.title, ExportFormat.EPUB) == "the-lighthouse-keeper.epub"
    assert export_filename("???", ExportFormat.MARKDOWN) == "story.md"


def test_anthology_groups_poems_passages_and_prompts() -> None:
    book = anthology_book(
        "#campfire anthology",
        [
            AnthologyPiece(AnthologyKind.PROMPT, "[WP] A door in the sea.", "Ann"),
            AnthologyPiece(AnthologyKind.POEM, "Salt and\nsorrow", None, "Tide"),
            AnthologyPiece(AnthologyKind.PASSAGE, "The lamp went out.", None),
            AnthologyPiece(AnthologyKind.POEM, "Untitled lines", "Ben"),
        ],
    )
    titles = [c.title for c in book.chapters]
    assert titles == ["Tide", "Poem 2", "Kept passages", "Writing prompts"]
    assert book.contributors == ["Ben", "Ann"]
    assert "## Tide\n\nSalt and\nsorrow" in to_markdown(book)
    with zipfile.ZipFile(io.BytesIO(to_epub(book))) as archive:
        poem = archive.read("EPUB/chapter_001.xhtml").decode("utf-8")
    assert "<p>Salt and<br/>sorrow</p>" in poem


def test_hostile_passages_titles_and_names_render_as_plain_text_in_markdown() -> None:
    book = Book(
        "<b>Tale</b> [x](https://evil.example) @everyone",
        [
            Chapter("# Storm <i>", [Passage(HOSTILE, "<img src=x> @here"), Passage(HOSTILE)]),
            Chapter("Calm", [Passage("Line one.\n---\nLine two.", "Ben")]),
        ],
    )
    text = to_markdown(book)
    assert_inert(text, headings=3)  # the title and the two chapters, nothing from the passages
    shown = visible_text(text)
    assert "<b>Tale</b> [x](https://evil.example)" in shown and "# Storm <i>" in shown
    assert "— <img src=x> @\u200bhere" in shown
    assert "Line one.\n---\nLine two." in shown


def test_plain_passages_read_unchanged_in_markdown() -> None:
    book = Book("Tide", [Chapter("One", [Passage("It's 5 o'clock & the sea -- calm.", "Ann")])])
    assert "It's 5 o'clock & the sea -- calm." in to_markdown(book)
