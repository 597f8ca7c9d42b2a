"""Bring your own data: rows without identities, a declared consent basis, `fedscore init`.

Each case was friction a new user met (issue 14): a fake customer key for data without
identifiers, a consent source that could only be a table or a column, one `keys init` per
party per folder, a consent column declared optional that crashed with a KeyError, a
purpose that could name a path outside the key directory.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from table_support import MINIMAL_SCHEMA

from fedscore.clients.consortium_setup import ConsortiumPlan, init_consortium
from fedscore.clients.local_data import load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.core.errors import ConfigError, FedscoreError, SchemaError
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import parse_schema
from fedscore.core.tabular import write_table
from fedscore.privacy.consent_basis import ConsentBasis
from fedscore.privacy.deidentification import DeidentificationRefused
from fedscore.privacy.keys import KeyRing

#: A name a table holds: no message may repeat it.
PERSONAL = "Zhang Wei"

ROW_TASK = """
[task]
name = "response"
purpose = "marketing_response"

[deidentification]
privacy_unit = "row"
k_min = 1

[[columns]]
name = "full_name"
role = "direct_identifier"
required = false

[[columns]]
name = "age"
role = "numeric"
min = 18
max = 90

[[columns]]
name = "segment"
role = "categorical"
categories = ["a", "b", "c"]

[[columns]]
name = "responded"
role = "label"
positive = 1
negative = 0
"""
CONTRACT = ConsentBasis(basis="contract", legal_basis="Loan contract, clause 12")


def _table(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, rows)
    segment = rng.choice(["a", "b", "c"], rows)
    logit = (age - 50) / 15 + (segment == "a")
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"full_name": PERSONAL, "age": age, "segment": segment, "responded": label})


@pytest.fixture()
def byod(tmp_path) -> Path:
    """A task schema and three parties' tables in data/, as a new user has them."""
    (tmp_path / "data").mkdir()
    (tmp_path / "task.toml").write_text(ROW_TASK, encoding="utf-8")
    for seed, name in enumerate(("north", "south", "east")):
        write_table(_table(700, seed), tmp_path / "data" / f"{name}.csv")
    return tmp_path


def _plan(base: Path, **changes: object) -> ConsortiumPlan:
    fields: dict[str, object] = {
        "root": base / "consortium",
        "task": base / "task.toml",
        "parties": {n: base / "data" / f"{n}.csv" for n in ("north", "south", "east")},
        "consents": {},
        "basis": CONTRACT,
        "max_epsilon": 3.0,
    }
    return ConsortiumPlan(**{**fields, **changes})  # type: ignore[arg-type]


def _ledger_entries(node_config: Path) -> list[dict[str, object]]:
    path = NodeConfig.from_toml(node_config).accountant_db
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return [json.loads(row[0]) for row in db.execute("SELECT content FROM ledger")]


# --- the task schema -------------------------------------------------------------------


def test_privacy_unit_row_needs_no_customer_key_and_refuses_one():
    assert parse_schema(ROW_TASK).deidentification.per_row
    keyed = ROW_TASK.replace(
        'name = "full_name"\nrole = "direct_identifier"',
        'name = "full_name"\nrole = "customer_key"',
    )
    with pytest.raises(SchemaError, match='privacy_unit = "row" says each row is a different'):
        parse_schema(keyed.replace("required = false\n", ""))
    with pytest.raises(SchemaError, match="max_rows_per_customer must be 1"):
        parse_schema(ROW_TASK.replace("k_min = 1", "k_min = 1\nmax_rows_per_customer = 2"))
    no_unit = ROW_TASK.replace('privacy_unit = "row"\n', "")
    with pytest.raises(SchemaError, match='declare privacy_unit = "row"'):
        parse_schema(no_unit)


# --- de-identification of rows without identities --------------------------------------


def _node(home: Path, table: pd.DataFrame, task: str, **sections: dict[str, object]) -> NodeConfig:
    (home / "data").mkdir(parents=True, exist_ok=True)
    write_table(table, home / "data" / "t.csv")
    (home / "task.toml").write_text(task, encoding="utf-8")
    purpose = parse_schema(task).purpose
    if not KeyRing(home / "keys", purpose).exists():
        KeyRing(home / "keys", purpose).init("bank")
    document = {
        "node": {"party": "bank", "data": "data/t.csv", "task": "task.toml"},
        "privacy": {"max_epsilon": 3.0},
        "deidentification": {"key_dir": "keys"},
        **sections,
    }
    (home / "node.toml").write_text(tomli_w.dumps(document), encoding="utf-8")
    return NodeConfig.from_toml(home / "node.toml")


