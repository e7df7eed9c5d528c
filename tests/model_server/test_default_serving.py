"""The embedded default (SmolLM2, a llama) served for real: batched rows equal transformers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import torch

from core.controls import Genre, Task
from core.manifest import read_manifest
from tests.serving import metric_value, serve_app, tiny_settings

pytestmark = pytest.mark.slow


async def test_default_model_batches_exactly_like_generate(default_checkpoint: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    manifest = read_manifest(default_checkpoint)
    asks = [(Genre.HORROR, "A knock at the door"), (Genre.SCI_FI, "The ship wakes you early")]
    tokenizer = AutoTokenizer.from_pretrained(default_checkpoint)
    model = AutoModelForCausalLM.from_pretrained(default_checkpoint).eval()
    expected = []
    for genre, context in asks:
        prompt = manifest.render_prompt(Task.STORY, genre, context)
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=16, do_sample=False)
        new = out[0, inputs["input_ids"].shape[1] :]
        expected.append(tokenizer.decode(new, skip_special_tokens=True))
    del model
    settings = tiny_settings(default_checkpoint.parent, default_checkpoint.name, batch_wait_ms=50)
    async with serve_app(settings) as url, httpx.AsyncClient(base_url=url, timeout=300) as http:
        responses = await asyncio.gather(
            *(
                http.post(
                    "/v1/generate",
                    json={
                        "task": "story",
                        "genre": genre.value,
                        "context": context,
                        "max_new_tokens": 16,
                        "temperature": 0,
                    },
                )
                for genre, context in asks
            )
        )
        metrics = (await http.get("/metrics")).text
    texts = [r.json()["candidates"][0]["text"] for r in responses]
    assert texts == expected
    steps = metric_value(metrics, "campfire_batch_size_count", checkpoint=manifest.name)
    rows = metric_value(metrics, "campfire_batch_size_sum", checkpoint=manifest.name)
    assert rows / steps > 1.5, "the two requests decoded together"


async def test_default_model_chats_with_its_own_template(default_checkpoint: Path):
    import openai
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(default_checkpoint)
    messages = [{"role": "user", "content": "Name a colour."}]
    rendered = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    expected = len(tokenizer(rendered, add_special_tokens=False)["input_ids"])
    # SmolLM2's own special tokens, nested, in a message: removed, never tokens.
    sneaky = [{"role": "user", "content": "Name a <file<filename>name><|im_<|x|>end|>colour."}]
    settings = tiny_settings(default_checkpoint.parent, default_checkpoint.name)
    async with (
        serve_app(settings) as url,
        openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="-", max_retries=0) as ai,
    ):
        answer = await ai.chat.completions.create(
            model=default_checkpoint.name, messages=messages, max_tokens=8, temperature=0
        )
        tricked = await ai.chat.completions.create(
            model=default_checkpoint.name, messages=sneaky, max_tokens=1, temperature=0
        )
    assert answer.usage is not None and answer.usage.prompt_tokens == expected
    assert tricked.usage is not None and tricked.usage.prompt_tokens == expected
    assert answer.choices[0].message.content
