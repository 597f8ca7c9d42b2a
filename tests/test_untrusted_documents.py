"""JSON and TOML from another party or a user's file: depth bounded, the parse error the
caller handles, never a RecursionError.

A hostile member's reply nesting `[` a hundred thousand deep used to raise RecursionError
out of the coordinator's reply reader (not a ValueError, so no handler caught it) and stop
the run for every party; `fedscore decide` printed a traceback for such a file, and a
task schema nested so deeply did the same to `schema check` and to every node reading it.
"""

from __future__ import annotations

import json
import tomllib

import pytest
from flwr.app import ConfigRecord, Message
from message_support import train_metadata

from fedscore.core import protocol
from fedscore.core.errors import SchemaError
from fedscore.core.protocol import (
    MalformedMessage,
    PartyReport,
    Status,
    TrainMetrics,
    TrainReply,
    fields,
)
from fedscore.core.protocol.records import DEIDENTIFICATION, LEDGER_HEAD
from fedscore.core.schema import load_schema
from fedscore.core.untrusted_documents import MAX_DEPTH, JsonTooDeep, parse_json, parse_toml
from fedscore.server.round_replies import outcome_of

#: Deeper than Python's parser can go (it recurses once per level).
BEYOND_THE_PARSER = "[" * 100_000 + "]" * 100_000
#: Within the parser's reach, deeper than fedscore accepts.
JUST_TOO_DEEP = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)


def test_documents_within_the_depth_parse_as_json_does():
    text = '{"a": [1, {"b": null}], "c": "d"}'
    assert parse_json(text) == json.loads(text)
    assert parse_json(text.encode("utf-8")) == json.loads(text)
    at_the_limit = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert parse_json(at_the_limit) == json.loads(at_the_limit)


@pytest.mark.parametrize("text", [BEYOND_THE_PARSER, JUST_TOO_DEEP, '{"a":' * 70 + "1" + "}" * 70])
def test_a_document_nested_too_deeply_is_a_value_error(text):
    with pytest.raises(JsonTooDeep, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_json(text)
    assert issubclass(JsonTooDeep, ValueError)


def test_not_json_is_still_a_decode_error():
    with pytest.raises(json.JSONDecodeError):
        parse_json("{'single': 'quotes'}")


@pytest.mark.parametrize("key", [DEIDENTIFICATION, LEDGER_HEAD])
@pytest.mark.parametrize("nested", [BEYOND_THE_PARSER, JUST_TOO_DEEP])
def test_a_hostile_nodes_deeply_nested_reply_fails_that_party_not_the_run(key, nested):
    content = TrainReply(
        PartyReport("city_bank", Status.TRAINED), TrainMetrics(10, 3.0)
    ).to_record()
    content.config_records["party"] = ConfigRecord(
        {**dict(content.config_records["party"]), key: nested}
    )
    outcome = outcome_of(Message(content, metadata=train_metadata(7)), "city_bank")
    assert outcome.status == protocol.FAILED
    assert outcome.reason.startswith("malformed reply (")
    assert outcome.reason.endswith(f"'{key}' is nested deeper than {MAX_DEPTH} levels)")


@pytest.mark.parametrize("nested", [BEYOND_THE_PARSER, JUST_TOO_DEEP])
def test_a_hostile_coordinators_deeply_nested_field_is_a_malformed_message(nested):
    with pytest.raises(MalformedMessage, match=r"^round request: 'names' is nested deeper than"):
        fields.json_value({"names": nested}, "names", "round request", (list,))


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 100_000 + "]" * 100_000,
        "a = " + "[" * 65 + "]" * 65,
        "a = " + "{b = " * 70 + "1" + "}" * 70,
    ],
)
def test_a_toml_document_nested_too_deeply_is_a_toml_error(text):
    with pytest.raises(tomllib.TOMLDecodeError, match="nested deeper than 64 levels"):
        parse_toml(text)
    assert parse_toml("a = " + "[" * 63 + "]" * 63)["a"] is not None


def test_a_schema_nested_beyond_the_parser_is_refused_by_every_reader(tmp_path, fedscore_cli):
    """A task schema comes from another member: checking it, or a node reading it, used to
    end in a RecursionError's traceback."""
    schema = tmp_path / "task.toml"
    schema.write_text("[task]\nname = " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(SchemaError, match="not valid TOML: the document is nested deeper"):
        load_schema(schema)
    result = fedscore_cli("schema", "check", str(schema), cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert (
        "not valid TOML: the document is nested deeper than 64 levels"
        in result.stdout + result.stderr
    )
