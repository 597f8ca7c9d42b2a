"""A real node process for the crash-consistency test (test helper, not product code).

It plays one institution's node together with the transport the server talks to:
for server rounds 1..R of one run it calls the real `train_round` with what the
server would send (the run config, run id, round, schema hash, and the global
model), then "sends" the update by writing the reply atomically into an outbox
folder (temp file, fsync, `os.replace`). The outbox is what left the node; the
node's privacy state is what its SQLite file says. The test SIGKILLs this process
at arbitrary moments and checks that the two never disagree.

On start it resumes like a server that re-asks the first round it has no reply
for: at the first round missing from the outbox, with the model of the latest
reply as the global model (FedAvg over a single party is that party's update).

Kill points (`--die-at PHASE:ROUND`, repeatable) make this process SIGKILL itself
at exact places inside a round. They sit in the journal's public SQL hook, which
`train_round` passes to the node's journal (`NodeJournal(on_statement=...)`: SQLite
calls it as a statement starts, before it has any effect), and between `train_round`
returning and the send; the journal's code runs unmodified and unpatched, and the kill
is a real SIGKILL (no rollback, no finally):

- ``ledger-insert``: inside the commit transaction, accountant and round rows
  written, the ledger entry not yet;
- ``before-commit``: everything written inside the transaction, COMMIT not run;
- ``after-commit``: committed, the update not sent.

Progress goes to stdout, one flushed line per event (``ready``, ``train N``,
``commit N`` as the commit transaction begins, ``committed N`` once it committed,
``send N``, ``sent N``, ``done``), so the test can tell where a kill landed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from flwr.app import ArrayRecord, ConfigRecord

from fedscore.clients import rounds
from fedscore.clients.data_cache import PartyDataCache
from fedscore.clients.journal import NodeJournal
from fedscore.clients.node import NodeConfig
from fedscore.core import protocol
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import load_schema
from fedscore.core.signing import SigningKey

PHASES = ("ledger-insert", "before-commit", "after-commit")
OUTBOX_PREFIX = "round-"
OUTBOX_SUFFIX = ".npz"
META_KEY = "__reply__"


def outbox_name(server_round: int) -> str:
    return f"{OUTBOX_PREFIX}{server_round:04d}{OUTBOX_SUFFIX}"


def sent_rounds(outbox: Path) -> list[int]:
    """Rounds whose reply left the node (only complete, renamed files count)."""
    found = []
    for path in outbox.glob(f"{OUTBOX_PREFIX}*{OUTBOX_SUFFIX}"):
        digits = path.name[len(OUTBOX_PREFIX) : -len(OUTBOX_SUFFIX)]
        if digits.isdigit():
            found.append(int(digits))
    return sorted(found)


def read_reply(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The model arrays and the reply's metadata (status, metrics, signed ledger head)."""
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files if name != META_KEY}
        meta = json.loads(str(stored[META_KEY]))
    return arrays, meta


def event(text: str) -> None:
    print(text, flush=True)


def die() -> None:
    """A real, uncatchable kill of this process: no finally blocks, no rollback."""
    os.kill(os.getpid(), signal.SIGKILL)


class KillSwitch:
    """Which (phase, round) this process dies at, and where in its round it is."""

    def __init__(self, points: list[tuple[str, int]]) -> None:
        self.points = set(points)
        self.server_round = 0
        self.committing = False

    def start(self, server_round: int) -> None:
        """A new round begins."""
        self.server_round = server_round
        self.committing = False

    def at(self, phase: str) -> None:
        if (phase, self.server_round) in self.points:
            event(f"die {phase} {self.server_round}")
            die()

    def on_statement(self, statement: str) -> None:
        """The journal's SQL hook: called as a statement starts, before it has any effect.

        The journal was created before the first round, so the only transaction it
        begins within a round is the round's commit (`NodeJournal.commit_round`).
        """
        text = statement.lstrip().upper()
        if text.startswith("BEGIN"):
            event(f"commit {self.server_round}")
        elif text.startswith("INSERT INTO LEDGER"):
            self.at("ledger-insert")
        elif text == "COMMIT":
            self.at("before-commit")
            self.committing = True

    def trained(self) -> None:
        """`train_round` returned: a COMMIT it ran succeeded (a failed one raises)."""
        if self.committing:
            event(f"committed {self.server_round}")
            self.at("after-commit")


