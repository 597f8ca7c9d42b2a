"""A node SIGKILLed at any point of 50 rounds never leaves its ledger and accountant disagreeing.

Real processes: `tests/crash_node.py` runs the node's real `train_round` for rounds
1..N of one run and "sends" each update into an outbox folder. One test kills it with
SIGKILL at seeded random moments of a 50-round run; another makes it SIGKILL itself
at exact points inside the commit transaction. Each time it is restarted, and after
every kill the node's SQLite file is opened afresh (read-only, WAL left as the kill
left it), as an auditor would, to check that

1. the ledger's hash chain and signature verify with the node's public key;
2. the `round` table and the ledger describe the same rounds: every row is its
   round's latest ledger entry, field for field;
3. the accountant's stored history is exactly the composition of the trained ledger
   entries (same mechanism, same steps), so its epsilon is the last trained entry's;
4. no update left the node without its committed, signed ledger entry.

A kill between the commit and the send leaves a round charged but unsent. Asked that
round again with the same global model, the node re-sends the update it committed
(post-processing: no new charge), so every round is charged exactly once however
often the node dies, and the final epsilon is that of an accountant that never
crashed.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from crash_node import outbox_name, read_reply, sent_rounds
from opacus.accountants import RDPAccountant

from fedscore.clients.journal import AccountantKey
from fedscore.clients.node import NodeConfig
from fedscore.core import protocol
from fedscore.core.runconfig import RunConfig
from fedscore.core.signing import public_key_from_hex
from fedscore.core.tabular import file_sha256
from fedscore.privacy.accounting import PartyAccountant
from fedscore.privacy.accounting.accountant import RDP_ORDERS
from fedscore.privacy.ledger import LedgerEntry, read_entries, verify_ledger
from fedscore.privacy.ledger.verify import verify_signed_head

pytestmark = pytest.mark.slow  # kills and restarts real node processes

DRIVER = Path(__file__).with_name("crash_node.py")
RUN_ID = "crash-run"
ROUNDS = 50
EPSILON_TOLERANCE = 1e-9
KILLS = 4  # each restart costs ~3 s (imports); the commit test kills 3 times more
STARTUP_TIMEOUT_S = 90.0
RUN_TIMEOUT_S = 120.0


# --- the node process -------------------------------------------------------------------


class NodeProcess:
    """One start of the driver; its stdout events are read as they come."""

    def __init__(self, site: CrashSite, die_at: str = "") -> None:
        command = [
            sys.executable,
            str(DRIVER),
            "--node",
            str(site.node_config),
            "--outbox",
            str(site.outbox),
            "--run-id",
            RUN_ID,
            "--run-config",
            json.dumps(site.run.to_flower()),
        ]
        if die_at:
            command += ["--die-at", die_at]
        self._stderr = site.stderr.open("ab")
        self.proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env={**os.environ, "FLWR_TELEMETRY_ENABLED": "0"},
        )
        self.events: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(line.strip())
            self._lines.put(line.strip())
        self._lines.put(None)

    def wait_for(self, wanted: str, timeout: float) -> bool:
        """Block until the process prints `wanted` (True) or ends without it (False)."""
        while True:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"node printed no '{wanted}' within {timeout:.0f} s: {self.events}")
            if line is None:
                return False
            if line == wanted:
                return True

    def kill(self) -> None:
        """SIGKILL, unless it already ended; either way wait for it and its output."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = RUN_TIMEOUT_S) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self._reader.join(timeout=10)
            self._stderr.close()
        return code

    @property
    def landed(self) -> str:
        """Where the process was when it died: its last progress event."""
        return self.events[-1] if self.events else "(before ready)"


# --- what an auditor reads from the node's files ----------------------------------------


@dataclass
class NodeState:
    """The node's privacy state file and outbox, read after a kill."""

    entries: list[LedgerEntry] = field(default_factory=list)
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    accountant: PartyAccountant | None = None
    sent: dict[int, dict[str, Any]] = field(default_factory=dict)

    def trained_counts(self) -> Counter[int]:
        return Counter(int(e.content["server_round"]) for e in self.entries if _trained(e.content))


def _trained(content: dict[str, Any]) -> bool:
    return content["status"] == protocol.TRAINED


