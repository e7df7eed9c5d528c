"""The seeds' own training files, continue examples from stories, and the stratified split."""

from __future__ import annotations

from pathlib import Path

from core.controls import Emotion, Genre, Task
from finetune.dataset import TRAIN_FILE, VALIDATION_FILE, prepare, split
from finetune.importers import ImportOptions
from finetune.importers.plots import import_plots
from finetune.records import Record, read_records

STORY = (
    "Zackary Blue worked as a night janitor in the basement of a bank. He cleaned the vaults "
    "every night.\n\nOne night the vault door stood open. Inside, a robot was reading novels "
    "by the light of a screen, and it looked up at him and smiled."
)
GPT2_SIMPLE = (
    "<|startoftext|>[WP] On November 4, humanity abandons the Internet to the bots.\n\n"
    f"[RESPONSE] {STORY}\n<|endoftext|>\n"
    "<|startoftext|>[WP] A dragon applies for a job at the local bakery.<|endoftext|>\n"
)
GENRE_LINES = (
    "<BOS> <sci_fi> After discovering time travel, a physicist visits her own funeral. <EOS>\n"
    "<BOS> <horror> A family moves into a farmhouse where the walls whisper at night. <EOS>\n"
    "<BOS> <superhero> A shy teenager gains the power to stop time and saves her city. <EOS>\n"
)


def _all_records(data: Path) -> list[Record]:
    return read_records(data / TRAIN_FILE) + read_records(data / VALIDATION_FILE)


def _prepared_as(folder: Path, name: str, content: str, formats: list[str]) -> list[list[Record]]:
    """The records `prepare` makes of one file under each of the formats."""
    path = folder / name
    path.write_text(content, encoding="utf-8")
    for format_name in formats:
        prepare(format_name, [path], folder / format_name)
    return [_all_records(folder / format_name) for format_name in formats]


def test_gpt2_simple_marked_text_imports_as_prompts_and_stories(tmp_path: Path) -> None:
    formats = ["marked", "text", "writing-prompts"]
    for records in _prepared_as(tmp_path, "wp_dataset.txt", GPT2_SIMPLE, formats):
        prompts = sorted(r.text for r in records if r.task is Task.PROMPT)
        assert prompts == [
            "A dragon applies for a job at the local bakery.",
            "On November 4, humanity abandons the Internet to the bots.",
        ]
        [story] = [r for r in records if r.task is Task.STORY]
        assert story.context == prompts[1]
        assert story.text == STORY
        assert not any("<|" in r.text or "[RESPONSE]" in r.text for r in records)


def test_genre_lines_import_as_genre_stories(tmp_path: Path) -> None:
    name = "6_genre_clean_training_data.txt"
    for records in _prepared_as(tmp_path, name, GENRE_LINES, ["marked", "plots", "lines"]):
        stories = [r for r in records if r.task is Task.STORY]
        assert {r.control for r in stories} == {Genre.SCI_FI, Genre.HORROR, Genre.SUPERHERO}
        assert all("<" not in r.text and r.text.endswith(".") for r in stories)


def test_stories_also_teach_continuation(tmp_path: Path) -> None:
    path = tmp_path / "wp.txt"
    path.write_text(GPT2_SIMPLE, encoding="utf-8")
    data = tmp_path / "data"
    prepare("marked", [path], data, ImportOptions(genre=Genre.DRAMA))
    [continued] = [r for r in _all_records(data) if r.task is Task.CONTINUE]
    assert continued.control is Genre.DRAMA
    assert continued.context.startswith("Zackary Blue")
    assert continued.text.endswith("looked up at him and smiled.")
    assert f"{continued.context} {continued.text}" == " ".join(STORY.split())
    plots = tmp_path / "plots.csv"
    plots.write_text(
        'Genre,Plot\nhorror,"The crew builds a giant cannon.\nOn the Moon, they meet the dead."\n',
        encoding="utf-8",
    )
    records = import_plots(plots, ImportOptions()).records
    assert [(r.task, r.control, r.context, r.text) for r in records[1:]] == [
        (
            Task.CONTINUE,
            Genre.HORROR,
            "The crew builds a giant cannon.",
            "On the Moon, they meet the dead.",
        )
    ]


def test_no_genre_or_emotion_is_only_in_validation() -> None:
    records = [
        Record(Task.POEM, emotion, "", f"poem {i} about {emotion.value} and more words")
        for emotion in (Emotion.JOY, Emotion.SADNESS)
        for i in range(1 if emotion is Emotion.SADNESS else 30)
    ] + [Record(Task.STORY, Genre.SUPERHERO, "", "a hero with a cape saves a city")]
    for seed in range(40):  # a single record of a control always trains
        train, validation = split(records, 0.5, seed)
        trained = {r.control for r in train}
        assert {Emotion.SADNESS, Genre.SUPERHERO} <= trained
        assert any(r.control is Emotion.JOY for r in validation)


def test_a_prompt_and_its_stories_fall_on_the_same_side() -> None:
    records = []
    for i in range(40):
        group = f"wp:prompt {i}"
        records.append(Record(Task.PROMPT, None, "", f"prompt number {i}", group=group))
        for j in range(3):
            story = f"story {j} for prompt {i} goes here"
            records.append(Record(Task.STORY, None, f"prompt number {i}", story, group=group))
    train, validation = split(records, 0.2, seed=0)
    assert validation
    held_prompts = {r.text for r in validation if r.task is Task.PROMPT}
    assert held_prompts == {r.context for r in validation if r.task is Task.STORY}
    assert not held_prompts & {r.context for r in train}
