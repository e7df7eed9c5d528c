"""Group storytelling: the pure services behind story threads (issue 6).

Each module is discord-free and storage-free so it can be tested on its own and reused by the
cogs, the story service and play mode: lorebook selection, context assembly with memory and the
author's note, turn-taking, candidate voting, moderation, export, and the verbatim-copy notice.
"""
