"""One end-to-end setup (model server, fake Discord, bot) and the checks every test ends with."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.chat import pinging
from tests.e2e.processes import (
    BotProcess,
    FakeDiscordServerProcess,
    ManagedProcess,
    Secrets,
    ServerProcess,
    bot_process,
    fake_discord_process,
    find_secrets,
    server_process,
)
from tests.fakes.discord_server import RemoteFakeDiscord


def _require(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not built yet")


@dataclass
class Stack:
    """The three programs of one end-to-end setup, and where their files are."""

    workdir: Path
    secrets: Secrets
    server: ServerProcess
    fake_process: FakeDiscordServerProcess
    bot: BotProcess

    def leaked_secrets(self, *extra: tuple[str, str | bytes]) -> list[str]:
        """Secrets found in any process log or in the extra (name, text) pairs given."""
        texts: list[tuple[str, str | bytes]] = [(p.log_path.name, p.log_text()) for p in self.all]
        return find_secrets([*texts, *extra], self.secrets.all())

    @property
    def all(self) -> list[ManagedProcess]:
        return [self.server, self.fake_process, self.bot]


class StackFactory:
    """Builds stacks; stops whatever it started when the test or module ends."""

    def __init__(self, root: Path, checkpoints: Path) -> None:
        self.root = root
        self.checkpoints = checkpoints
        self.servers: list[ServerProcess] = []
        self.processes: list[ManagedProcess] = []

    def server(
        self,
        name: str = "server",
        *,
        keys: Secrets | None = None,
        settings: dict[str, str] | None = None,
        checkpoints: Path | None = None,
        checkpoint: str = "tiny",
    ) -> ServerProcess:
        """A started model server on the checkpoints, with the keys' API and admin keys."""
        _require("model_server.__main__")
        keys = keys or Secrets.generate()
        workdir = self.root / name
        workdir.mkdir(parents=True, exist_ok=True)
        server = server_process(
            workdir,
            checkpoints or self.checkpoints,
            checkpoint=checkpoint,
            api_key=keys.api_key,
            admin_key=keys.admin_key,
            settings=settings,
        )
        self.servers.append(server)
        server.start_and_wait()
        return server

    def build(
        self,
        name: str = "stack",
        *,
        bot_settings: dict[str, str] | None = None,
        server: ServerProcess | None = None,
        keys: Secrets | None = None,
        checkpoints: Path | None = None,
    ) -> Stack:
        """Fake Discord + bot around a server (a new one unless given; then keys must match)."""
        _require("model_server.__main__")
        _require("bot.__main__")
        keys = keys or Secrets.generate()
        workdir = self.root / name
        workdir.mkdir(parents=True, exist_ok=True)
        if server is None:
            server = self.server(f"{name}-server", keys=keys, checkpoints=checkpoints)
        fake = fake_discord_process(workdir, keys.discord_token)
        self.processes.append(fake)
        fake.start_and_wait()
        bot = bot_process(workdir, fake, server, settings=bot_settings)
        self.processes.append(bot)
        stack = Stack(workdir, keys, server, fake, bot)
        bot.start_and_wait()
        return stack

    def stop_all(self) -> None:
        """Bot first, then the fakes, then the servers: each by its own pid."""
        for process in [*reversed(self.processes), *self.servers]:
            if process.running:
                process.terminate()


async def assert_clean(stack: Stack, fake: RemoteFakeDiscord) -> None:
    """What every end-to-end test ends with: every process alive, nothing Discord would have
    refused, nobody pinged, no secret in any log or any message."""
    for process in stack.all:
        assert process.running, f"{process.name} died:\n{process.log_tail()}"
    assert await fake.protocol_errors() == []
    messages = await fake.messages(include_deleted=True)
    assert pinging(messages) == []
    shown = [(f"message {m.id}", r.content) for m in messages for r in m.revisions]
    assert stack.leaked_secrets(*shown) == []
