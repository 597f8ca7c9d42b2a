"""App releases: one git commit gives one FAB, byte for byte, wherever it is built.

Everything runs on real git clones of this repository and real Ed25519 keys.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import pytest
import typer
from flwr.cli.build import build_fab_from_disk
from typer.testing import CliRunner

from fedscore.cli.release import register
from fedscore.core.errors import ConfigError
from fedscore.core.signing import SigningKey
from fedscore.deployment.release import (
    Release,
    ReleaseFile,
    build_release,
    read_release_file,
    sign_release,
    submittable_copy,
    unpack_release,
    verify_release_signature,
    write_release,
    write_release_file,
)

SOURCE = Path(__file__).resolve().parent.parent
#: The folders (and files) fab-include admits into the FAB.
APP_TOP_LEVEL = {
    "fedscore",
    "core",
    "server",
    "clients",
    "privacy",
    "datasets",
    "deployment",
    "scoring",
    "vertical",
    "decisions",
    "monitoring",
    "protos",
    "pyproject.toml",
    "README.md",
    ".info",
}


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.email=release@test", "-c", "user.name=release test"]
    done = subprocess.run(
        ["git", *identity, "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def clone(dest: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(SOURCE), str(dest)], check=True)
    return dest


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return clone(tmp_path_factory.mktemp("clean") / "fedscore")


@pytest.fixture(scope="module")
def release(repo) -> Release:
    return build_release(repo)


def test_same_commit_same_bytes_whatever_the_checkout(repo, release, tmp_path):
    other = clone(tmp_path / "elsewhere" / "deeper" / "checkout")
    (other / "junk.py").write_text("print('untracked')\n")
    (other / "core" / "untracked_module.py").write_text("X = 1\n")
    (other / "notes.md").write_text("# scratch\n")
    with (other / "core" / "errors.py").open("a") as handle:
        handle.write("\n# a local, uncommitted edit\n")
    with (other / ".gitignore").open("a") as handle:
        handle.write("core/\n")  # would drop core/ from a working-tree build
    for path in other.rglob("*"):
        if ".git" not in path.parts:
            os.utime(path, (1_000_000_000, 1_000_000_000))

    again = build_release(other, release.commit)

    assert again.fab == release.fab
    assert again == release
    assert release.commit == git(repo, "rev-parse", "HEAD")
    assert release.sha256 == hashlib.sha256(release.fab).hexdigest()
    assert build_release(repo, release.commit[:10]) == release


def test_release_is_what_flower_builds_from_a_clean_checkout(repo, release):
    assert hashlib.sha256(build_fab_from_disk(repo)).hexdigest() == release.sha256
    with zipfile.ZipFile(io.BytesIO(release.fab)) as archive:
        names = archive.namelist()
    assert release.files == len(names) - 1  # all but Flower's .info/CONTENT
    assert "pyproject.toml" in names and "fedscore/__init__.py" in names
    assert not any(name.endswith(".csv.gz") for name in names)


def test_submittable_copy_rebuilds_the_same_fab(release, tmp_path):
    app = submittable_copy(release.fab, tmp_path / "app")

    assert hashlib.sha256(build_fab_from_disk(app)).hexdigest() == release.sha256
    assert not (app / ".info").exists()
    with pytest.raises(ConfigError, match="must be an empty folder"):
        unpack_release(release.fab, app)


def test_submittable_copy_refuses_a_fab_flower_would_not_rebuild(release, tmp_path):
    rezipped = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(release.fab)) as source,
        zipfile.ZipFile(rezipped, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            info.date_time = (2020, 1, 1, 0, 0, 0)
            target.writestr(info, source.read(info))

    with pytest.raises(ConfigError, match="rebuilds"):
        submittable_copy(rezipped.getvalue(), tmp_path / "app")
    assert not (tmp_path / "app").exists()


def test_another_commit_another_hash_and_only_the_app_counts(release, tmp_path):
    work = clone(tmp_path / "work")
    shutil.copy(SOURCE / "pyproject.toml", work / "pyproject.toml")  # the fab-include rules
    git(work, "commit", "--quiet", "--allow-empty", "-am", "current FAB rules")
    base = build_release(work)
    with zipfile.ZipFile(io.BytesIO(base.fab)) as archive:
        names = archive.namelist()
    assert {name.split("/")[0] for name in names} <= APP_TOP_LEVEL
    # The bundled data set is no part of the app: no node reads it.
    assert "datasets/tasks/default_risk.toml" in names
    assert not [name for name in names if name.endswith((".csv", ".csv.gz", ".parquet"))]

    (work / "tests" / "conftest.py").write_text("# tests are not part of the app\n")
    git(work, "commit", "--quiet", "-am", "tests only")
    tests_only = build_release(work)
    assert tests_only.sha256 == base.sha256 and tests_only.commit != base.commit

    with (work / "core" / "errors.py").open("a") as handle:
        handle.write("\n# changed behaviour\n")
    git(work, "commit", "--quiet", "-am", "app change")
    changed = build_release(work)
    assert changed.sha256 != base.sha256 and changed.commit != base.commit
    assert build_release(work, release.commit) == release  # the old commit is unchanged
    rebuilt = build_fab_from_disk(submittable_copy(changed.fab, tmp_path / "app"))
    assert hashlib.sha256(rebuilt).hexdigest() == changed.sha256


def test_not_a_repository_or_no_such_commit(repo, tmp_path):
    with pytest.raises(ConfigError, match="not a git repository"):
        build_release(tmp_path)
    with pytest.raises(ConfigError, match="no commit 'no-such-branch'"):
        build_release(repo, "no-such-branch")
    with pytest.raises(ConfigError, match="no commit '--output=x'"):
        build_release(repo, "--output=x")


@pytest.fixture
def keys(tmp_path) -> tuple[SigningKey, SigningKey]:
    return tuple(SigningKey.create(tmp_path / "keys" / f"{n}.pem") for n in ("a", "b"))


def test_signatures(release, keys, tmp_path):
    consortium, stranger = keys
    statement = release.statement
    signature = sign_release(statement, consortium)

    trusted = {"consortium": consortium.public_key}
    assert verify_release_signature(statement, signature, trusted) == "consortium"
    assert verify_release_signature(statement, [signature], trusted) == "consortium"
    with pytest.raises(ConfigError, match="not signed by any trusted release key"):
        verify_release_signature(statement, signature, {"other": stranger.public_key})
    with pytest.raises(ConfigError, match="not signed by any trusted release key"):
        verify_release_signature(statement, sign_release(statement, stranger), trusted)
    for tampered in (
        dataclasses.replace(statement, version="9.9.9"),
        dataclasses.replace(statement, app_sha256="0" * 64),
        dataclasses.replace(statement, commit="f" * 40),
    ):
        with pytest.raises(ConfigError, match="not signed by any trusted release key"):
            verify_release_signature(tampered, signature, trusted)

    fab_path, json_path = write_release(release, tmp_path / "out", [signature])
    assert fab_path.name == f"fedscore-{release.version}-{release.sha256[:12]}.fab"
    assert json_path.name == fab_path.name.removesuffix(".fab") + ".release.json"
    assert fab_path.read_bytes() == release.fab
    shipped = read_release_file(json_path, fab_path.read_bytes())
    assert shipped == ReleaseFile(statement, (signature,))
    # Building again keeps the signatures already given.
    write_release(release, tmp_path / "out")
    assert read_release_file(json_path).signatures == (signature,)

    with pytest.raises(ConfigError, match="does not match the FAB shipped with it") as error:
        read_release_file(json_path, release.fab + b"tampered")
    assert str(json_path) in str(error.value)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.update(signatures="abc"), "signatures: must be a list"),
        (lambda d: d["statement"].update(extra="x"), r"unknown keys \['extra'\]"),
        (lambda d: d.update(comment="x"), "exactly 'statement' and 'signatures'"),
        (lambda d: d["statement"].update(version=1), "statement.version: must be a string"),
        (lambda d: d["statement"].pop("commit"), r"missing keys \['commit'\]"),
        (lambda d: d["statement"].update(schema="other/1"), "statement.schema: must be"),
        (lambda d: d["statement"].update(app_sha256="ABC"), "statement.app_sha256: must be 64"),
        (lambda d: d["signatures"].append({"public_key": 5, "signature": "00"}), "must be a str"),
        (lambda d: d["signatures"].append("sig"), r"signatures\[1\]: must be an object"),
        (
            lambda d: d["signatures"].append({"public_key": "zz", "signature": "00"}),
            "public_key: must be 64 lowercase hex",
        ),
    ],
)
def test_release_file_is_read_strictly(release, keys, tmp_path, change, problem):
    path = tmp_path / "x.release.json"
    write_release_file(
        path, ReleaseFile(release.statement, (sign_release(release.statement, keys[0]),))
    )
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))

    with pytest.raises(ConfigError, match=problem) as error:
        read_release_file(path)
    assert str(path) in str(error.value)


def test_release_file_with_a_duplicate_key_or_another_fabs_hash(release, tmp_path):
    path = tmp_path / "x.release.json"
    write_release_file(
        path, ReleaseFile(dataclasses.replace(release.statement, app_sha256="a" * 64))
    )
    with pytest.raises(ConfigError, match="does not match the FAB"):
        read_release_file(path, release.fab)
    path.write_text(
        path.read_text().replace('"signatures": []', '"signatures": [], "signatures": []')
    )
    with pytest.raises(ConfigError, match="appears twice"):
        read_release_file(path)


def _zip(name: str, mode: int = 0o100644) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pyproject.toml", "[project]\n")
        info = zipfile.ZipInfo(name)
        info.external_attr = mode << 16
        archive.writestr(info, "import os\n")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("../evil.py", 0o100644),
        ("app/../../evil.py", 0o100644),
        ("/tmp/evil.py", 0o100644),
        ("C:/evil.py", 0o100644),
        ("app\\..\\evil.py", 0o100644),
        ("link.py", stat.S_IFLNK | 0o777),
    ],
)
def test_unpack_refuses_unsafe_entries(tmp_path, name, mode):
    dest = tmp_path / "a" / "b"
    with pytest.raises(ConfigError, match="FAB entry"):
        unpack_release(_zip(name, mode), dest)
    assert not dest.exists()
    assert not (tmp_path / "evil.py").exists() and not (tmp_path / "a" / "evil.py").exists()


def test_unpack_refuses_what_is_not_a_zip(tmp_path):
    with pytest.raises(ConfigError, match="not a FAB"):
        unpack_release(b"not a zip", tmp_path / "app")


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """fedscore (test)."""

    register(app)
    return app


def test_cli_build_sign_verify(cli, repo, release, tmp_path):
    runner = CliRunner()
    key, key2 = tmp_path / "k" / "release.pem", tmp_path / "k" / "second.pem"

    made = runner.invoke(cli, ["release", "keygen", "--out", str(key)])
    assert made.exit_code == 0, made.output
    public = SigningKey.load(key).public_hex
    assert public in made.output
    assert runner.invoke(cli, ["release", "keygen", "--out", str(key)]).exit_code == 2
    assert runner.invoke(cli, ["release", "keygen", "--out", str(key2)]).exit_code == 0
    public2 = SigningKey.load(key2).public_hex

    out = tmp_path / "releases"
    built = runner.invoke(
        cli, ["release", "build", "--repo", str(repo), "--out", str(out), "--sign-key", str(key)]
    )
    assert built.exit_code == 0, built.output
    assert f"sha256:{release.sha256}" in built.output
    assert release.commit in built.output and f"files: {release.files}" in built.output
    fab = out / f"{release.name}.fab"
    release_json = out / f"{release.name}.release.json"
    assert fab.read_bytes() == release.fab

    for expected in ("signed by", "already signed by"):
        signed = runner.invoke(cli, ["release", "sign", str(release_json), "--key", str(key2)])
        assert signed.exit_code == 0 and expected in signed.output, signed.output
    signers = [s.public_key for s in read_release_file(release_json).signatures]
    assert signers == [public, public2]

    def verify(*args: str) -> int:
        return runner.invoke(cli, ["release", "verify", *args]).exit_code

    assert verify(str(fab)) == 0
    assert verify(str(fab), "--release-json", str(release_json), "--trust", f"c={public}") == 0
    stranger = SigningKey.create(tmp_path / "k" / "stranger.pem").public_hex
    untrusted = runner.invoke(cli, ["release", "verify", str(fab), "--trust", f"x={stranger}"])
    assert untrusted.exit_code == 1
    assert "not signed by any trusted release key" in untrusted.output
    assert verify(str(fab), "--trust", "no-equals-sign") == 2
    assert verify(str(tmp_path / "missing.fab"), "--release-json", str(release_json)) == 2

    tampered = tmp_path / "tampered.fab"
    tampered.write_bytes(release.fab[:100] + bytes([release.fab[100] ^ 1]) + release.fab[101:])
    result = runner.invoke(
        cli, ["release", "verify", str(tampered), "--release-json", str(release_json)]
    )
    assert result.exit_code == 1 and "not the stated sha256" in result.output

    document = json.loads(release_json.read_text())
    document["statement"]["version"] = "9.9.9"
    forged = tmp_path / "forged.release.json"
    forged.write_text(json.dumps(document))
    assert verify(str(fab), "--release-json", str(forged)) == 1

    fab.write_bytes(release.fab + b"x")  # the FAB beside the release file no longer matches
    refused = runner.invoke(cli, ["release", "sign", str(release_json), "--key", str(key)])
    assert refused.exit_code == 2 and "does not match the FAB" in refused.output


def test_cli_build_outside_a_repository(cli, tmp_path):
    result = CliRunner().invoke(cli, ["release", "build", "--repo", str(tmp_path)])
    assert result.exit_code == 2 and "not a git repository" in result.output
