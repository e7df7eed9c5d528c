"""Campfire's Discord bot and its local play mode."""
