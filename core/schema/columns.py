"""`[[columns]]` entries: one model per role, so a key that does not apply to a role is an error.

The entry's `role` picks its model (a discriminated union): `min` on a categorical column,
`keep` on a numeric one or `positive` anywhere but the label are reported, not ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from fedscore.core.schema.fields import (
    Code,
    DocumentModel,
    Name,
    NumericRules,
    members_by_tag,
    number_text,
)
from fedscore.core.schema.model import (
    CategoricalEncoding,
    ColumnSpec,
    Generalization,
    Role,
)
from fedscore.core.typed_config import RuleViolations, rule_error


class GeneralizeEntry(DocumentModel):
    """`generalize`: how a quasi-identifier is coarsened before k-anonymity is measured.

    Attributes:
        band: numbers → the midpoint of their band of this width (e.g. age → 10-year band).
        date: dates → "month" (YYYY-MM) or "year" (YYYY).
    """

    band: float | None = Field(default=None, gt=0)
    date: Literal["month", "year"] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> GeneralizeEntry:
        if (self.band is None) == (self.date is None):
            raise rule_error('must be either { band = N } or { date = "month"|"year" }')
        return self

    def generalization(self) -> Generalization:
        """The domain rule."""
        return Generalization(band=self.band, date_level=self.date)


class _Column(DocumentModel):
    """Keys every column has.

    Attributes:
        name: the column header.
        role: what the column is (a `Role` value); it picks the entry's model.
        required: whether a table missing this column is rejected.
    """

    name: Name
    role: str
    required: bool = True

    def spec(self) -> ColumnSpec:
        """The column as the rest of fedscore reads it."""
        return ColumnSpec(self.name, Role(self.role), required=self.required, **self._specifics())

    def _specifics(self) -> dict[str, Any]:
        """The role's own attributes of the `ColumnSpec`."""
        return {}


class _KeptColumn(_Column):
    """Keys of a column the task may not need.

    Attributes:
        keep: false drops the column once it has been scanned (data minimization).
    """

    keep: bool = True

    def _specifics(self) -> dict[str, Any]:
        return {"keep": self.keep}


class _FeatureColumn(_Column):
    """Keys of a feature column, which may also be a quasi-identifier.

    Attributes:
        quasi_identifier: the feature also counts as a quasi-identifier.
        generalize: how it is coarsened before k-anonymity (quasi-identifiers only).
    """

    quasi_identifier: bool = False
    generalize: GeneralizeEntry | None = None

    @model_validator(mode="after")
    def _generalize_quasi_identifiers_only(self) -> _FeatureColumn:
        if self.generalize is None:
            return self
        if not self.quasi_identifier:
            raise rule_error("only quasi-identifiers can be generalized (quasi_identifier = true)")
        problem = self._generalize_problem(self.generalize)
        if problem:
            raise rule_error(problem)
        return self

    def _generalize_problem(self, generalize: GeneralizeEntry) -> str:
        """Why this column cannot be generalized so ("" if it can)."""
        return ""

    def _specifics(self) -> dict[str, Any]:
        generalize = self.generalize.generalization() if self.generalize else None
        return {"quasi_identifier": self.quasi_identifier, "generalize": generalize}


class CustomerKeyColumn(_Column):
    """`role = "customer_key"`: replaced by the institution's keyed pseudonym."""

    described_as = "the customer key"
    role: Literal["customer_key"]


class DirectIdentifierColumn(_Column):
    """`role = "direct_identifier"`: dropped, or kept only as a keyed pseudonym.

    Attributes:
        action: "drop" it, or "pseudonymize" it (the value then identifies the person).
    """

    described_as = "a direct identifier"
    role: Literal["direct_identifier"]
    action: Literal["drop", "pseudonymize"] = "drop"

    def _specifics(self) -> dict[str, Any]:
        return {"action": self.action}


class QuasiIdentifierColumn(_KeptColumn):
    """`role = "quasi_identifier"`: not a feature, but counted for k-anonymity.

    Attributes:
        generalize: how it is coarsened before k-anonymity (None: kept as is).
    """

    described_as = "a quasi-identifier"
    role: Literal["quasi_identifier"]
    generalize: GeneralizeEntry | None = None

    def _specifics(self) -> dict[str, Any]:
        generalize = self.generalize.generalization() if self.generalize else None
        return {**super()._specifics(), "generalize": generalize}


class NumericColumn(_FeatureColumn, NumericRules):
    """`role = "numeric"`: a number the model sees through its agreed bounds and transform."""

    described_as = "a numeric column"
    role: Literal["numeric"]

    def _generalize_problem(self, generalize: GeneralizeEntry) -> str:
        if generalize.band is None:
            return (
                "'generalize' of a numeric column must be { band = N }: { date = ... } is for "
                "a quasi_identifier column holding dates"
            )
        if self.min < self.max and generalize.band >= self.max - self.min:
            return (
                f"'generalize.band' ({number_text(generalize.band)}) must be smaller than "
                f"max - min ({number_text(self.max - self.min)}): each value becomes the "
                "midpoint of its band [k band, (k+1) band) (bands start at 0), then is clipped "
                "to [min, max], so a band as wide as the bounds leaves the model next to nothing"
            )
        return ""

    def _specifics(self) -> dict[str, Any]:
        return {**super()._specifics(), "numeric": self.encoding()}


