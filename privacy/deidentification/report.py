"""The de-identification report a node writes for every run (and summarises to the server)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fedscore.core.documents import write_text_atomic

DEIDENTIFIED_LABEL = "de-identified personal information (去标识化), not anonymized"


@dataclass(frozen=True)
class ColumnTreatment:
    """What the node did to one column of its raw table."""

    column: str
    role: str
    action: str


@dataclass(frozen=True)
class DeidentificationReport:
    """Everything a compliance officer needs to see about one node's de-identification.

    Only counts, rates, hashes and versions: never a value from the table.

    Attributes:
        label: the legal status of the output (PIPL Art. 73).
        input_sha256: hash of the raw input file (the data version).
        rules_version: version of the task's de-identification rules.
        schema_sha256: hash of the task schema the rules come from.
        pseudonymizer: algorithm of the keyed pseudonyms.
        key_version: version of the institution's key the pseudonyms were made with.
        columns: every column and what was done to it.
        consent: consent filter counts.
        rows: row counts after each step.
        quasi_identifiers: the columns k-anonymity is measured over (after generalization).
        k_min, k_before, k_achieved: the required, initial and achieved smallest class.
        suppressed, suppression_rate: records removed to reach k_min.
        max_rows_per_customer, rows_over_customer_bound: the privacy-unit bound and the
            rows it removed.
        pii_scan: columns scanned, detectors used, hits (0 when training went ahead).
        as_of: the date consent was evaluated at.
        privacy_unit: what identifies a person, the DP unit: a column, or "row" (each row
            a different person).
        steps_skipped: the pipeline's steps that did not apply, each with the reason
            (with privacy_unit "row": the key pseudonym and the rows-per-person bound).
    """

    input_sha256: str
    rules_version: str
    schema_sha256: str
    pseudonymizer: str
    key_version: int
    columns: list[ColumnTreatment]
    consent: dict[str, Any]
    rows: dict[str, int]
    quasi_identifiers: list[str]
    k_min: int
    k_before: int
    k_achieved: int
    suppressed: int
    suppression_rate: float
    max_rows_per_customer: int
    rows_over_customer_bound: int
    pii_scan: dict[str, Any]
    as_of: str
    label: str = DEIDENTIFIED_LABEL
    fedscore_version: str = field(default="")
    privacy_unit: str = ""
    steps_skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> DeidentificationReport:
        """A report read back from its JSON form (as `write` stored it).

        Raises:
            ValueError: the document is not a de-identification report.
        """
        try:
            columns = [ColumnTreatment(**column) for column in document["columns"]]
            return cls(**{**document, "columns": columns})
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a de-identification report ({exc})") from exc

    def sha256(self) -> str:
        """Hash of the canonical JSON form (what a ledger entry can refer to)."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def summary(self) -> dict[str, Any]:
        """The aggregate part sent to the server with each round."""
        return {
            "label": self.label,
            "report_sha256": self.sha256(),
            "rules_version": self.rules_version,
            "pseudonymizer": self.pseudonymizer,
            "key_version": self.key_version,
            "k_min": self.k_min,
            "k_achieved": self.k_achieved,
            "suppression_rate": self.suppression_rate,
            "rows": self.rows,
            "consent": self.consent,
            "rows_over_customer_bound": self.rows_over_customer_bound,
            "pii_hits": self.pii_scan.get("hits", 0),
            "privacy_unit": self.privacy_unit,
        }

    def write(self, path: Path) -> Path:
        return write_text_atomic(path, json.dumps(self.as_dict(), indent=2, ensure_ascii=False))
