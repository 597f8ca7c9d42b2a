"""Is the app a run carries a release this party approved? Decided before any of it runs.

The check recomputes the SHA-256 of the app bundle (Flower FAB) the party received,
requires it to equal the hash the run declares, and approves it if the hash is on the
party's list, or if the run's request carries a release statement for exactly this
hash signed by one of the party's release keys. Nothing of the bundle is unpacked or
imported here; fedscore's task runner then runs the *installed* fedscore app, never
the bundle's code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from fedscore.core.app_trust import AppTrust
from fedscore.core.errors import ConfigError
from fedscore.core.run_request import RUN_REQUEST_KEY, ReleaseAttestation, SignedRunRequest
from fedscore.core.signing import public_key_from_hex


@dataclass(frozen=True)
class AppVerdict:
    """The outcome of checking one app bundle.

    Attributes:
        sha256: the bundle's hash as recomputed here.
        problem: why it is not approved ("" when it is).
        approved_by: what approved it: "hash list" or "release key '<name>'".
    """

    sha256: str
    problem: str = ""
    approved_by: str = ""

    @property
    def approved(self) -> bool:
        return not self.problem


def check_app(
    trust: AppTrust, content: bytes, declared_sha256: str, run_config: dict[str, object]
) -> AppVerdict:
    """Whether the bundle `content`, declared as `declared_sha256`, is approved.

    Args:
        trust: the party's approved hashes and release keys.
        content: the bundle's bytes as received.
        declared_sha256: the hash the run (and Flower) name the bundle by.
        run_config: the run's config, where a signed run request may carry the release
            statement and its signatures.
    """
    actual = hashlib.sha256(content).hexdigest()
    if actual != declared_sha256.lower():
        return AppVerdict(actual, "the app's content does not match the hash it is declared by")
    if actual in trust.approved_hashes:
        return AppVerdict(actual, approved_by="hash list")
    release = _release_attestation(run_config)
    if trust.release_keys and release is not None:
        signer = _release_signer(trust, release, actual)
        if signer:
            return AppVerdict(actual, approved_by=f"release key '{signer}'")
    return AppVerdict(actual, "not an approved release")


def _release_attestation(run_config: dict[str, object]) -> ReleaseAttestation | None:
    text = run_config.get(RUN_REQUEST_KEY)
    if not text:
        return None
    try:
        return SignedRunRequest.decode(str(text)).request.release
    except ConfigError:
        return None


def _release_signer(trust: AppTrust, release: ReleaseAttestation, sha256: str) -> str:
    """The name of the trusted release key that signed a statement of `sha256` ("": none)."""
    from fedscore.deployment.release import (
        ReleaseSignature,
        ReleaseStatement,
        verify_release_signature,
    )

    try:
        statement = ReleaseStatement(**release.statement)
        signatures = [ReleaseSignature(**signature) for signature in release.signatures]
        if statement.app_sha256 != sha256:
            return ""
        trusted = {name: public_key_from_hex(key) for name, key in trust.release_keys.items()}
        return verify_release_signature(statement, signatures, trusted)
    except (TypeError, ConfigError):
        return ""
