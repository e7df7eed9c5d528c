"""Token counts for fitting a story into the model's window, over an OpenAI-compatible server.

In order of preference: the server's own tokenize endpoint (vLLM and llama.cpp serve `/tokenize`
next to `/v1`), the checkpoint folder's tokenizer (transformers, loaded once from the local
folder), or an estimate of four characters per token, which the log says it is using.
"""

from __future__ import annotations

import asyncio
import logging
import math
from pathlib import Path
from typing import Any

import httpx

from core.protocol import TokenizeResponse

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 4
# Statuses that mean "this server has no tokenize endpoint": stop asking it.
NO_ENDPOINT = frozenset({404, 405, 501})
PARALLEL_COUNTS = 8


def root_url(base_url: str) -> str:
    """The server's root for a /v1 base URL: vLLM and llama.cpp serve /tokenize there."""
    base = base_url.rstrip("/")
    return base.removesuffix("/v1")


def _count_from(data: Any) -> tuple[int, int | None]:
    """(tokens, the server's context window if it says) from a vLLM or llama.cpp answer."""
    if not isinstance(data, dict):
        raise ValueError("not an object")
    window = data.get("max_model_len")
    window = window if isinstance(window, int) and window > 0 else None
    if isinstance(data.get("count"), int):
        return data["count"], window
    if isinstance(data.get("tokens"), list):
        return len(data["tokens"]), window
    raise ValueError("no count or tokens")


class TokenCounter:
    """Counts tokens the best way this server and checkpoint folder allow."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        checkpoint_dir: Path | None,
        context_window: int,
    ) -> None:
        self._http = http
        self._checkpoint_dir = checkpoint_dir
        self._window = context_window
        self._server_counts: bool | None = None  # None: not asked yet
        self._tokenizer: Any = None
        self._no_local_tokenizer = checkpoint_dir is None
        self._said_estimate = False

    async def count(self, texts: list[str], model: str, name: str) -> TokenizeResponse:
        counts = await self._server_count(texts, model)
        if counts is None:
            counts = await self._local_count(texts)
        if counts is None:
            if not self._said_estimate:
                log.info("no tokenizer for %s: estimating %d characters a token", name, 4)
                self._said_estimate = True
            counts = [math.ceil(len(text) / CHARS_PER_TOKEN) for text in texts]
        return TokenizeResponse(checkpoint=name, context_window=self._window, counts=counts)

    async def _server_count(self, texts: list[str], model: str) -> list[int] | None:
        if self._server_counts is False:
            return None
        limit = asyncio.Semaphore(PARALLEL_COUNTS)

        async def one(text: str) -> int:
            async with limit:
                # vLLM reads model + prompt, llama.cpp reads content; each ignores the others.
                body = {"model": model, "prompt": text, "content": text}
                response = await self._http.post("/tokenize", json=body)
            if response.status_code in NO_ENDPOINT:
                raise LookupError(response.status_code)
            response.raise_for_status()
            count, window = _count_from(response.json())
            if window is not None and self._checkpoint_dir is None:
                self._window = window
            return count

        try:
            counts = list(await asyncio.gather(*(one(text) for text in texts)))
        except (LookupError, ValueError) as error:
            log.info("the server has no usable /tokenize (%s); counting locally", error)
            self._server_counts = False
            return None
        except httpx.HTTPError as error:
            log.warning("the server's /tokenize failed: %s", type(error).__name__)
            return None
        self._server_counts = True
        return counts

    async def _local_count(self, texts: list[str]) -> list[int] | None:
        if self._no_local_tokenizer:
            return None
        if self._tokenizer is None:
            try:
                self._tokenizer = await asyncio.to_thread(self._load_tokenizer)
            except (ImportError, OSError, ValueError) as error:
                log.warning("can't load the checkpoint folder's tokenizer: %s", error)
                self._no_local_tokenizer = True
                return None
        encoded = await asyncio.to_thread(
            self._tokenizer, texts, add_special_tokens=False, return_attention_mask=False
        )
        return [len(ids) for ids in encoded["input_ids"]]

    def _load_tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(self._checkpoint_dir), local_files_only=True)
