"""A tiny OpenAI-shaped server on loopback (aiohttp) for the fault shapes a real server is hard
to coax into: 500, 429, an empty or malformed body, a stream killed half-way, `n` ignored.

`StubServer.mode` says how the next requests are answered; `requests` keeps every JSON body.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.serving import free_port

# What the stub "model" writes: a passage, the end marker, then text that must never be shown.
WRITTEN = "The lamp went out. Nobody moved.<|endoftext|>LEAKED PAST THE END"


def written(seed: object, index: int) -> str:
    """The non-streamed text of candidate `index` of a request with `seed`."""
    return f"The lamp went out ({seed}, {index}).<|endoftext|>LEAKED PAST THE END"


# Samplers OpenAI's API lacks, which a strict server refuses.
CAMPFIRE_ONLY = {"top_k", "repetition_penalty", "min_p", "dry_multiplier", "dry_base"}


@dataclass
class StubServer:
    mode: str = "ok"
    honour_n: bool = True
    tokenize: bool = False
    refuse_unknown: bool = False  # like `transformers serve`: 422 for fields OpenAI lacks
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def _choices(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        count = int(body.get("n", 1)) if self.honour_n else 1
        seed = body.get("seed")
        chat = "messages" in body
        choices = []
        for index in range(count):
            text = written(seed, index)
            part = {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
            choices.append({"index": index, "finish_reason": "stop", **part})
        return choices

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        unknown = sorted(set(body) & CAMPFIRE_ONLY)
        if self.refuse_unknown and unknown:
            error = {"error": {"message": f"Unexpected fields in the request: {unknown}"}}
            return web.json_response(error, status=422)
        if self.mode in ("500", "429"):
            error = {"error": {"message": "boom", "type": "server_error"}}
            return web.json_response(error, status=int(self.mode))
        if self.mode == "empty":
            return web.Response(body=b"", content_type="application/json")
        if self.mode == "malformed":
            return web.json_response({"unexpected": [1, 2, 3]})
        if self.mode == "not_json":
            return web.Response(text="<html>proxy error</html>", content_type="application/json")
        if body.get("stream"):
            return await self._stream(request, body)
        usage = {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16}
        return web.json_response({"id": "x", "choices": self._choices(body), "usage": usage})

    async def _stream(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chat = "messages" in body
        words = WRITTEN.split(" ")
        for number, word in enumerate(words):
            piece = word if number == 0 else " " + word
            delta = {"delta": {"content": piece}} if chat else {"text": piece}
            chunk = {"id": "x", "choices": [{"index": 0, "finish_reason": None, **delta}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if self.mode == "kill" and number == 2:
                assert request.transport is not None
                request.transport.close()  # the server dies mid-answer
                return response
            if self.mode == "no_finish" and number == 2:
                await response.write_eof()  # a clean end, but before the answer ended
                return response
        last: dict[str, Any] = {"delta": {}} if chat else {"text": ""}
        end = {"index": 0, "finish_reason": "stop", **last}
        await response.write(f"data: {json.dumps({'id': 'x', 'choices': [end]})}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "stub", "object": "model"}]})

    async def count(self, request: web.Request) -> web.Response:
        if not self.tokenize:
            return web.json_response({"detail": "Not Found"}, status=404)
        body = await request.json()
        tokens = body["prompt"].split()
        return web.json_response({"count": len(tokens), "max_model_len": 512, "tokens": []})


@asynccontextmanager
async def stub_server(**options: Any) -> AsyncIterator[StubServer]:
    stub = StubServer(**options)
    app = web.Application()
    app.router.add_post("/v1/completions", stub.completions)
    app.router.add_post("/v1/chat/completions", stub.completions)
    app.router.add_get("/v1/models", stub.models)
    app.router.add_post("/tokenize", stub.count)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stub.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield stub
    finally:
        await runner.cleanup()
