"""The training-copy flag: what the caller wrote never counts; completions are checked too."""

from __future__ import annotations

from pathlib import Path

import httpx

from core.fingerprint import TrainingFingerprint
from core.manifest import read_manifest, write_manifest
from tests.serving import serve_app, tiny_settings

QUOTE = "the lighthouse keeper counted every ship until the fog swallowed the last one"


def _fingerprint(folder: Path, texts: list[str]) -> None:
    """Pretend the checkpoint was trained on texts."""
    TrainingFingerprint.from_texts(texts, n=4).save(folder / "training_ngrams.bin")
    manifest = read_manifest(folder)
    write_manifest(folder, manifest.model_copy(update={"training_ngrams": "training_ngrams.bin"}))


async def test_a_prefix_quoting_the_training_data_is_not_copying(checkpoints_dir: Path) -> None:
    _fingerprint(checkpoints_dir / "tiny", [QUOTE])
    body = {"task": "story", "prefix": QUOTE, "max_new_tokens": 8, "seed": 1, "n": 2}
    settings = tiny_settings(checkpoints_dir, copy_min_words=4)
    async with serve_app(settings) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        candidates = (await http.post("/v1/generate", json=body)).json()["candidates"]
    assert all(c["text"].startswith(QUOTE) for c in candidates)
    assert [c["copied_from_training"] for c in candidates] == [False, False]


async def test_completions_that_copy_the_training_data_are_flagged(checkpoints_dir: Path) -> None:
    body = {"model": "tiny", "prompt": "Once upon a time", "max_tokens": 40, "temperature": 1.5}
    settings = tiny_settings(checkpoints_dir, copy_min_words=4)
    async with serve_app(settings) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        texts = {}
        for seed in range(12):  # the tiny model often stops at once: find a longer answer
            answer = await http.post("/v1/completions", json={**body, "seed": seed})
            texts[seed] = answer.json()["choices"][0]["text"]
    seed, text = max(texts.items(), key=lambda item: len(item[1].split()))
    assert len(text.split()) >= 6, texts
    _fingerprint(checkpoints_dir / "tiny", [text])
    async with serve_app(settings) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        same = (await http.post("/v1/completions", json={**body, "seed": seed})).json()
        other = (await http.post("/v1/completions", json={**body, "seed": seed + 100})).json()
    assert same["choices"][0]["text"] == text
    assert same["choices"][0]["copied_from_training"] is True
    assert other["choices"][0]["copied_from_training"] is False
