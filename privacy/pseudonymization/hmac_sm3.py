"""HMAC-SM3 pseudonyms (GB/T 32905), for institutions required to use national algorithms.

Uses the interpreter's OpenSSL when it offers SM3 (fast), otherwise the OpenSSL that
ships inside `cryptography`; both give the same bytes.
"""

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from fedscore.privacy.pseudonymization.registry import Pseudonymizer, register_pseudonymizer


def _hmac_sm3_cryptography(key: bytes, message: bytes) -> bytes:
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(message)
    return mac.finalize()


def _hmac_sm3_hashlib(key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, "sm3")


HMAC_SM3 = register_pseudonymizer(
    Pseudonymizer(
        "hmac-sm3",
        _hmac_sm3_hashlib if "sm3" in hashlib.algorithms_available else _hmac_sm3_cryptography,
    )
)
