"""Label differential privacy: randomized response on binary labels, released once.

In vertical federated learning the label holder (the bank) sends the other party
nothing but what its training needs; where that includes (a function of) the labels,
they are released under label DP. Randomized response keeps each label with
probability ``1 - p`` and flips it with probability ``p = 1/(1+e^ε)``: the odds of any
released label under either true label are at most ``e^ε``, so the release is ε-DP for
each label (pure ε, δ = 0). What is computed from the release is post-processing.

The release is unbiased after debiasing: ``E[ỹ] = p + (1-2p)·y``, so
``(ỹ - p)/(1 - 2p)`` has expectation ``y``. The binary cross-entropy gradient with
respect to the logit, ``σ(z) - y``, is linear in ``y``: training on the debiased labels
gives unbiased gradients (with more variance as ε falls).

A release must be made once per label version and epsilon: drawing fresh noise for the
same labels again would let the two releases be averaged, spending the budget again.
`LabelReleaseStore` keeps each release owner-only on disk and hands back the same noisy
labels every time it is asked, saying whether this call made it (`LabelRelease.new`),
so the caller charges the label budget only then.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import numbers
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fedscore.core.errors import ConfigError, TableProblem, TableReadError, TableValidationError
from fedscore.core.files import write_private
from fedscore.core.untrusted_documents import parse_json

#: What a stored release file declares itself to be.
RELEASE_FORMAT = "fedscore-label-release/1"
_VERSION_TAG = b"fedscore-label-version/1\n"
_LABEL_VERSION = re.compile(r"[0-9a-f]{64}")

Labels = npt.NDArray[np.int8]


class RandomizedResponse:
    """Randomized response for binary labels: each label flipped with probability p.

    Args:
        epsilon: the privacy parameter ε of each label (finite, > 0); the flip
            probability is ``1/(1+e^ε)``.

    Raises:
        ConfigError: `epsilon` is not a finite number above 0, or so small that the
            release carries no information a float can debias.
    """

    def __init__(self, epsilon: float) -> None:
        if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real):
            raise ConfigError("label DP epsilon must be a number")
        value = float(epsilon)
        if not math.isfinite(value) or value <= 0:
            raise ConfigError("label DP epsilon must be finite and greater than 0")
        # 1 - 2p = tanh(ε/2), computed without cancellation (as is p, from e^-ε <= 1).
        self._signal: float = math.tanh(value / 2)
        if self._signal == 0 or not math.isfinite(1 / self._signal):
            raise ConfigError("label DP epsilon is too small to release anything usable")
        self.epsilon: float = value
        self._flip: float = math.exp(-value) / (1 + math.exp(-value))

    @property
    def flip_probability(self) -> float:
        """The chance p = 1/(1+e^ε) that a released label differs from the true one."""
        return self._flip

    def release(self, labels: npt.ArrayLike, rng: np.random.Generator) -> Labels:
        """The noisy labels: each one flipped independently with `flip_probability`.

        Args:
            labels: the true labels, one per row: exactly 0 or 1 (ints, bools or floats).
            rng: the random source of the flips; it must be secret and unpredictable to
                everyone the release goes to (seed it from the OS, never from a fixed seed
                outside tests).

        Returns:
            The released labels (int8, 0 or 1), row for row.

        Raises:
            TableValidationError: a label is not exactly 0 or 1 (the message names the row).
        """
        truth = binary_labels(labels)
        flips = rng.random(len(truth)) < self.flip_probability
        released: Labels = np.where(flips, 1 - truth, truth).astype(np.int8)
        return released

    def debiased(self, noisy: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Unbiased estimates of the true labels: (ỹ - p)/(1 - 2p), row for row.

        Args:
            noisy: labels released by this mechanism (0 or 1).

        Returns:
            ``(1-p)/(1-2p)`` where 1 was released, ``-p/(1-2p)`` where 0 was.

        Raises:
            TableValidationError: a label is not exactly 0 or 1 (the message names the row).
        """
        released = binary_labels(noisy, source="released labels").astype(np.float64)
        estimate: npt.NDArray[np.float64] = (released - self.flip_probability) / self._signal
        return estimate


