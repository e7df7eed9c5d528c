"""Per server: the blocklist and the profanity-filter switch."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from bot.group.moderation import ModerationPolicy
from bot.store.db import Database, now


class ModerationTables(Database):
    async def moderation_policy(self, guild_id: int) -> ModerationPolicy:
        terms = await self.fetchall(
            "SELECT term FROM blocked_terms WHERE guild_id = ? ORDER BY added_at, rowid",
            (guild_id,),
        )
        row = await self.fetchone(
            "SELECT profanity_filter FROM moderation_settings WHERE guild_id = ?", (guild_id,)
        )
        return ModerationPolicy(tuple(str(t[0]) for t in terms), bool(row and row[0]))

    async def set_blocked_terms(
        self, guild_id: int, terms: Sequence[str], changed_by: int | None
    ) -> None:
        """Replace the server's blocklist (order kept; existing terms keep their date)."""

        async def work(db: aiosqlite.Connection) -> None:
            placeholders = ", ".join("?" for _ in terms)
            if terms:
                await db.execute(
                    "DELETE FROM blocked_terms "
                    f"WHERE guild_id = ? AND term NOT IN ({placeholders})",
                    (guild_id, *terms),
                )
            else:
                await db.execute("DELETE FROM blocked_terms WHERE guild_id = ?", (guild_id,))
            for term in terms:
                await db.execute(
                    "INSERT OR IGNORE INTO blocked_terms (guild_id, term, added_by, added_at) "
                    "VALUES (?, ?, ?, ?)",
                    (guild_id, term, changed_by, now()),
                )

        await self.transaction(work)

    async def set_profanity_filter(self, guild_id: int, enabled: bool) -> None:
        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(
                "INSERT INTO moderation_settings (guild_id, profanity_filter) VALUES (?, ?) "
                "ON CONFLICT (guild_id) DO UPDATE SET profanity_filter = excluded.profanity_filter",
                (guild_id, int(enabled)),
            )

        await self.transaction(work)
