"""A database file written by the bot before the store was one package opens, migrates in place
and keeps every story, turn, setting, lore entry, vote and blocklist.

data/schema_v2_main.sql is an `iterdump()` of a file that the previous store code (bot/store.py
plus bot/group/store.py, schema version 2) wrote: three stories (one ended, one a thread), turns
with a regeneration, kept turns, lore, an open vote with a ballot, settings and a blocklist.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.group.turns import TurnMode
from bot.store import MIGRATIONS, Migration, Store

DUMP = Path(__file__).parent / "data" / "schema_v2_main.sql"


def old_database(tmp_path: Path) -> Path:
    path = tmp_path / "campfire.db"
    with sqlite3.connect(path) as db:
        db.executescript(DUMP.read_text())
    return path


async def test_a_database_from_before_opens_with_every_story(tmp_path: Path) -> None:
    path = old_database(tmp_path)
    async with await Store.open(path) as store:
        assert await store.schema_version() == MIGRATIONS[-1].version
        story = await store.active_story(1, 10)
        assert story is not None and story.title == "The lighthouse"
        texts = [t.text for t in await store.turns(story.id)]
        assert texts == ["The keeper climbed.", "Something knocked.", "The lamp flickered."]
        history = await store.turns(story.id, include_hidden=True)
        assert [t.status for t in history].count("replaced") == 1
        assert [t.text for t in await store.kept_turns([story.id])] == ["The keeper climbed."]
        assert await store.turn_message_ids(history[0].id) == [1001, 1002]
        extras = await store.extras(story.id)
        assert (extras.memory, extras.mode, extras.round_size) == (
            "Keeper: Ada.",
            TurnMode.ROUNDS,
            2,
        )
        assert [e.name for e in await store.lore(story.id)] == ["Lamp"]
        assert [p.name for p in await store.participants(story.id)] == ["ada"]
        (vote,) = await store.open_votes(story.id)
        assert [c.text for c in vote.candidates] == ["One.", "Two."] and vote.candidates[1].copied
        policy = await store.moderation_policy(1)
        assert policy.blocked == ("goblin",) and policy.profanity_filter
        assert (await store.guild_settings(1)).temperature == 0.5
        assert (await store.channel_settings(10)).max_new_tokens == 99
        assert [s.title for s in await store.channel_stories(1, 11)] == ["Ended one"]
        assert [s.title for s in await store.thread_stories(10)] == ["Thread story"]
        # what later versions added starts empty, and works on the upgraded file
        assert extras.word_goal is None and await store.chapter_breaks(story.id) == []
        assert (await store.update_extras(story.id, word_goal=50000)).word_goal == 50000
        chapter, _ = await store.add_chapter_break(story.id, "Part two", 5)
        assert chapter.first_position == 4  # after the three turns (a regeneration took its place)


async def test_an_old_database_takes_the_next_migration_and_keeps_writing(tmp_path: Path) -> None:
    path = old_database(tmp_path)
    later = Migration(MIGRATIONS[-1].version + 1, "a later table", "CREATE TABLE later (x);")
    async with await Store.open(path, migrations=(*MIGRATIONS, later)) as store:
        assert await store.schema_version() == later.version
        story = await store.active_story(1, 10)
        assert story is not None
        turn = await store.add_turn(
            story.id, kind="human", task="write", author_id=9, author_name="cy", text="Later."
        )
        assert turn.position == 4
