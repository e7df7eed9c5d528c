"""Export a story or a channel's anthology as Markdown or EPUB.

A `Book` has a title, chapters, and passages with their authors' display names; the model's own
passages have no author and are credited to the model once, on the title page. Contributors are
the people who wrote passages, in the order they first appear. The EPUB (EPUB 3 with an EPUB 2
table of contents, through ebooklib) carries the title and one dc:creator per contributor, a
title page, and one XHTML document per chapter.
"""

from __future__ import annotations

import html
import io
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from core.errors import CampfireError

MODEL_CREDIT = "Campfire"


class ExportError(CampfireError):
    """A story that can't be exported as asked."""


class ExportFormat(StrEnum):
    MARKDOWN = "markdown"
    EPUB = "epub"

    @property
    def extension(self) -> str:
        return "md" if self is ExportFormat.MARKDOWN else "epub"


@dataclass(frozen=True)
class Passage:
    text: str
    author: str | None = None
    """Display name of the person who wrote it; None for the model."""


@dataclass(frozen=True)
class Chapter:
    title: str
    passages: Sequence[Passage]


@dataclass(frozen=True)
class Book:
    title: str
    chapters: Sequence[Chapter]
    language: str = "en"
    identifier: str = field(default_factory=lambda: f"urn:uuid:{uuid.uuid4()}")
    model_credit: str = MODEL_CREDIT

    @property
    def contributors(self) -> list[str]:
        names: list[str] = []
        for chapter in self.chapters:
            for passage in chapter.passages:
                if passage.author and passage.author not in names:
                    names.append(passage.author)
        return names

    @property
    def has_model_passages(self) -> bool:
        return any(p.author is None for c in self.chapters for p in c.passages)

    def byline(self) -> str:
        names = self.contributors
        if not names:
            return f"Written by {self.model_credit}."
        people = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        with_model = f", with {self.model_credit}" if self.has_model_passages else ""
        return f"Written by {people}{with_model}."


def _check(book: Book) -> None:
    if not any(chapter.passages for chapter in book.chapters):
        raise ExportError("there is nothing to export yet: the story has no passages")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def to_markdown(book: Book) -> str:
    _check(book)
    lines = [f"# {_one_line(book.title)}", "", f"*{book.byline()}*", ""]
    for chapter in book.chapters:
        if not chapter.passages:
            continue
        lines += [f"## {_one_line(chapter.title)}", ""]
        for passage in chapter.passages:
            lines += [passage.text.strip(), ""]
            if passage.author:
                lines += [f"*— {_one_line(passage.author)}*", ""]
    return "\n".join(lines).rstrip() + "\n"


def _paragraphs(text: str) -> str:
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]
    return "\n".join("<p>" + html.escape(block).replace("\n", "<br/>") + "</p>" for block in blocks)


def to_epub(book: Book) -> bytes:
    from ebooklib import epub

    _check(book)
    title = _one_line(book.title)
    document = epub.EpubBook()
    document.set_identifier(book.identifier)
    document.set_title(title)
    document.set_language(book.language)
    for name in book.contributors:
        document.add_author(_one_line(name))
    if not book.contributors:
        document.add_author(book.model_credit)

    style = epub.EpubItem(
        uid="style",
        file_name="style/book.css",
        media_type="text/css",
        content=b"p.by { font-style: italic; text-align: right; }",
    )
    document.add_item(style)

    title_page = epub.EpubHtml(title=title, file_name="title.xhtml", lang=book.language)
    title_page.content = f"<h1>{html.escape(title)}</h1><p>{html.escape(book.byline())}</p>"
    title_page.add_item(style)
    document.add_item(title_page)

    chapters = []
    for number, chapter in enumerate(c for c in book.chapters if c.passages):
        item = epub.EpubHtml(
            title=_one_line(chapter.title),
            file_name=f"chapter_{number + 1:03d}.xhtml",
            lang=book.language,
        )
        body = [f"<h2>{html.escape(_one_line(chapter.title))}</h2>"]
        for passage in chapter.passages:
            body.append(_paragraphs(passage.text))
            if passage.author:
                body.append(f'<p class="by">— {html.escape(_one_line(passage.author))}</p>')
        item.content = "\n".join(body)
        item.add_item(style)
        document.add_item(item)
        chapters.append(item)

    document.toc = chapters
    document.add_item(epub.EpubNcx())
    document.add_item(epub.EpubNav())
    document.spine = ["nav", title_page, *chapters]
    buffer = io.BytesIO()
    epub.write_epub(buffer, document, {"raise_exceptions": True})
    return buffer.getvalue()


def export_filename(title: str, fmt: ExportFormat) -> str:
    """A safe file name for the attachment: the title's words, lower-case, dash-joined."""
    slug = re.sub(r"[^\w]+", "-", title.casefold()).strip("-_")[:60].strip("-_")
    return f"{slug or 'story'}.{fmt.extension}"


def render(book: Book, fmt: ExportFormat) -> bytes:
    if fmt is ExportFormat.MARKDOWN:
        return to_markdown(book).encode("utf-8")
    return to_epub(book)


class AnthologyKind(StrEnum):
    PASSAGE = "passage"
    POEM = "poem"
    PROMPT = "prompt"


@dataclass(frozen=True)
class AnthologyPiece:
    kind: AnthologyKind
    text: str
    author: str | None = None
    title: str = ""


def anthology_book(title: str, pieces: Sequence[AnthologyPiece]) -> Book:
    """A channel's kept pieces as a book: one chapter per poem, then passages, then prompts."""
    chapters: list[Chapter] = []
    poems = [p for p in pieces if p.kind is AnthologyKind.POEM]
    for number, poem in enumerate(poems, start=1):
        chapters.append(Chapter(poem.title or f"Poem {number}", [Passage(poem.text, poem.author)]))
    passages = [Passage(p.text, p.author) for p in pieces if p.kind is AnthologyKind.PASSAGE]
    if passages:
        chapters.append(Chapter("Kept passages", passages))
    prompts = [Passage(p.text, p.author) for p in pieces if p.kind is AnthologyKind.PROMPT]
    if prompts:
        chapters.append(Chapter("Writing prompts", prompts))
    return Book(title, chapters)
