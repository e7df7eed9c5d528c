"""Export a story or a channel's anthology as Markdown or EPUB.

A `Book` has a title, chapters, and passages with their authors' display names; the model's own
passages have no author and are credited to the model once, on the title page. Contributors are
the people who wrote passages, in the order they first appear (or the book's own author list).
The EPUB (EPUB 3 with an EPUB 2 table of contents, through ebooklib) carries the title and one
dc:creator per contributor, a title page, and one XHTML document per chapter.

Everything people or the model wrote is escaped on the way out: HTML in the EPUB, and in the
Markdown whatever a renderer would make active (HTML tags, links and images, headings and fences
at line starts, Discord's @everyone/@here), so a passage reads as the text it is.
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
from core.prompt_format import and_list

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
    authors: Sequence[str] | None = None
    """The book's authors, when not simply the people who wrote its passages (a manuscript)."""
    title_notes: Sequence[str] = ()
    """More lines for the title page, under the byline (a manuscript's word count)."""
    closing: str = ""
    """A last line after the chapters."""
    credit_passages: bool = True
    """Sign each passage with its writer's name (a manuscript reads as one text: no)."""

    @property
    def contributors(self) -> list[str]:
        if self.authors is not None:
            return list(self.authors)
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
        people = and_list(names)
        with_model = f", with {self.model_credit}" if self.has_model_passages else ""
        return f"Written by {people}{with_model}."


def _check(book: Book) -> None:
    if not any(chapter.passages for chapter in book.chapters):
        raise ExportError("there is nothing to export yet: the story has no passages")


def _one_line(text: str) -> str:
    return " ".join(text.split())


# Inside a line: tags and autolinks (< >), links and images ([ ]), and the backslash itself, so
# a backslash in the text can't undo an escape.
_INLINE_MARKUP = re.compile(r"[\\<>\[\]]")
_ENTITY = re.compile(r"&(?=#?\w+;)")
# Discord pings these wherever they appear (discord.utils.escape_mentions breaks them the same way).
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)
# At a line start: ATX headings, code fences, and the = or - lines that turn the line above
# into a heading (or draw a rule).
_BLOCK_START = re.compile(r"^( {0,3})(#|```|~~~|[=-][=\- ]*$)", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """Text people or the model wrote, made inert for a Markdown renderer and for Discord: it
    renders as the same words, with no tags, links, images, headings or mass mentions."""
    text = _INLINE_MARKUP.sub(lambda m: "\\" + m.group(0), text)
    text = _ENTITY.sub(r"\\&", text)
    text = _MASS_MENTION.sub("@\u200b\\1", text)
    return _BLOCK_START.sub(r"\1\\\2", text)


def markdown_line(text: str) -> str:
    """One line of a title, name or label, escaped (its line breaks become spaces)."""
    return escape_markdown(_one_line(text))


def to_markdown(book: Book) -> str:
    _check(book)
    lines = [f"# {markdown_line(book.title)}", "", f"*{markdown_line(book.byline())}*", ""]
    for note in book.title_notes:
        lines += [f"*{markdown_line(note)}*", ""]
    for chapter in book.chapters:
        if not chapter.passages:
            continue
        lines += [f"## {markdown_line(chapter.title)}", ""]
        for passage in chapter.passages:
            lines += [escape_markdown(passage.text.strip()), ""]
            if passage.author and book.credit_passages:
                lines += [f"*— {markdown_line(passage.author)}*", ""]
    if book.closing:
        lines += [f"*{markdown_line(book.closing)}*"]
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
    notes = "".join(f"<p>{html.escape(_one_line(note))}</p>" for note in book.title_notes)
    title_page.content = f"<h1>{html.escape(title)}</h1><p>{html.escape(book.byline())}</p>{notes}"
    title_page.add_item(style)
    document.add_item(title_page)

    written = [c for c in book.chapters if c.passages]
    chapters = []
    for number, chapter in enumerate(written, 1):
        item = epub.EpubHtml(
            title=_one_line(chapter.title),
            file_name=f"chapter_{number:03d}.xhtml",
            lang=book.language,
        )
        item.content = _chapter_html(book, chapter, last=number == len(written))
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


def _chapter_html(book: Book, chapter: Chapter, *, last: bool) -> str:
    body = [f"<h2>{html.escape(_one_line(chapter.title))}</h2>"]
    for passage in chapter.passages:
        body.append(_paragraphs(passage.text))
        if passage.author and book.credit_passages:
            body.append(f'<p class="by">— {html.escape(_one_line(passage.author))}</p>')
    if last and book.closing:
        body.append(f"<p><em>{html.escape(_one_line(book.closing))}</em></p>")
    return "\n".join(body)


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
