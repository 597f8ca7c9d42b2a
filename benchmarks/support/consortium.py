"""The deployment benchmark's consortium: a fresh demo, a PKI, a release, server.toml.

Set up as in production: an app release built from this checkout (uncommitted changes
to tracked files go into a `git stash create` commit), approved by hash at every party;
SuperNode keys from the consortium PKI; the demo's model owner listed by the coordinator.
Each node reaches the SuperLink through its own port (a byte-counting proxy's).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tomli_w

from fedscore.core.run_request import OwnerIdentity
from fedscore.core.runconfig import RunConfig
from fedscore.core.signing import SigningKey
from fedscore.deployment.localhost.consortium import join_superlink, release_of_checkout
from fedscore.deployment.localhost.processes import free_port
from fedscore.deployment.pki import PkiLayout, init_pki
from support.federation import fresh_federation

HOST = "127.0.0.1"
#: The checkout the release is built from.
REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass
class Consortium:
    """The deployment's files and ports.

    Attributes:
        root: the folder holding everything (server.toml, logs, institutions).
        pki: the consortium PKI.
        superlink_port: the coordinator's public port (the fleet gateway).
        internal_port: the SuperLink's own port on 127.0.0.1.
        proxy_ports: party → the port its SuperNode connects to (its proxy).
        nodes: party → its node config.
        consortium_test: the model owner's test set.
        runs_dir: where the runs' directories go.
        release: the approved release (.fab).
        owner: the model owner who signs the runs.
    """

    root: Path
    pki: PkiLayout
    superlink_port: int
    internal_port: int
    proxy_ports: dict[str, int]
    nodes: dict[str, Path]
    consortium_test: Path
    runs_dir: Path
    release: Path
    owner: OwnerIdentity


def prepare_consortium(root: Path, run: RunConfig, keys_from: Path) -> Consortium:
    """A fresh demo consortium with a PKI, a server.toml and a [deployment] per node.

    Args:
        root: the folder of the new consortium.
        run: the run configuration the nodes must accept.
        keys_from: a prepared demo folder whose pseudonymization keys the nodes use.

    Returns:
        The consortium; each node's `superlink` is its own proxy port on 127.0.0.1.
    """
    federation = fresh_federation(root, run, keys_from)
    pki = init_pki(root / "pki", [HOST, "localhost"], organization="fedscore benchmark")
    release, fab = release_of_checkout(REPOSITORY, root / "releases")
    trust = {"approved_apps": [f"sha256:{release.sha256}"]}
    superlink_port, internal_port = free_port(), free_port()
    proxy_ports: dict[str, int] = {}
    nodes: dict[str, Path] = {}
    for config in federation.manifest.node_configs:
        party = config.parent.name
        proxy_ports[party] = free_port()
        join_superlink(config, pki, party, f"{HOST}:{proxy_ports[party]}", {"trust": trust})
        nodes[party] = config
    server = {
        "superlink": {
            "pki": str(pki.root),
            "state_dir": str(root / "coordinator"),
            "host": HOST,
            "port": superlink_port,
            "internal_port": internal_port,
            "gateway_log_level": "debug",  # counts the Fleet requests per round
        },
        "trust": {
            **trust,
            "model_owners": {
                federation.owner.name: SigningKey.load(federation.owner.key).public_hex
            },
        },
    }
    (root / "server.toml").write_text(tomli_w.dumps(server), encoding="utf-8")
    return Consortium(
        root,
        pki,
        superlink_port,
        internal_port,
        proxy_ports,
        nodes,
        federation.consortium_test,
        federation.runs_dir,
        fab,
        federation.owner,
    )
