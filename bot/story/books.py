"""A story as people read it: the /story show recap, the Markdown and EPUB exports of one
story, of its manuscript (kept passages in chapters, see manuscript.py) or of a channel's
anthology (kept passages, poems and prompts of it and its threads), the manuscript's word goal
and chapter breaks, and the channel's shelf: /story list and /story resume."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.group.export import (
    AnthologyKind,
    AnthologyPiece,
    Book,
    Chapter,
    ExportFormat,
    anthology_book,
    escape_markdown,
    export_filename,
    markdown_line,
    render,
)
from bot.group.export import Passage as BookPassage
from bot.group.lore import LoreEntry
from bot.store import ChapterBreak, Participant, Story, StoryExtras, StorySummary, Turn
from bot.story.context import AssembledContext
from bot.story.manuscript import (
    ManuscriptChapter,
    Progress,
    arrange,
    authors,
    check_word_goal,
    manuscript_book,
    word_count,
)
from bot.story.parts import StoryParts
from bot.story.values import MODEL_NAME, Author, StoryError, StoryKey
from core.controls import Task

NOTHING_KEPT = "No passage is kept yet: press Keep under the ones you like."
MANUSCRIPT_FORMATS = {"manuscript": ExportFormat.MARKDOWN, "manuscript-epub": ExportFormat.EPUB}
FORMAT_NAMES = "markdown, epub, manuscript or manuscript-epub"


@dataclass(frozen=True)
class Recap:
    story: Story
    extras: StoryExtras
    turns: list[Turn]
    lore: list[LoreEntry]
    participants: list[Participant]
    checkpoint: str | None
    context: AssembledContext | None
    turn_status: str
    chapters: list[ManuscriptChapter]
    """The kept passages in chapters: the opening one, then one per chapter break."""

    @property
    def progress(self) -> Progress:
        """Words in the kept passages (the manuscript) against the word goal."""
        return Progress(sum(c.words for c in self.chapters), self.extras.word_goal)

    @property
    def authors(self) -> dict[str, int]:
        """Passages per writer; the model's passages count as "Campfire"."""
        counts: dict[str, int] = {}
        for turn in self.turns:
            name = turn.author_name if turn.kind == "human" else MODEL_NAME
            counts[name] = counts.get(name, 0) + 1
        return counts

    @property
    def people(self) -> list[str]:
        """Who takes part: those who joined, then whoever wrote a passage or asked for one."""
        names = [p.name for p in self.participants] + [t.author_name for t in self.turns]
        return list(dict.fromkeys(names))