class CategoricalColumn(_FeatureColumn):
    """`role = "categorical"`: a value of an agreed vocabulary, one-hot encoded.

    Attributes:
        categories: every value a party may hold (all integers: integer codes).
        groups: merges of several categories into one level (level → its categories).
    """

    described_as = "a categorical column"
    role: Literal["categorical"]
    categories: list[Code] = Field(min_length=1)
    groups: dict[str, Annotated[list[Code], Field(min_length=1)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _groups_of_listed_categories(self) -> CategoricalColumn:
        problems = RuleViolations(type(self))
        categories = [str(c) for c in self.categories]
        if len(set(categories)) != len(categories):
            problems.add(("categories",), "has duplicates")
        grouped: set[str] = set()
        for name, members in self.groups.items():
            texts = [str(m) for m in members]
            unknown = [m for m in texts if m not in categories]
            if unknown:
                problems.add(("groups", name), f"names categories not listed: {unknown}")
            if grouped & set(texts):
                problems.add(("groups", name), "names categories of another group")
            grouped |= set(texts)
        problems.raise_if_any()
        return self

    def _generalize_problem(self, generalize: GeneralizeEntry) -> str:
        return (
            "a categorical column cannot be generalized (its values are categories, not "
            "numbers or dates). 'groups' merge categories into one level for the model only: "
            "k-anonymity counts the categories as the table holds them. To coarsen it for "
            "k-anonymity, have every party recode the values before its node reads the table "
            "and declare the coarser categories"
        )

    def _specifics(self) -> dict[str, Any]:
        groups = tuple((name, tuple(str(m) for m in ms)) for name, ms in self.groups.items())
        integer_codes = all(isinstance(c, int) for c in self.categories)
        categories = tuple(str(c) for c in self.categories)
        encoding = CategoricalEncoding(categories, integer_codes, groups)
        return {**super()._specifics(), "categorical": encoding}


class LabelColumn(_Column):
    """`role = "label"`: what the model predicts.

    Attributes:
        positive, negative: the values meaning "event" and "no event".
    """

    described_as = "the label"
    role: Literal["label"]
    positive: Code
    negative: Code

    @model_validator(mode="after")
    def _two_outcomes(self) -> LabelColumn:
        if str(self.positive) == str(self.negative):
            raise rule_error("'positive' and 'negative' must differ")
        return self

    def _specifics(self) -> dict[str, Any]:
        return {"positive": str(self.positive), "negative": str(self.negative)}


class ConsentColumn(_Column):
    """`role = "consent"`: whether the customer consented to the task's purpose.

    Attributes:
        granted, refused: the values meaning consent given / not given.
    """

    described_as = "the consent column"
    role: Literal["consent"]
    granted: list[Code] = Field(min_length=1)
    refused: list[Code] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _granted_declared(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "granted" not in data:
            raise rule_error(
                "the consent column needs 'granted': the values of the column meaning the "
                "customer consented to the task's purpose, as an array of integers or strings, "
                'e.g. granted = ["Y"] and refused = ["N"]. Cells are compared as trimmed '
                'text ("1.0" reads as 1); a value in neither list is an error'
            )
        return data

    @model_validator(mode="after")
    def _granted_or_refused(self) -> ConsentColumn:
        if {str(v) for v in self.granted} & {str(v) for v in self.refused}:
            raise rule_error("a value cannot be both 'granted' and 'refused'")
        return self

    def _specifics(self) -> dict[str, Any]:
        return {
            "granted": tuple(str(v) for v in self.granted),
            "refused": tuple(str(v) for v in self.refused),
        }


class FreeTextColumn(_KeptColumn):
    """`role = "free_text"`: scanned for personal information, never a feature."""

    described_as = "a free-text column"
    role: Literal["free_text"]


class IgnoredColumn(_Column):
    """`role = "ignore"`: present in the table, unused."""

    described_as = "an ignored column"
    role: Literal["ignore"]


#: One `[[columns]]` entry; its `role` picks the model.
ColumnEntry = Annotated[
    CustomerKeyColumn
    | DirectIdentifierColumn
    | QuasiIdentifierColumn
    | NumericColumn
    | CategoricalColumn
    | LabelColumn
    | ConsentColumn
    | FreeTextColumn
    | IgnoredColumn,
    Field(discriminator="role"),
]

#: The model of each role.
COLUMN_MODELS = members_by_tag(ColumnEntry, "role")
