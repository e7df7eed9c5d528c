"""Gateway recovery: close codes, RESUME with replay, RECONNECT, INVALID_SESSION, heartbeats."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from tests.fakes.discord_server import FakeDiscord, Op
from tests.fakes.story_bot import StoryBot, running

from .conftest import PointDiscord


async def _still_answers(fake: FakeDiscord, text: str) -> None:
    interaction = await fake.slash("echo", {"text": text})
    reply = await fake.wait_for_original(interaction)
    assert reply.content == text


async def test_disconnect_then_resume_replays_what_the_bot_missed(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    fake.hold_new_connections()  # a gateway outage: the bot cannot reconnect yet
    await fake.disconnect(4000)
    posted = await fake.post_message(fake.channel, fake.member, "while you were away")
    await fake.wait_for(lambda: fake.hub.held_handshakes, what="the bot to try to reconnect")
    assert posted.id not in [m.id for m in bot.seen]

    fake.release_new_connections()
    await fake.wait_for(
        lambda: [m for m in bot.seen if m.id == posted.id], what="the replayed message"
    )

    (session,) = fake.sessions
    assert fake.identify_count == 1 and session.resumes == 1
    assert session.resume_paths == ["/resume-gateway"]  # it used READY's resume_gateway_url
    out = [
        f
        for f in fake.gateway_frames
        if f.direction == "out" and f.session_id == session.session_id
    ]
    replayed = next(
        i for i, f in enumerate(out) if f.t == "MESSAGE_CREATE" and f.d["id"] == str(posted.id)
    )
    resumed = next(i for i, f in enumerate(out) if f.t == "RESUMED")
    assert replayed < resumed  # missed events come before RESUMED, in sequence order
    await fake.wait_for(lambda: bot.resumed_count == 1, what="on_resumed")
    await _still_answers(fake, "still here")
    assert fake.protocol_errors == []


async def test_reconnect_opcode_makes_the_bot_resume(fake: FakeDiscord, bot: StoryBot) -> None:
    fake.request_reconnect()
    await fake.wait_for(lambda: fake.resume_count == 1 and fake.hub.live_sessions, what="a resume")
    assert fake.identify_count == 1
    await _still_answers(fake, "after op 7")


async def test_invalid_session_makes_the_bot_identify_again(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    fake.invalidate_session(resumable=False)
    await fake.wait_for(
        lambda: fake.identify_count == 2 and fake.hub.live_sessions, what="a new IDENTIFY"
    )
    await fake.wait_for(lambda: bot.ready_count == 2, what="a second on_ready")
    assert fake.resume_count == 0
    await _still_answers(fake, "after op 9")


async def test_a_session_discord_dropped_cannot_be_resumed(
    fake: FakeDiscord, bot: StoryBot
) -> None:
    await fake.disconnect(4009)  # session timed out: Discord forgets it
    await fake.wait_for(
        lambda: fake.identify_count == 2 and fake.hub.live_sessions, what="a new IDENTIFY"
    )
    answered = [f for f in fake.gateway_frames if f.op == Op.INVALID_SESSION]
    assert [f.d for f in answered] == [False]  # the RESUME attempt was refused
    await _still_answers(fake, "after 4009")


async def test_a_cut_connection_is_resumed(fake: FakeDiscord, bot: StoryBot) -> None:
    await fake.drop_connection()
    await fake.wait_for(lambda: fake.resume_count == 1 and fake.hub.live_sessions, what="a resume")
    await _still_answers(fake, "after a dropped connection")


async def test_heartbeats_are_acknowledged(point_discord: PointDiscord) -> None:
    async with FakeDiscord(heartbeat_interval_ms=100) as fake:
        point_discord(fake)
        async with running(StoryBot(), fake.token) as client:
            await asyncio.sleep(0.5)
            beats = [f for f in fake.gateway_frames if f.direction == "in" and f.op == Op.HEARTBEAT]
            acks = [
                f for f in fake.gateway_frames if f.direction == "out" and f.op == Op.HEARTBEAT_ACK
            ]
            assert len(beats) >= 3 and len(acks) >= 3
            assert client.latency < 1.0


async def test_gateway_refuses_a_wrong_token_and_junk(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json") as ws:
            hello = await ws.receive_json()
            assert hello["op"] == Op.HELLO and hello["d"]["heartbeat_interval"] == 41250
            identify = {"op": 2, "d": {"token": "wrong", "intents": 1, "properties": {}}}
            await ws.send_str(json.dumps(identify))
            closed = await ws.receive()
            assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4004
        async with session.ws_connect(f"{fake.gateway_url}?v=10&encoding=json") as ws:
            await ws.receive_json()
            await ws.send_str("{not json")
            closed = await ws.receive()
            assert closed.data == 4002
        async with session.ws_connect(f"{fake.gateway_url}?v=9&encoding=json") as ws:
            closed = await ws.receive()
            assert closed.data == 4012
    kinds = [e.kind for e in fake.protocol_errors]
    assert kinds == ["gateway_authentication_failed", "gateway_decode_error", "gateway_bad_query"]
    # Tokens are never kept in the gateway log.
    assert "wrong" not in json.dumps([f.to_json() for f in fake.gateway_frames])


async def test_a_session_not_resumed_in_time_is_gone(point_discord: PointDiscord) -> None:
    async with FakeDiscord(session_resume_window=0.2) as fake:
        point_discord(fake)
        async with running(StoryBot(), fake.token):
            fake.hold_new_connections()
            await fake.disconnect(4000)
            await fake.wait_for(lambda: fake.hub.held_handshakes, what="a reconnect attempt")
            await asyncio.sleep(0.3)
            fake.release_new_connections()
            await fake.wait_for(
                lambda: fake.identify_count == 2 and fake.hub.live_sessions, what="IDENTIFY"
            )
            assert fake.resume_count == 0 and not fake.sessions[0].resumable
            await _still_answers(fake, "a fresh session")
