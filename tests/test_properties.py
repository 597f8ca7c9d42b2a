"""Properties that hold for every input, checked on generated ones (Hypothesis).

- A config document (node config, run config, task schema) either parses or is refused
  with fedscore's own error naming the file: never another exception (a traceback).
- The journal's books balance after any sequence of commits: every "trained" ledger entry
  is a round the accountant counts and an update the node released, and nothing else
  is charged (also when commits race from a stale accountant).
- A personal value planted in a table never appears in the error that refuses it.
"""

from __future__ import annotations

import json
import math
import sqlite3
import string
import tomllib

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedscore.clients.journal import (
    AccountantKey,
    ConcurrentCharge,
    NodeJournal,
    ReleasedUpdate,
    RoundRecord,
)
from fedscore.clients.node import NodeConfig
from fedscore.core.errors import ConfigError, FedscoreError, SchemaError
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import parse_schema
from fedscore.privacy.accounting import PartyAccountant
from fedscore.privacy.pii import luhn_check_digit, resident_id_check_char

#: Examples per property (the counts the issue's report quotes).
EXAMPLES = 300
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

#: Values of every TOML type, the hostile ones included.
toml_values = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.just("false"),
        st.just("../../x"),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def _mutated(document: dict, keys: list[tuple[str, ...]], data: st.DataObject) -> dict:
    """`document` with some of its keys set to generated values, dropped, or misspelt."""
    changed = json.loads(json.dumps(document))
    for path in data.draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)):
        *tables, key = path
        table = changed
        for name in tables:
            table = table.setdefault(name, {})
            if not isinstance(table, dict):
                break
        else:
            action = data.draw(st.sampled_from(["set", "drop", "misspell"]))
            if action == "set":
                table[key] = data.draw(toml_values)
            elif action == "drop":
                table.pop(key, None)
            else:
                table[key + data.draw(st.sampled_from(["s", "_", "x"]))] = table.pop(key, 1)
    return changed


NODE = {
    "node": {"party": "bank", "data": "t.csv", "state_dir": "state", "validation_fraction": 0.2},
    "privacy": {"max_epsilon": 3.0, "allow_non_private": False, "budget_epoch": "2026"},
    "deidentification": {"key_dir": "keys", "consent_table": "c.csv"},
    "audit": {"capture_outgoing": False},
    "ledger": {"hash": "sha256"},
    "policy": {"max_epsilon_per_run": 1.0, "min_parties": 2, "strategies": ["fedavg"]},
}
NODE_KEYS = [(table, key) for table, section in NODE.items() for key in section]


@SETTINGS
@given(st.data())
def test_any_node_config_parses_or_is_refused_cleanly(tmp_path_factory, data):
    document = _mutated(NODE, NODE_KEYS, data)
    path = tmp_path_factory.mktemp("node") / "node.toml"
    try:
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
    except (TypeError, ValueError):  # not expressible in TOML (e.g. a None): skip
        return
    try:
        node = NodeConfig.from_toml(path)
    except ConfigError as error:
        assert str(path) in str(error)
        return
    # What parses holds what the node relies on.
    assert math.isfinite(node.max_epsilon) and node.max_epsilon > 0
    assert isinstance(node.allow_non_private, bool)
    assert node.party.isidentifier() and "/" not in node.party


RUN_KEYS = [(name,) for name in RunConfig().as_dict()]


@SETTINGS
@given(st.data())
def test_any_run_config_parses_or_is_refused_cleanly(data):
    document = _mutated(RunConfig().as_dict(), RUN_KEYS, data)
    try:
        run = RunConfig.from_mapping(document)
    except ConfigError:
        return
    assert isinstance(run.private, bool) and run.epsilon > 0 and math.isfinite(run.epsilon)
    assert run.rounds >= 1 and (run.delta is None or 0 < run.delta < 1)
    assert run.delta is not None or 0 < run.delta_for(1_000_000) * 1_000_000 <= 0.1


SCHEMA_KEYS = [
    ("task", "name"), ("task", "purpose"), ("task", "version"),
    ("deidentification", "k_min"), ("deidentification", "max_suppression_rate"),
    ("deidentification", "max_rows_per_customer"),
]  # fmt: skip


@SETTINGS
@given(st.data())
def test_any_task_schema_parses_or_is_refused_cleanly(minimal_schema, data):
    document = _mutated(tomllib.loads(minimal_schema), SCHEMA_KEYS, data)
    column = data.draw(st.sampled_from([0, 1, 2]))
    key = data.draw(st.sampled_from(["role", "min", "max", "positive", "name", "bins", "keep"]))
    document["columns"][column][key] = data.draw(toml_values)
    try:
        text = tomli_w.dumps(document)
    except (TypeError, ValueError):
        return
    try:
        parse_schema(text, source="generated.toml")
    except SchemaError as error:
        assert "generated.toml" in str(error)


KEY = AccountantKey("bank", "task", "v1")


def _balanced(store: NodeJournal) -> None:
    """Every trained ledger entry is an accountant round and a released update."""
    with sqlite3.connect(store.path) as db:
        entries = [json.loads(c) for (c,) in db.execute("SELECT content FROM ledger")]
        released = db.execute("SELECT COUNT(*) FROM released_update").fetchone()[0]
    trained = [e for e in entries if e["status"] == "trained"]
    assert sum(e["steps"] for e in trained) == store.load(KEY).steps
    assert len(trained) == released == len([r for r in store.rounds(KEY) if r.status == "trained"])
    assert len(entries) == len(store.rounds(KEY))


