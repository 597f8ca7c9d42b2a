"""The bank's declared fallback: a bank-only model, for when the joint model cannot score.

When the facilitator's half is missing (the customer is not shared, the facilitator is
down, slow or refuses), the bank answers from this model and says so. It is trained at
the bank alone, on the bank's usable rows (valid consent for the joint purpose) and
their true labels, by DP-SGD (`PartyTrainer`: Opacus per-row clipping and Gaussian
noise, calibrated to the settings' `bank_epsilon`; batches from a secret seed). Its
steps are charged to the bank's record-level budget of that data version, in the
vertical journal, before the first step (`VerticalJournal.charge_training`, a signed
`vertical.training` ledger entry under the fallback's id): the budget the bank's
vertical runs draw on. Its columns are encoded as a vertical run's (the task schema's
declared encodings, `vertical.encoding`); the model never leaves the node.

    <state>/vertical-fallbacks/<fallback id>.npz    the model (owner-only)

`load_fallback` refuses a file that no ledger entry charged.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from fedscore.core.errors import ConfigError, FedscoreError
from fedscore.core.files import write_private
from fedscore.core.run_request import check_safe_name
from fedscore.vertical.encoding import PartyEncoding
from fedscore.vertical.journal import TrainingCharge
from fedscore.vertical.node.psi_stages import journal_of
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.party_table import load_party_table
from fedscore.vertical.roles import Role
from fedscore.vertical.training.party import PartyTrainer
from fedscore.vertical.training.settings import VerticalSettings
from fedscore.vertical.training.submodels import SubModelSpec, build_submodel

FORMAT = "fedscore-vertical-fallback/1"
#: The ledger entry kind a fallback's training is charged under.
CHARGE_KIND = "vertical.training"
#: What its ledger entry says it is.
USE = "bank-only fallback of vertical scoring"


def fallback_path(config: VerticalNodeConfig, fallback_id: str) -> Path:
    """Where the bank keeps the fallback `fallback_id`."""
    check_safe_name(fallback_id, "fallback id")
    return config.state_dir / "vertical-fallbacks" / f"{fallback_id}.npz"


@dataclass(frozen=True)
class FallbackModel:
    """A trained bank-only model.

    Attributes:
        fallback_id: its name (its ledger entry's run id).
        version: "<fallback id>:<sha256 of its file>".
        scaling: the encoding of the bank's columns (the task schema's, as the run's).
        model: the sub-model (logit with the bias).
        epsilon: its record-level ε (RDP) at `delta`.
        delta: the δ of `epsilon`.
        data_version: the version of the bank's rows it was trained on.
    """

    fallback_id: str
    version: str
    scaling: PartyEncoding
    model: nn.Module
    epsilon: float
    delta: float
    data_version: str

    def probabilities(self, features: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
        """P(default) of raw bank rows (rows × the bank's feature columns, config order).

        Raises:
            ConfigError: another number of columns than the model was trained on.
        """
        encoded = torch.from_numpy(self.scaling.apply(features))
        with torch.no_grad():
            logits = self.model(encoded).squeeze(-1).numpy().astype(np.float64)
        probabilities: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-logits))
        return probabilities


def train_fallback(
    config: VerticalNodeConfig,
    fallback_id: str,
    settings: VerticalSettings | None = None,
    as_of: date | None = None,
    noise_seed: int | None = None,
) -> Path:
    """Train, charge and save the bank's fallback model (see the module); its file.

    Args:
        config: the bank's vertical config.
        fallback_id: a new name for it (not a run id of this node).
        settings: model, epochs, optimizer, clipping and ε (`bank_epsilon`); private.
        as_of: the date consent is evaluated on (default: today, UTC).
        noise_seed: seed of the DP noise; None (outside tests): from the OS.

    Raises:
        ConfigError: the node is not the label holder, the id is taken, or the settings
            are not private.
        BudgetExceeded: the training would take the bank's record-level ε past its
            `max_record_epsilon`; nothing was charged or trained.
    """
    settings = settings or VerticalSettings()
    path = fallback_path(config, fallback_id)
    if config.role is not Role.LABEL_HOLDER:
        raise ConfigError(f"{config.party} holds no labels; only the bank trains a fallback")
    if not settings.private:
        raise ConfigError("the fallback trains with DP only (settings.private is false)")
    journal = journal_of(config)
    taken = path.exists() or config.run_dir(fallback_id).exists()
    if taken or journal.recorded(fallback_id, CHARGE_KIND) is not None:
        raise ConfigError(f"'{fallback_id}' is taken (a fallback or a run); choose a new id")
    table = load_party_table(config, as_of or datetime.now(UTC).date())
    assert table.labels is not None  # a label holder's table has labels
    scaling = PartyEncoding(config.feature_columns)
    trainer = PartyTrainer(
        "bank", settings, scaling.apply(table.features), secrets.randbits(256), noise_seed
    )
    plan, mechanism = trainer.plan, trainer.mechanism
    assert mechanism is not None  # private settings
    details = {"model": settings.model, "max_grad_norm": settings.max_grad_norm, "rows": plan.rows}
    entry = journal.charge_training(
        fallback_id,
        config.purpose,
        table.data_version,
        TrainingCharge(
            mechanism.noise_multiplier,
            plan.sample_rate,
            plan.steps,
            plan.delta,
            {**details, "use": USE, "labels": "true labels"},
        ),
        config.max_record_epsilon,
    )
    labels = table.labels.astype(np.float32)
    for step in range(plan.steps):
        rows = trainer.batch(step)
        logits = trainer.outputs(trainer.inputs[rows])
        # ∂BCE/∂logit per row: DP-SGD clips and noises g_i ∇f(x_i), the BCE gradient.
        gradients = (1.0 / (1.0 + np.exp(-logits)) - labels[rows]).astype(np.float32)
        trainer.update(rows, gradients, f"fallback:{step}")
    report = trainer.epsilon()
    meta = {
        "format": FORMAT,
        "fallback_id": fallback_id,
        "party": config.party,
        "purpose": config.purpose,
        "feature_columns": list(config.feature_columns),
        "data_version": table.data_version,
        "settings": settings.as_dict(),
        "epsilon_rdp": report.rdp,
        "delta": plan.delta,
        "ledger_seq": entry.seq,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "meta": np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
    }
    for name, tensor in trainer.model.state_dict().items():
        arrays[f"model.{name}"] = tensor.detach().numpy()
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    if not write_private(path, buffer.getvalue(), exclusive=True):
        raise ConfigError(f"{path} appeared while training; it was not replaced")
    return path


def load_fallback(config: VerticalNodeConfig, fallback_id: str) -> FallbackModel:
    """The bank's fallback `fallback_id`, checked against its config and its ledger.

    Raises:
        ConfigError: no such fallback, it is another party's or of other columns, or no
            ledger entry of this node charged its training.
        FedscoreError: the file is unreadable.
    """
    path = fallback_path(config, fallback_id)
    if not path.is_file():
        raise ConfigError(f"no fallback '{fallback_id}' at {config.party} ({path})")
    content = path.read_bytes()
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        meta = json.loads(arrays.pop("meta").tobytes())
        if meta.get("format") != FORMAT:
            raise ValueError("not a fallback model")
        settings = VerticalSettings.from_mapping(meta["settings"], path)
    except (OSError, ValueError, KeyError, TypeError, FedscoreError) as error:
        raise FedscoreError(f"{path}: unreadable fallback model ({error})") from error
    if meta["party"] != config.party or tuple(meta["feature_columns"]) != config.feature_columns:
        raise ConfigError(f"{path}: a fallback of another party or of other feature columns")
    charged = journal_of(config).recorded(fallback_id, CHARGE_KIND)
    if (
        charged is None
        or charged.get("use") != USE
        or charged.get("data_version") != meta["data_version"]
    ):
        raise ConfigError(f"{path}: no ledger entry of this node charged its training")
    scaling = PartyEncoding(config.feature_columns)
    spec = SubModelSpec(settings.model, scaling.width, settings.hidden, bias=True)
    model = build_submodel(spec)
    model.load_state_dict(
        {name[6:]: torch.from_numpy(a) for name, a in arrays.items() if name.startswith("model.")}
    )
    model.eval()
    return FallbackModel(
        fallback_id=fallback_id,
        version=f"{fallback_id}:{hashlib.sha256(content).hexdigest()}",
        scaling=scaling,
        model=model,
        epsilon=float(meta["epsilon_rdp"]),
        delta=float(meta["delta"]),
        data_version=str(meta["data_version"]),
    )
