"""Slow, idle and unauthenticated clients can't hold the server or its memory (issue 13, item 3)."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import httpx
import pytest

from model_server.cli import warn_if_open
from tests.serving import run_server_process, serve_app, tiny_settings, wait_for_health

KEY = "limits-key"


async def stalled_post(url: str, headers: str, sent: bytes, declared: int) -> str:
    """Send a POST's headers and part of its body, stall, and return the status line."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"POST /v1/generate HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n{headers}\r\n".encode()
        + sent
    )
    await writer.drain()
    try:
        return (await asyncio.wait_for(reader.readline(), 20)).decode().strip()
    finally:
        writer.close()


@pytest.mark.slow
async def test_fifty_stalled_unauthenticated_clients_get_401_without_sending_their_body(
    tiny_checkpoints: Path,
):
    settings = tiny_settings(tiny_checkpoints, api_key=KEY)
    async with serve_app(settings) as url:
        lines = await asyncio.gather(
            *(stalled_post(url, "", b"a" * 65536, 1_900_000) for _ in range(50))
        )
        assert all("401" in line for line in lines), set(lines)
        async with httpx.AsyncClient(base_url=url) as client:
            ok = await client.get("/health", headers={"Authorization": f"Bearer {KEY}"})
            assert ok.status_code == 200


@pytest.mark.slow
async def test_a_body_that_stops_arriving_gets_408(tiny_checkpoints: Path):
    settings = tiny_settings(tiny_checkpoints, api_key=KEY, body_timeout_s=0.5)
    async with serve_app(settings) as url:
        auth = f"Authorization: Bearer {KEY}\r\n"
        line = await stalled_post(url, auth, b'{"task": "st', 1000)
        assert "408" in line
        async with httpx.AsyncClient(base_url=url) as client:
            body = {"task": "prompt", "max_new_tokens": 2}
            answer = await client.post(
                "/v1/generate", json=body, headers={"Authorization": f"Bearer {KEY}"}
            )
            assert answer.status_code == 200


def test_a_server_open_to_the_network_without_a_key_warns(tiny_checkpoints: Path, caplog):
    with caplog.at_level(logging.WARNING):
        warn_if_open(tiny_settings(tiny_checkpoints, host="0.0.0.0"))
        assert "CAMPFIRE_API_KEY" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        warn_if_open(tiny_settings(tiny_checkpoints, host="127.0.0.1"))
        warn_if_open(tiny_settings(tiny_checkpoints, host="::1"))
        warn_if_open(tiny_settings(tiny_checkpoints, host="0.0.0.0", api_key=KEY))
    assert caplog.text == ""


@pytest.mark.slow
def test_the_server_program_applies_its_connection_limit(tiny_checkpoints: Path):
    env = {"CAMPFIRE_LIMIT_CONCURRENCY": "2"}
    with run_server_process(tiny_checkpoints, "tiny", env=env) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as idle:
            idle.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            assert b"200" in idle.recv(4096)  # kept alive: one connection held
            assert httpx.get(f"{url}/health").status_code == 503
        wait_for_health(url, timeout=10)  # the held connection closed: served again
