"""The group tables: migrations on top of the bot's, story extras, participants, lore, votes,
moderation, kept turns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.group.lore import LoreEntry
from bot.group.turns import TurnMode
from bot.group.voting import CloseReason
from bot.store import Store, VoteCandidate


async def test_extras_participants_and_lore(group_store: Store) -> None:
    story = await group_store.start_story(1, 2)
    extras = await group_store.update_extras(
        story.id, memory="M", mode=TurnMode.ROUNDS, round_size=3, listen=False
    )
    assert (extras.memory, extras.mode, extras.round_size, extras.listen) == (
        "M",
        TurnMode.ROUNDS,
        3,
        False,
    )
    assert await group_store.add_participant(story.id, 7, "ann")
    assert not await group_store.add_participant(story.id, 7, "Ann B.")
    assert await group_store.add_participant(story.id, 8, "ben")
    assert [(p.user_id, p.name) for p in await group_store.participants(story.id)] == [
        (7, "Ann B."),
        (8, "ben"),
    ]
    assert await group_store.remove_participant(story.id, 7)
    mira = LoreEntry.create("Mira", "Mira, keeper", "The keeper.")
    assert await group_store.add_lore(story.id, mira, 7)
    changed = LoreEntry.create("mira", "Mira", "Now the old keeper.")
    assert not await group_store.add_lore(story.id, changed, 7)  # same name: replaced
    assert await group_store.lore(story.id) == [changed]
    assert await group_store.remove_lore(story.id, "MIRA")
    assert await group_store.lore(story.id) == []


async def test_votes_round_trip_with_changed_ballots(group_store: Store) -> None:
    story = await group_store.start_story(1, 2)
    opened = datetime(2026, 1, 1, tzinfo=UTC)
    vote = await group_store.open_vote(
        story.id,
        [VoteCandidate("one"), VoteCandidate("two", copied=True)],
        task="continue",
        genre="horror",
        checkpoint="tiny",
        asked_by=7,
        asked_by_name="ann",
        participants=3,
        opened_at=opened,
        open_for=timedelta(seconds=60),
    )
    await group_store.cast_ballot(vote.id, 7, 0)
    await group_store.cast_ballot(vote.id, 7, 1)
    await group_store.cast_ballot(vote.id, 8, 1)
    loaded = await group_store.vote(vote.id)
    assert loaded is not None
    assert loaded.candidates[1] == VoteCandidate("two", True)
    assert loaded.ballot.votes == {7: 1, 8: 1}
    assert loaded.ballot.deadline == opened + timedelta(seconds=60)
    assert [v.id for v in await group_store.open_votes()] == [vote.id]
    result = loaded.ballot.close(CloseReason.MAJORITY)
    await group_store.close_vote(vote.id, result, None)
    closed = await group_store.vote(vote.id)
    assert closed is not None and closed.closed
    assert closed.ballot.result is not None and closed.ballot.result.winner == 1
    assert await group_store.open_votes() == []


async def test_moderation_policy_per_server(group_store: Store) -> None:
    await group_store.set_blocked_terms(1, ["goblin", "troll"], 7)
    await group_store.set_profanity_filter(1, True)
    policy = await group_store.moderation_policy(1)
    assert policy.blocked == ("goblin", "troll")
    assert policy.profanity_filter
    await group_store.set_blocked_terms(1, ["troll"], 7)
    assert (await group_store.moderation_policy(1)).blocked == ("troll",)
    other = await group_store.moderation_policy(2)
    assert other.blocked == () and not other.profanity_filter
