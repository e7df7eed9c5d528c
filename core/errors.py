"""Errors whose message is meant for the person who caused them."""


class CampfireError(Exception):
    """An error with a one-line message that says what is wrong and what to do."""


class UnknownChoiceError(CampfireError, ValueError):
    """A task, genre, emotion or other named choice that Campfire does not know."""


class CheckpointError(CampfireError):
    """A checkpoint folder that is missing, incomplete or of a format this version can't read."""
