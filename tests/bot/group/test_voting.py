from datetime import UTC, datetime, timedelta

import pytest

from bot.group.voting import (
    TIE_RULE,
    CandidateVote,
    CastOutcome,
    CloseReason,
    VoteError,
    check_candidates,
)

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SOON = START + timedelta(seconds=5)
ANN, BEN, CAT, DAN = 1, 2, 3, 4


def vote(candidates: int = 3, participants: int = 3, seconds: int = 60) -> CandidateVote:
    return CandidateVote(candidates, participants, START, timedelta(seconds=seconds))


def test_one_vote_per_member_and_votes_can_change() -> None:
    ballot = vote(participants=4)
    assert ballot.cast(ANN, 0, SOON) is CastOutcome.NEW
    assert ballot.cast(ANN, 0, SOON) is CastOutcome.SAME
    assert ballot.counts() == [1, 0, 0]
    assert ballot.cast(ANN, 2, SOON) is CastOutcome.CHANGED
    assert ballot.counts() == [0, 0, 1]
    assert not ballot.closed


def test_a_majority_of_participants_closes_the_vote_at_once() -> None:
    ballot = vote(participants=3)
    assert ballot.majority == 2
    ballot.cast(ANN, 1, SOON)
    assert not ballot.closed
    ballot.cast(BEN, 1, SOON)
    assert ballot.result is not None
    assert ballot.result.winner == 1
    assert ballot.result.reason is CloseReason.MAJORITY
    with pytest.raises(VoteError, match="closed"):
        ballot.cast(CAT, 0, SOON)
    assert "Candidate #2 wins with 2 votes (a majority)." in ballot.tally()


def test_changed_votes_and_a_tie_broken_by_the_stated_rule() -> None:
    ballot = vote(participants=3)
    ballot.cast(ANN, 1, SOON)
    ballot.cast(BEN, 2, SOON)
    ballot.cast(ANN, 0, SOON)  # Ann changes her mind from #2 to #1
    ballot.cast(CAT, 1, SOON)
    assert ballot.counts() == [1, 1, 1]
    assert not ballot.closed  # no majority: it runs until its time is up
    assert not ballot.due(START + timedelta(seconds=59))
    assert ballot.due(START + timedelta(seconds=60))
    result = ballot.close()
    assert result.winner == 0
    assert result.tied == [0, 1, 2]
    assert result.reason is CloseReason.TIME
    text = ballot.tally()
    assert "#1: 1 vote - wins" in text
    assert f"tie between #1, #2, #3 and {TIE_RULE}" in text


def test_tie_among_some_candidates_goes_to_the_earliest_of_them() -> None:
    ballot = vote(candidates=4, participants=6)
    for voter, choice in [(ANN, 3), (BEN, 3), (CAT, 1), (DAN, 1), (5, 0)]:
        ballot.cast(voter, choice, SOON)
    result = ballot.close()
    assert result.winner == 1
    assert result.tied == [1, 3]


def test_no_votes_means_no_winner() -> None:
    result = vote().close()
    assert result.winner is None
    assert "Nobody voted" in result.announcement()


def test_voters_beyond_the_participants_raise_the_majority() -> None:
    ballot = vote(participants=1)
    ballot.cast(ANN, 0, SOON)  # one participant: a single vote is a majority
    assert ballot.closed
    crowd = vote(participants=1)
    crowd.votes = {BEN: 1, CAT: 2}
    assert crowd.electorate == 2
    crowd.cast(ANN, 0, SOON)
    assert crowd.majority == 2
    assert not crowd.closed


def test_votes_after_the_deadline_or_for_missing_candidates_are_refused() -> None:
    ballot = vote()
    with pytest.raises(VoteError, match="no candidate #4; pick 1 to 3"):
        ballot.cast(ANN, 3, SOON)
    with pytest.raises(VoteError, match="closed"):
        ballot.cast(ANN, 0, START + timedelta(minutes=2))


def test_close_is_idempotent() -> None:
    ballot = vote()
    ballot.cast(ANN, 2, SOON)
    first = ballot.close()
    assert ballot.close(CloseReason.MAJORITY) is first


def test_open_tally_says_how_it_closes() -> None:
    ballot = vote()
    ballot.cast(ANN, 2, SOON)
    text = ballot.tally(when=lambda moment: moment.strftime("at %H:%M:%S"))
    assert text.splitlines()[:3] == ["#1: 0 votes", "#2: 0 votes", "#3: 1 vote"]
    assert "Closes at 12:01:00 or when one candidate has 2 votes" in text
    assert TIE_RULE in text
    assert "<t:" in ballot.tally()


@pytest.mark.parametrize("count", [0, 1, 6])
def test_candidate_count_bounds(count: int) -> None:
    with pytest.raises(VoteError, match="between 2 and 5 candidates"):
        check_candidates(count)


@pytest.mark.parametrize("seconds", [5, 90000])
def test_timeout_bounds(seconds: int) -> None:
    with pytest.raises(VoteError, match="between 10 seconds and 24 hours"):
        vote(seconds=seconds)
