"""Reading a task schema file: TOML, then the strict document models, then the domain objects.

Every problem of a file is reported at once, in one `SchemaError` whose lines name the
entry the user looks for (`[task]`, `[[columns]] 'AGE'`, `[[columns]] #3` when the entry
has no name) and the rule it breaks.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from fedscore.core.errors import SchemaError
from fedscore.core.schema.columns import COLUMN_MODELS
from fedscore.core.schema.derived import DERIVED_MODELS
from fedscore.core.schema.document import (
    DeidentificationSection,
    HierarchyEntry,
    SchemaDocument,
    TaskSection,
)
from fedscore.core.schema.fields import DocumentModel, name_problem
from fedscore.core.schema.model import TaskSchema
from fedscore.core.typed_config import Entry, Location, Locator, describe_entry_errors
from fedscore.core.untrusted_documents import parse_toml

#: Tables of the document, by key.
_TABLES: dict[str, type[DocumentModel]] = {
    "task": TaskSection,
    "deidentification": DeidentificationSection,
}

#: Arrays of tables, by key: the key whose value picks an entry's model, and the models.
_ARRAYS: dict[str, tuple[str, dict[str, type[DocumentModel]]]] = {
    "columns": ("role", COLUMN_MODELS),
    "derived": ("kind", DERIVED_MODELS),
}


def load_schema(path: str | Path) -> TaskSchema:
    """Read and check a task schema TOML file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SchemaError(f"cannot read task schema {path}: {exc.strerror}") from exc
    return parse_schema(raw.decode("utf-8"), source=str(path))


def parse_schema(text: str, source: str = "<schema>") -> TaskSchema:
    """Build a `TaskSchema` from TOML text.

    Args:
        text: the schema file's text (its hash identifies the schema).
        source: where the text came from, named in errors.

    Raises:
        SchemaError: the text is not TOML, or every problem found in the document.
    """
    try:
        document = parse_toml(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(f"{source}: not valid TOML: {exc}") from exc
    try:
        checked = SchemaDocument.model_validate(document, strict=True)
    except ValidationError as exc:
        where = entry_locator(document)
        raise SchemaError(describe_entry_errors(exc, source, where, "task schema problem")) from exc
    return checked.task_schema(text, source)


def entry_locator(document: Mapping[str, Any]) -> Locator:
    """Names the entry of an error location in `document` (the TOML as read)."""

    def locate(location: Location) -> Entry:
        head, rest = (location[0], location[1:]) if location else ("", ())
        if head in _ARRAYS and rest and isinstance(rest[0], int):
            return _array_entry(document, str(head), rest[0], rest[1:])
        if head == "deidentification" and rest[:1] == ("hierarchies",) and len(rest) > 1:
            name = f"[[deidentification.hierarchies]] #{int(rest[1]) + 1}"
            return Entry(name, rest[2:], HierarchyEntry, HierarchyEntry.described_as)
        if head in _ARRAYS:
            return Entry(f"[[{head}]]")
        if head in _TABLES:
            table = _TABLES[str(head)]
            return Entry(f"[{head}]", rest, table, table.described_as)
        return Entry("top level", location, SchemaDocument)

    return locate


def _array_entry(document: Mapping[str, Any], array: str, index: int, keys: Location) -> Entry:
    """`[[columns]] 'AGE'` (or `#3` without a name), with the model its tag picked."""
    tag, models = _ARRAYS[array]
    items = document.get(array)
    item = items[index] if isinstance(items, list) and index < len(items) else None
    raw: Mapping[str, Any] = item if isinstance(item, Mapping) else {}
    name = raw.get("name")
    # A name that could forge a line of the message, or run as a formula where the message
    # is pasted, is not repeated: the entry's number is.
    named = isinstance(name, str) and name and name_problem(name) is None
    where = f"[[{array}]] '{name}'" if named else f"[[{array}]] #{index + 1}"
    # Errors inside an entry are located under its tag: ("columns", 3, "numeric", "min").
    if not keys or keys[0] != raw.get(tag) or keys[0] not in models:
        return Entry(where, keys)
    model = models[str(keys[0])]
    return Entry(where, keys[1:], model, model.described_as)
