import pytest

from bot.group.turns import (
    MAX_ROUND_SIZE,
    TurnMode,
    TurnRefused,
    TurnRules,
    TurnTaking,
    current_round,
    join,
    leave,
)

ANN, BEN, CAT = 1, 2, 3
ROUNDS = TurnRules(TurnMode.ROUNDS)
NAMES = {ANN: "Ann", BEN: "Ben", CAT: "Cat"}


def state(
    rules: TurnRules, authors: list[int | None], people: tuple[int, ...] = (ANN, BEN, CAT)
) -> TurnTaking:
    return TurnTaking.of(rules, people, authors, name=NAMES.__getitem__)


def test_current_round_is_what_people_wrote_since_the_bot() -> None:
    assert current_round([]) == []
    assert current_round([None, ANN, None, BEN, CAT]) == [BEN, CAT]
    assert current_round([ANN, BEN, None]) == []


def test_free_mode_allows_anyone_any_time_and_never_calls_the_bot() -> None:
    free = state(TurnRules(), [ANN, ANN, ANN])
    assert free.refusal(ANN) is None
    assert not free.bot_due
    assert "anyone can write" in free.status()


def test_three_members_take_a_round_then_the_bot_writes() -> None:
    authors: list[int | None] = [None]
    for person in (BEN, ANN):
        turns = state(ROUNDS, authors)
        turns.check(person)
        authors.append(person)
        assert not state(ROUNDS, authors).bot_due
    turns = state(ROUNDS, authors)
    assert turns.waiting_for == [CAT]
    assert "waiting for Cat" in turns.status()
    turns.check(CAT)
    authors.append(CAT)
    assert state(ROUNDS, authors).bot_due
    authors.append(None)
    after_bot = state(ROUNDS, authors)
    assert not after_bot.bot_due
    assert after_bot.waiting_for == [ANN, BEN, CAT]
    after_bot.check(CAT)  # a new round: the last human writer may start it


def test_two_turns_in_a_row_are_refused_with_the_reason() -> None:
    turns = state(ROUNDS, [None, ANN])
    with pytest.raises(TurnRefused, match="you wrote the last turn") as refused:
        turns.check(ANN)
    assert "two turns in a row" in str(refused.value)
    assert "Waiting for: Ben, Cat" in str(refused.value)


def test_one_turn_per_round_by_default() -> None:
    turns = state(ROUNDS, [None, ANN, BEN])
    reason = turns.refusal(ANN)
    assert reason is not None
    assert "had your turn this round" in reason
    assert "Waiting for: Cat" in reason


def test_a_complete_round_waits_for_the_bot() -> None:
    turns = state(ROUNDS, [ANN, BEN, CAT])
    assert turns.bot_due
    reason = turns.refusal(ANN)
    assert reason is not None
    assert "bot's turn" in reason
    assert "bot's turn" in turns.status()


def test_newcomers_join_the_round_and_leavers_are_not_awaited() -> None:
    dan = 4
    people = join((ANN, BEN), dan)
    assert people == (ANN, BEN, dan)
    assert join(people, ANN) == people
    turns = TurnTaking.of(ROUNDS, people, [None, ANN, BEN])
    assert turns.waiting_for == [dan]
    assert "<@4>" in turns.status()  # mentions by default (messages are sent without pings)
    assert TurnTaking.of(ROUNDS, leave(people, dan), [None, ANN, BEN]).bot_due


def test_round_size_counts_human_turns_and_still_forbids_two_in_a_row() -> None:
    rules = TurnRules(TurnMode.ROUNDS, round_size=2)
    turns = state(rules, [None, ANN])
    assert turns.refusal(BEN) is None
    assert turns.refusal(ANN) is not None
    assert "anyone but Ann" in turns.status()
    assert "1 of 2" in turns.status()
    assert state(rules, [None, ANN, BEN]).bot_due
    # with a round size the same person may write twice in a round, just not back to back
    rules3 = TurnRules(TurnMode.ROUNDS, round_size=3)
    assert state(rules3, [None, ANN, BEN]).refusal(ANN) is None


def test_nobody_joined_yet() -> None:
    turns = TurnTaking.of(ROUNDS, (), [None])
    assert "nobody has joined" in turns.status()
    assert turns.refusal(ANN) is None
    assert not turns.bot_due


@pytest.mark.parametrize("size", [0, MAX_ROUND_SIZE + 1])
def test_round_size_bounds(size: int) -> None:
    with pytest.raises(TurnRefused, match="between 1 and"):
        TurnRules(TurnMode.ROUNDS, round_size=size)


def test_rules_describe_themselves() -> None:
    assert TurnRules().describe().startswith("free")
    assert "each participant writes once" in ROUNDS.describe()
    assert "every 1 human turn" in TurnRules(TurnMode.ROUNDS, 1).describe()
