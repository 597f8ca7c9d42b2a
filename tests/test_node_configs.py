"""The example node configs that ship in clients/configs/ parse into valid node settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedscore.clients.node import NodeConfig
from fedscore.core.errors import ConfigError

CONFIGS = sorted((Path(__file__).parent.parent / "clients" / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_example_node_config_parses(path):
    node = NodeConfig.from_toml(path)
    assert node.party == path.stem and node.max_epsilon > 0 and not node.allow_non_private


def test_node_config_errors_name_the_file_and_setting(tmp_path):
    path = tmp_path / "node.toml"
    path.write_text('[node]\nparty = "x"\ndata = "t.csv"\n')
    with pytest.raises(ConfigError, match=r"node.toml: \[privacy\] needs 'max_epsilon'"):
        NodeConfig.from_toml(path)
    path.write_text('[node]\nparty = "x"\ndata = "t.csv"\n[privacy]\nmax_epsilon = -1\n')
    with pytest.raises(ConfigError, match="max_epsilon must be > 0"):
        NodeConfig.from_toml(path)


def test_the_ledger_hash_is_chosen_in_config(tmp_path):
    path = tmp_path / "node.toml"
    base = '[node]\nparty = "x"\ndata = "t.csv"\n[privacy]\nmax_epsilon = 1\n'
    path.write_text(base)
    assert NodeConfig.from_toml(path).ledger_hash == "sha256"
    path.write_text(base + '[ledger]\nhash = "sm3"\n')
    assert NodeConfig.from_toml(path).ledger_hash == "sm3"
    path.write_text(base + '[ledger]\nhash = "md5"\n')
    with pytest.raises(ConfigError, match=r"\[ledger\] hash must be one of sha256, sm3, not 'md5'"):
        NodeConfig.from_toml(path)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_example_deployment_sections_name_their_missing_files(path):
    from fedscore.deployment.supernode import NodeDeployment

    # The examples point at /etc/fedscore/, which this machine does not have.
    with pytest.raises(ConfigError, match=r"\[deployment\] \w+ = /etc/fedscore/.*: no such file"):
        NodeDeployment.from_toml(path)


def test_the_example_server_config_parses():
    from fedscore.deployment.superlink import ServerConfig

    example = Path(__file__).parent.parent / "deployment" / "server.example.toml"
    config = ServerConfig.from_toml(example)
    assert config.port == 9092 and config.pki == example.parent / "pki"
    assert not config.insecure_dev
