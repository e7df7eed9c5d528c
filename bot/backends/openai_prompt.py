"""What the OpenAI backend sends for a GenerateRequest, and how it cuts what comes back.

A checkpoint folder (CAMPFIRE_CHECKPOINT_DIR) makes the prompt the exact text core renders for
that checkpoint, sent to /v1/completions, so a control-token checkpoint is prompted exactly as it
was trained. Without one the model is a chat model: the same instruction text from core, as chat
messages to /v1/chat/completions, where the server applies the model's own chat template.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.controls import END_MARKER
from core.manifest import CheckpointManifest
from core.prompt_format import CHATML_END, chat_messages, neutralise
from core.protocol import FinishReason, GenerateRequest

# OpenAI's API takes at most four stop strings; the rest are cut on the bot's side.
MAX_SENT_STOPS = 4


@dataclass(frozen=True)
class PromptPlan:
    """One request's prompt: `prompt` for /v1/completions, or `messages` for chat."""

    prompt: str | None
    messages: list[dict[str, str]] | None
    stops: list[str]
    prefix: str = ""
    prefix_in_prompt: bool = True

    @property
    def chat(self) -> bool:
        return self.messages is not None

    @property
    def sent_stops(self) -> list[str]:
        return self.stops[:MAX_SENT_STOPS]


def plan_prompt(request: GenerateRequest, manifest: CheckpointManifest | None) -> PromptPlan:
    """The prompt in the checkpoint's own format, or chat messages for a chat model."""
    prefix = neutralise(request.prefix).lstrip().rstrip(" ")
    # Both renderings read the same parts of the request.
    parts = (request.task, request.control, request.context, prefix)
    if manifest is not None:
        manifest.check_supports(request.task, request.control)
        prompt = manifest.render_prompt(*parts, background=request.background, note=request.note)
        # The end marker first: it is always sent, whatever the caller's stops.
        stops = _unique([manifest.end_marker, *request.stop])
        return PromptPlan(prompt=prompt, messages=None, stops=stops, prefix=prefix)
    messages = chat_messages(*parts, background=request.background, note=request.note)
    return PromptPlan(
        prompt=None,
        messages=messages,
        # A chat server strips the model's end token; a marker that shows up as text ends it too.
        stops=_unique([*request.stop, END_MARKER, CHATML_END]),
        prefix=prefix,
        prefix_in_prompt=False,
    )


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))


def with_prefix(plan: PromptPlan, written: str) -> str:
    """The candidate's text as Campfire's server returns it: the prefix, then the model's text.
    A chat model was asked to begin with the prefix; when it did not, the prefix is put first."""
    if not plan.prefix:
        return written
    if plan.prefix_in_prompt:
        return plan.prefix + written
    if written.lstrip().startswith(plan.prefix):
        return written.lstrip()
    return f"{plan.prefix} {written.lstrip()}"


@dataclass
class StopCutter:
    """Cuts one candidate's streamed text at the first stop string, also when a server ignores
    `stop` or returns the stop string; releases only text that cannot turn into a stop string."""

    stops: list[str]
    text: str = ""
    released: int = 0
    hit: str | None = None
    _cut: int | None = field(default=None, repr=False)

    @property
    def stopped(self) -> bool:
        return self.hit is not None

    def feed(self, piece: str) -> str:
        """Add streamed text; return the part that is now safe to show."""
        if self.stopped:
            return ""
        self.text += piece
        self._find_stop()
        safe = self._cut if self._cut is not None else len(self.text) - self._held_back()
        out = self.text[self.released : safe]
        self.released = max(self.released, safe)
        return out

    def finish(self) -> str:
        """The rest of the text once the stream has ended."""
        end = self._cut if self._cut is not None else len(self.text)
        out = self.text[self.released : end]
        self.released = end
        return out

    @property
    def kept(self) -> str:
        return self.text[: self._cut] if self._cut is not None else self.text

    def _find_stop(self) -> None:
        hits = [(self.text.find(stop), stop) for stop in self.stops if stop in self.text]
        if hits:
            self._cut, self.hit = min(hits)

    def _held_back(self) -> int:
        """Length of the longest tail of the text that starts some stop string."""
        longest = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.text)), longest, -1):
                if self.text.endswith(stop[:size]):
                    longest = size
                    break
        return longest


def finish_reason(
    server_reason: str | None, hit: str | None, caller_stops: list[str]
) -> FinishReason:
    """Campfire's finish reason from a server's: a stop string the caller gave is `stop`, the
    length limit is `length`, the end marker or the model's own end is `end`."""
    if hit is not None:
        return "stop" if hit in caller_stops else "end"
    return "length" if server_reason == "length" else "end"
