import pytest

from bot.group.lore import (
    MAX_KEYWORDS,
    LoreEntry,
    LoreError,
    last_mention,
    parse_keywords,
    select_lore,
    triggered,
)
from bot.group.tokens import word_count

MIRA = LoreEntry.create("Mira", "Mira, the keeper", "Mira keeps the lighthouse on Gull Rock.")
CAT = LoreEntry.create("Pip", "cat", "Pip is a one-eyed ship's cat.")
CROWN = LoreEntry.create("Crown", "Iron Crown", "The Iron Crown burns whoever wears it.")


def test_parse_keywords_splits_trims_and_drops_duplicates() -> None:
    assert parse_keywords(" Mira ,the   keeper; MIRA,, ") == ("Mira", "the keeper")


@pytest.mark.parametrize(
    ("name", "keywords", "text", "complaint"),
    [
        ("", "x", "text", "needs a name"),
        ("Mira", " , ;", "text", "at least one keyword"),
        ("Mira", "x", "   ", "needs a text"),
        ("M" * 65, "x", "text", "name is too long"),
        ("Mira", ",".join(f"k{i}" for i in range(MAX_KEYWORDS + 1)), "t", "too many keywords"),
        ("Mira", "k" * 41, "t", "keywords under"),
        ("Mira", "x", "t" * 1001, "keep it under 1000"),
    ],
)
def test_create_refuses_bad_entries_with_a_reason(
    name: str, keywords: str, text: str, complaint: str
) -> None:
    with pytest.raises(LoreError, match=complaint):
        LoreEntry.create(name, keywords, text)


def test_create_accepts_a_keyword_list() -> None:
    entry = LoreEntry.create("  Mira  ", ["Mira", "keeper"], "  text ")
    assert entry == LoreEntry("Mira", ("Mira", "keeper"), "text")


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("The cat slept.", True),
        ("CAT!", True),
        ("the cat's bowl", True),
        ("a category of things", False),
        ("bobcat", False),
        ("cats", False),  # no plural guessing
    ],
)
def test_keywords_match_whole_words_in_any_case(text: str, hit: bool) -> None:
    assert (last_mention(CAT, text) is not None) is hit


def test_multi_word_keyword_matches_across_line_breaks() -> None:
    assert triggered([CROWN], "she lifted the iron\n  crown") == [CROWN]
    assert triggered([CROWN], "an iron door and a crown") == []


def test_keywords_with_punctuation_are_taken_literally() -> None:
    doctor = LoreEntry.create("Doc", "Dr. Vex", "A surgeon.")
    assert triggered([doctor], "Then Dr. Vex arrived.") == [doctor]
    assert triggered([doctor], "Then Drx Vex arrived.") == []


def test_most_recently_mentioned_comes_first() -> None:
    text = "Mira fed the cat. Later the Iron Crown glowed. The cat hissed."
    assert triggered([MIRA, CAT, CROWN], text) == [CAT, CROWN, MIRA]


def test_untriggered_entries_stay_out() -> None:
    selection = select_lore([MIRA, CAT, CROWN], "Mira climbed the stairs.", 100, word_count)
    assert selection.included == [MIRA]
    assert selection.left_out == []
    assert selection.text == "[Mira: Mira keeps the lighthouse on Gull Rock.]"


def test_budget_keeps_the_most_recent_and_skips_what_does_not_fit() -> None:
    text = "Mira saw the Iron Crown; the cat watched."
    # costs in words: Pip 7, Crown 8, Mira 8
    selection = select_lore([MIRA, CAT, CROWN], text, 15, word_count)
    assert selection.included == [CAT, CROWN]
    assert selection.left_out == [MIRA]
    # a smaller later entry still fits after a big one is skipped
    big = LoreEntry.create("Big", "cat", "word " * 50)
    small = LoreEntry.create("Small", "Mira", "tiny")
    selection = select_lore([small, big], "Mira and the cat", 5, word_count)
    assert selection.included == [small]
    assert selection.left_out == [big]


def test_zero_budget_includes_nothing() -> None:
    selection = select_lore([MIRA], "Mira", 0, word_count)
    assert selection.included == []
    assert selection.left_out == [MIRA]
