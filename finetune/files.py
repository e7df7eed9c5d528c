"""File modes: what campfire-train writes gets the modes a plain mkdir or open would give.

tempfile.mkdtemp and mkstemp (used so that a half-written folder or file never appears in place)
make 0700 folders and 0600 files; a checkpoint or a data folder is not secret, and the server may
run as another user of the same group.
"""

from __future__ import annotations

import os
from pathlib import Path


def current_umask() -> int:
    """The process umask, read from /proc where it can be (setting it to read it races threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(folder: Path) -> None:
    """Folders 0777 and files 0666, less the umask, for folder and everything in it."""
    mask = current_umask()
    folder.chmod(0o777 & ~mask)
    for path in folder.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)
