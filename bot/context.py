"""The model's context for a story: its opening, then the most recent turns, in a token budget.

Pure: no I/O. The caller supplies a token-count function (the story service builds one from the
server's /v1/tokenize counts) and the budget (the checkpoint's window minus the answer length and
the prompt's own overhead).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

GAP_MARKER = "[…]"
SEPARATOR = "\n\n"

CountTokens = Callable[[str], int]


def _most_chars(length: int, fits: Callable[[int], bool]) -> int:
    """The largest n <= length for which fits(n) holds (fits(0) is taken to hold), by
    bisection: token counts grow with the characters kept."""
    low, high = 0, length
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low


def _longest_prefix(text: str, budget: int, count: CountTokens) -> str:
    """The longest start of text (cut at a word boundary when one is near) within budget."""
    if count(text) <= budget:
        return text
    cut = text[: _most_chars(len(text), lambda n: count(text[:n]) <= budget)]
    space = cut.rfind(" ")
    if space > len(cut) // 2:
        cut = cut[:space]
    return cut.rstrip()


def _longest_suffix(text: str, budget: int, count: CountTokens) -> str:
    """The longest end of text (started at a word boundary when one is near) within budget."""
    if count(text) <= budget:
        return text
    kept = _most_chars(len(text), lambda n: count(text[len(text) - n :]) <= budget)
    cut = text[len(text) - kept :] if kept else ""
    space = cut.find(" ")
    if 0 <= space < len(cut) // 2:
        cut = cut[space + 1 :]
    return cut.lstrip()


def build_context(
    opening: str,
    turns: Sequence[str],
    budget: int,
    count_tokens: CountTokens,
    *,
    opening_share: float = 0.5,
    separator: str = SEPARATOR,
    gap_marker: str = GAP_MARKER,
) -> str:
    """The story text the model should see, at most `budget` tokens by `count_tokens`.

    opening: how the story began (its writing prompt and first passage), shown first.
    turns: the passages after the opening, oldest first.

    The most recent turns matter most for what comes next, so they are taken newest first
    until the budget is spent; the opening keeps at most `opening_share` of the budget (cut
    at its end when longer). When turns between the opening and the recent ones are left
    out, `gap_marker` stands in their place. A turn too long for what is left is cut from its
    start, keeping its end, which is where the model continues. Token counts of the joined
    text are re-checked, so a tokenizer that merges across separators cannot overflow.
    """
    if budget <= 0:
        return ""
    opening = opening.strip()
    pieces = [t.strip() for t in turns if t.strip()]

    def total(parts: Sequence[str]) -> int:
        return count_tokens(separator.join(parts)) if parts else 0

    opening_part = ""
    if opening:
        opening_part = _longest_prefix(opening, int(budget * opening_share), count_tokens)
    head = [opening_part] if opening_part else []

    recent: list[str] = []
    for piece in reversed(pieces):
        candidate = [*head, piece, *recent]
        if total(candidate) <= budget:
            recent.insert(0, piece)
            continue
        # Part of this turn still fits: keep its end, mark the gap before it.
        room = budget - total([*head, gap_marker, "", *recent])
        if room > 0:
            tail = _longest_suffix(piece, room, count_tokens)
            if tail:
                recent.insert(0, tail)
        recent.insert(0, gap_marker)
        break

    result = [*head, *recent]
    # Re-check the whole (separators and merges included); drop from just after the opening.
    while len(result) > 1 and total(result) > budget:
        del result[1 if head else 0]
    if result and total(result) > budget:
        result = [_longest_prefix(result[0], budget, count_tokens)]
    # A gap marker means "something was left out here": never first without an opening,
    # never last, never twice in a row.
    cleaned: list[str] = []
    for part in result:
        if part == gap_marker and (not cleaned or cleaned[-1] == gap_marker):
            continue
        cleaned.append(part)
    while cleaned and cleaned[-1] == gap_marker:
        cleaned.pop()
    return separator.join(p for p in cleaned if p)
