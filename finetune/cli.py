"""`campfire-train`: prepare a corpus, fit a model, evaluate, sample and export a checkpoint.

campfire-train prepare --format lines jokes.txt --out data/jokes
campfire-train fit --data data/jokes --base checkpoints/NAME --out runs/jokes --lora
campfire-train eval --checkpoint checkpoints/jokes --data data/jokes
campfire-train sample --checkpoint checkpoints/jokes --task joke -n 3
campfire-train export --run runs/jokes --out checkpoints/jokes
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.controls import Task, parse_emotion, parse_genre, parse_task
from core.errors import CampfireError
from finetune.errors import TrainingError
from finetune.importers import FORMATS, ImportOptions

MAX_TOKENS_SETTING = "CAMPFIRE_MAX_NEW_TOKENS"
DEFAULT_MAX_NEW_TOKENS = 1024  # the model server's default cap too


def _genre(value: str) -> object:
    try:
        return parse_genre(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _emotion(value: str) -> object:
    try:
        return parse_emotion(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _task(value: str) -> object:
    try:
        return parse_task(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campfire-train",
        description="Fine-tune a GPT-2-family model on your corpus into a Campfire checkpoint.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_prepare_parser(commands)
    _add_fit_parser(commands)
    _add_eval_parser(commands)
    _add_sample_parser(commands)
    _add_export_parser(commands)
    return parser


def _add_prepare_parser(commands: Any) -> None:
    prep = commands.add_parser(
        "prepare",
        help="import corpus files into a data folder (appends)",
        description="Import corpus files into DATA_DIR (train/validation JSONL + stats.json). "
        "Run it again with other files or formats to add them to the same folder.",
    )
    prep.add_argument("--format", required=True, choices=list(FORMATS), dest="format_name")
    prep.add_argument("inputs", nargs="+", type=Path, metavar="INPUT")
    prep.add_argument("--out", required=True, type=Path, metavar="DATA_DIR")
    prep.add_argument("--validation", type=float, default=0.1, help="share held out (0.1)")
    prep.add_argument("--seed", type=int, default=0, help="seed of the split (0)")
    prep.add_argument(
        "--genre",
        type=_genre,
        help="genre of every untagged story (writing-prompts, text, marked); "
        "stories of other genres are left out",
    )
    prep.add_argument("--emotion", type=_emotion, help="poems: keep only the poems of this emotion")
    prep.add_argument("--genre-map", type=Path, help="plots: JSON mapping genres to core genres")
    prep.add_argument("--lexicon", type=Path, help="poems: JSON word -> emotions (default nrclex)")
    prep.add_argument("--column", help="lines/poems: the column holding the text")
    prep.add_argument("--prompt-column", help="writing-prompts tables: the prompt column")
    prep.add_argument("--response-column", help="writing-prompts tables: the response column")
    prep.add_argument("--genre-column", help="plots: the genre column")
    prep.add_argument("--plot-column", help="plots: the plot column")
    prep.add_argument(
        "--task", type=_task, default=Task.JOKE, help="lines: joke (default) or prompt"
    )
    prep.add_argument(
        "--passage-words", type=int, default=120, help="text and continuations: words per passage"
    )
    prep.add_argument(
        "--no-continue",
        action="store_false",
        dest="derive_continue",
        help="stories (writing-prompts, plots, marked) make no continue examples",
    )


def _add_fit_parser(commands: Any) -> None:
    fit = commands.add_parser("fit", help="fine-tune a base model on a data folder")
    fit.add_argument("--data", required=True, type=Path, metavar="DATA_DIR")
    fit.add_argument("--base", required=True, metavar="MODEL", help="checkpoint folder or hub id")
    fit.add_argument("--out", required=True, type=Path, metavar="RUN_DIR")
    fit.add_argument("--lora", action="store_true", help="train LoRA adapters (+ new embeddings)")
    steps = fit.add_mutually_exclusive_group()
    steps.add_argument("--epochs", type=float, default=None, help="epochs (default 3)")
    steps.add_argument("--max-steps", type=int, default=None)
    fit.add_argument("--resume", action="store_true", help="continue from RUN_DIR's last save")
    fit.add_argument(
        "--overwrite", action="store_true", help="replace an existing RUN_DIR (and --export folder)"
    )
    fit.add_argument("--block-size", type=int, default=256)
    fit.add_argument("--batch-size", type=int, default=4)
    fit.add_argument("--grad-accum", type=int, default=1)
    fit.add_argument("--lr", type=float, default=None, help="5e-5 full, 5e-4 LoRA")
    fit.add_argument("--eval-steps", type=int, default=50)
    fit.add_argument("--patience", type=int, default=3, help="early-stopping evaluations")
    fit.add_argument("--lora-rank", type=int, default=16)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    fit.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16"], default="auto")
    fit.add_argument("--export", type=Path, metavar="CHECKPOINT_DIR", help="export at the end")
    fit.add_argument("--name", help="checkpoint name for --export (default: folder name)")


def _add_eval_parser(commands: Any) -> None:
    ev = commands.add_parser("eval", help="perplexity of a checkpoint on a data folder")
    ev.add_argument("--checkpoint", required=True, type=Path, metavar="DIR")
    ev.add_argument("--data", required=True, type=Path, metavar="DATA_DIR")
    ev.add_argument("--split", choices=["validation", "train"], default="validation")
    ev.add_argument("--out", type=Path, help="JSON report (default DATA_DIR/eval-NAME-SPLIT.json)")
    ev.add_argument("--batch-size", type=int, default=8)
    ev.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")


def _add_export_parser(commands: Any) -> None:
    export = commands.add_parser("export", help="turn a run into a checkpoint the server loads")
    export.add_argument("--run", required=True, type=Path, metavar="RUN_DIR")
    export.add_argument("--out", required=True, type=Path, metavar="CHECKPOINT_DIR")
    export.add_argument("--name", help="checkpoint name (default: the folder name)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing folder")


def _add_sample_parser(commands: Any) -> None:
    sample = commands.add_parser(
        "sample",
        help="generate a few samples from a checkpoint",
        description="Samples like gpt-2-simple's generate (prefix, truncate, nsamples) or "
        "transformers' run_generation (--prompt).",
    )
    sample.add_argument("--checkpoint", required=True, type=Path, metavar="DIR")
    control = sample.add_mutually_exclusive_group()
    control.add_argument("--genre", type=_genre)
    control.add_argument("--emotion", type=_emotion)
    sample.add_argument("--task", type=_task)
    sample.add_argument("--context", default="", help="writing prompt, title or story so far")
    sample.add_argument("--prefix", default="", help="the first words of each sample")
    sample.add_argument(
        "--no-prefix",
        action="store_false",
        dest="include_prefix",
        help="leave the prefix out of the samples (gpt-2-simple's include_prefix=False)",
    )
    sample.add_argument(
        "--prompt",
        dest="raw_prompt",
        help="raw text to continue as is, without control tokens (run_generation's way)",
    )
    sample.add_argument("-n", "--nsamples", type=int, default=3)
    sample.add_argument("--max-new-tokens", "--length", type=int, default=120)
    sample.add_argument("--temperature", type=float, default=0.8)
    sample.add_argument("--top-p", type=float, default=0.95)
    sample.add_argument("--top-k", type=int, default=0, help="0: off")
    sample.add_argument("--repetition-penalty", type=float, default=1.0, help="1.0: off")
    sample.add_argument(
        "--stop",
        "--truncate",
        action="append",
        default=[],
        help="cut each sample at the first occurrence of this text (repeatable)",
    )
    sample.add_argument(
        "--delim", help="text between samples (gpt-2-simple's sample_delim); default a header"
    )
    sample.add_argument("--out", type=Path, metavar="FILE", help="write the samples to FILE")
    sample.add_argument("--seed", type=int, default=None)
    sample.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")


def _prepare(args: argparse.Namespace) -> int:
    from finetune.dataset import prepare

    options = ImportOptions(
        genre=args.genre,
        emotion=args.emotion,
        genre_map=args.genre_map,
        lexicon=args.lexicon,
        text_column=args.column,
        prompt_column=args.prompt_column,
        response_column=args.response_column,
        genre_column=args.genre_column,
        plot_column=args.plot_column,
        lines_task=args.task,
        passage_words=args.passage_words,
        derive_continue=args.derive_continue,
    )
    result = prepare(
        args.format_name,
        args.inputs,
        args.out,
        options,
        validation_fraction=args.validation,
        seed=args.seed,
    )
    print(
        f"added {result.added_train} training and {result.added_validation} validation "
        f"examples to {args.out}"
    )
    for reason, count in sorted(result.dropped.items()):
        print(f"  skipped {count}: {reason}")
    for split, figures in result.stats["splits"].items():
        controls = ", ".join(f"{k} {v}" for k, v in figures["per_control"].items())
        print(f"{split}: {figures['examples']} examples, {figures['words']} words ({controls})")
    return 0


def _fit(args: argparse.Namespace) -> int:
    from finetune.train import FitArguments, fit

    fit_args = FitArguments(
        data_dir=args.data,
        base_model=args.base,
        run_dir=args.out,
        lora=args.lora,
        epochs=args.epochs,
        max_steps=args.max_steps,
        resume=args.resume,
        overwrite=args.overwrite,
        block_size=args.block_size,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        learning_rate=args.lr,
        eval_steps=args.eval_steps,
        patience=args.patience,
        lora_rank=args.lora_rank,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
    )
    summary = fit(fit_args)
    print(json.dumps(summary, indent=2))
    if args.export is not None:
        from finetune.export import export_run

        path = export_run(args.out, args.export, name=args.name, overwrite=args.overwrite)
        print(f"exported checkpoint to {path}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from finetune.evaluate import evaluate_checkpoint, format_table

    report = evaluate_checkpoint(
        args.checkpoint,
        args.data,
        split=args.split,
        out=args.out,
        batch_size=args.batch_size,
        device=args.device,
    )
    print(format_table(report))
    return 0


def _length_cap() -> int:
    """The longest sample allowed: CAMPFIRE_MAX_NEW_TOKENS, the server's cap, read at call time."""
    raw = os.environ.get(MAX_TOKENS_SETTING, str(DEFAULT_MAX_NEW_TOKENS))
    try:
        return int(raw)
    except ValueError:
        raise TrainingError(f"{MAX_TOKENS_SETTING}={raw!r} is not a whole number") from None


