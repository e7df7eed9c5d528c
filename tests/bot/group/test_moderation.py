from collections.abc import Sequence

import pytest

from bot.group.moderation import (
    MAX_TERM_CHARS,
    MAX_TERMS,
    PROFANITY,
    Blocked,
    ModerationError,
    ModerationPolicy,
    Moderator,
    StockProfanityFilter,
    add_term,
    generate_clean,
    remove_term,
)


def moderator(*terms: str, profanity: bool = False) -> Moderator:
    return Moderator(ModerationPolicy(terms, profanity), StockProfanityFilter())


@pytest.mark.parametrize(
    "text",
    [
        "A goblin appeared.",
        "GOBLIN!",
        "the goblin's axe",
        "a gooooblinnn",
        "g.o.b.l.i.n",
        "g-o-b-l-i-n",
        "g0bl1n",
        "gob*in",
        "ｇｏｂｌｉｎ",  # full-width letters
        "go\u200bblin",  # a zero-width space inside
    ],
)
def test_blocked_words_are_found_through_simple_disguises(text: str) -> None:
    assert moderator("goblin").find(text) == ["goblin"]


@pytest.mark.parametrize(
    "text", ["hobgoblins", "goblins", "gob lin", "a goblet", "Scunthorpe", "classic"]
)
def test_only_whole_words_are_blocked(text: str) -> None:
    assert moderator("goblin", "cunt", "ass").find(text) == []


def test_phrases_match_across_spaces_and_punctuation() -> None:
    mod = moderator("red wedding")
    assert mod.find("the Red   Wedding") == ["red wedding"]
    assert mod.find("red-wedding") == ["red wedding"]
    assert mod.find("red, then a wedding") == []


def test_doubled_letters_in_a_term_still_need_both() -> None:
    mod = moderator("ass")
    assert mod.find("asss") == ["ass"]
    assert mod.find("as") == []


def test_input_refusal_names_the_word_and_says_what_to_do() -> None:
    mod = moderator("goblin", "troll")
    mod.check_input("a quiet night")
    with pytest.raises(Blocked) as refused:
        mod.check_input("the TROLL and the goblin", what="Your turn")
    message = str(refused.value)
    assert message.startswith("Your turn wasn't added")
    assert '"goblin", "troll"' in message
    assert "Rephrase" in message


def test_stock_profanity_filter_only_when_switched_on() -> None:
    assert moderator().find("well shit") == []
    assert moderator(profanity=True).find("well shit") == [PROFANITY]
    assert moderator(profanity=True).find("well sh1t") == [PROFANITY]
    assert moderator(profanity=True).find("a classic assessment") == []
    with pytest.raises(Blocked, match="profanity filter"):
        moderator(profanity=True).check_input("well shit")


def test_blocklist_editing() -> None:
    terms = add_term((), "  Goblin  ")
    assert terms == ("goblin",)
    terms = add_term(terms, "Red   Wedding")
    assert terms == ("goblin", "red wedding")
    with pytest.raises(ModerationError, match="already blocked"):
        add_term(terms, "GOBLIN")
    assert remove_term(terms, "Goblin") == ("red wedding",)
    with pytest.raises(ModerationError, match="not on this server's blocklist"):
        remove_term(terms, "troll")
    with pytest.raises(ModerationError, match="letters or digits"):
        add_term(terms, " *** ")
    with pytest.raises(ModerationError, match=f"under {MAX_TERM_CHARS}"):
        add_term(terms, "x" * (MAX_TERM_CHARS + 1))
    full = tuple(f"w{i}" for i in range(MAX_TERMS))
    with pytest.raises(ModerationError, match="remove some"):
        add_term(full, "one more")


class ScriptedModel:
    """Hands out prepared outputs in order and records how many were asked for each call."""

    def __init__(self, outputs: list[str]) -> None:
        self.outputs = outputs
        self.asked: list[int] = []

    async def __call__(self, n: int) -> Sequence[str]:
        self.asked.append(n)
        batch, self.outputs = self.outputs[:n], self.outputs[n:]
        return batch


async def test_blocked_output_is_regenerated() -> None:
    model = ScriptedModel(["the goblin laughed", "the wind howled"])
    result = await generate_clean(model, 1, moderator("goblin"), str)
    assert result.items == ["the wind howled"]
    assert result.attempts == 2
    assert result.notice() is None


async def test_output_blocked_every_time_is_withheld_with_a_notice() -> None:
    model = ScriptedModel(["goblin one", "goblin two", "goblin three", "clean but too late"])
    result = await generate_clean(model, 1, moderator("goblin"), str, max_attempts=3)
    assert result.items == []
    assert result.withheld == 1
    assert model.asked == [1, 1, 1]
    notice = result.notice()
    assert notice is not None
    assert "withheld" in notice
    assert "3 tries" in notice


async def test_a_batch_asks_only_for_the_missing_candidates() -> None:
    model = ScriptedModel(["ok one", "goblin", "ok two", "goblin again", "ok three"])
    result = await generate_clean(model, 3, moderator("goblin"), str)
    assert result.items == ["ok one", "ok two", "ok three"]
    assert model.asked == [3, 1, 1]


async def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await generate_clean(ScriptedModel([]), 1, moderator(), str, max_attempts=0)
