"""The model owner's side: sign a run, submit the approved release, read what came of it.

A model owner starts runs on the coordinator itself (its control API listens only on
loopback). `fedscore run` builds the run request, signs it with the owner's key, and
submits the app release the institutions approved with Flower's own `flwr run` (the
release is unpacked so that Flower rebuilds exactly the approved bundle). When the run
ends, its verdict decides the exit status: a party that declined, a round that could
not be aggregated, or a run the coordinator refused make it non-zero.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypedDict

import tomli_w

import fedscore
from fedscore.core.errors import ConfigError
from fedscore.core.owner_request import (
    DEFAULT_ROUND_TIMEOUT,
    DEFAULT_VALID_HOURS,
    owner_signed_request,
)
from fedscore.core.run_request import (
    RUN_REQUEST_KEY,
    OwnerIdentity,
    ReleaseAttestation,
    SignedRunRequest,
    request_window,
)
from fedscore.core.runconfig import RunConfig
from fedscore.deployment.connection import write_connection
from fedscore.deployment.superlink import flower_environment, flower_tool


def app_project_dir() -> Path:
    """The folder holding fedscore's Flower app definition (pyproject.toml [tool.flwr.app]).

    Raises:
        ConfigError: fedscore was not installed from a source checkout.
    """
    root = Path(fedscore.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file() or "[tool.flwr.app]" not in pyproject.read_text("utf-8"):
        raise ConfigError(
            f"no Flower app definition at {root}: install fedscore from its source checkout "
            "(pip install -e .) on the model owner's machine"
        )
    return root


def deployment_run_config(options: Mapping[str, object], parties: int) -> RunConfig:
    """A deployed run's settings: the app's deployment defaults with `options` on top.

    The defaults are pyproject.toml's `[tool.flwr.app.config]`, secure aggregation on.

    Raises:
        ConfigError: a setting is unknown or of the wrong type, settings contradict each
            other (e.g. a robust strategy with secure aggregation), or the strategy's own
            settings do not fit the number of parties.
    """
    from fedscore.server.settings import SERVER_KEYS
    from fedscore.server.strategy import build_strategy

    pyproject = tomllib.loads((app_project_dir() / "pyproject.toml").read_text("utf-8"))
    defaults = pyproject["tool"]["flwr"]["app"]["config"]
    merged = {k: v for k, v in {**defaults, **options}.items() if k not in SERVER_KEYS}
    run = RunConfig.from_flower(merged)
    if run.extra:
        raise ConfigError(f"run config: unknown setting(s) {sorted(run.extra)}")
    build_strategy(run, parties)
    return run


class AppFields(TypedDict):
    """The fields of a `RunRequest` that name its app."""

    app_sha256: str
    release: ReleaseAttestation | None


@dataclass(frozen=True)
class AppRelease:
    """The app bundle a run submits, and its release attestation if it has one.

    Attributes:
        fab: the Flower app bundle's bytes.
        attestation: the release statement and signatures (`<name>.release.json`).
    """

    fab: bytes
    attestation: ReleaseAttestation | None = None

    @property
    def sha256(self) -> str:
        """The bundle's SHA-256 in hex (Flower's FAB hash)."""
        return hashlib.sha256(self.fab).hexdigest()

    def request_fields(self) -> AppFields:
        """What a run request says of this app: `app_sha256` and `release`."""
        return AppFields(app_sha256=self.sha256, release=self.attestation)


def app_release(fab_path: Path | None) -> AppRelease:
    """The release a run uses.

    The given FAB (with the `.release.json` beside it, if any), else one built from the
    installed checkout's HEAD commit.

    Raises:
        ConfigError: the FAB or its release file is unreadable or does not match, or there
            is no checkout to build from.
    """
    from fedscore.deployment.release import build_release, read_release_file

    if fab_path is None:
        return AppRelease(build_release(app_project_dir()).fab)
    try:
        fab = fab_path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the release {fab_path}: {exc.strerror}") from exc
    statement_path = fab_path.with_suffix(".release.json")
    if not statement_path.is_file():
        return AppRelease(fab)
    parsed = read_release_file(statement_path, fab)
    return AppRelease(
        fab,
        ReleaseAttestation(
            statement=asdict(parsed.statement),
            signatures=[asdict(signature) for signature in parsed.signatures],
        ),
    )


@dataclass(frozen=True)
class NewRun:
    """A run the model owner asks for.

    Attributes:
        run: the training settings.
        parties: how many institutions it waits for.
        runs_dir: the coordinator's folder of run directories.
        consortium_test: the consortium test table on the coordinator, if any.
        task_schema: the task schema on the coordinator (None: the bundled one).
        round_timeout: seconds the coordinator waits for a round's replies.
        valid_hours: how long the signed request is valid.
    """

    run: RunConfig
    parties: int
    runs_dir: Path
    consortium_test: Path | None = None
    task_schema: Path | None = None
    round_timeout: float = DEFAULT_ROUND_TIMEOUT
    valid_hours: float = DEFAULT_VALID_HOURS


def new_run_request(new: NewRun, owner: OwnerIdentity, release: AppRelease) -> SignedRunRequest:
    """The owner's signed request for a new run of `release`.

    Raises:
        ConfigError: an unreadable task schema or owner key.
    """
    from fedscore.datasets import default_task_path
    from fedscore.server.settings import new_run_id

    return owner_signed_request(
        owner,
        run_id=new_run_id(),
        run=new.run,
        parties=new.parties,
        task_path=(new.task_schema or default_task_path()).resolve(),
        runs_dir=new.runs_dir.resolve(),
        consortium_test=new.consortium_test.resolve() if new.consortium_test else None,
        round_timeout=new.round_timeout,
        valid_hours=new.valid_hours,
        **release.request_fields(),
    )


def resumed_run_request(
    run_dir: Path, owner: OwnerIdentity | None, valid_hours: float = DEFAULT_VALID_HOURS
) -> SignedRunRequest:
    """The request that resumes the run in `run_dir`.

    Its own, or re-signed for a new validity window when `owner` is given (same terms:
    institutions accept nothing else).

    Raises:
        ConfigError: `run_dir` holds no signed run request.
    """
    from fedscore.server.settings import RUN_REQUEST_FILE

    path = run_dir / RUN_REQUEST_FILE
    if not path.is_file():
        raise ConfigError(f"cannot resume: {run_dir} holds no {RUN_REQUEST_FILE}")
    signed = SignedRunRequest.decode(path.read_text(encoding="utf-8").strip())
    if owner is None:
        return signed
    issued, expires = request_window(valid_hours)
    window = {"issued_at": issued, "expires_at": expires}
    return owner.sign(signed.request.model_copy(update=window))


@dataclass(frozen=True)
class FederationConnection:
    """How the model owner's tools reach the coordinator's control API.

    Attributes:
        address: host:port of the SuperLink's control API (on the coordinator: loopback).
        root_certificates: the consortium CA certificate (None: plaintext development).
        flwr_home: Flower's settings folder for these tools.
    """

    address: str
    root_certificates: Path | None
    flwr_home: Path

    def write(self) -> str:
        """Write Flower's connection settings; returns the connection's name.

        Raises:
            ConfigError: the CA certificate named is missing.
        """
        if self.root_certificates is not None and not self.root_certificates.is_file():
            raise ConfigError(f"{self.root_certificates}: no such CA certificate")
        roots = self.root_certificates.resolve() if self.root_certificates else None
        return write_connection(self.flwr_home, self.address, roots)


def start_run(
    connection: FederationConnection,
    release: AppRelease,
    signed: SignedRunRequest,
    resume: bool = False,
) -> int:
    """Submit `release` with the signed request and stream the run's log until it ends.

    Returns:
        `flwr run`'s exit status.

    Raises:
        ConfigError: the release is not the one the request names, or cannot be submitted
            byte for byte.
    """
    from fedscore.deployment.release import submittable_copy

    if signed.request.app_sha256 != release.sha256:
        raise ConfigError(
            f"the run request names app sha256:{signed.request.app_sha256}, the release to "
            f"submit is sha256:{release.sha256}; pass the run's own release with --release"
        )
    settings: dict[str, object] = {RUN_REQUEST_KEY: signed.encode()}
    if resume:
        settings.update({"resume": True, "run-dir": str(run_directory(signed))})
    name = connection.write()
    with tempfile.TemporaryDirectory(prefix="fedscore-release-") as folder:
        app = submittable_copy(release.fab, Path(folder) / "app")
        # A TOML file: Flower's key=value form cannot carry the request's quotes.
        run_config = Path(folder) / "run-config.toml"
        run_config.write_text(tomli_w.dumps(settings), encoding="utf-8")
        command = [flower_tool("flwr"), "run", str(app), name, "--stream"]
        command += ["--run-config", str(run_config)]
        environment = flower_environment(connection.flwr_home)
        return subprocess.run(command, env=environment, check=False).returncode


def run_directory(signed: SignedRunRequest) -> Path:
    """Where the coordinator writes the run's results."""
    return Path(signed.request.coordinator.runs_dir) / signed.request.run_id


def run_problems(signed: SignedRunRequest) -> list[str]:
    """Why the finished run is not what was asked (empty: it is).

    Reads the run's summary in the coordinator's runs folder (model owners start runs on
    the coordinator).
    """
    summary_path = run_directory(signed) / "summary.json"
    if not summary_path.is_file():
        return [
            f"the run did not finish: there is no {summary_path} (the coordinator refused "
            "the run, or it failed: see the log above)"
        ]
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    verdict = summary.get("verdict") or {"problems": ["the run's summary has no verdict"]}
    return [str(problem) for problem in verdict.get("problems", [])]


def flwr_command(arguments: Sequence[str], connection: FederationConnection) -> int:
    """Run `flwr ARGUMENTS... <connection>` against the federation; returns its status."""
    command = [flower_tool("flwr"), *arguments, connection.write()]
    environment = flower_environment(connection.flwr_home)
    return subprocess.run(command, env=environment, check=False).returncode