def _read_state(node: NodeConfig, key: AccountantKey, outbox: Path) -> NodeState:
    """Open the SQLite file afresh (as after a crash: WAL and all) and read the outbox."""
    state = NodeState()
    for server_round in sent_rounds(outbox) if outbox.is_dir() else []:
        _, meta = read_reply(outbox / outbox_name(server_round))
        assert meta["server_round"] == server_round
        state.sent[server_round] = meta
    if not node.accountant_db.exists():
        return state
    db = sqlite3.connect(f"file:{node.accountant_db}?mode=ro", uri=True)
    try:
        db.execute("BEGIN")  # one snapshot for all three tables
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if "ledger" in tables:
            state.entries = [
                e
                for e in read_entries(db)
                if (e.content["party"], e.content["task"], e.content["data_version"])
                == (key.party, key.task, key.data_version)
            ]
        if "round" in tables:
            cursor = db.execute(
                "SELECT * FROM round WHERE party=? AND task=? AND data_version=? AND run_id=?",
                (key.party, key.task, key.data_version, RUN_ID),
            )
            names = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                record = dict(zip(names, row, strict=True))
                state.rows[int(record["server_round"])] = record
        if "accountant" in tables:
            row = db.execute(
                "SELECT state FROM accountant WHERE party=? AND task=? AND data_version=?",
                (key.party, key.task, key.data_version),
            ).fetchone()
            if row is not None:
                state.accountant = PartyAccountant.from_state_dict(json.loads(row[0]))
        db.execute("COMMIT")
    finally:
        db.close()
    return state


def check_consistency(site: CrashSite) -> NodeState:
    """The four invariants; returns what was read so callers can assert more."""
    node, run = site.node, site.run
    state = _read_state(node, site.key, site.outbox)
    public = public_key_from_hex(node.ledger_key.with_suffix(".pub").read_text())

    # 1. The chain verifies, with the product's verifier (read-only, as an auditor).
    if state.entries:
        verdict = verify_ledger(node.accountant_db, public)
        assert verdict.ok, verdict.problem

    # 2. Rows and ledger describe the same rounds; each row is its round's latest entry.
    latest: dict[int, dict[str, Any]] = {}
    for entry in state.entries:
        assert entry.content["run_id"] == RUN_ID
        latest[int(entry.content["server_round"])] = entry.content
    assert set(state.rows) == set(latest), "round table and ledger name different rounds"
    for server_round, row in state.rows.items():
        differing = {name for name, value in row.items() if latest[server_round][name] != value}
        assert not differing, f"round {server_round}: row and ledger differ in {differing}"
    for entry in state.entries:
        # A round is only ever trained (and so ledgered) again, never refused or dropped.
        assert _trained(entry.content), entry.content

    # 3. The accountant is the composition of the trained entries, and so is its epsilon.
    trained = [e.content for e in state.entries if _trained(e.content)]
    composed = PartyAccountant()
    for content in trained:
        composed.step(content["noise_multiplier"], content["sample_rate"], content["steps"])
    if not trained:
        assert state.accountant is None or state.accountant.steps == 0
    else:
        assert state.accountant is not None
        assert state.accountant.state_dict() == composed.state_dict()
        assert state.accountant.steps == sum(content["steps"] for content in trained)
        epsilon = state.accountant.epsilon(run.delta, run.accountant)
        assert abs(epsilon - trained[-1]["epsilon_rdp"]) <= EPSILON_TOLERANCE

    # 4. Every update that left the node has its committed, signed entry.
    by_seq = {entry.seq: entry for entry in state.entries}
    for server_round, meta in state.sent.items():
        assert meta["status"] == protocol.TRAINED, meta
        head = meta["ledger_head"]
        assert verify_signed_head(head, public) == ""
        entry = by_seq.get(int(head["seq"]))
        assert entry is not None, f"round {server_round} was sent without a committed entry"
        assert entry.entry_hash.hex() == head["entry_hash"]
        assert (entry.content["run_id"], entry.content["server_round"]) == (RUN_ID, server_round)
    assert sorted(state.sent) == list(range(1, len(state.sent) + 1)), "a gap in what was sent"
    return state


def committed_unsent(state: NodeState) -> set[int]:
    """Rounds whose training was committed but whose update never left the node."""
    unsent = set(state.trained_counts()) - set(state.sent)
    # The node works one round at a time: only the round after the last one sent.
    assert unsent <= {len(state.sent) + 1}, unsent
    return unsent


def check_final(site: CrashSite, state: NodeState) -> None:
    """Every round sent and charged exactly once, however often the node died."""
    run, rounds = site.run, range(1, site.run.rounds + 1)
    assert sorted(state.sent) == list(rounds)
    counts = state.trained_counts()
    assert counts == Counter(dict.fromkeys(rounds, 1))
    first = state.entries[0].content
    noise, rate, steps = first["noise_multiplier"], first["sample_rate"], first["steps"]
    assert state.accountant is not None
    assert state.accountant.history == [(noise, rate, steps * run.rounds)]
    # An accountant that never crashed (Opacus' own, step by step) over the run's rounds.
    uninterrupted = RDPAccountant()
    for _ in range(steps * run.rounds):
        uninterrupted.step(noise_multiplier=noise, sample_rate=rate)
    expected = uninterrupted.get_epsilon(delta=run.delta, alphas=list(RDP_ORDERS))
    final = state.accountant.epsilon(run.delta, "rdp")
    assert abs(final - expected) <= EPSILON_TOLERANCE
    assert abs(final - state.entries[-1].content["epsilon_rdp"]) <= EPSILON_TOLERANCE


