"""The lean Llama forward gives what transformers' LlamaForCausalLM gives, through the engine."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from core.controls import Genre, Task
from core.manifest import CheckpointManifest
from model_server.engine import EngineRequest, RowParams
from model_server.engine.kv_batch import BatchModel
from model_server.engine.microbatch import EngineConfig, MicroBatchEngine
from model_server.lean_llama import LeanLlama, supports
from model_server.quantization import LoadedWeights, cpu_has_bf16, load_weights

GREEDY = {"max_new_tokens": 16, "temperature": 0.0}
SEEDED = {"max_new_tokens": 16, "temperature": 1.0, "top_p": 0.9, "seed": 7}


def tiny_llama(vocab: int, **overrides: Any) -> LlamaForCausalLM:
    """A random 2-layer Llama with grouped-query attention (4 query heads on 2 kv heads)."""
    torch.manual_seed(0)
    settings: dict[str, Any] = {
        "vocab_size": vocab,
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "tie_word_embeddings": True,
    }
    settings.update(overrides)
    return LlamaForCausalLM(LlamaConfig(**settings)).eval()


@pytest.fixture
def models(tiny_weights: LoadedWeights) -> tuple[Any, Any]:
    reference = tiny_llama(len(tiny_weights.tokenizer))
    return reference, LeanLlama(copy.deepcopy(reference)).eval()


def test_prefill_and_decode_match_transformers_row_by_row(models):
    """Left-padded rows of different lengths, then decode steps past the cache's free room."""
    contexts = [list(range(5, 40)), list(range(50, 58)), [3, 9, 27, 81 % 60, 17]]
    chosen: dict[str, list[list[int]]] = {}
    logits_seen: dict[str, list[torch.Tensor]] = {}
    with torch.inference_mode():
        for name, model in zip(("transformers", "lean"), models, strict=True):
            runner = BatchModel(model, pad_id=0, room=3)
            kv, logits = runner.prefill(contexts)
            logits_seen[name], chosen[name] = [logits], [logits.argmax(-1).tolist()]
            for _ in range(8):
                logits = runner.decode(kv, chosen[name][-1])
                logits_seen[name].append(logits)
                chosen[name].append(logits.argmax(-1).tolist())
    assert chosen["lean"] == chosen["transformers"]
    for ours, theirs in zip(logits_seen["lean"], logits_seen["transformers"], strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def make_engine(model: Any, weights: LoadedWeights, manifest: CheckpointManifest) -> Any:
    config = EngineConfig(
        context_window=manifest.context_window, end_marker=manifest.end_marker, batch_wait_ms=20
    )
    return MicroBatchEngine(model, weights.tokenizer, config)


async def story_turns(engine: Any, weights: LoadedWeights, story: str) -> list[str]:
    """Two turns of a story (the second reuses the first's cached prefix), each greedy and
    seeded with two candidates, sharing the engine's batches."""

    def encode(text: str) -> tuple[int, ...]:
        return tuple(weights.tokenizer(text, add_special_tokens=False)["input_ids"])

    texts: list[str] = []
    for _turn in range(2):
        greedy = engine.submit(EngineRequest(encode(story), RowParams(**GREEDY)))
        seeded = engine.submit(EngineRequest(encode(story), RowParams(**SEEDED), n=2))
        answers = [row.text for row in await greedy.results()]
        answers += [row.text for row in await seeded.results()]
        texts += answers
        story += answers[0] + " Then the lights went out."
    return texts


async def test_the_engine_tells_the_same_story_with_either_forward(
    models, tiny_weights, tiny_manifest
):
    story = tiny_manifest.render_prompt(Task.STORY, Genre.HORROR, "The keeper counted ships.")
    told = {}
    for name, model in zip(("transformers", "lean"), models, strict=True):
        engine = make_engine(model, tiny_weights, tiny_manifest)
        try:
            told[name] = await story_turns(engine, tiny_weights, story)
            assert engine.health().stats.prefix_hits >= 1, "the second turn used the cache"
        finally:
            engine.close()
    assert told["lean"] == told["transformers"]
    assert any(told["lean"])


def test_only_plain_llama_decoders_are_taken(models, tiny_weights):
    reference, lean = models
    assert supports(reference)
    assert not supports(tiny_llama(len(tiny_weights.tokenizer), hidden_act="gelu"))
    assert not supports(tiny_weights.model), "GPT-2 keeps transformers' forward"
    assert lean.get_output_embeddings() is lean.lm_head
    assert lean.lm_head.weight is lean.embed.weight, "the tied head stays tied"


@pytest.mark.skipif(not cpu_has_bf16(), reason="bf16 modes need a CPU with bf16 instructions")
@pytest.mark.parametrize("mode", ["bf16", "bf16-int4", "bf16-int8"])
async def test_a_llama_checkpoint_loads_lean_in_the_bf16_modes(
    mode, tiny_checkpoint, tiny_manifest, tmp_path
):
    folder = llama_checkpoint(tiny_checkpoint, tmp_path / "llama")
    weights = load_weights(folder, "cpu", mode)
    assert isinstance(weights.model, LeanLlama)
    assert not isinstance(load_weights(folder, "cpu", "none").model, LeanLlama), "fp32 as is"
    engine = make_engine(weights.model, weights, tiny_manifest)
    try:
        story = tiny_manifest.render_prompt(Task.STORY, Genre.HORROR, "The keeper counted.")
        texts = await story_turns(engine, weights, story)
    finally:
        engine.close()
    assert len(texts) == 6 and any(texts)


def llama_checkpoint(gpt2_checkpoint: Path, folder: Path) -> Path:
    """The tiny checkpoint's tokenizer and manifest with a random Llama as its model."""
    shutil.copytree(gpt2_checkpoint, folder)
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    from transformers import AutoTokenizer

    vocab = len(AutoTokenizer.from_pretrained(folder))
    tiny_llama(vocab).save_pretrained(folder)
    return folder