def test_rows_without_identities_skip_pseudonyms_and_say_so_with_a_stable_hold_out(tmp_path):
    node = _node(tmp_path, _table(500, 1), ROW_TASK, consent=CONTRACT.recorded())
    schema = parse_schema(ROW_TASK)
    first = load_party_data(node, schema, as_of=date(2026, 1, 1))
    again = load_party_data(node, schema, as_of=date(2026, 6, 1))
    report = first.report
    assert report.privacy_unit == "row" and len(report.steps_skipped) == 2
    assert "customer key pseudonym" in report.steps_skipped[0]
    assert "rows-per-person bound" in report.steps_skipped[1]
    assert report.rows_over_customer_bound == 0 and report.rows["within_customer_bound"] == 500
    assert {c.column: c.action for c in report.columns}["full_name"] == "dropped"
    assert len(first.valid_y) + len(first.train_y) == 500 and 50 < len(first.valid_y) < 150
    assert np.array_equal(first.valid_x, again.valid_x)  # the same hold-out every run
    assert report.consent["source"] == "basis" and report.consent["basis"] == CONTRACT.recorded()
    assert PERSONAL not in json.dumps(report.as_dict())


def test_an_undeclared_column_with_an_identifier_is_refused_naming_its_first_row(tmp_path):
    table = _table(60, 3).assign(remarks="")
    table.loc[[41, 57], "remarks"] = ["call back on 13812345678", "13912345678"]
    node = _node(tmp_path, table, ROW_TASK, consent=CONTRACT.recorded())
    with pytest.raises(DeidentificationRefused) as error:
        load_party_data(node, parse_schema(ROW_TASK))
    message = str(error.value)
    assert "column 'remarks': 2 × mobile, the first in row 42 (line 43)" in message
    assert "13812345678" not in message and "13912345678" not in message
    assert PERSONAL not in message


def test_a_consent_table_needs_a_customer_key(tmp_path):
    (tmp_path / "c.csv").write_text("purpose,granted_at,expires_at,withdrawn_at\n")
    node = _node(tmp_path, _table(50, 2), ROW_TASK)
    node = NodeConfig.from_toml(tmp_path / "node.toml")
    node = type(node)(**{**node.__dict__, "consent_table": tmp_path / "c.csv"})
    with pytest.raises(DeidentificationRefused, match="matched on the customer key") as error:
        load_party_data(node, parse_schema(ROW_TASK))
    assert PERSONAL not in str(error.value)


# --- the consent basis -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("consent", "problem"),
    [
        ({"basis": True, "legal_basis": "x"}, "[consent] basis"),
        ({"basis": "because", "legal_basis": "x"}, "[consent] basis"),
        ({"basis": "contract", "legal_basis": " "}, "[consent] legal_basis"),
        ({"basis": "contract"}, "[consent] legal_basis"),
        ({"basis": "contract", "legal_basis": "x", "evidence": "y"}, "unknown setting"),
    ],
)
def test_a_consent_basis_is_typed_strictly(tmp_path, consent, problem):
    with pytest.raises(ConfigError, match=problem.replace("[", r"\[")):
        _node(tmp_path, _table(10, 3), ROW_TASK, consent=consent)


def test_a_consent_basis_and_a_consent_table_are_refused_together(tmp_path):
    with pytest.raises(ConfigError, match="one consent source, not both"):
        _node(
            tmp_path,
            _table(10, 3),
            ROW_TASK,
            consent=CONTRACT.recorded(),
            deidentification={"key_dir": "keys", "consent_table": "c.csv"},
        )


#: The minimal schema with a named person and an optional consent column.
KEYED_TASK = (
    MINIMAL_SCHEMA
    + """
[[columns]]
name = "full_name"
role = "direct_identifier"

[[columns]]
name = "ok"
role = "consent"
granted = ["Y"]
required = false
"""
)


def _keyed(rows: int, with_consent: bool) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(rows)],
            "full_name": PERSONAL,
            "y": [i % 2 for i in range(rows)],
            "x": [i % 10 for i in range(rows)],
        }
    )
    return table.assign(ok="Y") if with_consent else table


