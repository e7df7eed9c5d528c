"""A program run in a pseudo-terminal, as a person at a terminal would run it: what it
prints is read back, keys (Ctrl-C as "\x03") are typed into it."""

from __future__ import annotations

import os
import pty
import select
import signal
import termios
import time
from collections.abc import Mapping, Sequence


class PtyProcess:
    def __init__(self, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: its own session, the pty as its controlling terminal
            try:
                os.chdir(cwd)
                os.execve(argv[0], list(argv), dict(env))
            finally:
                os._exit(127)
        self.output = ""
        self.seen = 0
        self.exit_code: int | None = None

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # the child closed the terminal
            return False
        self.output += data.decode(errors="replace").replace("\r\n", "\n")
        return bool(data)

    def expect(self, text: str, timeout: float = 30) -> str:
        """Wait until `text` is printed after what the last expect saw; return that stretch."""
        deadline = time.monotonic() + timeout
        while (found := self.output.find(text, self.seen)) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(min(remaining, 0.1)):
                raise AssertionError(f"{text!r} never came; the screen:\n{self.output}")
        stretch = self.output[self.seen : found + len(text)]
        self.seen = found + len(text)
        return stretch

    def wait_until_running(self, timeout: float = 30) -> None:
        """Wait until a command runs: the terminal reads whole lines again (the line editor,
        at the prompt, reads keys) and does not echo them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            modes = termios.tcgetattr(self.fd)[3]
            if modes & termios.ICANON and not modes & termios.ECHO:
                return
            self._read(0.01)
        raise AssertionError(f"no command started; the screen:\n{self.output}")

    def wait_until_reading_keys(self, timeout: float = 30) -> None:
        """Wait until the line editor (readline) reads keys at the prompt. Python's readline
        sees Ctrl-C only while it waits for a key, so a person's Ctrl-C, never typed within
        microseconds of the prompt, is taken a moment later."""
        deadline = time.monotonic() + timeout
        while termios.tcgetattr(self.fd)[3] & termios.ICANON:
            if time.monotonic() > deadline:
                raise AssertionError(f"no prompt reads keys; the screen:\n{self.output}")
            self._read(0.01)
        self._read(0.3)

    def wait(self, timeout: float = 30) -> int:
        """Read until the program exits; its exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._read(0.05)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                while self._read(0.05) and select.select([self.fd], [], [], 0)[0]:
                    pass
                self.exit_code = os.waitstatus_to_exitcode(status)
                return self.exit_code
        raise AssertionError(f"still running after {timeout} s; the screen:\n{self.output}")

    def close(self) -> None:
        if self.exit_code is None and os.waitpid(self.pid, os.WNOHANG)[0] == 0:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)
