"""Keyed pseudonyms: per institution, per key version; keys owner-only and never printed."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys

import pytest

from fedscore.core.errors import ConfigError
from fedscore.privacy.keys import KeyRing, check_apart
from fedscore.privacy.pseudonymization import get_pseudonymizer, normalize_identifier

PERSON = "11010519491231002X"


@pytest.fixture()
def two_banks(tmp_path):
    bank = KeyRing(tmp_path / "bank" / "keys", "credit_risk_scoring")
    facilitator = KeyRing(tmp_path / "facilitator" / "keys", "credit_risk_scoring")
    bank.init("bank")
    facilitator.init("facilitator")
    return bank, facilitator


def _pseudonym(ring: KeyRing, value: str, version: int | None = None) -> str:
    key = ring.current() if version is None else ring.version(version)
    return get_pseudonymizer(key.algorithm).pseudonymize([value], key.secret, key.version)[0]


def test_same_customer_different_institutions_different_pseudonyms(two_banks):
    bank, facilitator = two_banks
    assert _pseudonym(bank, PERSON) != _pseudonym(facilitator, PERSON)


def test_same_institution_and_key_version_same_pseudonym(two_banks):
    bank, _ = two_banks
    assert (
        _pseudonym(bank, PERSON)
        == _pseudonym(bank, PERSON.lower())
        == _pseudonym(bank, f"  {PERSON} ")
    )
    assert _pseudonym(bank, PERSON).startswith("v1:")


def test_rotation_gives_new_pseudonyms_and_keeps_old_versions(two_banks):
    bank, _ = two_banks
    before = _pseudonym(bank, PERSON)
    bank.rotate()
    after = _pseudonym(bank, PERSON)
    assert after.startswith("v2:") and after[3:] != before[3:]
    assert _pseudonym(bank, PERSON, version=1) == before


def test_pseudonym_is_the_hmac_of_the_normalized_value(two_banks):
    bank, _ = two_banks
    key = bank.current()
    expected = hmac.new(key.secret, PERSON.encode(), hashlib.sha256).hexdigest()[:32]
    assert _pseudonym(bank, PERSON.lower()) == f"v1:{expected}"


def test_hmac_sm3_is_selectable_and_matches_the_standard_vector(tmp_path):
    sm3 = get_pseudonymizer("hmac-sm3")
    # GB/T 32905 test vector: SM3("abc") — checks the primitive really is SM3.
    from cryptography.hazmat.primitives import hashes

    digest = hashes.Hash(hashes.SM3())
    digest.update(b"abc")
    assert digest.finalize().hex().startswith("66c7f0f462eeedd9")
    ring = KeyRing(tmp_path / "keys", "p")
    ring.init("bank", algorithm="hmac-sm3")
    key = ring.current()
    assert sm3.pseudonymize([PERSON], key.secret, 1) != get_pseudonymizer(
        "hmac-sha256"
    ).pseudonymize([PERSON], key.secret, 1)


def test_full_width_digits_normalize():
    assert normalize_identifier("１１０１０５１９４９１２３１００２ｘ") == PERSON


def test_key_files_are_owner_only_and_secret_is_not_printed(two_banks):
    bank, _ = two_banks
    key = bank.current()
    for path in [bank.root, *bank.root.iterdir()]:
        assert os.stat(path).st_mode & 0o077 == 0, path
    assert key.secret.hex() not in repr(key) and key.secret.hex() not in str(bank.versions())


def test_group_readable_key_is_refused(two_banks):
    bank, _ = two_banks
    os.chmod(bank.root / "v1.key", 0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        bank.current()


def test_keys_must_live_apart_from_the_data(tmp_path):
    data = tmp_path / "bank" / "data" / "customers.csv"
    check_apart(tmp_path / "bank" / "keys", data)
    with pytest.raises(ConfigError, match="kept apart"):
        check_apart(tmp_path / "bank" / "data", data)
    with pytest.raises(ConfigError, match="kept apart"):
        check_apart(tmp_path / "bank" / "data" / "keys", data)


def test_keys_cli_never_prints_key_material(tmp_path):
    def cli(*args):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "fedscore.cli.main",
                "keys",
                *args,
                "--key-dir",
                str(tmp_path / "keys"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    assert cli("init", "--institution", "bank").returncode == 0
    assert cli("rotate").returncode == 0
    listing = cli("list")
    ring = KeyRing(tmp_path / "keys", "credit_risk_scoring")
    for version in (1, 2):
        assert ring.version(version).secret.hex() not in listing.stdout + listing.stderr
    assert "2" in listing.stdout
    again = cli("init", "--institution", "bank")
    assert again.returncode == 2 and "already exists" in again.stderr
