"""`fedscore release build|sign|verify|keygen`: app releases institutions can approve."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fedscore.cli.output import fail, say
from fedscore.cli.signing_keys import NewKeyFile, create_signing_key
from fedscore.core.errors import ConfigError, FedscoreError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

release_app = typer.Typer(
    help="Reproducible app releases: build a FAB from a git commit, sign it, verify it.",
    no_args_is_help=True,
)

KeyFile = Annotated[
    Path, typer.Option("--key", help="The consortium release-signing key (Ed25519 PEM).")
]


@release_app.command("build")
def build(
    repo: Annotated[Path, typer.Option(help="The app's git repository.")] = Path("."),
    commit: Annotated[str, typer.Option(help="The commit to release (any git revision).")] = (
        "HEAD"
    ),
    out: Annotated[Path, typer.Option(help="Folder for the FAB and its release file.")] = Path(
        "releases"
    ),
    sign_key: Annotated[
        Path | None, typer.Option(help="Sign the release with this key (Ed25519 PEM).")
    ] = None,
) -> None:
    """Build the FAB of a git commit (never the working tree) and its release file."""
    from fedscore.core.signing import SigningKey
    from fedscore.deployment.release import build_release, sign_release, write_release

    try:
        release = build_release(repo, commit)
        signatures = []
        if sign_key is not None:
            signatures.append(sign_release(release.statement, SigningKey.load(sign_key)))
        fab_path, json_path = write_release(release, out, signatures)
    except FedscoreError as error:
        fail(error)
    say(
        f"sha256:{release.sha256}\nversion: {release.version}\ncommit: {release.commit}\n"
        f"files: {release.files} ({len(release.fab)} bytes)\nFAB: {fab_path}\n"
        f"release file: {json_path}"
    )
    for signature in signatures:
        say(f"signed by {signature.public_key}")


@release_app.command("sign")
def sign(
    release_json: Annotated[Path, typer.Argument(help="The <name>.release.json to sign.")],
    key: KeyFile,
) -> None:
    """Add a signature to a release file (once per key); the FAB beside it must match."""
    from fedscore.core.signing import SigningKey
    from fedscore.deployment.release import (
        ReleaseFile,
        read_release_file,
        sign_release,
        write_release_file,
    )

    try:
        fab = _shipped_fab(release_json)
        release_file = read_release_file(release_json, fab.read_bytes() if fab else None)
        signer = SigningKey.load(key)
        statement = release_file.statement
        own = [s for s in release_file.signatures if s.public_key == signer.public_hex]
        others = [s for s in release_file.signatures if s.public_key != signer.public_hex]
        if own and all(s.valid_for(statement) for s in own):
            say(f"already signed by {signer.public_hex}")
            return
        signature = sign_release(statement, signer)
        write_release_file(release_json, ReleaseFile(statement, (*others, signature)))
    except FedscoreError as error:
        fail(error)
    say(f"signed by {signer.public_hex}")


@release_app.command("verify")
def verify(
    fab: Annotated[Path, typer.Argument(help="The FAB (.fab) to check.")],
    release_json: Annotated[
        Path | None,
        typer.Option(help="Its release file (default: <name>.release.json beside the FAB)."),
    ] = None,
    trust: Annotated[
        list[str] | None,
        typer.Option(help="A trusted release key as NAME=HEX; repeat. Then one must sign."),
    ] = None,
) -> None:
    """Check that a FAB is the release its file states (exit 0) or say why not (exit 1)."""
    import hashlib

    from fedscore.deployment.release import read_release_file, verify_release_signature

    if release_json is None:
        release_json = fab.with_name(fab.name.removesuffix(".fab") + ".release.json")
    try:
        trusted = _trusted_keys(trust or [])
        release_file = read_release_file(release_json)
        actual = hashlib.sha256(fab.read_bytes()).hexdigest()
    except OSError as error:
        fail(ConfigError(f"{fab}: cannot read the FAB ({error.strerror})"))
    except FedscoreError as error:
        fail(error)
    statement = release_file.statement
    problems = []
    if actual != statement.app_sha256:
        problems.append(f"{fab} is sha256:{actual}, not the stated sha256:{statement.app_sha256}")
    problems += [
        f"signature by {s.public_key} does not match the statement"
        for s in release_file.signatures
        if not s.valid_for(statement)
    ]
    signer = None
    if trusted and not problems:
        try:
            signer = verify_release_signature(statement, release_file.signatures, trusted)
        except ConfigError as error:
            problems.append(str(error))
    if problems:
        for problem in problems:
            say(f"verification failed: {problem}")
        raise typer.Exit(code=1)
    say(
        f"OK sha256:{statement.app_sha256} version {statement.version} commit "
        f"{statement.commit}" + (f", signed by trusted key {signer!r}" if signer else "")
    )


@release_app.command("keygen")
def keygen(out: NewKeyFile) -> None:
    """Create a release-signing key; its public hex is what institutions trust."""
    create_signing_key(
        out, "{public_hex}\nprivate key: {out} (keep it offline); public key: {public_file}"
    )


def _shipped_fab(release_json: Path) -> Path | None:
    """The `<name>.fab` beside `<name>.release.json`, if there is one."""
    fab = release_json.with_name(release_json.name.removesuffix(".release.json") + ".fab")
    return fab if release_json.name.endswith(".release.json") and fab.is_file() else None


def _trusted_keys(entries: list[str]) -> dict[str, Ed25519PublicKey]:
    """`--trust NAME=HEX` options as name → public key."""
    from fedscore.core.signing import public_key_from_hex

    trusted = {}
    for entry in entries:
        name, sep, hex_key = entry.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--trust {entry!r}: expected NAME=HEX")
        try:
            trusted[name.strip()] = public_key_from_hex(hex_key)
        except ConfigError as error:
            raise ConfigError(f"--trust {name.strip()}: {error}") from error
    return trusted


def register(app: typer.Typer) -> None:
    """Add `fedscore release ...` to the `fedscore` command line."""
    app.add_typer(release_app, name="release")