class Books:
    def __init__(self, parts: StoryParts) -> None:
        self.parts = parts
        self.store = parts.store

    async def show(self, key: StoryKey) -> Recap:
        story = await self.parts.active(key)
        turns = await self.store.turns(story.id)
        settings = await self.parts.settings_for(key)
        checkpoint = settings.checkpoint or next(
            (t.checkpoint for t in reversed(turns) if t.checkpoint), None
        )
        context = await self.parts.context(story.id, turns, settings) if turns else None
        breaks = await self.store.chapter_breaks(story.id)
        return Recap(
            story,
            await self.store.extras(story.id),
            turns,
            await self.store.lore(story.id),
            await self.store.participants(story.id),
            checkpoint,
            context,
            (await self.parts.turn_state(story)).status(),
            arrange([t for t in turns if t.kept], breaks),
        )

    async def shelf(self, key: StoryKey) -> list[StorySummary]:
        """The channel's stories, oldest first: story N of /story resume is the Nth."""
        return await self.store.story_summaries(key.guild_id, key.channel_id)

    async def resume(self, key: StoryKey, number: int) -> tuple[Story, Story | None]:
        """Make story `number` of the channel's list its running story again; the running one
        (returned second) ends and stays listed."""
        async with self.parts.lock(key):
            stories = await self.store.channel_stories(key.guild_id, key.channel_id)
            if not stories:
                raise StoryError("This channel has no stories yet.")
            if not 1 <= number <= len(stories):
                raise StoryError(
                    f"There is no story {number} here: pick 1 to {len(stories)} (see /story list)."
                )
            wanted = stories[number - 1]
            if wanted.ended_at is None:
                raise StoryError(f"Story {number} is already this channel's running story.")
            running = next((s for s in stories if s.ended_at is None), None)
            resumed = await self.store.reopen_story(wanted.id)
            assert resumed is not None
            return resumed, running

    async def set_goal(self, key: StoryKey, words: int) -> Progress:
        """Set the story's word goal (0 removes it); returns the manuscript's progress."""
        goal = check_word_goal(words)
        async with self.parts.lock(key):
            story = await self.parts.active(key)
            await self.store.update_extras(story.id, word_goal=goal)
            kept = await self.store.kept_turns([story.id])
        return Progress(sum(word_count(t.text) for t in kept), goal)

    async def add_chapter(
        self, key: StoryKey, author: Author, title: str | None = None
    ) -> tuple[ChapterBreak, bool]:
        """Start a chapter at the story's next passage; (the break, False) when no passage came
        since the last break, which is renamed instead."""
        checked = self.parts.limits.check_title(title)
        await self.parts.check_input(key, ("The chapter title", checked))
        async with self.parts.lock(key):
            story = await self.parts.active(key)
            return await self.store.add_chapter_break(story.id, checked or "", author.id)

    async def export_story(
        self, key: StoryKey, fmt: ExportFormat | str, *, kept_only: bool = False
    ) -> tuple[str, bytes]:
        """(file name, file bytes) of the channel's story, or only its kept passages.
        EPUB has one chapter per round. The manuscript formats give the manuscript."""
        checked, manuscript = _export_choice(fmt)
        story = await self.parts.active(key)
        if manuscript:
            return await self._export_manuscript(story, checked)
        turns = await self.store.turns(story.id)
        if kept_only:
            turns = [t for t in turns if t.kept]
            if not turns:
                raise StoryError(NOTHING_KEPT)
        name = export_filename(story.title + (" anthology" if kept_only else ""), checked)
        if checked is ExportFormat.MARKDOWN:
            return name, render_markdown(story, turns, kept_only=kept_only).encode("utf-8")
        return name, render(story_book(story, turns), checked)

    async def export_anthology(self, key: StoryKey, fmt: ExportFormat | str) -> tuple[str, bytes]:
        """(file name, file bytes) of the kept passages, poems and prompts of a channel and its
        story threads."""
        checked, manuscript = _export_choice(fmt)
        if manuscript:
            raise StoryError(
                "A manuscript is this story's kept passages in chapters: export it without "
                "anthology, or export the anthology as markdown or epub."
            )
        stories = await self.store.channel_stories(key.guild_id, key.channel_id)
        stories += await self.store.thread_stories(key.channel_id)
        pieces: list[AnthologyPiece] = []
        for story in stories:
            if story.prompt:
                pieces.append(AnthologyPiece(AnthologyKind.PROMPT, story.prompt))
        for turn in await self.store.kept_turns([s.id for s in stories]):
            kind = AnthologyKind.POEM if turn.task == Task.POEM.value else AnthologyKind.PASSAGE
            author = turn.author_name if turn.kind == "human" else None
            story_title = next((s.title for s in stories if s.id == turn.story_id), "")
            title = (turn.prompt or story_title) if kind is AnthologyKind.POEM else story_title
            pieces.append(AnthologyPiece(kind, turn.text, author, title))
        if not any(p.kind is not AnthologyKind.PROMPT for p in pieces):
            raise StoryError(
                "The anthology is empty: press Keep under the passages and poems you like."
            )
        book = anthology_book("Campfire anthology", pieces)
        return export_filename("anthology", checked), render(book, checked)

    async def _export_manuscript(self, story: Story, fmt: ExportFormat) -> tuple[str, bytes]:
        kept = await self.store.kept_turns([story.id])
        if not kept:
            raise StoryError("The manuscript is the kept passages. " + NOTHING_KEPT)
        chapters = arrange(kept, await self.store.chapter_breaks(story.id))
        names = authors(await self.store.participants(story.id), kept)
        goal = (await self.store.extras(story.id)).word_goal
        book = manuscript_book(story, chapters, names, goal)
        return export_filename(f"{story.title} manuscript", fmt), render(book, fmt)


