"""The registry's two keys and who needs which.

The registry's Ed25519 signing key (`keys/registry_ed25519.pem`) signs every model
bundle's manifest; only the registry's owner needs it, to register, promote and roll
back. Everyone who scores needs only its public key (`keys/registry_ed25519.pub`, 64
hex characters) to verify a bundle before loading it. The signing key is created once,
on purpose (`fedscore models init-registry`, or the first registration into an empty
registry), and never again: a missing key is an error to fix from its backup, because
a new key would not verify the models the old one signed.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.core.errors import ConfigError
from fedscore.core.files import write_bytes_atomic
from fedscore.core.signing import SigningKey, public_key_from_hex
from fedscore.scoring.registry.errors import RegistryError

SIGNING_KEY = Path("keys") / "registry_ed25519.pem"
PUBLIC_KEY = SIGNING_KEY.with_suffix(".pub")


def create_signing_key(root: Path) -> SigningKey:
    """Create the registry's signing key (and its public key file), never replacing one.

    Args:
        root: the registry folder (created owner-only if absent).

    Raises:
        RegistryError: the registry already has a signing or a public key.
    """
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (root / PUBLIC_KEY).exists():
        raise RegistryError(
            f"{root / PUBLIC_KEY}: the registry already has a key; it is never replaced"
        )
    try:
        return SigningKey.create(root / SIGNING_KEY)
    except ConfigError as error:
        raise RegistryError(str(error)) from None


def registration_key(root: Path, has_models: bool) -> SigningKey:
    """The signing key a registration signs with.

    The first registration into a new registry (no key, no public key, no models) creates it,
    exclusively.

    Args:
        root: the registry folder.
        has_models: whether the registry's index lists any model.

    Raises:
        RegistryError: the key is missing (never silently replaced) or unusable.
    """
    if not has_models and not any((root / path).exists() for path in (SIGNING_KEY, PUBLIC_KEY)):
        with suppress(RegistryError):  # another process created it a moment ago
            create_signing_key(root)
    return load_signing_key(root)


def load_signing_key(root: Path) -> SigningKey:
    """The registry's signing key, which must match its published public key.

    Args:
        root: the registry folder.

    Raises:
        RegistryError: the key is missing, unreadable, readable by others, or not the
            key whose public key the registry publishes.
    """
    path = root / SIGNING_KEY
    if not path.is_file():
        raise RegistryError(
            f"{path}: the registry key is missing: restore it from its backup (a new key "
            "would not verify the models registered so far)"
        )
    public = root / PUBLIC_KEY
    published = public.read_text(encoding="utf-8").strip() if public.is_file() else None
    try:
        signer = SigningKey.load(path)  # rewrites the public key file when it differs
    except ConfigError as error:
        raise RegistryError(str(error)) from None
    if published is not None and published != signer.public_hex:
        write_bytes_atomic(public, (published + "\n").encode("ascii"))
        raise RegistryError(
            f"{path}: not the registry's key (its public key differs from {public}); "
            "restore the registry key from its backup"
        )
    return signer


def load_public_key(root: Path) -> Ed25519PublicKey:
    """The registry's public key: all that verifying (and so scoring) needs.

    Args:
        root: the registry folder.

    Raises:
        RegistryError: the public key file is missing or not an Ed25519 public key.
    """
    path = root / PUBLIC_KEY
    if not path.is_file():
        raise RegistryError(
            f"{path}: the registry's public key is missing (copy it from the registry's "
            "owner; `fedscore models init-registry` creates a new registry's keys)"
        )
    try:
        return public_key_from_hex(path.read_text(encoding="utf-8"))
    except ConfigError as error:
        raise RegistryError(f"{path}: {error}") from None
