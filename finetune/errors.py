"""Errors of the fine-tuning pipeline, each with a message for the person running it."""

from __future__ import annotations

from core.errors import CampfireError


class DataError(CampfireError):
    """A corpus or data folder that cannot be used: missing, wrong shape, empty."""


class TrainingError(CampfireError):
    """A base model, run folder or export target that cannot be used."""
