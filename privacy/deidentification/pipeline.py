"""The node's de-identification pipeline, in the order the compliance promise needs.

1. scan every column not declared a direct identifier for undeclared PII; a hit
   stops the node (the message names column, detector and count, never a value);
2. keep only rows with valid consent for the task's purpose on the run's date;
3. replace the customer key by a keyed pseudonym, pseudonymize the direct
   identifiers the schema asks for, drop all others;
4. bound the rows per person (the DP privacy unit).
   With `privacy_unit = "row"` (each row a different person, no customer key) step 3's
   key pseudonym and 4 are skipped, and the report says so; the privacy unit is then
   the row's number in the table;
5. generalize quasi-identifiers, measure k-anonymity, suppress small classes;
   refuse if that would suppress more than the allowed share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from fedscore import __version__
from fedscore.core.schema import DeidentificationRules, Role, TaskSchema
from fedscore.core.validation import ValidatedTable, label_column
from fedscore.privacy.consent import ConsentDecision, ConsentTable
from fedscore.privacy.consent_basis import ConsentBasis
from fedscore.privacy.deidentification.consent_source import (
    DeidentificationRefused,
    consent_decision,
)
from fedscore.privacy.deidentification.generalization import generalize
from fedscore.privacy.deidentification.kanonymity import KAnonymityResult, enforce_k_anonymity
from fedscore.privacy.deidentification.report import ColumnTreatment, DeidentificationReport
from fedscore.privacy.keys import KeyVersion
from fedscore.privacy.pii import default_detectors, scan_frame
from fedscore.privacy.pseudonymization import Pseudonymizer, get_pseudonymizer

PSEUDONYM_COLUMN = "__pseudonym__"
PRIVACY_UNIT_COLUMN = "__privacy_unit__"

#: What a task with `privacy_unit = "row"` skips, as its reports state it.
ROW_UNIT_SKIPPED = [
    'customer key pseudonym: privacy_unit = "row" (each row a different person; no key)',
    'rows-per-person bound: privacy_unit = "row" (each row is one person: DP unit = row)',
]


@dataclass(frozen=True)
class DeidentifiedTable:
    """The table training may compute from, and the report of how it was made.

    Attributes:
        frame: pseudonym, privacy unit, features (quasi-identifier features generalized),
            generalized quasi-identifiers and the label; no direct identifier.
        report: what was done, with counts only.
    """

    frame: pd.DataFrame
    report: DeidentificationReport

    @property
    def table(self) -> ValidatedTable:
        return ValidatedTable(self.frame, source="<de-identified>")


#: What to do about personal information found in a column the schema does not declare.
UNDECLARED_PII_ADVICE = (
    "Declare these columns as direct identifiers in the task schema, or remove the values."
)


def pii_scanned_columns(raw: pd.DataFrame, schema: TaskSchema) -> list[str]:
    """The columns scanned for undeclared PII: every one not declared a direct identifier."""
    declared = {c.name for c in schema.by_role(Role.DIRECT_IDENTIFIER)}
    return [c for c in raw.columns if c not in declared]


def scan_for_pii(
    raw: pd.DataFrame, schema: TaskSchema, source: str, header_lines: int = 0
) -> dict[str, object]:
    """Scan every column that is not a declared direct identifier; raise on any hit.

    Args:
        raw: the table as read from `source`, every row in file order.
        schema: the task: its declared direct identifiers are not scanned.
        source: the file (named in the error).
        header_lines: file lines before the first data row (0: rows are not lines, or the
            table is not from a file), for the row the error points to.
    """
    columns = pii_scanned_columns(raw, schema)
    detectors = default_detectors()
    hits = scan_frame(raw, columns, detectors)
    if hits:
        found = "; ".join(
            f"column '{h.column}': {h.count} × {h.detector}{h.first_in(header_lines)}" for h in hits
        )
        raise DeidentificationRefused(
            f"{source}: undeclared personal information found ({found}). {UNDECLARED_PII_ADVICE}"
        )
    return {"columns_scanned": len(columns), "detectors": [d.name for d in detectors], "hits": 0}


def deidentify(
    raw: pd.DataFrame,
    table: ValidatedTable,
    schema: TaskSchema,
    key: KeyVersion,
    input_sha256: str,
    as_of: date,
    consent_table: ConsentTable | None = None,
    basis: ConsentBasis | None = None,
) -> DeidentifiedTable:
    """Run the whole pipeline on one validated table.

    Args:
        raw: The table as read from the file (scanned for PII as it is).
        table: The same table validated against `schema`.
        schema: Roles and de-identification rules.
        key: The institution's current key for the task's purpose.
        input_sha256: Hash of the input file, recorded in the report.
        as_of: The date consent is evaluated at (the round's date).
        consent_table: The institution's consent records; None uses the schema's consent column.
        basis: The basis of processing the node config declares, if any (`[consent]`).
    """
    pii_scan = scan_for_pii(raw, schema, table.source)
    consent = consent_decision(table.frame, schema, as_of, consent_table, table.source, basis)
    return deidentify_scanned(table, schema, key, input_sha256, as_of, consent, pii_scan)


def deidentify_scanned(
    table: ValidatedTable,
    schema: TaskSchema,
    key: KeyVersion,
    input_sha256: str,
    as_of: date,
    consent: ConsentDecision,
    pii_scan: dict[str, object],
) -> DeidentifiedTable:
    """Steps 2 to 5 of the pipeline, on a table whose raw form `scan_for_pii` cleared.

    A node that loads a large table scans the raw text and decides consent first, and
    lets the raw text and the consent records go before the rest (`deidentify` keeps
    them alive throughout): two tables less in memory.

    Args:
        table: The validated table.
        schema: Roles and de-identification rules.
        key: The institution's current key for the task's purpose.
        input_sha256: Hash of the input file, recorded in the report.
        as_of: The date consent is evaluated at (the round's date).
        consent: Which rows have valid consent (`consent_decision`).
        pii_scan: What `scan_for_pii` found (nothing: it raises on a hit), for the report.
    """
    rules = schema.deidentification
    frame = _consented_rows(table, consent, schema.purpose, as_of)
    rows = {"read": len(table.frame), "with_consent": len(frame)}

    pseudonymizer = get_pseudonymizer(rules.pseudonymizer)
    out, treatments = _pseudonymized(frame, schema, key, pseudonymizer)
    if rules.per_row:
        # The row's number in the table as read: stable across runs (the hold-out).
        out[PRIVACY_UNIT_COLUMN] = np.flatnonzero(consent.allowed)
        within_bound = np.ones(len(out), dtype=bool)
    else:
        within_bound = (
            out.groupby(PRIVACY_UNIT_COLUMN, sort=False).cumcount() < rules.max_rows_per_customer
        ).to_numpy()
        out = out[within_bound].reset_index(drop=True)
    rows["within_customer_bound"] = len(out)

    out, generalized = generalize(out, schema)
    quasi = [c.name for c in schema.quasi_identifiers if c.name in out]
    result = _k_anonymous(out, quasi, rules, table.source)
    out = out[result.kept].reset_index(drop=True)
    rows["after_suppression"] = len(out)

    treatments.extend(_kept_treatments(schema, generalized))
    report = DeidentificationReport(
        input_sha256=input_sha256,
        rules_version=rules.rules_version,
        schema_sha256=schema.sha256,
        pseudonymizer=pseudonymizer.name,
        key_version=key.version,
        columns=treatments,
        consent=consent.counts.as_dict(),
        rows=rows,
        quasi_identifiers=quasi,
        k_min=rules.k_min,
        k_before=result.k_before,
        k_achieved=result.k_achieved,
        suppressed=result.suppressed,
        suppression_rate=result.suppression_rate,
        max_rows_per_customer=rules.max_rows_per_customer,
        rows_over_customer_bound=int((~within_bound).sum()),
        pii_scan=pii_scan,
        as_of=as_of.isoformat(),
        fedscore_version=__version__,
        privacy_unit=rules.privacy_unit or schema.customer_key.name,
        steps_skipped=ROW_UNIT_SKIPPED if rules.per_row else [],
    )
    return DeidentifiedTable(out, report)


def _consented_rows(
    table: ValidatedTable, consent: ConsentDecision, purpose: str, as_of: date
) -> pd.DataFrame:
    """The table's rows with valid consent; a table where none has it is refused."""
    counts = consent.counts
    if len(table.frame) and not counts.valid:
        missing = (
            f"no record {counts.no_record}, expired {counts.expired}, withdrawn {counts.withdrawn}"
        )
        raise DeidentificationRefused(
            f"{table.source}: none of its {counts.rows_read} rows has valid consent for "
            f"'{purpose}' on {as_of.isoformat()} ({missing}): is the consent table "
            "this institution's, for this table?"
        )
    return table.frame[consent.allowed].reset_index(drop=True)


def _pseudonymized(
    frame: pd.DataFrame, schema: TaskSchema, key: KeyVersion, pseudonymizer: Pseudonymizer
) -> tuple[pd.DataFrame, list[ColumnTreatment]]:
    """The task's columns with the customer key and direct identifiers replaced or dropped.

    Returns:
        The pseudonym, the privacy unit, the pseudonymized direct identifiers, the kept
        columns and the label; and what was done to the identifiers.
    """
    treatments: list[ColumnTreatment] = []
    out = pd.DataFrame(index=frame.index)
    replaced = f"replaced by {pseudonymizer.name} pseudonym"
    per_row = schema.deidentification.per_row
    key_name = "" if per_row else schema.customer_key.name
    if not per_row:
        out[PSEUDONYM_COLUMN] = pseudonymizer.pseudonymize(
            frame[key_name].tolist(), key.secret, key.version
        )
        treatments.append(ColumnTreatment(key_name, Role.CUSTOMER_KEY.value, replaced))
    for spec in schema.by_role(Role.DIRECT_IDENTIFIER):
        if spec.action == "pseudonymize" and spec.name in frame:
            out[spec.name] = pseudonymizer.pseudonymize(
                frame[spec.name].tolist(), key.secret, key.version
            )
            treatments.append(ColumnTreatment(spec.name, spec.role.value, replaced))
        else:
            treatments.append(ColumnTreatment(spec.name, spec.role.value, "dropped"))
    unit = schema.deidentification.privacy_unit or key_name
    if not per_row:  # (per row, the caller numbers the rows)
        out[PRIVACY_UNIT_COLUMN] = out[PSEUDONYM_COLUMN] if unit == key_name else out[unit]

    kept_columns = [
        c.name
        for c in schema.columns
        if c.role not in (Role.DIRECT_IDENTIFIER, Role.CUSTOMER_KEY, Role.LABEL)
        and c.keep
        and c.name in frame
    ]
    for name in kept_columns:
        out[name] = frame[name]
    out[label_column()] = frame[label_column()]
    return out, treatments


def _k_anonymous(
    out: pd.DataFrame, quasi: list[str], rules: DeidentificationRules, source: str
) -> KAnonymityResult:
    """k-anonymity over `quasi`; refused when it would suppress more than the rules allow."""
    result = enforce_k_anonymity(out, quasi, rules.k_min)
    if result.suppression_rate > rules.max_suppression_rate:
        raise DeidentificationRefused(
            f"{source}: reaching k = {rules.k_min} would suppress "
            f"{result.suppression_rate:.1%} of the records, above the allowed "
            f"{rules.max_suppression_rate:.1%}; coarsen the quasi-identifiers' generalization "
            "in the task schema"
        )
    return result


def _kept_treatments(schema: TaskSchema, generalized: dict[str, str]) -> list[ColumnTreatment]:
    """What was done to the columns other than the identifiers (in the schema's order)."""
    treatments: list[ColumnTreatment] = []
    for spec in schema.columns:
        if not spec.keep:
            treatments.append(
                ColumnTreatment(
                    spec.name, spec.role.value, "scanned, then dropped (not needed by the task)"
                )
            )
        elif spec.name in generalized:
            treatments.append(ColumnTreatment(spec.name, spec.role.value, generalized[spec.name]))
        elif spec.role in (Role.NUMERIC, Role.CATEGORICAL, Role.QUASI_IDENTIFIER):
            treatments.append(ColumnTreatment(spec.name, spec.role.value, "kept"))
        elif spec.role == Role.FREE_TEXT:
            treatments.append(ColumnTreatment(spec.name, spec.role.value, "scanned, kept"))
        elif spec.role in (Role.LABEL, Role.CONSENT):
            treatments.append(ColumnTreatment(spec.name, spec.role.value, "kept"))
    return treatments
