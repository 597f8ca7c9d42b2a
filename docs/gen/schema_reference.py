"""The task-schema and configuration reference pages, from the live pydantic models."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from markdown_text import markdown_text

#: The document of the task-schema page; the configuration page gets all the others.
TASK_DOCUMENT = "task-schema"

_ATTRIBUTES = re.compile(r"^\s*(Attributes|Args):\s*$", re.MULTILINE)
_ENTRY = re.compile(r"^(?P<names>[A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_]\w*)*):\s?(?P<text>.*)$")


def live_documents() -> dict[str, tuple[str, Callable[[], dict[str, Any]]]]:
    """Document name → (what it is, its JSON Schema): fedscore's configuration documents."""
    return dict(importlib.import_module("fedscore.config_schemas").DOCUMENTS)


@dataclass(frozen=True)
class ModelDoc:
    """One object model of a JSON Schema (the document itself or one of its `$defs`).

    Attributes:
        document: the document's name (`task-schema`).
        name: the model's title (`TaskSection`), the document's root model included.
        schema: its JSON Schema.
        used_in: where it is referenced (`SchemaDocument.task`), empty for the root.
    """

    document: str
    name: str
    schema: dict[str, Any]
    used_in: tuple[str, ...]

    @property
    def anchor(self) -> str:
        """Its heading's id (`task-schema-tasksection`)."""
        return f"{self.document}-{self.name.lower()}"

    @property
    def fields(self) -> dict[str, dict[str, Any]]:
        """Its properties by name (empty for an enumeration)."""
        return dict(self.schema.get("properties", {}))


def document_models(document: str, schema: dict[str, Any]) -> list[ModelDoc]:
    """The root model and every `$defs` entry, in the order a reader meets them."""
    definitions: dict[str, dict[str, Any]] = schema.get("$defs", {})
    root_name = str(schema.get("title", document))
    order = [root_name]
    used_in: dict[str, list[str]] = {root_name: []}
    queue = [(root_name, schema)]
    while queue:
        name, model = queue.pop(0)
        for field, spec in model.get("properties", {}).items():
            for reference in _references(spec):
                used_in.setdefault(reference, [])
                if f"{name}.{field}" not in used_in[reference]:
                    used_in[reference].append(f"{name}.{field}")
                if reference not in order and reference in definitions:
                    order.append(reference)
                    queue.append((reference, definitions[reference]))
    order += [name for name in definitions if name not in order]
    return [
        ModelDoc(
            document,
            name,
            schema if name == root_name else definitions[name],
            tuple(used_in.get(name, [])),
        )
        for name in order
    ]


def _references(spec: Any) -> Iterator[str]:
    if isinstance(spec, dict):
        reference = spec.get("$ref")
        if isinstance(reference, str):
            yield reference.rsplit("/", 1)[-1]
        for key, value in spec.items():
            if key != "discriminator":
                yield from _references(value)
    elif isinstance(spec, list):
        for item in spec:
            yield from _references(item)


def field_descriptions(description: str) -> dict[str, str]:
    """The per-field texts of a Google-style docstring's `Attributes:` (or `Args:`) section."""
    match = _ATTRIBUTES.search(description)
    if match is None:
        return {}
    found: dict[str, str] = {}
    names: list[str] = []
    for raw in description[match.end() :].splitlines():
        line = raw.strip()
        if not line:
            continue
        indent = len(raw) - len(raw.lstrip())
        entry = _ENTRY.match(line) if indent == 4 else None
        if entry is not None:
            names = [name.strip() for name in entry["names"].split(",")]
            for name in names:
                found[name] = entry["text"].strip()
        elif names:
            for name in names:
                found[name] = f"{found[name]} {line}".strip()
    return found


def inherited_descriptions(title: str, names: set[str]) -> dict[str, str]:
    """Field texts from the docstrings of the class behind a schema model and its bases.

    A JSON Schema carries only the class's own docstring; keys a base class declares (a
    column's `name`, a numeric feature's `min`) are documented there. The class is found
    among the loaded fedscore modules by its name and its exact set of fields.
    """
    found: dict[str, str] = {}
    for cls in _classes_named(title):
        if _field_names(cls) != names:
            continue
        for base in reversed(cls.__mro__):
            found.update(field_descriptions(inspect.cleandoc(base.__doc__ or "")))
        break
    return found


def _classes_named(title: str) -> Iterator[type]:
    for module_name, module in list(sys.modules.items()):
        if module_name.split(".")[0] == "fedscore" and module is not None:
            candidate = vars(module).get(title)
            if isinstance(candidate, type):
                yield candidate


def _field_names(cls: type) -> set[str]:
    model_fields = getattr(cls, "model_fields", None)
    if isinstance(model_fields, dict):
        return {str(getattr(info, "alias", None) or name) for name, info in model_fields.items()}
    if dataclasses.is_dataclass(cls):
        return {field.name for field in dataclasses.fields(cls)}
    return set()


def model_summary(description: str) -> str:
    """A model docstring without its `Attributes:` section."""
    match = _ATTRIBUTES.search(description)
    return (description[: match.start()] if match else description).strip()


