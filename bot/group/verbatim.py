"""The notice for a passage that copies the model's training text word for word.

The model server checks every candidate against the checkpoint's training fingerprint
(core.fingerprint) and sets `Candidate.copied_from_training`. The bot shows the passage with this
notice under it, keeps the flag with the stored passage, and offers Regenerate.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.protocol import Candidate

COPY_MARK = "⚠️"


def notice_for(copied: bool, which: str = "This passage") -> str | None:
    """A one-line notice when a passage (named by `which`) copies training text, else None."""
    if not copied:
        return None
    return (
        f"{COPY_MARK} {which} repeats a long stretch of the model's training text word for word. "
        "It is marked as a copy: use Regenerate for an original one before you keep or "
        "share it."
    )


def copy_notice(candidate: Candidate, *, numbered: bool = False) -> str | None:
    """A one-line notice when the candidate copies training text, else None.

    With `numbered`, the notice names the candidate (#1, #2, ...) for a vote message.
    """
    which = f"Candidate #{candidate.index + 1}" if numbered else "This passage"
    return notice_for(candidate.copied_from_training, which)


def copy_notices(candidates: Sequence[Candidate]) -> list[str]:
    """The notices for every copied candidate of a vote, in candidate order."""
    notices = (copy_notice(candidate, numbered=True) for candidate in candidates)
    return [notice for notice in notices if notice is not None]
