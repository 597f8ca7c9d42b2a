"""Name → pseudonymizer registry and the normalization every algorithm applies first."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fedscore.core.registry import Registry, origin_of

# Hex characters kept of each digest: 128 bits, collisions negligible at any bank's scale.
DIGEST_HEX_CHARS = 32


def normalize_identifier(value: str) -> str:
    """One spelling per identifier: NFKC (full-width digits → ASCII), trimmed, upper case.

    So "11010519491231002x", "１１０１０５１９４９１２３１００２Ｘ" and " 11010519491231002X "
    get the same pseudonym.
    """
    return unicodedata.normalize("NFKC", value).strip().upper()


@dataclass(frozen=True)
class Pseudonymizer:
    """A keyed one-way function from identifiers to pseudonyms.

    Attributes:
        name: registered name ("hmac-sha256", "hmac-sm3").
        digest: (key, message) → raw MAC bytes.
    """

    name: str
    digest: Callable[[bytes, bytes], bytes]

    def pseudonymize(self, values: Iterable[str], key: bytes, key_version: int) -> list[str]:
        """Pseudonyms "v<key version>:<hex>" of normalized values under `key`."""
        prefix = f"v{key_version}:"
        return [
            prefix
            + self.digest(key, normalize_identifier(v).encode("utf-8")).hex()[:DIGEST_HEX_CHARS]
            for v in values
        ]


#: The pseudonymizers by name; the built-in ones register when the package is imported.
PSEUDONYMIZERS: Registry[Pseudonymizer] = Registry("pseudonymizer")


def register_pseudonymizer(pseudonymizer: Pseudonymizer) -> Pseudonymizer:
    """Make a pseudonymizer available by its name; returns it.

    Args:
        pseudonymizer: the algorithm, registered under its `name`.

    Raises:
        ValueError: the name is malformed or already registered.
    """
    return PSEUDONYMIZERS.add(
        pseudonymizer.name, pseudonymizer, origin=origin_of(pseudonymizer.digest)
    )


def available_pseudonymizers() -> list[str]:
    """The registered pseudonymizer names, sorted."""
    return PSEUDONYMIZERS.names()


def get_pseudonymizer(name: str) -> Pseudonymizer:
    """The pseudonymizer registered under a name.

    Args:
        name: its registry name, e.g. "hmac-sha256" (a key's `algorithm`).

    Returns:
        The algorithm, ready to `pseudonymize` values.

    Raises:
        ConfigError: no pseudonymizer has that name (the message lists those that exist).
    """
    return PSEUDONYMIZERS.get(name)
