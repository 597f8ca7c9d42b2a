"""The ristretto255 operations of the private set intersection, on packed point sets.

ristretto255 is a prime-order group built on Curve25519 (libsodium, through `rbcl`):
every valid encoding is a point of the one large subgroup, so raising to a secret scalar
is a permutation of the group and two parties' blindings commute: (H(x)^a)^b = (H(x)^b)^a.

A set of points travels, and is kept, as one packed `bytes` blob of 32 bytes per point
(the wire format of a PSI message), never as a list of small `bytes` objects: at a
million customers a list costs 80 MB and a second of allocation, the blob 32 MB and
nothing. The libsodium functions are called directly, bound once, writing each result
at its offset in one output buffer; the per-element cost is libsodium's own (the Python
loop adds about a microsecond to a 15 µs hash-to-group and a 50 µs multiplication on
the 2-core reference machine, idle). ctypes releases the GIL during each call, so
`workers` > 1 spreads a set over threads, and so over cores.

Points from the peer are untrusted: `blind` rejects a non-canonical encoding, a
non-point and the identity (libsodium's multiplication refuses each), and
`validate_points` checks a set that is compared but not multiplied. Errors name the
position of the bad point, never its value.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import rbcl  # type: ignore[import-untyped]

from fedscore.core.protocol.errors import MalformedMessage

#: Bytes of one encoded point and of one scalar.
POINT_BYTES = 32
SCALAR_BYTES = 32
#: The longest domain `hash_to_group` takes (its length is written in 2 bytes).
MAX_DOMAIN_BYTES = 0xFFFF

# The libsodium functions, bound once (each `rbcl` wrapper re-checks its arguments).
_SODIUM = rbcl._sodium
# rbcl writes its bundled libsodium to a new temporary file at every import and never
# deletes it: 2.8 MB a process, and a node starts one per message. Once loaded, the
# file is not needed (POSIX keeps the mapping), so it goes; where it cannot (Windows),
# it stays.
_LIBRARY = Path(str(_SODIUM._name))
if _LIBRARY.parent == Path(tempfile.gettempdir()) and _LIBRARY.name.startswith("tmp"):
    with contextlib.suppress(OSError):
        _LIBRARY.unlink()
_FROM_HASH: Callable[..., int] = _SODIUM.crypto_core_ristretto255_from_hash
_SCALARMULT: Callable[..., int] = _SODIUM.crypto_scalarmult_ristretto255
_IS_VALID: Callable[..., int] = _SODIUM.crypto_core_ristretto255_is_valid_point
_IDENTITY = bytes(POINT_BYTES)


class PeerMessageError(MalformedMessage):
    """A point set from the peer that is malformed or hostile; nothing was computed on it."""


def new_secret_scalar() -> bytes:
    """A fresh uniformly random non-zero scalar (a party's secret for one run only).

    Returns:
        32 bytes: a canonical little-endian scalar below the group order.
    """
    while True:
        scalar: bytes = rbcl.crypto_core_ristretto255_scalar_random()
        if is_valid_scalar(scalar):
            return scalar


def is_valid_scalar(scalar: bytes) -> bool:
    """Whether `scalar` is a canonical, non-zero scalar (as `new_secret_scalar` makes).

    Args:
        scalar: the candidate, e.g. read back from a saved PSI state.
    """
    if not isinstance(scalar, bytes) or len(scalar) != SCALAR_BYTES or scalar == _IDENTITY:
        return False
    reduced: bytes = rbcl.crypto_core_ristretto255_scalar_reduce(scalar + bytes(SCALAR_BYTES))
    return reduced == scalar


def point_count(blob: bytes, what: str) -> int:
    """How many points a packed set holds.

    Args:
        blob: the packed set (32 bytes per point).
        what: the message the set came in, named in the error (e.g. "PSI set from the
            facilitator").

    Raises:
        PeerMessageError: `blob` is not bytes or its length is not a multiple of 32.
    """
    if not isinstance(blob, bytes | bytearray):
        raise PeerMessageError(what, "points", "is not a byte string")
    if len(blob) % POINT_BYTES:
        raise PeerMessageError(
            what,
            "points",
            f"has {len(blob)} bytes, not a whole number of {POINT_BYTES}-byte points "
            "(truncated or padded)",
        )
    return len(blob) // POINT_BYTES


def split_points(blob: bytes) -> list[bytes]:
    """The points of a packed set as separate 32-byte strings, in order.

    Args:
        blob: a packed set whose length is a multiple of 32.
    """
    return [blob[i : i + POINT_BYTES] for i in range(0, len(blob), POINT_BYTES)]


def hash_to_group(domain: bytes, identifiers: Sequence[str], workers: int = 1) -> bytes:
    """H(x) for each identifier: a ristretto255 point nobody knows the discrete log of.

    H(x) = ristretto255_from_hash(SHA-512(len(domain) as 2 bytes big-endian || domain ||
    x in UTF-8)), the hash-to-group of RFC 9496 (two Elligator maps, added), so that
    raising H(x) to a secret scalar hides x.

    Args:
        domain: what separates this run's hashes from every other's (see
            `PsiDomain.to_bytes`): the same identifier hashes to unrelated points under
            two domains.
        identifiers: the normalized identifiers, in the order the points are wanted.
        workers: threads to spread the work over (libsodium runs without the GIL).

    Returns:
        The points packed: 32 bytes per identifier, in the identifiers' order.

    Raises:
        ValueError: `domain` is longer than 65,535 bytes or `workers` is below 1.
    """
    if len(domain) > MAX_DOMAIN_BYTES:
        raise ValueError(f"the hash domain has {len(domain)} bytes, at most 65535 allowed")
    prefix = hashlib.sha512(len(domain).to_bytes(2, "big") + domain)
    out = ctypes.create_string_buffer(POINT_BYTES * len(identifiers))

    def run(start: int, stop: int) -> int | None:
        byref, copy, from_hash = ctypes.byref, prefix.copy, _FROM_HASH
        for i in range(start, stop):
            digest = copy()
            digest.update(identifiers[i].encode("utf-8"))
            from_hash(byref(out, POINT_BYTES * i), digest.digest())
        return None

    _spread(run, len(identifiers), workers)
    return out.raw


def blind(points: bytes, scalar: bytes, what: str, workers: int = 1) -> bytes:
    """Each point raised to `scalar`, in the same order; every point is validated.

    Args:
        points: a packed set, possibly from the peer (any bytes at all).
        scalar: this party's secret scalar (`new_secret_scalar`).
        what: the message the points came in, named in an error.
        workers: threads to spread the work over.

    Returns:
        The blinded points packed, 32 bytes each, in the order of `points`.

    Raises:
        PeerMessageError: `points` is not a whole number of points, or one is not the
            canonical encoding of a ristretto255 point other than the identity (the
            error names the first such position).
        ValueError: `scalar` is not a valid secret scalar.
    """
    count = point_count(points, what)
    if not is_valid_scalar(scalar):
        raise ValueError("the secret scalar is not a canonical non-zero scalar")
    source = (ctypes.c_char * len(points)).from_buffer_copy(points)
    out = ctypes.create_string_buffer(len(points))

    def run(start: int, stop: int) -> int | None:
        byref, mult = ctypes.byref, _SCALARMULT
        for i in range(start, stop):
            offset = POINT_BYTES * i
            if mult(byref(out, offset), scalar, byref(source, offset)) != 0:
                return i
        return None

    bad = _spread(run, count, workers)
    if bad is not None:
        raise PeerMessageError(what, f"point {bad}", "is not a valid ristretto255 point")
    return out.raw


def validate_points(points: bytes, what: str, workers: int = 1) -> int:
    """Check a set that is compared but not multiplied: whole points, each valid.

    Args:
        points: a packed set from the peer.
        what: the message the points came in, named in an error.
        workers: threads to spread the work over.

    Returns:
        How many points the set holds.

    Raises:
        PeerMessageError: not a whole number of points, or one is not the canonical
            encoding of a ristretto255 point other than the identity (the first such
            position is named).
    """
    count = point_count(points, what)
    source = (ctypes.c_char * len(points)).from_buffer_copy(points)

    def run(start: int, stop: int) -> int | None:
        byref, valid = ctypes.byref, _IS_VALID
        for i in range(start, stop):
            offset = POINT_BYTES * i
            if valid(byref(source, offset)) != 1 or points[offset : offset + 32] == _IDENTITY:
                return i
        return None

    bad = _spread(run, count, workers)
    if bad is not None:
        raise PeerMessageError(what, f"point {bad}", "is not a valid ristretto255 point")
    return count


def refuse_repeats(points: bytes, what: str) -> None:
    """Check that a packed set from the peer holds no point twice (one per customer).

    Args:
        points: a packed set whose length is a multiple of 32.
        what: the message the points came in, named in an error.

    Raises:
        PeerMessageError: a point repeats an earlier one (the first repeat is named).
    """
    split = split_points(points)
    if len(set(split)) == len(split):
        return
    seen: set[bytes] = set()
    for index, point in enumerate(split):
        if point in seen:
            raise PeerMessageError(what, f"point {index}", "repeats an earlier point")
        seen.add(point)


def _spread(run: Callable[[int, int], int | None], count: int, workers: int) -> int | None:
    """Run `run(start, stop)` over `range(count)` in `workers` chunks; the lowest failure."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if workers == 1 or count < 2 * workers:
        return run(0, count)
    bounds = [count * k // workers for k in range(workers + 1)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(run, bounds[:-1], bounds[1:]))
    failures = [index for index in results if index is not None]
    return min(failures) if failures else None
