"""The story-quality benchmark's scenarios: one story per genre, prompts, poems in every emotion.

Each story opens with a person's passage, sets memory, one lore entry (its keyword is in the
opening, so it is triggered) and an author's note, then asks for continuations. `names` are what
the memory and lore name and the opening does not: a continuation that names one took them up.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.controls import Emotion, Genre


@dataclass(frozen=True)
class StoryScenario:
    genre: Genre
    opening: str
    memory: str
    lore_name: str
    lore_keywords: str
    lore_text: str
    note: str
    names: tuple[str, ...]


STORIES = (
    StoryScenario(
        Genre.HORROR,
        "Mara climbed the spiral stairs of the lighthouse as the storm broke over the bay. "
        "Halfway up, the lamp above her went dark, and something below began to knock.",
        "Mara keeps the lighthouse alone with her old dog, Biscuit.",
        "Tobin",
        "lighthouse, lamp",
        "Tobin was the keeper before Mara; he vanished in a storm ten years ago.",
        "Keep it eerie and slow.",
        ("Biscuit", "Tobin"),
    ),
    StoryScenario(
        Genre.SCI_FI,
        "The ship's computer woke Captain Idris two hundred years too early. The cryo bay was "
        "silent, and every other pod was empty.",
        "Idris commands the colony ship Meridian; the ship's AI is called Wren.",
        "Kepler Station",
        "ship, pod",
        "Kepler Station is the colony the Meridian left, now a ruin.",
        "Let the AI know more than it says.",
        ("Wren", "Meridian", "Kepler"),
    ),
    StoryScenario(
        Genre.SUPERHERO,
        "Nobody in the city knew that the quiet librarian could stop time, and Jun wanted to "
        "keep it that way. Then the bank across the street exploded.",
        "Jun's power only works while nobody is watching; her rival is called Static.",
        "Harbor City",
        "city, bank",
        "Harbor City has banned masked heroes since the flood.",
        "Keep the tone light and fast.",
        ("Static", "Harbor"),
    ),
    StoryScenario(
        Genre.DRAMA,
        "The sisters had not spoken in nine years when they met again at their father's "
        "funeral. Lena arrived late, soaked from the rain, and sat in the back row.",
        "Lena and her older sister Ruth fell out over the family farm.",
        "Willow Farm",
        "funeral, father",
        "Willow Farm is the family farm their father left to neither of them.",
        "Let them speak in short, guarded lines.",
        ("Ruth", "Willow"),
    ),
    StoryScenario(
        Genre.THRILLER,
        "The stranger on the night train sat down across from Eli and said his real name, "
        "the one he had not used since he ran.",
        "Eli stole a ledger from the Calloway family and has been hiding for six years.",
        "The Ledger",
        "train, name",
        "The ledger lists every bribe the Calloways paid; Eli hid it in Prague.",
        "Raise the tension with every line.",
        ("Calloway", "ledger", "Prague"),
    ),
    StoryScenario(
        Genre.ACTION,
        "The bridge was rigged to blow in four minutes, and the last car on it was theirs. "
        "Sam floored the pedal while Ada loaded the flare gun.",
        "Sam and Ada are smugglers running medicine to the mountain town of Vell.",
        "Colonel Hask",
        "bridge, car",
        "Colonel Hask rigged the bridge; he wants the medicine for his army.",
        "Short sentences. Keep moving.",
        ("Vell", "Hask"),
    ),
)

PROMPT_TOPICS = (None, "A dragon", None, "The last library")
POEM_EMOTIONS = tuple(emotion for emotion in Emotion if emotion is not Emotion.NEUTRAL)
