import pytest

from core.controls import (
    END_MARKER,
    START_MARKER,
    Emotion,
    Genre,
    Task,
    check_control,
    control_tokens,
    parse_emotion,
    parse_genre,
    parse_task,
)
from core.errors import UnknownChoiceError


def test_the_choices_the_issue_names():
    assert [g.value for g in Genre] == [
        "superhero",
        "sci_fi",
        "action",
        "drama",
        "horror",
        "thriller",
    ]
    assert {e.value for e in Emotion} == {
        "anger",
        "anticipation",
        "disgust",
        "fear",
        "joy",
        "sadness",
        "surprise",
        "trust",
        "neutral",
    }
    assert {"prompt", "story", "poem", "continue"} <= {t.value for t in Task}


@pytest.mark.parametrize("spelling", ["sci_fi", "sci-fi", "Sci Fi", "SCIFI", " sci-fi "])
def test_genre_spellings_people_type(spelling):
    assert parse_genre(spelling) is Genre.SCI_FI


def test_unknown_genre_names_the_thing_and_the_choices():
    with pytest.raises(UnknownChoiceError) as caught:
        parse_genre("romance")
    message = str(caught.value)
    assert "'romance'" in message
    assert "horror" in message
    assert "\n" not in message


def test_unknown_emotion_and_task():
    with pytest.raises(UnknownChoiceError, match="unknown emotion 'glee'"):
        parse_emotion("glee")
    with pytest.raises(UnknownChoiceError, match="unknown task 'song'"):
        parse_task("song")
    assert parse_emotion("Joy") is Emotion.JOY
    assert parse_task("continue") is Task.CONTINUE


def test_control_tokens_are_unique_and_cover_every_member():
    tokens = control_tokens()
    assert len(tokens) == len(set(tokens))
    assert tokens[:2] == [START_MARKER, END_MARKER]
    for member in [*Task, *Genre, *Emotion]:
        assert member.token in tokens


def test_a_control_must_fit_its_task():
    check_control(Task.STORY, Genre.HORROR)
    check_control(Task.POEM, Emotion.JOY)
    check_control(Task.PROMPT, None)
    with pytest.raises(UnknownChoiceError, match="genre applies"):
        check_control(Task.POEM, Genre.HORROR)
    with pytest.raises(UnknownChoiceError, match="emotion applies"):
        check_control(Task.STORY, Emotion.FEAR)
