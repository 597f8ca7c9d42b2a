"""The stages after the intersection: setup, the training steps, the test.

SETUP encodes the party's shared rows (training and held-out, in join-key order), and
charges before anything leaves: at the label holder the label release to the label
budget (then makes or reuses the release, once per label version), at both the run's
DP-SGD steps to the record-level budget, and records what will cross without DP.
FORWARD (feature holder) applies the bank's gradients of the previous step and returns
this step's contributions; STEP (label holder) takes them and returns the gradients.
EVALUATE returns the facilitator's contributions for the held-out customers, and at the
bank the joint model's test figures. Every vector crosses sealed (`channel`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from fedscore.core.metrics import score_metrics
from fedscore.core.protocol.errors import MalformedMessage
from fedscore.privacy.label_dp import LabelReleaseStore, label_version
from fedscore.vertical.channel import Channel
from fedscore.vertical.encoding import PartyEncoding
from fedscore.vertical.journal import TrainingCharge
from fedscore.vertical.messages import Outcome, Stage, StageReply, StageRequest
from fedscore.vertical.node.psi_stages import INTERSECTION, journal_of, table_of
from fedscore.vertical.node.run_folder import RunFolder
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.roles import Role
from fedscore.vertical.training.batches import sampling_seed
from fedscore.vertical.training.feature_side import FeatureSide
from fedscore.vertical.training.label_side import LabelSide
from fedscore.vertical.training.settings import VerticalSettings

FEATURES = "features.npz"
TRAINER = "trainer.state"

Side = LabelSide | FeatureSide


def setup(config: VerticalNodeConfig, request: StageRequest) -> StageReply:
    """SETUP: encode the shared rows, charge the budgets, create the party's trainer."""
    folder = RunFolder(config, request.run_id)
    terms = folder.terms()
    settings = VerticalSettings.from_mapping(dict(terms.training), "the run's training terms")
    table = table_of(config, folder)
    shared = folder.arrays(INTERSECTION)
    rows, test = shared["rows"], shared["test"].astype(bool)
    train_rows, test_rows = rows[~test], rows[test]
    encoding = PartyEncoding(config.feature_columns)
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "train": encoding.apply(table.features[train_rows]),
        "test": encoding.apply(table.features[test_rows]),
    }
    channel = Channel.load(folder.file("channel.state"))
    seed = sampling_seed(channel.export_secret(b"batches"), folder.run_id.encode("utf-8"))
    journal = journal_of(config)
    side: Side
    if config.role is Role.LABEL_HOLDER:
        assert table.labels is not None and config.max_label_epsilon is not None
        labels = table.labels[train_rows]
        keys = [bytes(key).hex() for key in shared["join_keys"][~test]]
        version = label_version(keys, labels)
        journal.charge_label_release(
            folder.run_id,
            config.purpose,
            version,
            settings.label_epsilon,
            config.max_label_epsilon,
            rows=len(labels),
        )
        store = LabelReleaseStore(config.state_dir / "label-releases")
        release = store.release_for(version, labels, settings.label_epsilon)
        arrays["test_labels"] = table.labels[test_rows]
        side = LabelSide.create(settings, arrays["train"], release, seed)
    else:
        side = FeatureSide.create(settings, arrays["train"], seed)
    plan, mechanism = side.trainer.plan, side.trainer.mechanism
    noise = mechanism.noise_multiplier if mechanism is not None else 0.0
    entry = journal.charge_training(
        folder.run_id,
        config.purpose,
        table.data_version,
        TrainingCharge(
            noise,
            plan.sample_rate,
            plan.steps,
            plan.delta,
            {"model": settings.model, "max_grad_norm": settings.max_grad_norm, "rows": plan.rows},
        ),
        config.max_record_epsilon,
    )
    sent = (
        "logit contributions u_i = f(x_i)"
        if config.role is Role.FEATURE_HOLDER
        else ("loss gradients g_i = sigmoid(z_i) - y_i with y from the label-DP release")
    )
    journal.record_disclosure(
        folder.run_id,
        values_sent=int(
            plan.steps * plan.expected_batch_size + len(test_rows) * _sends_test(config)
        ),
        what=sent,
        record_level_dp="none: each value is of one row (the sub-model's parameters are DP)",
    )
    folder.save_arrays(FEATURES, arrays)
    side.save(folder.file(TRAINER))
    facts: dict[str, int | float | str] = {
        "steps": plan.steps,
        "sample_rate": plan.sample_rate,
        "noise_multiplier": noise,
        "delta": plan.delta,
        "epsilon_rdp": float(entry.content["epsilon_rdp"]),
        "train_rows": plan.rows,
        "test_rows": len(test_rows),
    }
    return StageReply(config.party, Outcome.DONE, facts=facts)


