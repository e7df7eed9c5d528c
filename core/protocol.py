"""The wire models between the bot (or any client) and the model server.

Hard limits here are the protocol's own sanity bounds; each server narrows them with its settings
(max_new_tokens cap, n cap, input length) and answers 4xx naming the field when a request exceeds
them. Unknown fields are refused on Campfire's own API so that a typo never passes silently; the
OpenAI-compatible models ignore unknown fields, as OpenAI clients send many.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from core.controls import Control, Emotion, Genre, Task, check_control

MAX_TEXT_CHARS = 100_000
MAX_STOP_STRINGS = 8
# Below these, float32 arithmetic turns scores into inf/NaN: 0 (greedy) or at least this much.
MIN_TEMPERATURE = 0.01
MIN_PENALTY = 0.01


def check_temperature(value: float) -> float:
    """Temperature is 0 (greedy) or at least MIN_TEMPERATURE; both request models use this."""
    if 0 < value < MIN_TEMPERATURE:
        raise ValueError(
            f"temperature {value} is too small to sample with; use 0 for greedy decoding "
            f"or at least {MIN_TEMPERATURE}"
        )
    return value


MAX_PROMPTS = 64
MAX_NOTE_CHARS = 1_000

FinishReason = Literal["end", "stop", "length", "aborted"]


class _Strict(BaseModel):
    """Unknown fields refused, and no coercion: `n: "2"` or `n: true` is an error, not 2 or 1.
    (Enum fields opt out, since FastAPI hands pydantic the parsed JSON's strings.)"""

    model_config = ConfigDict(extra="forbid", strict=True)


MAX_BANNED_STRINGS = 32
MAX_LOGIT_BIAS = 300
MAX_PHRASE_BIAS = 32
DEFAULT_DRY_BREAKERS = ("\n", ":", '"', "*")


class MoreSamplers(BaseModel):
    """Samplers beyond OpenAI's basic ones, taken by /v1/generate and /v1/completions alike."""

    min_p: float = Field(0.0, ge=0.0, le=1.0, description="drop tokens below min_p x the top one")
    frequency_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    presence_penalty: float = Field(0.0, ge=-2.0, le=2.0)
    # JSON object keys are strings: "50256" is token 50256, also in strict models.
    logit_bias: dict[Annotated[int, Strict(False)], float] = Field(
        default_factory=dict,
        max_length=MAX_LOGIT_BIAS,
        description="token id -> -100..100 added to its score (OpenAI's logit_bias)",
    )
    phrase_bias: dict[str, float] = Field(
        default_factory=dict,
        max_length=MAX_PHRASE_BIAS,
        description="phrase -> -100..100 added to the score of its next token, as a word in "
        "running text, until the answer holds the phrase (NovelAI's phrase bias)",
    )
    banned_strings: list[str] = Field(
        default_factory=list,
        max_length=MAX_BANNED_STRINGS,
        description="phrases never written, in any letter case, even across tokens",
    )
    dry_multiplier: float = Field(0.0, ge=0.0, le=5.0, description="DRY's strength; 0 is off")
    dry_base: float = Field(1.75, ge=1.0, le=4.0)
    dry_allowed_length: int = Field(2, ge=1, le=64)
    dry_sequence_breakers: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DRY_BREAKERS), max_length=16
    )
    dry_penalty_last_n: int = Field(-1, ge=-1, le=1_000_000, description="-1: whole context")

    @field_validator("logit_bias")
    @classmethod
    def _bias_in_range(cls, bias: dict[int, float]) -> dict[int, float]:
        for token, value in bias.items():
            if token < 0:
                raise ValueError(f"logit_bias key {token} is not a token id (ids are >= 0)")
            if not -100 <= value <= 100:
                raise ValueError(f"logit_bias for token {token} is {value}; use -100 to 100")
        return bias

    @field_validator("phrase_bias")
    @classmethod
    def _phrases_in_range(cls, bias: dict[str, float]) -> dict[str, float]:
        for phrase, value in bias.items():
            if not phrase.strip() or len(phrase) > 200:
                raise ValueError("each phrase_bias phrase must have 1 to 200 characters")
            if not -100 <= value <= 100:
                raise ValueError(f"phrase_bias for {phrase[:40]!r} is {value}; use -100 to 100")
        return bias

    @field_validator("banned_strings", "dry_sequence_breakers")
    @classmethod
    def _strings_not_empty(cls, strings: list[str]) -> list[str]:
        for text in strings:
            if not text or len(text) > 200:
                raise ValueError("each string must have 1 to 200 characters")
        return strings


