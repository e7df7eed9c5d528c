"""Text for people, shared by Discord and the terminal (no discord import)."""

from __future__ import annotations

from bot.group.service import GroupRecap
from bot.story import Recap, render_recap


def render_group_recap(recap: GroupRecap) -> str:
    """/story show: the bot's recap with the story's group settings after its header."""
    extras = recap.extras
    lines = [
        f"**Mode:** {extras.rules.describe()}",
        f"**Checkpoint in use:** {recap.checkpoint or 'the server default'}",
        f"**Participants:** {', '.join(p.name for p in recap.participants) or 'nobody yet'}",
        f"**Memory:** {extras.memory or 'none (set it with /story memory)'}",
        f"**Author's note:** {extras.authors_note or 'none (set it with /story note)'}",
    ]
    if recap.lore:
        entries = "; ".join(f"{e.name} ({', '.join(e.keywords)})" for e in recap.lore)
        lines.append(f"**Lore:** {entries}")
    else:
        lines.append("**Lore:** none (add entries with /lore add)")
    if recap.context is not None:
        context = recap.context
        active = ", ".join(e.name for e in context.lore.included) or "none"
        kept = context.turns_kept
        total = kept + context.turns_dropped
        lines.append(
            f"**In the model's view:** {kept} of {total} turns after the opening and memory; "
            f"lore triggered now: {active}"
        )
    if extras.candidates > 1:
        lines.append(
            f"**Voting:** {extras.candidates} candidates per /continue, open "
            f"{extras.vote_seconds} s or until a majority"
        )
    if extras.parent_channel_id is not None:
        state = "on" if extras.listen else "off (use /write)"
        lines.append(f"**Plain messages become turns:** {state}")
    lines.append(f"**Whose turn:** {recap.turn_status}")
    header, _, passages = render_recap(Recap(recap.story, recap.turns)).partition("\n\n")
    return "\n".join([header, *lines]) + ("\n\n" + passages if passages else "")
