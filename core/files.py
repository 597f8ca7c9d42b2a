"""Writing files whole: a reader, or a process killed mid-write, never sees half a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fedscore.core.errors import ConfigError, FedscoreError


def write_bytes_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_private(path: Path, data: bytes, exclusive: bool = False) -> bool:
    """Write a secret owner-only (0600, folder 0700), whole and synced to disk.

    Args:
        path: the file.
        data: its content.
        exclusive: never replace an existing file (a key must not change under its
            users); the content is linked into place only if `path` does not exist.

    Returns:
        False when `exclusive` and the file existed (or another process made it first).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if not exclusive:
            tmp.replace(path)
            return True
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def read_private(path: Path, what: str, error: type[FedscoreError] = ConfigError) -> bytes:
    """The content of a secret `write_private` wrote, refused if others may read it.

    Args:
        path: the file.
        what: what it holds, for the error ("the channel state", ...).
        error: the error to raise.

    Raises:
        FedscoreError: (of type `error`) the file is missing or unreadable, or its mode
            lets anyone but the owner read it.
    """
    try:
        mode, data = path.stat().st_mode, path.read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read {what} ({exc.strerror})") from exc
    if stat.S_IMODE(mode) & 0o077:
        raise error(f"{path}: {what} is readable by others (chmod 600)")
    return data
