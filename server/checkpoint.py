"""Checkpoints of a run, so a coordinator that crashed resumes instead of starting over.

After every round the server saves, in the run directory's `checkpoint/`, the global
model and everything recorded so far (each party's outcomes and signed ledger heads,
evaluations, which Flower node is which party). A resumed run starts at the next
round with exactly that model: a party that had already trained and committed the
interrupted round gets the same request again and re-sends its committed update, at
no new privacy cost (see `fedscore.clients.rounds`), so no round is paid twice.

The strategies fedscore uses (FedAvg, FedProx, FedTrimmedAvg, FedMedian in Flower's
Message API) keep no state between rounds: the model is the whole strategy state.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from flwr.app import ArrayRecord

from fedscore.core.documents import write_json
from fedscore.core.errors import FedscoreError
from fedscore.core.files import write_bytes_atomic
from fedscore.server.history import RunHistory, node_id_of, node_key

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.json"


@dataclass(frozen=True)
class Checkpoint:
    """The state of a run after a completed round.

    Attributes:
        completed_round: the last round whose results are in it.
        arrays: the global model after that round.
        history: every round so far.
        party_names: Flower node id → institution, as learned from replies.
    """

    completed_round: int
    arrays: ArrayRecord
    history: RunHistory
    party_names: dict[int, str]


def save_checkpoint(run_dir: Path, checkpoint: Checkpoint) -> None:
    """Write the checkpoint; the previous one stays valid until the new one is complete.

    The model goes to `model-<round>.npz` first, then `state.json` (written atomically)
    names it; older model files are removed last.
    """
    folder = run_dir / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    model_name = f"model-{checkpoint.completed_round:05d}.npz"
    buffer = io.BytesIO()
    # allow_pickle named: np.load reads these without pickles, and mypy then knows that
    # no array name can stand for the flag.
    arrays = {name: array.numpy() for name, array in checkpoint.arrays.items()}
    np.savez(buffer, allow_pickle=False, **arrays)
    write_bytes_atomic(folder / model_name, buffer.getvalue())
    write_json(
        folder / STATE_FILE,
        {
            "completed_round": checkpoint.completed_round,
            "model": model_name,
            "array_names": list(checkpoint.arrays.keys()),
            "history": checkpoint.history.to_state(),
            "party_names": {node_key(k): v for k, v in checkpoint.party_names.items()},
        },
    )
    for old in folder.glob("model-*.npz"):
        if old.name != model_name:
            old.unlink()


def load_checkpoint(run_dir: Path) -> Checkpoint | None:
    """The run's last checkpoint, or None if it completed no round.

    Raises:
        FedscoreError: the checkpoint is unreadable (names the file).
    """
    state_path = run_dir / CHECKPOINT_DIR / STATE_FILE
    if not state_path.is_file():
        return None
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        with np.load(run_dir / CHECKPOINT_DIR / state["model"]) as stored:
            arrays = ArrayRecord(
                {name: torch.from_numpy(stored[name]) for name in state["array_names"]}
            )
        history = RunHistory.from_state(state["history"])
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise FedscoreError(f"{state_path}: unreadable checkpoint ({exc})") from exc
    return Checkpoint(
        int(state["completed_round"]),
        arrays,
        history,
        {node_id_of(k): str(v) for k, v in state["party_names"].items()},
    )
