"""One vertical run's state at a node, between its messages (owner-only files).

`<state>/vertical-runs/<run id>/`:

- `request.json`: the signed run request the node admitted (later stages read the
  terms from here, never from the relay);
- `admitted.json`: the consent date, the data version and label version admitted;
- `channel.state`, `psi.state`: the channel's ephemeral key and the PSI's secret scalar
  (deleted at CLOSE, when a stage of the run fails or is refused at this node, and once
  the run's signed request has expired: a run the coordinator abandons leaves no secret
  behind);
- `intersection.npz`: the party's usable rows in the intersection, ordered by join key,
  their join keys and which are held out for testing;
- `features.npz`: the encoded training and test rows, the encoding's statistics (and at
  the label holder the test rows' labels);
- `trainer.state`: the party's sub-model, optimizer, accountant and step counter.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fedscore.core.errors import ConfigError
from fedscore.core.files import write_private
from fedscore.core.run_request import SignedRunRequest, check_safe_name
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.request import VerticalTerms, terms_of

#: The run's secrets: the channel's ephemeral key, the PSI's secret scalar.
_SECRET_FILES = ("channel.state", "psi.state")


@dataclass(frozen=True)
class Admission:
    """What the node admitted a run on.

    Attributes:
        as_of: the date consent was evaluated on (every stage of the run uses it).
        data_version: the version of the usable rows (the record budget's key).
        request_sha256: the admitted run request's hash.
    """

    as_of: date
    data_version: str
    request_sha256: str


class RunFolder:
    """The state folder of one run at one node.

    Args:
        config: the node's vertical config.
        run_id: the run (checked to be a safe folder name).
    """

    def __init__(self, config: VerticalNodeConfig, run_id: str) -> None:
        self.run_id = check_safe_name(run_id, "run id")
        self.path = config.run_dir(run_id)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def admitted(self) -> bool:
        return self.file("admitted.json").is_file()

    def save_admission(self, signed: SignedRunRequest, admission: Admission) -> None:
        write_private(self.file("request.json"), signed.encode().encode("utf-8"))
        facts = {
            "as_of": admission.as_of.isoformat(),
            "data_version": admission.data_version,
            "request_sha256": admission.request_sha256,
        }
        write_private(self.file("admitted.json"), json.dumps(facts).encode("utf-8"))

    def admission(self) -> Admission:
        """What the run was admitted on.

        Raises:
            ConfigError: the node never admitted this run.
        """
        if not self.admitted:
            raise ConfigError(f"run {self.run_id} was not admitted at this node")
        facts = json.loads(self.file("admitted.json").read_text(encoding="utf-8"))
        return Admission(
            date.fromisoformat(facts["as_of"]), facts["data_version"], facts["request_sha256"]
        )

    def signed_request(self) -> SignedRunRequest:
        self.admission()
        return SignedRunRequest.decode(self.file("request.json").read_text(encoding="utf-8"))

    def terms(self) -> VerticalTerms:
        return terms_of(self.signed_request())

    def save_arrays(self, name: str, arrays: dict[str, npt.NDArray[Any]]) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        write_private(self.file(name), buffer.getvalue())

    def arrays(self, name: str) -> dict[str, npt.NDArray[Any]]:
        """The arrays saved under `name`.

        Raises:
            ConfigError: a stage this one needs has not run at this node.
        """
        path = self.file(name)
        if not path.is_file():
            raise ConfigError(f"run {self.run_id}: {name} is missing (a stage was skipped)")
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}

    @property
    def holds_secrets(self) -> bool:
        """Whether the run's channel key or PSI scalar is still on disk."""
        return any(self.file(name).exists() for name in _SECRET_FILES)

    def erase_secrets(self) -> None:
        """Delete the channel key and the PSI scalar (the run's messages stay unreadable)."""
        for name in _SECRET_FILES:
            self.file(name).unlink(missing_ok=True)


def erase_expired_secrets(config: VerticalNodeConfig, now: datetime) -> list[str]:
    """Erase the secrets of every run whose signed request expired before `now`.

    A run that never reached CLOSE (the coordinator stopped, crashed or gave up) cannot
    go on after its request expires, so its channel key and PSI scalar have no further
    use at this node.

    Args:
        config: the node's vertical config.
        now: the current time (timezone-aware).

    Returns:
        The runs whose secrets were erased.
    """
    runs = config.state_dir / "vertical-runs"
    erased = []
    for path in sorted(runs.iterdir()) if runs.is_dir() else []:
        folder = RunFolder(config, path.name) if path.is_dir() else None
        if folder is None or not folder.holds_secrets or not folder.admitted:
            continue
        if folder.signed_request().request.expires_at < now:
            folder.erase_secrets()
            erased.append(folder.run_id)
    return erased
