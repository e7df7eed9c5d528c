"""The story service over HTTP against the real model server on the tiny checkpoints: the bot
and the server agree on the wire (generate, SSE, tokenize, checkpoints, load). Runs wherever the
server package and its test helpers are present (skipped on a tree without them)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from bot.model_client import HttpModelClient, ModelError
from bot.store import Store
from bot.story import Author, Defaults, StoryError, StoryKey, StoryService
from bot.story.parts import FROM_LAST_LINES
from bot.story.values import MAX_PROMPT_COUNT
from core.controls import Task
from core.manifest import read_manifest, write_manifest

pytest.importorskip("model_server.app")
serving = pytest.importorskip("tests.serving")

HERE = StoryKey(1, 10)
ADA = Author(5, "ada")
T = TypeVar("T")


async def written(ask: Callable[[], Awaitable[T]], tries: int = 3) -> T:
    """The tiny random model now and then ends its answer at once, and the service refuses the
    empty passage (leaving the story unchanged): ask again, as a person would."""
    for _ in range(tries - 1):
        try:
            return await ask()
        except ModelError as error:
            if "wrote nothing" not in str(error):
                raise
    return await ask()


@pytest.fixture
async def server_url(tiny_checkpoints: Path) -> AsyncIterator[str]:
    async with serving.serve_app(serving.tiny_settings(tiny_checkpoints)) as url:
        yield url


@pytest.fixture
async def live_service(server_url: str, store: Store) -> AsyncIterator[StoryService]:
    async with HttpModelClient(server_url, request_timeout=60) as client:
        yield StoryService(store, client, defaults=Defaults(max_new_tokens=24, temperature=0.8))


async def test_a_story_through_the_real_server(live_service: StoryService, store: Store) -> None:
    partials: list[str] = []

    async def on_text(text: str) -> None:
        partials.append(text)

    opening = await live_service.respond(HERE, ADA, "horror", "A knock at the door", on_text)
    assert opening.turn.checkpoint == "tiny" and opening.turn.text
    assert partials and opening.turn.text.startswith(partials[0].strip()[:5])
    await live_service.write(HERE, ADA, "Ada opened the door. " * 30)  # longer than the window
    following = await live_service.continue_story(HERE, ADA, None, on_text)
    assert following.turn.task == Task.CONTINUE.value
    poem = await live_service.poem(HERE, ADA, "joy", "Morning")
    again = await live_service.regenerate(HERE, ADA, poem.turn.id)
    assert again.turn.position == poem.turn.position
    prompts = await live_service.prompts(HERE, ADA, "A dragon", 2)
    assert len(prompts) == 2
    recap = await live_service.books.show(HERE)
    assert len(recap.turns) == 4


async def test_checkpoints_and_pinning_through_the_real_server(
    live_service: StoryService,
) -> None:
    names = {c.name for c in await live_service.admin.checkpoints()}
    assert {"tiny", "tiny-chat"} <= names
    await live_service.admin.pin_checkpoint(HERE, "channel", "tiny-chat")
    passage = await written(lambda: live_service.respond(HERE, ADA, "drama", "A letter"))
    assert passage.turn.checkpoint == "tiny-chat"


async def test_the_servers_refusal_reaches_the_user(live_service: StoryService) -> None:
    await live_service.admin.update_settings(HERE, "server", max_new_tokens=2000)
    with pytest.raises(ModelError, match="refused the request"):
        await live_service.respond(HERE, ADA, "drama", "Too long an answer")


async def test_the_most_prompts_the_bot_offers_fit_the_servers_default_cap(
    live_service: StoryService,
) -> None:
    prompts = await live_service.prompts(HERE, ADA, "A dragon", MAX_PROMPT_COUNT)
    # the tiny random model may end some prompts at once; the empty ones are left out
    assert 1 <= len(prompts) <= MAX_PROMPT_COUNT


@pytest.fixture
async def plots_service(
    tiny_checkpoints: Path, tmp_path: Path, store: Store
) -> AsyncIterator[StoryService]:
    """The real server with a checkpoint trained for stories and prompts only (as one trained
    on WritingPrompts or plots would be)."""
    root = Path(shutil.copytree(tiny_checkpoints, tmp_path / "checkpoints"))
    plots = Path(shutil.copytree(root / "tiny", root / "plots"))
    manifest = read_manifest(plots)
    write_manifest(
        plots, manifest.model_copy(update={"name": "plots", "tasks": [Task.STORY, Task.PROMPT]})
    )
    async with (
        serving.serve_app(serving.tiny_settings(root)) as url,
        HttpModelClient(url, request_timeout=60) as client,
    ):
        yield StoryService(store, client, defaults=Defaults(max_new_tokens=24))


async def test_jokes_presets_and_the_continue_fallback_through_the_real_server(
    plots_service: StoryService,
) -> None:
    joke = await written(lambda: plots_service.joke(HERE, ADA, "A horse"))
    assert joke.startswith("A horse")
    for preset in ("wild", "no-repeat"):  # min_p, DRY and the penalties are accepted
        await plots_service.admin.update_settings(HERE, "server", preset=preset)
        await written(lambda: plots_service.respond(HERE, ADA, "drama", "A letter"))
    await plots_service.write(HERE, ADA, "The letter was unsigned. Nobody knew the hand.")
    lacking = await plots_service.admin.what_wont_work(HERE, "channel", "plots")
    assert lacking and lacking[0].startswith("continuing the running story")
    await plots_service.admin.pin_checkpoint(HERE, "channel", "plots")
    with pytest.raises(StoryError, match="/checkpoint use"):
        await plots_service.joke(HERE, ADA)
    passage = await written(lambda: plots_service.continue_story(HERE, ADA))
    assert passage.turn.checkpoint == "plots" and passage.notice == FROM_LAST_LINES
