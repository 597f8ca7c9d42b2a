"""The node's cache of its de-identified, encoded table, kept in its state folder.

Reading, validating, scanning, pseudonymizing and encoding a party's table is the
costliest thing a node does outside training (about 37 s at 1.3 million rows), and
every message used to do it again: Flower ships the ClientApp afresh with every task and
a deployed node starts a new process for every message. The result depends only on
inputs the node can name, so it is kept on disk, under `<state_dir>/data-cache/`, keyed
by all of them (`cache_key`): the data file's content hash (the data version), the
consent table's content hash and the date consent is evaluated at, the task schema, the
de-identification rules, the pseudonymization key, the hold-out share and fedscore's
version and cache format. A changed input is a miss: the table is loaded in full and
the entry replaced. A withdrawal (a changed consent table) therefore takes effect at
the next round and an expiry the next day, as without the cache.

An entry holds only what training and evaluation use after de-identification: the
encoded float32 features, the labels, split into training and validation rows, and the
de-identification report (counts, hashes and versions). No identifier, pseudonym or
field value of the table is stored. Entries are owner-only (0600 in a 0700 folder),
written whole (temporary file, fsync, rename) and read with `allow_pickle=False`; an
entry that is unreadable, truncated, inconsistent or recorded for another key is a miss,
logged, removed and rewritten.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
import os
import tempfile
import time
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from fedscore import __version__
from fedscore.clients.local_data import PartyData, load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.core.schema import TaskSchema
from fedscore.core.tabular import file_sha256
from fedscore.privacy.deidentification import DeidentificationReport
from fedscore.privacy.keys import KeyRing, check_apart

logger = logging.getLogger(__name__)

#: Bumped whenever what an entry holds, or how it is computed, changes.
CACHE_FORMAT = 1
#: The cache's folder inside the node's state folder.
CACHE_FOLDER = "data-cache"
#: A temporary file older than this was left by a process that died mid-write.
_ABANDONED_SECONDS = 3600.0
_ARRAYS = ("train_x", "train_y", "valid_x", "valid_y")
_KEY_LABEL = b"fedscore data cache: key fingerprint"


class PartyDataComputer(Protocol):
    """How a node loads its table in full (`load_party_data`)."""

    def __call__(
        self, node: NodeConfig, schema: TaskSchema, as_of: date | None = None
    ) -> PartyData: ...


def encoded_party_data(
    node: NodeConfig, schema: TaskSchema, as_of: date | None = None
) -> PartyData:
    """`load_party_data` without the de-identified rows (the cache stores encoded rows only)."""
    return load_party_data(node, schema, as_of, keep_rows=False)


def cache_key(node: NodeConfig, schema: TaskSchema, as_of: date) -> dict[str, str]:
    """Everything the de-identified, encoded table depends on, as recorded in an entry.

    Args:
        node: the node: its table, consent records, keys and hold-out share.
        schema: the task: roles, de-identification rules, encoding.
        as_of: the date consent is evaluated at.

    Raises:
        ConfigError: the keys are missing, readable by others or kept beside the data.
    """
    check_apart(node.keys, node.data_path)
    key = KeyRing(node.keys, schema.purpose).current()
    rules = schema.deidentification
    return {
        "cache_format": str(CACHE_FORMAT),
        "fedscore_version": __version__,
        "party": node.party,
        "data_path": str(node.data_path),
        "data_sha256": file_sha256(node.data_path),
        "consent_sha256": file_sha256(node.consent_table) if node.consent_table else "",
        "consent_basis": repr(node.consent_basis),
        "as_of": as_of.isoformat(),
        "task": schema.name,
        "schema_sha256": schema.sha256,
        # The schema as loaded, whole: also covers a schema that was not read from a file.
        "schema_repr_sha256": hashlib.sha256(repr(schema).encode("utf-8")).hexdigest(),
        "rules_version": rules.rules_version,
        "pseudonymizer": rules.pseudonymizer,
        "key_version": str(key.version),
        "key_algorithm": key.algorithm,
        # A one-way fingerprint of the secret: a replaced key of the same version misses.
        "key_fingerprint": hmac.new(key.secret, _KEY_LABEL, hashlib.sha256).hexdigest(),
        "validation_fraction": repr(node.validation_fraction),
    }


def entry_path(node: NodeConfig, schema: TaskSchema) -> Path:
    """Where the node keeps its cached table for `schema`'s task (one entry per task)."""
    slot = hashlib.sha256(f"{node.party}\0{schema.name}\0{schema.purpose}".encode()).hexdigest()
    return node.state_dir / CACHE_FOLDER / f"{slot[:24]}.npz"


