"""The ledger public keys an audit trusts: the consortium's key list, or each node's own."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.core.errors import FedscoreError
from fedscore.core.signing import public_key_from_hex
from fedscore.privacy.ledger.signing import load_public_keys


@dataclass(frozen=True)
class ConsortiumKeys:
    """The ledger public keys an audit trusts.

    Attributes:
        keys: each party's public key from the consortium's key list.
        source: the key list file (None: no list given; each node's own public key
            file is used, which is not an independent check).
    """

    keys: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)
    source: Path | None = None

    @classmethod
    def from_key_list(cls, path: Path | None) -> ConsortiumKeys:
        """The keys of the consortium's key list at `path` (None: trust each node's own).

        Raises:
            ConfigError: the key list cannot be read or holds no key.
        """
        return cls(load_public_keys(path), path) if path is not None else cls()

    def for_party(self, party: str, own_key_file: Path | None) -> tuple[Ed25519PublicKey, str]:
        """The key to verify `party`'s ledger with, and where it came from.

        Raises:
            FedscoreError: no key for the party can be found.
        """
        if self.source is not None:
            if party not in self.keys:
                raise FedscoreError(f"{self.source}: no ledger key for party '{party}'")
            return self.keys[party], f"consortium key list {self.source}"
        if own_key_file is not None and own_key_file.is_file():
            key = public_key_from_hex(own_key_file.read_text(encoding="utf-8"))
            return key, f"the node's own public key file {own_key_file} (not independent)"
        raise FedscoreError(f"no ledger key for party '{party}': name the consortium's key list")
