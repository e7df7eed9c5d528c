"""`campfire-server`: run the model server (settings from the environment, flags override)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from core.errors import CampfireError
from core.manifest import read_manifest
from model_server.quantization import check_mode
from model_server.settings import Device, Quant, ServerSettings

log = logging.getLogger("campfire-server")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campfire-server",
        description="Serve Campfire checkpoints over HTTP (see README: Model server).",
    )
    parser.add_argument("--host", help="address to listen on (CAMPFIRE_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (CAMPFIRE_PORT)")
    parser.add_argument(
        "--checkpoints", type=Path, help="folder of checkpoint folders (CAMPFIRE_CHECKPOINTS)"
    )
    parser.add_argument("--checkpoint", help="checkpoint served by default (CAMPFIRE_CHECKPOINT)")
    parser.add_argument("--device", choices=get_args(Device), help="CAMPFIRE_DEVICE")
    parser.add_argument("--quant", choices=get_args(Quant), help="CAMPFIRE_QUANT")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    return parser


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def warn_if_open(settings: ServerSettings) -> None:
    """Say so at start when the server listens beyond this machine without an API key."""
    if settings.api_key is None and not is_loopback(settings.host):
        log.warning(
            "listening on %s with no API key: anyone who can reach this address may generate "
            "and load checkpoints; set CAMPFIRE_API_KEY (and CAMPFIRE_ADMIN_KEY)",
            settings.host,
        )


def _fail(message: str) -> int:
    print(f"campfire-server: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides: dict[str, Any] = {
        key: value
        for key in ("host", "port", "checkpoints", "checkpoint", "device", "quant")
        if (value := getattr(args, key)) is not None
    }
    try:
        settings = ServerSettings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return _fail(f"setting {where}: {first['msg']} (check .env / CAMPFIRE_* variables)")
    folder = settings.checkpoints / settings.checkpoint
    if not folder.exists():
        return _fail(
            f"the default checkpoint {folder} is missing; run `campfire-models install-default` "
            "or pass --checkpoint NAME of a folder in --checkpoints"
        )
    try:
        read_manifest(folder)
        check_mode(settings.device, settings.quant)
    except CampfireError as exc:
        return _fail(str(exc))

    import uvicorn

    from model_server.app import create_app

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    warn_if_open(settings)
    try:
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level=args.log_level,
            timeout_graceful_shutdown=5,
            limit_concurrency=settings.limit_concurrency,
            timeout_keep_alive=settings.timeout_keep_alive_s,
        )
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
