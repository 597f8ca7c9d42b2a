"""The vertical parties' channel: signed offers, sealed messages, nothing a relay can bend."""

from __future__ import annotations

import json
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fedscore.core.errors import ConfigError
from fedscore.core.signing import SigningKey, canonical_json
from fedscore.vertical.channel import Channel, ChannelError

RUN = "run-0001"
SECRET = b"the blinded set of the bank"


@pytest.fixture()
def signers(tmp_path):
    return {name: SigningKey.create(tmp_path / "keys" / f"{name}.pem") for name in ("bank", "fac")}


@pytest.fixture()
def public_keys(signers):
    return {name: signer.public_key for name, signer in signers.items()}


@pytest.fixture()
def pair(tmp_path, signers, public_keys):
    bank = Channel.create(tmp_path / "bank" / "channel.json", RUN, "bank", "fac", signers["bank"])
    fac = Channel.create(tmp_path / "fac" / "channel.json", RUN, "fac", "bank", signers["fac"])
    bank.accept(fac.offer, public_keys)
    fac.accept(bank.offer, public_keys)
    return bank, fac


def test_messages_flow_both_ways_in_order(pair):
    bank, fac = pair
    assert bank.established and fac.established
    for number in range(3):
        payload = SECRET + bytes([number])
        sealed = bank.seal("psi/set", payload)
        assert SECRET not in sealed
        assert fac.open("psi/set", sealed) == payload
    assert bank.open("psi/answer", fac.seal("psi/answer", b"")) == b""
    assert (bank.sealed, bank.opened, fac.sealed, fac.opened) == (3, 1, 1, 3)


def test_each_step_may_be_a_new_process(pair):
    bank, fac = pair
    sealed = bank.seal("psi/set", SECRET)
    fresh = Channel.load(fac.path)
    assert fresh.open("psi/set", sealed) == SECRET
    again = Channel.load(fac.path)
    assert again.opened == 1
    with pytest.raises(ChannelError, match="replayed"):
        again.open("psi/set", sealed)
    for channel in pair:
        assert stat.S_IMODE(channel.path.stat().st_mode) == 0o600
        assert stat.S_IMODE(channel.path.parent.stat().st_mode) == 0o700


def test_a_replayed_reordered_or_missing_message_is_refused(pair):
    bank, fac = pair
    first, second, third = (bank.seal("psi/set", bytes([i])) for i in range(3))
    with pytest.raises(ChannelError, match="out of order: message 1, 0 due"):
        fac.open("psi/set", second)
    assert fac.open("psi/set", first) == b"\x00"
    with pytest.raises(ChannelError, match="replayed"):
        fac.open("psi/set", first)
    with pytest.raises(ChannelError, match="out of order: message 2, 1 due"):
        fac.open("psi/set", third)
    assert fac.open("psi/set", second) == b"\x01"


def test_an_altered_message_is_refused(pair):
    bank, fac = pair
    sealed = bank.seal("psi/set", SECRET)
    for position in (len(sealed) - 1, len(sealed) - 20, 7 + sealed[7:].index(b"}") + 3):
        altered = bytearray(sealed)
        altered[position] ^= 0x01
        with pytest.raises(ChannelError, match="altered or forged"):
            fac.open("psi/set", bytes(altered))
    # The header is authenticated too: renumbering a message does not pass.
    renumbered = sealed.replace(b'"number":0', b'"number":1')
    following = bank.seal("psi/set", b"next")
    fac.open("psi/set", sealed)
    with pytest.raises(ChannelError, match="altered or forged"):
        fac.open("psi/set", renumbered)
    with pytest.raises(ChannelError, match="truncated"):
        fac.open("psi/set", following[: following.index(b"}") + 5])
    assert fac.open("psi/set", following) == b"next"
    with pytest.raises(ChannelError, match="not a sealed channel message"):
        fac.open("psi/set", b"hello")


def test_a_message_for_another_stage_direction_or_run_is_refused(
    tmp_path, pair, signers, public_keys
):
    bank, fac = pair
    sealed = bank.seal("psi/set", SECRET)
    with pytest.raises(ChannelError, match="another stage"):
        fac.open("psi/answer", sealed)
    with pytest.raises(ChannelError, match="sealed by this party"):
        bank.open("psi/set", sealed)
    other_bank = Channel.create(tmp_path / "b2", "run-0002", "bank", "fac", signers["bank"])
    other_fac = Channel.create(tmp_path / "f2", "run-0002", "fac", "bank", signers["fac"])
    other_bank.accept(other_fac.offer, public_keys)
    with pytest.raises(ChannelError, match="another run"):
        fac.open("psi/set", other_bank.seal("psi/set", SECRET))
    assert fac.open("psi/set", sealed) == SECRET
    with pytest.raises(ValueError, match="stage"):
        bank.seal("", SECRET)


