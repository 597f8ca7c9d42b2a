"""Reproducible app releases: one git commit, one Flower App Bundle (FAB), one sha256.

Institutions execute only app releases their operators approved, named by the FAB's
SHA-256 (Flower's FAB hash). A release is built from a commit's git objects, never the
working tree, by Flower's own `build_fab_from_files` (so .gitignore and fab-include/
fab-exclude apply as under `flwr run`): one commit, the same bytes on any machine. It ships
as `fedscore-<version>-<sha12>.fab` beside `.release.json`: a `ReleaseStatement` and
Ed25519 signatures of it (`release_statement`). `flwr run` on `submittable_copy(fab, dir)`
(`fab_unpack`) submits it unchanged.

The statement, signature, unpacking and git names stay importable from here.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fedscore.core.errors import ConfigError
from fedscore.core.files import write_bytes_atomic
from fedscore.deployment.fab_unpack import (
    FAB_INFO_DIR,
    MAX_UNPACKED_BYTES,
    app_file_count,
    submittable_copy,
    unpack_release,
)
from fedscore.deployment.git_commits import commit_files, read_blobs, working_tree_commit
from fedscore.deployment.release_statement import (
    RELEASE_SCHEMA,
    VERSION_PATTERN,
    ReleaseFile,
    ReleaseSignature,
    ReleaseStatement,
    read_release_file,
    sign_release,
    verify_release_signature,
    write_release_file,
)

__all__ = [
    "FAB_INFO_DIR",
    "MAX_UNPACKED_BYTES",
    "RELEASE_SCHEMA",
    "Release",
    "ReleaseFile",
    "ReleaseSignature",
    "ReleaseStatement",
    "build_release",
    "read_release_file",
    "sign_release",
    "submittable_copy",
    "unpack_release",
    "verify_release_signature",
    "working_tree_commit",
    "write_release",
    "write_release_file",
]


@dataclass(frozen=True)
class Release:
    """A FAB built from one git commit.

    Attributes:
        fab: the FAB's bytes, as Flower would submit them.
        sha256: hex SHA-256 of `fab`.
        version: the `[project] version` of pyproject.toml at `commit`.
        commit: the full git commit id.
        files: the app's files in the FAB (pyproject.toml included, Flower's `.info/` not).
    """

    fab: bytes = field(repr=False)
    sha256: str
    version: str
    commit: str
    files: int

    @property
    def statement(self) -> ReleaseStatement:
        """What a release signature of this release vouches for."""
        return ReleaseStatement(app_sha256=self.sha256, version=self.version, commit=self.commit)

    @property
    def name(self) -> str:
        """The release's file name stem: `fedscore-<version>-<first 12 of sha256>`."""
        return f"fedscore-{self.version}-{self.sha256[:12]}"


def build_release(repo: Path, commit: str = "HEAD") -> Release:
    """Build the FAB of `commit` from git objects, as `flwr run` would build that checkout.

    Args:
        repo: the app's folder in a git repository (usually the repository root).
        commit: any git revision naming a commit (branch, tag, id).

    Returns:
        The release: the FAB's bytes, its SHA-256, the app version and the full commit id.

    Raises:
        ConfigError: not a git repository, no such commit, or Flower refuses the app.
    """
    from fedscore.core.flower_compat.fab import build_fab_from_files, filter_paths_for_publish

    full_id, blobs = commit_files(repo, commit)
    if "pyproject.toml" not in blobs:
        raise ConfigError(f"{repo}: commit {full_id} has no pyproject.toml")
    try:
        # Read only what Flower keeps (path rules and .gitignore), not data files.
        gitignore = read_blobs(repo, {k: v for k, v in blobs.items() if k == ".gitignore"})
        wanted = filter_paths_for_publish({path: b"" for path in blobs} | gitignore)
        files = read_blobs(repo, {path: blobs[path] for path in sorted(wanted)})
        fab, _ = build_fab_from_files(files)
    except ValueError as exc:  # Flower's own refusals (patterns, depth, size, config)
        raise ConfigError(f"{repo}: Flower cannot build commit {full_id}: {exc}") from exc
    version = tomllib.loads(files["pyproject.toml"].decode("utf-8"))["project"].get("version")
    if not isinstance(version, str) or not VERSION_PATTERN.fullmatch(version):
        raise ConfigError(f"{repo}: pyproject.toml at {full_id} has no plain [project] version")
    return Release(fab, hashlib.sha256(fab).hexdigest(), version, full_id, app_file_count(fab))


def write_release(
    release: Release, out_dir: Path, signatures: Iterable[ReleaseSignature] = ()
) -> tuple[Path, Path]:
    """Write `<name>.fab` and `<name>.release.json` into `out_dir`, atomically.

    Args:
        release: the release.
        out_dir: the folder (created if missing).
        signatures: signatures to add; those of an existing release file of the same
            statement are kept (one per key).

    Returns:
        The paths of the FAB and of its release file.

    Raises:
        ConfigError: `out_dir` holds another statement (same app, other commit) by that name.
    """
    fab_path = out_dir / f"{release.name}.fab"
    json_path = out_dir / f"{release.name}.release.json"
    kept: tuple[ReleaseSignature, ...] = ()
    if json_path.exists():
        existing = read_release_file(json_path)
        if existing.statement != release.statement:
            raise ConfigError(
                f"{json_path}: holds the same app from commit {existing.statement.commit}; "
                "write this release into another folder"
            )
        kept = existing.signatures
    write_bytes_atomic(fab_path, release.fab)
    merged = {s.public_key: s for s in (*kept, *signatures)}
    write_release_file(json_path, ReleaseFile(release.statement, tuple(merged.values())))
    return fab_path, json_path
