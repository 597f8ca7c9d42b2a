"""A node's party record: who answers and how the round went.

How it went: trained, refused, failed, rejected, declined…; the record also holds the
de-identification summary and the signed ledger head.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Self

from flwr.app import ConfigRecord, RecordDict

from fedscore.core.protocol import fields
from fedscore.core.protocol.deidentification import DeidentificationSummary
from fedscore.core.protocol.errors import MalformedMessage, ProtocolError
from fedscore.core.protocol.ledger_head import LedgerHead
from fedscore.core.protocol.records import (
    APP_NOT_APPROVED_CODE,
    DEIDENTIFICATION,
    LEDGER_HEAD,
    NOTE,
    PARTY,
    PARTY_NAME,
    PROTOCOL_VERSION_KEY,
    REASON,
    STATUS,
    Status,
)
from fedscore.core.protocol.version import PROTOCOL_VERSION, VersionedRecord


@dataclass(frozen=True)
class PartyReport(VersionedRecord):
    """The PARTY record of every node reply.

    Attributes:
        name: the institution that answers.
        status: how the round went.
        reason: why a round was refused, failed, rejected or declined ("" otherwise).
        note: a remark on a trained round (e.g. an update re-sent at no cost).
        deidentification: the node's de-identification summary (once it read its data).
        ledger_head: the round's signed ledger entry (once the round was recorded).
        version: the protocol version of the reply.
    """

    KIND: ClassVar[str] = "party report"

    name: str
    status: Status
    reason: str = ""
    note: str = ""
    deidentification: DeidentificationSummary | None = None
    ledger_head: LedgerHead | None = None
    version: int = PROTOCOL_VERSION

    def rejected(self, reason: str) -> PartyReport:
        """This report with the update rejected for `reason`."""
        return dataclasses.replace(self, status=Status.REJECTED, reason=reason)

    def to_record(self) -> ConfigRecord:
        """The reply's PARTY ConfigRecord."""
        record = ConfigRecord(
            {
                PARTY_NAME: self.name,
                STATUS: self.status.value,
                REASON: self.reason,
                NOTE: self.note,
                PROTOCOL_VERSION_KEY: self.version,
            }
        )
        for part in (self.deidentification, self.ledger_head):
            if part is not None:
                record.update(part.to_record())
        return record

    @classmethod
    def _decode(cls, record: ConfigRecord, kind: str, version: int) -> Self:
        """The report a reply's PARTY record holds (`from_record`: its version checked)."""
        return cls(
            name=fields.text(record, PARTY_NAME, kind),
            status=status_of(fields.text(record, STATUS, kind), kind),
            reason=fields.text(record, REASON, kind, default=""),
            note=fields.text(record, NOTE, kind, default=""),
            deidentification=(
                DeidentificationSummary.from_record(record, kind)
                if DEIDENTIFICATION in record
                else None
            ),
            ledger_head=LedgerHead.from_record(record, kind) if LEDGER_HEAD in record else None,
            version=version,
        )


def status_of(value: str, kind: str) -> Status:
    """The status a record names.

    Raises:
        MalformedMessage: it names none fedscore knows.
    """
    try:
        return Status(value)
    except ValueError as error:
        raise MalformedMessage(kind, STATUS, "is not a known status") from error


def error_status(code: int) -> Status:
    """The outcome of a Flower error reply: a declined run or a failed round.

    An app the node's task runner refused is a declined run; any other error, a failed round.
    """
    return Status.DECLINED if code == APP_NOT_APPROVED_CODE else Status.FAILED


def reported_party(content: RecordDict) -> PartyReport | None:
    """The party record of any node reply (None: it has none, or one fedscore cannot read)."""
    record = content.config_records.get(PARTY)
    if record is None:
        return None
    try:
        return PartyReport.from_record(record)
    except ProtocolError:
        return None


def party_of(content: RecordDict, kind: str) -> PartyReport:
    """The party record of a node reply of `kind`.

    Raises:
        MalformedMessage: the reply has no party record, or it is malformed.
        UnknownProtocolVersion: the reply speaks another protocol version.
    """
    return PartyReport.from_record(fields.record_of(content.config_records, PARTY, kind), kind)


class NodeReply:
    """What every node reply has: its party record, which carries the protocol version."""

    party: PartyReport

    @property
    def version(self) -> int:
        """The protocol version of the reply."""
        return self.party.version