def type_text(spec: dict[str, Any], document: str) -> str:
    """A JSON Schema type as a reader writes it in TOML terms, with its constraints."""
    if "$ref" in spec:
        name = str(spec["$ref"]).rsplit("/", 1)[-1]
        return f"[{name}](#{document}-{name.lower()})"
    if "const" in spec:
        return f"`{json.dumps(spec['const'], ensure_ascii=False)}`"
    if "enum" in spec:
        return " or ".join(f"`{json.dumps(value, ensure_ascii=False)}`" for value in spec["enum"])
    for key in ("anyOf", "oneOf"):
        if key in spec:
            options = [type_text(option, document) for option in spec[key]]
            return " or ".join(dict.fromkeys(options))
    kind = spec.get("type")
    if kind == "array":
        items = spec.get("items", {})
        text = f"list of {type_text(items, document)}" if items else "list"
    elif kind == "object":
        values = spec.get("additionalProperties")
        text = f"table of {type_text(values, document)}" if isinstance(values, dict) else "table"
    elif isinstance(kind, list):
        text = " or ".join(_SCALARS.get(str(item), str(item)) for item in kind)
    else:
        text = _SCALARS.get(str(kind), "any")
    constraints = [f"{symbol} {spec[key]}" for key, symbol in _CONSTRAINTS.items() if key in spec]
    if "pattern" in spec:
        constraints.append(f"matching `{spec['pattern']}`")
    return f"{text} ({', '.join(constraints)})" if constraints else text


_SCALARS = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "null": "none",
}
_CONSTRAINTS = {
    "minimum": "≥",
    "exclusiveMinimum": ">",
    "maximum": "≤",
    "exclusiveMaximum": "<",
    "minLength": "length ≥",
    "maxLength": "length ≤",
    "minItems": "items ≥",
    "maxItems": "items ≤",
}


def render_document(document: str, what: str, schema: dict[str, Any], level: int = 2) -> str:
    """One configuration document: every model, every field (type, required, default, text)."""
    models = document_models(document, schema)
    hashes = "#" * level
    lines = [
        f"{hashes} {markdown_text(what[:1].upper() + what[1:])} {{#{document}}}",
        "",
        f"JSON Schema name: `{document}` (`fedscore schema export` writes "
        f"`{document}.schema.json`).",
        "",
    ]
    by_name = {model.name: model for model in models}
    for model in models:
        lines += _render_model(model, f"{hashes}#", by_name)
    return "\n".join(lines) + "\n"


def _referenced_summary(spec: dict[str, Any], models: dict[str, ModelDoc]) -> str:
    """For an undocumented field holding one table: the first line of that table's text."""
    referenced = [models[name] for name in dict.fromkeys(_references(spec)) if name in models]
    if len(referenced) != 1:
        return ""
    summary = model_summary(str(referenced[0].schema.get("description", "")))
    return summary.split("\n\n")[0].strip()


def _render_model(model: ModelDoc, hashes: str, models: dict[str, ModelDoc]) -> list[str]:
    description = str(model.schema.get("description", ""))
    lines = [f"{hashes} {model.name} {{#{model.anchor}}}", ""]
    summary = model_summary(description)
    if summary:
        lines += [markdown_text(" ".join(summary.split())), ""]
    if model.used_in:
        lines += ["Used in: " + ", ".join(f"`{where}`" for where in model.used_in) + ".", ""]
    if not model.fields:
        if "enum" in model.schema:
            lines += ["One of: " + type_text(model.schema, model.document) + ".", ""]
        return lines
    texts = inherited_descriptions(model.name, set(model.fields)) | field_descriptions(description)
    required = set(model.schema.get("required", []))
    lines += ["| field | type | required / default | description |", "|---|---|---|---|"]
    for name, spec in model.fields.items():
        if name in required:
            default = "required"
        elif isinstance(spec.get("default"), dict) and spec["default"]:
            default = "optional (the table's defaults)"
        elif "default" in spec:
            default = f"`{json.dumps(spec['default'], ensure_ascii=False)}`"
        else:
            default = "optional"
        text = spec.get("description") or texts.get(name) or _referenced_summary(spec, models)
        cells = [
            f"`{name}`",
            type_text(spec, model.document),
            default,
            markdown_text(" ".join(str(text).split())) or "—",
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    lines.append("")
    return lines


def render_schema_page(documents: dict[str, tuple[str, Callable[[], dict[str, Any]]]]) -> str:
    """The task schema reference."""
    what, schema_of = documents[TASK_DOCUMENT]
    return "\n".join(
        [
            "# Task schema reference",
            "",
            "Generated at build time from the task schema's pydantic models "
            "(`fedscore.core.schema`, their JSON Schema). A task schema is one TOML file "
            "per scoring task, shared by every party; the bundled one is "
            "`datasets/tasks/default_risk.toml`. The [model owner's guide]"
            "(../model-owner-guide.md#tasks) explains what the roles and encodings mean.",
            "",
            "Every table is strict: an unknown key, a wrong type or a non-finite number is "
            "an error naming the entry and the key.",
            "",
            render_document(TASK_DOCUMENT, what, schema_of()),
        ]
    )


def render_config_page(documents: dict[str, tuple[str, Callable[[], dict[str, Any]]]]) -> str:
    """The reference of every other configuration document (node, server, run, scoring)."""
    lines = [
        "# Configuration reference",
        "",
        "Generated at build time from the strict pydantic models fedscore reads its "
        "configuration files with (`fedscore.config_schemas`). A misspelt key, a wrong "
        "type, a non-finite number or a missing required key is an error naming the file "
        "and the key path; every problem of a file is listed at once.",
        "",
    ]
    lines += [
        f"- [{markdown_text(what)}](#{name})"
        for name, (what, _) in documents.items()
        if name != TASK_DOCUMENT
    ]
    lines.append("")
    for name, (what, schema_of) in documents.items():
        if name != TASK_DOCUMENT:
            lines.append(render_document(name, what, schema_of()))
    return "\n".join(lines)
