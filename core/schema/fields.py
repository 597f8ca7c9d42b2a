"""Pieces the task schema's document models share: strictness, value types, numeric rules."""

from __future__ import annotations

import itertools
from typing import Annotated, Any, ClassVar, get_args

from pydantic import AfterValidator, Field, PlainValidator, field_validator, model_validator

from fedscore.core.printable import has_control_characters
from fedscore.core.schema.model import NumericEncoding, Transform
from fedscore.core.typed_config import RuleViolations, StrictSection, enum_by_value, rule_error


class DocumentModel(StrictSection):
    """A table of the schema document: strict types, no unknown keys, finite numbers.

    Attributes:
        described_as: what the table is, in words, for error messages ("the label").
    """

    described_as: ClassVar[str] = ""


def _code(value: object) -> int | str:
    """`value` unchanged if it is an integer or a string (a bool is not an integer here)."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise rule_error("must be an integer or a string")


#: A value as a party's table holds it, e.g. a category or the label's positive value:
#: written in TOML as an integer or a string (never a boolean or a float).
Code = Annotated[int | str, PlainValidator(_code, json_schema_input_type=int | str)]


#: What a spreadsheet reads as the start of a formula (OWASP's CSV-injection list; tab and
#: carriage return are control characters, refused anyway).
FORMULA_STARTS = ("=", "+", "-", "@")


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a schema name (None: it can), without repeating it.

    A name is printed and logged, so it holds no control or invisible format character;
    feature names become the reason codes of every party's scored CSV files, which people
    open in Excel, so it does not start like a formula.
    """
    if has_control_characters(name):
        return (
            "must not hold control or text-direction characters (a line break, an escape "
            "sequence): names are printed in messages and logs"
        )
    if name.startswith(FORMULA_STARTS):
        return (
            f"must not start with {', '.join(repr(c) for c in FORMULA_STARTS)}: feature names "
            "become reason codes in scored CSV files, where a spreadsheet would run them as a "
            "formula"
        )
    return None


def _printable(name: str) -> str:
    """`name` if it is a safe schema name (`name_problem`)."""
    problem = name_problem(name)
    if problem is not None:
        raise rule_error(problem)
    return name


#: A name of a column, feature or table; never empty, nothing that could forge a log line
#: or run as a spreadsheet formula.
Name = Annotated[str, Field(min_length=1), AfterValidator(_printable)]

#: A transform as TOML names it ("log1p"), read as a `Transform`.
TransformName = Annotated[Transform, enum_by_value(Transform)]


class NumericRules(DocumentModel):
    """How a numeric value becomes features (keys of numeric columns and derived features).

    Attributes:
        min, max: the consortium's agreed bounds; values outside are clipped to them.
        transform: applied after clipping ("identity", "log1p" or "signed_log1p"); the
            result is scaled to [0, 1] with the transformed bounds.
        bins: optional strictly ascending edges, each in (min, max]; each interval
            [edge, next edge) becomes a 0/1 feature of the clipped value.
        scaled: whether the scaled value itself is a feature (false needs bins).
    """

    min: float
    max: float
    transform: TransformName = Transform.IDENTITY
    bins: list[float] = Field(default_factory=list)
    scaled: bool = True

    @field_validator("bins")
    @classmethod
    def _ascending(cls, bins: list[float]) -> list[float]:
        if any(upper <= lower for lower, upper in itertools.pairwise(bins)):
            raise rule_error("must be strictly ascending")
        return bins

    @model_validator(mode="after")
    def _consistent_bounds(self) -> NumericRules:
        problems = RuleViolations(type(self))
        if not self.min < self.max:
            problems.add((), "'min' must be smaller than 'max'")
        outside = [number_text(edge) for edge in self.bins if not self.min < edge <= self.max]
        if outside and self.min < self.max:
            problems.add(
                ("bins",),
                f"edges {', '.join(outside)} lie outside (min, max] = "
                f"({number_text(self.min)}, {number_text(self.max)}]: values are clipped to "
                "[min, max] before binning, so the interval beyond such an edge is always empty",
            )
        if self.transform == Transform.LOG1P and self.min < 0:
            problems.add((), "log1p needs min >= 0; use signed_log1p for signed values")
        if not self.scaled and not self.bins:
            problems.add((), "a feature with scaled = false needs bins")
        problems.raise_if_any()
        return self

    def encoding(self) -> NumericEncoding:
        """The agreed encoding these keys declare."""
        return NumericEncoding(self.min, self.max, self.transform, tuple(self.bins), self.scaled)


def number_text(value: float) -> str:
    """A number as a schema writes it: 1000000 rather than 1e+06 or 1000000.0."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def members_by_tag(union: Any, tag: str) -> dict[str, type[DocumentModel]]:
    """The models of a discriminated union (`Annotated[A | B, ...]`) by their `tag` value."""
    (members, *_) = get_args(union)
    return {get_args(model.model_fields[tag].annotation)[0]: model for model in get_args(members)}
