"""`campfire-bot play`: the bot's commands in a terminal, over the same services and SQLite file.

Type the commands as in Discord, options as `name:value` (quote values with spaces) and the
main text last: `/respond genre:horror A knock at the door`, `/poem emotion:joy Morning`,
`/continue`, `/write The door creaked.`, `/story show`. The buttons under a passage are
commands here: `/regenerate`, `/keep`, `/undo`, and `/write-this N` after `/prompt`.
Turn-taking, votes and moderation need several people or a server; they live on Discord.

  parsing.py   reading a line into a command, options and text
  commands.py  the command table (each command once; /help is made from it)
  render.py    the terminal's wording of the services' messages (no Discord markup or words)
  session.py   PlaySession: one line in, its answer out
  terminal.py  the real terminal: readline at the prompt, Ctrl-C, no echo while a command runs
"""

from __future__ import annotations

from bot.play.parsing import ParsedCommand, UsageError, parse_command
from bot.play.session import TERMINAL, PlaySession, run_repl

__all__ = [
    "TERMINAL",
    "ParsedCommand",
    "PlaySession",
    "UsageError",
    "parse_command",
    "run_repl",
]
