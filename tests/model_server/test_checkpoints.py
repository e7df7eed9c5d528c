"""Listing, loading and hot-swapping checkpoints; corrupt folders; the training fingerprint."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import httpx

from core.controls import Task
from core.fingerprint import TrainingFingerprint
from core.manifest import CheckpointManifest, read_manifest, write_manifest
from model_server.engine.microbatch import EngineConfig, MicroBatchEngine
from model_server.quantization import LoadedWeights
from tests.serving import serve_app, tiny_settings

STORY = {"task": "story", "genre": "horror", "context": "A knock at the door"}


async def test_list_shows_every_folder_and_why_one_is_unusable(checkpoints_dir: Path):
    (checkpoints_dir / "half").mkdir()
    (checkpoints_dir / "half" / "config.json").write_text("{}")
    async with serve_app(tiny_settings(checkpoints_dir)) as url, httpx.AsyncClient() as http:
        listing = (await http.get(f"{url}/v1/checkpoints")).json()["checkpoints"]
    by_name = {c["name"]: c for c in listing}
    assert set(by_name) == {"tiny", "tiny-chat", "half"}
    assert by_name["tiny"]["loaded"] and by_name["tiny"]["default"]
    assert not by_name["tiny-chat"]["loaded"] and by_name["tiny-chat"]["valid"]
    assert by_name["tiny-chat"]["prompt_style"] == "instruction"
    assert not by_name["half"]["valid"] and "campfire.json" in by_name["half"]["problem"]


async def test_hot_swap_under_load_fails_no_request(checkpoints_dir: Path):
    settings = tiny_settings(checkpoints_dir, max_batch_size=8)
    async with serve_app(settings) as url, httpx.AsyncClient(base_url=url, timeout=120) as http:

        async def one(i: int) -> httpx.Response:
            await asyncio.sleep(0.01 * i)
            return await http.post("/v1/generate", json={**STORY, "max_new_tokens": 40, "seed": i})

        requests = [asyncio.create_task(one(i)) for i in range(20)]
        await asyncio.sleep(0.05)
        swap = await http.post(
            "/v1/checkpoints/load", json={"name": "tiny-chat", "unload_previous": True}
        )
        responses = await asyncio.gather(*requests)
        assert swap.status_code == 200, swap.text
        assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
        served_by = {r.json()["checkpoint"] for r in responses}
        assert "tiny" in served_by, "requests in flight finished on the old checkpoint"
        after = (await http.post("/v1/generate", json={**STORY, "max_new_tokens": 4})).json()
        assert after["checkpoint"] == "tiny-chat"
        health = (await http.get("/health")).json()
        assert health["default_checkpoint"] == "tiny-chat"
        assert [c["name"] for c in health["loaded"]] == ["tiny-chat"]


async def test_corrupt_checkpoint_is_refused_and_the_old_one_keeps_serving(checkpoints_dir: Path):
    broken = checkpoints_dir / "broken"
    shutil.copytree(checkpoints_dir / "tiny", broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 3])  # half-written
    async with (
        serve_app(tiny_settings(checkpoints_dir)) as url,
        httpx.AsyncClient(base_url=url, timeout=60) as http,
    ):
        refused = await http.post("/v1/checkpoints/load", json={"name": "broken"})
        assert refused.status_code == 422
        error = refused.json()["error"]
        assert error["field"] == "name" and "broken" in error["message"]
        assert "re-export" in error["message"]
        listing = (await http.get("/v1/checkpoints")).text
        assert "broken" in listing
        for text in (refused.text, listing):  # no absolute path reaches a client
            assert str(checkpoints_dir) not in text
        missing = await http.post("/v1/checkpoints/load", json={"name": "nowhere"})
        assert missing.status_code == 404
        served = await http.post("/v1/generate", json={**STORY, "max_new_tokens": 4})
        assert served.status_code == 200 and served.json()["checkpoint"] == "tiny"
        pinned = await http.post("/v1/generate", json={**STORY, "checkpoint": "broken"})
        assert pinned.status_code == 422


async def test_a_request_may_pin_a_checkpoint_within_the_resident_limit(checkpoints_dir: Path):
    settings = tiny_settings(checkpoints_dir, max_resident=1)
    async with serve_app(settings) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        body = {"task": "poem", "emotion": "joy", "max_new_tokens": 4}
        pinned = await http.post("/v1/generate", json={**body, "checkpoint": "tiny-chat"})
        assert pinned.status_code == 200 and pinned.json()["checkpoint"] == "tiny-chat"
        loaded = [c["name"] for c in (await http.get("/health")).json()["loaded"]]
        assert loaded == ["tiny"], "tiny-chat was unloaded again: at most one resident"
        default = await http.post("/v1/generate", json=body)
        assert default.json()["checkpoint"] == "tiny"


async def test_unsupported_genre_or_task_for_the_checkpoint_is_refused(checkpoints_dir: Path):
    folder = checkpoints_dir / "tiny"
    manifest = read_manifest(folder)
    update = {"genres": [manifest.genres[0]], "tasks": [Task.STORY, Task.POEM]}
    write_manifest(folder, manifest.model_copy(update=update))
    async with serve_app(tiny_settings(checkpoints_dir)) as url, httpx.AsyncClient() as http:
        response = await http.post(f"{url}/v1/generate", json={**STORY, "genre": "thriller"})
        untrained = await http.post(f"{url}/v1/generate", json={**STORY, "task": "continue"})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "genre" and "not trained for genre 'thriller'" in error["message"]
    # The task is at fault, not the (trained) genre that came with it.
    assert untrained.status_code == 422, untrained.text
    error = untrained.json()["error"]
    assert error["field"] == "task" and "continue task" in error["message"]


KEYS = {"api_key": "user-key", "admin_key": "admin-key"}
USER = {"Authorization": "Bearer user-key"}
ADMIN = {"Authorization": "Bearer admin-key"}


async def test_only_the_admin_key_loads_a_checkpoint_on_demand(checkpoints_dir: Path):
    body = {"task": "poem", "emotion": "joy", "max_new_tokens": 3, "checkpoint": "tiny-chat"}
    settings = tiny_settings(checkpoints_dir, **KEYS)
    async with serve_app(settings) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        refused = await http.post("/v1/generate", json=body, headers=USER)
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["field"] == "checkpoint" and "admin key" in error["message"]
        tokenize = {"texts": ["a"], "checkpoint": "tiny-chat"}
        assert (await http.post("/v1/tokenize", json=tokenize, headers=USER)).status_code == 403
        completion = {"prompt": "a", "max_tokens": 2, "model": "tiny-chat"}
        refused = await http.post("/v1/completions", json=completion, headers=USER)
        assert refused.status_code == 403
        loaded = [c["name"] for c in (await http.get("/health", headers=USER)).json()["loaded"]]
        assert loaded == ["tiny"]
        assert (await http.post("/v1/generate", json=body, headers=ADMIN)).status_code == 200
        # Once an admin loaded it, anyone with the API key may use it, and have it loaded again
        # after an eviction (a channel pinned to it by an admin).
        assert (await http.post("/v1/generate", json=body, headers=USER)).status_code == 200
        swap = {"name": "tiny-chat", "unload_previous": True}
        assert (await http.post("/v1/checkpoints/load", json=swap, headers=ADMIN)).is_success
        back = {"name": "tiny", "unload_previous": True}
        assert (await http.post("/v1/checkpoints/load", json=back, headers=ADMIN)).is_success
        assert (await http.post("/v1/generate", json=body, headers=USER)).status_code == 200


async def test_an_allow_listed_checkpoint_loads_on_demand_for_any_key(checkpoints_dir: Path):
    body = {"task": "poem", "emotion": "joy", "max_new_tokens": 3, "checkpoint": "tiny-chat"}
    settings = tiny_settings(checkpoints_dir, **KEYS, on_demand_checkpoints=["tiny-chat"])
    async with serve_app(settings) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        assert (await http.post("/v1/generate", json=body, headers=USER)).status_code == 200


async def test_a_symlink_out_of_the_checkpoints_folder_is_refused(
    checkpoints_dir: Path, tmp_path: Path
):
    outside = tmp_path / "elsewhere"
    shutil.copytree(checkpoints_dir / "tiny-chat", outside)
    (checkpoints_dir / "linked").symlink_to(outside, target_is_directory=True)
    inside_link = checkpoints_dir / "file-linked"
    shutil.copytree(checkpoints_dir / "tiny-chat", inside_link)
    (inside_link / "config.json").unlink()
    (inside_link / "config.json").symlink_to(outside / "config.json")
    async with serve_app(tiny_settings(checkpoints_dir)) as url, httpx.AsyncClient() as http:
        listing = (await http.get(f"{url}/v1/checkpoints")).json()["checkpoints"]
        by_name = {c["name"]: c for c in listing}
        for name in ("linked", "file-linked"):
            assert not by_name[name]["valid"] and "outside" in by_name[name]["problem"]
            body = {**STORY, "checkpoint": name, "max_new_tokens": 2}
            refused = await http.post(f"{url}/v1/generate", json=body)
            assert refused.status_code == 422 and "outside" in refused.json()["error"]["message"]
            assert str(tmp_path) not in refused.text
        loaded = [c["name"] for c in (await http.get(f"{url}/health")).json()["loaded"]]
        assert loaded == ["tiny"]


async def test_candidates_copying_the_training_text_are_flagged(checkpoints_dir: Path):
    body = {**STORY, "max_new_tokens": 60, "temperature": 1.0, "seed": 21}
    settings = tiny_settings(checkpoints_dir, copy_min_words=4)
    async with serve_app(settings) as url, httpx.AsyncClient() as http:
        text = (await http.post(f"{url}/v1/generate", json=body)).json()["candidates"][0]["text"]
    # Pretend the model learned this very text: fingerprint it into the checkpoint.
    folder = checkpoints_dir / "tiny"
    TrainingFingerprint.from_texts([text], n=4).save(folder / "training_ngrams.bin")
    manifest = read_manifest(folder)
    write_manifest(folder, manifest.model_copy(update={"training_ngrams": "training_ngrams.bin"}))
    async with serve_app(settings) as url, httpx.AsyncClient() as http:
        same = (await http.post(f"{url}/v1/generate", json=body)).json()["candidates"][0]
        other = (await http.post(f"{url}/v1/generate", json={**body, "seed": 22})).json()
    assert same["text"] == text and same["copied_from_training"] is True
    assert other["candidates"][0]["copied_from_training"] is False


async def test_a_checkpoint_loads_on_a_thread_that_ends_with_the_load(checkpoints_dir: Path):
    """torch's OpenMP workers live as long as the thread that started them; a loader thread
    left alive with its workers slowed the engine's small decode steps (libgomp stops spinning
    once the process holds more workers than CPUs)."""
    loaders: list[threading.Thread] = []

    def engines(weights: LoadedWeights, manifest: CheckpointManifest) -> MicroBatchEngine:
        loaders.append(threading.current_thread())
        config = EngineConfig(
            context_window=manifest.context_window, end_marker=manifest.end_marker
        )
        return MicroBatchEngine(weights.model, weights.tokenizer, config)

    async with serve_app(tiny_settings(checkpoints_dir), engine_factory=engines) as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            loaded = await http.post("/v1/checkpoints/load", json={"name": "tiny-chat"})
            assert loaded.status_code == 200, loaded.text
        assert len(loaders) == 2
        for loader in loaders:
            assert loader is not threading.main_thread()
            loader.join(timeout=10)
            assert not loader.is_alive(), "the thread that loaded the checkpoint lives on"
