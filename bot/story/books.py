"""A story as people read it: the /story show recap, and the Markdown and EPUB exports of one
story or of a channel's anthology (kept passages, poems and prompts of it and its threads)."""

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
    export_filename,
    render,
)
from bot.group.export import Passage as BookPassage
from bot.group.lore import LoreEntry
from bot.store import Participant, Story, StoryExtras, Turn
from bot.story.context import AssembledContext
from bot.story.parts import StoryParts
from bot.story.values import MODEL_NAME, StoryError, StoryKey
from core.controls import Task

NOTHING_KEPT = "No passage is kept yet: press Keep under the ones you like."


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
        return Recap(
            story,
            await self.store.extras(story.id),
            turns,
            await self.store.lore(story.id),
            await self.store.participants(story.id),
            checkpoint,
            context,
            (await self.parts.turn_state(story)).status(),
        )

    async def export_story(
        self, key: StoryKey, fmt: ExportFormat | str, *, kept_only: bool = False
    ) -> tuple[str, bytes]:
        """(file name, file bytes) of the channel's story, or only its kept passages.
        EPUB has one chapter per round."""
        checked = _export_format(fmt)
        story = await self.parts.active(key)
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
        checked = _export_format(fmt)
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


def _export_format(fmt: ExportFormat | str) -> ExportFormat:
    try:
        return ExportFormat(fmt)
    except ValueError:
        raise StoryError("format must be markdown or epub") from None


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
    lines = [f"# {story.title or 'Untitled story'}", ""]
    kind = "anthology of kept passages" if kept_only else "story"
    checkpoints = sorted({t.checkpoint for t in turns if t.checkpoint})
    lines.append(f"*A Campfire {kind}, started {started}.*")
    if checkpoints:
        lines.append(f"*Model checkpoint: {', '.join(checkpoints)}.*")
    lines.append("")
    if story.prompt:
        lines += [f"> **Prompt:** {story.prompt}", ""]
    for turn in turns:
        lines += [f"**{turn_label(turn)}**", "", turn.text.strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


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
