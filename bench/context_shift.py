"""How much of a long story's context the server must prefill again each turn.

    python -m bench.context_shift                 # drop steps 1 and 4, a 1,700-token budget
    python -m bench.context_shift --steps 1,2,4,8 --budget 1700

A story that outgrew the model's window loses its oldest middle turns (bot/story/context.py).
The model server's prefix cache reuses the longest start a new prompt shares with an earlier
one, so what it prefills each turn is the context after that shared start. This grows a seeded
story turn by turn (60 to 140 words a turn) past the budget and reports, per drop step, the
words prefilled per turn (context length less the start shared with the previous turn's
context) and the turns kept; words stand in for tokens. Pure computation: no model, no server.
Writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path

from bench.serve import write_report
from bot.group.tokens import word_count
from bot.story.context import ContextInputs, ContextSettings, assemble_context
from core.window import shared_start


@dataclass
class StepFigures:
    drop_step: int
    words_prefilled_per_turn: float
    turns_kept: float


@dataclass
class ShiftReport:
    budget: int
    turns: int
    figures: list[StepFigures] = field(default_factory=list)


def story_turns(count: int, seed: int = 0) -> list[str]:
    chance = random.Random(seed)
    return [
        " ".join(f"w{turn}_{i}" for i in range(chance.randint(60, 140))) for turn in range(count)
    ]


def measure(step: int, turns: list[str], budget: int, first: int) -> StepFigures:
    settings = ContextSettings(drop_step=step)
    prefilled, kept, previous = [], [], None
    for size in range(first, len(turns) + 1):
        inputs = ContextInputs("The opening.", turns[:size], "The memory.")
        result = assemble_context(inputs, budget, word_count, settings)
        words = result.text.split(" ")
        if previous is not None:
            prefilled.append(len(words) - shared_start(previous, words))
        previous = words
        kept.append(result.turns_kept)
    return StepFigures(step, sum(prefilled) / len(prefilled), sum(kept) / len(kept))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="1,4", help="comma-separated drop steps")
    parser.add_argument("--budget", type=int, default=1700, help="context budget in words")
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    turns = story_turns(args.turns)
    # From the first turn that overflows the budget on.
    first = next(
        (n for n in range(1, len(turns) + 1) if sum(map(word_count, turns[:n])) > args.budget),
        len(turns),
    )
    report = ShiftReport(args.budget, args.turns)
    for step in (int(s) for s in args.steps.split(",")):
        figures = measure(step, turns, args.budget, first)
        report.figures.append(figures)
        print(
            f"drop step {step}: {figures.words_prefilled_per_turn:.0f} words prefilled per turn, "
            f"{figures.turns_kept:.1f} turns kept"
        )
    write_report(args.out / "context-shift", report, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
