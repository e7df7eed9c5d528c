"""Story quality of Campfire's bot against the seeds' way and a generic OpenAI-style bot.

    python -m bench.quality                      # the default SmolLM2 checkpoint in checkpoints/
    python -m bench.quality --style plain        # the same checkpoint prompted as plain text
    python -m bench.quality --checkpoints DIR --checkpoint NAME --quick

Three ways, on the same scenarios (bench/quality_scenarios.py) in the same run, seeded:

* campfire: the production story service (bot/services.py, memory, lore and note set) over the
  real campfire-server subprocess;
* seeds: transformers' generate on the raw story text with seed 002's pipeline settings
  (sampling, top_k 50, top_p 0.95, temperature 1.0, no repetition penalty), in-process;
* generic: the story, memory, lore and note pasted into one chat message, sent with the official
  openai client to the same server's /v1/completions (the checkpoint's own chat template).

Figures (bench/quality_metrics.py): context copy (6-grams), loops (4-grams), labels and meta
talk, cut passages, uptake of memory/lore, prompt and poem shape, seconds per passage and
tokens per second. Writes JSON and a PNG to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import quality_metrics as qm
from bench.quality_scenarios import POEM_EMOTIONS, PROMPT_TOPICS, STORIES
from core.manifest import read_manifest, write_manifest
from core.prompt_format import CHATML_TEMPLATE, INSTRUCTION_PLACEHOLDER, PromptStyle
from core.protocol import GenerateRequest, GenerateResponse
from tests.serving import run_server_process

WAYS = ("campfire", "seeds", "generic")
SEED_002 = {"do_sample": True, "top_k": 50, "top_p": 0.95, "temperature": 1.0}


@dataclass
class Sample:
    way: str
    kind: str  # continue | prompt | poem
    scenario: str
    text: str
    before: str = ""
    background: str = ""
    note: str = ""
    names: tuple[str, ...] = ()
    seconds: float = 0.0
    tokens: int = 0


async def bot_samples(
    url: str, db: Path, turns: int, stories: int, prompts: int, poems: int, max_new_tokens: int
) -> list[Sample]:
    """The one adapter into the bot: its production services, as bot/services.py builds them."""
    from bot.model_client import HttpModelClient, ModelError, OnChunk
    from bot.services import build_services
    from bot.settings import BotSettings
    from bot.store import Store
    from bot.story import Author, StoryKey

    class SeededClient(HttpModelClient):
        """Every request gets the next seed, so a run can be repeated."""

        seed = 0

        def _seeded(self, request: GenerateRequest) -> GenerateRequest:
            self.seed += 1
            return request.model_copy(update={"seed": self.seed})

        async def generate(self, request: GenerateRequest) -> GenerateResponse:
            return await super().generate(self._seeded(request))

        async def stream(self, request: GenerateRequest, on_chunk: OnChunk) -> GenerateResponse:
            return await super().stream(self._seeded(request), on_chunk)

    settings = BotSettings(
        _env_file=None,
        db=db,
        server_url=url,
        cooldown_seconds=0,
        default_max_tokens=max_new_tokens,
        request_timeout=600,
    )
    store = await Store.open(db)
    client = SeededClient(url, request_timeout=600)
    samples: list[Sample] = []
    try:
        service = build_services(settings, store, client).stories
        writer, bot = Author(1, "Writer"), Author(2, "Reader")
        for number, story in enumerate(STORIES[:stories]):
            key = StoryKey(1, 100 + number)
            await service.write(key, writer, story.opening)
            await service.group.set_memory(key, story.memory)
            await service.group.add_lore(
                key, writer, story.lore_name, story.lore_keywords, story.lore_text
            )
            await service.group.set_note(key, story.note)
            told = [story.opening]
            background = f"{story.memory}\n[{story.lore_name}: {story.lore_text}]"
            for _ in range(turns):
                started = time.perf_counter()
                try:
                    text = (await service.continue_story(key, bot, story.genre)).turn.text
                except ModelError:  # nothing usable in the bot's tries: the user saw an error
                    text = ""
                samples.append(
                    Sample(
                        "campfire",
                        "continue",
                        story.genre.value,
                        text,
                        "\n\n".join(told),
                        background,
                        story.note,
                        story.names,
                        time.perf_counter() - started,
                    )
                )
                told += [text] if text else []
        for number, topic in enumerate(PROMPT_TOPICS[:prompts]):
            started = time.perf_counter()
            [saved] = await service.prompts(StoryKey(2, number), bot, topic, 1)
            samples.append(
                Sample(
                    "campfire",
                    "prompt",
                    topic or "-",
                    saved.text,
                    seconds=time.perf_counter() - started,
                )
            )
        for number, emotion in enumerate(POEM_EMOTIONS[:poems]):
            started = time.perf_counter()
            passage = await service.poem(StoryKey(3, number), bot, emotion)
            samples.append(
                Sample(
                    "campfire",
                    "poem",
                    emotion.value,
                    passage.turn.text,
                    seconds=time.perf_counter() - started,
                )
            )
    finally:
        await client.aclose()
        await store.close()
    return samples


def generic_message(sample: Sample) -> str:
    """What a generic chat bot sends: one user message with everything pasted in."""
    if sample.kind == "prompt":
        about = f" about {sample.scenario}" if sample.scenario != "-" else ""
        return f"Write a writing prompt{about}."
    if sample.kind == "poem":
        return f"Write a poem that expresses {sample.scenario}."
    return (
        f"Background:\n{sample.background}\nAuthor's note: {sample.note}\n\n"
        f"Continue this {sample.scenario} story:\n\n{sample.before}"
    )


def chat_prompt(tokenizer: Any, template: str, message: str) -> str:
    """One user message in the checkpoint's chat template (or its manifest's wrapper)."""
    if tokenizer.chat_template:
        return str(
            tokenizer.apply_chat_template(
                [{"role": "user", "content": message}], tokenize=False, add_generation_prompt=True
            )
        )
    return template.replace(INSTRUCTION_PLACEHOLDER, message)


def generic_samples(
    url: str, folder: Path, like: list[Sample], max_new_tokens: int
) -> list[Sample]:
    import openai
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    manifest = read_manifest(folder)
    template = manifest.instruction_template or CHATML_TEMPLATE
    room = manifest.context_window - max_new_tokens - 1
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="none", timeout=600)
    out = []
    for seed, sample in enumerate(like, start=1):
        message = generic_message(sample)
        while True:  # a generic bot drops the oldest text until the message fits
            prompt = chat_prompt(tokenizer, template, message)
            if len(tokenizer(prompt)["input_ids"]) <= room or len(message) < 8:
                break
            message = message[len(message) // 4 :]
        started = time.perf_counter()
        answer = client.completions.create(
            model=folder.name,
            prompt=[prompt],  # a list: this branch's server caps a str prompt at 64 chars
            seed=seed,
            max_tokens=max_new_tokens,
            temperature=0.8,
            top_p=0.95,
        )
        out.append(
            Sample(
                **{
                    **asdict(sample),
                    "way": "generic",
                    "text": answer.choices[0].text.strip(),
                    "seconds": time.perf_counter() - started,
                }
            )
        )
    return out


def seeds_input(sample: Sample) -> str:
    if sample.kind == "prompt":  # seed 000's writing-prompt layout
        return "[WP] " + ("" if sample.scenario == "-" else sample.scenario)
    if sample.kind == "poem":
        return f"A poem of {sample.scenario}:\n"
    return sample.before


def seeds_samples(folder: Path, like: list[Sample], max_new_tokens: int) -> list[Sample]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    pad = tokenizer.pad_token_id or tokenizer.eos_token_id
    out = []
    with torch.inference_mode():
        for seed, sample in enumerate(like, start=1):
            inputs = tokenizer(seeds_input(sample), return_tensors="pt")
            room = model.config.max_position_embeddings - max_new_tokens - 1
            inputs = {key: value[:, -room:] for key, value in inputs.items()}  # the story's end
            torch.manual_seed(seed)
            started = time.perf_counter()
            ids = model.generate(
                **inputs, max_new_tokens=max_new_tokens, pad_token_id=pad, **SEED_002
            )
            text = str(
                tokenizer.decode(ids[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
            )
            out.append(
                Sample(
                    **{
                        **asdict(sample),
                        "way": "seeds",
                        "text": text.strip(),
                        "seconds": time.perf_counter() - started,
                    }
                )
            )
    return out


def figures(samples: list[Sample]) -> dict[str, float]:
    """The reader's figures for one way's samples."""
    cont = [s for s in samples if s.kind == "continue"]
    prompts = [s for s in samples if s.kind == "prompt"]
    poems = [s for s in samples if s.kind == "poem"]
    prose = cont + prompts
    seconds = sum(s.seconds for s in cont)
    return {
        "context_copy_6grams": qm.mean(qm.context_copy(s.text, s.before) for s in cont),
        "loop_4grams": qm.mean(qm.loop_share(s.text) for s in samples),
        "labels_or_meta": sum(
            qm.opens_with_label(s.text) or qm.talks_about_the_story(s.text) for s in samples
        ),
        "cut": sum(qm.is_cut(s.text) for s in prose),
        "empty": sum(not s.text.strip() for s in samples),
        "uptake": qm.share(qm.uses_any(s.text, s.names) for s in cont),
        "prompt_shaped": qm.share(qm.is_prompt_shaped(s.text) for s in prompts),
        "poem_shaped": qm.share(qm.is_poem_shaped(s.text) for s in poems),
        "seconds_per_passage": seconds / len(cont) if cont else 0.0,
        "tokens_per_passage": qm.mean(s.tokens for s in cont),
        "tokens_per_s": sum(s.tokens for s in cont) / seconds if seconds else 0.0,
        "seconds_per_prompt": qm.mean(s.seconds for s in prompts),
    }


def restyled(folder: Path, style: PromptStyle, root: Path) -> Path:
    """A copy of the checkpoint (files linked, not copied) whose manifest says another style."""
    dest = root / f"{folder.name}-{style.value}"
    dest.mkdir(parents=True)
    for item in folder.iterdir():
        if item.name != "campfire.json":
            (dest / item.name).symlink_to(item.resolve())
    manifest = read_manifest(folder).model_copy(update={"prompt_style": style, "name": dest.name})
    write_manifest(dest, manifest)
    return dest


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [
        "context_copy_6grams",
        "loop_4grams",
        "labels_or_meta",
        "cut",
        "uptake",
        "prompt_shaped",
        "poem_shaped",
        "seconds_per_passage",
    ]
    ways = list(report["figures"])
    fig, axes = plt.subplots(2, 4, figsize=(14, 6))
    for ax, key in zip(axes.flat, keys, strict=True):
        ax.bar(
            ways,
            [report["figures"][way][key] for way in ways],
            color=["tab:orange", "tab:grey", "tab:blue"][: len(ways)],
        )
        ax.set_title(key, fontsize=9)
        ax.tick_params(labelsize=8)
    fig.suptitle(f"Story quality, {report['checkpoint']} ({report['style']})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from transformers import AutoTokenizer

    folder = args.checkpoints / args.checkpoint
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.style != "manifest":
            folder = restyled(folder, PromptStyle(args.style), root / "checkpoints")
        env = {"CAMPFIRE_API_KEY": "", "CAMPFIRE_ADMIN_KEY": "", "CAMPFIRE_MAX_NEW_TOKENS": "2000"}
        quant = ["--quant", args.quant]
        with run_server_process(
            folder.parent, folder.name, extra_args=quant, env=env, timeout=600
        ) as url:
            ours = asyncio.run(
                bot_samples(
                    url,
                    root / "bench.db",
                    args.turns,
                    args.stories,
                    args.prompts,
                    args.poems,
                    args.max_new_tokens,
                )
            )
            theirs = generic_samples(url, folder, ours, args.max_new_tokens)
        seeds = seeds_samples(folder, ours, args.max_new_tokens)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    samples = ours + seeds + theirs
    for sample in samples:
        sample.tokens = len(tokenizer(sample.text, add_special_tokens=False)["input_ids"])
    by_way = {way: [s for s in samples if s.way == way] for way in WAYS}
    return {
        "checkpoint": args.checkpoint,
        "style": args.style,
        "quant": args.quant,
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "max_new_tokens": args.max_new_tokens,
        "figures": {way: figures(items) for way, items in by_way.items()},
        "samples": [asdict(s) for s in samples],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=Path, default=Path("checkpoints"))
    parser.add_argument("--checkpoint", default="smollm2-135m-instruct")
    parser.add_argument(
        "--style",
        default="manifest",
        choices=["manifest", *PromptStyle],
        help="prompt the checkpoint in another style than its manifest says",
    )
    parser.add_argument("--stories", type=int, default=len(STORIES))
    parser.add_argument("--turns", type=int, default=2, help="continuations per story")
    parser.add_argument("--prompts", type=int, default=len(PROMPT_TOPICS))
    parser.add_argument("--poems", type=int, default=len(POEM_EMOTIONS))
    parser.add_argument("--max-new-tokens", type=int, default=120)
    parser.add_argument("--quant", default="auto", help="campfire-server's --quant")
    parser.add_argument("--quick", action="store_true", help="1 story, 1 turn, 1 prompt, 1 poem")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    if args.quick:
        args.stories, args.turns, args.prompts, args.poems = 1, 1, 1, 1
        args.max_new_tokens = min(args.max_new_tokens, 24)
    report = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"quality-{args.checkpoint}-{args.style}"
    stem += "" if args.quant == "auto" else f"-{args.quant}"
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(report, args.out / f"{stem}.png")
    for way, values in report["figures"].items():
        shown = ", ".join(f"{k} {v:.3g}" for k, v in values.items())
        print(f"{way:9s} {shown}")
    print(f"wrote {args.out / stem}.json and .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