class SamplingParams(_Strict, MoreSamplers):
    """How to sample; every field is honoured per request, also inside a shared batch."""

    max_new_tokens: int = Field(200, ge=1, le=100_000)
    temperature: float = Field(
        0.8, ge=0.0, le=10.0, description=f"0 is greedy decoding, else at least {MIN_TEMPERATURE}"
    )
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0, le=100_000, description="0 turns top-k off")
    repetition_penalty: float = Field(1.0, ge=MIN_PENALTY, le=10.0)
    stop: list[str] = Field(default_factory=list, max_length=MAX_STOP_STRINGS)
    seed: int | None = Field(None, ge=0, le=2**63 - 1)

    _temperature_floor = field_validator("temperature")(check_temperature)

    @model_validator(mode="after")
    def _stop_strings_not_empty(self) -> SamplingParams:
        if any(not s for s in self.stop):
            raise ValueError("stop strings must not be empty")
        return self


class GenerateRequest(SamplingParams):
    """POST /v1/generate."""

    task: Task = Field(Task.STORY, strict=False)
    genre: Genre | None = Field(None, strict=False)
    emotion: Emotion | None = Field(None, strict=False)
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
    """OpenAI's error object (message, type, param, code) plus Campfire's `field` (= param)."""

    message: str
    type: str = "invalid_request_error"
    field: str | None = None
    param: str | None = None
    code: str | None = None


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


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    include_usage: bool = Field(False, description="a last chunk with the token usage")


class OpenAISampling(MoreSamplers):
    """What OpenAI's completions and chat completions share, plus Campfire's own samplers as
    extra fields. Unknown fields are ignored: OpenAI clients send many."""

    model_config = ConfigDict(extra="ignore", strict=True)

    model: str | None = Field(None, description="a checkpoint name; None: the server default")
    temperature: float = Field(1.0, ge=0.0, le=10.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0, le=100_000, description="0 turns top-k off")
    repetition_penalty: float = Field(1.0, ge=MIN_PENALTY, le=10.0)
    n: int = Field(1, ge=1, le=64)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    seed: int | None = Field(None, ge=0, le=2**63 - 1)

    _temperature_floor = field_validator("temperature")(check_temperature)

    @property
    def stop_strings(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class CompletionRequest(OpenAISampling):
    """POST /v1/completions, the subset of OpenAI's legacy completions API Campfire honours."""

    prompt: str | list[str] = Field(
        description=f"one prompt of any length the server takes, or up to {MAX_PROMPTS} prompts"
    )
    max_tokens: int = Field(16, ge=1, le=100_000)

    @field_validator("prompt")
    @classmethod
    def _few_prompts(cls, prompt: str | list[str]) -> str | list[str]:
        if isinstance(prompt, list) and len(prompt) > MAX_PROMPTS:
            raise ValueError(
                f"{len(prompt)} prompts; send one string or a list of at most {MAX_PROMPTS}"
            )
        return prompt

    @property
    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


class CompletionChoice(BaseModel):
    text: str
    index: int
    logprobs: None = None
    finish_reason: Literal["stop", "length"] | None
    # Campfire's addition (OpenAI clients ignore it): the text repeats the training data.
    copied_from_training: bool = False


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


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "campfire"


class ModelList(BaseModel):
    """GET /v1/models: the checkpoints that load."""

    object: Literal["list"] = "list"
    data: list[ModelCard]


# --- OpenAI-compatible chat completions --------------------------------------------------------


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    type: Literal["text"]
    text: str = Field(max_length=MAX_TEXT_CHARS)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class ChatCompletionRequest(OpenAISampling):
    """POST /v1/chat/completions, for checkpoints prompted in the instruction (chat) style."""

    messages: list[ChatMessage] = Field(min_length=1, max_length=256)
    max_tokens: int | None = Field(None, ge=1, le=100_000)
    max_completion_tokens: int | None = Field(
        None, ge=1, le=100_000, description="OpenAI's newer name for max_tokens; wins over it"
    )


class ChatReply(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int
    message: ChatReply
    logprobs: None = None
    finish_reason: Literal["stop", "length"]


class ChatCompletionResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: CompletionUsage


class ChatDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(BaseModel):
    index: int
    delta: ChatDelta
    logprobs: None = None
    finish_reason: Literal["stop", "length"] | None = None


class ChatCompletionChunk(BaseModel):
    """One `data:` event of a streamed chat completion."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: CompletionUsage | None = None
