"""The wire models between the bot (or any client) and the model server.

Hard limits here are the protocol's own sanity bounds; each server narrows them with its settings
(max_new_tokens cap, n cap, input length) and answers 4xx naming the field when a request exceeds
them. Unknown fields are refused on Campfire's own API so that a typo never passes silently; the
OpenAI-compatible models ignore unknown fields, as OpenAI clients send many.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.controls import Control, Emotion, Genre, Task, check_control

MAX_TEXT_CHARS = 100_000
MAX_STOP_STRINGS = 8
MAX_NOTE_CHARS = 1_000

FinishReason = Literal["end", "stop", "length", "aborted"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SamplingParams(_Strict):
    """How to sample; every field is honoured per request, also inside a shared batch."""

    max_new_tokens: int = Field(200, ge=1, le=100_000)
    temperature: float = Field(0.8, ge=0.0, le=10.0, description="0 means greedy decoding")
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0, le=100_000, description="0 turns top-k off")
    repetition_penalty: float = Field(1.0, gt=0.0, le=10.0)
    stop: list[str] = Field(default_factory=list, max_length=MAX_STOP_STRINGS)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)

    @model_validator(mode="after")
    def _stop_strings_not_empty(self) -> SamplingParams:
        if any(not s for s in self.stop):
            raise ValueError("stop strings must not be empty")
        return self


class GenerateRequest(SamplingParams):
    """POST /v1/generate."""

    task: Task = Task.STORY
    genre: Genre | None = None
    emotion: Emotion | None = None
    context: str = Field(
        "",
        max_length=MAX_TEXT_CHARS,
        description="writing prompt (story), title (poem) or story so far (continue)",
    )
    prefix: str = Field("", max_length=MAX_TEXT_CHARS, description="forced start of the answer")
    background: str = Field(
        "",
        max_length=MAX_TEXT_CHARS,
        description="memory and lore for the model to use, kept apart from the story text",
    )
    note: str = Field(
        "", max_length=MAX_NOTE_CHARS, description="author's note: a short steer, placed last"
    )
    complete_sentences: bool = Field(
        False,
        description="shape the answer: labels stripped, a story passage ends on a complete "
        "sentence, a prompt is one prompt, a poem keeps whole lines",
    )
    n: int = Field(1, ge=1, le=64, description="candidates, generated in one batch")
    checkpoint: str | None = Field(None, max_length=200, description="None: the server default")
    stream: bool = False

    @property
    def control(self) -> Control | None:
        return self.genre if self.genre is not None else self.emotion

    @model_validator(mode="after")
    def _control_fits_task(self) -> GenerateRequest:
        if self.genre is not None and self.emotion is not None:
            raise ValueError("give a genre or an emotion, not both")
        check_control(self.task, self.control)
        return self


class Candidate(BaseModel):
    index: int
    text: str = Field(description="the prefix (if any) followed by what the model wrote")
    finish_reason: FinishReason
    tokens: int = Field(description="tokens generated for this candidate")
    copied_from_training: bool = Field(
        False, description="the text repeats a long run of the checkpoint's training data"
    )


class GenerateResponse(BaseModel):
    id: str
    checkpoint: str
    candidates: list[Candidate]
    prompt_tokens: int
    completion_tokens: int


class StreamChunk(BaseModel):
    """One SSE `token` event of a streamed /v1/generate; the last event is `done` with a
    GenerateResponse, or `error` with an ErrorBody."""

    index: int
    text: str


class ErrorBody(BaseModel):
    message: str
    type: str = "invalid_request_error"
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


class CheckpointInfo(BaseModel):
    """One checkpoint folder as GET /v1/checkpoints lists it."""

    name: str
    loaded: bool = False
    default: bool = False
    valid: bool = True
    problem: str | None = Field(None, description="why an invalid folder can't be loaded")
    prompt_style: str | None = None
    base_model: str | None = None
    tasks: list[Task] = Field(default_factory=list)
    genres: list[Genre] = Field(default_factory=list)
    emotions: list[Emotion] = Field(default_factory=list)
    context_window: int | None = None
    created_at: datetime | None = None
    eval_metrics: dict[str, float] = Field(default_factory=dict)


class CheckpointList(BaseModel):
    checkpoints: list[CheckpointInfo]


class LoadedCheckpoint(BaseModel):
    name: str
    device: str
    quant: str
    dtype: str
    context_window: int
    engine: str


class HealthResponse(BaseModel):
    status: Literal["ok", "loading", "degraded"]
    default_checkpoint: str | None
    loaded: list[LoadedCheckpoint]


class TokenizeRequest(_Strict):
    """POST /v1/tokenize: how many tokens a text is for a checkpoint, so a client can fit its
    context into the checkpoint's window exactly."""

    texts: list[str] = Field(min_length=1, max_length=256)
    checkpoint: str | None = Field(None, max_length=200)


class TokenizeResponse(BaseModel):
    checkpoint: str
    context_window: int
    counts: list[int]


class LoadCheckpointRequest(_Strict):
    """POST /v1/checkpoints/load (admin key)."""

    name: str = Field(min_length=1, max_length=200)
    make_default: bool = Field(True, description="new requests without a checkpoint use it")
    unload_previous: bool = Field(
        False, description="unload the old default once its in-flight requests finish"
    )


# --- OpenAI-compatible completions -------------------------------------------------------------


class CompletionRequest(BaseModel):
    """POST /v1/completions, the subset of OpenAI's legacy completions API Campfire honours."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    prompt: str | list[str] = Field(max_length=64)
    max_tokens: int = Field(16, ge=1, le=100_000)
    temperature: float = Field(1.0, ge=0.0, le=10.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    n: int = Field(1, ge=1, le=64)
    stop: str | list[str] | None = None
    stream: bool = False
    seed: int | None = Field(None, ge=0, le=2**63 - 1)

    @property
    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)

    @property
    def stop_strings(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class CompletionChoice(BaseModel):
    text: str
    index: int
    logprobs: None = None
    finish_reason: Literal["stop", "length"] | None


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class CompletionResponse(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: CompletionUsage | None = None
