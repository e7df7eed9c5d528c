"""Model-server settings, read from the environment and `.env` when a program starts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CHECKPOINT_NAME = "smollm2-135m-instruct"

Device = Literal["auto", "cpu", "cuda"]
Quant = Literal["none", "int8", "nf4", "dynamic-int8", "fp16", "bf16"]


class ServerSettings(BaseSettings):
    """Every field maps to CAMPFIRE_<NAME> (see .env.example)."""

    model_config = SettingsConfigDict(
        env_prefix="CAMPFIRE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    checkpoints: Path = Field(Path("checkpoints"), description="folder of checkpoint folders")
    checkpoint: str = Field(DEFAULT_CHECKPOINT_NAME, description="checkpoint served by default")
    device: Device = "auto"
    quant: Quant = "none"
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)
    api_key: SecretStr | None = None
    admin_key: SecretStr | None = None

    @field_validator("api_key", "admin_key", mode="before")
    @classmethod
    def _blank_means_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
