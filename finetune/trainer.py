"""transformers' Trainer as `campfire-train fit` sets it up: arguments, LoRA saves, quiet logs."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from finetune.train import FitArguments

# Loggers whose notices repeat at every save or evaluation without telling a user anything.
_NOISY_LOGGERS = ("bitsandbytes", "transformers", "peft", "accelerate")


@contextlib.contextmanager
def quiet_libraries() -> Iterator[None]:
    """Hide the libraries' deprecation warnings and info notices while fit runs; errors stay."""
    import transformers.utils.logging as hf_logging

    levels = {name: logging.getLogger(name).level for name in _NOISY_LOGGERS}
    verbosity = hf_logging.get_verbosity()
    progress = hf_logging.is_progress_bar_enabled()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", module="peft")
        for name in _NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()  # "Writing model shards" at every save
        try:
            yield
        finally:
            hf_logging.set_verbosity(verbosity)
            if progress:
                hf_logging.enable_progress_bar()
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)


def training_arguments(
    args: FitArguments, *, use_cuda: bool, has_validation: bool, bf16: bool, fp16: bool
) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(args.run_dir),
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size,
        gradient_accumulation_steps=args.grad_accum,
        learning_rate=args.lr,
        warmup_steps=0,
        weight_decay=0.0,
        lr_scheduler_type="linear",
        eval_strategy="steps" if has_validation else "no",
        eval_steps=args.eval_steps,
        save_strategy="steps",
        save_steps=args.eval_steps,
        save_total_limit=args.save_total_limit,
        load_best_model_at_end=has_validation,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_steps=max(1, min(10, args.eval_steps)),
        report_to=[],
        seed=args.seed,
        use_cpu=not use_cuda,
        disable_tqdm=False,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        bf16=bf16,
        fp16=fp16,
        max_steps=args.max_steps if args.max_steps is not None else -1,
        num_train_epochs=args.epochs or 3.0,
    )


def make_trainer(
    model: Any,
    training_args: Any,
    *,
    train_set: Any,
    eval_set: Any,
    tokenizer: Any,
    callbacks: Sequence[Any],
) -> Any:
    """A Trainer; for a LoRA model, one whose saves hold only what was trained.

    PEFT saves the whole (resized) embedding matrix with the adapter when the vocabulary grew,
    about 250 MB per save on SmolLM2; the control tokens' rows are already in the adapter (as
    trainable tokens), and export loads the base and merges, so the matrix is left out.
    """
    from peft import PeftModel
    from transformers import Trainer

    class AdapterTrainer(Trainer):
        def _save(self, output_dir: str | None = None, state_dict: Any = None) -> None:
            target = str(output_dir or self.args.output_dir)
            os.makedirs(target, exist_ok=True)
            model.save_pretrained(target, save_embedding_layers=False)
            tokenizer.save_pretrained(target)

    trainer_class = AdapterTrainer if isinstance(model, PeftModel) else Trainer
    return trainer_class(
        model=model,
        args=training_args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )
