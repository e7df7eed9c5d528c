"""The story-quality figures measure what a reader notices."""

import pytest

from bench.quality_metrics import (
    context_copy,
    is_cut,
    is_poem_shaped,
    is_prompt_shaped,
    loop_share,
    opens_with_label,
    talks_about_the_story,
    uses_any,
)

STORY = "Mara climbed the stairs of the old lighthouse while the storm broke over the bay."


def test_context_copy_counts_six_grams_already_in_the_story():
    copied = "The story so far: Mara climbed the stairs of the old lighthouse."
    # 12 words, 7 six-grams; the last 3 are "Mara climbed the stairs ... lighthouse"
    assert context_copy(copied, STORY) == pytest.approx(3 / 7)
    fresh = "Below her, a lantern swung in the dark water and somebody called her name."
    assert context_copy(fresh, STORY) == 0.0
    assert context_copy("Too short.", STORY) == 0.0


def test_loop_share_counts_four_grams_repeated_within_the_passage():
    loop = "I walked home, and I walked home, and I walked home"
    # 11 words, 8 four-grams: 4 new ones, then the same 4 again
    assert loop_share(loop) == pytest.approx(4 / 8)
    assert loop_share(STORY) == 0.0


@pytest.mark.parametrize(
    "text",
    ["The story so far:\nMara...", "Continuation: Mara ran.", "[RESPONSE] Mara", "**Story:** Mara"],
)
def test_labels_at_the_start_are_caught(text):
    assert opens_with_label(text)


def test_dialogue_and_plain_prose_are_not_labels():
    assert not opens_with_label('"Wait," she said. It was late.')
    assert not opens_with_label("Mara said: run.")
    assert not opens_with_label(STORY)


def test_meta_talk_is_caught_but_a_story_within_the_story_is_not():
    meta = "The story would continue with no beginning, no end, with Mara's unique perspective."
    assert talks_about_the_story(meta)
    assert talks_about_the_story("Here is the next part of the tale.")
    assert not talks_about_the_story("The old man told the story of the wreck twice.")


def test_a_cut_passage_ends_inside_a_sentence():
    assert is_cut("She opened the door and")
    assert not is_cut('She opened the door. "Who is there?"')


def test_uptake_looks_for_whole_names():
    assert uses_any("Biscuit barked at the tide.", ["Biscuit", "Captain Orrin"])
    assert uses_any("The captain, Orrin, waved.", ["Captain Orrin"])
    assert not uses_any("Biscuits were on the table.", ["Biscuit"])


def test_shapes_of_prompts_and_poems():
    assert is_prompt_shaped("A dragon runs a bakery. Nobody complains.")
    assert not is_prompt_shaped("One. Two. Three.")
    assert not is_prompt_shaped("Prompt: A dragon runs a bakery.")
    assert not is_prompt_shaped("A dragon\nruns a bakery.")
    assert is_poem_shaped("Joy in the morning,\njoy in the rain,\njoy again.")
    assert not is_poem_shaped("Joy in the morning, joy in the rain, joy again.")
