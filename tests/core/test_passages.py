"""Answers shaped as a reader expects: no labels, whole sentences, one prompt, whole lines."""

import pytest

from core.controls import Task
from core.passages import (
    VERSE_LINE_CHARS,
    Shaping,
    ends_mid_sentence,
    one_prompt,
    shape_answer,
    strip_labels,
    trim_incomplete_sentence,
    whole_lines,
    without_list_lines,
)


@pytest.mark.parametrize(
    "labelled",
    [
        "The story so far:\nMara lit the lamp.",
        "The story: Mara lit the lamp.",
        "Continuation:\n\nMara lit the lamp.",
        "**Continuation:** Mara lit the lamp.",
        "Here is the next passage:\nMara lit the lamp.",
        "Sure! Here's the continuation:\nMara lit the lamp.",
        "[RESPONSE]\nMara lit the lamp.",
        "Story (continued): Mara lit the lamp.",
        "Title: The Lamp\nMara lit the lamp.",
    ],
)
def test_labels_an_instruct_model_opens_with_are_stripped(labelled):
    assert strip_labels(labelled) == "Mara lit the lamp."


def test_text_that_only_mentions_a_story_keeps_its_words():
    text = "The story she told was old. Mara lit the lamp."
    assert strip_labels(text) == text


def test_an_unfinished_last_sentence_is_trimmed():
    text = "Mara lit the lamp. The sea was calm! Then the door of the"
    assert trim_incomplete_sentence(text) == "Mara lit the lamp. The sea was calm!"


def test_closing_quotes_belong_to_the_sentence():
    text = '"Who is there?" she asked. "Nobody," said the voice. "Go back to'
    assert trim_incomplete_sentence(text) == '"Who is there?" she asked. "Nobody," said the voice.'
    assert not ends_mid_sentence('She whispered, "Run."')


def test_a_complete_passage_is_left_alone_and_so_is_one_without_any_sentence_end():
    assert trim_incomplete_sentence("It rained all night.  ") == "It rained all night."
    assert trim_incomplete_sentence("and then the") == "and then the"


def test_decimal_points_are_not_sentence_ends():
    assert trim_incomplete_sentence("It cost 3.50 coins. She paid 2.5 and") == "It cost 3.50 coins."


def test_a_prompt_is_its_first_paragraph_and_at_most_two_sentences():
    rambling = (
        '"A dragon runs a bakery. Nobody dares complain. The bread is always burnt."\n\n'
        "Write a story about it."
    )
    assert one_prompt(rambling) == "A dragon runs a bakery. Nobody dares complain."
    run_on = 'Words have no meaning but to your imagination. Story: "A rare example of that.'
    assert one_prompt(run_on) == "Words have no meaning but to your imagination."
    listed = "A clock that runs backwards.\n2. A town without doors."
    assert one_prompt(listed) == "A clock that runs backwards."


def test_a_prompt_never_ends_in_a_half_sentence():
    cut = "A clockmaker loses a day of her past. She is tasked by a secretive group to watch"
    assert one_prompt(cut) == "A clockmaker loses a day of her past."


def test_a_poem_keeps_its_line_breaks_and_loses_only_a_cut_off_last_line():
    poem = "Sun on the water,\nlight in the reeds,\nand the wind in"
    assert whole_lines(poem, cut_by_length=True) == "Sun on the water,\nlight in the reeds,"
    assert whole_lines(poem, cut_by_length=False) == poem


def test_a_poem_written_as_prose_is_set_in_lines():
    prose = (
        "I am not without sorrow, my heart is full of pain. A raven's feather dares not speak; "
        "I let my thoughts go unchecked. My spirit travels through realms both dark and bright"
    )
    lines = whole_lines(prose, cut_by_length=True).splitlines()
    assert lines == [
        "I am not without sorrow,",
        "my heart is full of pain.",
        "A raven's feather dares not speak;",
        "I let my thoughts go unchecked.",
    ], "set at clause ends; the line the length limit cut is dropped"
    assert " ".join(whole_lines(prose, cut_by_length=False).split()) == " ".join(prose.split())


def test_a_prose_paragraph_inside_a_poem_is_set_in_lines_too():
    # The default model's joy poem: one line of prose, then a line the length limit cut off.
    poem = (
        "I'm just a small pebble in this endless sea of words, my feet sinking into the glow. "
        "I feel unmoored from the world's embrace. Every step feels impossible.\nA wave cra"
    )
    lines = whole_lines(poem, cut_by_length=True).splitlines()
    assert lines[0] == "I'm just a small pebble in this endless sea of words,"
    assert lines[-1] == "Every step feels impossible."
    assert all(len(line) <= 2 * VERSE_LINE_CHARS for line in lines)
    verse = "Short line one,\nshort line two.\n\nA second stanza."
    assert whole_lines(verse, cut_by_length=False) == verse


def test_a_poem_loses_the_remark_it_ends_with():
    poem = "The flame burned through the glass.\n(This example can be expanded with more lines"
    assert whole_lines(poem, cut_by_length=True) == "The flame burned through the glass."


