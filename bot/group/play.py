"""Play mode with the group-storytelling commands a single terminal player can use: memory,
the author's note, the lorebook, the richer /story show and EPUB export.

(Turn-taking, votes and moderation need several people or a server; they live on Discord.)
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path

from bot.group.render import render_group_recap
from bot.group.service import GroupStoryService
from bot.play import OPTIONS, ParsedCommand, PlaySession, UsageError, parse_command
from bot.story import user_message
from core.errors import CampfireError

GROUP_OPTIONS: dict[str, tuple[str, ...]] = {
    **OPTIONS,
    "story export": ("kept_only", "file", "format", "anthology"),
    "story memory": ("text",),
    "story note": ("text",),
}
LORE_OPTIONS = ("name", "keywords", "text")
GROUP_HELP = """Group storytelling:
  /story memory [text | clear]         text the model always keeps in mind (no text: show it)
  /story note [text | clear]           a short steer placed just before the last passage
  /lore add name:N keywords:"a, b" text   /lore remove name:N   /lore list
  /story export [format:markdown|epub] [kept_only:yes] [anthology:yes] [file]"""
YES = ("yes", "true", "1", "y", "on")


class GroupPlaySession(PlaySession):
    @property
    def group(self) -> GroupStoryService:
        return self.services.stories

    def _options_for(self, line: str) -> tuple[str, ...]:
        try:
            name = parse_command(line).name
        except UsageError:
            return ()
        return GROUP_OPTIONS.get(name, ())

    async def _guarded(self, work: Awaitable[None]) -> None:
        try:
            await super()._guarded(work)
        except CampfireError as error:  # lore, memory and moderation refusals
            self.out(user_message(error))

    async def _run(self, command: ParsedCommand) -> None:
        name, options, text = command.name, command.options, command.text
        key = self.key
        if name == "help":
            await super()._run(command)
            self.out(GROUP_HELP)
        elif name == "story show":
            self.out(render_group_recap(await self.group.show_group(key)))
        elif name in ("story memory", "story note"):
            await self._pinned_text(name, options.get("text") or text)
        elif name == "lore":
            await self._lore(text)
        elif name == "story export":
            await self._export(command)
        else:
            await super()._run(command)

    async def _pinned_text(self, name: str, value: str) -> None:
        label = "Memory" if name == "story memory" else "Author's note"
        if not value:
            found = await self.group.extras(self.key)
            if found is None:
                raise UsageError("There's no story yet. Start one with /respond or /write.")
            current = found[1].memory if name == "story memory" else found[1].authors_note
            self.out(f"{label}: {current or 'none'}")
            return
        new = "" if value.lower() == "clear" else value
        if name == "story memory":
            await self.group.set_memory(self.key, new)
        else:
            await self.group.set_note(self.key, new)
        self.out(f"{label} cleared." if not new else f"{label} set.")

    async def _lore(self, text: str) -> None:
        action, _, rest = text.partition(" ")
        parsed = parse_command(f"/lore {rest}", LORE_OPTIONS)
        options = parsed.options
        if action == "list":
            entries = await self.group.lore(self.key)
            for entry in entries:
                self.out(f"{entry.name} ({', '.join(entry.keywords)}): {entry.text}")
            if not entries:
                self.out('No lore yet: /lore add name:Mira keywords:"Mira, keeper" She keeps...')
        elif action == "add":
            entry, added = await self.group.add_lore(
                self.key,
                self.author,
                options.get("name", ""),
                options.get("keywords", ""),
                options.get("text") or parsed.text,
            )
            self.out(f"Lore entry {entry.name} {'added' if added else 'updated'}.")
        elif action == "remove":
            entry_name = options.get("name") or parsed.text
            await self.group.remove_lore(self.key, entry_name)
            self.out(f"Lore entry {entry_name} removed.")
        else:
            raise UsageError("Use /lore add, /lore remove or /lore list.")

    async def _export(self, command: ParsedCommand) -> None:
        options = command.options
        fmt = options.get("format", "markdown").lower()
        if options.get("anthology", "").lower() in YES:
            filename, data = await self.group.export_anthology(self.key, fmt)
        else:
            kept_only = options.get("kept_only", "").lower() in YES
            filename, data = await self.group.export_story(self.key, fmt, kept_only=kept_only)
        target = Path(options.get("file") or command.text or filename)
        if not target.is_absolute():
            target = self.export_dir / target
        target.write_bytes(data)
        self.out(f"Wrote {target}")
