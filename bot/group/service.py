"""The story service with group storytelling: story threads, turn-taking, candidate votes, lore,
memory and author's note, per-server moderation, export. Plain Python, no Discord.

`GroupStoryService` extends the bot's `StoryService`, so every command of the bot (its cogs and
play mode) gets the group behaviour by constructing this class instead:

* the model's context is assembled by `bot.group.context.assemble_context` (memory, triggered
  lore, opening, recent turns, author's note), trimmed to the checkpoint's window;
* everything people send (turns, prompts, titles, lore, memory, notes) passes the server's
  moderation first, and what the model writes is regenerated up to `max_attempts` times when it
  hits the blocklist, then withheld with a notice (the story stays unchanged);
* a person's turn follows the story's turn mode; when a round completes, the listeners in
  `round_listeners` are told (the Discord cog lets the bot write then).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.group.context import (
    AssembledContext,
    ContextInputs,
    ContextSettings,
    assemble_context,
    check_memory,
    check_note,
)
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
from bot.group.export import (
    Passage as BookPassage,
)
from bot.group.lore import LoreEntry
from bot.group.moderation import (
    DEFAULT_ATTEMPTS,
    ModerationPolicy,
    Moderator,
    StockProfanityFilter,
    add_term,
    generate_clean,
    remove_term,
)
from bot.group.store import (
    GroupStore,
    Participant,
    StoredVote,
    StoryExtras,
    VoteCandidate,
)
from bot.group.turns import TurnMode, TurnRefused, TurnRules, TurnTaking
from bot.group.voting import CastOutcome, CloseReason, VoteResult, check_candidates, check_timeout
from bot.model_client import ModelClient, ModelClientError
from bot.store import SavedPrompt, Story, Turn
from bot.story import (
    FALLBACK_CHARS_PER_TOKEN,
    FALLBACK_WINDOW,
    NO_STORY,
    PROMPT_OVERHEAD_TOKENS,
    WRITE_TASK,
    Author,
    Defaults,
    EffectiveSettings,
    Limits,
    ModelContext,
    OnText,
    Passage,
    StoryError,
    StoryKey,
    StoryService,
    coerce_genre,
)
from bot.text import short_title
from core.controls import Emotion, Genre, Task
from core.protocol import GenerateRequest, GenerateResponse

log = logging.getLogger(__name__)

RoundListener = Callable[[StoryKey, Author], Coroutine[Any, Any, None]]
SEED_PARTICIPANTS_FROM_TURNS = 10
MODEL_NAME = "Campfire"


class OutputWithheld(StoryError):
    """Every try of the model hit the server's blocklist; the message is the notice."""


@dataclass(frozen=True)
class GroupDefaults:
    max_attempts: int = DEFAULT_ATTEMPTS
    """Model tries before a blocked passage is withheld."""
    context: ContextSettings = field(default_factory=ContextSettings)


@dataclass(frozen=True)
class TurnTaken:
    turn: Turn
    bot_due: bool
    """Rounds mode: this turn completed the round, the bot writes next."""


@dataclass(frozen=True)
class VoteUpdate:
    vote: StoredVote
    outcome: CastOutcome | None = None
    result: VoteResult | None = None
    turn: Turn | None = None
    """The winning passage, once it joined the story."""


@dataclass(frozen=True)
class GroupRecap:
    story: Story
    extras: StoryExtras
    turns: list[Turn]
    lore: list[LoreEntry]
    participants: list[Participant]
    checkpoint: str | None
    context: AssembledContext | None
    turn_status: str


def _turn_authors(turns: Sequence[Turn]) -> list[int | None]:
    return [t.author_id if t.kind == "human" else None for t in turns]


