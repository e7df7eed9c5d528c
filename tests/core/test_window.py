"""The sliding window the server and `campfire-train sample` share."""

from core.window import pinned_length, slide


def test_a_slide_keeps_the_header_then_the_most_recent_tokens():
    tokens = list(range(101))  # one past a window of 100
    kept = slide(tokens, 100, pinned=10)
    assert kept == [*range(10), *range(101 - 65, 101)]
    assert len(kept) == 75


def test_without_a_header_only_the_most_recent_tokens_stay():
    assert slide(list(range(101)), 100) == list(range(26, 101))


def test_the_header_stays_the_same_across_slides():
    tokens = list(range(101))
    once = slide(tokens, 100, pinned=10)
    twice = slide([*once, *range(200, 226)], 100, pinned=10)
    assert twice[:10] == list(range(10)) and twice[-1] == 225


def test_a_header_is_capped_at_a_quarter_of_the_window():
    assert pinned_length(80, 100) == 25
    assert pinned_length(12, 100) == 12
    assert slide(list(range(101)), 100, pinned_length(80, 100))[:26] == [*range(25), 51]


def test_what_fits_is_left_alone():
    assert slide([1, 2, 3], 100, pinned=2) == [1, 2, 3]
