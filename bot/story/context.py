"""The one context fitter: memory, lore, the author's note and the story, fitted to the window.

Memory is text a story pins so it is always in the context (who the characters are, the
setting). The author's note is a short steer ("keep it eerie; Mira is lying") placed near the
end, just before the last passage, where it weighs most (as KoboldAI and NovelAI users know them).

Layout of the assembled context, top to bottom, blocks separated by a blank line:

    memory
    triggered lore entries (one per line, most recently mentioned first)
    the story's opening
    the middle turns, oldest first
    [Author's note: ...]
    the newest turn            (with no turns, the note goes before the opening)

What drops out when the story outgrows the budget, first to last:

1. The oldest middle turns, `drop_step` (4) at a time: the kept run starts at a turn whose number
   is a multiple of the step, so the context's start stays the same for several turns while the
   story grows, and the model server's prefix cache reuses it instead of prefilling the whole
   story again each turn (the aim of koboldcpp's context shifting). Turns are only ever dropped
   from the old end, so the kept turns are always one unbroken run up to the newest.
2. Lore entries, the least recently mentioned first. Lore never takes more than
   `lore_share` of the budget in the first place, so it only shrinks further when the parts
   below do not fit with it.
3. The author's note.
4. Only when memory, the opening and the newest turn alone exceed the budget is text cut:
   the opening loses its end, then memory loses its end, then the newest turn loses its
   beginning (the model continues from the end of the newest turn, so its end is kept longest).

So memory, the opening and the newest turn stay in the context as long as they fit at all.
`assemble_context` is pure (costs by the caller's token counter); `ContextFitter` counts with the
checkpoint's own tokenizer (/v1/tokenize), budgets the window less the answer and the prompt's own
text, and checks the joined result once more, shrinking the budget if joins cost extra.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.group.lore import LoreEntry, LoreSelection, select_lore
from bot.group.tokens import TokenCounter
from bot.model_client import ModelClient, ModelClientError
from bot.store import StoryExtras
from core.errors import CampfireError
from core.prompt_format import NOTE_FORMAT

MAX_MEMORY_CHARS = 2000
MAX_NOTE_CHARS = 300
SEPARATOR = "\n\n"
# Tokens kept free for the prompt's own text around the context (template, headers).
PROMPT_OVERHEAD_TOKENS = 160  # the instruction style with background and note: 114 SmolLM2 tokens
# Used when the server can't count tokens (down, or another backend): ~3 chars a token.
FALLBACK_WINDOW = 1024
FALLBACK_CHARS_PER_TOKEN = 3.0
MAX_TOKENIZE_TEXTS = 256  # core.protocol.TokenizeRequest.texts
EXACT_CHECKS = 3


class ContextError(CampfireError, ValueError):
    """Memory or an author's note that can't be stored as given."""


def check_memory(text: str) -> str:
    """Memory as stored: stripped, within MAX_MEMORY_CHARS ("" clears it)."""
    clean = text.strip()
    if len(clean) > MAX_MEMORY_CHARS:
        raise ContextError(
            f"memory is {len(clean)} characters; keep it under {MAX_MEMORY_CHARS} "
            "(it takes room from the story in every request)"
        )
    return clean


def check_note(text: str) -> str:
    """An author's note as stored: one line, within MAX_NOTE_CHARS ("" clears it)."""
    clean = " ".join(text.split())
    if len(clean) > MAX_NOTE_CHARS:
        raise ContextError(
            f"the author's note is {len(clean)} characters; keep it under {MAX_NOTE_CHARS}: "
            "it is a short steer, put background into memory or lore"
        )
    return clean


@dataclass(frozen=True)
class ContextInputs:
    opening: str
    turns: Sequence[str] = ()
    """Passages after the opening, oldest first."""
    memory: str = ""
    authors_note: str = ""
    lore: Sequence[LoreEntry] = ()


@dataclass(frozen=True)
class ContextSettings:
    lore_share: float = 0.25
    """At most this share of the budget goes to lore entries."""
    lore_scan_passages: int = 3
    """How many of the newest passages are searched for lore keywords."""
    drop_step: int = 4
    """Middle turns drop out this many at a time (1: one at a time, the most story kept)."""


@dataclass(frozen=True)
class AssembledContext:
    text: str
    tokens: int
    turns_kept: int
    """Turns in the context, the newest included."""
    turns_dropped: int
    lore: LoreSelection
    note_included: bool
    cut: tuple[str, ...] = field(default_factory=tuple)
    """Parts that lost text to fit ("opening", "memory", "newest turn"); usually empty."""
    story: str = ""
    """The story part of `text` (opening and turns), sent apart from the background."""
    background: str = ""
    """Memory and the included lore entries, as the server's `background`."""
    note: str = ""
    """The author's note when it fits, as the server's `note`."""