# --- fixtures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CrashSite:
    """A node's folder, its outbox, and the run the server drives it through."""

    node_config: Path
    node: NodeConfig
    key: AccountantKey
    outbox: Path
    stderr: Path
    run: RunConfig

    def start(self, die_at: str = "") -> NodeProcess:
        return NodeProcess(self, die_at)


@pytest.fixture()
def make_site(tmp_path, party_table, schema, make_node):
    """A real node folder (3,500 customers of the large bank), an empty outbox, a run.

    2,633 training rows at a 512 batch: 6 DP-SGD steps a round, ~80 ms a round, nearly
    all of it epsilon computations (RDP and PRV).
    """

    def build(rounds: int) -> CrashSite:
        config = make_node(tmp_path / "bank", "bank", party_table)
        node = NodeConfig.from_toml(config)
        key = AccountantKey(node.party, schema.name, file_sha256(node.data_path))
        run = RunConfig(rounds=rounds, batch_size=512, delta=1e-4, epsilon=1.0)
        return CrashSite(config, node, key, tmp_path / "outbox", tmp_path / "stderr.log", run)

    return build


def _run_to_the_end(site: CrashSite) -> None:
    process = site.start()
    code = process.finish()
    assert code == 0 and process.events[-1] == "done", _failure(site, process)


def _failure(site: CrashSite, process: NodeProcess) -> str:
    tail = site.stderr.read_text(errors="replace")[-3000:] if site.stderr.exists() else ""
    return f"node exited {process.proc.returncode}; events {process.events[-5:]}\n{tail}"


# --- the tests ---------------------------------------------------------------------------


def test_node_killed_at_random_moments_over_50_rounds_stays_consistent(make_site):
    """Seeded kills from outside: a random round, then a random moment after a trigger.

    A round takes ~80 ms, nearly all of it accounting before the commit; the commit,
    the hand-over and the send take ~4 ms together. So half the kills wait for a
    round's start and sleep up to a round, the other half wait for the commit to begin
    and sleep up to 5 ms: they land in training, in the transaction, between commit
    and send, or in the send. The exact landing varies with the machine's timing;
    the invariants must hold wherever it is.
    """
    site = make_site(ROUNDS)
    rng = random.Random(20240611)
    # One target round in each stretch of the run, so the kills spread over all of it.
    stretch = ROUNDS // KILLS
    targets = [rng.randint(i * stretch + 1, (i + 1) * stretch) for i in range(KILLS)]
    replayed: set[int] = set()
    landings: list[str] = []
    before = NodeState()
    for chosen in targets:
        # A kill may land a round after its target: never aim behind the restart.
        target = max(chosen, len(before.sent) + 1)
        trigger, delay = rng.choice([("train", 0.1), ("commit", 0.005)])
        process = site.start()
        assert process.wait_for("ready", STARTUP_TIMEOUT_S), _failure(site, process)
        if process.wait_for(f"{trigger} {target}", RUN_TIMEOUT_S):
            time.sleep(rng.uniform(0.0, delay))
        process.kill()
        landings.append(f"after '{trigger} {target}': {process.landed}")
        if process.proc.returncode == 0:
            break  # the run finished before the kill landed; nothing more to kill
        assert process.proc.returncode == -signal.SIGKILL, _failure(site, process)
        state = check_consistency(site)
        phase, _, number = process.landed.partition(" ")
        if phase == "train":
            # Killed before commit_round began: nothing more of that round is stored.
            n = int(number)
            assert state.trained_counts()[n] == before.trained_counts()[n]
        elif phase == "committed":
            assert committed_unsent(state) == {int(number)}
        replayed |= committed_unsent(state)
        before = state
    print("kills landed (last event before SIGKILL):", *landings, sep="\n  ")
    _run_to_the_end(site)
    check_final(site, check_consistency(site))


# Each kill point of the driver once, in the round it names; the process SIGKILLs itself
# there. A shorter run than 50 rounds keeps the suite fast: each kill costs a restart,
# and the code a kill point interrupts is the same in every round.
KILL_POINTS = [
    ("ledger-insert", 3),  # in the transaction: accountant and round rows written
    ("before-commit", 6),  # in the transaction: the ledger entry written too
    ("after-commit", 9),  # committed, the update not sent
]


def test_node_killed_inside_the_commit_stays_consistent(make_site):
    """A SIGKILL inside the transaction leaves no trace of the round; one after it, all."""
    site = make_site(12)
    replayed: set[int] = set()
    for phase, server_round in KILL_POINTS:
        process = site.start(f"{phase}:{server_round}")
        process.finish()
        assert process.proc.returncode == -signal.SIGKILL, _failure(site, process)
        assert process.landed == f"die {phase} {server_round}"
        state = check_consistency(site)
        assert sorted(state.sent) == list(range(1, server_round))
        # Atomic: a kill inside the transaction leaves nothing of the round.
        assert (server_round in state.trained_counts()) == (phase == "after-commit"), phase
        replayed |= committed_unsent(state)
    _run_to_the_end(site)
    assert replayed == {9}  # committed, unsent, then re-sent without a new charge
    check_final(site, check_consistency(site))
