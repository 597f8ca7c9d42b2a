"""Champion/challenger: a deterministic share of applications to the challenger strategy.

An application goes to the challenger when a 64-bit hash of its application id (salted with
the split's salt) falls in the lowest `share` of the hash range. The id is a correlation id
chosen by the caller (a UUID, a sequence number), never a personal identifier: requests
whose id holds one are refused before any split. The hash (a polynomial over the bytes,
then the SplitMix64 finaliser) runs over all ids at once, so a batch of a million ids is
split without a Python loop over rows, and one application gets the same arm as in a batch.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

_PRIME = 0x100000001B3
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
#: Hashes are turned into [0, 1) through their top 53 bits.
_UNIT = 2.0**-53
#: Arm codes (index into ARMS).
CHAMPION, CHALLENGER = 0, 1
ARMS = ("champion", "challenger")


def unit_hash(ids: np.ndarray, salt: str) -> np.ndarray:
    """A number in [0, 1) for each id, uniform over ids, the same for the same id and salt.

    The id's bytes are read as a polynomial in an odd 64-bit constant (one matrix product
    over all ids, wrapping modulo 2**64), the salt's hash is mixed in, and the SplitMix64
    finaliser spreads the result over the 64 bits.

    Args:
        ids: application ids (text, hashed as UTF-8).
        salt: the split's salt.
    """
    data = np.char.encode(np.asarray(ids, dtype=str), "utf-8")
    rows, width = len(data), max(data.dtype.itemsize, 1)
    octets = np.frombuffer(data.tobytes(), dtype=np.uint8).reshape(rows, width)
    powers = _powers(width)
    h = octets.astype(np.uint64) @ powers
    h = _mix(h ^ _mix(np.frombuffer(salt.encode().ljust(8, b"\0")[:8], dtype=np.uint64)))
    unit: np.ndarray = (h >> np.uint64(11)).astype(np.float64) * _UNIT
    return unit


@functools.cache
def _powers(width: int) -> np.ndarray:
    """_PRIME**1 … _PRIME**width modulo 2**64 (a zero byte of padding adds nothing)."""
    powers = np.empty(width, dtype=np.uint64)
    power = 1
    for k in range(width):
        power = (power * _PRIME) % 2**64
        powers[k] = power
    powers.flags.writeable = False
    return powers


def _mix(h: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser (a bijection of 64-bit words that spreads every bit)."""
    h = (h ^ (h >> np.uint64(30))) * _MIX_1
    h = (h ^ (h >> np.uint64(27))) * _MIX_2
    mixed: np.ndarray = h ^ (h >> np.uint64(31))
    return mixed


@dataclass(frozen=True)
class Split:
    """A champion/challenger split.

    Attributes:
        share: the challenger's share of applications, in (0, 1).
        salt: mixed into every hash; a new salt draws a new split.
    """

    share: float
    salt: str

    def arms(self, ids: np.ndarray) -> np.ndarray:
        """The arm (CHAMPION or CHALLENGER) of each application id; "" goes to the champion.

        Args:
            ids: the application ids.
        """
        ids = np.asarray(ids, dtype=str)
        challenger = (unit_hash(ids, self.salt) < self.share) & (np.char.str_len(ids) > 0)
        return challenger.astype(np.int8)