_WORDS = re.compile(r"\S+\s*")


def keep_start(text: str, budget: int, count_tokens: TokenCounter) -> str:
    """The longest run of whole words from the start of text that costs at most budget."""
    pieces = _WORDS.findall(text)
    low, high = 0, len(pieces)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens("".join(pieces[:middle]).rstrip()) <= budget:
            low = middle
        else:
            high = middle - 1
    return "".join(pieces[:low]).rstrip()


def keep_end(text: str, budget: int, count_tokens: TokenCounter) -> str:
    """The longest run of whole words from the end of text that costs at most budget."""
    pieces = _WORDS.findall(text)
    low, high = 0, len(pieces)
    while low < high:
        middle = (low + high + 1) // 2
        if count_tokens("".join(pieces[len(pieces) - middle :]).rstrip()) <= budget:
            low = middle
        else:
            high = middle - 1
    return "".join(pieces[len(pieces) - low :]).rstrip()


@dataclass
class _Plan:
    memory: str
    opening: str
    middle: list[str]
    newest: str | None
    lore: list[LoreEntry]
    left_out_lore: list[LoreEntry]
    note: str
    cut: list[str] = field(default_factory=list)

    def background(self) -> str:
        lore = "\n".join(entry.render() for entry in self.lore)
        return SEPARATOR.join(block for block in (self.memory, lore) if block)

    def story(self) -> str:
        turns = [self.opening] if self.newest is None else [self.opening, *self.middle, self.newest]
        return SEPARATOR.join(turn for turn in turns if turn)

    def render(self) -> str:
        note = NOTE_FORMAT.format(note=self.note) if self.note else ""
        lore = "\n".join(entry.render() for entry in self.lore)
        blocks = [self.memory, lore]
        if self.newest is None:
            blocks += [note, self.opening]
        else:
            blocks += [self.opening, *self.middle, note, self.newest]
        return SEPARATOR.join(block for block in blocks if block)

    def shrink(self, budget: int, count_tokens: TokenCounter) -> bool:
        """Take the next step of the drop policy; False when nothing is left to take."""
        if self.middle:
            self.middle.pop(0)
            return True
        if self.lore:
            self.left_out_lore.insert(0, self.lore.pop())
            return True
        if self.note:
            self.note = ""
            return True
        over = count_tokens(self.render()) - budget
        for part in ("opening", "memory", "newest turn"):
            current = self._get(part)
            if not current:
                continue
            target = max(count_tokens(current) - over, 0)
            if part == "newest turn":
                shorter = keep_end(current, target, count_tokens)
            else:
                shorter = keep_start(current, target, count_tokens)
            if shorter == current:  # over-estimate from joining; drop a word at least
                pieces = _WORDS.findall(current)
                if part == "newest turn":
                    shorter = "".join(pieces[1:]).rstrip()
                else:
                    shorter = "".join(pieces[:-1]).rstrip()
            self._set(part, shorter)
            if part not in self.cut:
                self.cut.append(part)
            return True
        return False

    def _get(self, part: str) -> str:
        if part == "opening":
            return self.opening
        if part == "memory":
            return self.memory
        return self.newest or ""

    def _set(self, part: str, text: str) -> None:
        if part == "opening":
            self.opening = text
        elif part == "memory":
            self.memory = text
        else:
            self.newest = text


def assemble_context(
    inputs: ContextInputs,
    budget: int,
    count_tokens: TokenCounter,
    settings: ContextSettings | None = None,
) -> AssembledContext:
    """The model's context for a story, within `budget` tokens (policy: module docstring)."""
    if budget < 0:
        raise ValueError("budget must not be negative")
    turns = [turn for turn in inputs.turns if turn.strip()]
    plan = _first_plan(inputs, turns, budget, count_tokens, settings or ContextSettings())
    text = plan.render()
    tokens = count_tokens(text)
    while tokens > budget and plan.shrink(budget, count_tokens):
        text = plan.render()
        tokens = count_tokens(text)
    turns_kept = len(plan.middle) + (1 if turns else 0)
    return AssembledContext(
        text=text,
        tokens=tokens,
        turns_kept=turns_kept,
        turns_dropped=len(turns) - turns_kept,
        lore=LoreSelection(plan.lore, plan.left_out_lore),
        note_included=bool(plan.note),
        cut=tuple(plan.cut),
        story=plan.story(),
        background=plan.background(),
        note=plan.note,
    )


