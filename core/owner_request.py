"""The model owner's signed request for a run, as simulation and deployment both build it.

`ServerSettings.signed_by` (simulation) and `fedscore run` (deployment) ask for a run with
the same request; only where its settings come from differs. The defaults both start from
are here too.
"""

from __future__ import annotations

from pathlib import Path

from fedscore.core.run_request import (
    CoordinatorOptions,
    OwnerIdentity,
    ReleaseAttestation,
    SignedRunRequest,
)
from fedscore.core.runconfig import RunConfig

#: Seconds the coordinator waits for a round's replies unless the run says otherwise.
DEFAULT_ROUND_TIMEOUT = 900.0
#: Hours a signed run request is valid unless the model owner says otherwise.
DEFAULT_VALID_HOURS = 24.0
#: Seconds the coordinator of a vertical run waits for the two parties to connect and for
#: each reply unless the model owner says otherwise.
DEFAULT_VERTICAL_TIMEOUT = 300.0


def owner_signed_request(
    owner: OwnerIdentity,
    *,
    run_id: str,
    run: RunConfig,
    parties: int,
    task_path: Path,
    runs_dir: Path,
    consortium_test: Path | None,
    round_timeout: float,
    valid_hours: float,
    app_sha256: str | None = None,
    release: ReleaseAttestation | None = None,
) -> SignedRunRequest:
    """The request for run `run_id`, signed by `owner` and valid for `valid_hours` from now.

    Args:
        owner: the model owner signing the request.
        run_id: the run's identifier (its run directory's name).
        run: the training settings.
        parties: how many institutions the run waits for.
        task_path: the task schema file on the coordinator.
        runs_dir: the coordinator's folder of run directories.
        consortium_test: the consortium test table on the coordinator, if any.
        round_timeout: seconds the coordinator waits for a round's replies.
        valid_hours: how long the request is valid.
        app_sha256: the SHA-256 of the app release the run must use (None: no release).
        release: that release's attestation, if the owner has one.

    Returns:
        The signed request.

    Raises:
        ConfigError: an unreadable task schema or owner key, or `valid_hours` not > 0.
    """
    from fedscore.core.schema import load_schema

    schema = load_schema(task_path)
    return owner.request(
        run_id,
        valid_hours,
        app_sha256=app_sha256,
        release=release,
        task=schema.name,
        schema_sha256=schema.sha256,
        parties=parties,
        run=run.as_dict(),
        coordinator=CoordinatorOptions(
            runs_dir=str(runs_dir),
            consortium_test=str(consortium_test or ""),
            task_schema=str(task_path),
            round_timeout=round_timeout,
        ),
    )