def test_an_optional_consent_column_absent_is_a_clear_error_not_a_key_error(tmp_path):
    node = _node(tmp_path, _keyed(20, with_consent=False), KEYED_TASK)
    with pytest.raises(DeidentificationRefused) as error:
        load_party_data(node, parse_schema(KEYED_TASK))
    message = str(error.value)
    assert "t.csv" in message and "consent column 'ok' (required = false)" in message
    assert PERSONAL not in message and "c1" not in message


def test_a_consent_basis_with_a_consent_column_in_the_table_is_refused(tmp_path):
    node = _node(tmp_path, _keyed(20, with_consent=True), KEYED_TASK, consent=CONTRACT.recorded())
    with pytest.raises(DeidentificationRefused, match="one consent source, not both") as error:
        load_party_data(node, parse_schema(KEYED_TASK))
    assert PERSONAL not in str(error.value)
    # The optional column absent from this party's table: the declared basis decides.
    node = _node(tmp_path, _keyed(20, with_consent=False), KEYED_TASK, consent=CONTRACT.recorded())
    data = load_party_data(node, parse_schema(KEYED_TASK))
    assert data.report.consent["basis"] == CONTRACT.recorded()


# --- key rings -------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", ["../x", "a/b", "/tmp/x", "..", "", "ledger"])
def test_a_purpose_that_names_a_path_is_refused(tmp_path, purpose):
    with pytest.raises(ConfigError, match="purpose"):
        KeyRing(tmp_path / "keys", purpose).init("bank")
    assert not (tmp_path / "x").exists() and not (tmp_path / "keys").exists()


def test_keys_init_refuses_a_purpose_escaping_the_key_directory(tmp_path, fedscore_cli):
    args = ["--key-dir", str(tmp_path / "keys"), "--institution", "bank", "--purpose", "../x"]
    result = fedscore_cli("keys", "init", *args, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "purpose" in result.stderr and not (tmp_path / "x").exists()


# --- fedscore init ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"parties": {"../../escape": Path("data/north.csv")}}, "lower-case letters"),
        ({"parties": {"Bank": Path("data/north.csv")}}, "lower-case letters"),
        ({"basis": None}, "no consent source"),
        ({"consents": {"north": Path("data/south.csv")}}, 'privacy_unit = "row"'),
        ({"consents": {"west": Path("data/south.csv")}}, "--consent names no --party"),
        ({"parties": {"a": Path("data/north.csv"), "b": Path("data/north.csv")}}, "same table"),
        ({"parties": {"a": Path("data/missing.csv")}}, "no such file"),
        ({"root": Path("data/consortium")}, "keys must be kept apart from data"),
    ],
)
def test_init_refuses_unsafe_choices_before_writing_anything(byod, changes, problem):
    resolved = {
        key: (
            {n: byod / p for n, p in value.items()}
            if isinstance(value, dict)
            else byod / value
            if isinstance(value, Path)
            else value
        )
        for key, value in changes.items()
    }
    with pytest.raises(FedscoreError, match=problem) as error:
        init_consortium(_plan(byod, **resolved))
    assert PERSONAL not in str(error.value)
    assert not (byod / "consortium").exists() and not (byod / "data" / "consortium").exists()
    assert not (byod / "escape").exists()


def test_init_refuses_a_table_inside_another_partys_folder(byod):
    inside = byod / "consortium" / "institutions" / "north" / "t.csv"
    inside.parent.mkdir(parents=True)
    write_table(_table(10, 4), inside)
    parties = {"north": byod / "data" / "north.csv", "south": inside}
    with pytest.raises(FedscoreError, match="inside the folder of party 'north'"):
        init_consortium(_plan(byod, parties=parties))
    assert not (byod / "consortium" / "federation.toml").exists()


