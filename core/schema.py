"""The task schema: one TOML file per scoring task, shared by every party.

It declares the role of every column of a party's table and everything the
encoding needs (vocabularies, bounds, transforms, bin edges). Because the
encoding is derived from the schema alone, every party turns the same customer
into the same feature vector and no local statistic is ever computed or shared.
"""

from __future__ import annotations

import hashlib
import itertools
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from fedscore.core.errors import SchemaError

COUNT_OPERATORS = frozenset({">=", "<=", "=="})


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
        privacy_unit: the column identifying a person (default: the customer key).
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


def load_schema(path: str | Path) -> TaskSchema:
    """Read and check a task schema TOML file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SchemaError(f"cannot read task schema {path}: {exc.strerror}") from exc
    return parse_schema(raw.decode("utf-8"), source=str(path))


def parse_schema(text: str, source: str = "<schema>") -> TaskSchema:
    """Build a `TaskSchema` from TOML text, with errors that name the offending entry."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SchemaError(f"{source}: not valid TOML: {exc}") from exc
    parser = _SchemaParser(source)
    task = parser.table(doc, "task")
    columns = tuple(
        parser.column(entry, index) for index, entry in enumerate(parser.array(doc, "columns"))
    )
    schema = TaskSchema(
        name=parser.text(task, "name", "[task]"),
        version=str(task.get("version", "1")),
        purpose=parser.text(task, "purpose", "[task]"),
        description=str(task.get("description", "")),
        columns=columns,
        derived=tuple(
            parser.derived(entry, index) for index, entry in enumerate(doc.get("derived", []))
        ),
        deidentification=parser.deidentification(doc.get("deidentification", {})),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        source=source,
        raw_toml=text,
    )
    parser.check_consistency(schema)
    return schema


