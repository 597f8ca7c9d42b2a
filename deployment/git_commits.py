"""A commit's files, read from git objects, never from the working tree.

Releases are built from one commit: the same bytes on any machine, whatever the checkout
holds. git runs unaffected by the caller's GIT_* variables and replace refs.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from fedscore.core.errors import ConfigError


def git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """Run git in `repo` unaffected by the caller's GIT_* variables and replace refs.

    Args:
        repo: the folder git runs in (`git -C`).
        *args: git's subcommand and its arguments.
        stdin: bytes fed to git's standard input.

    Returns:
        git's standard output.

    Raises:
        ConfigError: git is not installed or exits with a non-zero status.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    try:
        done = subprocess.run(
            ["git", "--no-replace-objects", "-C", str(repo), *args],
            input=stdin,
            capture_output=True,
            env=env,
            check=False,
        )
    except FileNotFoundError as exc:
        raise ConfigError("git is not installed; releases are built from git commits") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise ConfigError(f"{repo}: git {args[0]} failed: {message}")
    return done.stdout


def commit_files(repo: Path, commit: str) -> tuple[str, dict[str, str]]:
    """The full id of `commit` and its regular files under `repo` as path → blob id.

    Args:
        repo: a folder in a git repository; paths are relative to it.
        commit: any git revision naming a commit.

    Returns:
        The commit's full id and its regular files (no symlinks, no submodules).

    Raises:
        ConfigError: `repo` is no git folder, there is no such commit, or a file name
            is not UTF-8.
    """
    if not repo.is_dir():
        raise ConfigError(f"{repo}: no such folder")
    try:
        prefix = git(repo, "rev-parse", "--show-prefix").decode().strip()
    except ConfigError as exc:
        raise ConfigError(f"{repo}: not a git repository (releases come from commits)") from exc
    try:
        full = git(repo, "rev-parse", "--verify", "--end-of-options", f"{commit}^{{commit}}")
    except ConfigError as exc:
        raise ConfigError(f"{repo}: no commit {commit!r} in this repository") from exc
    full_id = full.decode().strip()
    tree = f"{full_id}:{prefix}" if prefix else f"{full_id}^{{tree}}"
    listing = git(repo, "ls-tree", "-r", "-z", "--full-tree", tree)
    blobs: dict[str, str] = {}
    for entry in filter(None, listing.split(b"\0")):
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, oid = meta.decode().split()
        # Like Flower's collect_files: symlinks are skipped; so are submodules.
        if kind == "blob" and mode in ("100644", "100755"):
            try:
                blobs[raw_path.decode("utf-8")] = oid
            except UnicodeDecodeError as exc:
                raise ConfigError(f"{repo}: a file name at {full_id} is not UTF-8") from exc
    return full_id, blobs


def read_blobs(repo: Path, blobs: Mapping[str, str]) -> dict[str, bytes]:
    """The contents of `blobs`, read in one `git cat-file --batch`.

    Args:
        repo: a folder in the git repository holding the blobs.
        blobs: path → blob id.

    Returns:
        Path → the blob's bytes.

    Raises:
        ConfigError: a blob is missing.
    """
    paths = list(blobs)
    if not paths:
        return {}
    out = git(repo, "cat-file", "--batch", stdin="".join(f"{blobs[p]}\n" for p in paths).encode())
    contents: dict[str, bytes] = {}
    position = 0
    for path in paths:
        end = out.index(b"\n", position)
        header = out[position:end].split()
        if len(header) != 3 or header[1] != b"blob":
            raise ConfigError(f"{repo}: git object of {path} is missing")
        size = int(header[2])
        contents[path] = out[end + 1 : end + 1 + size]
        position = end + 1 + size + 1
    return contents


def working_tree_commit(repo: Path) -> str:
    """HEAD, or HEAD plus the uncommitted changes to tracked files as a new commit object.

    The commit object is written by `git stash create` without touching the working tree,
    the index or the stash. For developers and benchmarks that build a release of the code
    they are running; a consortium's releases name real commits.

    Args:
        repo: a folder in the git repository.

    Returns:
        A commit id, or "HEAD" when nothing tracked has changed.

    Raises:
        ConfigError: `repo` is not a git repository.
    """
    identity = ("-c", "user.name=fedscore", "-c", "user.email=fedscore@localhost")
    created = git(repo, *identity, "stash", "create").decode("ascii").strip()
    return created or "HEAD"
