import itertools

import pytest

from bot.group.lore import LoreEntry
from bot.group.tokens import word_count
from bot.story.context import (
    MAX_MEMORY_CHARS,
    MAX_NOTE_CHARS,
    ContextError,
    ContextInputs,
    ContextSettings,
    assemble_context,
    check_memory,
    check_note,
    keep_end,
    keep_start,
)

MEMORY = "Mira is the lighthouse keeper."
OPENING = "The storm came at dusk."
TURNS = [f"Turn {i} happened here." for i in range(1, 7)]  # 4 words each
NOTE = "Keep it eerie."
LIGHT = LoreEntry.create("Light", "lamp", "The lamp is never allowed to go out.")
BOAT = LoreEntry.create("Boat", "boat", "The boat has a cracked hull.")
ONE_AT_A_TIME = ContextSettings(drop_step=1)


def words_and_breaks(text: str) -> int:
    """A counter for which joining costs something: every line break is a token too."""
    return len(text.split()) + text.count("\n")


def test_everything_fits_in_the_documented_order() -> None:
    inputs = ContextInputs(
        OPENING, ["The lamp flickered.", "Mira climbed."], MEMORY, NOTE, [LIGHT, BOAT]
    )
    result = assemble_context(inputs, 1000, word_count)
    assert result.text == "\n\n".join(
        [
            MEMORY,
            LIGHT.render(),
            OPENING,
            "The lamp flickered.",
            "[Author's note: Keep it eerie.]",
            "Mira climbed.",
        ]
    )
    assert result.turns_kept == 2
    assert result.turns_dropped == 0
    assert result.lore.included == [LIGHT]
    assert result.note_included
    assert result.cut == ()
    assert result.tokens == word_count(result.text)


def test_without_turns_the_note_goes_before_the_opening() -> None:
    result = assemble_context(ContextInputs(OPENING, authors_note=NOTE), 100, word_count)
    assert result.text == "[Author's note: Keep it eerie.]\n\n" + OPENING
    assert result.turns_kept == 0


def test_empty_parts_leave_no_blank_blocks() -> None:
    result = assemble_context(ContextInputs("", ["Only turn."]), 100, word_count)
    assert result.text == "Only turn."


def test_oldest_middle_turns_drop_first_memory_opening_and_newest_stay() -> None:
    inputs = ContextInputs(OPENING, TURNS, MEMORY)
    # memory 5 + opening 5 + newest 4 = 14; room for two more turns at 4 words each
    result = assemble_context(inputs, 22, word_count, ONE_AT_A_TIME)
    assert result.text == "\n\n".join([MEMORY, OPENING, TURNS[3], TURNS[4], TURNS[5]])
    assert result.turns_kept == 3
    assert result.turns_dropped == 3
    assert result.tokens <= 22


def test_kept_turns_are_one_unbroken_run() -> None:
    turns = ["a b c d e f g h i j", "short", "short two", "newest turn"]
    result = assemble_context(ContextInputs("open", turns), 7, word_count, ONE_AT_A_TIME)
    # the long oldest turn does not fit; nothing older than a dropped turn is kept
    assert result.text == "open\n\nshort\n\nshort two\n\nnewest turn"
    result = assemble_context(
        ContextInputs("open", ["short", *turns]), 7, word_count, ONE_AT_A_TIME
    )
    assert "short\n\nshort two" in result.text
    assert result.text.count("short") == 2
    assert result.turns_dropped == 2


def test_turns_drop_in_steps_so_the_contexts_start_holds_for_several_turns() -> None:
    """A story that outgrew the window, one turn added at a time: the context's start (all
    but the newest turns) stays the same for several turns, which the server's prefix cache
    reuses; dropped one at a time, it changed every turn."""
    story = [f"Turn {i} happened here." for i in range(1, 41)]  # 4 words each
    starts, kept_counts = [], []
    for size in range(12, 41):
        result = assemble_context(ContextInputs(OPENING, story[:size], MEMORY), 50, word_count)
        assert result.tokens <= 50 and result.text.endswith(story[size - 1])
        assert result.text.startswith(f"{MEMORY}\n\n{OPENING}\n\n")
        starts.append(result.text.split("\n\n")[2])
        kept_counts.append(result.turns_kept)
    changes = sum(a != b for a, b in itertools.pairwise(starts))
    assert changes <= len(starts) // 4 + 1, starts
    one_at_a_time = [
        assemble_context(
            ContextInputs(OPENING, story[:size], MEMORY), 50, word_count, ONE_AT_A_TIME
        )
        for size in range(12, 41)
    ]
    assert len({r.text.split("\n\n")[2] for r in one_at_a_time}) == len(one_at_a_time)
    # What a step costs: at most step - 1 turns fewer than fit.
    assert all(
        full.turns_kept - kept <= 3 for full, kept in zip(one_at_a_time, kept_counts, strict=True)
    )


