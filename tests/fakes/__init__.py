"""Faithful fakes for the edges a test cannot reach (Discord's servers)."""
