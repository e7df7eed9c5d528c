"""A Markdown export as a reader sees it: rendered by a real CommonMark renderer (markdown-it-py,
raw HTML allowed, as GitHub and most viewers do), and the text that shows on the page."""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt

HOSTILE = (
    "<script>alert('hi')</script> @everyone and @here and <@&123456789012345678>, look:\n"
    "[click me](https://evil.example) ![pixel](https://evil.example/p.png) <https://evil.example>\n"
    "# Fake chapter\n"
    "Fake title\n"
    "===\n"
    "```\n"
    "\\[escaped](https://evil.example) &lt;b&gt;"
)
"""A passage that tries every trick: tags, mass mentions, links, images, headings, a fence."""


def rendered(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown)


def visible_text(markdown: str) -> str:
    """The words on the rendered page, tags dropped and entities read."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered(markdown)))


def assert_inert(markdown: str, headings: int) -> None:
    """Nothing the passages wrote became markup: no tags, links, images, code, headings beyond
    the export's own `headings`, no mass mention; the hostile words still read as written."""
    page = rendered(markdown)
    for tag in ("<script", "<a ", "<img", "<pre", "<code"):
        assert tag not in page, f"{tag} in {page}"
    assert len(re.findall(r"<h[1-6]>", page)) == headings, page
    assert "@everyone" not in markdown and "@here" not in markdown
    assert "<@" not in markdown.replace("\\<@", "")  # Discord's user and role mentions
    text = visible_text(markdown)
    for words in (
        "<script>alert('hi')</script>",
        "[click me](https://evil.example)",
        "![pixel](https://evil.example/p.png)",
        "<https://evil.example>",
        "# Fake chapter",
        "\\[escaped](https://evil.example) &lt;b&gt;",
    ):
        assert words in text, f"{words!r} not shown as written in {text}"
    assert "@\u200beveryone" in text
