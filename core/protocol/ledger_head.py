"""The signed ledger head a node sends with a round: its ledger entry, self-verifying.

On the wire it is JSON text under the party record's `ledger-head` key; aggregates and
hashes only.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, ClassVar

from flwr.app import ConfigRecord

from fedscore.core.protocol import fields
from fedscore.core.protocol.records import LEDGER_HEAD


@dataclass(frozen=True)
class LedgerHead:
    """A node's signed ledger entry for one round.

    Attributes:
        seq: the entry's position in the node's ledger.
        content: what the entry records (aggregates and hashes only).
        entry_hash: hex hash of the entry, chained to the previous one.
        signature: hex signature of the node's ledger key over the hash.
        algorithm: the signature algorithm.
        previous_hash: hex hash of the previous entry.
        previous_signature: hex signature of the previous entry.
    """

    KIND: ClassVar[str] = "ledger head"

    seq: int
    content: dict[str, Any]
    entry_hash: str
    signature: str
    algorithm: str
    previous_hash: str
    previous_signature: str

    def as_dict(self) -> dict[str, Any]:
        """The head as the node signed it and the run directory keeps it."""
        return dataclasses.asdict(self)

    def to_record(self) -> ConfigRecord:
        """The party-record entry that carries the head."""
        return ConfigRecord({LEDGER_HEAD: json.dumps(self.as_dict(), ensure_ascii=False)})

    @classmethod
    def from_dict(cls, head: dict[str, Any], kind: str = KIND) -> LedgerHead:
        """A head from its dictionary form (`LedgerEntry.signed_head()`).

        Raises:
            MalformedMessage: a field is missing or of the wrong type.
        """
        return cls(
            seq=fields.integer(head, "seq", kind),
            content=dict(fields.json_like(head, "content", kind)),
            entry_hash=fields.text(head, "entry_hash", kind),
            signature=fields.text(head, "signature", kind),
            algorithm=fields.text(head, "algorithm", kind),
            previous_hash=fields.text(head, "previous_hash", kind),
            previous_signature=fields.text(head, "previous_signature", kind),
        )

    @classmethod
    def from_record(cls, record: ConfigRecord, kind: str = KIND) -> LedgerHead:
        """The head a party record carries.

        Raises:
            MalformedMessage: it is missing, not JSON, or a field is wrong.
        """
        return cls.from_dict(fields.json_value(record, LEDGER_HEAD, kind, (dict,)), kind)
