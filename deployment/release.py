"""Reproducible app releases: one git commit, one Flower App Bundle (FAB), one sha256.

Institutions execute only app releases their operators approved, named by the FAB's
SHA-256 (Flower's FAB hash). A release is built from a commit's git objects, never the
working tree, by Flower's own `build_fab_from_files` (so .gitignore and fab-include/
fab-exclude apply as under `flwr run`): one commit, the same bytes on any machine. It ships
as `fedscore-<version>-<sha12>.fab` beside `.release.json`: a `ReleaseStatement` and
Ed25519 signatures of it. `flwr run` on `submittable_copy(fab, dir)` submits it unchanged.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import tomllib
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.core.errors import ConfigError
from fedscore.core.files import write_bytes_atomic
from fedscore.core.signing import (
    SigningKey,
    canonical_json,
    public_hex,
    public_key_from_hex,
    signature_valid,
)

RELEASE_SCHEMA = "fedscore-release/1"
#: Flower's own metadata inside a FAB (the CONTENT manifest), rebuilt by Flower.
FAB_INFO_DIR = ".info/"
#: The most an unpacked FAB may hold (Flower caps the zip itself at 10 MB).
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX128 = re.compile(r"[0-9a-f]{128}")
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+!-]*")
_SCHEMA = re.compile(re.escape(RELEASE_SCHEMA))


def _require(field_name: str, value: str, pattern: re.Pattern[str], what: str) -> None:
    if not pattern.fullmatch(value):
        raise ConfigError(f"{field_name}: must be {what}")


@dataclass(frozen=True)
class ReleaseStatement:
    """What a release signature vouches for.

    Attributes:
        app_sha256: hex SHA-256 of the FAB (Flower's FAB hash).
        version: the `[project] version` of the app at `commit`.
        commit: the full git commit id the FAB was built from.
        schema: the statement format, always `RELEASE_SCHEMA`.
    """

    app_sha256: str
    version: str
    commit: str
    schema: str = RELEASE_SCHEMA

    def __post_init__(self) -> None:
        _require("statement.schema", self.schema, _SCHEMA, repr(RELEASE_SCHEMA))
        _require("statement.app_sha256", self.app_sha256, _HEX64, "64 lowercase hex digits")
        _require("statement.version", self.version, _VERSION, "a plain version string")
        _require("statement.commit", self.commit, _COMMIT, "a full lowercase git commit id")

    def signed_bytes(self) -> bytes:
        """The bytes a release signature signs: `canonical_json` of the fields."""
        return canonical_json(asdict(self))


@dataclass(frozen=True)
class ReleaseSignature:
    """One signature of a `ReleaseStatement`.

    Attributes:
        public_key: the signer's Ed25519 public key, 64 hex characters.
        signature: the Ed25519 signature of `ReleaseStatement.signed_bytes()`, in hex.
    """

    public_key: str
    signature: str

    def __post_init__(self) -> None:
        _require("public_key", self.public_key, _HEX64, "64 lowercase hex digits")
        _require("signature", self.signature, _HEX128, "128 lowercase hex digits")

    def valid_for(self, statement: ReleaseStatement) -> bool:
        """Whether this is a correct signature of `statement` by `public_key`."""
        try:
            key = public_key_from_hex(self.public_key)
        except ConfigError:
            return False
        return signature_valid(key, statement.signed_bytes(), bytes.fromhex(self.signature))


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
        return ReleaseStatement(app_sha256=self.sha256, version=self.version, commit=self.commit)

    @property
    def name(self) -> str:
        """The release's file name stem: `fedscore-<version>-<first 12 of sha256>`."""
        return f"fedscore-{self.version}-{self.sha256[:12]}"


@dataclass(frozen=True)
class ReleaseFile:
    """The content of a `<name>.release.json`: a statement and its signatures."""

    statement: ReleaseStatement
    signatures: tuple[ReleaseSignature, ...] = ()


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """Run git in `repo` unaffected by the caller's GIT_* variables and replace refs."""
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


def _commit_files(repo: Path, commit: str) -> tuple[str, dict[str, str]]:
    """The full id of `commit` and its regular files under `repo` as path → blob id."""
    if not repo.is_dir():
        raise ConfigError(f"{repo}: no such folder")
    try:
        prefix = _git(repo, "rev-parse", "--show-prefix").decode().strip()
    except ConfigError as exc:
        raise ConfigError(f"{repo}: not a git repository (releases come from commits)") from exc
    try:
        full = _git(repo, "rev-parse", "--verify", "--end-of-options", f"{commit}^{{commit}}")
    except ConfigError as exc:
        raise ConfigError(f"{repo}: no commit {commit!r} in this repository") from exc
    full_id = full.decode().strip()
    tree = f"{full_id}:{prefix}" if prefix else f"{full_id}^{{tree}}"
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", tree)
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


def _read_blobs(repo: Path, blobs: Mapping[str, str]) -> dict[str, bytes]:
    """The contents of `blobs` (path → blob id), read in one `git cat-file --batch`."""
    paths = list(blobs)
    if not paths:
        return {}
    out = _git(repo, "cat-file", "--batch", stdin="".join(f"{blobs[p]}\n" for p in paths).encode())
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


def build_release(repo: Path, commit: str = "HEAD") -> Release:
    """Build the FAB of `commit` from git objects, as `flwr run` would build that checkout.

    Args:
        repo: the app's folder in a git repository (usually the repository root).
        commit: any git revision naming a commit (branch, tag, id).

    Raises:
        ConfigError: not a git repository, no such commit, or Flower refuses the app.
    """
    from flwr.cli.build import build_fab_from_files
    from flwr.cli.utils import filter_paths_for_publish

    full_id, blobs = _commit_files(repo, commit)
    if "pyproject.toml" not in blobs:
        raise ConfigError(f"{repo}: commit {full_id} has no pyproject.toml")
    try:
        # Read only what Flower keeps (path rules and .gitignore), not data files.
        gitignore = _read_blobs(repo, {k: v for k, v in blobs.items() if k == ".gitignore"})
        wanted = filter_paths_for_publish({path: b"" for path in blobs} | gitignore)
        files = _read_blobs(repo, {path: blobs[path] for path in sorted(wanted)})
        fab, _ = build_fab_from_files(files)
    except ValueError as exc:  # Flower's own refusals (patterns, depth, size, config)
        raise ConfigError(f"{repo}: Flower cannot build commit {full_id}: {exc}") from exc
    version = tomllib.loads(files["pyproject.toml"].decode("utf-8"))["project"].get("version")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise ConfigError(f"{repo}: pyproject.toml at {full_id} has no plain [project] version")
    with zipfile.ZipFile(io.BytesIO(fab)) as archive:
        count = sum(not n.startswith(FAB_INFO_DIR) for n in archive.namelist())
    return Release(fab, hashlib.sha256(fab).hexdigest(), version, full_id, count)


def sign_release(statement: ReleaseStatement, key: SigningKey) -> ReleaseSignature:
    """`key`'s signature of `statement`."""
    return ReleaseSignature(key.public_hex, key.sign(statement.signed_bytes()).hex())


def verify_release_signature(
    statement: ReleaseStatement,
    signature: ReleaseSignature | Iterable[ReleaseSignature],
    trusted: Mapping[str, Ed25519PublicKey],
) -> str:
    """The name of the trusted key that signed `statement`.

    Args:
        statement: the release statement.
        signature: one signature of it, or all of them (any trusted one suffices).
        trusted: the consortium's release keys, name → public key.

    Raises:
        ConfigError: no valid signature by a trusted key.
    """
    signatures = [signature] if isinstance(signature, ReleaseSignature) else list(signature)
    names = {public_hex(key): name for name, key in trusted.items()}
    for candidate in signatures:
        name = names.get(candidate.public_key)
        if name is not None and candidate.valid_for(statement):
            return name
    raise ConfigError(
        f"release {statement.version} (sha256:{statement.app_sha256}) is not signed by any "
        "trusted release key"
    )


def write_release_file(path: Path, release_file: ReleaseFile) -> Path:
    """Write `release_file` to `path` as JSON, atomically."""
    text = json.dumps(asdict(release_file), indent=2, sort_keys=True) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"))


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) != len(pairs):
        raise ValueError("a key appears twice")
    return dict(pairs)


