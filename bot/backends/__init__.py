"""Model backends: Campfire's own server (bot.model_client) or any OpenAI-compatible server."""

from __future__ import annotations

from bot.model_client import HttpModelClient, ModelClient
from bot.settings import BotSettings


def make_model_client(settings: BotSettings) -> ModelClient:
    """The model client CAMPFIRE_BACKEND names, configured from the settings."""
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    if settings.backend == "openai":
        from bot.backends.openai_client import OpenAIModelClient

        assert settings.model is not None  # BotSettings refuses openai without a model
        return OpenAIModelClient(
            settings.server_url,
            model=settings.model,
            api_key=api_key,
            checkpoint_dir=settings.checkpoint_dir,
            context_window=settings.context_window,
            extra_body=settings.extra_body,
            connect_timeout=settings.connect_timeout,
            request_timeout=settings.request_timeout,
        )
    return HttpModelClient(
        settings.server_url,
        api_key=api_key,
        admin_key=settings.admin_key.get_secret_value() if settings.admin_key else None,
        connect_timeout=settings.connect_timeout,
        request_timeout=settings.request_timeout,
    )
