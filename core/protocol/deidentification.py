"""The de-identification summary a node sends with a round: counts, rates, versions, a hash.

Its figures are `DeidentificationReport.summary()`'s (that report owns their names); no
value of the table is among them. On the wire it is JSON text under the party record's
`deidentification` key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from flwr.app import ConfigRecord
from pydantic import BaseModel, ConfigDict, ValidationError

from fedscore.core.protocol import fields
from fedscore.core.protocol.errors import MalformedMessage
from fedscore.core.protocol.records import DEIDENTIFICATION


@dataclass(frozen=True)
class DeidentificationSummary:
    """The aggregate part of a node's de-identification report.

    Attributes:
        figures: the summary's figures by name (k achieved, suppression rate, rows, …).
    """

    KIND: ClassVar[str] = "de-identification summary"

    figures: dict[str, Any]

    def to_record(self) -> ConfigRecord:
        """The party-record entry that carries the summary."""
        return ConfigRecord({DEIDENTIFICATION: json.dumps(self.figures, ensure_ascii=False)})

    @classmethod
    def from_record(cls, record: ConfigRecord, kind: str = KIND) -> DeidentificationSummary:
        """The summary a party record carries.

        Raises:
            MalformedMessage: it is missing, not JSON, not a JSON object, or a figure is
                unknown or of the wrong type (a hostile node's text where a count belongs
                would otherwise reach the coordinator's console, run summary and audit).
        """
        document = fields.json_value(record, DEIDENTIFICATION, kind, (dict,))
        try:
            figures = SummaryFigures.model_validate(document)
        except ValidationError as error:
            raise MalformedMessage(kind, DEIDENTIFICATION, _described(error)) from None
        return cls(figures.model_dump(exclude_unset=True))


class SummaryFigures(BaseModel):
    """The figures a summary may hold, typed (`DeidentificationReport.summary()`'s)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    label: str | None = None
    report_sha256: str | None = None
    rules_version: str | None = None
    pseudonymizer: str | None = None
    key_version: int | None = None
    k_min: int | None = None
    k_achieved: int | None = None
    suppression_rate: float | None = None
    rows: dict[str, int] | None = None
    consent: dict[str, int | str | dict[str, str] | None] | None = None
    rows_over_customer_bound: int | None = None
    pii_hits: int | None = None
    privacy_unit: str | None = None


def _described(error: ValidationError) -> str:
    """Which figures are wrong, named only where they are figures fedscore knows."""
    known = SummaryFigures.model_fields
    named = sorted({str(e["loc"][0]) for e in error.errors() if e["loc"] and e["loc"][0] in known})
    unknown = any(e["type"] == "extra_forbidden" for e in error.errors())
    parts = [f"figure(s) of the wrong type: {', '.join(named)}"] if named else []
    parts += ["a figure fedscore does not know"] if unknown else []
    return "holds " + " and ".join(parts)
