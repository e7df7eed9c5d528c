"""Candidate votes: several continuations in one batch, one vote per member (changeable), closed
by a majority or by time; the winner joins the story."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.group.moderation import generate_clean
from bot.group.voting import CastOutcome, CloseReason, VoteResult, check_candidates
from bot.store import StoredVote, Story, Turn, VoteCandidate
from bot.story.parts import StoryParts
from bot.story.values import Author, OutputWithheld, StoryError, StoryKey, coerce_genre
from core.controls import Genre


@dataclass(frozen=True)
class VoteUpdate:
    vote: StoredVote
    outcome: CastOutcome | None = None
    result: VoteResult | None = None
    turn: Turn | None = None
    """The winning passage, once it joined the story."""


class Votes:
    def __init__(self, parts: StoryParts) -> None:
        self.parts = parts
        self.store = parts.store

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
        moderator = await self.parts.moderator(key.guild_id)
        async with self.parts.lock(key):
            story = await self.parts.active(key)
            extras = await self.store.extras(story.id)
            count = check_candidates(candidates if candidates is not None else extras.candidates)
            if checked_genre is None:
                checked_genre = coerce_genre(story.genre)
            settings = await self.parts.settings_for(key)
            turns = await self.store.turns(story.id)
            continuation = await self.parts.continuation_request(
                story, turns, settings, checked_genre, count
            )
            base = continuation.request
            task = base.task
            checkpoint: list[str] = []

            async def generate(n: int) -> list[VoteCandidate]:
                response = await self.parts.model.generate(base.model_copy(update={"n": n}))
                checkpoint.append(response.checkpoint)
                return [
                    VoteCandidate(c.text.strip(), c.copied_from_training)
                    for c in response.candidates
                    if c.text.strip()
                ]

            batch = await generate_clean(
                generate, count, moderator, lambda c: c.text, self.parts.writer.max_attempts
            )
            if len(batch.items) < 2:
                raise OutputWithheld(
                    batch.notice() or "The model wrote too few candidates to vote on. Try again."
                )
            people = len(await self.store.participants(story.id))
            vote = await self.store.open_vote(
                story.id,
                batch.items,
                task=task.value,
                genre=checked_genre.value if checked_genre else None,
                checkpoint=checkpoint[-1] if checkpoint else None,
                asked_by=author.id,
                asked_by_name=author.name,
                participants=max(people, 1),
                opened_at=self.parts.clock(),
                open_for=timedelta(seconds=extras.vote_seconds),
            )
            return vote, batch.notice()

    async def _vote_in_channel(self, key: StoryKey, vote_id: int) -> tuple[Story, StoredVote]:
        vote = await self.store.vote(vote_id)
        story = await self.store.story(vote.story_id) if vote else None
        if vote is None or story is None or StoryKey(story.guild_id, story.channel_id) != key:
            raise StoryError("That vote is not part of this channel's story.")
        return story, vote

    async def cast_vote(
        self, key: StoryKey, vote_id: int, voter: Author, candidate: int
    ) -> VoteUpdate:
        """One member's vote (0-based candidate); a majority closes the vote at once (the
        ballot, the winner's passage and the closing are one transaction)."""

        async def record() -> VoteUpdate:
            story, vote = await self._vote_in_channel(key, vote_id)
            now = self.parts.clock()
            if vote.ballot.due(now):
                return await self._close_locked(story, vote, CloseReason.TIME)
            outcome = vote.ballot.cast(voter.id, candidate, now)
            await self.store.cast_ballot(vote.id, voter.id, candidate)
            if vote.ballot.result is not None:
                return await self._close_locked(story, vote, vote.ballot.result.reason, outcome)
            return VoteUpdate(vote, outcome)

        async with self.parts.lock(key):
            return await self.store.atomically(record)

    async def close_vote(self, key: StoryKey, vote_id: int) -> VoteUpdate:
        """Close a vote whose time is up (a no-op returning the result if already closed)."""
        async with self.parts.lock(key):
            story, vote = await self._vote_in_channel(key, vote_id)
            if vote.closed:
                turn = await self.store.turn(vote.turn_id) if vote.turn_id else None
                return VoteUpdate(vote, result=vote.ballot.result, turn=turn)
            return await self.store.atomically(
                lambda: self._close_locked(story, vote, CloseReason.TIME)
            )

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
        await self.store.close_vote(vote.id, result, turn.id if turn else None)
        return VoteUpdate(vote, outcome, result, turn)

    async def open_votes(self) -> list[StoredVote]:
        """Every vote not closed yet (to close them on time after a restart)."""
        return await self.store.open_votes()

    async def set_message(self, vote_id: int, message_id: int) -> None:
        await self.store.set_vote_message(vote_id, message_id)

    async def find(self, vote_id: int) -> tuple[StoryKey, StoredVote] | None:
        """A vote and where its story lives, or None when either is gone."""
        vote = await self.store.vote(vote_id)
        story = await self.store.story(vote.story_id) if vote else None
        if vote is None or story is None:
            return None
        return StoryKey(story.guild_id, story.channel_id), vote
