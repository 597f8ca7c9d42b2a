"""Checking a task schema file: every problem at once, and what each party must prepare.

The problems are those `fedscore.core.schema.parse_schema` reports (a node refuses such a
schema), an unknown pseudonymizer (a node fails on it later), and every line a draft left
"TO AGREE"; the notes say what the schema implies for each party: the key ring its purpose
needs, where consent comes from, what k-anonymity is measured over.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from fedscore.core.errors import SchemaError
from fedscore.core.schema import Role, SchemaDocument, TaskSchema
from fedscore.core.schema.loading import entry_locator
from fedscore.core.typed_config import entry_problems
from fedscore.core.untrusted_documents import parse_toml
from fedscore.datasets.schema_tools.marks import is_placeholder, marked_lines
from fedscore.datasets.schema_tools.report import CheckReport
from fedscore.privacy.pseudonymization import available_pseudonymizers


def check_schema_file(path: Path) -> tuple[TaskSchema | None, CheckReport]:
    """Every problem of a task schema file, and notes on what it asks of each party.

    Args:
        path: the task schema (TOML).

    Returns:
        The schema (None when the document is not valid: the table cannot be checked
        against it) and the report. A schema is returned even when lines are still marked
        "TO AGREE", so that a table can be checked against a draft.

    Raises:
        SchemaError: the file cannot be read as UTF-8 text.
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise SchemaError(f"cannot read task schema {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    source = str(path)
    problems = marked_lines(text, source)
    try:
        document = parse_toml(text)
    except tomllib.TOMLDecodeError as exc:
        return None, CheckReport((*problems, f"{source}: not valid TOML: {exc}"))
    try:
        checked = SchemaDocument.model_validate(document, strict=True)
    except ValidationError as exc:
        # A placeholder is reported once, as its marked line, not also as a wrong type.
        left = [error for error in exc.errors() if not is_placeholder(error.get("input"))]
        problems += [f"{source}: {line}" for line in entry_problems(left, entry_locator(document))]
        return None, CheckReport(tuple(problems))
    schema = checked.task_schema(text, source)
    problems += _unknown_pseudonymizer(schema, source)
    return schema, CheckReport(tuple(problems), tuple(schema_notes(schema)))


def _unknown_pseudonymizer(schema: TaskSchema, source: str) -> list[str]:
    """A problem when no pseudonymizer has the schema's name (the node would fail later)."""
    known = available_pseudonymizers()
    name = schema.deidentification.pseudonymizer
    if name in known:
        return []
    return [
        f"{source}: [deidentification]: 'pseudonymizer' must be one of: {', '.join(known)} "
        f"(not '{name}')"
    ]


def schema_notes(schema: TaskSchema) -> list[str]:
    """What a valid schema asks of each party, in a few lines.

    Args:
        schema: the task.
    """
    purpose = schema.purpose
    notes = [
        f"keys: each party's node pseudonymizes with its own key ring for purpose "
        f"'{purpose}' (<key_dir>/{purpose}/): 'fedscore keys init --key-dir DIR "
        f"--institution NAME --purpose {purpose}' ('fedscore init' and 'fedscore train "
        "--party' create it)"
    ]
    consent = schema.consent
    rules = schema.deidentification
    basis = "a consent basis declared in its node config ([consent] basis, legal_basis)"
    if consent is None and rules.per_row:
        notes.append(
            'consent: no consent column is declared and privacy_unit = "row" leaves no key '
            f"to match a consent table on, so every node needs {basis}"
        )
    elif consent is None:
        notes.append(
            "consent: no consent column is declared, so every node needs a consent table "
            "(node config [deidentification] consent_table; columns: "
            f"{schema.customer_key.name}, purpose, granted_at, expires_at, withdrawn_at) "
            f"with records for purpose '{purpose}', or {basis}"
        )
    else:
        refused = ", ".join(consent.refused) or "none"
        notes.append(
            f"consent: column '{consent.name}' (granted: {', '.join(consent.granted)}; "
            f"refused: {refused}); a node given a consent table uses the table instead"
        )
    if rules.per_row:
        notes.append(
            'privacy unit: the row (privacy_unit = "row": each row a different person); no '
            "customer key pseudonym, no rows-per-person bound"
        )
    else:
        unit = rules.privacy_unit or schema.customer_key.name
        notes.append(
            f"privacy unit: '{unit}'; at most {rules.max_rows_per_customer} row(s) per person "
            "are kept"
        )
    quasi = [spec.name for spec in schema.quasi_identifiers if spec.keep]
    notes.append(
        f"k-anonymity: k = {rules.k_min} over {', '.join(quasi) or 'no column'} (after "
        f"generalization); a node refuses to suppress more than "
        f"{rules.max_suppression_rate:.1%} of its rows"
    )
    for spec in schema.quasi_identifiers:
        if spec.role == Role.CATEGORICAL and spec.categorical and spec.categorical.groups:
            notes.append(
                f"'{spec.name}': its groups merge categories for the model only; "
                "k-anonymity counts the categories as the table holds them"
            )
    return notes
