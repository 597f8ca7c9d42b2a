"""The task schema's domain objects: what every party agreed a scoring task is.

These frozen objects are what the rest of fedscore reads (encoding, validation,
de-identification, scoring). They are built from a checked schema document
(`fedscore.core.schema.document`), never from raw TOML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, get_args

#: `privacy_unit` meaning each row is a different person (no customer key in the table).
ROW_PRIVACY_UNIT = "row"

#: How a count feature compares each column with its value.
CountOperator = Literal[">=", "<=", "=="]
COUNT_OPERATORS = frozenset(get_args(CountOperator))


class Role(StrEnum):
    """What a column of a party's table is."""

    CUSTOMER_KEY = "customer_key"
    DIRECT_IDENTIFIER = "direct_identifier"
    QUASI_IDENTIFIER = "quasi_identifier"
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    LABEL = "label"
    CONSENT = "consent"
    FREE_TEXT = "free_text"
    IGNORE = "ignore"


class Transform(StrEnum):
    """Monotone transform applied after clipping a numeric value to its agreed bounds."""

    IDENTITY = "identity"
    LOG1P = "log1p"
    SIGNED_LOG1P = "signed_log1p"


@dataclass(frozen=True)
class NumericEncoding:
    """How a numeric value becomes features.

    Attributes:
        min, max: consortium-agreed bounds; values outside are clipped to them.
        transform: applied after clipping; the result is scaled to [0, 1] using the
            transformed bounds.
        bins: optional ascending edges; each interval becomes a 0/1 feature, so a
            linear model can learn a non-monotone effect.
        scaled: whether the scaled value itself is a feature (besides any bins).
    """

    min: float
    max: float
    transform: Transform = Transform.IDENTITY
    bins: tuple[float, ...] = ()
    scaled: bool = True


@dataclass(frozen=True)
class CategoricalEncoding:
    """How a categorical value becomes one-hot features.

    Attributes:
        categories: every value a party may hold (anything else is an input error).
        integer_codes: whether every category was declared as an integer, so that a
            party's "3", "3.0" and " 3 " all read as category 3.
        groups: optional merges of several categories into one level
            (level name → member categories); unmerged categories are their own level.
    """

    categories: tuple[str, ...]
    integer_codes: bool
    groups: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def levels(self) -> list[tuple[str, tuple[str, ...]]]:
        """The one-hot levels in order, each with the categories it covers."""
        grouped = {member for _, members in self.groups for member in members}
        levels: list[tuple[str, tuple[str, ...]]] = []
        emitted_groups: set[str] = set()
        for category in self.categories:
            if category not in grouped:
                levels.append((category, (category,)))
                continue
            for name, members in self.groups:
                if category in members and name not in emitted_groups:
                    levels.append((name, members))
                    emitted_groups.add(name)
        return levels


@dataclass(frozen=True)
class Generalization:
    """How a quasi-identifier is coarsened before k-anonymity is measured.

    Attributes:
        band: numbers → the midpoint of their band of this width (e.g. age → 10-year band).
        date_level: dates → "month" (YYYY-MM) or "year" (YYYY).
    """

    band: float | None = None
    date_level: str | None = None


@dataclass(frozen=True)
class Hierarchy:
    """A quasi-identifier hierarchy over columns, e.g. district → city → province.

    Attributes:
        levels: column names from finest to coarsest.
        release: the level kept; finer levels take its value.
    """

    levels: tuple[str, ...]
    release: str

    @property
    def generalized(self) -> tuple[str, ...]:
        """The finer levels that are replaced by the released level."""
        return self.levels[: self.levels.index(self.release)]