def _strings(where: str, value: Any, keys: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be an object")
    unknown, missing = sorted(set(value) - set(keys)), [k for k in keys if k not in value]
    if unknown or missing:
        raise ConfigError(f"{where}: unknown keys {unknown}, missing keys {missing}")
    for key in keys:
        if not isinstance(value[key], str):
            raise ConfigError(f"{where}.{key}: must be a string")
    return value


def read_release_file(path: Path, fab: bytes | None = None) -> ReleaseFile:
    """Read and strictly validate a `<name>.release.json`.

    Args:
        path: the file.
        fab: the FAB shipped with it; its SHA-256 must be the statement's app_sha256.

    Raises:
        ConfigError: unreadable, malformed (wrong types, unknown or missing keys), or
            stating another FAB's hash. The message names the file and the problem.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_unique)
    except (OSError, ValueError) as exc:  # unreadable, not UTF-8, not JSON, duplicates
        raise ConfigError(f"{path}: not a readable release file ({exc})") from exc
    try:
        top = document if isinstance(document, dict) else None
        if top is None or set(top) != {"statement", "signatures"}:
            raise ConfigError("must be an object with exactly 'statement' and 'signatures'")
        fields = ("schema", "app_sha256", "version", "commit")
        statement = ReleaseStatement(**_strings("statement", top["statement"], fields))
        if not isinstance(top["signatures"], list):
            raise ConfigError("signatures: must be a list")
        signatures = tuple(
            ReleaseSignature(**_strings(f"signatures[{i}]", s, ("public_key", "signature")))
            for i, s in enumerate(top["signatures"])
        )
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if fab is not None and hashlib.sha256(fab).hexdigest() != statement.app_sha256:
        raise ConfigError(
            f"{path}: app_sha256 does not match the FAB shipped with it "
            f"(sha256:{hashlib.sha256(fab).hexdigest()})"
        )
    return ReleaseFile(statement, signatures)


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


def unpack_release(fab: bytes, dest: Path) -> None:
    """Write the FAB's files into `dest` so that Flower rebuilds the same FAB from it.

    Args:
        fab: the FAB's bytes.
        dest: an empty or missing folder.

    Raises:
        ConfigError: not a zip, an unsafe entry (absolute path, `..`, symlink), or `dest`
            is not empty.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(fab))
    except zipfile.BadZipFile as exc:
        raise ConfigError(f"not a FAB (zip): {exc}") from exc
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ConfigError(f"{dest}: must be an empty folder to unpack a release into")
    with archive:
        entries = [i for i in archive.infolist() if not i.filename.startswith(FAB_INFO_DIR)]
        for info in entries:
            parts = info.filename.split("/")
            if (
                info.filename.startswith("/")
                or any(part in ("", ".", "..") or "\\" in part for part in parts)
                or ":" in parts[0]  # a drive letter
            ):
                raise ConfigError(f"FAB entry {info.filename!r}: not a plain relative path")
            if stat.S_ISLNK(info.external_attr >> 16) or info.is_dir():
                raise ConfigError(f"FAB entry {info.filename!r}: not a regular file")
        if len({i.filename for i in entries}) != len(entries):
            raise ConfigError("FAB holds the same path twice")
        if sum(i.file_size for i in entries) > MAX_UNPACKED_BYTES:
            raise ConfigError(f"FAB unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        dest.mkdir(parents=True, exist_ok=True)
        try:
            for info in entries:
                target = dest.joinpath(*info.filename.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(target, "xb") as handle:  # never follows or replaces anything
                    handle.write(archive.read(info))
        except (OSError, zipfile.BadZipFile) as exc:
            raise ConfigError(f"{dest}: cannot unpack the FAB: {exc}") from exc


def submittable_copy(fab: bytes, dest: Path) -> Path:
    """Unpack `fab` into `dest` and check that Flower rebuilds exactly `fab` from it.

    `flwr run <dest>` then submits the approved release, byte for byte.

    Raises:
        ConfigError: as `unpack_release`, or the rebuilt FAB differs (`dest` is removed).
    """
    from flwr.cli.build import build_fab_from_disk

    unpack_release(fab, dest)
    expected = hashlib.sha256(fab).hexdigest()
    try:
        rebuilt = hashlib.sha256(build_fab_from_disk(dest)).hexdigest()
    except ValueError as exc:
        rebuilt = f"nothing ({exc})"
    if rebuilt != expected:
        shutil.rmtree(dest)
        raise ConfigError(f"Flower rebuilds {rebuilt} from the FAB sha256:{expected}, not itself")
    return dest


def working_tree_commit(repo: Path) -> str:
    """HEAD, or (with uncommitted changes to tracked files) a commit object of HEAD plus
    those changes, written by `git stash create` without touching the working tree, the
    index or the stash. For developers and benchmarks that build a release of the code
    they are running; a consortium's releases name real commits.

    Raises:
        ConfigError: `repo` is not a git repository.
    """
    identity = ("-c", "user.name=fedscore", "-c", "user.email=fedscore@localhost")
    created = _git(repo, *identity, "stash", "create").decode("ascii").strip()
    return created or "HEAD"