def _first_plan(
    inputs: ContextInputs,
    turns: list[str],
    budget: int,
    count_tokens: TokenCounter,
    settings: ContextSettings,
) -> _Plan:
    """What fits by the parts' own costs: memory, opening and newest turn, then the note, then
    lore (within its share), then middle turns from the newest back."""
    newest = turns[-1] if turns else None

    def cost(text: str) -> int:
        return count_tokens(text + SEPARATOR) if text else 0

    note = inputs.authors_note.strip()
    left = budget - cost(inputs.memory) - cost(inputs.opening) - cost(newest or "")
    note_cost = cost(NOTE_FORMAT.format(note=note)) if note else 0
    if note_cost > left:
        note, note_cost = "", 0
    left -= note_cost

    passages = [inputs.opening, *turns]
    scanned = "\n".join(passages[-max(settings.lore_scan_passages, 1) :])
    lore_budget = min(max(left, 0), int(budget * settings.lore_share))
    selection = select_lore(inputs.lore, scanned, lore_budget, count_tokens)
    left -= sum(count_tokens(entry.render() + "\n") for entry in selection.included)

    middle = turns[:-1]
    fitting = 0
    for turn in reversed(middle):
        if cost(turn) > left:
            break
        fitting += 1
        left -= cost(turn)
    dropped = len(middle) - fitting
    if dropped:  # round up to the step: the same start for several turns
        step = max(settings.drop_step, 1)
        dropped = min(-(-dropped // step) * step, len(middle))
    kept = list(middle[dropped:])
    return _Plan(
        memory=inputs.memory.strip(),
        opening=inputs.opening.strip(),
        middle=kept,
        newest=newest.strip() if newest is not None else None,
        lore=list(selection.included),
        left_out_lore=list(selection.left_out),
        note=note,
    )


class ContextFitter:
    """Fits a story into a checkpoint's window, counting with the checkpoint's tokenizer."""

    def __init__(self, model: ModelClient, settings: ContextSettings | None = None) -> None:
        self.model = model
        self.settings = settings or ContextSettings()

    async def fit(
        self,
        passages: Sequence[str],
        extras: StoryExtras,
        lore: Sequence[LoreEntry],
        *,
        checkpoint: str | None,
        answer_tokens: int,
    ) -> AssembledContext:
        """The context for the next passage; passages: the story's shown turns, oldest first."""
        inputs = ContextInputs(passages[0], passages[1:], extras.memory, extras.authors_note, lore)
        pieces = [extras.memory, extras.authors_note, *(e.render() for e in lore), *passages]
        window, count = await self._counter([p for p in pieces if p], checkpoint)
        limit = max(window - answer_tokens - PROMPT_OVERHEAD_TOKENS, 0)
        budget = limit
        assembled = assemble_context(inputs, budget, count, self.settings)
        for _ in range(EXACT_CHECKS):
            if not assembled.text:
                break
            try:
                actual = (await self.model.tokenize([assembled.text], checkpoint)).counts[0]
            except (ModelClientError, IndexError):  # estimate; the request itself will tell
                break
            if actual <= limit:
                break
            # Shrink in proportion: every join may cost more than the pieces suggested.
            budget = max(int(budget * limit / actual) - 8, 0)
            assembled = assemble_context(inputs, budget, count, self.settings)
        return assembled

    async def _counter(
        self, pieces: Sequence[str], checkpoint: str | None
    ) -> tuple[int, TokenCounter]:
        """The window and a counter: exact for the pieces, estimated (10% to spare) for cuts
        and joins from the pieces' tokens per character."""
        pieces = list(pieces[-(MAX_TOKENIZE_TEXTS - 1) :])
        try:
            counted = await self.model.tokenize(pieces, checkpoint)
            window, counts = counted.context_window, counted.counts
            if len(counts) != len(pieces):
                raise ModelClientError("The model server counted the wrong number of texts.")
        except ModelClientError:  # down or refusing: estimate, the request itself will tell
            window = FALLBACK_WINDOW
            counts = [math.ceil(len(p) / FALLBACK_CHARS_PER_TOKEN) for p in pieces]
        ratio = max(sum(counts) / (sum(len(p) for p in pieces) or 1), 1 / 8) * 1.1
        exact = dict(zip(pieces, counts, strict=True))

        def count(text: str) -> int:
            return exact.get(text) or math.ceil(len(text) * ratio) + 1

        return window, count
