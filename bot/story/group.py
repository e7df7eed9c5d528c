"""Writing together: story threads, turn modes and participants, memory, the author's note,
lore entries and the vote defaults of a story."""

from __future__ import annotations

from datetime import timedelta

from bot.group.lore import LoreEntry
from bot.group.turns import TurnMode, TurnRules
from bot.group.voting import check_candidates, check_timeout
from bot.store import Story, StoryExtras
from bot.story.context import check_memory, check_note
from bot.story.parts import StoryParts
from bot.story.values import Author, StoryError, StoryKey

SEED_PARTICIPANTS_FROM_TURNS = 10


class StoryGroup:
    def __init__(self, parts: StoryParts) -> None:
        self.parts = parts
        self.store = parts.store

    async def new_story(
        self, key: StoryKey, author: Author, title: str, parent_channel_id: int | None
    ) -> Story:
        """A story of its own in a (new) thread: key is the thread, title names the story."""
        checked = self.parts.limits.check_title(title)
        if not checked:
            raise StoryError("Give the story a title, e.g. /story new title:The Lighthouse")
        await self.parts.check_input(key, ("The title", checked))

        async def record() -> Story:
            story = await self.store.start_story(
                key.guild_id, key.channel_id, title=checked, created_by=author.id
            )
            await self.store.update_extras(story.id, parent_channel_id=parent_channel_id)
            await self.store.add_participant(story.id, author.id, author.name)
            return story

        async with self.parts.lock(key):
            return await self.store.atomically(record)

    async def extras(self, key: StoryKey) -> tuple[Story, StoryExtras] | None:
        story = await self.store.active_story(key.guild_id, key.channel_id)
        if story is None:
            return None
        return story, await self.store.extras(story.id)

    async def is_listening_thread(self, key: StoryKey) -> bool:
        """Plain messages here are turns: an active story opened as a thread, listening."""
        found = await self.extras(key)
        return found is not None and found[1].parent_channel_id is not None and found[1].listen

    async def set_listen(self, key: StoryKey, listen: bool) -> StoryExtras:
        story = await self.parts.active(key)
        return await self.store.update_extras(story.id, listen=listen)

    async def set_mode(
        self, key: StoryKey, mode: TurnMode | str, round_size: int | None = None
    ) -> StoryExtras:
        try:
            checked_mode = TurnMode(mode)
        except ValueError:
            raise StoryError("mode must be free or rounds") from None
        rules = TurnRules(checked_mode, round_size if checked_mode is TurnMode.ROUNDS else None)

        async def record() -> StoryExtras:
            story = await self.parts.active(key)
            if rules.mode is TurnMode.ROUNDS and not await self.store.participants(story.id):
                recent = (await self.store.turns(story.id))[-SEED_PARTICIPANTS_FROM_TURNS:]
                for turn in recent:
                    if turn.kind == "human":
                        await self.store.add_participant(story.id, turn.author_id, turn.author_name)
            return await self.store.update_extras(
                story.id, mode=rules.mode, round_size=rules.round_size
            )

        async with self.parts.lock(key):
            return await self.store.atomically(record)

    async def join(self, key: StoryKey, author: Author) -> bool:
        story = await self.parts.active(key)
        return await self.store.add_participant(story.id, author.id, author.name)

    async def leave(self, key: StoryKey, author: Author) -> bool:
        story = await self.parts.active(key)
        return await self.store.remove_participant(story.id, author.id)

    async def turn_status(self, key: StoryKey) -> str:
        story = await self.parts.active(key)
        return (await self.parts.turn_state(story)).status()

    async def set_memory(self, key: StoryKey, text: str) -> StoryExtras:
        memory = check_memory(text)
        await self.parts.check_input(key, ("The memory", memory))
        story = await self.parts.active(key)
        return await self.store.update_extras(story.id, memory=memory)

    async def set_note(self, key: StoryKey, text: str) -> StoryExtras:
        note = check_note(text)
        await self.parts.check_input(key, ("The author's note", note))
        story = await self.parts.active(key)
        return await self.store.update_extras(story.id, authors_note=note)

    async def add_lore(
        self, key: StoryKey, author: Author, name: str, keywords: str, text: str
    ) -> tuple[LoreEntry, bool]:
        """Add (True) or replace (False) a lore entry of the channel's story."""
        entry = LoreEntry.create(name, keywords, text)
        await self.parts.check_input(
            key,
            ("The lore name", entry.name),
            ("The keywords", ", ".join(entry.keywords)),
            ("The lore text", entry.text),
        )
        story = await self.parts.active(key)
        added = await self.store.add_lore(story.id, entry, author.id)
        return entry, added

    async def remove_lore(self, key: StoryKey, name: str) -> None:
        story = await self.parts.active(key)
        if not await self.store.remove_lore(story.id, " ".join(name.split())):
            names = ", ".join(e.name for e in await self.store.lore(story.id)) or "none yet"
            raise StoryError(f"No lore entry is called {name!r}. Entries: {names}.")

    async def lore(self, key: StoryKey) -> list[LoreEntry]:
        story = await self.parts.active(key)
        return await self.store.lore(story.id)

    async def set_vote_defaults(
        self, key: StoryKey, candidates: int | None = None, vote_seconds: int | None = None
    ) -> StoryExtras:
        story = await self.parts.active(key)
        changes: dict[str, int] = {}
        if candidates is not None:
            changes["candidates"] = 1 if candidates == 1 else check_candidates(candidates)
        if vote_seconds is not None:
            check_timeout(timedelta(seconds=vote_seconds))
            changes["vote_seconds"] = vote_seconds
        return await self.store.update_extras(story.id, **changes)
