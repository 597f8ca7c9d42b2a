"""Reading configuration documents into strict, typed models with errors people can act on.

Every config document fedscore reads is a pydantic model in strict mode: a string is
never a boolean, a boolean never a number, unknown keys are errors. This module turns
pydantic's validation errors into one `ConfigError` that names the file, the key path
and the rule for every problem, with a "did you mean" hint for a misspelt key.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from fedscore.core.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


def parse_section(model: type[Model], data: Any, source: str | Path, section: str = "") -> Model:
    """Validate `data` (a TOML table) as `model`, strictly.

    Args:
        model: the section's model.
        data: the section as TOML read it.
        source: the file it came from (named in errors).
        section: the table's name in the file ("" for the whole document).

    Raises:
        ConfigError: every problem found, one per line.
    """
    if data is None:
        data = {}
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, model, source, section)) from exc


def describe_errors(
    error: ValidationError, model: type[BaseModel], source: str | Path, section: str
) -> str:
    """One line per problem: where (file, [section] key path) and which rule it breaks."""
    lines = []
    for problem in error.errors():
        path = [str(part) for part in problem["loc"]]
        where = ".".join(path) or "(the table itself)"
        prefix = f"[{section}] " if section else ""
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown setting" + _hint(path, model)
        lines.append(f"  - {prefix}{where}: {message}")
    count = len(lines)
    return f"{source}: {count} invalid setting{'s' if count > 1 else ''}:\n" + "\n".join(lines)


def _hint(path: list[str], model: type[BaseModel]) -> str:
    """ " (did you mean 'x'?)" for an unknown key close to a known one of its table."""
    table: type[BaseModel] | None = model
    for part in path[:-1]:
        field = table.model_fields.get(part) if table is not None else None
        annotation = field.annotation if field is not None else None
        is_model = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        table = annotation if is_model else None  # type: ignore[assignment]
    if table is None or not path:
        return ""
    known = sorted(table.model_fields)
    close = difflib.get_close_matches(path[-1], known, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(known)})"


def section_of(document: Mapping[str, Any], name: str, source: str | Path) -> Any:
    """The table `name` of a TOML document ({} when absent).

    Raises:
        ConfigError: `name` is there but not a table.
    """
    value = document.get(name, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: [{name}] must be a table, not a {type(value).__name__}")
    return value
