"""The fake's logs: every REST call and every protocol error, in arrival order."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from tests.fakes.discord_server.model import ProtocolError, RestCall
from tests.fakes.discord_server.state import World

_log = logging.getLogger("fake_discord")


@dataclass
class Recorder:
    world: World
    rest_calls: list[RestCall] = field(default_factory=list)
    protocol_errors: list[ProtocolError] = field(default_factory=list)
    _seq: int = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def rest_call(self, call: RestCall) -> None:
        self.rest_calls.append(call)
        self.world.changed()

    def protocol_error(
        self,
        kind: str,
        detail: str,
        request: str,
        *,
        status: int | None = None,
        code: int | None = None,
    ) -> ProtocolError:
        error = ProtocolError(
            self.next_seq(), self.world.now(), kind, detail, request, status, code
        )
        self.protocol_errors.append(error)
        _log.warning("protocol error %s: %s (%s)", kind, detail, request)
        self.world.changed()
        return error
