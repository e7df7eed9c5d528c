from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest

from core.controls import Emotion, Genre, Task
from finetune.errors import DataError
from finetune.importers import ImportOptions
from finetune.importers.lines import import_lines
from finetune.importers.plots import import_plots, load_genre_map, map_genre
from finetune.importers.poems import dominant_emotion, import_poems, load_lexicon
from finetune.importers.text import import_text
from finetune.importers.writing_prompts import clean, import_writing_prompts
from tests.finetune import corpora


def test_writing_prompts_pairs_give_prompt_and_story_examples(tmp_path: Path) -> None:
    source = corpora.write_writing_prompts(tmp_path)
    result = import_writing_prompts(source, ImportOptions(genre=Genre.DRAMA))
    prompts = [r for r in result.records if r.task is Task.PROMPT]
    stories = [r for r in result.records if r.task is Task.STORY]
    assert len(prompts) == len(stories) == 4
    assert prompts[0].text == "You wake up to find that every clock in the world has stopped."
    assert prompts[1].text.startswith("A dragon applies")  # both tags gone
    assert stories[0].context == prompts[0].text
    assert stories[0].control is Genre.DRAMA
    assert "<newline>" not in stories[0].text
    assert "I don't know why, but I wasn't afraid." in stories[0].text
    assert stories[1].text.startswith('"I can do pastries," the dragon said.\n')


def test_writing_prompts_target_file_finds_its_source(tmp_path: Path) -> None:
    corpora.write_writing_prompts(tmp_path)
    options = ImportOptions(derive_continue=False)
    result = import_writing_prompts(tmp_path / "train.wp_target", options)
    assert len(result.records) == 8


def test_writing_prompts_misaligned_files_are_refused(tmp_path: Path) -> None:
    source = corpora.write_writing_prompts(tmp_path)
    (tmp_path / "train.wp_target").write_text("only one story here\n", encoding="utf-8")
    with pytest.raises(DataError, match="line-aligned"):
        import_writing_prompts(source, ImportOptions())


def test_writing_prompts_jsonl_and_csv_tables(tmp_path: Path) -> None:
    jsonl = tmp_path / "wp.jsonl"
    rows = [
        {"prompt": p, "response": s}
        for p, s in zip(corpora.WP_PROMPTS, corpora.WP_STORIES, strict=True)
    ]
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    options = ImportOptions(derive_continue=False)
    assert len(import_writing_prompts(jsonl, options).records) == 8
    csv_path = tmp_path / "wp.csv"
    csv_path.write_text('Title,Body\n"A short prompt here","A story of words."\n')
    result = import_writing_prompts(
        csv_path,
        ImportOptions(prompt_column="title", response_column="Body", derive_continue=False),
    )
    assert [r.task for r in result.records] == [Task.PROMPT, Task.STORY]


