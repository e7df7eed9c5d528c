"""A tiny but real GPT-2 checkpoint for tests: 2 layers, 64 dims, a small BPE trained at test time.

It is a genuine Campfire checkpoint folder (HF model + tokenizer + campfire.json), so the server,
the fine-tuning pipeline and the bot's tests all load it through their real code paths. It is
trained for a few steps on text rendered with core's own format, so it has seen the control tokens
and the end marker and can stop by itself.
"""

from __future__ import annotations

import random
from pathlib import Path

from core.controls import END_MARKER, Emotion, Genre, Task, control_tokens
from core.manifest import CheckpointManifest, write_manifest
from core.prompt_format import CHATML_END, CHATML_TEMPLATE, PromptStyle, render_example

WORDS = (
    "the night door knock dark ship star hero city rain fire storm heart old new light "
    "shadow voice river sea sky dream ghost robot laser blade king queen friend road home"
).split()
CHATML_TOKENS = ["<|im_start|>", "<|im_end|>"]


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text.capitalize() + "."


def corpus(style: PromptStyle, *, seed: int = 0, per_control: int = 3) -> list[str]:
    """Training texts covering every task and control, rendered with core's format."""
    rng = random.Random(seed)
    texts: list[str] = []
    for task in Task:
        controls: list[Genre | Emotion | None] = [None]
        if task.takes_genre:
            controls += list(Genre)
        if task.takes_emotion:
            controls += list(Emotion)
        for control in controls:
            for _ in range(per_control):
                context = _sentence(rng, 5) if task is not Task.PROMPT else ""
                target = " ".join(_sentence(rng, rng.randint(4, 9)) for _ in range(2))
                texts.append(render_example(task, control, context, target, style=style))
    return texts


def build_tiny_checkpoint(
    folder: Path,
    *,
    name: str = "tiny",
    style: PromptStyle = PromptStyle.CONTROL_TOKENS,
    train_steps: int = 20,
    context_window: int = 256,
    seed: int = 0,
) -> Path:
    """Train a byte-level BPE and a 2-layer GPT-2 for a few steps; save as a checkpoint folder."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    texts = corpus(style, seed=seed)
    specials = control_tokens() + CHATML_TOKENS
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=300 + len(specials),
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=END_MARKER,
        eos_token=END_MARKER,
        unk_token=END_MARKER,
        pad_token=END_MARKER,
        additional_special_tokens=[t for t in specials if t != END_MARKER],
    )
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=context_window,
        n_embd=64,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    rng = random.Random(seed)
    for _ in range(train_steps):
        batch = tokenizer(
            rng.sample(texts, 8),
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=context_window,
        )
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.generation_config.pad_token_id = tokenizer.eos_token_id
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    instruction = style is PromptStyle.INSTRUCTION
    write_manifest(
        folder,
        CheckpointManifest(
            name=name,
            description="tiny random GPT-2 for tests",
            base_model="random init (tests/tiny_checkpoint.py)",
            model_type="gpt2",
            prompt_style=style,
            instruction_template=CHATML_TEMPLATE if instruction else None,
            end_marker=CHATML_END if instruction else END_MARKER,
            tasks=list(Task),
            genres=list(Genre),
            emotions=list(Emotion),
            control_tokens=[] if instruction else control_tokens(),
            context_window=context_window,
        ),
    )
    return folder