@pytest.mark.parametrize(
    "lead_in",
    [
        "Consider this: ",
        "Let’s start with something unique: ",  # a curly apostrophe, as the model writes it
        "Let's begin with a twist:\n",
        "Here’s one for you: ",
    ],
)
def test_a_lead_in_is_a_label(lead_in):
    assert strip_labels(lead_in + '"A city that forgets." A girl remembers.').startswith('"A')


def test_a_prompt_loses_the_hashtags_it_ends_with():
    text = "The last library book, written by a ghost. #youthwriting #creativewriting"
    assert one_prompt(text) == "The last library book, written by a ghost."


def test_shape_answer_per_task():
    story = "Continuation:\nThe boat came back. Its sails were"
    assert shape_answer(Task.CONTINUE, story, cut_by_length=True) == "The boat came back."
    prompt = "Prompt: The moon files a complaint. It is ignored. Chaos follows."
    assert shape_answer(Task.PROMPT, prompt, cut_by_length=False) == (
        "The moon files a complaint. It is ignored."
    )
    poem = "Poem:\nJoy in the morning,\njoy in the rain"
    assert shape_answer(Task.POEM, poem, cut_by_length=False) == (
        "Joy in the morning,\njoy in the rain"
    )


def test_a_forced_prefix_is_not_taken_for_a_label():
    text = "Story: a word that the user chose to start with. More"
    assert shape_answer(Task.STORY, text, cut_by_length=True, labelled=False) == (
        "Story: a word that the user chose to start with."
    )


# What the default model wrote in bench/quality.py's action story, where prose was asked for.
GLOSSARY = "Loyalty: Sam's loyal and he would never betray her.\nCombat: A battle at the bridge."
PROSE_THEN_GLOSSARY = (
    "They were out of time. The rest is history now.\n\nHeroes: Colonel Hask took the hospital."
)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (PROSE_THEN_GLOSSARY, "They were out of time. The rest is history now."),
        (GLOSSARY, ""),
        ("\n\n1. Aligns with the Colonel.\n2. The horse doubled.", ""),
        ("She ran.\n- a list item", "She ran."),
        ("She ran.\n3.", "She ran."),  # a list number still forming is not shown either
        ('She ran. "Stop!" he said: "Now."', 'She ran. "Stop!" he said: "Now."'),
        ("She ran.\nHe said: wait for me.", "She ran.\nHe said: wait for me."),
        ("Story details:", ""),
        ("She ran.\n\nWhat happens next:\nShe hides.", "She ran.\n\nShe hides."),
    ],
)
def test_a_story_in_prose_loses_its_list_and_glossary_lines(text: str, kept: str):
    shaping = Shaping.for_request(Task.CONTINUE, "Sam floored the pedal.", prefix="")
    assert shaping.prose_only
    assert shaping.shape(text, cut_by_length=False) == kept


def test_a_story_passage_loses_the_aside_it_ends_with():
    text = "They ran like ghosts. Ada cut the rope.\n\n(Remembering your opening sentence)\n"
    assert shape_answer(Task.CONTINUE, text, cut_by_length=False) == (
        "They ran like ghosts. Ada cut the rope."
    )


def test_a_story_with_lists_or_speaker_labels_may_go_on_with_them():
    script = "MARA: Who is there?\nTobin: Only the wind."
    for context in (script, "Her list:\n1. Eggs\n2. Rope"):
        shaping = Shaping.for_request(Task.CONTINUE, context, prefix="")
        assert not shaping.prose_only
        assert shaping.shape("Mara: Then open the door.", cut_by_length=False) == (
            "Mara: Then open the door."
        )
    assert not Shaping.for_request(Task.POEM, "Joy", prefix="").prose_only, "verse may list"


def prose(text: str, *, cut_by_length: bool = False) -> str:
    return shape_answer(Task.CONTINUE, text, cut_by_length=cut_by_length, prose_only=True)


def test_a_prose_passage_loses_its_headings():
    text = "Chapter Two\nMara lit the lamp.\n\nAuthor's Note\nSubsection 1.4\nShe slept."
    assert prose(text) == "Mara lit the lamp.\n\nShe slept."


@pytest.mark.parametrize("cut_by_length", [False, True])
def test_an_answer_of_headings_only_is_empty_so_the_bot_asks_again(cut_by_length):
    text = "A continuation of a short story\nAn ending to a story\n\nPossible ending"
    assert prose(text, cut_by_length=cut_by_length) == ""


def test_the_last_line_is_a_heading_only_once_the_answer_ended_there():
    assert prose("Mara lit the lamp.\nPossible ending") == "Mara lit the lamp."
    growing = "Mara lit the lamp.\nThe night"  # still being written: it may become a sentence
    assert without_list_lines(growing) == growing


@pytest.mark.parametrize(
    "line", ["Dear Mara,", "and then;", '"Run"', "“Who is there”", "It went on —"]
)
def test_lines_that_lead_on_or_speak_are_not_headings(line):
    text = f"Mara lit the lamp.\n{line}\nThe door opened."
    assert prose(text) == text


def test_a_last_paragraph_that_talks_to_the_reader_is_dropped():
    text = "Mara lit the lamp.\n\nI hope you enjoyed this story! Let me know what happens next."
    assert prose(text) == "Mara lit the lamp."
    told = 'Mara lit the lamp.\n\n"I hope you are cold," she said. The door opened.'
    assert prose(told) == told