def test_writing_prompts_wrong_columns_name_the_columns_found(tmp_path: Path) -> None:
    path = tmp_path / "wp.csv"
    path.write_text("question,answer\nwhat now is,nothing at all\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"no prompt column \(columns found: question, answer\)"):
        import_writing_prompts(path, ImportOptions())


def test_clean_undoes_dataset_markup() -> None:
    assert clean("[ WP ] He said , `` hi '' ( twice ) .") == 'He said, "hi" (twice).'
    assert clean("I do n't know , it 's fine") == "I don't know, it's fine"


def test_plots_map_free_text_genres_and_skip_the_rest(tmp_path: Path) -> None:
    path = corpora.write_plots(tmp_path)
    result = import_plots(path, ImportOptions())
    genres = [r.control for r in result.records]
    assert genres == [
        Genre.SCI_FI,
        Genre.HORROR,
        Genre.THRILLER,
        Genre.ACTION,
        Genre.SUPERHERO,
        Genre.DRAMA,
    ]
    assert all(r.task is Task.STORY and r.context == "" for r in result.records)
    assert sum(result.dropped.values()) == 2  # western, musical comedy
    assert "genre-map" in next(iter(result.dropped))


def test_plots_genre_map_file_overrides_and_extends(tmp_path: Path) -> None:
    path = corpora.write_plots(tmp_path)
    genre_map = tmp_path / "genres.json"
    genre_map.write_text(json.dumps({"western": "action", "horror": None}), encoding="utf-8")
    result = import_plots(path, ImportOptions(genre_map=genre_map))
    genres = [r.control for r in result.records]
    assert Genre.HORROR not in genres
    assert genres.count(Genre.ACTION) == 2


def test_plots_genre_map_with_unknown_genre_is_refused(tmp_path: Path) -> None:
    genre_map = tmp_path / "genres.json"
    genre_map.write_text(json.dumps({"western": "cowboy"}), encoding="utf-8")
    with pytest.raises(DataError, match="unknown genre 'cowboy'"):
        load_genre_map(genre_map)


def test_map_genre_takes_the_first_piece_that_maps() -> None:
    mapping = load_genre_map(None)
    assert map_genre("Romantic comedy / Sci-Fi", mapping) is Genre.SCI_FI
    assert map_genre("comedy", mapping) is None


def test_plots_missing_column_names_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "plots.csv"
    path.write_text("Title,Genre\nA,horror\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"no plot column .*title, genre"):
        import_plots(path, ImportOptions())


def test_poems_are_labelled_with_the_dominant_emotion(tmp_path: Path) -> None:
    poems, lexicon = corpora.write_poems(tmp_path)
    result = import_poems(poems, ImportOptions(lexicon=lexicon))
    assert [r.control for r in result.records] == [Emotion.JOY, Emotion.SADNESS, Emotion.NEUTRAL]
    assert all(r.task is Task.POEM for r in result.records)
    assert result.records[0].text.startswith("The sun is warm upon the field,\nand laughter")


def test_a_tie_between_emotions_is_neutral() -> None:
    lexicon = load_lexicon_from({"happy": ["joy"], "sad": ["sadness"]})
    assert dominant_emotion("happy and sad", lexicon) is Emotion.NEUTRAL
    assert dominant_emotion("happy, happy and sad", lexicon) is Emotion.JOY


def load_lexicon_from(raw: dict[str, list[str]]) -> dict[str, frozenset[Emotion]]:
    return {w: frozenset(Emotion(e) for e in emotions) for w, emotions in raw.items()}


def test_inflected_words_count_through_their_lemma() -> None:
    lexicon = load_lexicon_from({"smile": ["joy"], "laugh": ["joy"], "love": ["joy"]})
    lexicon |= load_lexicon_from({"cheer": ["joy"], "weep": ["sadness"]})
    poem = "She smiles and laughs; they loved her and cheered, and one wept."
    assert dominant_emotion(poem, lexicon) is Emotion.JOY
    assert dominant_emotion("He wept.", lexicon) is Emotion.SADNESS


def test_installed_nrc_lexicon_is_used_by_default() -> None:
    lexicon = load_lexicon()
    assert len(lexicon) > 1000
    assert Emotion.JOY in lexicon["happy"]
    poem = "Happy laughter, joyful celebration, a cheerful and delightful smile."
    assert dominant_emotion(poem, lexicon) is Emotion.JOY


def test_poems_jsonl_uses_the_title_as_context(tmp_path: Path) -> None:
    _, lexicon = corpora.write_poems(tmp_path)
    path = tmp_path / "poems.jsonl"
    path.write_text(
        json.dumps({"title": "Winter", "poem": "Dark and cold,\nthe grave of tears."}) + "\n",
        encoding="utf-8",
    )
    [record] = import_poems(path, ImportOptions(lexicon=lexicon)).records
    assert (record.context, record.control) == ("Winter", Emotion.SADNESS)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[1, 2, 3]", "wrong shape"),
        ('{"happy": "joy"}', "not a list of emotion names"),
        ('{"happy": ["positive"]}', "no entry names one of the emotions"),
        ("not json", "not valid UTF-8 JSON"),
    ],
)
def test_a_lexicon_of_the_wrong_shape_is_refused(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "lexicon.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=problem):
        load_lexicon(path)


def test_lines_one_joke_per_line(tmp_path: Path) -> None:
    path = corpora.write_jokes(tmp_path)
    result = import_lines(path, ImportOptions())
    assert [r.text for r in result.records] == corpora.JOKES
    assert {r.task for r in result.records} == {Task.JOKE}


def test_lines_short_jokes_csv_takes_the_non_id_column(tmp_path: Path) -> None:
    path = tmp_path / "shortjokes.csv"
    path.write_text('ID,Joke\n1,"Why did the chicken cross the road, again?"\n2,Hi\n')
    result = import_lines(path, ImportOptions())
    assert [r.text for r in result.records] == ["Why did the chicken cross the road, again?"]
    assert result.dropped == {"line too short": 1}


def test_undecodable_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "jokes.txt"
    path.write_bytes(
        b"A good joke about the sea.\n\xff\xfe broken \xc3\n" + b"Another fine joke here.\n"
    )
    result = import_lines(path, ImportOptions())
    assert len(result.records) == 2
    assert result.dropped == {"line with undecodable bytes (not UTF-8)": 1}


def test_a_file_with_no_utf8_at_all_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("Caf\xe9 cr\xe8me br\xfbl\xe9e.\n".encode("latin-1"))
    with pytest.raises(DataError, match="convert the file to UTF-8"):
        import_lines(path, ImportOptions())


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.txt: no such file"):
        import_lines(tmp_path / "nope.txt", ImportOptions())


def test_text_is_split_into_passages_with_the_previous_as_context(tmp_path: Path) -> None:
    path = corpora.write_novel(tmp_path)
    result = import_text(path, ImportOptions(passage_words=60))
    records = result.records
    assert len(records) >= 3
    assert {r.task for r in records} == {Task.CONTINUE}
    assert records[0].context == ""
    for before, after in itertools.pairwise(records):
        assert after.context == before.text
    assert all(len(r.text.split()) <= 120 for r in records)
    rejoined = "\n\n".join(r.text for r in records)
    assert rejoined == corpora.NOVEL


def test_a_multi_paragraph_csv_cell_keeps_its_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "plots.csv"
    plot = "The crew builds a giant cannon.\nOn the Moon, they meet the Selenites."
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["Genre", "Plot"], ["science fiction", plot]])
    [record] = import_plots(path, ImportOptions(derive_continue=False)).records
    assert record.text == plot
    assert "cannon.On" not in record.text


def test_plots_accept_campfires_own_genre_names(tmp_path: Path) -> None:
    path = tmp_path / "plots.csv"
    rows = [["genre", "plot"]] + [
        [name, f"A story told in the {name} way, long enough to keep."]
        for genre in Genre
        for name in (genre.value, genre.label)
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    result = import_plots(path, ImportOptions())
    assert not result.dropped
    assert [r.control for r in result.records] == [g for g in Genre for _ in range(2)]
