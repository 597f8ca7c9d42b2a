"""Whose privacy state a folder is, and which process may use it.

A node's state folder (accountants, ledger, accepted runs) belongs to one party: the
first use records the party in `owner.json`, and every later use by another party is
refused, so a node config whose `state_dir` points at another party's state can never
append to that party's ledger. A running node (`fedscore node start`) holds an exclusive
lock on its state folder for as long as it runs: a second process started with the same
node config is refused instead of training the same rounds twice.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import IO

from fedscore.core.errors import ConfigError

OWNER_FILE = "owner.json"
LOCK_FILE = "node.lock"


def claim_state(state_dir: Path, party: str, record: bool = True) -> None:
    """Record `party` as the owner of `state_dir`, or check that it is.

    Args:
        state_dir: the node's state folder.
        party: the institution using it.
        record: write the owner record if there is none yet (False: check only, as
            before round 1, where nothing is written).

    Raises:
        ConfigError: the folder belongs to another party, or its owner file is unreadable.
    """
    owner = state_dir / OWNER_FILE
    if not record:
        if owner.exists() and _recorded_party(owner) != party:
            _refuse(state_dir, _recorded_party(owner), party)
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"party": party}).encode("utf-8")
    try:
        descriptor = os.open(owner, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        recorded = _recorded_party(owner)
        if recorded != party:
            _refuse(state_dir, recorded, party)
        return
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


def _refuse(state_dir: Path, recorded: str, party: str) -> None:
    raise ConfigError(
        f"{state_dir} is the privacy state of party '{recorded}', not of '{party}': "
        "give this node its own state_dir"
    )


def _recorded_party(owner: Path) -> str:
    try:
        party = json.loads(owner.read_text(encoding="utf-8"))["party"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{owner}: not a readable owner record ({type(exc).__name__})") from exc
    if not isinstance(party, str):
        raise ConfigError(f"{owner}: not a readable owner record")
    return party


class StateLock:
    """An exclusive lock on a node's state folder, held while the node runs.

    Keep the object referenced: the lock goes with its open file.

    Args:
        state_dir: The node's state folder.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock, or fail at once.

        Raises:
            ConfigError: another process holds it (another node runs with this state).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise ConfigError(
                f"{self.path.parent} is in use by {holder}: one node per state folder "
                "(is this node already running?)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None
