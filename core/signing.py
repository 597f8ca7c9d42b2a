"""Ed25519 keys and signatures: one implementation for every signer of the consortium.

Nodes sign ledger entries, the model registry signs model manifests, model owners sign
run requests and the consortium signs app releases. Each holds a `SigningKey` on disk
(PKCS#8 PEM, owner-only) and publishes its public key as 64 hex characters; verifiers
hold only public keys. What is signed is always `canonical_json` of a document, so a
signature never depends on key order or whitespace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from fedscore.core.errors import ConfigError
from fedscore.core.files import write_bytes_atomic, write_private


def canonical_json(document: Any) -> bytes:
    """One byte string per document: sorted keys, no whitespace, UTF-8, no NaN/Infinity."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


class SigningKey:
    """An Ed25519 private key kept owner-only on disk.

    Args:
        private_key: The key itself.
    """

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    @classmethod
    def create(cls, path: Path) -> SigningKey:
        """A new key written to `path` (0600, folder 0700) with its public key beside it.

        Raises:
            ConfigError: a key already exists at `path` (keys are never replaced).
        """
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if not write_private(path, pem, exclusive=True):
            raise ConfigError(f"{path}: a key already exists there; it is never replaced")
        return cls.load(path)

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """The existing key at `path`; its public key file is (re)written beside it.

        Raises:
            ConfigError: no key there, a key readable by others, or not an Ed25519 key.
        """
        if not path.is_file():
            raise ConfigError(f"{path}: no such key (restore it from its backup)")
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{path}: readable by others; restrict it with chmod 600")
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{path}: not a readable private key ({exc}); restore it from its backup "
                "(a new key would not match the consortium's key lists)"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path}: not an Ed25519 private key")
        signer = cls(key)
        public = path.with_suffix(".pub")
        if not public.is_file() or public.read_text(encoding="utf-8").strip() != signer.public_hex:
            write_bytes_atomic(public, (signer.public_hex + "\n").encode("ascii"))
        return signer

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """The key at `path`, created on first use.

        Creation is crash-safe and race-free: the key is written whole to a private
        temporary file and linked into place, so a kill leaves either no key or a complete
        one, and of two processes creating it at once both end up with the same key.
        """
        if not path.is_file():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            write_private(path, pem, exclusive=True)  # another process may have won
        return cls.load(path)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    @property
    def public_hex(self) -> str:
        """The public key as 64 hex characters (how key lists name it)."""
        return public_hex(self.public_key)


def public_hex(key: Ed25519PublicKey) -> str:
    """An Ed25519 public key as 64 hex characters."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def public_key_from_hex(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from its 64 hex characters.

    Raises:
        ConfigError: `text` is not a public key in hex.
    """
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text.strip()))
    except ValueError as exc:
        raise ConfigError(f"not an Ed25519 public key in hex: {exc}") from exc


def signature_valid(key: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is `key`'s signature of `message`."""
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