def _sample(args: argparse.Namespace) -> int:
    from finetune.sampling import SampleRequest, sample_checkpoint

    cap = _length_cap()
    if args.max_new_tokens > cap:
        raise TrainingError(
            f"--max-new-tokens {args.max_new_tokens} is above the cap of {cap} tokens; "
            f"for long-form samples raise it, e.g. {MAX_TOKENS_SETTING}={args.max_new_tokens} "
            "campfire-train sample ... (past the model's window the sample slides it)"
        )
    request = SampleRequest(
        task=args.task,
        control=args.genre or args.emotion,
        context=args.context,
        prefix=args.prefix,
        n=args.nsamples,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
        include_prefix=args.include_prefix,
        stop=tuple(args.stop),
        raw_prompt=args.raw_prompt,
    )
    samples = sample_checkpoint(
        args.checkpoint, request, device=args.device, progress=sys.stderr.isatty()
    )
    if args.delim is not None:
        text = args.delim.join(samples) + "\n"
    else:
        text = "".join(f"==== sample {i + 1} ====\n{s}\n\n" for i, s in enumerate(samples))
    if args.out is None:
        print(text, end="")
        return 0
    try:
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise TrainingError(
            f"cannot write {args.out} ({exc.strerror}); choose another --out"
        ) from None
    print(f"wrote {len(samples)} samples to {args.out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from finetune.export import export_run

    path = export_run(args.run, args.out, name=args.name, overwrite=args.overwrite)
    print(f"exported checkpoint to {path}")
    return 0


_HANDLERS = {
    "prepare": _prepare,
    "fit": _fit,
    "eval": _eval,
    "sample": _sample,
    "export": _export,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(argv) if argv is not None else None)
    try:
        return _HANDLERS[args.command](args)
    except CampfireError as exc:
        print(f"campfire-train {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"campfire-train {args.command}: interrupted; for fit, run it again with --resume",
            file=sys.stderr,
        )
        return 130
