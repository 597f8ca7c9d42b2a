"""HMAC-SHA256 pseudonyms (the default)."""

import hmac

from fedscore.privacy.pseudonymization.registry import Pseudonymizer, register_pseudonymizer

HMAC_SHA256 = register_pseudonymizer(
    Pseudonymizer("hmac-sha256", lambda key, message: hmac.digest(key, message, "sha256"))
)
