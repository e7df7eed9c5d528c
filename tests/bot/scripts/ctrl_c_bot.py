"""A stand-in bot for launcher tests that, like play mode, leaves cleanly on Ctrl-C: it touches
the first file of $BOT_FILES when it runs and the second when it has finished, after Ctrl-C."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main() -> int:
    started, finished = map(Path, os.environ["BOT_FILES"].split())
    try:
        started.touch()
        print("bot ready", flush=True)
        time.sleep(60)
    except KeyboardInterrupt:
        time.sleep(0.5)  # closing the story database
        finished.touch()
        print("Bye.", flush=True)
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
