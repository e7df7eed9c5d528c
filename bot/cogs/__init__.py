"""The Discord side, thin: one cog per feature over the story service (bot/story/).

  stories.py      /prompt, /respond, /poem, /continue, /write; plain messages in story threads
  story_group.py  /story show|undo|reset|export|new|turn|mode|join|leave|memory|note|listen|voting
  lore.py         /lore add|remove|list
  moderation.py   /moderation add|remove|list|profanity (admins)
  votes.py        vote messages and buttons, closing on time, the bot's turn after a round
  admin.py        /checkpoint list|use, /settings (admins)
  components.py   the buttons under passages, prompts and the reset question
  common.py       cooldown, defer, streaming, long messages, private errors, `admin_only`
  options.py      Genre and Emotion options, typed
A `CampfireError` raised in a command is answered by `CampfireBot.on_app_command_error`.
"""
