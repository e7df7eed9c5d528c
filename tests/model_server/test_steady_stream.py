"""What a shaped stream shows as the tokens come: only text the final passage keeps."""

from __future__ import annotations

from core.controls import Task
from core.passages import Shaping
from model_server.generation_run import SteadyStream


def shown(stream: SteadyStream, *deltas: str) -> list[str]:
    return [stream.add(delta) for delta in deltas]


def test_a_story_shows_whole_sentences_and_never_its_unfinished_tail():
    stream = SteadyStream(Shaping(Task.CONTINUE))
    assert shown(stream, "The dog ran", " home. She", " looked back. And then") == [
        "",
        "The dog ran home.",
        " She looked back.",
    ]
    assert stream.finish("The dog ran home. She looked back.") == ""


def test_a_label_is_never_shown():
    stream = SteadyStream(Shaping(Task.CONTINUE))
    assert "".join(shown(stream, "The story so far:", "\nMara climbed.", " She")) == "Mara climbed."


def test_a_poem_shows_whole_lines():
    stream = SteadyStream(Shaping(Task.POEM))
    assert shown(stream, "Roses are red\nViolets", " are blue\nSugar") == [
        "Roses are red",
        "\nViolets are blue",
    ]
    assert stream.finish("Roses are red\nViolets are blue\nSugar is sweet") == "\nSugar is sweet"


def test_a_prompt_stops_after_its_second_sentence():
    stream = SteadyStream(Shaping(Task.PROMPT))
    text = "".join(shown(stream, "A dragon wakes. ", "It is hungry. ", "Then it eats. More"))
    assert text == "A dragon wakes. It is hungry."


def test_a_caller_prefix_counts_as_shown():
    stream = SteadyStream(Shaping(Task.CONTINUE, labelled=False), raw="She said", shown="She said")
    assert shown(stream, " no. Then", " she left.") == [" no.", ""]
    assert stream.finish("She said no. Then she left.") == " Then she left."


def test_a_full_stop_at_the_very_end_waits_for_what_follows_it():
    # "fii." went on as "fii.m ...": shown at once, it was text the passage never kept.
    stream = SteadyStream(Shaping(Task.CONTINUE))
    assert shown(stream, " fii.", "m rost", "arerno") == ["", "", ""]
    assert stream.finish("") == ""
    stream = SteadyStream(Shaping(Task.CONTINUE))
    assert shown(stream, "She ran.", " He") == ["", "She ran."]


def test_a_story_that_turns_into_a_list_shows_only_its_prose():
    stream = SteadyStream(Shaping(Task.CONTINUE, prose_only=True))
    text = "".join(shown(stream, "They ran. ", "It was late.\n\n1.", " Aligns with", " the end."))
    assert text == "They ran. It was late."
