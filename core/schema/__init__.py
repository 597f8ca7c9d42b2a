"""The task schema: one TOML file per scoring task, shared by every party.

It declares the role of every column of a party's table and everything the
encoding needs (vocabularies, bounds, transforms, bin edges). Because the
encoding is derived from the schema alone, every party turns the same customer
into the same feature vector and no local statistic is ever computed or shared.

`model` holds the domain objects the rest of fedscore reads; `document` (with
`columns` and `derived`) the strict models of the TOML file and their rules;
`loading` reads a file into the one from the other.
"""

from fedscore.core.schema.document import SchemaDocument, schema_json_schema
from fedscore.core.schema.loading import load_schema, parse_schema
from fedscore.core.schema.model import (
    COUNT_OPERATORS,
    CategoricalEncoding,
    ColumnSpec,
    DeidentificationRules,
    DerivedFeature,
    Generalization,
    Hierarchy,
    NumericEncoding,
    Role,
    TaskSchema,
    Transform,
)

__all__ = [
    "COUNT_OPERATORS",
    "CategoricalEncoding",
    "ColumnSpec",
    "DeidentificationRules",
    "DerivedFeature",
    "Generalization",
    "Hierarchy",
    "NumericEncoding",
    "Role",
    "SchemaDocument",
    "TaskSchema",
    "Transform",
    "load_schema",
    "parse_schema",
    "schema_json_schema",
]
