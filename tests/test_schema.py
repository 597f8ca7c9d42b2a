"""Task schema files: the bundled one loads; malformed ones are rejected with the entry named."""

from __future__ import annotations

import pytest

from fedscore.core.errors import SchemaError
from fedscore.core.schema import Role, load_schema, parse_schema

MINIMAL = """
[task]
name = "t"
purpose = "p"

[[columns]]
name = "id"
role = "customer_key"

[[columns]]
name = "y"
role = "label"
positive = 1
negative = 0

[[columns]]
name = "x"
role = "numeric"
min = 0
max = 10
"""


def test_bundled_schema_declares_every_role(schema):
    assert schema.name == "default_risk"
    assert schema.customer_key.name == "customer_id"
    assert schema.label.positive == "1"
    assert schema.consent is not None and schema.consent.granted == ("Y",)
    assert {c.name for c in schema.quasi_identifiers} == {"SEX", "EDUCATION", "MARRIAGE", "AGE"}
    assert len(schema.features) == 23
    assert len(schema.sha256) == 64


def test_minimal_schema_parses():
    parsed = parse_schema(MINIMAL, source="minimal.toml")
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
def test_malformed_schemas_name_the_entry(change, expected):
    text = MINIMAL.replace(*change)
    with pytest.raises(SchemaError) as caught:
        parse_schema(text, source="bad.toml")
    assert "bad.toml" in str(caught.value)
    assert expected in str(caught.value)


def test_derived_feature_must_use_numeric_columns():
    text = (
        MINIMAL + '\n[[derived]]\nname = "r"\nkind = "ratio"\nnumerator = "x"\n'
        'denominator = "id"\nmin = 0\nmax = 1\n'
    )
    with pytest.raises(SchemaError, match="needs numeric feature columns"):
        parse_schema(text, source="bad.toml")


def test_unreadable_schema_file(tmp_path):
    with pytest.raises(SchemaError, match="cannot read task schema"):
        load_schema(tmp_path / "absent.toml")
