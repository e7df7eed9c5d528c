"""Run the real Campfire programs as subprocesses for end-to-end tests and the load bench.

Each program runs as `sys.executable -m <package>` with an environment built here from scratch
(nothing of the developer's shell or `.env` leaks in: the working directory is a scratch folder),
its stdout and stderr captured to one log file per program that tests read and grep. A restart
appends to the same log. `terminate()` sends SIGTERM (a graceful stop), `kill()` SIGKILL (a
crash); both wait for the process to be gone. Every process is started in its own session and
only ever signalled by its own pid.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.serving import free_port, server_command

REPO_ROOT = Path(__file__).resolve().parents[2]

# Environment variables a child may inherit from the test runner: the bare minimum to run Python.
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")


class ProcessFailed(RuntimeError):
    """A program exited or did not become ready in time; the message carries its log's tail."""


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment: our code first on the path, offline, unbuffered, one thread each."""
    env = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    python_path = [str(REPO_ROOT)]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(python_path),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Secrets:
    """Distinctive secret values, so that a grep of logs and replies for them means something."""

    discord_token: str
    api_key: str
    admin_key: str

    @classmethod
    def generate(cls) -> Secrets:
        return cls(
            discord_token=f"discord-token-{secrets.token_hex(12)}",
            api_key=f"campfire-api-{secrets.token_hex(12)}",
            admin_key=f"campfire-admin-{secrets.token_hex(12)}",
        )

    def all(self) -> tuple[str, ...]:
        return (self.discord_token, self.api_key, self.admin_key)


def find_secrets(texts: Iterable[tuple[str, str | bytes]], values: Iterable[str]) -> list[str]:
    """Which (where, secret) pairs occur: [] means nothing leaked."""
    found = []
    for where, text in texts:
        data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
        for value in values:
            if value.encode() in data:
                found.append(f"{value[:12]}... in {where}")
    return found


@dataclass
class ManagedProcess:
    """One program under test. Not thread-safe; one owner drives it."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    exit_codes: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> ManagedProcess:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"=== {self.name} start {self.starts} ===\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def log_text(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_ready(self, check: Callable[[], bool], *, timeout: float, what: str = "ready") -> None:
        """Poll `check` until it is true; fail early (with the log) if the process exits."""
        deadline = time.monotonic() + timeout
        while True:
            if self.popen is None or self.popen.poll() is not None:
                code = None if self.popen is None else self.popen.returncode
                raise ProcessFailed(
                    f"{self.name} exited (code {code}) before it was {what}:\n{self.log_tail()}"
                )
            try:
                if check():
                    return
            except (httpx.HTTPError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise ProcessFailed(
                    f"{self.name} was not {what} after {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def _signal_and_wait(self, sig: signal.Signals, timeout: float) -> int:
        assert self.popen is not None
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait(10)
        self.exit_codes.append(code)
        return code

    def terminate(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not stop within `timeout`. The exit code, or None."""
        if self.popen is None:
            return None
        return self._signal_and_wait(signal.SIGTERM, timeout)

    def kill(self) -> int | None:
        """SIGKILL: no cleanup of any kind, as in a crash or an OOM kill."""
        if self.popen is None:
            return None
        return self._signal_and_wait(signal.SIGKILL, 10.0)


# --------------------------------------------------------------------------- the model server


@dataclass
class ServerProcess(ManagedProcess):
    port: int = 0
    api_key: str | None = None
    admin_key: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self, *, admin: bool = False) -> dict[str, str]:
        key = self.admin_key if admin else self.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    def health(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/health", headers=self.headers(), timeout=2.0)
        answer.raise_for_status()
        return dict(answer.json())

    def is_healthy(self) -> bool:
        return self.health().get("status") == "ok"

    def start_and_wait(self, timeout: float = 90.0) -> ServerProcess:
        self.start()
        self.wait_ready(self.is_healthy, timeout=timeout, what="healthy")
        return self


def server_process(
    workdir: Path,
    checkpoints: Path,
    *,
    checkpoint: str = "tiny",
    api_key: str | None = None,
    admin_key: str | None = None,
    port: int | None = None,
    settings: Mapping[str, str] | None = None,
    name: str = "server",
) -> ServerProcess:
    """A `campfire-server` on 127.0.0.1 serving the checkpoints folder on CPU (not started)."""
    port = port or free_port()
    env = base_env(
        {
            # Small caps so that a runaway request can't hold the 2 CI cores for long.
            "CAMPFIRE_MAX_NEW_TOKENS": "256",
            "CAMPFIRE_BATCH_WAIT_MS": "5",
            **(settings or {}),
        }
    )
    if api_key:
        env["CAMPFIRE_API_KEY"] = api_key
    if admin_key:
        env["CAMPFIRE_ADMIN_KEY"] = admin_key
    argv = [*server_command(port, checkpoints, checkpoint), "--quant", "none"]
    return ServerProcess(
        name=name,
        argv=argv,
        env=env,
        log_path=workdir / f"{name}.log",
        cwd=workdir / name,
        port=port,
        api_key=api_key,
        admin_key=admin_key,
    )


# --------------------------------------------------------------------------- the fake Discord


@dataclass
class FakeDiscordServerProcess(ManagedProcess):
    """`python -m tests.fakes.discord_server`; drive it with RemoteFakeDiscord(self.base_url)."""

    token: str = ""
    ready: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return str(self.ready["base_url"])

    @property
    def url(self) -> str:
        return str(self.ready["url"])

    @property
    def gateway_url(self) -> str:
        return str(self.ready["gateway_url"])

    def _read_ready_line(self) -> bool:
        marker = f"=== {self.name} start {self.starts} ==="
        text = self.log_text()
        after = text[text.rindex(marker) + len(marker) :] if marker in text else ""
        for line in after.splitlines():
            if line.startswith("{") and '"base_url"' in line:
                self.ready = json.loads(line)
                return True
        return False

    def start_and_wait(self, timeout: float = 30.0) -> FakeDiscordServerProcess:
        self.start()
        self.wait_ready(self._read_ready_line, timeout=timeout, what="listening")
        return self

    def control(self, path: str, **params: Any) -> Any:
        """GET a /_fake/ control route synchronously (for readiness checks)."""
        answer = httpx.get(f"{self.base_url}{path}", params=params, timeout=5.0)
        answer.raise_for_status()
        return answer.json()

    def connected_sessions(self) -> int:
        return sum(1 for s in self.control("/_fake/sessions") if s.get("connected"))


def fake_discord_process(
    workdir: Path,
    token: str,
    *,
    ack_timeout: float = 3.0,
    name: str = "fake-discord",
    extra_args: Iterable[str] = (),
) -> FakeDiscordServerProcess:
    argv = [
        sys.executable,
        "-m",
        "tests.fakes.discord_server",
        "--port",
        "0",
        "--token",
        token,
        "--ack-timeout",
        str(ack_timeout),
        *extra_args,
    ]
    return FakeDiscordServerProcess(
        name=name,
        argv=argv,
        env=base_env(),
        log_path=workdir / f"{name}.log",
        cwd=workdir / name,
        token=token,
    )


# --------------------------------------------------------------------------- the bot


@dataclass
class BotProcess(ManagedProcess):
    db_path: Path = Path()
    fake: FakeDiscordServerProcess | None = None
    expected_commands: tuple[str, ...] = ()

    def _ready(self) -> bool:
        assert self.fake is not None
        sessions = [s for s in self.fake.control("/_fake/sessions") if s.get("connected")]
        if not sessions:
            return False
        return set(self.expected_commands) <= self.synced_command_names()

    def synced_command_names(self) -> set[str]:
        """Commands synced globally or to any guild of the fake."""
        assert self.fake is not None
        scopes = self.fake.control("/_fake/state")["commands"]
        return {command["name"] for synced in scopes.values() for command in synced}

    def start_and_wait(self, timeout: float = 60.0) -> BotProcess:
        """Start and wait until the bot is connected to the fake and its commands are synced."""
        before = self._connected_session_ids()
        self.start()

        def connected_anew() -> bool:
            return self._ready() and bool(self._connected_session_ids() - before)

        self.wait_ready(connected_anew, timeout=timeout, what="connected with its commands")
        return self

    def _connected_session_ids(self) -> set[str]:
        assert self.fake is not None
        return {
            str(s.get("session_id"))
            for s in self.fake.control("/_fake/sessions")
            if s.get("connected")
        }


BOT_COMMANDS = ("prompt", "respond", "poem", "continue", "write", "story", "checkpoint", "settings")


def bot_process(
    workdir: Path,
    fake: FakeDiscordServerProcess,
    server: ServerProcess,
    *,
    db_path: Path | None = None,
    admin_key: str | None = None,
    settings: Mapping[str, str] | None = None,
    name: str = "bot",
) -> BotProcess:
    """A `campfire-bot` aimed at the fake Discord and the model server (not started)."""
    db_path = db_path or workdir / f"{name}.db"
    env = base_env(
        {
            "DISCORD_TOKEN": fake.token,
            "CAMPFIRE_SERVER_URL": server.url,
            "CAMPFIRE_DB": str(db_path),
            "CAMPFIRE_DISCORD_API_URL": fake.url,
            "CAMPFIRE_DISCORD_GATEWAY_URL": fake.gateway_url,
            # Tests send commands back to back; the rate-limit test turns the cooldown on.
            "CAMPFIRE_COOLDOWN_SECONDS": "0",
            # The tiny model writes gibberish fast; short answers keep the suite quick.
            "CAMPFIRE_DEFAULT_MAX_TOKENS": "24",
            "CAMPFIRE_STREAM_EDIT_INTERVAL": "0.2",
            "CAMPFIRE_REQUEST_TIMEOUT": "30",
        }
    )
    if server.api_key:
        env["CAMPFIRE_API_KEY"] = server.api_key
    if admin_key or server.admin_key:
        env["CAMPFIRE_ADMIN_KEY"] = admin_key or server.admin_key or ""
    env.update(settings or {})  # a test's own settings win, keys included
    return BotProcess(
        name=name,
        argv=[sys.executable, "-m", "bot"],
        env=env,
        log_path=workdir / f"{name}.log",
        cwd=workdir / name,
        db_path=db_path,
        fake=fake,
        expected_commands=BOT_COMMANDS,
    )