def _export_choice(fmt: ExportFormat | str) -> tuple[ExportFormat, bool]:
    """The file format asked for, and whether it is the manuscript."""
    name = str(fmt).strip().lower()
    if name in MANUSCRIPT_FORMATS:
        return MANUSCRIPT_FORMATS[name], True
    try:
        return ExportFormat(name), False
    except ValueError:
        raise StoryError(f"format must be {FORMAT_NAMES} (you gave {str(fmt)!r}).") from None


def story_book(story: Story, turns: Sequence[Turn]) -> Book:
    """A story as a book: the prompt (if any) opens it, then one chapter per round: the people's
    turns and the model passage that closes the round."""
    chapters: list[Chapter] = []
    if story.prompt:
        chapters.append(Chapter("The prompt", [BookPassage(story.prompt)]))
    current: list[BookPassage] = []
    for turn in turns:
        author = turn.author_name if turn.kind == "human" else None
        current.append(BookPassage(turn.text, author))
        if turn.kind == "model":
            chapters.append(Chapter(f"Part {len(chapters) + 1 - bool(story.prompt)}", current))
            current = []
    if current:
        chapters.append(Chapter(f"Part {len(chapters) + 1 - bool(story.prompt)}", current))
    return Book(story.title or "Untitled story", chapters)


def turn_label(turn: Turn) -> str:
    """Who wrote a passage, and how: "ada" or "Campfire (horror, asked by ada)"."""
    if turn.kind == "human":
        return turn.author_name
    details = [d for d in (turn.genre, turn.emotion) if d]
    if turn.task == Task.POEM.value:
        details.insert(0, "poem")
    details.append(f"asked by {turn.author_name}")
    return f"Campfire ({', '.join(d.replace('_', '-') for d in details)})"


def render_markdown(story: Story, turns: Sequence[Turn], *, kept_only: bool = False) -> str:
    started = datetime.fromisoformat(story.created_at).strftime("%Y-%m-%d")
    lines = [f"# {markdown_line(story.title or 'Untitled story')}", ""]
    kind = "anthology of kept passages" if kept_only else "story"
    checkpoints = sorted({t.checkpoint for t in turns if t.checkpoint})
    lines.append(f"*A Campfire {kind}, started {started}.*")
    if checkpoints:
        lines.append(f"*Model checkpoint: {markdown_line(', '.join(checkpoints))}.*")
    lines.append("")
    if story.prompt:
        prompt = escape_markdown(story.prompt.strip()).splitlines()
        lines += [f"> **Prompt:** {prompt[0]}", *(f"> {line}" for line in prompt[1:]), ""]
    for turn in turns:
        text = escape_markdown(turn.text.strip())
        lines += [f"**{markdown_line(turn_label(turn))}**", "", text, ""]
    return "\n".join(lines).rstrip() + "\n"


def render_shelf(summaries: Sequence[StorySummary]) -> str:
    """/story list: one line per story, numbered for /story resume, the running one marked."""
    if not summaries:
        return "This channel has no stories yet. Start one with /respond, /write or /prompt."
    lines = ["**This channel's stories** (bring one back with /story resume story:N)"]
    for number, summary in enumerate(summaries, 1):
        story = summary.story
        running = " — **running**" if story.ended_at is None else ""
        lines.append(
            f"{number}. {story.title or 'Untitled story'} · {summary.passages} passages, "
            f"{summary.words} words · last updated {summary.updated_at[:16].replace('T', ' ')} "
            f"UTC{running}"
        )
    return "\n".join(lines)


