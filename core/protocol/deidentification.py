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

from fedscore.core.protocol import fields
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
            MalformedMessage: it is missing, not JSON, or not a JSON object.
        """
        return cls(dict(fields.json_value(record, DEIDENTIFICATION, kind, (dict,))))
