"""The node's Ed25519 signing key and the consortium's list of node public keys."""

from __future__ import annotations

import tomllib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from fedscore.core.errors import ConfigError
from fedscore.core.files import write_bytes_atomic, write_private


class NodeSigner:
    """Signs ledger entries with the node's private key (kept owner-only on disk).

    Parameters
    ----------
    private_key : Ed25519PrivateKey
        The node's ledger key.
    """

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    @classmethod
    def load_or_create(cls, path: Path) -> NodeSigner:
        """The key at `path` (PEM); created with 0600 and its public key beside it if absent.

        Creation is crash-safe: the key is written whole to a private temporary file and
        linked into place, so a kill leaves either no key or a complete one; a missing
        public key file is rewritten from the private key.
        """
        if not path.is_file():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            write_private(path, pem, exclusive=True)  # another process may have won
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{path}: readable by others; restrict it with chmod 600")
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{path}: not a readable private key ({exc}); restore the node's ledger key "
                "from its backup (a new key would not match the consortium's key list)"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path}: not an Ed25519 private key")
        signer = cls(key)
        public = path.with_suffix(".pub")
        if not public.is_file() or public.read_text(encoding="utf-8").strip() != signer.public_hex:
            write_bytes_atomic(public, (signer.public_hex + "\n").encode("ascii"))
        return signer

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    @property
    def public_hex(self) -> str:
        raw = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return raw.hex()


def public_key_from_hex(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text.strip()))
    except ValueError as exc:
        raise ConfigError(f"not an Ed25519 public key in hex: {exc}") from exc


def load_public_keys(path: Path) -> dict[str, Ed25519PublicKey]:
    """The consortium's key list: a TOML file with `[ledger_keys]` party = "hex"."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the consortium key list {path}: {exc}") from exc
    keys = doc.get("ledger_keys", {})
    if not keys:
        raise ConfigError(f"{path}: no [ledger_keys] entries")
    return {str(party): public_key_from_hex(str(value)) for party, value in keys.items()}
