"""Benchmark: one model with emotion tokens vs one model per emotion (seed 004), same poems.

Seed 004 trained a separate GPT-2 per emotion; Campfire trains one model steered by an emotion
token. This script fine-tunes both ways from the same base on the same training poems, for the
same number of epochs (so the same compute in all; `--per-emotion-epochs` gives each
per-emotion model as many steps as the shared one instead), and scores every model on the same
held-out poems with `campfire-train eval`'s measure (perplexity of the poem given its prompt).

The poems are generated reproducibly from small word lists written for this script (no poem
corpus ships offline); the poems importer labels them with the installed NRC lexicon, as a
user's corpus would be, and emotions with fewer than `--min-poems` poems are left out.

    python -m bench.emotions --base checkpoints/smollm2-135m-instruct

Writes bench/results/emotions.json and bench/results/emotions.png.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from core.controls import Emotion
from finetune.checkpoint import load_checkpoint
from finetune.dataset import TRAIN_FILE, VALIDATION_FILE, prepare
from finetune.evaluate import score_records
from finetune.export import export_run
from finetune.records import Record, read_records, write_records
from finetune.train import FitArguments, fit

RESULTS = Path(__file__).resolve().parent / "results"

MOODS = {
    "joy": ["laughter", "sunshine", "dancing", "sweet", "delight", "bright", "celebrate", "smile"],
    "sadness": ["tears", "lonely", "grief", "mourning", "fading", "sorrow", "weeping", "loss"],
    "fear": ["shadow", "trembling", "dread", "scream", "danger", "horror", "panic", "terror"],
    "anger": ["rage", "fury", "shouting", "cruel", "burning", "hate", "violent", "angry"],
}
THINGS = ["river", "window", "garden", "road", "harbor", "mountain", "kitchen", "forest"]
TIMES = ["morning", "evening", "winter", "summer", "midnight", "spring", "autumn", "noon"]
LINES = [
    "The {thing} in the {time} is full of {a},",
    "and every {b} step brings {c} to me;",
    "I keep the {d} close, the {thing} knows why,",
    "a {e} song beneath a {time} sky.",
]


def write_poems(path: Path, per_mood: int, seed: int) -> None:
    """Four-line poems, each built from one mood's words; blank lines between poems."""
    rng = random.Random(seed)
    poems = []
    for words in MOODS.values():
        for _ in range(per_mood):
            fill = dict(zip("abcde", rng.sample(words, 5), strict=True))
            thing, time_of_day = rng.choice(THINGS), rng.choice(TIMES)
            lines = [line.format(thing=thing, time=time_of_day, **fill) for line in LINES]
            poems.append("\n".join(lines))
    rng.shuffle(poems)
    path.write_text("\n\n".join(poems) + "\n", encoding="utf-8")


def per_emotion_folders(data: Path, emotions: list[Emotion], root: Path) -> dict[Emotion, Path]:
    """One data folder per emotion with exactly the shared split's poems of that emotion."""
    folders = {}
    for emotion in emotions:
        folder = root / f"data-{emotion.value}"
        folder.mkdir(parents=True)
        for name in (TRAIN_FILE, VALIDATION_FILE):
            records = [r for r in read_records(data / name) if r.control is emotion]
            write_records(folder / name, records, append=False)
        folders[emotion] = folder
    return folders


def train_and_export(
    data: Path, base: str, root: Path, name: str, args: Any, epochs: float
) -> Path:
    run = root / f"run-{name}"
    fit(
        FitArguments(
            data,
            base,
            run,
            lora=True,
            epochs=epochs,
            block_size=args.block_size,
            batch_size=args.batch_size,
            eval_steps=10_000,  # evaluated once, at the end, by score_records below
            seed=args.seed,
        )
    )
    return export_run(run, root / "checkpoints" / name)


def score(checkpoint: Path, records: list[Record]) -> dict[str, Any]:
    return score_records(load_checkpoint(checkpoint, "cpu"), records)


def run_benchmark(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    poems = root / "poems.txt"
    write_poems(poems, args.per_mood, args.seed)
    data = root / "data-all"
    prepare("poems", [poems], data, validation_fraction=args.validation, seed=args.seed)
    train, validation = read_records(data / TRAIN_FILE), read_records(data / VALIDATION_FILE)
    counts = Counter(r.control for r in train + validation)
    emotions = [e for e in Emotion if counts[e] >= args.min_poems]
    validation = [r for r in validation if r.control in emotions]
    report: dict[str, Any] = {
        "base": args.base,
        "poems": {e.value: counts[e] for e in emotions},
        "validation_poems": {e.value: sum(r.control is e for r in validation) for e in emotions},
        "epochs": args.epochs,
        "per_emotion_epochs": args.per_emotion_epochs or args.epochs,
        "per_emotion": {},
    }
    started = time.perf_counter()
    shared = train_and_export(data, args.base, root, "tokens", args, args.epochs)
    report["seconds_tokens"] = round(time.perf_counter() - started, 1)
    report["tokens"] = score(shared, validation)["per_control"]
    report["base_scores"] = score(Path(args.base), validation)["per_control"]
    started = time.perf_counter()
    for emotion, folder in per_emotion_folders(data, emotions, root).items():
        checkpoint = train_and_export(
            folder, args.base, root, emotion.value, args, args.per_emotion_epochs or args.epochs
        )
        own = [r for r in validation if r.control is emotion]
        report["per_emotion"][emotion.value] = score(checkpoint, own)["per_control"]
    report["seconds_per_emotion"] = round(time.perf_counter() - started, 1)
    return report


def table(report: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for emotion, count in report["validation_poems"].items():
        key = f"poem/{emotion}"
        rows.append(
            {
                "emotion": emotion,
                "validation_poems": count,
                "base": report["base_scores"][key]["perplexity"],
                "one_model_with_tokens": report["tokens"][key]["perplexity"],
                "one_model_per_emotion": report["per_emotion"][emotion][key]["perplexity"],
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="checkpoints/smollm2-135m-instruct")
    parser.add_argument("--per-mood", type=int, default=30, help="poems built per mood (30)")
    parser.add_argument("--min-poems", type=int, default=8, help="smallest emotion kept (8)")
    parser.add_argument("--validation", type=float, default=0.2)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument(
        "--per-emotion-epochs",
        type=float,
        help="epochs of each per-emotion model (default --epochs: the same compute in all)",
    )
    parser.add_argument("--block-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="campfire-emotions-") as tmp:
        report = run_benchmark(args, Path(tmp))
    report["table"] = table(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "emotions.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _plot(report["table"], RESULTS / "emotions.png")
    print(f"{'emotion':<14}{'poems':>6}{'base':>9}{'tokens':>9}{'per-emotion':>13}")
    for row in report["table"]:
        print(
            f"{row['emotion']:<14}{row['validation_poems']:>6}{row['base']:>9.2f}"
            f"{row['one_model_with_tokens']:>9.2f}{row['one_model_per_emotion']:>13.2f}"
        )
    return 0


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.27
    for i, (key, label) in enumerate(
        [
            ("base", "base"),
            ("one_model_with_tokens", "one model + tokens"),
            ("one_model_per_emotion", "one model per emotion"),
        ]
    ):
        xs = [j + (i - 1) * width for j in range(len(rows))]
        axes.bar(xs, [row[key] for row in rows], width, label=label)
    axes.set_xticks(range(len(rows)), [row["emotion"] for row in rows])
    axes.set_ylabel("held-out poem perplexity (lower is better)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    raise SystemExit(main())
