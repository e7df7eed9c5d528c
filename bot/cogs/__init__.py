"""Thin discord.py cogs over the story service."""