def test_lore_takes_at_most_its_share_and_the_rest_goes_to_turns() -> None:
    turns = ["The lamp went dark.", "A boat came.", "Mira ran."]
    inputs = ContextInputs(OPENING, turns, lore=[LIGHT, BOAT])
    settings = ContextSettings(lore_share=0.3)
    result = assemble_context(inputs, 30, word_count, settings)
    # 30 * 0.3 = 9 tokens of lore: the boat (7 words, mentioned last) fits, the lamp (9) not
    assert result.lore.included == [BOAT]
    assert result.lore.left_out == [LIGHT]
    assert result.turns_kept == 3


def test_lore_is_searched_in_recent_passages_only() -> None:
    turns = ["The boat sank.", "Rain.", "More rain.", "Thunder."]
    inputs = ContextInputs(OPENING, turns, lore=[BOAT])
    assert assemble_context(inputs, 200, word_count).lore.included == []
    wider = ContextSettings(lore_scan_passages=4)
    assert assemble_context(inputs, 200, word_count, wider).lore.included == [BOAT]


def test_after_the_turns_lore_then_the_note_drop() -> None:
    turns = ["The lamp and the boat.", "Newest."]
    inputs = ContextInputs("Open.", turns, "Memory.", NOTE, [LIGHT, BOAT])
    full = assemble_context(inputs, 100, word_count)
    assert full.lore.included == [BOAT, LIGHT]
    assert full.turns_kept == 2
    # memory 1 + opening 1 + newest 1 + note 5 + boat 7 = 15: the middle turn drops,
    # the lamp entry (least recently mentioned) does not fit
    result = assemble_context(inputs, 15, word_count, ContextSettings(lore_share=1.0))
    assert result.turns_kept == 1
    assert result.lore.included == [BOAT]
    assert result.note_included
    # 8: the note still fits but no lore
    result = assemble_context(inputs, 8, word_count, ContextSettings(lore_share=1.0))
    assert result.lore.included == []
    assert result.note_included
    # 4: only memory, opening and the newest turn
    result = assemble_context(inputs, 4, word_count, ContextSettings(lore_share=1.0))
    assert result.text == "Memory.\n\nOpen.\n\nNewest."
    assert not result.note_included


def test_when_the_essentials_overflow_the_opening_is_cut_first() -> None:
    inputs = ContextInputs("one two three four five", ["x y z"], "m1 m2")
    result = assemble_context(inputs, 7, word_count)
    assert result.text == "m1 m2\n\none two\n\nx y z"
    assert result.cut == ("opening",)


def test_then_memory_loses_its_end_then_the_newest_its_beginning() -> None:
    inputs = ContextInputs("o1 o2", ["n1 n2 n3 n4"], "m1 m2 m3")
    result = assemble_context(inputs, 5, word_count)
    assert result.text == "m1\n\nn1 n2 n3 n4"
    assert result.cut == ("opening", "memory")
    result = assemble_context(inputs, 2, word_count)
    assert result.text == "n3 n4"
    assert result.cut == ("opening", "memory", "newest turn")
    assert assemble_context(inputs, 0, word_count).text == ""


@pytest.mark.parametrize("budget", range(0, 80, 3))
def test_never_over_budget_even_when_joining_costs_tokens(budget: int) -> None:
    inputs = ContextInputs(OPENING, [*TURNS, "The lamp, the boat."], MEMORY, NOTE, [LIGHT, BOAT])
    result = assemble_context(inputs, budget, words_and_breaks)
    assert result.tokens == words_and_breaks(result.text)
    assert result.tokens <= budget
    if budget >= 40:
        assert result.text.startswith(MEMORY)
        assert OPENING in result.text
        assert result.text.endswith("The lamp, the boat.")


def test_more_budget_never_keeps_fewer_turns() -> None:
    # (without a note: a budget that just fits the note spends on it what a turn would get)
    inputs = ContextInputs(OPENING, TURNS, MEMORY, lore=[LIGHT])
    kept = [assemble_context(inputs, b, word_count).turns_kept for b in range(10, 60)]
    assert kept == sorted(kept)
    assert kept[-1] == len(TURNS)


def test_negative_budget_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="negative"):
        assemble_context(ContextInputs(OPENING), -1, word_count)


def test_keep_start_and_end_cut_on_word_boundaries() -> None:
    assert keep_start("a b  c\nd", 3, word_count) == "a b  c"
    assert keep_end("a b  c\nd", 2, word_count) == "c\nd"
    assert keep_start("a b", 0, word_count) == ""


def test_memory_and_note_checks() -> None:
    assert check_memory("  kept  ") == "kept"
    assert check_memory("") == ""
    with pytest.raises(ContextError, match=f"under {MAX_MEMORY_CHARS}"):
        check_memory("x" * (MAX_MEMORY_CHARS + 1))
    assert check_note(" Keep it\n eerie. ") == "Keep it eerie."
    with pytest.raises(ContextError, match="short steer"):
        check_note("x" * (MAX_NOTE_CHARS + 1))
