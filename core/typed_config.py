"""Reading configuration documents into strict, typed models with errors people can act on.

Every config document fedscore reads is a pydantic model in strict mode: a string is
never a boolean, a boolean never a number, unknown keys are errors. This module turns
pydantic's validation errors into one `ConfigError` that names the file, the key path
and the rule for every problem, with a "did you mean" hint for a misspelt key.

Documents made of entries (the task schema's `[[columns]]`) name each problem by the entry
the user would look for (`[[columns]] 'AGE'`) through a `Locator`, and model validators
that check rules across fields report every broken rule at its place with
`RuleViolations`.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from fedscore.core.errors import ConfigError


class StrictSection(BaseModel):
    """A table of a configuration file, read strictly.

    Strict types (a string is never a number or a boolean), no unknown keys, finite numbers
    (TOML's inf and nan are refused), immutable once read.
    """

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid", allow_inf_nan=False)


Model = TypeVar("Model", bound=BaseModel)

#: Names that become folder and file names: no path separators, no shell metacharacters.
SAFE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#: The rule `SAFE_NAME_PATTERN` states, in words.
SAFE_NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"


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


def describe_errors(error: ValidationError, model: object, source: str | Path, section: str) -> str:
    """One line per problem: where (file, [section] key path) and which rule it breaks."""
    lines = []
    for problem in error.errors():
        path = [str(part) for part in problem["loc"]]
        message = problem["msg"]
        if problem["type"] == "extra_forbidden":
            message = "unknown setting" + _hint(path, model)
        lines.append(f"  - {_where(path, section)}: {message}")
    count = len(lines)
    return f"{source}: {count} invalid setting{'s' if count > 1 else ''}:\n" + "\n".join(lines)


def _where(path: list[str], section: str) -> str:
    """A key path as a TOML reader finds it: `[table] key.sub`."""
    if section:
        return f"[{section}] {'.'.join(path)}".rstrip()
    if len(path) >= 2:
        return f"[{path[0]}] {'.'.join(path[1:])}"
    return ".".join(path) or "(the document itself)"


def _fields(table: object) -> dict[str, Any]:
    """The declared fields of a pydantic model or pydantic dataclass ({} otherwise)."""
    fields = getattr(table, "model_fields", None) or getattr(table, "__pydantic_fields__", None)
    return dict(fields or {})


def _model_in(annotation: object) -> object | None:
    """The model an annotation holds (`Model`, `Model | None`), or None."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and _fields(candidate):
            return candidate
    return None


def _hint(path: list[str], model: object) -> str:
    """The hint ` (did you mean 'x'?)` for an unknown key close to a known one of its table."""
    table: object | None = model
    for part in path[:-1]:
        field = _fields(table).get(part) if table is not None else None
        table = _model_in(field.annotation) if field is not None else None
    if table is None or not path:
        return ""
    known = sorted(_fields(table))
    close = difflib.get_close_matches(path[-1], known, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(known)})"


#: Where a problem is in a document: keys and array indexes, outermost first.
Location = tuple[str | int, ...]
#: The error type of a rule a fedscore validator states itself (`rule_error`).
RULE_ERROR = "fedscore_rule"

#: pydantic's error types → the rule, as a sentence's predicate (values from its context).
_RULES: dict[str, str] = {
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "int_parsing": "must be an integer",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "list_type": "must be an array",
    "tuple_type": "must be an array",
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "literal_error": "must be {expected}",
    "string_pattern_mismatch": "must match {pattern}",
    "string_too_short": "must have at least {min_length} characters",
    "string_too_long": "must have at most {max_length} characters",
    "too_short": "must have at least {min_length} entries",
    "too_long": "must have at most {max_length} entries",
}


@dataclass(frozen=True)
class Entry:
    """The entry of a document a problem is in, as the user looks for it.

    Attributes:
        name: how the entry is named (`[[columns]] 'AGE'`, `[task]`, `top level`).
        keys: the problem's key path inside the entry.
        model: the entry's model (for "did you mean" hints), if known.
        kind: what the entry is, in words ("a numeric column"), if known.
    """

    name: str
    keys: Location = ()
    model: object | None = None
    kind: str = ""


#: Finds the entry of a problem's location in a document.
Locator = Callable[[Location], Entry]