def forward(config: VerticalNodeConfig, request: StageRequest) -> StageReply:
    """FORWARD (feature holder): apply step − 1's gradients, send step's contributions."""
    folder, channel = _opened(config, request)
    side = FeatureSide.load(folder.file(TRAINER), folder.arrays(FEATURES)["train"])
    contributions: npt.NDArray[np.float32] | None
    if request.step == 0:
        contributions = side.contributions(0)
    else:
        gradients = _vector(channel.open(Stage.STEP, request.sealed), "gradients")
        contributions = side.apply_and_forward(request.step - 1, gradients)
    side.save(folder.file(TRAINER))
    if contributions is None:
        return StageReply(config.party, Outcome.DONE, facts={"finished": 1})
    sealed = channel.seal(Stage.FORWARD, contributions.astype("<f4").tobytes())
    return StageReply(config.party, Outcome.DONE, sealed=sealed)


def step(config: VerticalNodeConfig, request: StageRequest) -> StageReply:
    """STEP (label holder): one step on the facilitator's contributions; send gradients."""
    folder, channel = _opened(config, request)
    side = LabelSide.load(folder.file(TRAINER), folder.arrays(FEATURES)["train"])
    contributions = _vector(channel.open(Stage.FORWARD, request.sealed), "contributions")
    gradients = side.step(request.step, contributions)
    side.save(folder.file(TRAINER))
    sealed = channel.seal(Stage.STEP, gradients.astype("<f4").tobytes())
    return StageReply(config.party, Outcome.DONE, sealed=sealed)


def evaluate(config: VerticalNodeConfig, request: StageRequest) -> StageReply:
    """EVALUATE: contributions for the held-out customers; at the bank, the test figures."""
    folder, channel = _opened(config, request)
    arrays = folder.arrays(FEATURES)
    if config.role is Role.FEATURE_HOLDER:
        side = FeatureSide.load(folder.file(TRAINER), arrays["train"])
        held_out = side.contributions_for(arrays["test"])
        sealed = channel.seal(Stage.EVALUATE, held_out.astype("<f4").tobytes())
        return StageReply(config.party, Outcome.DONE, sealed=sealed)
    bank = LabelSide.load(folder.file(TRAINER), arrays["train"])
    peer = _vector(channel.open(Stage.EVALUATE, request.sealed), "test contributions")
    own = bank.contributions_for(arrays["test"])
    if len(peer) != len(own):
        raise MalformedMessage("test contributions", "values", f"{len(peer)} for {len(own)} rows")
    joint = 1.0 / (1.0 + np.exp(-(own.astype(np.float64) + peer)))
    metrics = score_metrics(arrays["test_labels"], joint)
    facts: dict[str, int | float | str] = {
        "rows": len(own),
        "auc": metrics.auc,
        "ks": metrics.ks,
        "brier": metrics.brier,
        "log_loss": metrics.log_loss,
    }
    return StageReply(config.party, Outcome.DONE, facts=facts)


def _opened(config: VerticalNodeConfig, request: StageRequest) -> tuple[RunFolder, Channel]:
    folder = RunFolder(config, request.run_id)
    folder.admission()
    return folder, Channel.load(folder.file("channel.state"))


def _vector(payload: bytes, what: str) -> npt.NDArray[np.float32]:
    if len(payload) % 4:
        raise MalformedMessage(what, "bytes", "are not whole 32-bit figures")
    return np.frombuffer(payload, dtype="<f4").astype(np.float32)


def _sends_test(config: VerticalNodeConfig) -> int:
    return 1 if config.role is Role.FEATURE_HOLDER else 0


def trainer_file(config: VerticalNodeConfig, run_id: str) -> Path:
    """Where a run's trained sub-model is kept at this node (for scoring)."""
    return RunFolder(config, run_id).file(TRAINER)
