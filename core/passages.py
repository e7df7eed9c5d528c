"""What the model wrote, shaped into what a reader expects: pure functions, no I/O.

* Labels an instruct model opens with ("The story so far:", "Continuation:", "Prompt:") go.
* A story passage ends on a complete sentence: the unfinished tail after the last sentence end
  is trimmed, as KoboldAI's "trim incomplete sentences" does.
* A writing prompt is one prompt: its first paragraph, at most two whole sentences.
* A poem keeps its line breaks; only a last line cut off by the length limit is dropped. A poem
  a small model wrote out as one paragraph is set in lines at its sentence and clause ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.controls import Task

# A label line or lead-in that an instruct model puts before the text itself.
_LABEL = re.compile(
    r"""^\s*(?:
        (?:\*\*|\#+\s*)?title\s*:[^\n]*\n
      | (?:\*\*|\#+\s*)?
        (?:the\s+)?(?:story(?:\s+so\s+far)?|continuation|next\s+passage|passage|opening|
           (?:writing\s+)?prompt|poem|answer|response|chapter\s+\w+)
        (?:\s*\([^)\n]{0,40}\))?\s*:(?:\*\*)?[ \t]*\n?
      | \[(?:wp|response|story|continuation|poem|title)\][ \t]*\n?
      | (?:sure|certainly|okay|of\s+course)[!,.][^\n]{0,80}?(?::|\n)
      | (?:consider|imagine|picture)\s+this\s*:[ \t]*\n?
      | here(?:['’]s|\s+is|\s+are)\s[^\n:]{0,60}:[ \t]*\n?
      | let(?:['’]s|\s+us)\s+(?:start|begin|try|go|write)\b[^\n:]{0,60}:[ \t]*\n?
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# A sentence end: . ! ? or … with any closing quotes or brackets after it.
_SENTENCE_END = re.compile(r"""[.!?…]+["'”’)\]*]*(?=\s|$)""")
_CLOSERS = "\"'”’)]*"
# A sentence end at the very end of a growing text may not be one yet: "fii." can go on as "fii.m".
_PROVISIONAL_END = re.compile(rf"\S*[.!?…][{re.escape(_CLOSERS)}]*$")

# A line that turns a story passage into a list, a glossary or notes: "1. ...", "- ...",
# "Loyalty: ..." (a label of one to three capitalised words), or a heading line such as
# "Story details:". Checked at the line's start, also while it forms.
_LIST_LINE = re.compile(
    r"^[ \t]*(?:(?:\d{1,3}[.)]|[-*•]|[A-Z][\w'’]*(?:[ \t][A-Z][\w'’]*){0,2}:)(?:[ \t]|$)"
    r"|[A-Z][\w'’]*(?:[ \t][\w'’]+){0,3}:[ \t]*$)",
    re.MULTILINE,
)
# Where a line without a sentence end still leads on to the next: "Dear Mara,", "She said:".
_LEADS_ON = (",", ";", ":", "—", "–", "-", "(")
_OPENING_QUOTES = ('"', "“", "'", "‘")
# The model turning to the reader at the end, as an assistant does.
_TO_THE_READER = re.compile(
    r"(?:i\s+hope\s+you|let\s+me\s+know|feel\s+free\s+to|here(?:['’]s|\s+is)\s+(?:the|a|my)\b"
    r"|i\s+hope\s+this|thank\s+you\s+for\s+reading)",
    re.IGNORECASE,
)
# A label in the middle of a line, where a prompt runs on into a story.
_LABEL_INSIDE = re.compile(r"\s(?:story|prompt|response|answer|continuation)\s*:", re.IGNORECASE)

PROMPT_MAX_SENTENCES = 2
_HASHTAGS = re.compile(r"(?:\s+#\w+)+\s*$")
VERSE_LINE_CHARS = 48
_TRAILING_REMARK = re.compile(r"(?:\n[ \t]*\([^()\n]*\)?[ \t]*)+$")
# Where a line of verse may end: after a sentence or clause end (. ! ? ; : , —).
_CLAUSE_END = re.compile(r"(?<=[.!?…;:,—])[\"'”’)]*\s+")


def strip_labels(text: str) -> str:
    """text without the labels it opens with (repeated ones too)."""
    while True:
        match = _LABEL.match(text)
        if match is None or not match.group(0).strip():
            return text.lstrip()
        text = text[match.end() :]


def sentence_ends(text: str) -> list[int]:
    """Positions just after each sentence end in text."""
    return [match.end() for match in _SENTENCE_END.finditer(text)]


def settled(growing: str) -> str:
    """A text still being written, without its last word when that ends like a sentence: what
    follows decides whether it does."""
    return _PROVISIONAL_END.sub("", growing)


def ends_mid_sentence(text: str) -> bool:
    """True when the text stops inside a sentence (after its closing quotes are ignored)."""
    stripped = text.rstrip().rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] not in ".!?…"


def trim_incomplete_sentence(text: str) -> str:
    """text up to its last complete sentence; unchanged when it has none (nothing to keep)."""
    text = text.rstrip()
    if not ends_mid_sentence(text):
        return text
    ends = sentence_ends(text)
    return text[: ends[-1]].rstrip() if ends else text


def one_prompt(text: str, max_sentences: int = PROMPT_MAX_SENTENCES) -> str:
    """One writing prompt: the first paragraph, at most max_sentences, on one line."""
    first = re.split(r"\n\s*\n|\n(?=\s*(?:\d+[.)]|[-*•])\s)", text.strip(), maxsplit=1)[0]
    first = " ".join(first.split())
    first = _LABEL_INSIDE.split(first, maxsplit=1)[0]  # "... Story: the story itself"
    first = _HASHTAGS.sub("", first)  # "... #creativewriting #prompt", as posts end
    ends = sentence_ends(first)
    if len(ends) > max_sentences:
        first = first[: ends[max_sentences - 1]]
    return trim_incomplete_sentence(first).strip().strip('"“”').strip()


def verse_lines(text: str, longest: int = VERSE_LINE_CHARS) -> str:
    """A poem with its prose set in lines: a line over twice `longest` (prose, not verse) is
    broken at a sentence or clause end once a line is half `longest` long, or before a clause
    that would make it longer than `longest`. The poem's own lines are kept as they are."""
    return "\n".join(
        _prose_in_lines(line, longest) if len(line) > 2 * longest else line
        for line in text.strip().split("\n")
    )


def _prose_in_lines(prose: str, longest: int) -> str:
    lines: list[str] = []
    line = ""
    for piece in _CLAUSE_END.split(" ".join(prose.split())):
        if line and len(line) + 1 + len(piece) > longest:
            lines.append(line)
            line = piece
        else:
            line = f"{line} {piece}".strip()
        if _CLAUSE_END.search(line + " ") and len(line) >= longest // 2:
            lines.append(line)
            line = ""
    return "\n".join([*lines, line] if line else lines)


def whole_lines(text: str, cut_by_length: bool) -> str:
    """A poem's lines, minus a last line that the length limit cut off and the remarks in
    parentheses an instruct model may end with ("(This can be expanded...)")."""
    text = _TRAILING_REMARK.sub("", text.rstrip())
    text = verse_lines(text)
    if cut_by_length and "\n" in text:
        text = text.rsplit("\n", 1)[0].rstrip()
    return text


def is_prose(text: str) -> bool:
    """No line of text is a list item or a glossary label."""
    return _LIST_LINE.search(text) is None


def is_heading(line: str) -> bool:
    """A line of prose that holds no sentence and does not lead on to the next one: a title or
    a note's heading ("Chapter Two", "Author's Note", "Subsection 1.4", "Possible ending")."""
    line = line.strip()
    return (
        bool(line)
        and not sentence_ends(line)
        and not line.endswith(_LEADS_ON)
        and not line.startswith(_OPENING_QUOTES)
    )


def without_list_lines(text: str, *, last_line_done: bool = False) -> str:
    """text without the lines that make it a list, a glossary, notes or headings, and without a
    last paragraph that talks to the reader ("I hope you enjoyed..."); its prose stays, and
    nothing when headings were all it had. The last line is judged as a heading only once it is
    done (the answer ended there)."""
    lines = text.split("\n")
    headings = [
        (index < len(lines) - 1 or last_line_done) and is_heading(line)
        for index, line in enumerate(lines)
    ]
    kept = [
        line
        for line, heading in zip(lines, headings, strict=True)
        if not heading and not _LIST_LINE.match(line)
    ]
    prose = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    if any(headings) and not sentence_ends(prose):
        return ""  # notes under headings, no sentence of prose among them
    paragraphs = prose.rsplit("\n", 1)
    if len(paragraphs) == 2 and _TO_THE_READER.match(paragraphs[1].strip()):
        prose = paragraphs[0].rstrip()
    return prose


@dataclass(frozen=True)
class Shaping:
    """How the answers to one request are shaped (shape_answer)."""

    task: Task
    labelled: bool = True
    """The answer is the model's own start (no forced prefix), so labels may open it."""
    prose_only: bool = False
    """A story passage loses the lines that make it a list, a glossary or notes."""

    @classmethod
    def for_request(cls, task: Task, context: str, prefix: str) -> Shaping:
        """A story told in prose stays prose; one that has lists or "Name:" lines (a script)
        may go on with them."""
        story_task = task in (Task.STORY, Task.CONTINUE)
        return cls(task, labelled=not prefix, prose_only=story_task and is_prose(context))

    def shape(self, text: str, *, cut_by_length: bool) -> str:
        return shape_answer(
            self.task,
            text,
            cut_by_length=cut_by_length,
            labelled=self.labelled,
            prose_only=self.prose_only,
        )


def shape_answer(
    task: Task,
    text: str,
    *,
    cut_by_length: bool,
    labelled: bool = True,
    prose_only: bool = False,
) -> str:
    """The model's answer for task in the shape a reader expects (see Shaping)."""
    if labelled:
        text = strip_labels(text)
    if prose_only:
        text = without_list_lines(text, last_line_done=not cut_by_length)
    if task is Task.PROMPT:
        return one_prompt(text)
    if task is Task.POEM:
        return whole_lines(text, cut_by_length)
    if task in (Task.STORY, Task.CONTINUE):  # an aside to the reader: "(Remembering your ...)"
        text = _TRAILING_REMARK.sub("", text.rstrip())
    return trim_incomplete_sentence(text)