class _SchemaParser:
    """Reads the pieces of a schema document, naming the entry at fault on error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> SchemaError:
        return SchemaError(f"{self.source}: {where}: {problem}")

    def table(self, doc: dict[str, Any], key: str) -> dict[str, Any]:
        value = doc.get(key)
        if not isinstance(value, dict):
            raise self.fail(f"[{key}]", "missing table")
        return value

    def array(self, doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = doc.get(key)
        if not isinstance(value, list) or not value:
            raise self.fail(f"[[{key}]]", "at least one entry is required")
        return value

    def text(self, entry: dict[str, Any], key: str, where: str) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value:
            raise self.fail(where, f"'{key}' must be a non-empty string")
        return value

    def number(self, entry: dict[str, Any], key: str, where: str) -> float:
        value = entry.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"'{key}' must be a number")
        return float(value)

    def numeric(self, entry: dict[str, Any], where: str) -> NumericEncoding:
        low, high = self.number(entry, "min", where), self.number(entry, "max", where)
        if not low < high:
            raise self.fail(where, "'min' must be smaller than 'max'")
        try:
            transform = Transform(entry.get("transform", "identity"))
        except ValueError as exc:
            allowed = ", ".join(t.value for t in Transform)
            raise self.fail(where, f"'transform' must be one of: {allowed}") from exc
        if transform == Transform.LOG1P and low < 0:
            raise self.fail(where, "log1p needs min >= 0; use signed_log1p for signed values")
        bins = tuple(float(b) for b in entry.get("bins", []))
        if any(b2 <= b1 for b1, b2 in itertools.pairwise(bins)):
            raise self.fail(where, "'bins' must be strictly ascending")
        scaled = bool(entry.get("scaled", True))
        if not scaled and not bins:
            raise self.fail(where, "a feature with scaled = false needs bins")
        return NumericEncoding(low, high, transform, bins, scaled)

    def categorical(self, entry: dict[str, Any], where: str) -> CategoricalEncoding:
        raw = entry.get("categories")
        if not isinstance(raw, list) or not raw:
            raise self.fail(where, "'categories' must list every allowed value")
        integer_codes = all(isinstance(c, int) and not isinstance(c, bool) for c in raw)
        categories = tuple(str(c) for c in raw)
        if len(set(categories)) != len(categories):
            raise self.fail(where, "'categories' has duplicates")
        groups = []
        for name, members in (entry.get("groups") or {}).items():
            members_text = tuple(str(m) for m in members)
            unknown = [m for m in members_text if m not in categories]
            if unknown:
                raise self.fail(where, f"group '{name}' names categories not listed: {unknown}")
            groups.append((str(name), members_text))
        return CategoricalEncoding(categories, integer_codes, tuple(groups))

    def column(self, entry: dict[str, Any], index: int) -> ColumnSpec:
        where = f"[[columns]] #{index + 1}"
        name = self.text(entry, "name", where)
        where = f"[[columns]] '{name}'"
        try:
            role = Role(entry.get("role", ""))
        except ValueError as exc:
            allowed = ", ".join(r.value for r in Role)
            raise self.fail(where, f"'role' must be one of: {allowed}") from exc
        spec: dict[str, Any] = {
            "name": name,
            "role": role,
            "quasi_identifier": bool(entry.get("quasi_identifier", False)),
            "required": bool(entry.get("required", True)),
        }
        if role == Role.NUMERIC:
            spec["numeric"] = self.numeric(entry, where)
        elif role == Role.CATEGORICAL:
            spec["categorical"] = self.categorical(entry, where)
        elif role == Role.LABEL:
            for key in ("positive", "negative"):
                if key not in entry:
                    raise self.fail(where, f"the label needs '{key}' (the value meaning {key})")
            spec["positive"], spec["negative"] = str(entry["positive"]), str(entry["negative"])
            if spec["positive"] == spec["negative"]:
                raise self.fail(where, "'positive' and 'negative' must differ")
        elif role == Role.DIRECT_IDENTIFIER:
            spec["action"] = str(entry.get("action", "drop"))
            if spec["action"] not in ("drop", "pseudonymize"):
                raise self.fail(where, "'action' must be 'drop' or 'pseudonymize'")
        elif role == Role.CONSENT:
            spec["granted"] = tuple(str(v) for v in entry.get("granted", []))
            spec["refused"] = tuple(str(v) for v in entry.get("refused", []))
            if not spec["granted"]:
                raise self.fail(where, "the consent column needs 'granted' values")
        if "keep" in entry:
            if role not in (Role.QUASI_IDENTIFIER, Role.FREE_TEXT):
                raise self.fail(where, "'keep' applies to quasi_identifier and free_text columns")
            spec["keep"] = bool(entry["keep"])
        if "generalize" in entry:
            if not (spec["quasi_identifier"] or role == Role.QUASI_IDENTIFIER):
                raise self.fail(where, "only quasi-identifiers can be generalized")
            spec["generalize"] = self.generalization(entry["generalize"], where)
        return ColumnSpec(**spec)

    def generalization(self, entry: object, where: str) -> Generalization:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise self.fail(where, "'generalize' must be { band = N } or { date = \"month\" }")
        if "band" in entry:
            band = self.number(entry, "band", where)
            if band <= 0:
                raise self.fail(where, "'generalize.band' must be > 0")
            return Generalization(band=band)
        if entry.get("date") in ("month", "year"):
            return Generalization(date_level=str(entry["date"]))
        raise self.fail(where, '\'generalize\' must be { band = N } or { date = "month"|"year" }')

    def deidentification(self, entry: dict[str, Any]) -> DeidentificationRules:
        where = "[deidentification]"
        hierarchies = []
        for index, item in enumerate(entry.get("hierarchies", [])):
            levels = tuple(str(level) for level in item.get("levels", []))
            release = str(item.get("release", ""))
            if len(levels) < 2 or release not in levels:
                raise self.fail(
                    f"[[deidentification.hierarchies]] #{index + 1}",
                    "needs 'levels' (finest to coarsest, 2 or more) and a 'release' among them",
                )
            hierarchies.append(Hierarchy(levels, release))
        rules = DeidentificationRules(
            rules_version=str(entry.get("rules_version", "1")),
            k_min=int(entry.get("k_min", 5)),
            max_suppression_rate=float(entry.get("max_suppression_rate", 0.05)),
            max_rows_per_customer=int(entry.get("max_rows_per_customer", 1)),
            privacy_unit=str(entry["privacy_unit"]) if entry.get("privacy_unit") else None,
            pseudonymizer=str(entry.get("pseudonymizer", "hmac-sha256")),
            hierarchies=tuple(hierarchies),
        )
        if rules.k_min < 1 or rules.max_rows_per_customer < 1:
            raise self.fail(where, "'k_min' and 'max_rows_per_customer' must be >= 1")
        if not 0 <= rules.max_suppression_rate <= 1:
            raise self.fail(where, "'max_suppression_rate' must be in [0, 1]")
        return rules

    def derived(self, entry: dict[str, Any], index: int) -> DerivedFeature:
        where = f"[[derived]] #{index + 1}"
        name = self.text(entry, "name", where)
        where = f"[[derived]] '{name}'"
        kind = self.text(entry, "kind", where)
        encoding = self.numeric(entry, where)
        if kind == "ratio":
            return DerivedFeature(
                name,
                kind,
                encoding,
                numerator=self.text(entry, "numerator", where),
                denominator=self.text(entry, "denominator", where),
                floor=float(entry.get("floor", 1.0)),
            )
        if kind == "count":
            columns = entry.get("columns")
            if not isinstance(columns, list) or not columns:
                raise self.fail(where, "'columns' must list the columns to count over")
            op = entry.get("op", ">=")
            if op not in COUNT_OPERATORS:
                raise self.fail(where, f"'op' must be one of {sorted(COUNT_OPERATORS)}")
            return DerivedFeature(
                name,
                kind,
                encoding,
                columns=tuple(str(c) for c in columns),
                op=op,
                value=self.number(entry, "value", where),
            )
        raise self.fail(where, "'kind' must be 'ratio' or 'count'")

    def check_consistency(self, schema: TaskSchema) -> None:
        names = [c.name for c in schema.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise self.fail("[[columns]]", f"columns declared twice: {duplicates}")
        for role in (Role.LABEL, Role.CUSTOMER_KEY):
            count = len(schema.by_role(role))
            if count != 1:
                raise self.fail("[[columns]]", f"exactly one '{role.value}' column is required")
        rules = schema.deidentification
        for hierarchy in rules.hierarchies:
            for level in hierarchy.levels:
                if level not in names or not schema.column(level).is_quasi_identifier:
                    raise self.fail(
                        "[[deidentification.hierarchies]]",
                        f"level '{level}' must be a declared quasi-identifier column",
                    )
        if rules.privacy_unit is not None:
            unit = rules.privacy_unit
            if unit not in names or (
                schema.column(unit).role != Role.CUSTOMER_KEY
                and schema.column(unit).action != "pseudonymize"
            ):
                raise self.fail(
                    "[deidentification]",
                    f"privacy_unit '{unit}' must be the customer key or a pseudonymized "
                    "direct identifier",
                )
        if len(schema.by_role(Role.CONSENT)) > 1:
            raise self.fail("[[columns]]", "at most one 'consent' column is allowed")
        if not schema.features:
            raise self.fail("[[columns]]", "at least one numeric or categorical feature is needed")
        numeric_names = {c.name for c in schema.columns if c.role == Role.NUMERIC}
        numeric_names |= {
            c.name for c in schema.columns if c.categorical and c.categorical.integer_codes
        }
        feature_names = {c.name for c in schema.features}
        for derived in schema.derived:
            sources = (
                [derived.numerator, derived.denominator]
                if derived.kind == "ratio"
                else list(derived.columns)
            )
            missing = [s for s in sources if s not in numeric_names]
            if missing:
                raise self.fail(
                    f"[[derived]] '{derived.name}'",
                    f"needs numeric feature columns, but these are not: {missing}",
                )
            if derived.name in feature_names:
                raise self.fail(f"[[derived]] '{derived.name}'", "name clashes with a column")