def send(outbox: Path, server_round: int, reply: Any) -> None:
    """Release the reply: the whole file appears under its final name, or nothing does."""
    party = reply.config_records[protocol.PARTY]
    metrics = reply.metric_records[protocol.METRICS]
    meta = {
        "server_round": server_round,
        "status": str(party[protocol.STATUS]),
        "reason": str(party[protocol.REASON]),
        "ledger_head": json.loads(str(party.get(protocol.LEDGER_HEAD, "{}"))),
        "metrics": {key: float(value) for key, value in metrics.items()},  # type: ignore[arg-type]
    }
    arrays: dict[str, np.ndarray] = {}
    if protocol.ARRAYS in reply.array_records:
        state = reply.array_records[protocol.ARRAYS].to_torch_state_dict()
        arrays = {name: tensor.detach().cpu().numpy() for name, tensor in state.items()}
    final = outbox / outbox_name(server_round)
    partial = outbox / f".{final.name}.partial"
    with partial.open("wb") as handle:
        np.savez(handle, **arrays, **{META_KEY: np.array(json.dumps(meta))})
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, final)
    directory = os.open(outbox, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def global_model(outbox: Path, run: RunConfig, n_features: int) -> ArrayRecord:
    """The model the server sends next: the latest update received, else the initial model."""
    model = build_model(ModelSpec(run.model, n_features, run.hidden, run.seed))
    for server_round in reversed(sent_rounds(outbox)):
        arrays, _ = read_reply(outbox / outbox_name(server_round))
        if arrays:  # a refusal carries no model
            model.load_state_dict({name: torch.from_numpy(value) for name, value in arrays.items()})
            break
    return ArrayRecord(model.state_dict())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", type=Path, required=True, help="the node config TOML")
    parser.add_argument("--outbox", type=Path, required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--run-config", required=True, help="RunConfig.to_flower() as JSON")
    parser.add_argument("--die-at", action="append", default=[], help="PHASE:ROUND")
    args = parser.parse_args(argv)

    points = []
    for spec in args.die_at:
        phase, _, number = spec.partition(":")
        if phase not in PHASES or not number.isdigit():
            parser.error(f"--die-at {spec}: expected one of {PHASES} and a round")
        points.append((phase, int(number)))
    switch = KillSwitch(points)

    torch.set_num_threads(1)  # as the ClientApp does
    node = NodeConfig.from_toml(args.node)
    run = RunConfig.from_flower(json.loads(args.run_config))
    schema = load_schema(node.task_path)
    args.outbox.mkdir(parents=True, exist_ok=True)
    # What train_round would do first anyway; done before "ready" so the test's timed
    # kills measure rounds, not start-up. Creating the ledger key is also not crash-safe
    # (SigningKey.load_or_create writes the PEM after creating the file, then the .pub),
    # a window this test deliberately keeps its kills out of.
    SigningKey.load_or_create(node.ledger_key)
    # Creating the journal's tables is a transaction of its own: done here, so that the
    # only one the journal begins within a round is the round's commit.
    NodeJournal(node.accountant_db, ledger_hash=node.ledger_hash)
    load_data = PartyDataCache(remember=True)
    load_data(node, schema)
    n_features = FeatureEncoder(schema).n_features
    event("ready")

    sent = set(sent_rounds(args.outbox))
    for server_round in range(1, run.rounds + 1):
        if server_round in sent:
            continue
        switch.start(server_round)
        config = ConfigRecord(
            {
                **run.to_flower(),
                protocol.RUN_ID: args.run_id,
                protocol.SERVER_ROUND: server_round,
                protocol.SCHEMA_SHA256: schema.sha256,
                protocol.TASK: schema.name,
            }
        )
        event(f"train {server_round}")
        reply = rounds.train_round(
            node,
            global_model(args.outbox, run, n_features),
            config,
            load_data,
            on_statement=switch.on_statement,
        )
        switch.trained()
        event(f"send {server_round}")
        send(args.outbox, server_round, reply)
        event(f"sent {server_round}")
    event("done")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip the interpreter's teardown (about a second with torch loaded): the outbox and
    # the database were fsynced and closed already, and the test waits for this exit.
    os._exit(code)
