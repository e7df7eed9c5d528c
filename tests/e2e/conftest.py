"""Fixtures that run the real programs: `campfire-server` on the tiny checkpoints, the fake
Discord as its own process, and `campfire-bot` between them.

The three processes are shared by the session (starting the server costs several seconds of
torch imports); each test gets a fresh channel, so stories never mix. Tests that crash a process
build a stack of their own (see test_faults.py). Every process's log lands in the work folder;
`Stack.leaked_secrets()` greps them all.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import Secrets, ServerProcess
from tests.e2e.stack import Stack, StackFactory
from tests.fakes.discord_server import Channel, RemoteFakeDiscord


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test here runs real processes, so it is slow (`make test-fast` skips it); soak tests
    run only under `make soak` (CAMPFIRE_SOAK=1)."""
    here = Path(__file__).parent
    skip = pytest.mark.skip(reason="soak test: run with `make soak`")
    for item in items:
        if here not in item.path.parents:
            continue  # this hook sees the whole session's items
        item.add_marker(pytest.mark.slow)
        if "soak" in item.keywords and os.environ.get("CAMPFIRE_SOAK") != "1":
            item.add_marker(skip)


@pytest.fixture(scope="session")
def e2e_factory(
    tmp_path_factory: pytest.TempPathFactory, tiny_checkpoints: Path
) -> Iterator[StackFactory]:
    factory = StackFactory(tmp_path_factory.mktemp("e2e"), tiny_checkpoints)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def e2e_secrets() -> Secrets:
    return Secrets.generate()


@pytest.fixture(scope="session")
def model_server(e2e_factory: StackFactory, e2e_secrets: Secrets) -> ServerProcess:
    """The real campfire-server on the tiny checkpoints, shared by the session."""
    return e2e_factory.server("server", keys=e2e_secrets)


@pytest.fixture(scope="session")
def stack(e2e_factory: StackFactory, e2e_secrets: Secrets, model_server: ServerProcess) -> Stack:
    """Fake Discord + bot around the shared server, for the tests that leave them running."""
    return e2e_factory.build("shared", server=model_server, keys=e2e_secrets)


async def connect(stack: Stack) -> RemoteFakeDiscord:
    return await RemoteFakeDiscord(stack.fake_process.base_url).connect()


@pytest.fixture
async def fake(stack: Stack) -> AsyncIterator[RemoteFakeDiscord]:
    for process in stack.all:
        assert process.running, f"{process.name} died:\n{process.log_tail()}"
    remote = await connect(stack)
    await remote.clear_protocol_errors()
    try:
        yield remote
    finally:
        await remote.close()


@pytest.fixture
async def channel(fake: RemoteFakeDiscord, request: pytest.FixtureRequest) -> Channel:
    """A fresh channel in the default guild, named after the test."""
    name = request.node.name.lower().replace("[", "-").replace("]", "")[:90]
    return await fake.add_channel(fake.guild, name)
