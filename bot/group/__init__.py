"""Group storytelling's pure rules (no I/O, no Discord), each tested on its own:
  lore.py        lorebook entries and keyword-triggered selection within a token budget
  turns.py       free and rounds modes: who may write next, when the bot writes
  voting.py      candidate votes: changeable, majority or timeout, tie rule, tally
  moderation.py  per-server blocklist (obfuscation-aware), stock profanity filter, regenerate
  export.py      Markdown and EPUB books, the channel anthology
  verbatim.py    the notice for passages that copy the model's training text
  tokens.py      the token-counter type the context fitter and lore selection take
The story service that uses them is bot/story/; the Discord side is bot/cogs/.
"""
