"""HttpModelClient against an HTTP app that speaks the server contract (core.protocol), plus a
closed port and a server that never answers: every failure becomes a message a user can act on,
and no key ever appears in one."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from bot.model_client import HttpModelClient, ModelError, ModelUnavailable
from core.controls import Genre, Task
from core.protocol import (
    Candidate,
    CheckpointInfo,
    ErrorBody,
    ErrorResponse,
    GenerateRequest,
    GenerateResponse,
    HealthResponse,
    LoadCheckpointRequest,
    StreamChunk,
    TokenizeRequest,
    TokenizeResponse,
)

API_KEY = "sk-api-secret-123"
ADMIN_KEY = "sk-admin-secret-456"


def contract_app() -> FastAPI:
    """The model server's HTTP contract, answering from fixed data."""
    app = FastAPI()
    app.state.seen = []

    def authorised(request: Request, key: str) -> bool:
        return request.headers.get("authorization") == f"Bearer {key}"

    def error(status: int, message: str, field: str | None = None) -> JSONResponse:
        body = ErrorResponse(error=ErrorBody(message=message, field=field))
        return JSONResponse(body.model_dump(), status_code=status)

    @app.post("/v1/generate", response_model=None)
    async def generate(request: Request) -> Response:
        if not authorised(request, API_KEY):
            return error(401, "missing or wrong API key")
        payload = await request.json()
        generate_request = GenerateRequest.model_validate(payload)
        app.state.seen.append(generate_request)
        if generate_request.max_new_tokens > 500:
            return error(422, "max_new_tokens must be at most 500", "max_new_tokens")
        if generate_request.context == "crash":
            return error(500, "Traceback (most recent call last): secret internals")
        text = f"{generate_request.prefix}Once upon a time"
        response = GenerateResponse(
            id="gen-1",
            checkpoint="tiny",
            candidates=[Candidate(index=0, text=text, finish_reason="end", tokens=4)],
            prompt_tokens=3,
            completion_tokens=4,
        )
        if not generate_request.stream:
            return JSONResponse(response.model_dump(mode="json"))
        events = []
        for piece in ["Once", " upon", " a", " time"]:
            chunk = StreamChunk(index=0, text=piece).model_dump_json()
            events.append(f"event: token\ndata: {chunk}\n\n")
        if generate_request.context == "fail wrapped":
            wrapped = ErrorResponse(error=ErrorBody(message="server shutting down"))
            events.append(f"event: error\ndata: {wrapped.model_dump_json()}\n\n")
        elif generate_request.context == "fail mid-stream":
            events.append(
                f"event: error\ndata: {ErrorBody(message='out of memory').model_dump_json()}\n\n"
            )
        elif generate_request.context == "cut off":
            pass
        else:
            events.append(f": keep-alive\n\nevent: done\ndata: {response.model_dump_json()}\n\n")
        return Response("".join(events), media_type="text/event-stream")

    @app.post("/v1/tokenize")
    async def tokenize(request: Request) -> JSONResponse:
        body = TokenizeRequest.model_validate(await request.json())
        counts = [len(t.split()) for t in body.texts]
        result = TokenizeResponse(checkpoint="tiny", context_window=1024, counts=counts)
        return JSONResponse(result.model_dump())

    @app.get("/v1/checkpoints")
    async def checkpoints() -> JSONResponse:
        infos = [CheckpointInfo(name="tiny", loaded=True, default=True, tasks=[Task.STORY])]
        return JSONResponse([i.model_dump(mode="json") for i in infos])

    @app.post("/v1/checkpoints/load", response_model=None)
    async def load(request: Request) -> Response:
        if not authorised(request, ADMIN_KEY):
            return error(403, "loading checkpoints needs the admin key")
        body = LoadCheckpointRequest.model_validate(await request.json())
        if body.name != "tiny-chat":
            return error(404, f"no checkpoint named {body.name!r}", "name")
        return JSONResponse({"name": body.name, "loaded": True})

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse(
            HealthResponse(status="ok", default_checkpoint="tiny", loaded=[]).model_dump()
        )

    return app


@pytest.fixture
async def client() -> AsyncIterator[HttpModelClient]:
    app = contract_app()
    async with HttpModelClient(
        "http://model.test",
        api_key=API_KEY,
        admin_key=ADMIN_KEY,
        transport=httpx.ASGITransport(app=app),
    ) as c:
        c.app = app  # type: ignore[attr-defined]
        yield c


async def test_generate_sends_the_wire_request_with_the_key(client: HttpModelClient) -> None:
    request = GenerateRequest(task=Task.STORY, genre=Genre.HORROR, context="A knock", prefix="> ")
    response = await client.generate(request)
    assert response.candidates[0].text == "> Once upon a time"
    seen = client.app.state.seen[-1]  # type: ignore[attr-defined]
    assert seen.genre is Genre.HORROR and seen.context == "A knock" and not seen.stream


