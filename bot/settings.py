"""The bot's settings, read from the environment and `.env` when a program starts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.story.values import MAX_PROMPT_COUNT


class BotSettings(BaseSettings):
    """Every variable is listed with a comment in `.env.example` (bot block)."""

    model_config = SettingsConfigDict(
        env_prefix="CAMPFIRE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    discord_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DISCORD_TOKEN", "discord_token")
    )
    server_url: str = "http://127.0.0.1:8765"
    api_key: SecretStr | None = None
    # campfire: Campfire's own model server; openai: any OpenAI-compatible server at server_url.
    backend: Literal["campfire", "openai"] = "campfire"
    # OpenAI backend: the model name to send, and optionally a Campfire checkpoint folder whose
    # campfire.json says how to prompt it (and whose tokenizer counts tokens).
    model: str | None = Field(None, validate_default=True)
    checkpoint_dir: Path | None = None
    # OpenAI backend: tokens the model attends to, when neither the checkpoint folder nor the
    # server says; and extra JSON sampler fields the server accepts (e.g. {"min_p": 0.05}).
    context_window: int = Field(2048, ge=64)
    extra_body: dict[str, object] = Field(default_factory=dict)
    admin_key: SecretStr | None = None
    db: Path = Path("campfire.db")

    # Model server timeouts, in seconds.
    connect_timeout: float = Field(5.0, gt=0)
    request_timeout: float = Field(120.0, gt=0)

    # Defaults for every channel; /settings overrides them per server or channel.
    default_max_tokens: int = Field(200, ge=1, le=2000)
    default_temperature: float = Field(0.8, ge=0.0, le=2.0)
    cooldown_seconds: float = Field(5.0, ge=0)

    # Input length limits (characters).
    max_prompt_chars: int = Field(500, ge=1)
    max_title_chars: int = Field(200, ge=1)
    max_write_chars: int = Field(4000, ge=1)
    max_prompt_count: int = Field(MAX_PROMPT_COUNT, ge=1, le=MAX_PROMPT_COUNT)

    # Seconds between edits of a message that text streams into (Discord rate-limits edits).
    stream_edit_interval: float = Field(1.0, ge=0.0)

    # Plain messages in story threads become turns: needs the privileged Message Content
    # intent (Developer Portal -> Bot). False: the bot asks for no message content and turns
    # in story threads are taken with /write.
    read_messages: bool = True

    # Test only: point discord.py at a local fake Discord.
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None

    @field_validator("model", "checkpoint_dir", mode="before")
    @classmethod
    def _empty_as_none(cls, value: object) -> object:
        """`.env.example` ships `CAMPFIRE_MODEL=` lines: empty means not set."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("model")
    @classmethod
    def _openai_needs_a_model(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("backend") == "openai":
            raise ValueError(
                "CAMPFIRE_BACKEND=openai needs the model name to send, e.g. the name vLLM "
                "serves (its --served-model-name) or the folder `transformers serve` loaded"
            )
        return value

    def empty_secrets_as_none(self) -> BotSettings:
        """`.env.example` ships `KEY=` lines: an empty key means no key."""
        updates: dict[str, object] = {}
        for name in ("discord_token", "api_key", "admin_key"):
            value = getattr(self, name)
            if value is not None and not value.get_secret_value().strip():
                updates[name] = None
        return self.model_copy(update=updates) if updates else self


def load_settings() -> BotSettings:
    return BotSettings().empty_secrets_as_none()
