"""Small corpora in each format, written by the tests (shapes copied from the real datasets)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

WP_PROMPTS = [
    "[ WP ] You wake up to find that every clock in the world has stopped .",
    "[ WP ] [ EU ] A dragon applies for a job at the local bakery .",
    "[ WP ] The last lighthouse keeper receives a letter from the sea .",
    "[ WP ] Aliens land , but they only want to talk to your cat .",
]
WP_STORIES = [
    "The silence was the first thing I noticed . <newline> <newline> No ticking , no humming , "
    "nothing . I don 't know why , but I wasn 't afraid .",
    "`` I can do pastries , '' the dragon said . <newline> The baker looked at the scorched "
    "counter and sighed .",
    "The envelope was wet and smelled of salt . Inside , the sea had written one word : stay .",
    "Whiskers listened patiently . The aliens spoke for hours , and she yawned , and they wept "
    "with joy .",
]

PLOTS = [
    ("science fiction", "A crew of miners discovers a signal buried under the ice of a moon."),
    ("horror", "A family moves into an old farmhouse where the walls whisper at night."),
    ("crime thriller", "A detective races to stop a bomber who leaves riddles at each scene."),
    ("action, drama", "A retired soldier fights his way through a city to rescue his brother."),
    ("western", "A drifter rides into a town that has no sheriff and no name at all."),
    ("superhero", "A shy teenager gains the power to stop time and must save her city."),
    ("drama", "Two sisters reunite at their mother's funeral and face an old secret."),
    ("musical comedy", "A singing chef wins a contest by accident and falls in love."),
]

POEMS_TEXT = """The sun is warm upon the field,
and laughter rings, a happy song,
our hearts are glad, our joy revealed.

Dark the night and cold the grave,
tears of grief and mourning sore,
sorrow that no hand can save.

The table stands beside the door,
a chair, a cup, a wooden floor.
"""

JOKES = [
    "I told my computer a joke about UDP, but I am not sure it got it.",
    "There are 10 kinds of people: those who know binary and those who do not.",
    "A SQL query walks into a bar, walks up to two tables and asks: may I join you?",
    "Why do programmers prefer dark mode? Because light attracts bugs.",
    "I would tell you a joke about recursion, but I would tell you a joke about recursion.",
    "Debugging is like being the detective in a crime movie where you are also the murderer.",
]

NOVEL = "\n\n".join(
    f"Chapter {i}. The wind came down from the hills and rattled the shutters of the inn. "
    f"Martha counted the coins again, slowly, as if number {i} might change. Outside, a horse "
    "stamped in the mud, and a stranger called for the keeper. She put the coins away."
    for i in range(1, 9)
)

# A small word -> emotions lexicon in nrclex's shape (the real one is never copied here).
LEXICON = {
    "sun": ["joy", "positive"],
    "warm": ["joy", "trust"],
    "laughter": ["joy", "surprise"],
    "happy": ["joy", "trust"],
    "glad": ["joy"],
    "joy": ["joy", "trust"],
    "dark": ["fear", "sadness"],
    "cold": ["sadness"],
    "grave": ["fear", "sadness"],
    "tears": ["sadness"],
    "grief": ["sadness"],
    "mourning": ["sadness"],
    "sorrow": ["sadness"],
    "table": ["positive"],
}


def write_writing_prompts(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.wp_source").write_text("\n".join(WP_PROMPTS) + "\n", encoding="utf-8")
    (folder / "train.wp_target").write_text("\n".join(WP_STORIES) + "\n", encoding="utf-8")
    return folder / "train.wp_source"


def write_plots(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "wiki_movie_plots.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Release Year", "Title", "Genre", "Plot"])
        for i, (genre, plot) in enumerate(PLOTS):
            writer.writerow([1990 + i, f"Film {i}", genre, plot])
    return path


def write_poems(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    poems = folder / "poems.txt"
    poems.write_text(POEMS_TEXT, encoding="utf-8")
    lexicon = folder / "lexicon.json"
    lexicon.write_text(json.dumps(LEXICON), encoding="utf-8")
    return poems, lexicon


def write_jokes(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "jokes.txt"
    path.write_text("\n".join(JOKES) + "\n", encoding="utf-8")
    return path


def write_novel(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "novel.txt"
    path.write_text(NOVEL + "\n", encoding="utf-8")
    return path
