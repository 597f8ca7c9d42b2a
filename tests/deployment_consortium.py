"""A real consortium on this machine, as `fedscore server start` / `node start` run it.

The coordinator (SuperLink on loopback, fedscore's executor, the fleet gateway on
0.0.0.0) and three institutions (SuperNode and executor each), with the trust set-up of
a production consortium: an app release built from this commit, approved by hash at
every party; a model owner whose key every party lists; node policies. Also the
attacker's material: app bundles whose ClientApp and ServerApp would copy a party's
raw table and leave a marker file, if any of their code ever ran.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w
from process_support import free_port, stop_trees

from fedscore.core.signing import SigningKey
from fedscore.deployment.localhost.consortium import join_superlink, release_of_checkout
from fedscore.deployment.localhost.processes import fedscore_command, fedscore_environment
from fedscore.deployment.pki import PkiLayout, init_pki
from fedscore.deployment.release import unpack_release

REPOSITORY = Path(__file__).resolve().parent.parent
PARTIES = ("large_bank", "city_bank", "loan_facilitator")
OWNER = "risk_model_owner"
#: Every party's policy in the tests (what the policy test runs outside of).
POLICY = {"max_epsilon_per_run": 2.0, "strategies": ["fedavg", "fedprox"], "min_parties": 2}

#: Code an attacker puts into the app bundle: copy the party's raw table, leave a marker.
_EXFILTRATION = """
import pathlib as _pathlib
_MARKERS = _pathlib.Path({markers!r})
_MARKERS.mkdir(parents=True, exist_ok=True)
(_MARKERS / "{side}-imported").write_text("the attacker's code ran")
"""


@dataclass
class Consortium:
    """A running consortium: the coordinator's and every institution's files and processes.

    Attributes:
        root: the folder holding everything.
        pki: the consortium PKI.
        port: the coordinator's public port (fleet gateway).
        internal_port: the SuperLink's own port on 127.0.0.1.
        nodes: each institution's node.toml.
        test: the consortium test table.
        release: the approved release (.fab).
        owner_key: the model owner's signing key.
        hostile_fab: an attacker's bundle the (compromised) coordinator approved, no node did.
        rogue_fab: an attacker's bundle nobody approved.
        markers: where the attacker's code would leave its marker files.
        processes: coordinator first, then the nodes in `nodes` order.
    """

    root: Path
    pki: PkiLayout
    port: int
    internal_port: int
    nodes: dict[str, Path]
    test: Path
    release: Path
    owner_key: Path
    hostile_fab: Path
    rogue_fab: Path
    markers: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def server_config(self) -> Path:
        return self.root / "server.toml"

    def start(self, log: Path, *args: str) -> subprocess.Popen:
        """A fedscore command in its own process group, stopped by `stop_all`."""
        process = start_fedscore(log, *args)
        self.processes.append(process)
        return process

    def owner_options(self, release: Path | None = None) -> list[str]:
        """How the model owner's `fedscore run|runs` reach this coordinator and sign."""
        return [
            "--server-config", str(self.server_config),
            "--owner", OWNER, "--owner-key", str(self.owner_key),
            "--release", str(release or self.release),
            "--flwr-home", str(self.root / "owner-flwr"),
        ]  # fmt: skip

    def ledger_size(self, name: str) -> int:
        """Entries in an institution's ledger."""
        import sqlite3

        path = self.nodes[name].parent / "state" / "privacy.sqlite"
        if not path.exists():
            return 0
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            try:
                return int(db.execute("SELECT COUNT(*) FROM ledger").fetchone()[0])
            except sqlite3.OperationalError:
                return 0

    def stop_all(self) -> None:
        stop_trees(self.processes)


def prepare(root: Path, make_node, tables: dict, test_table) -> Consortium:
    """Write the coordinator's and the institutions' files (nothing started yet)."""
    from fedscore.core.tabular import write_table

    pki = init_pki(root / "pki", ["127.0.0.1", "localhost"], organization="test consortium")
    # The code under test, committed or not (a release names a commit).
    release, fab = release_of_checkout(REPOSITORY, root / "releases")
    owner = SigningKey.create(root / "owner" / "ed25519.pem")
    markers = root / "attacker-markers"
    hostile = _attacker_bundle(release.fab, root / "hostile", markers, "hostile")
    rogue = _attacker_bundle(release.fab, root / "rogue", markers, "rogue")
    port, internal = free_port(), free_port()
    trust = {"approved_apps": [f"sha256:{release.sha256}"]}
    owners = {OWNER: owner.public_hex}
    nodes: dict[str, Path] = {}
    for name in PARTIES:
        # Every reply is captured as it leaves (packed), for the deployed no-PII check.
        config = make_node(root / name, name, tables[name], max_epsilon=5.0, capture_outgoing=True)
        policy = {**POLICY, "model_owners": owners}
        join_superlink(config, pki, name, f"127.0.0.1:{port}", {"policy": policy, "trust": trust})
        nodes[name] = config
    test = root / "consortium_test.csv"
    write_table(test_table, test)
    # The coordinator in these tests is compromised: it approves the hostile bundle too.
    write_server_config(root, port, internal, [release.sha256, _sha256(hostile)], owners)
    return Consortium(
        root, pki, port, internal, nodes, test, fab, root / "owner" / "ed25519.pem",
        hostile, rogue, markers,
    )  # fmt: skip


def start_fedscore(log: Path, *args: str) -> subprocess.Popen:
    """A fedscore command in its own process group (so all its children stop with it).

    Its output goes to `log`; stop it with `process_support.stop_tree`.
    """
    return subprocess.Popen(
        fedscore_command(*args),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=fedscore_environment(),
    )


def write_server_config(
    root: Path, port: int, internal: int, approved: list[str], owners: dict[str, str]
) -> Path:
    """The coordinator's `root/server.toml` (its PKI in `root/pki`, its state in
    `root/coordinator`), approving the releases `approved` (sha256 hex) and listing `owners`
    (name → public key hex)."""
    server = {
        "superlink": {
            "pki": "pki", "state_dir": "coordinator", "host": "0.0.0.0",
            "port": port, "internal_port": internal,
        },
        "trust": {
            "approved_apps": [f"sha256:{sha256}" for sha256 in approved],
            "model_owners": owners,
        },
    }  # fmt: skip
    path = root / "server.toml"
    path.write_text(tomli_w.dumps(server), encoding="utf-8")
    return path


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _attacker_bundle(release_fab: bytes, folder: Path, markers: Path, tag: str) -> Path:
    """The release with ClientApp and ServerApp modules that would exfiltrate and mark."""
    from flwr.cli.build import build_fab_from_disk

    source = folder / "source"
    unpack_release(release_fab, source)
    for module, side in (("clients/app.py", "clientapp"), ("server/app.py", "serverapp")):
        path = source / module
        path.write_text(
            _EXFILTRATION.format(markers=str(markers), side=f"{tag}-{side}") + path.read_text(),
            encoding="utf-8",
        )
    bundle = folder / f"{tag}.fab"
    bundle.write_bytes(build_fab_from_disk(source))
    return bundle
