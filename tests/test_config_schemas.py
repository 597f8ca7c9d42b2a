"""`fedscore schema export` writes JSON Schemas that accept the shipped configuration files
and reject what fedscore refuses, so an editor finds a mistake before fedscore reads it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest

from fedscore.config_schemas import DOCUMENTS, export_schemas

ROOT = Path(__file__).parent.parent
SHIPPED = {
    "node-config": sorted((ROOT / "clients" / "configs").glob("*.toml")),
    "server-config": [ROOT / "deployment" / "server.example.toml"],
    "task-schema": sorted((ROOT / "datasets" / "tasks").glob("*.toml")),
    "scoring-config": sorted((ROOT / "scoring" / "configs").glob("*.toml")),
    "decision-strategy": sorted((ROOT / "decisions" / "strategies").glob("*.toml")),
    "monitoring-rules": [ROOT / "monitoring" / "default_rules.toml"],
}


@pytest.fixture(scope="module")
def schemas(tmp_path_factory) -> dict[str, dict]:
    out = tmp_path_factory.mktemp("schemas")
    written = export_schemas(out)
    assert sorted(p.name for p in written) == sorted(f"{n}.schema.json" for n in DOCUMENTS)
    return {name: json.loads((out / f"{name}.schema.json").read_text()) for name in DOCUMENTS}


@pytest.mark.parametrize("document", sorted(SHIPPED))
def test_shipped_files_validate_against_their_schema(schemas, document):
    for path in SHIPPED[document]:
        jsonschema.validate(tomllib.loads(path.read_text()), schemas[document])


@pytest.mark.parametrize(
    ("document", "text"),
    [
        (
            "node-config",
            '[node]\nparty="a"\ndata="d.csv"\n[privacy]\nmax_epsilon=1\nallow_non_private="false"\n',
        ),
        ("node-config", '[node]\nparty="a"\ndata="d.csv"\n[privacy]\nmax_epsilion=1\n'),
        ("server-config", '[superlink]\npki="pki"\nport="9092"\n'),
        ("run-config", "rounds = 0\n"),
        ("run-config", 'private = "false"\n'),
        ("decision-strategy", '[strategy]\nname="s"\nversion="1"\ntask="t"\nsurprise=1\n'),
    ],
)
def test_what_fedscore_refuses_the_schema_refuses(schemas, document, text):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(tomllib.loads(text), schemas[document])


def test_the_run_config_schema_accepts_a_run_table_body(schemas):
    jsonschema.validate({"rounds": 5, "epsilon": 1.0, "hidden": [64, 32]}, schemas["run-config"])
