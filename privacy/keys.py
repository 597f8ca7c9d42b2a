"""An institution's pseudonymization keys: generated, versioned, rotated, kept apart.

Layout of a key directory (owner-only: the folders 0700, the files 0600):

    <key_dir>/<purpose>/keyring.json   institution, purpose, algorithm, current version,
                                       creation time of each version (no key material)
    <key_dir>/<purpose>/v<N>.key       the 256-bit secret of version N, hex

Key material never leaves this module's `secret()`: key objects print without it,
the CLI lists versions only, and reports carry the version number.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fedscore.core.errors import ConfigError
from fedscore.core.files import write_private
from fedscore.core.run_request import check_safe_name
from fedscore.privacy.pseudonymization import get_pseudonymizer

KEY_BYTES = 32
#: The folder of a key directory holding the node's ledger key (`NodeConfig.ledger_key`).
LEDGER_KEY_FOLDER = "ledger"


@dataclass(frozen=True)
class KeyVersion:
    """One version of a key (the secret is deliberately left out of repr/str)."""

    version: int
    algorithm: str
    created_at: str
    secret: bytes = field(repr=False, compare=False)


class KeyRing:
    """Keys of one institution for one purpose.

    Args:
        key_dir: The institution's key directory (kept apart from its data).
        purpose: The processing purpose the keys serve (a task's purpose): pseudonyms made for
            one purpose cannot be linked to another's.
    """

    def __init__(self, key_dir: str | Path, purpose: str) -> None:
        check_safe_name(purpose, "a key ring's purpose (it names a folder of the key directory)")
        if purpose == LEDGER_KEY_FOLDER:
            raise ConfigError(
                f"a key ring's purpose cannot be '{LEDGER_KEY_FOLDER}': that folder of the key "
                "directory holds the node's ledger key"
            )
        self.root = Path(key_dir) / purpose
        self.purpose = purpose
        self.meta_path = self.root / "keyring.json"

    def exists(self) -> bool:
        return self.meta_path.is_file()

    def init(self, institution: str, algorithm: str = "hmac-sha256") -> KeyVersion:
        """Create the key ring with its first version; refuses to overwrite one."""
        get_pseudonymizer(algorithm)
        if self.exists():
            raise ConfigError(f"{self.root}: a key ring already exists; use 'fedscore keys rotate'")
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)
        os.chmod(self.root.parent, 0o700)
        meta = {
            "institution": institution,
            "purpose": self.purpose,
            "algorithm": algorithm,
            "current": 0,
            "versions": {},
        }
        return self._add_version(meta)

    def rotate(self) -> KeyVersion:
        """A new current version; older versions stay readable for old pseudonyms."""
        return self._add_version(self._meta())

    def current(self) -> KeyVersion:
        meta = self._meta()
        return self.version(int(meta["current"]))

    def version(self, number: int) -> KeyVersion:
        meta = self._meta()
        created = meta["versions"].get(str(number))
        if created is None:
            raise ConfigError(f"{self.root}: no key version {number}")
        path = self.root / f"v{number}.key"
        self._check_private(path)
        return KeyVersion(number, str(meta["algorithm"]), created, bytes.fromhex(path.read_text()))

    def versions(self) -> list[dict[str, object]]:
        """Version numbers, creation times and which is current — never key material."""
        meta = self._meta()
        return [
            {
                "version": int(v),
                "created_at": created,
                "current": int(v) == meta["current"],
                "algorithm": meta["algorithm"],
            }
            for v, created in sorted(meta["versions"].items(), key=lambda kv: int(kv[0]))
        ]

    @property
    def institution(self) -> str:
        return str(self._meta()["institution"])

    def _meta(self) -> dict[str, Any]:
        if not self.exists():
            raise ConfigError(
                f"{self.root}: no key ring for purpose '{self.purpose}'; create it with "
                f"'fedscore keys init --key-dir {self.root.parent} --purpose {self.purpose} "
                "--institution NAME'"
            )
        self._check_private(self.meta_path)
        meta: dict[str, Any] = json.loads(self.meta_path.read_text(encoding="utf-8"))
        return meta

    def _add_version(self, meta: dict[str, Any]) -> KeyVersion:
        number = int(meta["current"]) + 1
        secret = secrets.token_bytes(KEY_BYTES)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        write_private(self.root / f"v{number}.key", secret.hex().encode("ascii"))
        meta["versions"][str(number)] = created
        meta["current"] = number
        write_private(self.meta_path, json.dumps(meta, indent=2).encode("utf-8"))
        return KeyVersion(number, str(meta["algorithm"]), created, secret)

    @staticmethod
    def _check_private(path: Path) -> None:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"{path}: readable by others (mode {stat.filemode(mode)}); "
                f"restrict it with 'chmod 600 {path}'"
            )


def check_apart(key_dir: Path, data_path: Path) -> None:
    """Keys must not live in the data's folder tree, nor the data in the keys' tree."""
    keys, data = key_dir.resolve(), data_path.resolve()
    if keys == data.parent or data.is_relative_to(keys) or keys.is_relative_to(data.parent):
        raise ConfigError(
            f"the key directory {keys} must be kept apart from the data {data}: "
            "move the keys outside the data's folder"
        )
