"""A story's manuscript (the NaNoGenMo workflow): its kept passages arranged into chapters at the
story's chapter breaks, its word count against the story's word goal, and the book it exports as.

A break starts a chapter at a turn position, so chapters follow the story's order; the kept
passages before the first break form the opening chapter. A chapter without kept passages is
left out of the manuscript, and the others are numbered in order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.group.export import Book, Chapter
from bot.group.export import Passage as BookPassage
from bot.store import ChapterBreak, Participant, Story, Turn
from bot.story.values import StoryError

MAX_WORD_GOAL = 1_000_000


def word_count(text: str) -> int:
    return len(text.split())


def check_word_goal(words: int) -> int | None:
    """A word goal as asked (0 removes it): None for no goal."""
    if not 0 <= words <= MAX_WORD_GOAL:
        raise StoryError(
            f"words must be between 1 and {MAX_WORD_GOAL:,} (or 0 to remove the goal); "
            f"you gave {words:,}."
        )
    return words or None


@dataclass(frozen=True)
class ManuscriptChapter:
    title: str
    passages: Sequence[Turn]
    starts_at: int | None = None
    """The turn position its break starts it at; None for the opening chapter."""

    @property
    def words(self) -> int:
        return sum(word_count(t.text) for t in self.passages)

    def heading(self, number: int) -> str:
        return f"Chapter {number}: {self.title}" if self.title else f"Chapter {number}"


def arrange(kept: Sequence[Turn], breaks: Sequence[ChapterBreak]) -> list[ManuscriptChapter]:
    """The kept passages (in story order) split at the breaks: the opening chapter, then one
    chapter per break, empty ones included."""
    starts = sorted(breaks, key=lambda b: b.first_position)
    bounds = [b.first_position for b in starts]
    groups: list[list[Turn]] = [[] for _ in range(len(starts) + 1)]
    for turn in kept:
        groups[sum(1 for bound in bounds if turn.position >= bound)].append(turn)
    opening = ManuscriptChapter("", groups[0])
    later = [
        ManuscriptChapter(b.title, g, b.first_position)
        for b, g in zip(starts, groups[1:], strict=True)
    ]
    return [opening, *later]


@dataclass(frozen=True)
class Progress:
    words: int
    goal: int | None

    @property
    def percent(self) -> int | None:
        return None if self.goal is None else self.words * 100 // self.goal

    def describe(self) -> str:
        """Like '12,345 of 50,000 words (24%)'; without a goal, just the words."""
        if self.goal is None:
            return f"{self.words:,} words"
        return f"{self.words:,} of {self.goal:,} words ({self.percent}%)"


def goal_said(progress: Progress) -> str:
    """What /story goal answers."""
    if progress.goal is None:
        return f"Word goal removed ({progress.words:,} words kept so far)."
    return f"Word goal set: {progress.describe()} kept so far."


def chapter_said(chapter: ChapterBreak, new: bool) -> str:
    """What /story chapter answers."""
    named = f" “{chapter.title}”" if chapter.title else ""
    if new:
        return f"A new chapter{named} starts at the next passage."
    return f"The chapter that starts at the next passage is now{named or ' untitled'}."


def authors(participants: Sequence[Participant], kept: Sequence[Turn]) -> list[str]:
    """The story's participants, then anyone else who wrote or asked for a kept passage."""
    names = [p.name for p in participants]
    for turn in kept:
        if turn.author_name not in names:
            names.append(turn.author_name)
    return names


def manuscript_book(
    story: Story, chapters: Sequence[ManuscriptChapter], names: Sequence[str], goal: int | None
) -> Book:
    """The manuscript as a book: a title page (title, authors, word count), the chapters with
    kept passages, numbered in order, and the word count again at the end."""
    written = [c for c in chapters if c.passages]
    progress = Progress(sum(c.words for c in written), goal)
    notes = [f"{progress.words:,} words"]
    if goal is not None:
        notes.append(f"Word goal: {goal:,} ({progress.percent}% written)")
    count = len(written)
    return Book(
        story.title or "Untitled story",
        [_book_chapter(chapter, number) for number, chapter in enumerate(written, 1)],
        authors=names,
        title_notes=notes,
        closing=f"The end: {progress.words:,} words in {count} chapter{'s' if count != 1 else ''}.",
        credit_passages=False,
    )


def _book_chapter(chapter: ManuscriptChapter, number: int) -> Chapter:
    passages = [
        BookPassage(t.text, t.author_name if t.kind == "human" else None) for t in chapter.passages
    ]
    return Chapter(chapter.heading(number), passages)
