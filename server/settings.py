"""What the server needs to run a training run: run config, task, where results go."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flwr.app import ConfigRecord

from fedscore.core.errors import ConfigError
from fedscore.core.owner_request import (
    DEFAULT_ROUND_TIMEOUT,
    DEFAULT_VALID_HOURS,
    owner_signed_request,
)
from fedscore.core.protocol import RoundRequest
from fedscore.core.run_request import RUN_REQUEST_KEY, OwnerIdentity, SignedRunRequest
from fedscore.core.runconfig import RunConfig

if TYPE_CHECKING:
    from fedscore.core.schema import TaskSchema

# Run-config keys (Flower's flat run config) that are server settings, not RunConfig.
TASK_KEY = "task"
RUN_DIR_KEY = "run-dir"
RUNS_DIR_KEY = "runs-dir"
PARTIES_KEY = "parties"
CONSORTIUM_TEST_KEY = "consortium-test"
ROUND_TIMEOUT_KEY = "round-timeout"
RESUME_KEY = "resume"
#: The signed run request in a run directory (what a resumed run carries again).
RUN_REQUEST_FILE = "run_request.json"
#: Where the coordinator writes run directories when neither run config nor request says.
DEFAULT_RUNS_DIR = "runs"
SERVER_KEYS = (
    RESUME_KEY,
    TASK_KEY,
    RUN_DIR_KEY,
    RUNS_DIR_KEY,
    PARTIES_KEY,
    CONSORTIUM_TEST_KEY,
    ROUND_TIMEOUT_KEY,
    "federation-manifest",
    RUN_REQUEST_KEY,
)


def new_run_id() -> str:
    """Sortable, unique run id: UTC time plus a random suffix."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class ServerSettings:
    """One run as the server (model owner) starts it.

    Attributes:
        run: the run configuration sent to every party.
        task_path: the consortium's task schema.
        run_dir: where the run's results are written.
        run_id: identifier of the run (also the run directory's name by default).
        expected_parties: parties that must be connected before round 1.
        consortium_test_path: the consortium test set the server evaluates on, if any.
        round_timeout: seconds to wait for the parties' replies in a round.
        show_progress: draw a progress bar and the final summary table.
        resume: continue the run in `run_dir` from its last checkpoint (same run id,
            same run configuration) instead of starting a new one.
        run_request: the model owner's signed run request (transport text), carried to
            every party with every round; "" for an unsigned run (simulation).
        parties_checked: every party was already asked before the run started (the
            simulation driver does it on the same machine), so the server does not ask
            them again before round 1.
    """

    run: RunConfig
    task_path: Path
    run_dir: Path
    run_id: str
    expected_parties: int
    consortium_test_path: Path | None = None
    round_timeout: float = DEFAULT_ROUND_TIMEOUT
    show_progress: bool = True
    resume: bool = False
    run_request: str = ""
    parties_checked: bool = False

    @classmethod
    def new_run(
        cls,
        run: RunConfig,
        task_path: Path,
        runs_dir: Path,
        expected_parties: int,
        consortium_test_path: Path | None = None,
        show_progress: bool = True,
    ) -> ServerSettings:
        """Settings of a new run whose directory is `runs_dir/<new run id>`."""
        run_id = new_run_id()
        return cls(
            run=run,
            task_path=task_path,
            run_dir=(runs_dir / run_id).resolve(),
            run_id=run_id,
            expected_parties=expected_parties,
            consortium_test_path=consortium_test_path,
            show_progress=show_progress,
        )

    @classmethod
    def from_flower(cls, flat: dict[str, Any]) -> ServerSettings:
        """Settings from a Flower run config (`flwr run` / `[tool.flwr.app.config]`).

        With a signed run request in the run config, the run is the request's and every
        other run setting is ignored (deployment: fedscore's task runner verified it).
        """
        from fedscore.clients.federation import FederationManifest
        from fedscore.datasets import default_task_path

        signed_text = str(flat.get(RUN_REQUEST_KEY, "") or "")
        if signed_text and not truthy(flat.get(RESUME_KEY)):
            return cls.from_request(SignedRunRequest.decode(signed_text))
        run = RunConfig.from_flower({k: v for k, v in flat.items() if k not in SERVER_KEYS})
        run_id = new_run_id()
        resume = truthy(flat.get(RESUME_KEY))
        if flat.get(RUN_DIR_KEY):
            run_dir = Path(str(flat[RUN_DIR_KEY]))
        else:
            run_dir = Path(str(flat.get(RUNS_DIR_KEY) or DEFAULT_RUNS_DIR)) / run_id
        if resume:
            return _resumed(
                run_dir.resolve(),
                float(flat.get(ROUND_TIMEOUT_KEY, DEFAULT_ROUND_TIMEOUT)),
                signed_text,
            )
        parties = int(flat.get(PARTIES_KEY, 0) or 0)
        manifest = str(flat.get("federation-manifest", ""))
        if not parties and manifest:
            parties = len(FederationManifest.load(manifest).node_configs)
        if parties < 1:
            raise ConfigError(
                f"the server needs to know how many parties to wait for: set '{PARTIES_KEY}' "
                "or 'federation-manifest' in the run config"
            )
        test = flat.get(CONSORTIUM_TEST_KEY)
        return cls(
            run=run,
            task_path=Path(str(flat[TASK_KEY])) if flat.get(TASK_KEY) else default_task_path(),
            run_dir=run_dir.resolve(),
            run_id=run_id,
            expected_parties=parties,
            consortium_test_path=Path(str(test)) if test else None,
            round_timeout=float(flat.get(ROUND_TIMEOUT_KEY, DEFAULT_ROUND_TIMEOUT)),
            resume=resume,
        )

    @classmethod
    def from_request(cls, signed: SignedRunRequest) -> ServerSettings:
        """The settings of a new run as its signed request states them.

        Raises:
            ConfigError: the request's settings are invalid, or the coordinator's task
                schema is not the one the request names.
        """
        from fedscore.core.schema import load_schema
        from fedscore.datasets import default_task_path

        request = signed.request
        options = request.coordinator
        task_path = Path(options.task_schema) if options.task_schema else default_task_path()
        if load_schema(task_path).sha256 != request.schema_sha256:
            raise ConfigError(
                f"the coordinator's task schema {task_path} is not the one the run request "
                f"names (sha256 {request.schema_sha256[:12]}…)"
            )
        runs_dir = Path(options.runs_dir or DEFAULT_RUNS_DIR)
        return cls(
            run=request.run_config(),
            task_path=task_path,
            run_dir=(runs_dir / request.run_id).resolve(),
            run_id=request.run_id,
            expected_parties=request.parties,
            consortium_test_path=Path(options.consortium_test) if options.consortium_test else None,
            round_timeout=options.round_timeout,
            run_request=signed.encode(),
        )

    def signed_by(
        self, owner: OwnerIdentity, valid_hours: float = DEFAULT_VALID_HOURS
    ) -> ServerSettings:
        """These settings with the model owner's signed request for them.

        Simulation: no app release is named; deployment signs with `fedscore run`.

        Raises:
            ConfigError: an unreadable task schema or owner key.
        """
        signed = owner_signed_request(
            owner,
            run_id=self.run_id,
            run=self.run,
            parties=self.expected_parties,
            task_path=self.task_path,
            runs_dir=self.run_dir.parent,
            consortium_test=self.consortium_test_path,
            round_timeout=self.round_timeout,
            valid_hours=valid_hours,
        )
        return replace(self, run_request=signed.encode())


