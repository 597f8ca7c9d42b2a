"""A party approves an app bundle by its hash, or by a release key that signed its
statement; anything else, or a bundle that is not what it claims to be, is refused."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from fedscore.core.app_trust import AppTrust
from fedscore.core.run_request import (
    RUN_REQUEST_KEY,
    ReleaseAttestation,
    RunRequest,
    sign_run_request,
)
from fedscore.core.runconfig import RunConfig
from fedscore.core.signing import SigningKey
from fedscore.deployment.app_approval import check_app
from fedscore.deployment.release import ReleaseStatement, sign_release

BUNDLE = b"a FAB's bytes"
SHA256 = hashlib.sha256(BUNDLE).hexdigest()


@pytest.fixture()
def keys(tmp_path) -> dict[str, SigningKey]:
    return {name: SigningKey.create(tmp_path / f"{name}.pem") for name in ("release", "owner")}


def _run_config(keys, statement: ReleaseStatement, signer: SigningKey) -> dict[str, object]:
    """A run config whose signed request carries the release statement and a signature."""
    issued = datetime.now(UTC).replace(microsecond=0)
    request = RunRequest(
        run_id="run-1",
        owner="owner",
        issued_at=issued,
        expires_at=issued + timedelta(hours=1),
        app_sha256=statement.app_sha256,
        release=ReleaseAttestation(
            statement=asdict(statement), signatures=[asdict(sign_release(statement, signer))]
        ),
        task="default_risk",
        schema_sha256="0" * 64,
        parties=3,
        run=RunConfig().as_dict(),
    )
    return {RUN_REQUEST_KEY: sign_run_request(request, keys["owner"]).encode()}


def test_a_listed_hash_is_approved_and_anything_else_refused():
    trust = AppTrust(approved_apps=[f"sha256:{SHA256}"])
    assert check_app(trust, BUNDLE, SHA256, {}).approved_by == "hash list"
    other = check_app(trust, b"another bundle", hashlib.sha256(b"another bundle").hexdigest(), {})
    assert other.problem == "not an approved release"


def test_a_bundle_that_is_not_what_its_hash_says_is_refused():
    trust = AppTrust(approved_apps=[SHA256])
    verdict = check_app(trust, b"swapped content", SHA256, {})
    assert verdict.problem == "the app's content does not match the hash it is declared by"


def test_a_release_signed_by_a_trusted_key_is_approved(keys):
    trust = AppTrust(release_keys={"consortium": keys["release"].public_hex})
    statement = ReleaseStatement(app_sha256=SHA256, version="0.1.0", commit="a" * 40)
    verdict = check_app(trust, BUNDLE, SHA256, _run_config(keys, statement, keys["release"]))
    assert verdict.approved_by == "release key 'consortium'"


def test_release_signatures_by_other_keys_or_for_other_bundles_do_not_approve(keys):
    trust = AppTrust(release_keys={"consortium": keys["release"].public_hex})
    statement = ReleaseStatement(app_sha256=SHA256, version="0.1.0", commit="a" * 40)
    by_owner = _run_config(keys, statement, keys["owner"])  # not a release key
    assert check_app(trust, BUNDLE, SHA256, by_owner).problem == "not an approved release"
    elsewhere = ReleaseStatement(app_sha256="b" * 64, version="0.1.0", commit="a" * 40)
    other_bundle = _run_config(keys, elsewhere, keys["release"])
    assert check_app(trust, BUNDLE, SHA256, other_bundle).problem == "not an approved release"
    malformed = {RUN_REQUEST_KEY: '{"request": "not one"}'}
    assert check_app(trust, BUNDLE, SHA256, malformed).problem == "not an approved release"
