"""A model bundle: a finished run's copy with its card and development profile.

It is sealed by the registry key's signature of a manifest of every file.

Layout of a bundle (`models/<version>/` in the registry):

    run/              copy of the run directory (model/, summary.json, metrics.json,
                      privacy.json, ledger_heads.json, ...; the resume checkpoints are
                      left out)
    card.json         the model card (its parties' figures from their signed ledger entries)
    development.json  the development profile (reason-code baseline, score distribution
                      for PSI, its grades)
    manifest.json     SHA-256 of every file above
    manifest.sig      the registry key's signature of the manifest

The card and profile are made from the copy, not from the original run directory, so
what is signed is what was checked.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.core.artifact import load_model
from fedscore.core.documents import write_json
from fedscore.core.errors import ConfigError
from fedscore.core.files import write_bytes_atomic
from fedscore.core.signing import SigningKey, signature_valid
from fedscore.core.typed_config import SAFE_NAME_PATTERN, SAFE_NAME_RULE
from fedscore.privacy.ledger.chain import canonical
from fedscore.scoring.config import ScoringConfig
from fedscore.scoring.development import DevelopmentProfile
from fedscore.scoring.registry.card import ModelCard, read_run_file
from fedscore.scoring.registry.errors import RegistryError
from fedscore.scoring.registry.index import IndexEntry
from fedscore.scoring.registry.manifest import (
    build_manifest,
    manifest_differences,
    manifest_sha256,
)
from fedscore.scoring.registry.signed_spend import signed_party_cards

RUN_COPY = "run"
CARD = "card.json"
DEVELOPMENT = "development.json"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
#: Run-directory entries not copied: resume checkpoints (weights of unfinished rounds).
NOT_COPIED = ("checkpoint",)

Document = TypeVar("Document")


def stage_run(
    run_dir: Path,
    staging: Path,
    keys: Path,
    number_for: Callable[[str], int],
    development: Path | None,
    config: ScoringConfig,
) -> tuple[ModelCard, int]:
    """Copy a finished run into `staging` and write its card and development profile.

    Args:
        run_dir: the run directory.
        staging: an empty folder that becomes the bundle.
        keys: the consortium's key list the parties' signed ledger entries verify with.
        number_for: the next version number of a task.
        development: the development data (default: the run's consortium test set).
        config: the scoring configuration that shapes the stored score distribution.

    Returns:
        The card and its version number.

    Raises:
        ConfigError: not a finished run, or no development data.
        RegistryError: the run changed while copied, or its signed ledger entries do not
            verify or contradict its summary.json.
    """
    run_manifest = build_manifest(run_dir, skip=NOT_COPIED)
    copy = staging / RUN_COPY
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns(*NOT_COPIED))
    if run_manifest != build_manifest(copy):
        raise RegistryError(f"{run_dir}: the run directory changed while it was copied")
    task = str(read_run_file(copy / "summary.json")["task"])
    if not re.fullmatch(SAFE_NAME_PATTERN, task):
        # The version names the bundle's folder: a task name could otherwise leave it.
        raise RegistryError(
            f"{run_dir}: its summary.json names a task that is not {SAFE_NAME_RULE}"
        )
    parties = signed_party_cards(copy, keys, named=run_dir)
    number = number_for(task)
    card = ModelCard.from_run(copy, f"{task}-v{number}", manifest_sha256(run_manifest), parties)
    model = load_model(copy)
    profile = DevelopmentProfile.build(
        model, development or _consortium_test(copy, run_dir), config
    )
    write_json(staging / CARD, card.as_dict())
    write_json(staging / DEVELOPMENT, profile.as_dict())
    return card, number


def seal(staging: Path, signer: SigningKey) -> tuple[str, str]:
    """Write the manifest of every file in `staging` and the signer's signature of it.

    Returns:
        The manifest's SHA-256 and the signature (hex).
    """
    manifest = build_manifest(staging)
    signature = signer.sign(canonical(manifest)).hex()
    write_json(staging / MANIFEST, manifest)
    write_bytes_atomic(staging / SIGNATURE, (signature + "\n").encode("ascii"))
    return manifest_sha256(manifest), signature


def verify_bundle(folder: Path, entry: IndexEntry, key: Ed25519PublicKey) -> ModelCard:
    """Check a bundle's signature, every file, and that it is the entry's version.

    Args:
        folder: the bundle folder.
        entry: its entry in the registry index.
        key: the registry's public key.

    Returns:
        Its signed model card.

    Raises:
        RegistryError: naming what does not verify.
    """
    manifest = read_manifest(folder)
    if manifest_sha256(manifest) != entry.manifest_sha256:
        raise RegistryError(f"{entry.version}: its manifest differs from the registry index")
    check_sealed(folder, manifest, entry.signature, key, entry.version)
    card = _read(folder / CARD, ModelCard.from_dict)
    if card.version != entry.version:
        raise RegistryError(f"{entry.version}: its bundle is signed as {card.version}")
    return card


def read_manifest(folder: Path) -> dict[str, str]:
    """A sealed folder's manifest (relative path → SHA-256), not yet verified.

    Raises:
        RegistryError: it is missing or not JSON.
    """
    try:
        manifest: dict[str, str] = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RegistryError(f"{folder / MANIFEST}: unreadable ({exc})") from exc
    return manifest


def check_sealed(
    folder: Path, manifest: dict[str, str], signature: str, key: Ed25519PublicKey, label: str
) -> None:
    """Check that the registry key signed `manifest` and that `folder` holds exactly its files.

    Args:
        folder: the sealed folder (a model bundle, a decision strategy).
        manifest: its manifest.
        signature: the signature of the manifest (hex).
        key: the registry's public key.
        label: what the folder is, for errors ("default_risk-v2").

    Raises:
        RegistryError: the signature does not verify, or a file changed, is missing or added.
    """
    try:
        signed = bytes.fromhex(signature)
    except ValueError:
        signed = b""
    if not signature_valid(key, canonical(manifest), signed):
        raise RegistryError(
            f"{label}: the manifest's signature does not verify with the registry's public key"
        )
    problems = manifest_differences(folder, manifest, skip=(MANIFEST, SIGNATURE))
    if problems:
        raise RegistryError(
            f"{label}: the bundle does not match its signed manifest: " + "; ".join(problems[:5])
        )


def read_development(folder: Path) -> DevelopmentProfile:
    """The development profile of a bundle (verify it first: `verify_bundle`)."""
    return _read(folder / DEVELOPMENT, DevelopmentProfile.from_dict)


def _read(path: Path, parse: Callable[[dict[str, Any]], Document]) -> Document:
    try:
        return parse(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RegistryError(f"{path}: unreadable ({exc})") from exc


def _consortium_test(run_copy: Path, run_dir: Path) -> Path:
    """The consortium test set the run names (its copy's run_config.json).

    Errors name the original `run_dir`.
    """
    path = str(read_run_file(run_copy / "run_config.json").get("consortium_test") or "")
    if not path or not Path(path).is_file():
        raise ConfigError(
            f"{run_dir}: the run names no readable consortium test set; give the development "
            "data (features and label) with --development"
        )
    return Path(path)
