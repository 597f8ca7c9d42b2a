"""A folder's manifest: the SHA-256 of every file in it, signed as one canonical document.

The manifest of a model bundle lists every file (relative POSIX path → SHA-256). Its
canonical bytes (sorted keys, no whitespace) are what the registry key signs, so one
Ed25519 check plus re-hashing the files proves that nothing in the bundle changed,
was added or was removed since registration.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fedscore.core.tabular import file_sha256
from fedscore.privacy.ledger.chain import canonical


def build_manifest(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Relative path → SHA-256 of every file under `folder`.

    Args:
        folder: the folder.
        skip: top-level entries left out (e.g. the run's resume checkpoints).
    """
    return {
        path.relative_to(folder).as_posix(): file_sha256(path)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.relative_to(folder).parts[0] not in skip
    }


def manifest_sha256(manifest: dict[str, str]) -> str:
    """The SHA-256 (hex) of a manifest (file → sha256) in canonical JSON: what is signed."""
    return hashlib.sha256(canonical(manifest)).hexdigest()


def manifest_differences(
    folder: Path, manifest: dict[str, str], skip: tuple[str, ...] = ()
) -> list[str]:
    """How `folder` differs from `manifest`: changed, missing and unlisted files.

    Args:
        folder: the folder to check.
        manifest: the files it should hold, relative path → sha256.
        skip: top-level entries not compared (e.g. the manifest and its signature).
    """
    found = build_manifest(folder, skip)
    problems = [
        f"{name}: changed"
        for name in sorted(manifest)
        if name in found and found[name] != manifest[name]
    ]
    problems += [f"{name}: missing" for name in sorted(set(manifest) - set(found))]
    problems += [
        f"{name}: not in the signed manifest" for name in sorted(set(found) - set(manifest))
    ]
    return problems
