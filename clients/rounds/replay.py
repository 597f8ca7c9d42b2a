"""Answering a round again with the update already committed for it, at no privacy cost.

A round asked again with the same global model (after the node or the coordinator
crashed between the commit and the reply) is answered with the committed update:
re-sending a DP output is post-processing. Asked with another model, it is a new attempt.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
import torch
from flwr.app import ArrayRecord

from fedscore.clients.journal import ReleasedUpdate
from fedscore.clients.local_data import PartyData
from fedscore.clients.node import NodeConfig
from fedscore.clients.rounds.replies import backed_by
from fedscore.core.protocol import PartyReport, Status, TrainMetrics, TrainReply
from fedscore.privacy.ledger import LedgerEntry

REPLAY_NOTE = "update re-sent as committed earlier (no new privacy cost)"


def global_model_sha256(arrays: ArrayRecord) -> str:
    """Fingerprint of the global model a round starts from (names, shapes, values)."""
    digest = hashlib.sha256()
    for name, array in arrays.items():
        values = array.numpy()
        digest.update(f"{name}:{values.dtype}:{values.shape};".encode())
        digest.update(np.ascontiguousarray(values).tobytes())
    return digest.hexdigest()


def arrays_to_npz(arrays: ArrayRecord) -> bytes:
    """An update's arrays as the bytes of an .npz file (how the journal keeps them)."""
    buffer = io.BytesIO()
    # allow_pickle named: np.load reads these without pickles, and mypy then knows that
    # no array name can stand for the flag.
    np.savez(buffer, allow_pickle=False, **{name: array.numpy() for name, array in arrays.items()})
    return buffer.getvalue()


def replayed_reply(
    node: NodeConfig, data: PartyData, update: ReleasedUpdate, entry: LedgerEntry | None
) -> TrainReply:
    """The reply a node already committed for this round, sent again at no privacy cost."""
    with np.load(io.BytesIO(update.arrays)) as stored:
        arrays = ArrayRecord({name: torch.from_numpy(stored[name]) for name in stored.files})
    party = PartyReport(node.party, Status.TRAINED, note=REPLAY_NOTE)
    return TrainReply(backed_by(party, data, entry), TrainMetrics.from_json(update.metrics), arrays)