async def test_stream_delivers_chunks_then_the_response(client: HttpModelClient) -> None:
    chunks: list[str] = []

    async def on_chunk(chunk: StreamChunk) -> None:
        chunks.append(chunk.text)

    response = await client.stream(GenerateRequest(context="x"), on_chunk)
    assert chunks == ["Once", " upon", " a", " time"]
    assert response.candidates[0].text == "Once upon a time"
    assert client.app.state.seen[-1].stream  # type: ignore[attr-defined]


async def test_stream_error_event_and_cut_off_stream(client: HttpModelClient) -> None:
    async def ignore(chunk: StreamChunk) -> None:
        return None

    with pytest.raises(ModelError, match="stopped: out of memory"):
        await client.stream(GenerateRequest(context="fail mid-stream"), ignore)
    with pytest.raises(ModelError, match="stopped: server shutting down"):
        await client.stream(GenerateRequest(context="fail wrapped"), ignore)
    with pytest.raises(ModelUnavailable, match="closed the stream before finishing"):
        await client.stream(GenerateRequest(context="cut off"), ignore)


async def test_a_4xx_message_is_passed_through(client: HttpModelClient) -> None:
    with pytest.raises(ModelError) as caught:
        await client.generate(GenerateRequest(max_new_tokens=600))
    assert caught.value.user_message == (
        "The model server refused the request: max_new_tokens must be at most 500"
    )

    async def ignore(chunk: StreamChunk) -> None:
        return None

    with pytest.raises(ModelError, match="at most 500"):
        await client.stream(GenerateRequest(max_new_tokens=600), ignore)


async def test_a_500_hides_the_servers_internals(client: HttpModelClient) -> None:
    with pytest.raises(ModelError) as caught:
        await client.generate(GenerateRequest(context="crash"))
    assert "HTTP 500" in caught.value.user_message
    assert "Traceback" not in caught.value.user_message


async def test_wrong_key_names_the_setting_never_the_key() -> None:
    async with HttpModelClient(
        "http://model.test", api_key="wrong-key-789", transport=httpx.ASGITransport(contract_app())
    ) as client:
        with pytest.raises(ModelError) as caught:
            await client.generate(GenerateRequest())
        assert "CAMPFIRE_API_KEY" in caught.value.user_message
        assert "wrong-key-789" not in caught.value.user_message
        with pytest.raises(ModelError) as caught:
            await client.load_checkpoint(LoadCheckpointRequest(name="tiny-chat"))
        assert "CAMPFIRE_ADMIN_KEY" in caught.value.user_message


async def test_tokenize_checkpoints_load_and_health(client: HttpModelClient) -> None:
    counted = await client.tokenize(["one two", "three"], None)
    assert counted.counts == [2, 1] and counted.context_window == 1024
    assert [c.name for c in await client.checkpoints()] == ["tiny"]
    await client.load_checkpoint(LoadCheckpointRequest(name="tiny-chat", make_default=False))
    with pytest.raises(ModelError, match="no checkpoint named 'nope'"):
        await client.load_checkpoint(LoadCheckpointRequest(name="nope"))
    assert (await client.health()).status == "ok"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_server_down_is_unavailable_with_what_to_do(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    async with HttpModelClient(url, api_key=API_KEY, connect_timeout=1.0) as client:
        with pytest.raises(ModelUnavailable) as caught:
            await client.generate(GenerateRequest())
        assert "isn't answering" in caught.value.user_message
        assert "campfire-server is running" in caught.value.user_message

        async def ignore(chunk: StreamChunk) -> None:
            return None

        with pytest.raises(ModelUnavailable):
            await client.stream(GenerateRequest(), ignore)
    assert API_KEY not in caplog.text


async def test_slow_server_is_unavailable_saying_it_is_slow() -> None:
    release = asyncio.Event()
    handlers: list[asyncio.Task[None]] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        await reader.read(65536)
        await release.wait()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with HttpModelClient(f"http://127.0.0.1:{port}", request_timeout=0.3) as client:
            with pytest.raises(
                ModelUnavailable, match=r"too slow right now \(no answer within 0.3 s"
            ):
                await client.generate(GenerateRequest())
    finally:
        release.set()
        await asyncio.gather(*handlers, return_exceptions=True)
        server.close()
        await server.wait_closed()


async def test_a_non_contract_answer_is_a_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps({"unexpected": True}).encode())

    async with HttpModelClient("http://x", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(ModelError, match="same Campfire version"):
            await client.generate(GenerateRequest())