def binary_labels(labels: npt.ArrayLike, source: str = "labels") -> Labels:
    """`labels` as an int8 array of 0 and 1, refusing anything else.

    Args:
        labels: one label per row (a 1-D array or sequence).
        source: how error messages name the labels.

    Returns:
        The labels as int8.

    Raises:
        TableValidationError: the labels are not one-dimensional, or a label is not
            exactly 0 or 1; the message names the row (1-based) and its index (0-based),
            never the value.
    """
    array = np.asarray(labels)
    if array.ndim != 1:
        problem = TableProblem(None, None, f"labels must be one-dimensional, not {array.ndim}-D")
        raise TableValidationError(source, [problem], 1, header_lines=0)
    if array.dtype == np.bool_:
        return array.astype(np.int8)
    if array.dtype.kind in "iuf":
        good = (array == 0) | (array == 1)
    else:
        kinds = (bool, int, float)
        good = np.array([type(v) in kinds and v in (0, 1) for v in array.tolist()], bool)
    bad = np.flatnonzero(~good)
    if len(bad):
        shown = bad[: TableValidationError.max_reported]
        problems = [
            TableProblem(int(i) + 1, None, f"label is not 0 or 1 (index {int(i)})") for i in shown
        ]
        raise TableValidationError(source, problems, len(bad), header_lines=0)
    return array.astype(np.int8)


def label_version(keys: Sequence[str], labels: npt.ArrayLike) -> str:
    """The version of a label column: sha256 over its (row key, label) pairs, in order.

    Order matters because a release is positional: the same rows in another order are
    another version, so they get (and are charged for) a release of their own. Sort the
    rows (e.g. by join key) before asking, to keep one version per label set.

    Args:
        keys: each row's key (e.g. its join key in the intersection).
        labels: each row's label (0 or 1).

    Returns:
        64 lower-case hex digits.

    Raises:
        ConfigError: `keys` and `labels` differ in length, or a key is not a string.
        TableValidationError: a label is not exactly 0 or 1.
    """
    truth = binary_labels(labels)
    if len(keys) != len(truth):
        raise ConfigError(f"{len(keys)} row keys but {len(truth)} labels")
    digest = hashlib.sha256(_VERSION_TAG)
    for index, (key, label) in enumerate(zip(keys, truth.tolist(), strict=True)):
        if not isinstance(key, str):
            raise ConfigError(f"row key at index {index} is not a string")
        encoded = key.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big") + encoded + bytes((label,)))
    return digest.hexdigest()


@dataclass(frozen=True)
class LabelRelease:
    """Noisy labels released once for a label version and epsilon.

    Attributes:
        label_version: the version of the true labels (`label_version`).
        epsilon: the label DP epsilon of the release.
        labels: the released labels (int8, 0 or 1; read-only), row for row.
        new: whether this call made the release (charge the label budget only then).
        path: the file the release is stored in.
    """

    label_version: str
    epsilon: float
    labels: Labels
    new: bool
    path: Path

    @property
    def mechanism(self) -> RandomizedResponse:
        """The mechanism the release was made with."""
        return RandomizedResponse(self.epsilon)

    def debiased(self) -> npt.NDArray[np.float64]:
        """Unbiased estimates of the true labels (see `RandomizedResponse.debiased`)."""
        return self.mechanism.debiased(self.labels)