def describe_entry_errors(
    error: ValidationError, source: str | Path, locate: Locator, noun: str
) -> str:
    """One line per problem, naming the entry (`[[columns]] 'AGE'`) and the broken rule.

    Args:
        error: pydantic's report of every problem in the document.
        source: the file (named in the first line).
        locate: finds the entry of a problem's location.
        noun: what one problem is called in the first line ("task schema problem").
    """
    lines = entry_problems(error.errors(), locate)
    count = len(lines)
    return f"{source}: {count} {noun}{'s' if count > 1 else ''}:\n" + "\n".join(
        f"  - {line}" for line in lines
    )


def entry_problems(problems: Iterable[Mapping[str, Any]], locate: Locator) -> list[str]:
    """One line per problem: the entry (`[[columns]] 'AGE'`), a colon, the broken rule.

    Args:
        problems: pydantic's errors (`ValidationError.errors()`), or some of them.
        locate: finds the entry of a problem's location.
    """
    lines = []
    for problem in problems:
        entry = locate(problem["loc"])
        lines.append(f"{entry.name}: {state_rule(problem, entry)}")
    return lines


def state_rule(problem: Mapping[str, Any], entry: Entry) -> str:
    """The rule one pydantic error reports, as a sentence about `entry`'s key."""
    kind, keys, context = problem["type"], entry.keys, problem.get("ctx") or {}
    subject = _key_path(keys)
    if kind == "extra_forbidden":
        owner = f"{entry.kind} has no key" if entry.kind else "unknown key"
        return f"{owner} {subject}{_hint([str(k) for k in keys], entry.model)}"
    if kind == "missing":
        if not keys:
            return "is missing"
        return f"{entry.kind} needs {subject}" if entry.kind else f"{subject} is required"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag, expected = context["discriminator"], context.get("expected_tags")
        return f"{tag} must be one of: {expected}" if expected else f"needs {tag}"
    if kind == "string_too_short" and context.get("min_length") == 1:
        rule = "must be a non-empty string"
    elif kind == "too_short" and context.get("min_length") == 1:
        rule = "must not be empty"
    elif kind in _RULES:
        rule = _RULES[kind].format(**{key: _plain(value) for key, value in context.items()})
    elif kind == RULE_ERROR:
        rule = problem["msg"]
    else:
        return f"{subject}: {problem['msg']}" if subject else problem["msg"]
    return f"{subject} {rule}" if subject else rule


def _key_path(keys: Location) -> str:
    """`('groups', 'other', 1)` → "'groups.other' #2" (items of an array counted from 1)."""
    parts: list[str] = []
    names: list[str] = []
    for key in [*keys, None]:
        if isinstance(key, str):
            names.append(key)
            continue
        if names:
            parts.append(f"'{'.'.join(names)}'")
            names = []
        if isinstance(key, int):
            parts.append(f"#{key + 1}")
    return " ".join(parts)


def _plain(value: object) -> object:
    """A bound as the user wrote it: 1 rather than pydantic's 1.0."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def rule_error(rule: str) -> PydanticCustomError:
    """A validator's error stating the rule broken (at the place being validated)."""
    return PydanticCustomError(RULE_ERROR, "{rule}", {"rule": rule})


class RuleViolations:
    """Every rule a model validator finds broken, raised together, each at its own place.

    A validator that raises at its first problem hides the others; this one collects them
    (`add`) and raises them as one `ValidationError` (`raise_if_any`), each at its
    location relative to the model validated, so they read like pydantic's own errors.
    """

    def __init__(self, model: type[BaseModel]) -> None:
        """Start an empty collection for a validator of `model` (named in the error)."""
        self._title = model.__name__
        self._problems: list[InitErrorDetails] = []

    def add(self, where: Location, rule: str) -> None:
        """Record that `rule` is broken at `where` (`()`: the model as a whole)."""
        self._problems.append(InitErrorDetails(type=rule_error(rule), loc=where, input=None))

    def raise_if_any(self) -> None:
        """Raise every recorded problem at once, if any was recorded."""
        if self._problems:
            raise ValidationError.from_exception_data(self._title, self._problems)


def enum_by_value(enum: type[Enum]) -> BeforeValidator:
    """A validator that accepts, in strict mode, `enum`'s values as TOML writes them.

    Use it as `Annotated[MyEnum, enum_by_value(MyEnum)]`.
    """
    allowed = ", ".join(member.value for member in enum)

    def to_member(value: object) -> Enum:
        if isinstance(value, str) and value in enum._value2member_map_:
            return enum(value)
        raise rule_error(f"must be one of: {allowed}")

    return BeforeValidator(to_member)
