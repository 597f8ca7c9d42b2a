"""The model card: what a registered model is, from its run directory."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fedscore.core.errors import ConfigError, printable_reason
from fedscore.core.untrusted_documents import parse_json

_RUN_ID_TIME = re.compile(r"^(\d{8}-\d{6})")


@dataclass(frozen=True)
class PartyCard:
    """One party's part in the run.

    Every figure but the rounds is from its signed ledger entries of the run, verified with the
    consortium's key list.

    Attributes:
        name: the party.
        data_versions: SHA-256 of the raw tables its rounds trained on.
        rounds_trained: rounds whose update the server aggregated (summary.json, at
            most the trained rounds its ledger records).
        epsilon: its cumulative ε by the run's budget accountant ("inf" if non-private).
        epsilon_rdp, epsilon_prv: both accountants' ε (None where its entries record
            none: a party that refused every round records only its accountant's).
        delta: its δ.
    """

    name: str
    data_versions: tuple[str, ...]
    rounds_trained: int
    epsilon: float | str | None
    epsilon_rdp: float | str | None
    epsilon_prv: float | str | None
    delta: float


@dataclass(frozen=True)
class ModelCard:
    """What a registered model is.

    Attributes:
        version: the registry version (e.g. "default_risk-v3").
        run_id: the training run.
        task, task_version, schema_sha256: the task schema it was trained under.
        model: the model kind ("lr", "mlp").
        rounds: rounds of the run.
        private: whether it was trained with DP-SGD.
        accountant: the run's budget accountant.
        parties: each party's data versions and privacy spend.
        consortium_test: the consortium-test metrics (AUC, KS, Gini, Brier, log-loss).
        created_at: when the run was started (UTC, ISO 8601).
        registered_at: when it was registered.
        run_manifest_sha256: SHA-256 of the run directory's manifest (signed by the
            registry key; the signature is in the registry index and `manifest.sig`).
    """

    version: str
    run_id: str
    task: str
    task_version: str
    schema_sha256: str
    model: str
    rounds: int
    private: bool
    accountant: str
    parties: tuple[PartyCard, ...]
    consortium_test: dict[str, float]
    created_at: str
    registered_at: str
    run_manifest_sha256: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        fields = dict(data)
        fields["parties"] = tuple(
            PartyCard(**{**p, "data_versions": tuple(p["data_versions"])}) for p in data["parties"]
        )
        return cls(**fields)

    @classmethod
    def from_run(
        cls,
        run_dir: Path,
        version: str,
        run_manifest_sha256: str,
        parties: tuple[PartyCard, ...],
    ) -> ModelCard:
        """The card of the run at `run_dir` (summary.json, run_config.json).

        Args:
            run_dir: the finished run directory.
            version: the registry version it becomes.
            run_manifest_sha256: SHA-256 of the run directory's manifest.
            parties: each party's data versions and privacy spend, from its signed
                ledger entries (`signed_party_cards`), never from summary.json.
        """
        summary = read_run_file(run_dir / "summary.json")
        config = read_run_file(run_dir / "run_config.json")
        try:
            return cls._from_documents(
                summary, config, run_dir, version, run_manifest_sha256, parties
            )
        except (KeyError, TypeError, ValueError, AttributeError) as problem:
            # The run directory is the coordinator's: a key of another shape is refused
            # (its name, never its value), not a traceback.
            what = (
                f"'{problem.args[0]}' is missing"
                if isinstance(problem, KeyError)
                else ("a key holds a value of another type")
            )
            raise ConfigError(
                f"{run_dir}: summary.json or run_config.json is not a finished run's "
                f"({printable_reason(str(what))[:120]})"
            ) from None

    @classmethod
    def _from_documents(
        cls,
        summary: dict[str, Any],
        config: dict[str, Any],
        run_dir: Path,
        version: str,
        run_manifest_sha256: str,
        parties: tuple[PartyCard, ...],
    ) -> ModelCard:
        """The card from the run's summary.json and run_config.json, as read."""
        run_id = str(summary["run_id"])
        return cls(
            version=version,
            run_id=run_id,
            task=str(summary["task"]),
            task_version=str(summary["task_version"]),
            schema_sha256=str(config["task"]["sha256"]),
            model=str(summary["model"]),
            rounds=int(summary["rounds"]),
            private=bool(summary.get("private", True)),
            accountant=str(config["run"].get("accountant", "rdp")),
            parties=parties,
            consortium_test={k: float(v) for k, v in summary.get("consortium_test", {}).items()},
            created_at=_created_at(run_id, run_dir),
            registered_at=datetime.now(UTC).isoformat(timespec="seconds"),
            run_manifest_sha256=run_manifest_sha256,
        )


def read_run_file(path: Path) -> dict[str, Any]:
    """A JSON document of a run directory.

    Raises:
        ConfigError: it is missing, not JSON, or not a JSON object.
    """
    try:
        document = parse_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # not UTF-8, not JSON, nested too deeply
        raise ConfigError(f"{path}: not a finished run's file ({exc})") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: not a finished run's file (not a JSON object)")
    return document


def _created_at(run_id: str, run_dir: Path) -> str:
    """The run's start from its id (YYYYMMDD-HHMMSS-…, UTC), else its config's mtime."""
    match = _RUN_ID_TIME.match(run_id)
    if match:
        moment = datetime.strptime(match.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
    else:
        moment = datetime.fromtimestamp((run_dir / "run_config.json").stat().st_mtime, UTC)
    return moment.isoformat(timespec="seconds")
