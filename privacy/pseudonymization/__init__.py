"""Keyed pseudonyms for customer keys and identifiers, by registered algorithm name."""

# Importing the algorithm modules registers them.
from fedscore.privacy.pseudonymization import hmac_sha256, hmac_sm3  # noqa: F401
from fedscore.privacy.pseudonymization.registry import (
    Pseudonymizer,
    available_pseudonymizers,
    get_pseudonymizer,
    normalize_identifier,
    register_pseudonymizer,
)

__all__ = [
    "Pseudonymizer",
    "available_pseudonymizers",
    "get_pseudonymizer",
    "normalize_identifier",
    "register_pseudonymizer",
]