def truthy(value: object) -> bool:
    """Whether a run-config flag is on ("true", "1", "yes", or True; None and else: off)."""
    return str(value if value is not None else "false").lower() in ("1", "true", "yes")


def _resumed(run_dir: Path, round_timeout: float, signed_text: str = "") -> ServerSettings:
    """The settings of the run in `run_dir`, as it was started.

    A resumed run keeps its id, its parties, its test set and the run configuration its parties
    calibrated noise for.

    Raises:
        ConfigError: there is no run to resume there.
    """
    import json

    saved_path = run_dir / "run_config.json"
    try:
        saved = json.loads(saved_path.read_text(encoding="utf-8"))
        run = RunConfig.from_mapping(saved["run"])
        task_path = Path(saved["task"]["path"])
        parties = int(saved["expected_parties"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"cannot resume: {saved_path} is not a run's configuration ({exc})"
        ) from exc
    test = saved.get("consortium_test")
    run_request = _resumed_request(run_dir, signed_text)
    return ServerSettings(
        run=run,
        task_path=task_path,
        run_dir=run_dir,
        run_id=str(saved["run_id"]),
        expected_parties=parties,
        consortium_test_path=Path(test) if test else None,
        round_timeout=round_timeout,
        resume=True,
        run_request=run_request,
    )


def _resumed_request(run_dir: Path, signed_text: str) -> str:
    """The signed request a resumed run carries.

    A re-signed one (a later expiry) if given and of the same terms, else the one the run started
    with ("" for an unsigned run).

    Raises:
        ConfigError: the given request is for other terms than the run's.
    """
    saved_path = run_dir / RUN_REQUEST_FILE
    saved = saved_path.read_text(encoding="utf-8").strip() if saved_path.is_file() else ""
    if not signed_text:
        return saved
    if saved and (
        SignedRunRequest.decode(saved).request.terms()
        != SignedRunRequest.decode(signed_text).request.terms()
    ):
        raise ConfigError(
            f"cannot resume {run_dir.name} with a run request of other terms than the run's"
        )
    return signed_text


def round_request(settings: ServerSettings, schema: TaskSchema) -> RoundRequest:
    """The instructions every round of the run carries to every party.

    Also the question before round 1, as server round 0. They hold the run's settings, its id, the
    task and the signed request.
    """
    return RoundRequest(
        run=settings.run,
        run_id=settings.run_id,
        server_round=0,
        schema_sha256=schema.sha256,
        task=schema.name,
        run_request=settings.run_request,
    )


def round_config(settings: ServerSettings, schema: TaskSchema) -> ConfigRecord:
    """`round_request` as the CONFIG record of a message."""
    return round_request(settings, schema).to_record()
