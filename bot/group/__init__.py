"""Group storytelling (story threads, turn-taking, votes, lore, memory, moderation, export).

Pure, discord-free services, each tested on its own:
  lore.py        lorebook entries and keyword-triggered selection within a token budget
  context.py     memory, author's note, and the context assembly with its drop policy
  turns.py       free and rounds modes: who may write next, when the bot writes
  voting.py      candidate votes: changeable, majority or timeout, tie rule, tally
  moderation.py  per-server blocklist (obfuscation-aware), stock profanity filter, regenerate
  export.py      Markdown and EPUB books, the channel anthology
  verbatim.py    the notice for passages that copy the model's training text
On top of the bot's store and story service:
  store.py       the group tables (numbered migrations after the bot's) and their queries
  service.py     GroupStoryService: the bot's StoryService with all of the above
  render.py      text for /story show, shared by Discord and the terminal
  play.py        the group commands in `campfire-bot play`
The Discord side is bot/cogs/group.py.
"""
