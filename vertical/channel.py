"""The end-to-end encrypted, authenticated channel between the two vertical parties.

Flower has no node-to-node link: every message between the bank and the facilitator
passes the coordinator, which relays but must not read, alter, swap, replay or reorder
them. So each party makes an ephemeral X25519 key for the run and an **offer**: (run id,
own name, peer name, X25519 public key), signed with its Ed25519 ledger signing key. The
peer accepts the offer only if the consortium's key list holds that signer under that
party name and the run and both names are the expected ones, so a relay cannot put its
own key in the middle. Both then derive, with HKDF-SHA256 over the X25519 secret (info:
protocol version, run id, both names and both public keys in a canonical order), one
ChaCha20-Poly1305 key per direction (and, by `export_secret`, other shared secrets).

`seal(stage, payload)` numbers each message of a direction (0, 1, 2, ...); the header
(run id, sender, receiver, stage, number) and a random 96-bit nonce are the associated
data, so `open` refuses, with a clear error, a message of another run, stage, direction
or number (replayed, reordered, missing) and any altered byte. The nonce is random, not
the number, so that a state file restored or copied can never repeat a nonce under a key.

Each step of a run may be a new process: the channel lives in an owner-only (0600) state
file (ephemeral private key, peer's key, counters), rewritten whole after each message.
Call `close()` when the run ends: it deletes that file, and with it the only copy of the
ephemeral private key (what makes the run's messages unreadable afterwards).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fedscore.core.errors import ConfigError
from fedscore.core.files import read_private, write_private
from fedscore.core.protocol.errors import ProtocolError
from fedscore.core.signing import SigningKey, canonical_json, signature_valid
from fedscore.core.untrusted_documents import parse_json

VERSION = 1
_OFFER_CONTEXT = b"fedscore/vertical-channel-offer/v1\n"
_KDF_CONTEXT = b"fedscore/vertical-channel-keys/v1\n"
_MAGIC = b"FSVC\x01"
_NONCE_BYTES = 12
#: The longest offer accepted (a real one is about 350 bytes).
MAX_OFFER_BYTES = 4096
_MAX_HEADER_BYTES = 2048


class ChannelError(ProtocolError):
    """A channel offer or message refused: forged, altered, replayed, misrouted or malformed."""


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _secret(key: X25519PrivateKey) -> str:
    raw = serialization.PrivateFormat.Raw
    return key.private_bytes(serialization.Encoding.Raw, raw, serialization.NoEncryption()).hex()


class Channel:
    """One party's end of the channel of one run, kept in an owner-only file.

    Args:
        path: the state file (rewritten on every change).
        state: its content: run_id, own, peer, private key, own offer, peer key and the
            counters of messages sealed and opened.
    """

    def __init__(self, path: Path, state: dict[str, Any]) -> None:
        self.path = path
        self.run_id: str = state["run_id"]
        self.own: str = state["own"]
        self.peer: str = state["peer"]
        self._private = X25519PrivateKey.from_private_bytes(bytes.fromhex(state["private"]))
        self.offer: bytes = bytes.fromhex(state["offer"])
        self._peer_key = bytes.fromhex(state["peer_key"]) if state["peer_key"] else None
        self.sealed: int = int(state["sealed"])
        self.opened: int = int(state["opened"])
        self._closed = False

    @classmethod
    def create(
        cls, path: Path, run_id: str, own: str, peer: str, signing_key: SigningKey
    ) -> Channel:
        """A new ephemeral key and its signed offer (`offer`, to send to the peer).

        Args:
            path: where to keep the channel's state (owner-only; a new folder 0700).
            run_id: the run this channel serves; another run's offers and messages fail.
            own: this party's name, as in the consortium's key list.
            peer: the other party's name, as in the consortium's key list.
            signing_key: this party's ledger signing key (signs the offer).

        Raises:
            ConfigError: an empty run id or name, the two names equal, or a channel
                state already at `path` (a run's key is never replaced).
        """
        if not all(isinstance(v, str) and v for v in (run_id, own, peer)) or own == peer:
            raise ConfigError("a channel needs a run id and two different party names")
        private = X25519PrivateKey.generate()
        offer: dict[str, Any] = {"kind": "fedscore-vertical-channel-offer", "version": VERSION}
        offer |= {"run_id": run_id, "sender": own, "receiver": peer}
        offer["x25519"] = _raw(private.public_key()).hex()
        signature = signing_key.sign(_OFFER_CONTEXT + canonical_json(offer)).hex()
        signed = canonical_json({"offer": offer, "signature": signature})
        state: dict[str, Any] = {"run_id": run_id, "own": own, "peer": peer, "peer_key": ""}
        state |= {"private": _secret(private), "offer": signed.hex(), "sealed": 0, "opened": 0}
        channel = cls(path, state)
        if not write_private(path, channel._state(), exclusive=True):
            raise ConfigError(f"{path}: a channel state exists already; it is never replaced")
        return channel

    @classmethod
    def load(cls, path: Path) -> Channel:
        """The channel `create` started, with its counters.

        Args:
            path: the state file.

        Raises:
            ConfigError: no state there (closed, or never created), one readable by
                others, or a damaged one.
        """
        data = read_private(path, "the channel state")
        try:
            return cls(path, json.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path}: damaged channel state ({type(exc).__name__})") from exc

    @property
    def established(self) -> bool:
        """Whether the peer's offer was accepted (messages can flow)."""
        return self._peer_key is not None

    def accept(self, peer_offer: bytes, public_keys: Mapping[str, Ed25519PublicKey]) -> None:
        """Verify the peer's offer and derive the two directions' keys.

        Accepting the same offer again (a retried step) does nothing.

        Args:
            peer_offer: the offer the peer sent (through the relay).
            public_keys: the consortium's ledger public keys by party name
                (`fedscore.privacy.ledger.signing.load_public_keys`).

        Raises:
            ChannelError: the offer is malformed, not signed by the peer's listed key,
                for another run, not from the peer or not to this party, or another
                offer was accepted already.
        """
        self._check_open()
        offer = _parse(peer_offer, MAX_OFFER_BYTES, "channel offer")
        body, signature = offer.get("offer"), offer.get("signature")
        if not isinstance(body, dict) or not isinstance(signature, str):
            raise ChannelError("channel offer", "offer", "is not a signed offer")
        if body.get("kind") != "fedscore-vertical-channel-offer" or body.get("version") != VERSION:
            raise ChannelError("channel offer", "version", f"is not a v{VERSION} channel offer")
        expected = {"run_id": self.run_id, "sender": self.peer, "receiver": self.own}
        for field, value in expected.items():
            if body.get(field) != value:
                raise ChannelError("channel offer", field, f"is not '{value}' (misrouted)")
        listed = public_keys.get(self.peer)
        if listed is None:
            raise ChannelError("channel offer", "sender", "has no key in the consortium's list")
        try:
            valid = signature_valid(
                listed, _OFFER_CONTEXT + canonical_json(body), bytes.fromhex(signature)
            )
        except ValueError:
            valid = False
        if not valid:
            raise ChannelError("channel offer", "signature", f"is not by {self.peer}'s listed key")
        try:
            key = bytes.fromhex(str(body.get("x25519")))
            X25519PublicKey.from_public_bytes(key)
        except ValueError as exc:
            raise ChannelError("channel offer", "x25519", "is not a public key") from exc
        if self._peer_key is not None and self._peer_key != key:
            raise ChannelError("channel offer", "x25519", "differs from the one accepted before")
        self._peer_key = key
        self._keys()  # a low-order key fails here, before anything is saved
        self._save()

    def seal(self, stage: str, payload: bytes) -> bytes:
        """Encrypt and authenticate `payload` for the peer, as the next message.

        Args:
            stage: what the message is in the run's protocol (e.g. "psi/set"); the peer
                opens it only as that stage.
            payload: the bytes to send.

        Returns:
            The sealed message, for the relay.

        Raises:
            ChannelError: the peer's offer is not accepted yet, or the channel is closed.
        """
        send, _ = self._keys()
        header = self._header(self.own, self.peer, stage, self.sealed)
        prefix = _MAGIC + len(header).to_bytes(2, "big") + header + os.urandom(_NONCE_BYTES)
        sealed = prefix + ChaCha20Poly1305(send).encrypt(prefix[-_NONCE_BYTES:], payload, prefix)
        self.sealed += 1
        self._save()
        return sealed

    def open(self, stage: str, blob: bytes) -> bytes:
        """The payload of the peer's next message, which must be for `stage`.

        Args:
            stage: the stage this party expects now.
            blob: the sealed message as the relay delivered it.

        Returns:
            The payload.

        Raises:
            ChannelError: not a sealed message, of another run, stage or direction,
                replayed, out of order, or altered (or the channel is not ready).
        """
        _, receive = self._keys()
        if not isinstance(blob, bytes) or not blob.startswith(_MAGIC) or len(blob) < 7:
            raise ChannelError("channel message", stage, "is not a sealed channel message")
        end = 7 + int.from_bytes(blob[5:7], "big")
        head = _parse(blob[7:end], _MAX_HEADER_BYTES, "channel message")
        if head.get("run_id") != self.run_id:
            raise ChannelError("channel message", stage, "belongs to another run")
        if head.get("sender") == self.own:
            raise ChannelError("channel message", stage, "was sealed by this party (reflected)")
        if head.get("sender") != self.peer or head.get("receiver") != self.own:
            raise ChannelError("channel message", stage, "is not from the peer to this party")
        if head.get("stage") != stage:
            raise ChannelError("channel message", stage, "was sealed for another stage")
        number = head.get("number")
        if type(number) is not int or number < self.opened:
            raise ChannelError("channel message", stage, "is replayed (opened before)")
        if number > self.opened:
            raise ChannelError(
                "channel message", stage, f"is out of order: message {number}, {self.opened} due"
            )
        prefix = blob[: end + _NONCE_BYTES]
        if len(blob) < len(prefix) + 16 or len(prefix) != end + _NONCE_BYTES:
            raise ChannelError("channel message", stage, "is truncated")
        try:
            payload = ChaCha20Poly1305(receive).decrypt(
                prefix[-_NONCE_BYTES:], blob[len(prefix) :], prefix
            )
        except InvalidTag as exc:
            raise ChannelError("channel message", stage, "was altered or forged") from exc
        self.opened += 1
        self._save()
        return payload

    def close(self) -> None:
        """End the channel: delete its state file, the ephemeral private key with it."""
        self.path.unlink(missing_ok=True)
        self._closed = True

    def _header(self, sender: str, receiver: str, stage: str, number: int) -> bytes:
        if not isinstance(stage, str) or not 0 < len(stage) <= 64 or not stage.isprintable():
            raise ValueError("a stage is 1 to 64 printable characters")
        head = {"run_id": self.run_id, "sender": sender, "receiver": receiver}
        return canonical_json(head | {"stage": stage, "number": number, "version": VERSION})

    def export_secret(self, label: bytes) -> bytes:
        """32 secret bytes both parties derive alike for `label` (e.g. a shared seed).

        Independent of the message keys and of every other label's secret; the relay,
        lacking both private keys, cannot derive it.

        Args:
            label: what the secret is for (b"batches"); one label for one use.

        Raises:
            ChannelError: the peer's offer is not accepted yet, or the channel is closed.
            ValueError: `label` is empty or not bytes.
        """
        if not isinstance(label, bytes) or not label:
            raise ValueError("an export label is non-empty bytes")
        return self._derive(b"export\x00" + label, 32)[0]

    def _keys(self) -> tuple[bytes, bytes]:
        """(key of own → peer, key of peer → own)."""
        okm, own_first = self._derive(b"messages", 64)
        forward, backward = okm[:32], okm[32:]  # first name → second, second → first
        return (forward, backward) if own_first else (backward, forward)

    def _derive(self, purpose: bytes, length: int) -> tuple[bytes, bool]:
        """HKDF-SHA256 of the X25519 secret for `purpose`, and whether own name sorts first."""
        self._check_open()
        if self._peer_key is None:
            raise ChannelError("channel", self.peer, "has not been accepted: no offer yet")
        try:
            secret = self._private.exchange(X25519PublicKey.from_public_bytes(self._peer_key))
        except ValueError as exc:  # a low-order point: the secret would be all zeros
            raise ChannelError("channel offer", "x25519", "is a weak key") from exc
        own_key = _raw(self._private.public_key())
        first, second = sorted([(self.own, own_key), (self.peer, self._peer_key)])
        context: dict[str, Any] = {"version": VERSION, "run_id": self.run_id}
        context["parties"] = [first[0], second[0]]
        context["keys"] = [first[1].hex(), second[1].hex()]
        info = _KDF_CONTEXT + canonical_json(context) + b"\x00" + purpose
        derived = HKDF(hashes.SHA256(), length, salt=None, info=info).derive(secret)
        return derived, first[0] == self.own

    def _check_open(self) -> None:
        if self._closed:
            raise ChannelError("channel", self.peer, "is closed")

    def _state(self) -> bytes:
        state: dict[str, Any] = {"run_id": self.run_id, "own": self.own, "peer": self.peer}
        state |= {"private": _secret(self._private), "offer": self.offer.hex()}
        state["peer_key"] = (self._peer_key or b"").hex()
        return canonical_json(state | {"sealed": self.sealed, "opened": self.opened})

    def _save(self) -> None:
        write_private(self.path, self._state())


def _parse(data: bytes, limit: int, kind: str) -> dict[str, Any]:
    """A JSON object of at most `limit` bytes, or a ChannelError naming `kind`."""
    if not isinstance(data, bytes) or len(data) > limit:
        raise ChannelError(kind, "size", f"is not bytes of at most {limit}")
    try:
        value = parse_json(data)
    except ValueError as exc:  # not UTF-8, not JSON, or nested too deeply
        raise ChannelError(kind, "encoding", "is not JSON") from exc
    if not isinstance(value, dict):
        raise ChannelError(kind, "encoding", "is not a JSON object")
    return value
