"""Model settings (checkpoint, length, temperature, cooldown, sampler preset) stored per server
and per channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import aiosqlite

from bot.store.db import Database

Scope = Literal["server", "channel"]


@dataclass(frozen=True)
class ScopeSettings:
    """Overrides stored for one server or one channel; None means "not set here"."""

    checkpoint: str | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    cooldown_seconds: float | None = None
    preset: str | None = None


SETTING_NAMES = ("checkpoint", "max_new_tokens", "temperature", "cooldown_seconds", "preset")


class SettingsTables(Database):
    async def guild_settings(self, guild_id: int) -> ScopeSettings:
        row = await self.fetchone(
            f"SELECT {', '.join(SETTING_NAMES)} FROM guild_settings WHERE guild_id = ?",
            (guild_id,),
        )
        return ScopeSettings() if row is None else ScopeSettings(*row)

    async def channel_settings(self, channel_id: int) -> ScopeSettings:
        row = await self.fetchone(
            f"SELECT {', '.join(SETTING_NAMES)} FROM channel_settings WHERE channel_id = ?",
            (channel_id,),
        )
        return ScopeSettings() if row is None else ScopeSettings(*row)

    async def update_settings(
        self, scope: Scope, guild_id: int, channel_id: int, **changes: object
    ) -> ScopeSettings:
        """Set (or, with None, clear) settings for a server or a channel; returns the result."""
        unknown = set(changes) - set(SETTING_NAMES)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")

        async def work(db: aiosqlite.Connection) -> None:
            if scope == "server":
                await db.execute(
                    "INSERT OR IGNORE INTO guild_settings (guild_id) VALUES (?)", (guild_id,)
                )
                key_sql, key = "guild_id = ?", guild_id
                table = "guild_settings"
            else:
                await db.execute(
                    "INSERT OR IGNORE INTO channel_settings (channel_id, guild_id) VALUES (?, ?)",
                    (channel_id, guild_id),
                )
                key_sql, key = "channel_id = ?", channel_id
                table = "channel_settings"
            for name, value in changes.items():
                # name is checked against SETTING_NAMES above, so it is safe in the SQL text.
                await db.execute(f"UPDATE {table} SET {name} = ? WHERE {key_sql}", (value, key))

        await self.transaction(work)
        if scope == "server":
            return await self.guild_settings(guild_id)
        return await self.channel_settings(channel_id)
