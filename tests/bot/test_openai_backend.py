"""The bot's story service over the OpenAI backend, against a stub OpenAI-shaped server on
loopback: prompts in the checkpoint's own format, answers cut at the end marker, candidates when
the server ignores `n`, token counts, and every fault shape leaving the story as it was."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.backends import make_model_client
from bot.backends.openai_client import OpenAIModelClient
from bot.model_client import ModelClientError
from bot.services import build_services
from bot.settings import BotSettings
from bot.store import Store
from bot.story import Author, StoryKey, StoryService
from bot.story.writer import LORE_PHRASE_BIAS
from core.controls import END_MARKER
from core.prompt_format import SYSTEM_PROMPT
from core.protocol import GenerateRequest
from tests.bot.openai_stub import StubServer, stub_server

HERE = StoryKey(1, 10)
ADA = Author(5, "ada")
SECRET = "sk-do-not-show-me"


def openai_settings(
    url: str, checkpoint_dir: Path | None, model: str = "stub", **values: Any
) -> BotSettings:
    return BotSettings(
        _env_file=None,
        backend="openai",
        server_url=url,
        model=model,
        api_key=SECRET,
        checkpoint_dir=checkpoint_dir,
        cooldown_seconds=0,
        default_max_tokens=24,
        **values,
    )


def openai_client(url: str, **options: Any) -> aclosing[OpenAIModelClient]:
    return aclosing(OpenAIModelClient(url, model="stub", **options))


@asynccontextmanager
async def stories(settings: BotSettings, store: Store) -> AsyncIterator[StoryService]:
    """The story service production builds (bot.services), over the configured backend."""
    client = make_model_client(settings)
    try:
        yield build_services(settings, store, client).stories
    finally:
        await client.aclose()


@pytest.fixture
async def stub() -> AsyncIterator[StubServer]:
    async with stub_server() as server:
        yield server


async def test_a_story_streams_in_the_checkpoints_format_and_stops_at_its_end_marker(
    stub: StubServer, store: Store, tiny_checkpoint: Path
) -> None:
    shown: list[str] = []

    async def on_text(text: str) -> None:
        shown.append(text)

    async with stories(openai_settings(stub.url, tiny_checkpoint), store) as service:
        passage = await service.respond(HERE, ADA, "horror", "A knock at the door", on_text)
    assert passage.turn.text == "The lamp went out. Nobody moved."
    assert passage.turn.checkpoint == "tiny"  # the checkpoint folder's name, not the model id
    assert shown and not any("LEAKED" in text or END_MARKER in text for text in shown)
    sent = stub.requests[-1]
    assert sent["prompt"].startswith("<|startoftext|><|task:story|><|genre:horror|>[WP] A knock")
    assert sent["stop"][0] == END_MARKER and sent["stream"] is True
    assert sent["model"] == "stub" and sent["max_tokens"] == 24


async def test_a_chat_model_gets_cores_instruction_as_messages(
    stub: StubServer, store: Store
) -> None:
    async with stories(openai_settings(stub.url, None), store) as service:
        passage = await service.poem(HERE, ADA, "joy", "Morning")
    assert passage.turn.text == "The lamp went out (None, 0)."
    messages = stub.requests[-1]["messages"]
    assert messages[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "poem" in messages[1]["content"] and "Morning" in messages[1]["content"]


async def test_a_server_that_refuses_campfires_own_samplers_still_writes(
    store: Store, tiny_checkpoint: Path
) -> None:
    async with (
        stub_server(refuse_unknown=True) as stub,
        stories(openai_settings(stub.url, tiny_checkpoint), store) as service,
    ):
        first = await service.respond(HERE, ADA, "horror", "A knock at the door")
        await service.continue_story(HERE, ADA)
    assert first.turn.text == "The lamp went out (None, 0)."
    refused, retried, *later = stub.requests
    assert refused["repetition_penalty"] > 1.0, "the bot's tuned default is tried first"
    assert "repetition_penalty" not in retried
    assert later and all("repetition_penalty" not in sent for sent in later)


async def test_a_presets_samplers_go_along_and_are_dropped_where_refused(
    store: Store, tiny_checkpoint: Path
) -> None:
    async with stub_server() as accepting, stub_server(refuse_unknown=True) as refusing:
        for stub in (accepting, refusing):
            async with stories(openai_settings(stub.url, tiny_checkpoint), store) as service:
                await service.admin.update_settings(HERE, "server", preset="no-repeat")
                await service.respond(HERE, ADA, "horror", "A knock at the door")
    sent = accepting.requests[-1]
    assert (sent["dry_multiplier"], sent["presence_penalty"]) == (0.8, 0.2)
    refused, retried = refusing.requests
    assert refused["dry_multiplier"] == 0.8
    assert not {"dry_multiplier", "presence_penalty", "repetition_penalty"} & set(retried)


async def test_a_lore_names_phrase_bias_goes_along_and_is_dropped_where_refused(
    store: Store, tiny_checkpoint: Path
) -> None:
    passages = []
    async with stub_server() as accepting, stub_server(refuse_unknown=True) as refusing:
        for stub in (accepting, refusing):
            async with stories(openai_settings(stub.url, tiny_checkpoint), store) as service:
                await service.respond(HERE, ADA, "horror", "A knock at the lighthouse door")
                await service.group.add_lore(HERE, ADA, "Tobin", "lamp", "Old.")
                passages.append(await service.continue_story(HERE, ADA))
    assert accepting.requests[-1]["phrase_bias"] == {"Tobin": LORE_PHRASE_BIAS}
    # A server that refused Campfire's own samplers once is not sent them again.
    assert all("phrase_bias" not in sent for sent in refusing.requests)
    assert all(passage.turn.text for passage in passages)


async def test_candidates_come_in_parallel_when_the_server_ignores_n(
    stub: StubServer, tiny_checkpoint: Path
) -> None:
    stub.honour_n = False
    async with openai_client(stub.url, checkpoint_dir=tiny_checkpoint) as client:
        first = await client.generate(GenerateRequest(task="story", n=3, seed=5))
        again = await client.generate(GenerateRequest(task="story", n=2, seed=9))
    assert [c.text for c in first.candidates] == [
        "The lamp went out (5, 0).",
        "The lamp went out (6, 0).",
        "The lamp went out (7, 0).",
    ]
    assert [c.index for c in first.candidates] == [0, 1, 2]
    assert len(again.candidates) == 2
    # Asked once with n=3, then one request per candidate, from then on without n.
    assert [r.get("n", 1) for r in stub.requests] == [3, 1, 1, 1, 1]


async def test_a_vote_gets_its_candidates_from_one_request(
    stub: StubServer, store: Store, tiny_checkpoint: Path
) -> None:
    async with stories(openai_settings(stub.url, tiny_checkpoint), store) as service:
        await service.respond(HERE, ADA, "drama", "A letter")
        vote, _ = await service.votes.open_vote(HERE, ADA, candidates=3)
        update = await service.votes.cast_vote(HERE, vote.id, ADA, 1)
    expected = [f"The lamp went out (None, {i})." for i in range(3)]
    assert [c.text for c in vote.candidates] == expected
    assert stub.requests[-1]["n"] == 3 and "[CONTINUATION]" in stub.requests[-1]["prompt"]
    assert update.turn is not None and update.turn.text == "The lamp went out (None, 1)."


async def test_token_counts_come_from_the_server_then_the_folder_then_an_estimate(
    stub: StubServer, tiny_checkpoint: Path
) -> None:
    from transformers import AutoTokenizer

    text = "the night door knock dark ship"
    async with openai_client(stub.url, checkpoint_dir=tiny_checkpoint) as client:
        local = await client.tokenize([text], None)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_checkpoint))
    assert local.counts == [len(tokenizer(text, add_special_tokens=False)["input_ids"])]
    assert local.context_window == 256  # from campfire.json
    async with openai_client(stub.url, context_window=1000) as client:
        estimated = await client.tokenize([text], None)
    assert estimated.counts == [math.ceil(len(text) / 4)] and estimated.context_window == 1000
    stub.tokenize = True
    async with openai_client(stub.url) as client:
        served = await client.tokenize([text, "two words"], None)
    assert served.counts == [6, 2] and served.context_window == 512  # vLLM's max_model_len


FAULTS = {
    "500": "failed \\(HTTP 500\\)",
    "429": "busy",
    "empty": "format this bot doesn't understand|closed the stream",
    "malformed": "format this bot doesn't understand|closed the stream",
    "not_json": "format this bot doesn't understand|closed the stream",
    "kill": "closed the stream|isn't answering",
    "no_finish": "closed the stream",
}


@pytest.mark.parametrize("mode", list(FAULTS))
async def test_a_fault_reaches_the_user_clearly_and_the_story_is_intact(
    stub: StubServer, store: Store, tiny_checkpoint: Path, mode: str
) -> None:
    async def on_text(text: str) -> None:
        pass

    async with stories(openai_settings(stub.url, tiny_checkpoint), store) as service:
        await service.respond(HERE, ADA, "horror", "A knock at the door")
        before = [(t.id, t.text) for t in (await service.books.show(HERE)).turns]
        stub.mode = mode
        with pytest.raises(ModelClientError, match=FAULTS[mode]) as streamed:
            await service.continue_story(HERE, ADA, None, on_text)
        if mode not in ("kill", "no_finish"):
            with pytest.raises(ModelClientError, match=FAULTS[mode]):
                await service.votes.open_vote(HERE, ADA, candidates=2)
        after = [(t.id, t.text) for t in (await service.books.show(HERE)).turns]
        stub.mode = "ok"
        following = await service.continue_story(HERE, ADA, None, on_text)
    assert after == before
    message = streamed.value.user_message
    assert SECRET not in message and "127.0.0.1" not in message
    assert following.turn.position == len(before) + 1


async def test_backend_openai_without_a_model_is_refused_with_the_setting_to_fix() -> None:
    with pytest.raises(ValueError, match="CAMPFIRE_BACKEND=openai needs the model name"):
        BotSettings(_env_file=None, backend="openai", model="")
