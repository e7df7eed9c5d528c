"""The SQLite store: migrations, stories per channel, turns with history, settings, locks."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import aiosqlite
import pytest

from bot.store import MIGRATIONS, Migration, Store


async def test_migrations_applied_once_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with await Store.open(path) as store:
        assert await store.schema_version() == MIGRATIONS[-1].version
    async with await Store.open(path) as store:  # reopening applies nothing twice
        assert await store.schema_version() == MIGRATIONS[-1].version
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)


async def test_a_later_migration_adds_a_table(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with await Store.open(path) as store:
        await store.start_story(1, 2, title="kept across upgrades")
    extra = Migration(MIGRATIONS[-1].version + 1, "lore", "CREATE TABLE lore (id INTEGER);")
    async with await Store.open(path, migrations=(*MIGRATIONS, extra)) as store:
        assert await store.schema_version() == extra.version
        story = await store.active_story(1, 2)
        assert story is not None and story.title == "kept across upgrades"


async def test_failed_migration_leaves_nothing_half_applied(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    broken = Migration(
        MIGRATIONS[-1].version + 1, "broken", "CREATE TABLE half (id INTEGER); NOT SQL;"
    )
    with pytest.raises(sqlite3.OperationalError):
        await Store.open(path, migrations=(*MIGRATIONS, broken))
    async with await Store.open(path) as store:
        assert await store.schema_version() == MIGRATIONS[-1].version
    with sqlite3.connect(path) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half" not in tables


async def test_newer_database_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    extra = Migration(MIGRATIONS[-1].version + 1, "future", "CREATE TABLE future (id INTEGER);")
    async with await Store.open(path, migrations=(*MIGRATIONS, extra)):
        pass
    with pytest.raises(RuntimeError, match="newer than this Campfire"):
        await Store.open(path)


async def test_stories_are_per_channel_and_reset_starts_fresh(store: Store) -> None:
    assert await store.active_story(1, 10) is None
    first = await store.start_story(1, 10, title="A", prompt="[WP] a door", created_by=7)
    other = await store.start_story(1, 11, title="B")
    assert (await store.active_story(1, 10)) == first
    assert (await store.active_story(1, 11)) == other
    assert await store.end_story(first.id)
    assert not await store.end_story(first.id)
    assert await store.active_story(1, 10) is None
    again = await store.start_story(1, 10, title="C")
    assert again.id != first.id
    # starting a story ends the active one in that channel
    newer = await store.start_story(1, 10, title="D")
    ended = await store.story(again.id)
    assert ended is not None and ended.ended_at is not None
    assert (await store.active_story(1, 10)) == newer


async def test_turns_in_order_with_regeneration_and_undo_kept_in_history(store: Store) -> None:
    story = await store.start_story(1, 10)
    t1 = await store.add_turn(
        story.id, kind="human", task="write", author_id=5, author_name="ada", text="One."
    )
    t2 = await store.add_turn(
        story.id,
        kind="model",
        task="continue",
        author_id=5,
        author_name="ada",
        text="Two.",
        genre="horror",
        checkpoint="tiny",
    )
    t2b = await store.add_turn(
        story.id,
        kind="model",
        task="continue",
        author_id=6,
        author_name="bo",
        text="Two again.",
        replaces=t2.id,
    )
    assert [t.text for t in await store.turns(story.id)] == ["One.", "Two again."]
    assert t2b.position == t2.position and t2b.replaces_id == t2.id
    replaced = await store.turn(t2.id)
    assert replaced is not None and replaced.status == "replaced"
    await store.set_turn_status(t2b.id, "undone")
    assert [t.text for t in await store.turns(story.id)] == ["One."]
    assert len(await store.turns(story.id, include_hidden=True)) == 3
    last = await store.last_turn(story.id)
    assert last is not None and last.id == t1.id
    t3 = await store.add_turn(
        story.id, kind="human", task="write", author_id=5, author_name="ada", text="Three."
    )
    assert t3.position > t2.position


async def test_replacing_a_turn_of_another_story_is_refused(store: Store) -> None:
    a = await store.start_story(1, 10)
    b = await store.start_story(1, 11)
    turn = await store.add_turn(
        a.id, kind="human", task="write", author_id=1, author_name="x", text="x"
    )
    with pytest.raises(LookupError):
        await store.add_turn(
            b.id, kind="model", task="story", author_id=1, author_name="x", text="y",
            replaces=turn.id,
        )  # fmt: skip


async def test_kept_flag_and_message_ids(store: Store) -> None:
    story = await store.start_story(1, 10)
    turn = await store.add_turn(
        story.id, kind="model", task="story", author_id=1, author_name="x", text="x"
    )
    await store.set_kept(turn.id, True)
    kept = await store.turn(turn.id)
    assert kept is not None and kept.kept
    await store.add_turn_messages(turn.id, [111, 222])
    assert await store.turn_message_ids(turn.id) == [111, 222]
    found = await store.turn_for_message(222)
    assert found is not None and found.id == turn.id
    await store.add_turn_messages(turn.id, [333])
    assert await store.turn_message_ids(turn.id) == [333]
    assert await store.turn_for_message(111) is None


async def test_settings_per_server_and_channel(store: Store) -> None:
    assert (await store.guild_settings(1)).checkpoint is None
    server = await store.update_settings("server", 1, 10, checkpoint="tiny", temperature=0.5)
    assert server.checkpoint == "tiny" and server.temperature == 0.5
    channel = await store.update_settings("channel", 1, 10, max_new_tokens=50)
    assert channel.max_new_tokens == 50 and channel.checkpoint is None
    cleared = await store.update_settings("server", 1, 10, checkpoint=None)
    assert cleared.checkpoint is None and cleared.temperature == 0.5
    with pytest.raises(ValueError, match="unknown settings"):
        await store.update_settings("server", 1, 10, colour="red")


async def test_saved_prompts(store: Store) -> None:
    saved = await store.save_prompts(1, 10, ["A dragon", "A door"], "tiny")
    assert [p.text for p in saved] == ["A dragon", "A door"]
    assert await store.prompt(saved[1].id) == saved[1]
    assert await store.prompt(9999) is None


async def test_write_waits_for_another_writer_then_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    async with await Store.open(path, busy_timeout_ms=50, retry_delay=0.05) as store:
        other = await aiosqlite.connect(path, isolation_level=None)
        await other.execute("BEGIN IMMEDIATE")  # another process holds the write lock

        async def release_soon() -> None:
            await asyncio.sleep(0.2)
            await other.execute("COMMIT")

        releaser = asyncio.create_task(release_soon())
        story = await store.start_story(1, 10, title="after the lock")
        await releaser
        await other.close()
        assert story.title == "after the lock"


async def test_two_programs_on_one_file_both_write(tmp_path: Path) -> None:
    # The Discord bot and a play session may share CAMPFIRE_DB.
    path = tmp_path / "shared.db"
    async with await Store.open(path) as bot_side, await Store.open(path) as play_side:
        story = await bot_side.start_story(1, 10)

        async def write(store: Store, who: str) -> None:
            for i in range(15):
                await store.add_turn(
                    story.id, kind="human", task="write", author_id=1, author_name=who,
                    text=f"{who} {i}",
                )  # fmt: skip

        await asyncio.gather(write(bot_side, "discord"), write(play_side, "terminal"))
        turns = await play_side.turns(story.id)
    assert len(turns) == 30
    assert len({t.position for t in turns}) == 30  # no two turns got the same place


async def test_a_feature_adds_its_own_table_and_queries_it(tmp_path: Path) -> None:
    lore = Migration(
        MIGRATIONS[-1].version + 1,
        "lore entries",
        "CREATE TABLE lore (story_id INTEGER REFERENCES stories (id), entry TEXT NOT NULL);",
    )
    async with await Store.open(tmp_path / "c.db", migrations=(*MIGRATIONS, lore)) as store:
        story = await store.start_story(1, 10)

        async def add(db: aiosqlite.Connection) -> None:
            await db.execute("INSERT INTO lore VALUES (?, ?)", (story.id, "The lighthouse is red."))

        await store.transaction(add)
        rows = await store.fetchall("SELECT entry FROM lore WHERE story_id = ?", (story.id,))
    assert rows == [("The lighthouse is red.",)]


async def test_chapter_breaks_start_at_the_next_turn_and_follow_story_order(store: Store) -> None:
    story = await store.start_story(1, 2, title="Novel")
    first = await store.add_turn(
        story.id, kind="human", task="write", author_id=1, author_name="a", text="One."
    )
    opening, new = await store.add_chapter_break(story.id, "Storm", 1)
    assert new and opening.first_position == first.position + 1
    again, new = await store.add_chapter_break(story.id, "The storm", 1)  # no turn since: renamed
    assert not new and again.first_position == opening.first_position
    second = await store.add_turn(
        story.id, kind="human", task="write", author_id=1, author_name="a", text="Two."
    )
    await store.set_turn_status(second.id, "undone")  # an undone turn still takes its place
    await store.add_chapter_break(story.id, "Calm", None)
    breaks = await store.chapter_breaks(story.id)
    assert [(b.title, b.first_position) for b in breaks] == [
        ("The storm", second.position),
        ("Calm", second.position + 1),
    ]
    extras = await store.update_extras(story.id, word_goal=50000)
    assert extras.word_goal == 50000 and (await store.extras(story.id)).word_goal == 50000