@dataclass(frozen=True)
class DeidentificationRules:
    """The task's de-identification rules (GB/T 37964 style), agreed by the consortium.

    Attributes:
        rules_version: version of these rules, recorded in every node's report.
        k_min: smallest equivalence class allowed over the quasi-identifiers.
        max_suppression_rate: the most records a node may suppress to reach k_min;
            beyond it the node refuses to train.
        max_rows_per_customer: rows per person kept (the DP privacy unit is the person).
        privacy_unit: the column identifying a person (default: the customer key), or
            "row" (`ROW_PRIVACY_UNIT`): each row is a different person, the table has no
            customer key, and the row is the DP unit.
        pseudonymizer: "hmac-sha256" or "hmac-sm3".
        hierarchies: column hierarchies of quasi-identifiers.
    """

    rules_version: str = "1"
    k_min: int = 5
    max_suppression_rate: float = 0.05
    max_rows_per_customer: int = 1
    privacy_unit: str | None = None
    pseudonymizer: str = "hmac-sha256"
    hierarchies: tuple[Hierarchy, ...] = ()

    @property
    def per_row(self) -> bool:
        """Whether each row is a different person (`privacy_unit = "row"`)."""
        return self.privacy_unit == ROW_PRIVACY_UNIT


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a party's raw table.

    Attributes:
        name: the column header.
        role: what the column is (see `Role`).
        quasi_identifier: a feature that also counts as a quasi-identifier.
        numeric / categorical: the encoding of a feature column.
        positive, negative: for the label, the values meaning "event" and "no event".
        granted, refused: for the consent column, the values meaning consent given / not.
        required: whether a table missing this column is rejected.
        action: for a direct identifier, "drop" it or keep a keyed "pseudonymize"d value.
        generalize: how a quasi-identifier is coarsened (None: kept as is).
        keep: False drops a quasi-identifier or free-text column the task does not need
            (data minimization) once it has been scanned.
    """

    name: str
    role: Role
    quasi_identifier: bool = False
    numeric: NumericEncoding | None = None
    categorical: CategoricalEncoding | None = None
    positive: str | None = None
    negative: str | None = None
    granted: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    required: bool = True
    action: str = "drop"
    generalize: Generalization | None = None
    keep: bool = True

    @property
    def is_quasi_identifier(self) -> bool:
        return self.quasi_identifier or self.role == Role.QUASI_IDENTIFIER

    @property
    def is_feature(self) -> bool:
        return self.role in (Role.NUMERIC, Role.CATEGORICAL)


@dataclass(frozen=True)
class DerivedFeature:
    """A feature computed row by row from declared columns, with agreed constants.

    Attributes:
        name: the feature's name.
        kind: "ratio" (numerator / max(denominator, floor)) or
            "count" (how many of `columns` satisfy `op` `value`, op one of >=, <=, ==).
        encoding: how the derived value becomes features.
    """

    name: str
    kind: str
    encoding: NumericEncoding
    numerator: str | None = None
    denominator: str | None = None
    floor: float = 1.0
    columns: tuple[str, ...] = ()
    op: str = ">="
    value: float = 0.0


@dataclass(frozen=True)
class TaskSchema:
    """A scoring task as every party of the consortium agreed it.

    Attributes:
        name: the task's identifier (e.g. "default_risk").
        version: the schema's version; parties and server must hold the same one.
        purpose: the processing purpose customers consented to.
        columns: every column of a party's table, in the order declared.
        derived: features computed from declared columns.
        sha256: hash of the schema file, used to check every party uses the same one.
        source: the file the schema was loaded from.
    """

    name: str
    version: str
    purpose: str
    description: str
    columns: tuple[ColumnSpec, ...]
    derived: tuple[DerivedFeature, ...] = ()
    deidentification: DeidentificationRules = field(default_factory=DeidentificationRules)
    sha256: str = ""
    source: str = ""
    raw_toml: str = field(default="", repr=False)

    def by_role(self, role: Role) -> list[ColumnSpec]:
        return [c for c in self.columns if c.role == role]

    def single(self, role: Role) -> ColumnSpec | None:
        matches = self.by_role(role)
        return matches[0] if matches else None

    @property
    def label(self) -> ColumnSpec:
        label = self.single(Role.LABEL)
        assert label is not None, "validated at load time"
        return label

    @property
    def customer_key(self) -> ColumnSpec:
        """The customer key column (check `deidentification.per_row` first: none then)."""
        key = self.single(Role.CUSTOMER_KEY)
        assert key is not None, "validated at load time"
        return key

    @property
    def consent(self) -> ColumnSpec | None:
        return self.single(Role.CONSENT)

    @property
    def features(self) -> list[ColumnSpec]:
        return [c for c in self.columns if c.is_feature]

    @property
    def quasi_identifiers(self) -> list[ColumnSpec]:
        return [c for c in self.columns if c.is_quasi_identifier]

    def column(self, name: str) -> ColumnSpec:
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(name)
