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


BASE = '[node]\nparty = "x"\ndata = "t.csv"\n[privacy]\nmax_epsilon = 1\n'


def _error(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        NodeConfig.from_toml(path)
    return str(raised.value)


def test_node_config_errors_name_the_file_and_setting(tmp_path):
    path = tmp_path / "node.toml"
    message = _error(path, '[node]\nparty = "x"\ndata = "t.csv"\n')
    assert "node.toml: 1 invalid setting" in message and "privacy: Field required" in message
    message = _error(path, BASE.replace("max_epsilon = 1", "max_epsilon = -1"))
    assert "[privacy] max_epsilon: Input should be greater than 0" in message


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        # A string is never a boolean: "false" used to switch non-private training on.
        ('allow_non_private = "false"', "allow_non_private: Input should be a valid boolean"),
        ("max_epsilon = true", "max_epsilon: Input should be a valid number"),
        ("max_epsilon = inf", "max_epsilon: Input should be a finite number"),
        ("max_epsilon = nan", "max_epsilon: Input should be a finite number"),
        ("max_epsilion = 2", "max_epsilion: unknown setting (did you mean 'max_epsilon'?)"),
        ('budget_epoch = ""', "budget_epoch: String should have at least 1 character"),
    ],
)
def test_privacy_settings_are_strict(tmp_path, setting, expected):
    key = setting.split(" = ")[0]
    text = (
        BASE.replace("max_epsilon = 1", setting) if key == "max_epsilon" else BASE + f"{setting}\n"
    )
    assert f"[privacy] {expected}" in _error(tmp_path / "node.toml", text)


@pytest.mark.parametrize("party", ["../../x", "a;rm", "Bank", "", "a/b"])
def test_a_party_name_cannot_name_a_path(tmp_path, party):
    message = _error(tmp_path / "node.toml", BASE.replace('party = "x"', f'party = "{party}"'))
    assert "[node] party: String should match pattern" in message


def test_unknown_tables_and_misspelt_keys_anywhere_are_errors(tmp_path):
    message = _error(
        tmp_path / "node.toml",
        BASE + '[audit]\ncapture_outgoing = "yes"\n[polcy]\n[node_extra]\nx = 1\n',
    )
    assert "3 invalid settings" in message  # every problem, at once
    assert "[audit] capture_outgoing: Input should be a valid boolean" in message
    assert "polcy: unknown setting (did you mean 'policy'?)" in message
    assert "node_extra: unknown setting" in message


def test_the_ledger_hash_is_chosen_in_config(tmp_path):
    path = tmp_path / "node.toml"
    path.write_text(BASE)
    assert NodeConfig.from_toml(path).ledger_hash == "sha256"
    path.write_text(BASE + '[ledger]\nhash = "sm3"\n')
    assert NodeConfig.from_toml(path).ledger_hash == "sm3"
    assert "[ledger] hash: Input should be 'sha256' or 'sm3'" in _error(
        path, BASE + '[ledger]\nhash = "md5"\n'
    )


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


def test_the_superlinks_state_is_in_memory_unless_a_file_is_asked_for(tmp_path):
    from fedscore.deployment.superlink import ServerConfig, superlink_command

    def command(extra: str) -> list[str]:
        path = tmp_path / "server.toml"
        path.write_text(f'[superlink]\npki = "pki"\ninsecure_dev = true\n{extra}')
        return superlink_command(ServerConfig.from_toml(path))

    def database(arguments: list[str]) -> str:
        return arguments[arguments.index("--database") + 1]

    assert database(command("")) == ":flwr-in-memory:"
    assert database(command('state = "file"\n')) == str(tmp_path / "state" / "superlink.sqlite")
    assert database(command('state = "file"\ndatabase = "s.db"\n')) == str(tmp_path / "s.db")
    with pytest.raises(ConfigError, match='database is used only with state = "file"'):
        command('database = "s.db"\n')
    with pytest.raises(ConfigError, match="state"):
        command('state = "disk"\n')
