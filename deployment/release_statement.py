"""What a release signature vouches for, its signatures, and the file holding both.

A release ships as `<name>.fab` beside `<name>.release.json`: a `ReleaseStatement` (the
FAB's SHA-256, the app version, the git commit) and Ed25519 signatures of it by the
consortium's release keys. This module signs and verifies statements and reads and
writes release files (strictly: wrong types, unknown or missing keys are refused).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.core.errors import ConfigError
from fedscore.core.files import write_bytes_atomic
from fedscore.core.signing import (
    SigningKey,
    canonical_json,
    public_hex,
    public_key_from_hex,
    signature_valid,
)
from fedscore.core.untrusted_documents import parse_json

RELEASE_SCHEMA = "fedscore-release/1"
#: A plain version string (what `[project] version` must be for a release).
VERSION_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_SCHEMA = re.compile(re.escape(RELEASE_SCHEMA))


def _require(field_name: str, value: str, pattern: re.Pattern[str], what: str) -> None:
    if not pattern.fullmatch(value):
        raise ConfigError(f"{field_name}: must be {what}")


@dataclass(frozen=True)
class ReleaseStatement:
    """What a release signature vouches for.

    Attributes:
        app_sha256: hex SHA-256 of the FAB (Flower's FAB hash).
        version: the `[project] version` of the app at `commit`.
        commit: the full git commit id the FAB was built from.
        schema: the statement format, always `RELEASE_SCHEMA`.
    """

    app_sha256: str
    version: str
    commit: str
    schema: str = RELEASE_SCHEMA

    def __post_init__(self) -> None:
        _require("statement.schema", self.schema, _SCHEMA, repr(RELEASE_SCHEMA))
        _require("statement.app_sha256", self.app_sha256, _HEX64, "64 lowercase hex digits")
        _require("statement.version", self.version, VERSION_PATTERN, "a plain version string")
        _require("statement.commit", self.commit, _COMMIT, "a full lowercase git commit id")

    def signed_bytes(self) -> bytes:
        """The bytes a release signature signs: `canonical_json` of the fields."""
        return canonical_json(asdict(self))


@dataclass(frozen=True)
class ReleaseSignature:
    """One signature of a `ReleaseStatement`.

    Attributes:
        public_key: the signer's Ed25519 public key, 64 hex characters.
        signature: the Ed25519 signature of `ReleaseStatement.signed_bytes()`, in hex.
    """

    public_key: str
    signature: str

    def __post_init__(self) -> None:
        _require("public_key", self.public_key, _HEX64, "64 lowercase hex digits")
        _require("signature", self.signature, _HEX128, "128 lowercase hex digits")

    def valid_for(self, statement: ReleaseStatement) -> bool:
        """Whether this is a correct signature of `statement` by `public_key`."""
        try:
            key = public_key_from_hex(self.public_key)
        except ConfigError:
            return False
        return signature_valid(key, statement.signed_bytes(), bytes.fromhex(self.signature))


@dataclass(frozen=True)
class ReleaseFile:
    """The content of a `<name>.release.json`: a statement and its signatures."""

    statement: ReleaseStatement
    signatures: tuple[ReleaseSignature, ...] = ()


def sign_release(statement: ReleaseStatement, key: SigningKey) -> ReleaseSignature:
    """`key`'s signature of `statement`."""
    return ReleaseSignature(key.public_hex, key.sign(statement.signed_bytes()).hex())


def verify_release_signature(
    statement: ReleaseStatement,
    signature: ReleaseSignature | Iterable[ReleaseSignature],
    trusted: Mapping[str, Ed25519PublicKey],
) -> str:
    """The name of the trusted key that signed `statement`.

    Args:
        statement: the release statement.
        signature: one signature of it, or all of them (any trusted one suffices).
        trusted: the consortium's release keys, name → public key.

    Raises:
        ConfigError: no valid signature by a trusted key.
    """
    signatures = [signature] if isinstance(signature, ReleaseSignature) else list(signature)
    names = {public_hex(key): name for name, key in trusted.items()}
    for candidate in signatures:
        name = names.get(candidate.public_key)
        if name is not None and candidate.valid_for(statement):
            return name
    raise ConfigError(
        f"release {statement.version} (sha256:{statement.app_sha256}) is not signed by any "
        "trusted release key"
    )


def write_release_file(path: Path, release_file: ReleaseFile) -> Path:
    """Write `release_file` to `path` as JSON, atomically."""
    text = json.dumps(asdict(release_file), indent=2, sort_keys=True) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"))


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise ValueError("a key appears twice")
    return dict(pairs)


def _strings(where: str, value: Any, keys: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be an object")
    unknown, missing = sorted(set(value) - set(keys)), [k for k in keys if k not in value]
    if unknown or missing:
        raise ConfigError(f"{where}: unknown keys {unknown}, missing keys {missing}")
    for key in keys:
        if not isinstance(value[key], str):
            raise ConfigError(f"{where}.{key}: must be a string")
    return value


def read_release_file(path: Path, fab: bytes | None = None) -> ReleaseFile:
    """Read and strictly validate a `<name>.release.json`.

    Args:
        path: the file.
        fab: the FAB shipped with it; its SHA-256 must be the statement's app_sha256.

    Raises:
        ConfigError: unreadable, malformed (wrong types, unknown or missing keys), or
            stating another FAB's hash. The message names the file and the problem.
    """
    try:
        document = parse_json(path.read_text(encoding="utf-8"), object_pairs_hook=_unique)
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON, duplicates
        raise ConfigError(f"{path}: not a readable release file ({exc})") from exc
    try:
        top = document if isinstance(document, dict) else None
        if top is None or set(top) != {"statement", "signatures"}:
            raise ConfigError("must be an object with exactly 'statement' and 'signatures'")
        fields = ("schema", "app_sha256", "version", "commit")
        statement = ReleaseStatement(**_strings("statement", top["statement"], fields))
        if not isinstance(top["signatures"], list):
            raise ConfigError("signatures: must be a list")
        signatures = tuple(
            ReleaseSignature(**_strings(f"signatures[{i}]", s, ("public_key", "signature")))
            for i, s in enumerate(top["signatures"])
        )
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if fab is not None and hashlib.sha256(fab).hexdigest() != statement.app_sha256:
        raise ConfigError(
            f"{path}: app_sha256 does not match the FAB shipped with it "
            f"(sha256:{hashlib.sha256(fab).hexdigest()})"
        )
    return ReleaseFile(statement, signatures)
