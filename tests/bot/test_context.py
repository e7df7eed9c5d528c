"""build_context: the opening first, then the newest turns, never over the token budget."""

from __future__ import annotations

import pytest

from bot.context import GAP_MARKER, CountTokens, build_context


def words(text: str) -> int:
    """A token counter: one token per whitespace-separated word."""
    return len(text.split())


def chars(text: str) -> int:
    """A stricter counter where separators cost too: one token per character."""
    return len(text)


def test_everything_fits_in_order() -> None:
    context = build_context("Once upon a time.", ["Second part.", "Third part."], 100, words)
    assert context == "Once upon a time.\n\nSecond part.\n\nThird part."


def test_keeps_opening_and_newest_turns_and_marks_the_gap() -> None:
    turns = [f"turn{i} a b c" for i in range(10)]  # 4 words each
    context = build_context("The opening line here", turns, 4 + 1 + 4 * 3, words)
    parts = context.split("\n\n")
    assert parts[0] == "The opening line here"
    assert parts[1] == GAP_MARKER
    assert parts[2:] == ["turn7 a b c", "turn8 a b c", "turn9 a b c"]
    assert words(context) <= 17


@pytest.mark.parametrize("budget", [1, 5, 17, 40, 80, 200, 1000])
@pytest.mark.parametrize("counter", [words, chars])
def test_never_exceeds_budget(budget: int, counter: CountTokens) -> None:
    count = counter
    turns = ["alpha beta gamma delta " * 5, "short one", "epsilon zeta eta theta " * 7]
    context = build_context("In the beginning there was a storm " * 3, turns, budget, count)
    assert count(context) <= budget


def test_newest_turn_is_cut_from_its_start_keeping_its_end() -> None:
    last = " ".join(f"w{i}" for i in range(50))
    context = build_context("", ["older turn", last], 10, words)
    assert context.endswith("w49")
    assert "older turn" not in context
    assert words(context) <= 10


def test_opening_is_capped_to_its_share_and_cut_at_its_end() -> None:
    opening = " ".join(f"o{i}" for i in range(100))
    context = build_context(opening, ["the newest turn"], 20, words)
    assert context.startswith("o0 o1")
    assert context.endswith("the newest turn")
    assert words(context) <= 20


def test_opening_alone_when_no_turns() -> None:
    assert build_context("  Just the opening.  ", [], 50, words) == "Just the opening."


def test_empty_and_zero_budget() -> None:
    assert build_context("", [], 50, words) == ""
    assert build_context("Opening", ["turn"], 0, words) == ""
    assert build_context("", ["  ", ""], 10, words) == ""


def test_separator_costs_are_counted() -> None:
    # With a per-character counter the separators take budget too; the result still fits.
    context = build_context("abcde", ["fghij", "klmno"], 12, chars)
    assert len(context) <= 12
    assert context.endswith("klmno")


def test_tokenizer_that_merges_across_separators_cannot_overflow() -> None:
    def lumpy(text: str) -> int:
        # Joined text costs more than its parts: every separator costs 5 tokens.
        return words(text) + 5 * text.count("\n\n")

    turns = [f"t{i} x" for i in range(20)]
    context = build_context("open", turns, 15, lumpy)
    assert lumpy(context) <= 15
    assert context.startswith("open")
    assert context.endswith("t19 x")
