"""Formats both sides share: controls, the prompt format, the wire protocol, the manifest.

Imports only the standard library and pydantic: no torch, no discord.
"""
