"""The federation manifest: which node config each simulated node plays.

In deployment every SuperNode names its own node config file. In simulation
Flower numbers the nodes 0..n-1 (`partition-id`); the manifest maps each
number onto an institution's node config, in order.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w
from flwr.app import Context

from fedscore.clients.node import NODE_CONFIG_KEY, NodeConfig
from fedscore.core.errors import ConfigError
from fedscore.core.untrusted_documents import parse_toml

MANIFEST_RUN_CONFIG_KEY = "federation-manifest"


@dataclass(frozen=True)
class FederationManifest:
    """Node config files of the simulated institutions, by partition id."""

    node_configs: tuple[Path, ...]

    @classmethod
    def load(cls, path: str | Path) -> FederationManifest:
        path = Path(path)
        try:
            doc = parse_toml(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read federation manifest {path}: {exc}") from exc
        entries = doc.get("party", [])
        if not entries:
            raise ConfigError(f"{path}: no [[party]] entries")
        return cls(tuple((path.parent / e["node_config"]).resolve() for e in entries))

    def save(self, path: str | Path) -> None:
        path = Path(path)
        doc = {"party": [{"node_config": str(p)} for p in self.node_configs]}
        path.write_text(tomli_w.dumps(doc), encoding="utf-8")

    def node(self, partition_id: int) -> NodeConfig:
        if not 0 <= partition_id < len(self.node_configs):
            raise ConfigError(
                f"simulated node {partition_id} has no entry in the federation manifest "
                f"({len(self.node_configs)} parties); run as many nodes as parties"
            )
        return NodeConfig.from_toml(self.node_configs[partition_id])

    def nodes(self) -> list[NodeConfig]:
        return [NodeConfig.from_toml(p) for p in self.node_configs]


@dataclass(frozen=True)
class ManifestResolver:
    """Simulation: node i plays the i-th institution of the manifest."""

    manifest: FederationManifest

    def __call__(self, context: Context) -> NodeConfig:
        return self.manifest.node(int(context.node_config["partition-id"]))


def node_from_context(context: Context) -> NodeConfig:
    """A deployed node's own config file, or (under `flwr run`) its manifest entry."""
    if NODE_CONFIG_KEY in context.node_config:
        return NodeConfig.from_flower_node_config(dict(context.node_config))
    manifest = str(context.run_config.get(MANIFEST_RUN_CONFIG_KEY, ""))
    if "partition-id" in context.node_config and manifest:
        return FederationManifest.load(manifest).node(int(context.node_config["partition-id"]))
    raise ConfigError(
        f"cannot tell which institution this node is: start the SuperNode with --node-config "
        f"'{NODE_CONFIG_KEY}=\"<node.toml>\"', or simulate with the run config "
        f"'{MANIFEST_RUN_CONFIG_KEY}=\"<federation.toml>\"'"
    )