def test_an_offer_signed_by_another_key_is_refused(tmp_path, signers, public_keys):
    bank = Channel.create(tmp_path / "bank", RUN, "bank", "fac", signers["bank"])
    forged_by_bank = Channel.create(tmp_path / "forged", RUN, "fac", "bank", signers["bank"])
    relay_key = SigningKey(Ed25519PrivateKey.generate())
    forged_by_relay = Channel.create(tmp_path / "relay", RUN, "fac", "bank", relay_key)
    for forged in (forged_by_bank, forged_by_relay):
        with pytest.raises(ChannelError, match="not by fac's listed key"):
            bank.accept(forged.offer, public_keys)
    assert not bank.established
    with pytest.raises(ChannelError, match="no key in the consortium's list"):
        bank.accept(forged_by_relay.offer, {"bank": public_keys["bank"]})


def test_an_offer_for_another_run_or_party_is_refused(tmp_path, signers, public_keys):
    bank = Channel.create(tmp_path / "bank", RUN, "bank", "fac", signers["bank"])
    other_run = Channel.create(tmp_path / "run2", "run-0002", "fac", "bank", signers["fac"])
    with pytest.raises(ChannelError, match="'run_id' is not 'run-0001'"):
        bank.accept(other_run.offer, public_keys)
    to_other = Channel.create(tmp_path / "other", RUN, "fac", "insurer", signers["fac"])
    with pytest.raises(ChannelError, match="'receiver' is not 'bank'"):
        bank.accept(to_other.offer, public_keys)
    with pytest.raises(ChannelError, match="'sender' is not 'fac'"):
        bank.accept(bank.offer, public_keys)  # reflected
    # A signed offer whose fields were edited afterwards fails its signature.
    document = json.loads(Channel.create(tmp_path / "f", RUN, "fac", "bank", signers["fac"]).offer)
    document["offer"]["x25519"] = "00" * 32
    with pytest.raises(ChannelError, match="listed key"):
        bank.accept(canonical_json(document), public_keys)
    for garbage in (
        b"",
        b"[]",
        b"\xff\xfe",
        b"{" * 5000,
        b"[" * 4000,
        b'{"offer": 1, "signature": "x"}',
    ):
        with pytest.raises(ChannelError):
            bank.accept(garbage, public_keys)


def test_a_weak_key_in_a_signed_offer_is_refused(tmp_path, signers, public_keys):
    bank = Channel.create(tmp_path / "bank", RUN, "bank", "fac", signers["bank"])
    offer = {"kind": "fedscore-vertical-channel-offer", "version": 1, "run_id": RUN}
    offer |= {"sender": "fac", "receiver": "bank", "x25519": "00" * 32}
    signature = signers["fac"].sign(b"fedscore/vertical-channel-offer/v1\n" + canonical_json(offer))
    with pytest.raises(ChannelError, match="weak key"):
        bank.accept(canonical_json({"offer": offer, "signature": signature.hex()}), public_keys)


def test_a_second_offer_cannot_replace_the_first(tmp_path, pair, signers, public_keys):
    bank, fac = pair
    bank.accept(fac.offer, public_keys)  # the same offer again: a retried step
    newer = Channel.create(tmp_path / "newer", RUN, "fac", "bank", signers["fac"])
    with pytest.raises(ChannelError, match="differs from the one accepted"):
        bank.accept(newer.offer, public_keys)


def test_close_deletes_the_ephemeral_key(pair):
    bank, fac = pair
    bank.close()
    assert not bank.path.exists()
    with pytest.raises(ChannelError, match="closed"):
        bank.seal("psi/set", SECRET)
    with pytest.raises(ConfigError, match="cannot read the channel state"):
        Channel.load(bank.path)
    fac.close()
    fac.close()


def test_nothing_flows_before_the_offer_is_accepted(tmp_path, signers):
    bank = Channel.create(tmp_path / "bank", RUN, "bank", "fac", signers["bank"])
    with pytest.raises(ChannelError, match="no offer yet"):
        bank.seal("psi/set", SECRET)


def test_a_channel_state_is_never_replaced_nor_read_when_shared(tmp_path, signers):
    path = tmp_path / "bank" / "channel.json"
    Channel.create(path, RUN, "bank", "fac", signers["bank"])
    with pytest.raises(ConfigError, match="never replaced"):
        Channel.create(path, RUN, "bank", "fac", signers["bank"])
    with pytest.raises(ConfigError, match="two different party names"):
        Channel.create(tmp_path / "x", RUN, "bank", "bank", signers["bank"])
    path.chmod(0o640)
    with pytest.raises(ConfigError, match="readable by others"):
        Channel.load(path)
    path.chmod(0o600)
    path.write_bytes(b"{}")
    with pytest.raises(ConfigError, match="damaged"):
        Channel.load(path)


def test_an_exported_secret_is_shared_and_separate(pair, tmp_path, signers, public_keys):
    bank, fac = pair
    seed = bank.export_secret(b"batches")
    assert seed == Channel.load(fac.path).export_secret(b"batches") and len(seed) == 32
    assert bank.export_secret(b"other") != seed
    other = Channel.create(tmp_path / "b2", RUN, "bank", "fac", signers["bank"])
    other.accept(fac.offer, public_keys)
    assert other.export_secret(b"batches") != seed  # a new ephemeral key
    with pytest.raises(ValueError, match="label"):
        bank.export_secret(b"")
