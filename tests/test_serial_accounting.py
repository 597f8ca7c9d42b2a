"""A round is charged exactly as often as it is trained and released, whatever runs at once.

The defect: two node processes on one node config both trained a round; the ledger got
two "trained" entries, the accountant one round (it was read outside the transaction
that committed it). Now the commit checks, inside its write transaction, that the
accountant is still the one the round's budget was checked against; and a node process
holds an exclusive lock on its state folder.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import subprocess
import sys

import pytest
import tomli_w
from flwr.app import ArrayRecord, ConfigRecord

from fedscore.clients.journal import AccountantKey, ConcurrentCharge, NodeJournal, RoundRecord
from fedscore.clients.node import NodeConfig
from fedscore.clients.node_state import StateLock
from fedscore.clients.rounds import train_round
from fedscore.core import protocol
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.errors import ConfigError
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import load_schema
from fedscore.core.tabular import file_sha256
from fedscore.privacy.accounting import PartyAccountant

RUN = RunConfig(rounds=2, batch_size=256, delta=1e-4)


def _config(schema) -> ConfigRecord:
    return ConfigRecord(
        {
            **RUN.to_flower(),
            protocol.RUN_ID: "run-a",
            protocol.SERVER_ROUND: 1,
            protocol.SCHEMA_SHA256: schema.sha256,
            protocol.TASK: schema.name,
        }
    )


def _arrays(schema) -> ArrayRecord:
    return ArrayRecord(build_model(ModelSpec("lr", FeatureEncoder(schema).n_features)).state_dict())


def _record(status: str = "trained") -> RoundRecord:
    return RoundRecord(
        run_id="run-a", server_round=1, status=status, reason="", noise_multiplier=1.0,
        sample_rate=0.1, steps=10, max_grad_norm=1.0, delta=1e-5, epsilon_rdp=0.1,
        epsilon_prv=0.1, max_epsilon=5.0,
    )  # fmt: skip


def test_a_commit_from_a_stale_accountant_is_refused_and_leaves_nothing(tmp_path):
    store = NodeJournal(tmp_path / "privacy.sqlite")
    key = AccountantKey("bank", "task", "v1")
    stale = store.load(key)  # what this round checked its budget against
    other = PartyAccountant()
    other.step(1.0, 0.1, 10)
    store.commit_round(key, other, _record(), started_from=stale)  # another process first
    mine = PartyAccountant()
    mine.step(1.0, 0.1, 10)
    with pytest.raises(ConcurrentCharge, match="charged the same data version"):
        store.commit_round(key, mine, _record(), started_from=stale)
    assert store.load(key).steps == 10 and len(store.rounds(key)) == 1


def _train_in_a_process(config_path: str, start: object, results: object) -> None:
    node = NodeConfig.from_toml(config_path)
    schema = load_schema(node.task_path)
    start.wait()  # type: ignore[attr-defined]
    reply = train_round(node, _arrays(schema), _config(schema))
    results.put(str(reply.config_records[protocol.PARTY][protocol.STATUS]))  # type: ignore[attr-defined]


@pytest.mark.slow  # two node processes
def test_two_processes_training_one_round_charge_it_once(tmp_path, party_table, make_node):
    """Both processes load the table and train the same round at the same moment; whoever
    commits second finds the accountant changed (or the update already released) and
    neither charges nor releases a second time."""
    config = make_node(tmp_path / "bank", "bank", party_table)
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    workers = [
        context.Process(target=_train_in_a_process, args=(str(config), start, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=180)
        assert worker.exitcode == 0
    statuses = sorted(results.get(timeout=5) for _ in workers)
    assert statuses in (["refused", "trained"], ["trained", "trained"]), statuses
    node = NodeConfig.from_toml(config)
    key = AccountantKey("bank", "default_risk", file_sha256(node.data_path))
    with sqlite3.connect(node.accountant_db) as db:
        entries = [json.loads(c) for (c,) in db.execute("SELECT content FROM ledger")]
    trained = [e for e in entries if e["status"] == "trained"]
    assert len(trained) == 1, entries  # released once (a second "trained" is a re-send)
    assert NodeJournal(node.accountant_db).load(key).steps == trained[0]["steps"]


def test_a_node_cannot_start_twice_on_one_state_folder(tmp_path, party_table, make_node):
    config = make_node(tmp_path / "bank", "bank", party_table)
    node = NodeConfig.from_toml(config)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(node.state_dir)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match=r"is in use by process \d+"):
            StateLock(node.state_dir).acquire()
        with config.open("a") as handle:  # a deployable node config, so `node start` gets far
            handle.write("\n" + tomli_w.dumps(_DEPLOYABLE))
        started = subprocess.run(
            [sys.executable, "-m", "fedscore.cli.main", "node", "start", "--config", str(config),
             "--insecure-dev"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert started.returncode == 2 and "is in use by process" in started.stderr
        assert "Traceback" not in started.stderr
    finally:
        holder.kill()
        holder.wait()
    lock = StateLock(node.state_dir)
    lock.acquire()  # free again once the holder is gone
    lock.release()


_HOLD_LOCK = """
import sys, time
from pathlib import Path
from fedscore.clients.node_state import StateLock
lock = StateLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
time.sleep(120)
"""

_DEPLOYABLE = {
    "policy": {"model_owners": {"owner": "ab" * 32}},
    "trust": {"approved_apps": ["cd" * 32]},
    "deployment": {"superlink": "127.0.0.1:1", "insecure_dev": True},
}