def render_recap(recap: Recap) -> str:
    """/story show: title, prompt and writers, the story's settings, then every passage."""
    story = recap.story
    who = ", ".join(f"{name} ({n})" for name, n in recap.authors.items()) or "nobody yet"
    lines = [f"**{story.title or 'Untitled story'}**"]
    if story.prompt:
        lines.append(f"Prompt: {story.prompt}")
    lines.append(f"{passages(len(recap.turns))} · written by {who}")
    lines.append(f"Checkpoint: {_checkpoint_line(recap)}")
    lines += _settings_lines(recap)
    lines += _manuscript_lines(recap)
    for index, turn in enumerate(recap.turns, 1):
        kept = " ★" if turn.kept else ""
        lines.append(f"\n{index}. {turn_label(turn)}{kept}:\n{turn.text}")
    return "\n".join(lines)


def passages(count: int) -> str:
    """ "1 passage", "3 passages"."""
    return f"{count} passage" if count == 1 else f"{count} passages"


def _checkpoint_line(recap: Recap) -> str:
    """The checkpoint in use, and the ones that wrote the passages when they differ."""
    used = sorted({t.checkpoint for t in recap.turns if t.checkpoint})
    now = recap.checkpoint or "the server default"
    if not used or used == [recap.checkpoint]:
        return now
    return f"{now} (the passages so far: {', '.join(used)})"


def _settings_lines(recap: Recap) -> list[str]:
    extras = recap.extras
    lines = [
        f"**Mode:** {extras.rules.describe()}",
        f"**Participants:** {', '.join(recap.people) or 'nobody yet'}",
        f"**Memory:** {extras.memory or 'none (set it with /story memory)'}",
        f"**Author's note:** {extras.authors_note or 'none (set it with /story note)'}",
    ]
    if recap.lore:
        entries = "; ".join(f"{e.name} ({', '.join(e.keywords)})" for e in recap.lore)
        lines.append(f"**Lore:** {entries}")
    else:
        lines.append("**Lore:** none (add entries with /lore add)")
    if recap.context is not None:
        context = recap.context
        active = ", ".join(e.name for e in context.lore.included) or "none"
        kept = context.turns_kept
        total = kept + context.turns_dropped
        lines.append(
            f"**In the model's view:** {kept} of {total} turns after the opening and memory; "
            f"lore triggered now: {active}"
        )
    if extras.candidates > 1:
        lines.append(
            f"**Voting:** {extras.candidates} candidates per /continue, open "
            f"{extras.vote_seconds} s or until a majority"
        )
    if extras.parent_channel_id is not None:
        state = "on" if extras.listen else "off (use /write)"
        lines.append(f"**Plain messages become turns:** {state}")
    lines.append(f"**Whose turn:** {recap.turn_status}")
    return lines


def _manuscript_lines(recap: Recap) -> list[str]:
    """The word goal's progress and the chapters (kept passages only, as the manuscript)."""
    written = sum(word_count(t.text) for t in recap.turns)
    if recap.extras.word_goal is None:
        goal = f"none (set one with /story goal); {recap.progress.describe()} kept"
    else:
        goal = f"{recap.progress.describe()} kept"
    lines = [f"**Word goal:** {goal}, of {written:,} written"]
    if len(recap.chapters) == 1:
        lines.append("**Chapters:** one so far (start the next with /story chapter)")
        return lines
    parts, number = [], 0
    for chapter in recap.chapters:
        if chapter.passages:
            number += 1
            count = len(chapter.passages)
            parts.append(
                f"{chapter.heading(number)} ({count} kept passage{'s' if count != 1 else ''}, "
                f"{chapter.words:,} words)"
            )
        elif chapter.starts_at is not None:
            parts.append(f"“{chapter.title or 'untitled'}” (no kept passage yet)")
    lines.append(f"**Chapters:** {'; '.join(parts)}")
    return lines
