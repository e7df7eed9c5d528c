"""Per story: its chapter breaks. A break starts a chapter at a turn position, so chapters follow
the story's order; the turns before the first break form the opening chapter."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from bot.store.db import Database, now


@dataclass(frozen=True)
class ChapterBreak:
    story_id: int
    first_position: int
    """The chapter starts at the turn in this position (or the first one after it)."""
    title: str


class ChapterTables(Database):
    async def chapter_breaks(self, story_id: int) -> list[ChapterBreak]:
        rows = await self.fetchall(
            "SELECT story_id, first_position, title FROM story_chapters WHERE story_id = ? "
            "ORDER BY first_position",
            (story_id,),
        )
        return [ChapterBreak(int(r[0]), int(r[1]), str(r[2])) for r in rows]

    async def add_chapter_break(
        self, story_id: int, title: str, created_by: int | None
    ) -> tuple[ChapterBreak, bool]:
        """Start a chapter at the story's next turn. When a chapter already starts there (no
        turn since the last break), it is renamed instead: False then."""

        async def work(db: aiosqlite.Connection) -> tuple[ChapterBreak, bool]:
            async with db.execute(
                "SELECT COALESCE(MAX(position), 0) + 1 FROM turns WHERE story_id = ?", (story_id,)
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            position = int(row[0])
            renamed = await db.execute(
                "UPDATE story_chapters SET title = ? WHERE story_id = ? AND first_position = ?",
                (title, story_id, position),
            )
            if not renamed.rowcount:
                await db.execute(
                    "INSERT INTO story_chapters (story_id, first_position, title, created_by, "
                    "created_at) VALUES (?, ?, ?, ?, ?)",
                    (story_id, position, title, created_by, now()),
                )
            return ChapterBreak(story_id, position, title), not renamed.rowcount

        return await self.transaction(work)
