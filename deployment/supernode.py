"""An institution's SuperNode and executor, next to the institution's data.

`fedscore node start --config <institution>.toml` reads the `[deployment]` section of
the institution's node config and starts

- `flower-supernode`, which connects out to the coordinator over TLS (verifying it with
  the consortium CA certificate) and authenticates with the institution's key, with
  `--isolation process`: Flower itself starts no app process;
- fedscore's executor (`deployment/executor.py`), which hands every task to fedscore's
  task runner: it executes only app releases approved in the node config's `[trust]`,
  and then only the installed fedscore ClientApp, with this very node config (data,
  consent, keys, budget, ledger, policy: see `NodeConfig`).

A node that lists no model owner (`[policy] model_owners`) or approves no release
(`[trust]`) is not started: it would refuse every run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from fedscore.clients.node import NODE_CONFIG_KEY, NodeConfig
from fedscore.clients.node_document import NodeDocument
from fedscore.core.documents import read_toml
from fedscore.core.errors import ConfigError
from fedscore.core.typed_config import parse_section

#: What flower-supernode logs (then exiting with status 1) when the SuperLink refuses to
#: activate it: an unknown key, or an earlier session of the same node that the SuperLink
#: still counts as online (after a crash, until its heartbeat expires).
ACTIVATION_REFUSED = "Failed to activate SuperNode"
#: ... and the line once it is activated (a member of the federation, with a node id).
ACTIVATED = "SuperNode ID:"


@dataclass(frozen=True)
class NodeDeployment:
    """Where and how an institution's SuperNode connects (`[deployment]` of its node config).

    Attributes:
        superlink: the SuperLink's Fleet API as host:port.
        root_certificates: the consortium CA certificate that signs the SuperLink's.
        auth_key: the institution's SuperNode private key (from `fedscore pki node`).
        runtime_port: the SuperNode's local runtime API port (one per node on a host).
        insecure_dev: plaintext and no authentication (development only).
    """

    superlink: str
    root_certificates: Path | None
    auth_key: Path | None
    runtime_port: int = 9094
    insecure_dev: bool = False

    @classmethod
    def from_toml(cls, path: Path) -> NodeDeployment:
        """The `[deployment]` section of a node config; relative paths are relative to it.

        Raises:
            ConfigError: the node config is invalid, or the section is missing, incomplete,
                or names missing files.
        """
        document = parse_section(NodeDocument, read_toml(path, "node config"), path)
        section = document.deployment
        if section is None:
            raise ConfigError(f"{path}: [deployment] needs 'superlink' (host:port)")

        def resolve(key: str, value: str | None) -> Path | None:
            if value is None:
                if section.insecure_dev:
                    return None
                raise ConfigError(f"{path}: [deployment] needs '{key}'")
            candidate = Path(value).expanduser()
            resolved = candidate if candidate.is_absolute() else (path.parent / candidate)
            if not resolved.is_file():
                raise ConfigError(f"{path}: [deployment] {key} = {resolved}: no such file")
            return resolved.resolve()

        auth_key = resolve("auth_key", section.auth_key)
        if auth_key is not None and auth_key.stat().st_mode & 0o077:
            raise ConfigError(f"{auth_key}: readable by others; restrict it with chmod 600")
        return cls(
            superlink=section.superlink,
            root_certificates=resolve("root_certificates", section.root_certificates),
            auth_key=auth_key,
            runtime_port=section.runtime_port,
            insecure_dev=section.insecure_dev,
        )


def check_deployable(node: NodeConfig, source: Path) -> None:
    """Refuse to start a node that would refuse every run, or run unsigned ones.

    Raises:
        ConfigError: no model owner listed, or no app release approved.
    """
    if not node.policy.model_owners:
        raise ConfigError(
            f"{source}: [policy] model_owners is empty: a deployed node trains only for runs "
            "a model owner it lists signed; add the owners' public keys (fedscore owner keygen)"
        )
    if not node.trust.configured:
        raise ConfigError(
            f"{source}: [trust] approves no app release: add approved_apps = "
            '["sha256:..."] (fedscore release build prints it) or release_keys'
        )


def supernode_command(node_config: Path, deployment: NodeDeployment) -> list[str]:
    """The `flower-supernode` command line of one institution.

    Raises:
        ConfigError: the node config itself is invalid or not deployable (checked before
            anything starts).
    """
    check_deployable(NodeConfig.from_toml(node_config), node_config)
    command = [
        sys.executable,
        "-m",
        "fedscore.deployment.supernode_process",  # Flower's SuperNode, shorter waits
        "--superlink",
        deployment.superlink,
        "--node-config",
        f'{NODE_CONFIG_KEY}="{node_config.resolve()}"',
        "--port",
        str(deployment.runtime_port),
        "--isolation",
        "process",
    ]
    if deployment.insecure_dev:
        return [*command, "--insecure"]
    assert deployment.root_certificates is not None and deployment.auth_key is not None
    return [
        *command,
        "--root-certificates",
        str(deployment.root_certificates),
        "--auth-supernode-private-key",
        str(deployment.auth_key),
    ]


def executor_command(node_config: Path, deployment: NodeDeployment) -> list[str]:
    """Fedscore's executor for the node's tasks (on the SuperNode's loopback runtime API)."""
    node = NodeConfig.from_toml(node_config)
    return [
        sys.executable,
        "-I",
        "-m",
        "fedscore.deployment.executor",
        "clientapp",
        "--runtime-api-address",
        f"127.0.0.1:{deployment.runtime_port}",
        "--config",
        str(node_config.resolve()),
        "--work-dir",
        str(node.state_dir / "runner"),
    ]