class PartyDataCache:
    """Loads a node's table from its on-disk cache, computing it only when an input changed.

    Callable like `load_party_data` (a `PartyDataLoader`). The `train_rows` of what it
    returns are None: de-identified rows before encoding are never stored.

    Args:
        compute: how the table is loaded in full on a miss (the seam tests count calls of).
        remember: also keep the latest entry of each task in memory, so a process that
            answers several messages returns the same object while no input changed
            (the inputs are still hashed every time).
    """

    def __init__(
        self, compute: PartyDataComputer = encoded_party_data, remember: bool = False
    ) -> None:
        self._compute = compute
        self._remember = remember
        self._memory: dict[Path, tuple[dict[str, str], PartyData]] = {}

    def __call__(
        self, node: NodeConfig, schema: TaskSchema, as_of: date | None = None
    ) -> PartyData:
        """The node's de-identified, encoded table, from the cache when its inputs are unchanged.

        Args:
            node: the node.
            schema: the task.
            as_of: the date consent is evaluated at; today (UTC) by default.

        Raises:
            FedscoreError: the table cannot be loaded (as `load_party_data`).
        """
        day = as_of or datetime.now(UTC).date()
        key = cache_key(node, schema, day)
        path = entry_path(node, schema)
        remembered = self._memory.get(path)
        if remembered is not None and remembered[0] == key:
            return remembered[1]
        data = read_entry(path, key, remove_unusable=self.removes_unusable)
        if data is None:
            data = dataclasses.replace(self._compute(node, schema, day), train_rows=None)
            self.store(path, key, data)
        if self._remember:
            self._memory[path] = (key, data)
        return data

    #: Whether an unusable entry found in the state folder is removed when read.
    removes_unusable = True

    def store(self, path: Path, key: dict[str, str], data: PartyData) -> None:
        """Keep a freshly computed table as the entry at `path` (`write_entry`)."""
        write_entry(path, key, data)


def load_cached_party_data(node: NodeConfig, schema: TaskSchema) -> PartyData:
    """`load_party_data` through the node's on-disk cache (`PartyDataCache`)."""
    return PartyDataCache()(node, schema)


def read_entry(path: Path, key: dict[str, str], remove_unusable: bool = True) -> PartyData | None:
    """The cached table at `path` if it was recorded for `key`, else None (a miss).

    An entry that exists but cannot be used (unreadable, truncated, inconsistent, or for
    other inputs) is logged and, if `remove_unusable`, removed.
    """
    try:
        with np.load(path, allow_pickle=False) as entry:
            recorded = _json_of(entry["key"])
            if not isinstance(recorded, dict):
                raise ValueError("the recorded key is not a JSON object")
            if recorded != key:
                changed = sorted(name for name in key if recorded.get(name) != key[name])
                logger.info("%s: inputs changed (%s); reloading the table", path, changed)
                if remove_unusable:
                    path.unlink(missing_ok=True)
                return None
            arrays = {name: entry[name] for name in _ARRAYS}
            report = DeidentificationReport.from_dict(_json_of(entry["report"]))
        _check_arrays(arrays)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as problem:
        logger.warning(
            "%s: unusable data cache entry (%s: %s); reloading the table",
            path,
            type(problem).__name__,
            problem,
        )
        if remove_unusable:
            path.unlink(missing_ok=True)
        return None
    return PartyData(
        data_version=key["data_sha256"],
        train_x=arrays["train_x"],
        train_y=arrays["train_y"],
        valid_x=arrays["valid_x"],
        valid_y=arrays["valid_y"],
        report=report,
        train_rows=None,
    )


def write_entry(path: Path, key: dict[str, str], data: PartyData) -> None:
    """Store `data` for `key` at `path`, owner-only and whole; a failure is only logged."""
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(folder, 0o700)
        _remove_abandoned(folder)
        descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=folder)
    except OSError as problem:
        logger.warning("%s: data cache not written (%s)", path, problem)
        return
    tmp = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:  # mkstemp: created 0600
            np.savez(
                handle,
                key=_json_bytes(key),
                report=_json_bytes(data.report.as_dict()),
                train_x=data.train_x,
                train_y=data.train_y,
                valid_x=data.valid_x,
                valid_y=data.valid_y,
            )
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
    except OSError as problem:
        logger.warning("%s: data cache not written (%s)", path, problem)
    finally:
        tmp.unlink(missing_ok=True)


def _json_bytes(document: dict[str, Any]) -> np.ndarray:
    """A JSON document as UTF-8 bytes (uint8: an entry holds numbers only, no objects)."""
    text = json.dumps(document, sort_keys=True, ensure_ascii=False)
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _json_of(stored: np.ndarray) -> Any:
    """The JSON document `_json_bytes` stored (ValueError when it is not one)."""
    if stored.dtype != np.uint8 or stored.ndim != 1:
        raise ValueError(f"not a stored JSON document ({stored.dtype}{stored.shape})")
    return json.loads(stored.tobytes().decode("utf-8"))


def _check_arrays(arrays: dict[str, np.ndarray]) -> None:
    """Raise ValueError unless the arrays are features and labels of matching rows."""
    for part in ("train", "valid"):
        x, y = arrays[f"{part}_x"], arrays[f"{part}_y"]
        if x.dtype != np.float32 or x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"inconsistent {part} arrays {x.dtype}{x.shape}, {y.dtype}{y.shape}")
    if arrays["train_x"].shape[1] != arrays["valid_x"].shape[1]:
        raise ValueError("training and validation rows differ in width")


def _remove_abandoned(folder: Path) -> None:
    """Remove temporary files a process that died mid-write left behind."""
    cutoff = time.time() - _ABANDONED_SECONDS
    for leftover in folder.glob(".*.partial"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except FileNotFoundError:
            continue