class LabelReleaseStore:
    """Each label version's releases, made once and kept owner-only on disk.

    One file per (label version, epsilon), 0600 in a 0700 folder, written whole (a
    temporary file linked into place, so a crash leaves no half-written release and two
    processes asking at once end up with the same one). A stored file is never replaced.

    Args:
        directory: the folder of the release files (created on the first release).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path_for(self, label_version: str, epsilon: float) -> Path:
        """The file of the release of `label_version` at `epsilon`.

        Args:
            label_version: a version from `label_version` (64 lower-case hex digits).
            epsilon: the label DP epsilon.

        Raises:
            ConfigError: `label_version` is not a sha256 hex digest, or `epsilon` is invalid.
        """
        if not isinstance(label_version, str) or not _LABEL_VERSION.fullmatch(label_version):
            raise ConfigError("label version must be 64 lower-case hex digits (a sha256)")
        value = RandomizedResponse(epsilon).epsilon
        return self.directory / f"{label_version}-eps{value!r}.json"

    def release_for(
        self,
        label_version: str,
        labels: npt.ArrayLike,
        epsilon: float,
        rng: np.random.Generator | None = None,
    ) -> LabelRelease:
        """The release of `labels` at `epsilon`: the stored one, or a new one stored first.

        Args:
            label_version: the version of `labels` (`label_version` of their rows).
            labels: the true labels (0 or 1), the very ones `label_version` was computed
                from; noised only when no release is stored yet (else only counted).
            epsilon: the label DP epsilon (finite, > 0).
            rng: the random source of a new release; None (the default outside tests):
                seeded with 256 bits from the operating system.

        Returns:
            The release; `new` is True only when this call made it.

        Raises:
            ConfigError: `label_version` or `epsilon` is invalid.
            TableValidationError: a label is not exactly 0 or 1.
            TableReadError: the stored release is unreadable, corrupt or does not match
                (version, epsilon or number of rows); it is left as it is.
            OSError: the release could not be written (nothing is left behind).
        """
        path = self.path_for(label_version, epsilon)
        mechanism = RandomizedResponse(epsilon)
        truth = binary_labels(labels)
        if path.exists():
            return self._stored(path, label_version, mechanism.epsilon, len(truth))
        source = rng if rng is not None else np.random.default_rng(secrets.randbits(256))
        noisy = mechanism.release(truth, source)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        if not write_private(path, _encode(label_version, mechanism.epsilon, noisy), True):
            # Another process stored this release first: theirs is the release.
            return self._stored(path, label_version, mechanism.epsilon, len(truth))
        noisy.setflags(write=False)
        return LabelRelease(label_version, mechanism.epsilon, noisy, True, path)

    def _stored(self, path: Path, version: str, epsilon: float, rows: int) -> LabelRelease:
        labels = _decode(path, version, epsilon, rows)
        labels.setflags(write=False)
        return LabelRelease(version, epsilon, labels, False, path)


def _encode(version: str, epsilon: float, noisy: Labels) -> bytes:
    packed = np.packbits(noisy.astype(np.uint8)).tobytes()
    document = {
        "format": RELEASE_FORMAT,
        "label_version": version,
        "epsilon": epsilon,
        "flip_probability": RandomizedResponse(epsilon).flip_probability,
        "rows": len(noisy),
        "labels": base64.b64encode(packed).decode("ascii"),
        "labels_sha256": hashlib.sha256(packed).hexdigest(),
    }
    return (json.dumps(document, sort_keys=True, indent=1) + "\n").encode("utf-8")


def _decode(path: Path, version: str, epsilon: float, rows: int) -> Labels:
    """The labels stored at `path`, checked against what the caller expects."""
    try:
        document = parse_json(path.read_bytes().decode("utf-8"))
        if not isinstance(document, dict) or document.get("format") != RELEASE_FORMAT:
            raise ValueError("not a label release")
        packed = base64.b64decode(document["labels"], validate=True)
        stored_rows = document["rows"]
        if not isinstance(stored_rows, int) or not 0 <= stored_rows <= 8 * len(packed):
            raise ValueError("bad row count")
        if hashlib.sha256(packed).hexdigest() != document["labels_sha256"]:
            raise ValueError("checksum mismatch")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as problem:
        raise TableReadError(
            f"{path}: stored label release is unreadable or corrupt ({type(problem).__name__}); "
            "it was left as it is: move it aside only if no model was trained on it"
        ) from problem
    if document.get("label_version") != version or document.get("epsilon") != epsilon:
        raise TableReadError(f"{path}: stored label release is of another version or epsilon")
    if stored_rows != rows:
        raise TableReadError(
            f"{path}: stored label release has {stored_rows} rows, the labels have {rows}"
        )
    bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8))[:rows]
    return bits.astype(np.int8)
