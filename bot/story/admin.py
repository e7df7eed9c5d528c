"""What admins do: pick checkpoints, change the model settings of a server or a channel, keep
the server's blocklist."""

from __future__ import annotations

from bot.group.moderation import ModerationPolicy, add_term, remove_term
from bot.store import Scope, ScopeSettings
from bot.story.parts import StoryParts
from bot.story.presets import PRESETS
from bot.story.values import StoryError, StoryKey
from core.controls import Task
from core.protocol import CheckpointInfo, LoadCheckpointRequest


class Admin:
    def __init__(self, parts: StoryParts) -> None:
        self.parts = parts
        self.store = parts.store

    async def checkpoints(self) -> list[CheckpointInfo]:
        return await self.parts.model.checkpoints()

    async def pin_checkpoint(self, key: StoryKey, scope: Scope, name: str | None) -> ScopeSettings:
        """Pin a checkpoint for the server or the channel (None: back to the server default).
        The checkpoint must be one the server lists as valid; it is loaded if it isn't yet."""
        if name is not None:
            known = {c.name: c for c in await self.parts.model.checkpoints()}
            info = known.get(name)
            if info is None:
                choices = ", ".join(sorted(known)) or "none"
                raise StoryError(f"Unknown checkpoint {name!r}. Known checkpoints: {choices}.")
            if not info.valid:
                raise StoryError(f"Checkpoint {name!r} can't be used: {info.problem}.")
            if not info.loaded:
                await self.parts.model.load_checkpoint(
                    LoadCheckpointRequest(name=name, make_default=False)
                )
        return await self.store.update_settings(
            scope, key.guild_id, key.channel_id, checkpoint=name
        )

    async def what_wont_work(self, key: StoryKey, scope: Scope, name: str | None) -> list[str]:
        """What the running stories of the channel (scope server: of the server) use that the
        checkpoint (None: the one the channel now uses) was not trained for, one line each."""
        checkpoint = name or (await self.parts.settings_for(key)).checkpoint
        info = await self.parts.checkpoint_named(checkpoint)
        if info is None or not info.tasks:
            return []  # a model that does not say what it was trained for may try anything
        used = await self.store.tasks_in_use(
            key.guild_id, key.channel_id if scope == "channel" else None
        )
        needed = {task for task in Task if task.value in used}
        if used:
            needed.add(Task.CONTINUE)
        missing = [task for task in Task if task in needed and task not in info.tasks]
        fallback = Task.STORY in info.tasks
        return [
            _USES[task] + (_FALLBACK if task is Task.CONTINUE and fallback else "")
            for task in missing
        ]

    async def update_settings(
        self,
        key: StoryKey,
        scope: Scope,
        *,
        max_new_tokens: int | None = None,
        temperature: float | None = None,
        cooldown_seconds: float | None = None,
        preset: str | None = None,
    ) -> ScopeSettings:
        """Change the given defaults for the server or channel (None: leave unchanged)."""
        changes: dict[str, object] = {}
        if max_new_tokens is not None:
            if not 1 <= max_new_tokens <= 2000:
                raise StoryError("length must be between 1 and 2000 tokens.")
            changes["max_new_tokens"] = max_new_tokens
        if temperature is not None:
            if not 0.0 <= temperature <= 2.0:
                raise StoryError("temperature must be between 0 and 2.")
            changes["temperature"] = temperature
        if cooldown_seconds is not None:
            if not 0 <= cooldown_seconds <= 3600:
                raise StoryError("cooldown must be between 0 and 3600 seconds.")
            changes["cooldown_seconds"] = cooldown_seconds
        if preset is not None:
            if preset not in PRESETS:
                names = ", ".join(PRESETS)
                raise StoryError(f"Unknown preset {preset!r}. Choose one of: {names}.")
            changes["preset"] = preset
        return await self.store.update_settings(scope, key.guild_id, key.channel_id, **changes)

    async def add_blocked(self, guild_id: int, term: str, by: int | None) -> tuple[str, ...]:
        policy = await self.store.moderation_policy(guild_id)
        terms = add_term(policy.blocked, term)
        await self.store.set_blocked_terms(guild_id, terms, by)
        return terms

    async def remove_blocked(self, guild_id: int, term: str) -> tuple[str, ...]:
        policy = await self.store.moderation_policy(guild_id)
        terms = remove_term(policy.blocked, term)
        await self.store.set_blocked_terms(guild_id, terms, None)
        return terms

    async def set_profanity_filter(self, guild_id: int, enabled: bool) -> ModerationPolicy:
        await self.store.set_profanity_filter(guild_id, enabled)
        return await self.store.moderation_policy(guild_id)

    async def moderation_policy(self, guild_id: int) -> ModerationPolicy:
        return await self.store.moderation_policy(guild_id)


def checkpoint_marks(info: CheckpointInfo, pinned: str | None) -> list[str]:
    """What to say about a checkpoint in a list: default, loaded, pinned here, unusable."""
    marks = [
        mark
        for mark, on in (
            ("default", info.default),
            ("loaded", info.loaded),
            ("pinned here", info.name == pinned),
        )
        if on
    ]
    if not info.valid:
        marks.append(f"unusable: {info.problem}")
    return marks


_USES = {
    Task.CONTINUE: "continuing the running story (/continue, /respond without a prompt)",
    Task.STORY: "new stories from a prompt (/respond prompt:)",
    Task.POEM: "poems (/poem)",
    Task.PROMPT: "writing prompts (/prompt)",
    Task.JOKE: "jokes (/joke)",
}
_FALLBACK = ": it writes a new passage from the story's last lines instead"
