"""A wire-level fake Discord (REST v10 + gateway) for running a real discord.py bot in tests.

In-process::

    async with FakeDiscord() as fake:
        discord.http.Route.BASE = fake.url
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
        ...  # start the bot with fake.token
        interaction = await fake.slash("respond", {"genre": "horror"}, user=fake.admin)
        reply = await fake.wait_for_original(interaction)
        assert fake.protocol_errors == []

In another process: `python -m tests.fakes.discord_server --port 0` (or FakeDiscordProcess),
driven over HTTP under /_fake/ with RemoteFakeDiscord. See README.md next to this file.
"""

from tests.fakes.discord_server.constants import (
    CallbackType,
    ChannelType,
    Intent,
    InteractionType,
    MessageFlag,
    MessageType,
    Op,
    OptionType,
    Permission,
)
from tests.fakes.discord_server.interactions import (
    CommandNotPermitted,
    InteractionError,
    UploadFile,
)
from tests.fakes.discord_server.model import (
    Attachment,
    Channel,
    GatewayFrame,
    Guild,
    Interaction,
    Member,
    Message,
    MessageRevision,
    ProtocolError,
    RestCall,
    Role,
    User,
)
from tests.fakes.discord_server.remote import FakeDiscordProcess, RemoteError, RemoteFakeDiscord
from tests.fakes.discord_server.server import (
    DEFAULT_TOKEN,
    DefaultWorld,
    FakeDiscord,
    FakeDiscordConfig,
)

__all__ = [
    "DEFAULT_TOKEN",
    "Attachment",
    "CallbackType",
    "Channel",
    "ChannelType",
    "CommandNotPermitted",
    "DefaultWorld",
    "FakeDiscord",
    "FakeDiscordConfig",
    "FakeDiscordProcess",
    "GatewayFrame",
    "Guild",
    "Intent",
    "Interaction",
    "InteractionError",
    "InteractionType",
    "Member",
    "Message",
    "MessageFlag",
    "MessageRevision",
    "MessageType",
    "Op",
    "OptionType",
    "Permission",
    "ProtocolError",
    "RemoteError",
    "RemoteFakeDiscord",
    "RestCall",
    "Role",
    "UploadFile",
    "User",
]
