"""What play mode printed, for the play-mode tests."""

from __future__ import annotations


class Screen:
    def __init__(self) -> None:
        self.text = ""

    def out(self, line: str) -> None:
        self.text += line + "\n"

    def write(self, text: str) -> None:
        self.text += text