class GroupStoryService(StoryService):
    def __init__(
        self,
        store: GroupStore,
        model: ModelClient,
        *,
        defaults: Defaults | None = None,
        limits: Limits | None = None,
        group: GroupDefaults | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(store, model, defaults=defaults, limits=limits)
        self.group_store = store
        self.group = group or GroupDefaults()
        self.clock = clock
        self.profanity = StockProfanityFilter()
        self.round_listeners: list[RoundListener] = []
        self._tasks: set[asyncio.Task[None]] = set()
        # The moderator of the command being served (set per call, so per asyncio task).
        self._moderator: ContextVar[Moderator | None] = ContextVar(
            f"campfire-moderator-{id(self)}", default=None
        )

    # --- moderation --------------------------------------------------------------------------

    async def moderator(self, guild_id: int) -> Moderator:
        policy = await self.group_store.moderation_policy(guild_id)
        return Moderator(policy, self.profanity)

    async def _check_input(self, key: StoryKey, *texts: tuple[str, str | None]) -> Moderator:
        """Refuse input that breaks the server's policy; texts are (what, text) pairs."""
        moderator = await self.moderator(key.guild_id)
        for what, text in texts:
            if text:
                moderator.check_input(text, what)
        return moderator

    async def check_input(self, key: StoryKey, what: str, text: str | None) -> None:
        """Raise Blocked when text breaks the server's policy (what: "Your title", ...)."""
        await self._check_input(key, (what, text))

    async def _moderated(
        self, moderator: Moderator, work: Callable[[], Awaitable[Passage]]
    ) -> Passage:
        token = self._moderator.set(moderator)
        try:
            return await work()
        finally:
            self._moderator.reset(token)

    async def _generate(
        self, request: GenerateRequest, on_text: OnText | None
    ) -> tuple[GenerateResponse, str]:
        moderator = self._moderator.get()
        policy = moderator.policy if moderator is not None else ModerationPolicy()
        if moderator is None or not (policy.blocked or policy.profanity_filter):
            return await super()._generate(request, on_text)
        # Moderated: nothing is streamed, so a blocked passage is never shown.
        for _ in range(self.group.max_attempts):
            response, text = await super()._generate(request, None)
            if moderator.allows(text):
                if on_text is not None:
                    await on_text(text)
                return response, text
        tries = self.group.max_attempts
        raise OutputWithheld(
            f"The passage was withheld: the model kept writing words this server blocks "
            f"({tries} {'try' if tries == 1 else 'tries'}). The story is unchanged; try again "
            "or steer it elsewhere."
        )

    async def add_blocked(self, guild_id: int, term: str, by: int | None) -> tuple[str, ...]:
        policy = await self.group_store.moderation_policy(guild_id)
        terms = add_term(policy.blocked, term)
        await self.group_store.set_blocked_terms(guild_id, terms, by)
        return terms

    async def remove_blocked(self, guild_id: int, term: str) -> tuple[str, ...]:
        policy = await self.group_store.moderation_policy(guild_id)
        terms = remove_term(policy.blocked, term)
        await self.group_store.set_blocked_terms(guild_id, terms, None)
        return terms

    async def set_profanity_filter(self, guild_id: int, enabled: bool) -> ModerationPolicy:
        await self.group_store.set_profanity_filter(guild_id, enabled)
        return await self.group_store.moderation_policy(guild_id)

    # --- context -----------------------------------------------------------------------------

    async def _assemble(
        self, story_id: int, turns: Sequence[Turn], settings: EffectiveSettings
    ) -> AssembledContext:
        extras = await self.group_store.extras(story_id)
        lore = await self.group_store.lore(story_id)
        opening, rest = turns[0].text, [t.text for t in turns[1:]]
        pieces = [extras.memory, extras.authors_note, *(e.render() for e in lore), opening, *rest]
        pieces = [p for p in pieces if p][-255:]
        try:
            counted = await self.model.tokenize(pieces, settings.checkpoint)
            window, counts = counted.context_window, counted.counts
        except ModelClientError:  # down or refusing: estimate, the request itself will tell
            window = FALLBACK_WINDOW
            counts = [math.ceil(len(p) / FALLBACK_CHARS_PER_TOKEN) for p in pieces]
        ratio = max(sum(counts) / (sum(len(p) for p in pieces) or 1), 1 / 8) * 1.1
        exact = dict(zip(pieces, counts, strict=True))

        def count(text: str) -> int:
            return exact.get(text) or math.ceil(len(text) * ratio) + 1

        limit = max(window - settings.max_new_tokens - PROMPT_OVERHEAD_TOKENS, 0)
        inputs = ContextInputs(opening, rest, extras.memory, extras.authors_note, lore)
        budget = limit
        assembled = assemble_context(inputs, budget, count, self.group.context)
        for _ in range(3):
            if not assembled.text:
                break
            try:
                actual = (await self.model.tokenize([assembled.text], settings.checkpoint)).counts
            except ModelClientError:  # down or refusing: estimate, the request itself will tell
                break
            if actual[0] <= limit:
                break
            budget = max(budget - (actual[0] - limit) - 8, 0)
            assembled = assemble_context(inputs, budget, count, self.group.context)
        return assembled

    async def _continuation_context(
        self, turns: Sequence[Turn], settings: EffectiveSettings
    ) -> ModelContext:
        if not turns:
            return ModelContext("")
        assembled = await self._assemble(turns[0].story_id, turns, settings)
        return ModelContext(assembled.story, assembled.background, assembled.note)

    # --- commands of the bot, with moderation and turn-taking ---------------------------------

    async def prompts(
        self, key: StoryKey, author: Author, topic: str | None = None, count: int = 1
    ) -> list[SavedPrompt]:
        moderator = await self._check_input(key, ("Your topic", topic))
        saved = await super().prompts(key, author, topic, count)
        clean = [p for p in saved if moderator.allows(p.text)]
        if not clean:
            raise OutputWithheld(
                "The prompts were withheld: they used words this server blocks. Try again."
            )
        return clean

    async def respond(
        self,
        key: StoryKey,
        author: Author,
        genre: Genre | str,
        prompt: str | None = None,
        on_text: OnText | None = None,
    ) -> Passage:
        moderator = await self._check_input(key, ("Your prompt", prompt))
        return await self._moderated(
            moderator,
            lambda: super(GroupStoryService, self).respond(key, author, genre, prompt, on_text),
        )

    async def write_prompt(
        self, key: StoryKey, author: Author, prompt_id: int, on_text: OnText | None = None
    ) -> Passage:
        moderator = await self.moderator(key.guild_id)
        return await self._moderated(
            moderator,
            lambda: super(GroupStoryService, self).write_prompt(key, author, prompt_id, on_text),
        )

    async def continue_story(
        self,
        key: StoryKey,
        author: Author,
        genre: Genre | str | None = None,
        on_text: OnText | None = None,
    ) -> Passage:
        moderator = await self.moderator(key.guild_id)
        return await self._moderated(
            moderator,
            lambda: super(GroupStoryService, self).continue_story(key, author, genre, on_text),
        )

    async def poem(
        self,
        key: StoryKey,
        author: Author,
        emotion: Emotion | str,
        title: str | None = None,
        on_text: OnText | None = None,
    ) -> Passage:
        moderator = await self._check_input(key, ("Your title", title))
        return await self._moderated(
            moderator,
            lambda: super(GroupStoryService, self).poem(key, author, emotion, title, on_text),
        )

    async def regenerate(
        self, key: StoryKey, author: Author, turn_id: int, on_text: OnText | None = None
    ) -> Passage:
        moderator = await self.moderator(key.guild_id)
        return await self._moderated(
            moderator,
            lambda: super(GroupStoryService, self).regenerate(key, author, turn_id, on_text),
        )

    async def write(self, key: StoryKey, author: Author, text: str) -> Turn:
        return (await self.take_turn(key, author, text)).turn

    async def take_turn(self, key: StoryKey, author: Author, text: str) -> TurnTaken:
        """A person's own passage, if the story's moderation and turn mode allow it."""
        text = self.limits.check_write(text)
        await self._check_input(key, ("Your turn", text))
        async with self.lock(key):
            story = await self.store.active_story(key.guild_id, key.channel_id)
            if story is None:
                story = await self.store.start_story(
                    key.guild_id, key.channel_id, title=short_title(text), created_by=author.id
                )
            state = await self._turn_state(story)
            if state.rules.mode is TurnMode.ROUNDS:
                state.check(author.id)
            await self.group_store.add_participant(story.id, author.id, author.name)
            turn = await self.store.add_turn(
                story.id,
                kind="human",
                task=WRITE_TASK,
                author_id=author.id,
                author_name=author.name,
                text=text,
            )
            after = await self._turn_state(story)
        if after.bot_due:
            self._tell_round_listeners(key, author)
        return TurnTaken(turn, after.bot_due)

    def _tell_round_listeners(self, key: StoryKey, author: Author) -> None:
        for listener in self.round_listeners:
            task = asyncio.create_task(self._run_listener(listener, key, author))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _run_listener(listener: RoundListener, key: StoryKey, author: Author) -> None:
        try:
            await listener(key, author)
        except Exception:  # a listener's failure must not go unseen, nor stop the others
            log.exception("round listener failed for channel %s", key.channel_id)

    async def wait_for_listeners(self) -> None:
        """Let the round listeners started so far finish (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- story threads, modes, participants ----------------------------------------------------

    async def _active(self, key: StoryKey) -> Story:
        story = await self.store.active_story(key.guild_id, key.channel_id)
        if story is None:
            raise StoryError(NO_STORY)
        return story

    async def _turn_state(self, story: Story) -> TurnTaking:
        extras = await self.group_store.extras(story.id)
        people = [p.user_id for p in await self.group_store.participants(story.id)]
        turns = await self.store.turns(story.id)
        return TurnTaking.of(extras.rules, people, _turn_authors(turns))

    async def new_story(
        self, key: StoryKey, author: Author, title: str, parent_channel_id: int | None
    ) -> Story:
        """A story of its own in a (new) thread: key is the thread, title names the story."""
        checked = self.limits.check_title(title)
        if not checked:
            raise StoryError("Give the story a title, e.g. /story new title:The Lighthouse")
        await self._check_input(key, ("The title", checked))
        async with self.lock(key):
            story = await self.store.start_story(
                key.guild_id, key.channel_id, title=checked, created_by=author.id
            )
            await self.group_store.update_extras(story.id, parent_channel_id=parent_channel_id)
            await self.group_store.add_participant(story.id, author.id, author.name)
            return story

    async def extras(self, key: StoryKey) -> tuple[Story, StoryExtras] | None:
        story = await self.store.active_story(key.guild_id, key.channel_id)
        if story is None:
            return None
        return story, await self.group_store.extras(story.id)

    async def is_listening_thread(self, key: StoryKey) -> bool:
        """Plain messages here are turns: an active story opened as a thread, listening."""
        found = await self.extras(key)
        return found is not None and found[1].parent_channel_id is not None and found[1].listen

    async def set_listen(self, key: StoryKey, listen: bool) -> StoryExtras:
        story = await self._active(key)
        return await self.group_store.update_extras(story.id, listen=listen)

    async def set_mode(
        self, key: StoryKey, mode: TurnMode | str, round_size: int | None = None
    ) -> StoryExtras:
        try:
            checked_mode = TurnMode(mode)
        except ValueError:
            raise StoryError("mode must be free or rounds") from None
        rules = TurnRules(checked_mode, round_size if checked_mode is TurnMode.ROUNDS else None)
        async with self.lock(key):
            story = await self._active(key)
            if rules.mode is TurnMode.ROUNDS and not await self.group_store.participants(story.id):
                recent = (await self.store.turns(story.id))[-SEED_PARTICIPANTS_FROM_TURNS:]
                for turn in recent:
                    if turn.kind == "human":
                        await self.group_store.add_participant(
                            story.id, turn.author_id, turn.author_name
                        )
            return await self.group_store.update_extras(
                story.id, mode=rules.mode, round_size=rules.round_size
            )

    async def join(self, key: StoryKey, author: Author) -> bool:
        story = await self._active(key)
        return await self.group_store.add_participant(story.id, author.id, author.name)

    async def leave(self, key: StoryKey, author: Author) -> bool:
        story = await self._active(key)
        return await self.group_store.remove_participant(story.id, author.id)

    async def turn_status(self, key: StoryKey) -> str:
        story = await self._active(key)
        return (await self._turn_state(story)).status()

    # --- memory, note, lore ------------------------------------------------------------------

    async def set_memory(self, key: StoryKey, text: str) -> StoryExtras:
        memory = check_memory(text)
        await self._check_input(key, ("The memory", memory))
        story = await self._active(key)
        return await self.group_store.update_extras(story.id, memory=memory)

    async def set_note(self, key: StoryKey, text: str) -> StoryExtras:
        note = check_note(text)
        await self._check_input(key, ("The author's note", note))
        story = await self._active(key)
        return await self.group_store.update_extras(story.id, authors_note=note)

    async def add_lore(
        self, key: StoryKey, author: Author, name: str, keywords: str, text: str
    ) -> tuple[LoreEntry, bool]:
        """Add (True) or replace (False) a lore entry of the channel's story."""
        entry = LoreEntry.create(name, keywords, text)
        await self._check_input(
            key,
            ("The lore name", entry.name),
            ("The keywords", ", ".join(entry.keywords)),
            ("The lore text", entry.text),
        )
        story = await self._active(key)
        added = await self.group_store.add_lore(story.id, entry, author.id)
        return entry, added

    async def remove_lore(self, key: StoryKey, name: str) -> None:
        story = await self._active(key)
        if not await self.group_store.remove_lore(story.id, " ".join(name.split())):
            names = ", ".join(e.name for e in await self.group_store.lore(story.id)) or "none yet"
            raise StoryError(f"No lore entry is called {name!r}. Entries: {names}.")

    async def lore(self, key: StoryKey) -> list[LoreEntry]:
        story = await self._active(key)
        return await self.group_store.lore(story.id)

    async def set_vote_defaults(
        self, key: StoryKey, candidates: int | None = None, vote_seconds: int | None = None
    ) -> StoryExtras:
        story = await self._active(key)
        changes: dict[str, int] = {}
        if candidates is not None:
            changes["candidates"] = 1 if candidates == 1 else check_candidates(candidates)
        if vote_seconds is not None:
            check_timeout(timedelta(seconds=vote_seconds))
            changes["vote_seconds"] = vote_seconds
        return await self.group_store.update_extras(story.id, **changes)

    # --- votes -------------------------------------------------------------------------------

    async def open_vote(
        self,
        key: StoryKey,
        author: Author,
        candidates: int | None = None,
        genre: Genre | str | None = None,
    ) -> tuple[StoredVote, str | None]:
        """Generate candidate continuations in one batch and open a vote on them.

        Returns the vote and a notice when some candidates were withheld by moderation.
        """
        checked_genre = coerce_genre(genre)
        moderator = await self.moderator(key.guild_id)
        async with self.lock(key):
            story = await self._active(key)
            extras = await self.group_store.extras(story.id)
            count = check_candidates(candidates if candidates is not None else extras.candidates)
            if checked_genre is None:
                checked_genre = coerce_genre(story.genre)
            settings = await self.settings_for(key)
            turns = await self.store.turns(story.id)
            base = await self._continuation_request(settings, story, turns, checked_genre, count)
            task = base.task
            checkpoint: list[str] = []

            async def generate(n: int) -> list[VoteCandidate]:
                response = await self.model.generate(base.model_copy(update={"n": n}))
                checkpoint.append(response.checkpoint)
                return [
                    VoteCandidate(c.text.strip(), c.copied_from_training)
                    for c in response.candidates
                    if c.text.strip()
                ]

            batch = await generate_clean(
                generate, count, moderator, lambda c: c.text, self.group.max_attempts
            )
            if len(batch.items) < 2:
                raise OutputWithheld(
                    batch.notice() or "The model wrote too few candidates to vote on. Try again."
                )
            people = len(await self.group_store.participants(story.id))
            vote = await self.group_store.open_vote(
                story.id,
                batch.items,
                task=task.value,
                genre=checked_genre.value if checked_genre else None,
                checkpoint=checkpoint[-1] if checkpoint else None,
                asked_by=author.id,
                asked_by_name=author.name,
                participants=max(people, 1),
                opened_at=self.clock(),
                open_for=timedelta(seconds=extras.vote_seconds),
            )
            return vote, batch.notice()

    async def _vote_in_channel(self, key: StoryKey, vote_id: int) -> tuple[Story, StoredVote]:
        vote = await self.group_store.vote(vote_id)
        story = await self.store.story(vote.story_id) if vote else None
        if (
            vote is None
            or story is None
            or (story.guild_id, story.channel_id)
            != (
                key.guild_id,
                key.channel_id,
            )
        ):
            raise StoryError("That vote is not part of this channel's story.")
        return story, vote

    async def cast_vote(
        self, key: StoryKey, vote_id: int, voter: Author, candidate: int
    ) -> VoteUpdate:
        """One member's vote (0-based candidate); a majority closes the vote at once."""
        async with self.lock(key):
            story, vote = await self._vote_in_channel(key, vote_id)
            now = self.clock()
            if vote.ballot.due(now):
                return await self._close_locked(story, vote, CloseReason.TIME)
            outcome = vote.ballot.cast(voter.id, candidate, now)
            await self.group_store.cast_ballot(vote.id, voter.id, candidate)
            if vote.ballot.result is not None:
                return await self._close_locked(story, vote, vote.ballot.result.reason, outcome)
            return VoteUpdate(vote, outcome)

    async def close_vote(self, key: StoryKey, vote_id: int) -> VoteUpdate:
        """Close a vote whose time is up (a no-op returning the result if already closed)."""
        async with self.lock(key):
            story, vote = await self._vote_in_channel(key, vote_id)
            if vote.closed:
                turn = await self.store.turn(vote.turn_id) if vote.turn_id else None
                return VoteUpdate(vote, result=vote.ballot.result, turn=turn)
            return await self._close_locked(story, vote, CloseReason.TIME)

    async def _close_locked(
        self,
        story: Story,
        vote: StoredVote,
        reason: CloseReason,
        outcome: CastOutcome | None = None,
    ) -> VoteUpdate:
        result = vote.ballot.result or vote.ballot.close(reason)
        turn: Turn | None = None
        fresh = await self.store.story(story.id)
        if result.winner is not None and fresh is not None and fresh.ended_at is None:
            winner = vote.candidates[result.winner]
            turn = await self.store.add_turn(
                story.id,
                kind="model",
                task=vote.task,
                author_id=vote.asked_by,
                author_name=vote.asked_by_name,
                text=winner.text,
                genre=vote.genre,
                checkpoint=vote.checkpoint,
            )
        await self.group_store.close_vote(vote.id, result, turn.id if turn else None)
        return VoteUpdate(vote, outcome, result, turn)

    # --- show and export ---------------------------------------------------------------------

    async def show_group(self, key: StoryKey) -> GroupRecap:
        story = await self._active(key)
        extras = await self.group_store.extras(story.id)
        turns = await self.store.turns(story.id)
        settings = await self.settings_for(key)
        checkpoint = settings.checkpoint or next(
            (t.checkpoint for t in reversed(turns) if t.checkpoint), None
        )
        context = await self._assemble(story.id, turns, settings) if turns else None
        return GroupRecap(
            story,
            extras,
            turns,
            await self.group_store.lore(story.id),
            await self.group_store.participants(story.id),
            checkpoint,
            context,
            (await self._turn_state(story)).status(),
        )

    async def export_story(
        self, key: StoryKey, fmt: ExportFormat | str, *, kept_only: bool = False
    ) -> tuple[str, bytes]:
        """(file name, file bytes) of the channel's story, or only its kept passages.

        Markdown is the bot's own story export; EPUB has one chapter per round."""
        checked = _export_format(fmt)
        if checked is ExportFormat.MARKDOWN:
            name, text = await self.export_markdown(key, kept_only=kept_only)
            return name, text.encode("utf-8")
        story = await self._active(key)
        turns = await self.store.turns(story.id)
        if kept_only:
            turns = [t for t in turns if t.kept]
            if not turns:
                raise StoryError("No passage is kept yet: press Keep under the ones you like.")
        book = story_book(story, turns)
        return export_filename(book.title, checked), render(book, checked)

    async def export_anthology(self, key: StoryKey, fmt: ExportFormat | str) -> tuple[str, bytes]:
        """(file name, file bytes) of the kept passages, poems and prompts of a channel and its
        story threads."""
        checked = _export_format(fmt)
        stories = await self.group_store.channel_stories(key.guild_id, key.channel_id)
        stories += await self.group_store.thread_stories(key.channel_id)
        pieces: list[AnthologyPiece] = []
        for story in stories:
            if story.prompt:
                pieces.append(AnthologyPiece(AnthologyKind.PROMPT, story.prompt))
        for turn in await self.group_store.kept_turns([s.id for s in stories]):
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


__all__ = [
    "MODEL_NAME",
    "GroupDefaults",
    "GroupRecap",
    "GroupStoryService",
    "OutputWithheld",
    "TurnRefused",
    "TurnTaken",
    "VoteUpdate",
    "story_book",
]
