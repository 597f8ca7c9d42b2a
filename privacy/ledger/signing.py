"""The consortium's list of node ledger public keys (the keys auditors verify against)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.core.errors import ConfigError
from fedscore.core.signing import public_key_from_hex
from fedscore.core.untrusted_documents import parse_toml


def load_public_keys(path: Path) -> dict[str, Ed25519PublicKey]:
    """The consortium's key list: a TOML file with `[ledger_keys]` party = "hex"."""
    try:
        doc = parse_toml(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the consortium key list {path}: {exc}") from exc
    keys = doc.get("ledger_keys", {})
    if not keys:
        raise ConfigError(f"{path}: no [ledger_keys] entries")
    return {str(party): public_key_from_hex(str(value)) for party, value in keys.items()}