def test_init_lists_every_problem_at_once_and_exits_2(byod, fedscore_cli):
    result = fedscore_cli(
        "init", "--task", "task.toml", "--party", "../x=data/north.csv",
        "--party", "south=data/south.csv", "--out", "consortium", cwd=byod,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "lower-case letters" in result.stderr and "no consent source" in result.stderr
    assert not (byod / "consortium").exists()
    only_basis = fedscore_cli(
        "init", "--task", "task.toml", "--party", "south=data/south.csv",
        "--consent-basis", "contract", cwd=byod,
    )  # fmt: skip
    assert only_basis.returncode == 2 and "--legal-basis together" in only_basis.stderr


# --- the run's verdict -----------------------------------------------------------------


def test_a_run_with_no_round_aggregated_exits_1_with_the_reason(tmp_path):
    import typer

    from fedscore.cli.run_options import exit_unless_done
    from fedscore.server.history import PartyOutcome, RoundHistory, RunHistory
    from fedscore.server.verdict import judge_run

    outcomes = {
        "north": PartyOutcome("north", "trained"),
        "south": PartyOutcome("south", "refused"),
    }
    history = RunHistory([RoundHistory(1, outcomes, aggregated=False)])
    verdict = judge_run(history, RunConfig(rounds=2, min_parties=2))
    assert "round 1 was not aggregated: 1 party trained, min_parties is 2" in verdict.problems
    assert "no round was aggregated: the model is the initial one" in verdict.problems
    assert "the run stopped after 1 of 2 rounds" in verdict.problems
    (tmp_path / "summary.json").write_text(json.dumps({"verdict": verdict.as_dict()}))
    with pytest.raises(typer.Exit) as exited:
        exit_unless_done(tmp_path)
    assert exited.value.exit_code == 1


def test_a_run_config_takes_either_spelling_but_not_both(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text("[run]\nbatch-size = 64\nlocal_epochs = 2\n")
    run = RunConfig.from_toml(config)
    assert (run.batch_size, run.local_epochs) == (64, 2)
    config.write_text("[run]\nbatch-size = 64\nbatch_size = 32\n")
    with pytest.raises(ConfigError, match="both with '-' and with '_'"):
        RunConfig.from_toml(config)


# --- from three CSV files and a schema to a finished run -------------------------------


@pytest.mark.simulation
def test_three_csvs_and_a_schema_are_a_finished_run_in_three_commands(byod, fedscore_cli):
    commands = [
        ["schema", "check", "task.toml", "data/north.csv"],
        [
            "init", "--task", "task.toml", "--party", "north=data/north.csv",
            "--party", "south=data/south.csv", "--party", "east=data/east.csv",
            "--consent-basis", "contract", "--legal-basis", "Loan contract, clause 12",
            "--out", "consortium",
        ],
        ["train", "--consortium", "consortium", "--rounds", "1"],
    ]  # fmt: skip
    for command in commands:
        result = fedscore_cli(*command, cwd=byod)
        assert result.returncode == 0, (command, result.stderr[-3000:])
    printed = " ".join(result.stderr.split())
    assert "held out" in printed and "the same rows every run" in printed
    nodes = sorted((byod / "consortium" / "institutions").glob("*/node.toml"))
    assert len(nodes) == 3
    before = {node: _ledger_entries(node) for node in nodes}
    for entries in before.values():
        assert entries and entries[0]["status"] == "trained"
        assert entries[0]["consent"]["basis"] == CONTRACT.recorded()  # type: ignore[index]
        assert entries[0]["authorization"]["owner"] == "model_owner"  # type: ignore[index]
    # Every pre-round problem of every party at once, before any ledger entry (asked in
    # this process, as `fedscore train` asks before Flower starts: exit 2 with this text).
    from fedscore.clients.consortium_setup import ConsortiumFile
    from fedscore.clients.federation import FederationManifest
    from fedscore.server.settings import ServerSettings
    from fedscore.simulation import check_inputs

    setup = ConsortiumFile.load(byod / "consortium")
    run = RunConfig(rounds=1, epsilon=8.0, delta=0.01)
    settings = ServerSettings.new_run(run, setup.task, byod / "runs", 3).signed_by(setup.owner)
    with pytest.raises(FedscoreError, match="the run cannot start") as refused:
        check_inputs(settings, FederationManifest.load(setup.manifest))
    for party in ("north", "south", "east"):
        assert f"{party}: privacy budget: the run would raise epsilon" in str(refused.value)
        assert f"{party}: delta 0.01 is not below 1/N" in str(refused.value)
    assert {node: _ledger_entries(node) for node in nodes} == before
    assert PERSONAL not in str(refused.value) + printed


def test_train_help_names_the_run_config_table_and_both_spellings():
    from typer.testing import CliRunner

    from fedscore.cli.app import app

    result = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "240"})
    text = " ".join(result.output.split())
    assert result.exit_code == 0 and "a [run] table of RunConfig settings" in text
    assert "batch_size or batch-size" in text and "--consortium" in text
