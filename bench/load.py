"""Load bench: many concurrent slash commands across many channels, through the real bot and
model server and the fake Discord; checks that no turn was interleaved, lost or duplicated and
reports command latency.

    python -m bench.load                      # 50 commands over 10 channels on a tiny checkpoint
    python -m bench.load --commands 200 --channels 20 --checkpoints DIR --checkpoint NAME

Latency is per command: from the moment the fake Discord delivered the interaction to the last
change of the message that answers it (the final text with its buttons). Results go to
bench/results/load-<time>.json (and a .png histogram when matplotlib is installed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e import storydb
from tests.e2e.chat import Reply, answer_of
from tests.e2e.processes import Secrets
from tests.e2e.stack import Stack, StackFactory
from tests.fakes.discord_server import Channel, Member, RemoteFakeDiscord

RESULTS = Path(__file__).resolve().parent / "results"
# The commands each channel gets, in turn: every one adds exactly one turn to the channel's story.
MIX: tuple[tuple[str, dict[str, Any]], ...] = (
    ("respond", {"genre": "horror"}),
    ("write", {"text": "{marker}"}),
    ("continue", {}),
    ("poem", {"emotion": "joy"}),
    ("continue", {"genre": "drama"}),
)


@dataclass
class CommandResult:
    index: int
    channel_id: int
    command: str
    marker: str
    interaction_id: int = 0
    answered: bool = False  # the person saw an answer (a passage or a refusal in words)
    ok: bool = False  # ...and it was the passage (not a private refusal)
    seconds: float = 0.0
    answer: str = ""


@dataclass
class LoadReport:
    commands: int
    channels: int
    concurrency: int
    ok: int
    refused: int  # answered privately in words (e.g. "the model wrote nothing this time")
    unanswered: int
    p50_s: float
    p95_s: float
    max_s: float
    wall_s: float
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.unanswered == 0 and not self.problems


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _one(
    fake: RemoteFakeDiscord,
    result: CommandResult,
    options: dict[str, Any],
    user: Member,
    channel: Channel,
    gate: asyncio.Semaphore,
) -> None:
    async with gate:
        interaction = await fake.slash(result.command, options, user=user, channel=channel)
    result.interaction_id = interaction.id
    try:
        reply: Reply = await answer_of(fake, interaction, timeout=300)
    except (AssertionError, TimeoutError) as error:
        result.answer = f"no answer: {error}"
        return
    result.seconds = reply.seconds
    result.answer = reply.text[:200]
    result.answered = True
    result.ok = not reply.ephemeral


def check_channels(
    stack: Stack, fake_messages: dict[int, Any], results: list[CommandResult]
) -> list[str]:
    """Each successful command added exactly one turn to its own channel's story, shown in the
    message that answered it; positions run without gaps; nothing else was stored."""
    problems = storydb.problems(stack.bot.db_path)
    by_channel: dict[int, list[CommandResult]] = {}
    for result in results:
        by_channel.setdefault(result.channel_id, []).append(result)
    for channel_id, mine in by_channel.items():
        stored = storydb.turns(stack.bot.db_path, channel_id)[1:]  # after the opening
        ok = [r for r in mine if r.ok]
        if len(stored) != len(ok):
            problems.append(
                f"channel {channel_id}: {len(ok)} commands answered, {len(stored)} turns"
            )
        if not storydb.positions_are_contiguous(stack.bot.db_path, channel_id):
            problems.append(f"channel {channel_id}: positions {[t.position for t in stored]}")
        texts = [t.text for t in stored]
        for result in ok:
            copies = texts.count(result.marker)
            if result.command == "write" and copies != 1:
                problems.append(f"channel {channel_id}: {result.marker!r} stored {copies} times")
        for turn in stored:
            ids = storydb.message_ids(stack.bot.db_path, turn.id)
            if turn.kind == "model" and not ids:
                problems.append(f"turn {turn.id} has no message")
            for message_id in ids:
                message = fake_messages.get(message_id)
                if message is None or message.channel_id != channel_id:
                    problems.append(f"turn {turn.id} of channel {channel_id} shown elsewhere")
        answered = [r.interaction_id for r in ok]
        if len(set(answered)) != len(answered):
            problems.append(f"channel {channel_id}: an interaction answered twice")
    return problems


async def run_load(
    stack: Stack, *, commands: int, channels: int, concurrency: int
) -> tuple[LoadReport, list[CommandResult]]:
    async with RemoteFakeDiscord(stack.fake_process.base_url) as fake:
        assert fake.guild is not None
        rooms = [await fake.add_channel(fake.guild, f"load-{n}") for n in range(channels)]
        users = [await fake.add_member(fake.guild, f"writer-{n}") for n in range(5)]
        # Every channel starts with one passage, so that any command may come first.
        for room in rooms:
            opening = {"text": f"The story of {room.name} begins."}
            await answer_of(fake, await fake.slash("write", opening, user=users[0], channel=room))
        gate = asyncio.Semaphore(concurrency)
        results: list[CommandResult] = []
        jobs = []
        for index in range(commands):
            room = rooms[index % channels]
            name, template = MIX[(index // channels) % len(MIX)]
            marker = f"Passage {index} in {room.name}."
            options = {k: (marker if v == "{marker}" else v) for k, v in template.items()}
            result = CommandResult(index, room.id, name, marker)
            results.append(result)
            jobs.append(_one(fake, result, options, users[index % len(users)], room, gate))
        started = time.monotonic()
        await asyncio.gather(*jobs)
        wall = time.monotonic() - started
        messages = {m.id: m for m in await fake.messages(include_deleted=True)}
        problems = check_channels(stack, messages, results)
        problems += [str(e) for e in await fake.protocol_errors()]
        problems += [f"message {m.id} pinged someone" for m in messages.values() if m.pings_anyone]
    seconds = [r.seconds for r in results if r.ok]
    report = LoadReport(
        commands=commands,
        channels=channels,
        concurrency=concurrency,
        ok=len(seconds),
        refused=sum(1 for r in results if r.answered and not r.ok),
        unanswered=sum(1 for r in results if not r.answered),
        p50_s=round(percentile(seconds, 50), 3),
        p95_s=round(percentile(seconds, 95), 3),
        max_s=round(max(seconds, default=float("nan")), 3),
        wall_s=round(wall, 3),
        problems=problems,
    )
    return report, results


def _plot(results: list[CommandResult], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.hist([r.seconds for r in results if r.ok], bins=20)
    axes.set_xlabel("command latency (s)")
    axes.set_ylabel("commands")
    axes.set_title(f"{len(results)} concurrent commands")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=50, help="slash commands in flight")
    parser.add_argument("--max-tokens", type=int, default=48, help="per model command")
    parser.add_argument("--checkpoints", type=Path, help="default: build the tiny test checkpoints")
    parser.add_argument("--checkpoint", default="tiny")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="campfire-load-") as scratch:
        root = Path(scratch)
        checkpoints = args.checkpoints
        if checkpoints is None:
            from tests.tiny_checkpoint import build_tiny_checkpoint

            checkpoints = root / "checkpoints"
            build_tiny_checkpoint(checkpoints / "tiny", name="tiny")
        factory = StackFactory(root, checkpoints)
        try:
            keys = Secrets.generate()
            server = factory.server(keys=keys, checkpoint=args.checkpoint)
            stack = factory.build(
                "load",
                server=server,
                keys=keys,
                bot_settings={"CAMPFIRE_DEFAULT_MAX_TOKENS": str(args.max_tokens)},
            )
            report, results = asyncio.run(
                run_load(
                    stack,
                    commands=args.commands,
                    channels=args.channels,
                    concurrency=args.concurrency,
                )
            )
        finally:
            factory.stop_all()

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = args.out / f"load-{stamp}.json"
    path.write_text(
        json.dumps({"report": asdict(report), "commands": [asdict(r) for r in results]}, indent=2)
    )
    _plot(results, path.with_suffix(".png"))
    seconds = [r.seconds for r in results if r.ok]
    mean = statistics.fmean(seconds) if seconds else float("nan")
    print(
        f"{report.ok}/{report.commands} passages ({report.refused} refused in words, "
        f"{report.unanswered} unanswered) over {report.channels} channels in "
        f"{report.wall_s:.1f} s; latency p50 {report.p50_s:.2f} s, p95 {report.p95_s:.2f} s, "
        f"max {report.max_s:.2f} s, mean {mean:.2f} s"
    )
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    for result in results:
        if not result.ok:
            kind = "REFUSED" if result.answered else "UNANSWERED"
            print(f"{kind}: #{result.index} /{result.command}: {result.answer}")
    print(f"wrote {path}")
    return 0 if report.clean else 1


if __name__ == "__main__":
    sys.exit(main())
