"""The whole story round trip through the production story service over the OpenAI backend,
against real servers started as processes on the tiny control-token checkpoint:
`transformers serve` (a third-party OpenAI-compatible server) and Campfire's own server's
/v1/completions. The bot renders the prompt with core, so both see the training format."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from bot.model_client import ModelError
from bot.store import Store
from bot.story import OutputWithheld
from core.controls import END_MARKER, Task
from tests.bot.test_openai_backend import ADA, HERE, openai_settings, stories
from tests.peer_serving import run_transformers_serve
from tests.serving import run_server_process

pytestmark = pytest.mark.slow
CHATML_JINJA = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
T = TypeVar("T")
# The tiny tokenizer spends about a token per two characters, so core's chat instruction for a
# continuation alone is ~250 tokens: the chat model gets a wider window than the tiny 256.
CHAT_WINDOW = 1024


def widen_window(folder: Path, positions: int) -> None:
    """Give the tiny (random) GPT-2 more positions: the old ones kept, new ones random."""
    import torch
    from transformers import AutoModelForCausalLM, GPT2Config

    model = AutoModelForCausalLM.from_pretrained(str(folder))
    config = GPT2Config.from_dict({**model.config.to_dict(), "n_positions": positions})
    wider = AutoModelForCausalLM.from_config(config)
    state = model.state_dict()
    old = state["transformer.wpe.weight"]
    state["transformer.wpe.weight"] = torch.cat(
        [old, wider.transformer.wpe.weight.detach()[old.shape[0] :]]
    )
    wider.load_state_dict(state)
    wider.save_pretrained(str(folder))


async def until_written(ask: Callable[[], Awaitable[T]], tries: int = 4) -> T:
    """The tiny random model now and then ends at once and the service refuses the empty
    answer (the story unchanged): ask again, as a person would."""
    for _ in range(tries - 1):
        try:
            return await ask()
        except (ModelError, OutputWithheld) as error:
            if "wrote nothing" not in str(error) and "too few" not in str(error):
                raise
    return await ask()


@pytest.fixture(scope="module")
def transformers_serve(tiny_checkpoints: Path) -> Iterator[tuple[str, str]]:
    folder = tiny_checkpoints / "tiny"
    with run_transformers_serve(folder) as url:
        yield url, str(folder)


@pytest.fixture(scope="module")
def transformers_serve_chat(
    tiny_checkpoints: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """The instruction-style tiny checkpoint with a ChatML chat template: a chat model."""
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("chat") / "tiny-chat"
    shutil.copytree(tiny_checkpoints / "tiny-chat", folder)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokenizer.chat_template = CHATML_JINJA
    tokenizer.save_pretrained(str(folder))
    widen_window(folder, CHAT_WINDOW)
    with run_transformers_serve(folder) as url:
        yield url, str(folder)


@pytest.fixture(scope="module")
def campfire_openai(tiny_checkpoints: Path) -> Iterator[tuple[str, str]]:
    with run_server_process(tiny_checkpoints, "tiny") as url:
        yield f"{url}/v1", "tiny"


async def round_trip(url: str, model: str, folder: Path | None, store: Store) -> None:
    # Without a checkpoint folder the window is a setting (CAMPFIRE_CONTEXT_WINDOW): the tiny
    # chat model's is CHAT_WINDOW tokens.
    window = {} if folder else {"context_window": CHAT_WINDOW}
    settings = openai_settings(url, folder, model, **window)
    shown: list[str] = []

    async def on_text(text: str) -> None:
        shown.append(text)

    async with stories(settings, store) as service:
        opening = await until_written(
            lambda: service.respond(HERE, ADA, "horror", "A knock at the door", on_text)
        )
        following = await until_written(lambda: service.continue_story(HERE, ADA, None, on_text))
        vote, _ = await until_written(lambda: service.votes.open_vote(HERE, ADA, candidates=2))
        again = await until_written(lambda: service.regenerate(HERE, ADA, following.turn.id))
        recap = await service.books.show(HERE)
    assert opening.turn.checkpoint == ("tiny" if folder else model) and shown
    assert following.turn.task == Task.CONTINUE.value
    assert len(vote.candidates) == 2 and all(c.text for c in vote.candidates)
    assert again.turn.position == following.turn.position
    texts = [turn.text for turn in recap.turns]
    assert len(texts) == 2 and texts[1] == again.turn.text
    # The end marker is cut where it was written (a random tiny model may still spell "<|" as
    # plain characters, so only the marker itself is looked for).
    assert not any(END_MARKER in text for text in texts)


async def test_a_story_through_transformers_serve(
    transformers_serve: tuple[str, str], tiny_checkpoint: Path, store: Store
) -> None:
    url, model = transformers_serve
    await round_trip(url, model, tiny_checkpoint, store)


async def test_a_story_through_campfires_own_server_in_openai_mode(
    campfire_openai: tuple[str, str], tiny_checkpoint: Path, store: Store
) -> None:
    url, model = campfire_openai
    await round_trip(url, model, tiny_checkpoint, store)


async def test_a_story_with_a_chat_model_through_transformers_serve(
    transformers_serve_chat: tuple[str, str], store: Store
) -> None:
    url, model = transformers_serve_chat
    await round_trip(url, model, None, store)
