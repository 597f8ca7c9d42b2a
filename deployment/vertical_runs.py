"""The model owner's side of a deployed vertical run: its signed request, what came of it.

A vertical run is started like a training run (`runs.start_run`: the approved release
submitted with `flwr run`, the log streamed); only its request differs: the vertical
terms, signed with the release they must run under and where the coordinator writes the
run. What came of it is the coordinator's record of the run (`vertical_summary.json`),
read on the coordinator, where model owners start runs.
"""

from __future__ import annotations

from pathlib import Path

from fedscore.core.errors import FedscoreError
from fedscore.core.owner_request import DEFAULT_VALID_HOURS, DEFAULT_VERTICAL_TIMEOUT
from fedscore.core.run_request import CoordinatorOptions, OwnerIdentity, SignedRunRequest
from fedscore.deployment.runs import AppRelease, run_directory
from fedscore.vertical.request import VerticalTerms, sign_terms
from fedscore.vertical.summary import read_summary


def new_vertical_request(
    terms: VerticalTerms,
    run_id: str,
    owner: OwnerIdentity,
    release: AppRelease,
    runs_dir: Path,
    timeout: float = DEFAULT_VERTICAL_TIMEOUT,
    valid_hours: float = DEFAULT_VALID_HOURS,
) -> SignedRunRequest:
    """The owner's signed request for the vertical run `run_id` of `release`.

    Args:
        terms: what the run does (its parties, columns, purpose, training).
        run_id: the run's identifier (its folder at the coordinator and at both parties).
        owner: the model owner signing the request.
        release: the approved app release the run must use.
        runs_dir: the coordinator's folder of run directories (its path).
        timeout: seconds the coordinator waits for the parties to connect and each reply.
        valid_hours: how long the parties accept the signed request.

    Raises:
        ConfigError: an unreadable owner key, or `valid_hours` not > 0.
    """
    coordinator = CoordinatorOptions(runs_dir=str(runs_dir.resolve()), round_timeout=timeout)
    return sign_terms(
        terms, run_id, owner, valid_hours, coordinator=coordinator, **release.request_fields()
    )


def vertical_run_problems(signed: SignedRunRequest) -> list[str]:
    """Why the finished run is not what was asked (empty: it is).

    Args:
        signed: the request the run was started with.

    Returns:
        The problems: the coordinator refused the run or it failed before starting, a
        party declined or failed (with its reasons), or the parties disagreed.
    """
    try:
        read_summary(run_directory(signed))
    except FedscoreError as error:
        return [str(error)]
    return []
