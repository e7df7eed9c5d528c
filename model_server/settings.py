"""Model-server settings, read from the environment and `.env` when a program starts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_CHECKPOINT_NAME = "smollm2-135m-instruct"

Device = Literal["auto", "cpu", "cuda"]
Quant = Literal[
    "auto", "none", "int8", "nf4", "dynamic-int8", "fp16", "bf16", "bf16-int4", "bf16-int8"
]


class ServerSettings(BaseSettings):
    """Every field maps to CAMPFIRE_<NAME> (see .env.example)."""

    model_config = SettingsConfigDict(
        env_prefix="CAMPFIRE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    checkpoints: Path = Field(Path("checkpoints"), description="folder of checkpoint folders")
    checkpoint: str = Field(DEFAULT_CHECKPOINT_NAME, description="checkpoint served by default")
    device: Device = "auto"
    quant: Quant = "auto"
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)
    api_key: SecretStr | None = None
    admin_key: SecretStr | None = None
    # Engine: what arrives within batch_wait_ms joins one batch of at most max_batch_size rows.
    batch_wait_ms: float = Field(5.0, ge=0, le=1000)
    max_batch_size: int = Field(16, ge=1, le=256)
    max_queue: int = Field(64, ge=1, le=10_000, description="requests waiting; more get a 503")
    prefix_cache_mb: int = Field(
        256, ge=0, le=1_000_000, description="KV of recent prompts per checkpoint (0: off)"
    )
    max_new_tokens: int = Field(1024, ge=1, le=100_000, description="cap per request")
    max_n: int = Field(10, ge=1, le=64, description="cap on candidates per request")
    max_input_chars: int = Field(20_000, ge=1, le=100_000, description="context + prefix")
    max_resident: int = Field(2, ge=1, le=16, description="checkpoints kept loaded at once")
    retry_after_s: int = Field(2, ge=1, le=3600, description="Retry-After on a 503")
    copy_min_words: int = Field(12, ge=4, le=1000, description="copied_from_training threshold")
    # HTTP limits (uvicorn and the body guard): a slow or idle client can't hold the server.
    body_timeout_s: float = Field(10.0, gt=0, le=600, description="whole body must arrive within")
    limit_concurrency: int = Field(256, ge=1, le=100_000, description="open connections; more: 503")
    timeout_keep_alive_s: int = Field(5, ge=1, le=600, description="idle keep-alive connection")
    # Checkpoints any API-key holder may have loaded by naming them; others need the admin key.
    on_demand_checkpoints: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("on_demand_checkpoints", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return value

    @field_validator("api_key", "admin_key", mode="before")
    @classmethod
    def _blank_means_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
