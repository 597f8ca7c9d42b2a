"""Task schema files: the bundled one loads; malformed ones are rejected with the entry named."""

from __future__ import annotations

import pytest

from fedscore.core.errors import SchemaError
from fedscore.core.schema import Role, load_schema, parse_schema


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
        (("k_min = 3", "k_min = 0"), "'k_min' and 'max_rows_per_customer' must be >= 1"),
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
