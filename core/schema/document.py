"""The task schema document: its tables as strict models, and the rules across entries.

Entries are checked one by one by their own models (`columns`, `derived`); once every
entry is valid, `SchemaDocument` checks the rules that span entries (one label, one
customer key, hierarchies over quasi-identifiers, derived features over numeric
columns, ...) and reports every one broken, each at its entry.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from fedscore.core.schema.columns import ColumnEntry
from fedscore.core.schema.derived import CountEntry, DerivedEntry, RatioEntry
from fedscore.core.schema.fields import DocumentModel, Name
from fedscore.core.schema.model import (
    ROW_PRIVACY_UNIT,
    ColumnSpec,
    DeidentificationRules,
    Hierarchy,
    Role,
    TaskSchema,
)
from fedscore.core.typed_config import (
    SAFE_NAME_PATTERN,
    SAFE_NAME_RULE,
    RuleViolations,
    rule_error,
)

#: Why each of `[task]`'s names must be a safe name: what it names.
_NAMES_A_FOLDER = {
    "purpose": "each party's key ring for the task is the folder <key_dir>/<purpose>/ "
    "('fedscore keys init --purpose PURPOSE'), and consent records name it in their "
    "'purpose' column",
    "name": "a registered model's folder is named <task>-v<number>, and runs and ledgers "
    "record the task by it",
    "version": "runs and registered models record the schema's version by it",
}


class TaskSection(DocumentModel):
    """`[task]`: which scoring task this is.

    Attributes:
        name: the task's identifier (e.g. "default_risk").
        version: the schema's version; parties and server must hold the same one.
        purpose: the processing purpose customers consented to; it also names the folder
            of each party's pseudonymization key ring (`<key_dir>/<purpose>/`).
        description: what the model predicts, for people.
    """

    name: Name
    version: Name = "1"
    purpose: Name
    description: str = ""

    @field_validator("name", "version", "purpose")
    @classmethod
    def _names_folders(cls, value: str, info: ValidationInfo) -> str:
        if not re.fullmatch(SAFE_NAME_PATTERN, value):
            raise rule_error(f"must be {SAFE_NAME_RULE}: {_NAMES_A_FOLDER[str(info.field_name)]}")
        return value


class HierarchyEntry(DocumentModel):
    """`[[deidentification.hierarchies]]`: quasi-identifier columns, finest to coarsest.

    Attributes:
        levels: column names from finest to coarsest (district → city → province).
        release: the level kept; finer levels take its value.
    """

    described_as = "a hierarchy"
    levels: list[Name] = Field(min_length=2)
    release: Name

    @model_validator(mode="after")
    def _release_among_levels(self) -> HierarchyEntry:
        if len(set(self.levels)) != len(self.levels):
            raise rule_error("'levels' names a column twice")
        if self.release not in self.levels:
            raise rule_error("needs 'levels' (finest to coarsest) that include its 'release'")
        return self

    def hierarchy(self) -> Hierarchy:
        """The domain rule."""
        return Hierarchy(tuple(self.levels), self.release)


class DeidentificationSection(DocumentModel):
    """`[deidentification]`: the rules every node applies before computing anything.

    Attributes:
        rules_version: version of these rules, recorded in every node's report.
        k_min: smallest equivalence class allowed over the quasi-identifiers (>= 1).
        max_suppression_rate: the share of records (0 to 1) a node may suppress to reach
            k_min; beyond it the node refuses to train.
        max_rows_per_customer: rows per person kept (>= 1; the person is the DP unit).
        privacy_unit: the column identifying a person (default: the customer key), or
            "row": each row is a different person and the table has no customer key.
        pseudonymizer: the keyed pseudonym's algorithm ("hmac-sha256" or "hmac-sm3").
        hierarchies: column hierarchies of quasi-identifiers.
    """

    rules_version: Name = "1"
    k_min: int = Field(default=5, ge=1)
    max_suppression_rate: float = Field(default=0.05, ge=0, le=1)
    max_rows_per_customer: int = Field(default=1, ge=1)
    privacy_unit: Name | None = None
    pseudonymizer: Name = "hmac-sha256"
    hierarchies: list[HierarchyEntry] = Field(default_factory=list)

    def rules(self) -> DeidentificationRules:
        """The domain rules."""
        # The section's fields are the rules' fields; only the hierarchies need building.
        return DeidentificationRules(
            **self.model_dump(exclude={"hierarchies"}),
            hierarchies=tuple(entry.hierarchy() for entry in self.hierarchies),
        )


class SchemaDocument(DocumentModel):
    """A task schema file: one TOML document shared by every party.

    Attributes:
        schema_version: the version of this document format (1).
        task: `[task]`.
        deidentification: `[deidentification]` (defaults when absent).
        columns: `[[columns]]`, every column of a party's table in order.
        derived: `[[derived]]`, features computed from declared columns.
    """

    schema_version: Literal[1] = 1
    task: TaskSection
    deidentification: DeidentificationSection = Field(default_factory=DeidentificationSection)
    columns: list[ColumnEntry] = Field(min_length=1)
    derived: list[DerivedEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent_entries(self) -> SchemaDocument:
        problems = RuleViolations(type(self))
        specs = [column.spec() for column in self.columns]
        _check_columns(specs, self.deidentification.privacy_unit == ROW_PRIVACY_UNIT, problems)
        _check_deidentification(self.deidentification, specs, problems)
        _check_derived(self.derived, specs, problems)
        problems.raise_if_any()
        return self

    def task_schema(self, text: str, source: str) -> TaskSchema:
        """The task as the rest of fedscore reads it.

        Args:
            text: the file's text, whose hash parties compare to know they share it.
            source: the file it was read from.
        """
        return TaskSchema(
            name=self.task.name,
            version=self.task.version,
            purpose=self.task.purpose,
            description=self.task.description,
            columns=tuple(column.spec() for column in self.columns),
            derived=tuple(entry.feature() for entry in self.derived),
            deidentification=self.deidentification.rules(),
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            source=source,
            raw_toml=text,
        )


def _check_columns(specs: list[ColumnSpec], per_row: bool, problems: RuleViolations) -> None:
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        problems.add(("columns",), f"columns declared twice: {duplicates}")
    if sum(spec.role == Role.LABEL for spec in specs) != 1:
        problems.add(("columns",), "exactly one 'label' column is required")
    keys = sum(spec.role == Role.CUSTOMER_KEY for spec in specs)
    if per_row and keys:
        problems.add(
            ("columns",),
            'privacy_unit = "row" says each row is a different person, so the table has no '
            "customer key: declare that column 'direct_identifier' (dropped) or 'ignore', or "
            "drop privacy_unit to make the customer key the privacy unit",
        )
    elif not per_row and keys != 1:
        problems.add(
            ("columns",),
            "exactly one 'customer_key' column is required (the person, pseudonymized); when "
            'each row is a different person and there is no key, declare privacy_unit = "row" '
            "under [deidentification] instead",
        )
    if sum(spec.role == Role.CONSENT for spec in specs) > 1:
        problems.add(("columns",), "at most one 'consent' column is allowed")
    if not any(spec.is_feature for spec in specs):
        problems.add(("columns",), "at least one numeric or categorical feature is needed")
    for index, spec in enumerate(specs):
        if not spec.required and (spec.is_feature or spec.role in (Role.LABEL, Role.CUSTOMER_KEY)):
            problems.add(
                ("columns", index),
                "cannot be optional (required = false): every party's table must hold the "
                "customer key, the label and every feature",
            )


def _check_deidentification(
    section: DeidentificationSection, specs: list[ColumnSpec], problems: RuleViolations
) -> None:
    by_name = _first_by_name(specs)
    for index, entry in enumerate(section.hierarchies):
        for level in entry.levels:
            if level not in by_name or not by_name[level].is_quasi_identifier:
                problems.add(
                    ("deidentification", "hierarchies", index),
                    f"level '{level}' must be a declared quasi-identifier column",
                )
    unit = section.privacy_unit
    if unit == ROW_PRIVACY_UNIT:
        if section.max_rows_per_customer != 1:
            problems.add(
                ("deidentification",),
                'max_rows_per_customer must be 1 with privacy_unit = "row" (each row is a '
                "different person)",
            )
    elif unit is not None and (
        unit not in by_name
        or (by_name[unit].role != Role.CUSTOMER_KEY and by_name[unit].action != "pseudonymize")
    ):
        problems.add(
            ("deidentification",),
            f"privacy_unit '{unit}' must be the customer key, a pseudonymized direct identifier "
            'or "row" (each row a different person)',
        )
    elif unit is not None and not by_name[unit].required:
        problems.add(
            ("deidentification",),
            f"privacy_unit '{unit}' must be a required column (not required = false)",
        )


def _check_derived(
    derived: list[RatioEntry | CountEntry], specs: list[ColumnSpec], problems: RuleViolations
) -> None:
    numeric = {s.name for s in specs if s.role == Role.NUMERIC}
    numeric |= {s.name for s in specs if s.categorical and s.categorical.integer_codes}
    features = {spec.name for spec in specs if spec.is_feature}
    seen: set[str] = set()
    for index, entry in enumerate(derived):
        missing = [source for source in entry.sources() if source not in numeric]
        if missing:
            problems.add(
                ("derived", index), f"needs numeric feature columns, but these are not: {missing}"
            )
        if entry.name in features:
            problems.add(("derived", index), "name clashes with a column")
        if entry.name in seen:
            problems.add(("derived", index), "name clashes with another derived feature")
        seen.add(entry.name)


def _first_by_name(specs: list[ColumnSpec]) -> dict[str, ColumnSpec]:
    """Each column by name (the first, should a name be declared twice)."""
    by_name: dict[str, ColumnSpec] = {}
    for spec in specs:
        by_name.setdefault(spec.name, spec)
    return by_name


def schema_json_schema() -> dict[str, Any]:
    """The JSON Schema of a task schema file, for editors and `fedscore schema export`."""
    return SchemaDocument.model_json_schema()
