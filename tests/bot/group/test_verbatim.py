from bot.group.verbatim import COPY_MARK, copy_notice, copy_notices, notice_for
from core.protocol import Candidate


def candidate(index: int, copied: bool) -> Candidate:
    return Candidate(
        index=index, text="text", finish_reason="end", tokens=3, copied_from_training=copied
    )


def test_original_text_gets_no_notice() -> None:
    assert copy_notice(candidate(0, False)) is None


def test_copied_text_is_marked_and_regenerate_is_suggested() -> None:
    notice = copy_notice(candidate(0, True))
    assert notice is not None
    assert notice.startswith(f"{COPY_MARK} This passage repeats")
    assert "training text word for word" in notice
    assert "Regenerate" in notice


def test_vote_notices_name_the_copied_candidates() -> None:
    notices = copy_notices([candidate(0, False), candidate(1, True), candidate(2, True)])
    assert [n.split(" repeats")[0] for n in notices] == [
        f"{COPY_MARK} Candidate #2",
        f"{COPY_MARK} Candidate #3",
    ]


def test_notice_for_any_passage_by_flag() -> None:
    assert notice_for(False) is None
    notice = notice_for(True, "Candidate #2")
    assert notice is not None and notice.startswith(f"{COPY_MARK} Candidate #2 repeats")