def _record(number: int, status: str, steps: int) -> RoundRecord:
    return RoundRecord(
        run_id="run", server_round=number, status=status, reason="", noise_multiplier=1.0,
        sample_rate=0.01, steps=steps if status == "trained" else None, max_grad_norm=1.0,
        delta=1e-5, epsilon_rdp=0.1, epsilon_prv=0.1, max_epsilon=5.0,
    )  # fmt: skip


@pytest.mark.slow  # hundreds of generated journals
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["trained", "refused", "raced"]),
            st.integers(min_value=1, max_value=50),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_the_books_balance_after_any_sequence_of_commits(tmp_path_factory, operations):
    from fedscore.core.signing import SigningKey

    folder = tmp_path_factory.mktemp("journal")
    store = NodeJournal(
        folder / "privacy.sqlite", signer=SigningKey.load_or_create(folder / "ledger.pem")
    )
    update = ReleasedUpdate("model", b"npz", "{}")
    for number, (kind, steps) in enumerate(operations, start=1):
        loaded = store.load(KEY)
        if kind == "refused":
            store.commit_round(KEY, loaded, _record(number, "refused", steps))
            _balanced(store)
            continue
        if kind == "raced":  # another process of the node commits a round first
            first = PartyAccountant.from_state_dict(loaded.state_dict())
            first.step(1.0, 0.01, 1)
            race = _record(number + 1000, "trained", 1)
            store.commit_round(KEY, first, race, released=update, started_from=loaded)
        mine = PartyAccountant.from_state_dict(loaded.state_dict())
        mine.step(1.0, 0.01, steps)
        try:
            store.commit_round(
                KEY, mine, _record(number, "trained", steps), released=update, started_from=loaded
            )
        except ConcurrentCharge:
            assert kind == "raced"
        _balanced(store)


def _planted(kind: str, seed: int) -> str:
    """A valid personal value of `kind`, varied by `seed`."""
    if kind == "resident_id":
        body = f"110105{1950 + seed % 50}0{1 + seed % 9}1{seed % 9}{seed % 1000:03d}"
        return body + resident_id_check_char(body)
    if kind == "mobile":
        return f"13{seed % 10}{seed % 100000000:08d}"
    body = f"622848{seed % 10**12:012d}"[:18]
    return body + luhn_check_digit(body)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(["resident_id", "mobile", "card"]),
    seed=st.integers(min_value=0, max_value=10**9),
    column=st.sampled_from(["LIMIT_BAL", "AGE", "EDUCATION", "PAY_0", "BILL_AMT1"]),
    row=st.integers(min_value=0, max_value=99),
    prefix=st.sampled_from(["", "卡号", "tel:", " "]),
)
def test_a_personal_value_in_a_table_never_appears_in_its_error(
    tmp_path_factory, schema, market, make_node, kind, seed, column, row, prefix
):
    """Planted in a feature column, a resident ID, mobile or card number stops the node
    (validation or the PII scan), and the error names the column, never the value."""
    from fedscore.clients.local_data import load_party_data

    value = _planted(kind, seed)
    table = market.parties["large_bank"].head(100).copy()
    table[column] = table[column].astype(str)
    table.loc[row, column] = prefix + value
    home = tmp_path_factory.mktemp("pii")
    node = NodeConfig.from_toml(make_node(home, "bank", table))
    with pytest.raises(FedscoreError) as refused:
        load_party_data(node, schema)
    message = str(refused.value)
    assert value not in message and value[-8:] not in message
    assert column in message


@SETTINGS
@given(
    kind=st.sampled_from(["resident_id", "mobile", "card"]),
    seed=st.integers(min_value=0, max_value=10**9),
    wire=st.sampled_from(["text", "integer", "float", "name"]),
    field=st.sampled_from(["LIMIT_BAL", "AGE", "EDUCATION", "PAY_0", "notes"]),
    others=st.dictionaries(st.text(max_size=12), toml_values, max_size=3),
)
def test_a_scoring_request_never_echoes_an_identifier(schema, kind, seed, wire, field, others):
    """Whatever its wire type, and in a field's value or its name, an identifier in a
    scoring request is refused, and the refusal shows neither the value nor that name."""
    from fedscore.scoring.errors import RequestError
    from fedscore.scoring.identifiers import IdentifierGuard
    from fedscore.scoring.record import RecordEncoder, scoring_schema

    value = _planted(kind, seed)
    if wire == "name":
        fields: dict[str, object] = {**others, value: 1.0}
    elif wire == "text":
        fields = {**others, field: value}
    elif wire == "integer" and value.isdigit():
        fields = {**others, field: int(value)}
    else:
        fields = {**others, field: float(value.rstrip("X") or 0)}
    guard = IdentifierGuard(schema)
    problems = guard.field_problems(fields)
    try:
        if problems:
            raise RequestError(problems)
        RecordEncoder(scoring_schema(schema)).encode(fields)
    except RequestError as error:
        shown = str(error) + " ".join(error.fields)
        assert value not in shown and value[:-1] not in shown
        return
    pytest.fail(f"an identifier ({kind}, sent as {wire}) was accepted")


def test_generated_values_stay_printable():
    """The helper plants values of the detectors' formats (a check of the test itself)."""
    for kind in ("resident_id", "mobile", "card"):
        value = _planted(kind, 123456)
        assert set(value) <= set(string.digits + "X")
