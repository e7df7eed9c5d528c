"""The story service over HTTP against the real model server on the tiny checkpoints: the bot
and the server agree on the wire (generate, SSE, tokenize, checkpoints, load). Runs wherever the
server package and its test helpers are present (skipped on a tree without them)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.model_client import HttpModelClient, ModelError
from bot.store import Store
from bot.story import Author, Defaults, Passage, StoryKey, StoryService
from bot.story.values import MAX_PROMPT_COUNT
from core.controls import Task

pytest.importorskip("model_server.app")
serving = pytest.importorskip("tests.serving")

HERE = StoryKey(1, 10)
ADA = Author(5, "ada")


async def written(ask: Callable[[], Awaitable[Passage]], tries: int = 3) -> Passage:
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
