"""The server's round request: the run's settings, its id, the round, the task.

Every training, evaluation and readiness message carries it as its CONFIG record. The
run settings are `RunConfig.to_flower()`'s keys; the signed run request, when there is
one, travels under `RUN_REQUEST_KEY`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar, Self

from flwr.app import ArrayRecord, ConfigRecord, RecordDict

from fedscore.core.protocol import fields
from fedscore.core.protocol.errors import MalformedMessage
from fedscore.core.protocol.records import (
    ARRAY_NAMES,
    ARRAYS,
    CONFIG,
    PROTOCOL_VERSION_KEY,
    RUN_ID,
    SCHEMA_SHA256,
    SERVER_ROUND,
    TASK,
)
from fedscore.core.protocol.version import PROTOCOL_VERSION, VersionedRecord
from fedscore.core.run_request import RUN_REQUEST_KEY, check_safe_name
from fedscore.core.runconfig import RunConfig

# Keys of the request that are not run settings.
_NOT_RUN_SETTINGS = frozenset(
    {RUN_ID, SERVER_ROUND, SCHEMA_SHA256, TASK, ARRAY_NAMES, RUN_REQUEST_KEY, PROTOCOL_VERSION_KEY}
)


@dataclass(frozen=True)
class RoundRequest(VersionedRecord):
    """The coordinator's instructions for one round (server round 0: before round 1).

    Attributes:
        run: the run settings the coordinator states (a signed request's settings
            replace them at admission).
        run_id: the run's identifier (it names folders: checked to be safe).
        server_round: the round's number.
        schema_sha256: the task schema the coordinator uses.
        task: the task's name.
        array_names: the names of the model's arrays, in order (secure aggregation
            only: its legacy messages carry the arrays without names).
        run_request: the signed run request's text ("" for an unsigned run).
        version: the protocol version of the request.
    """

    KIND: ClassVar[str] = "round request"

    run: RunConfig
    run_id: str
    server_round: int
    schema_sha256: str
    task: str
    array_names: tuple[str, ...] = ()
    run_request: str = ""
    version: int = PROTOCOL_VERSION

    def to_record(self) -> ConfigRecord:
        """The message's CONFIG record."""
        record = ConfigRecord(
            {
                **self.run.to_flower(),
                RUN_ID: self.run_id,
                SERVER_ROUND: self.server_round,
                SCHEMA_SHA256: self.schema_sha256,
                TASK: self.task,
                PROTOCOL_VERSION_KEY: self.version,
            }
        )
        if self.array_names:
            record[ARRAY_NAMES] = json.dumps(list(self.array_names))
        if self.run_request:
            record[RUN_REQUEST_KEY] = self.run_request
        return record

    @classmethod
    def _decode(cls, record: ConfigRecord, kind: str, version: int) -> Self:
        """The instructions a CONFIG record holds (`from_record`: its version checked).

        Raises:
            MalformedMessage: a key is missing or of the wrong type.
            ConfigError: a run id that could not name a folder, or invalid run settings.
        """
        names: list[object] = (
            fields.json_value(record, ARRAY_NAMES, kind, (list,)) if ARRAY_NAMES in record else []
        )
        if not all(isinstance(name, str) for name in names):
            raise MalformedMessage(kind, ARRAY_NAMES, "must list strings")
        settings = {k: v for k, v in record.items() if k not in _NOT_RUN_SETTINGS}
        return cls(
            run_id=check_safe_name(fields.text(record, RUN_ID, kind), "run id"),
            server_round=fields.integer(record, SERVER_ROUND, kind),
            schema_sha256=fields.text(record, SCHEMA_SHA256, kind),
            task=fields.text(record, TASK, kind),
            array_names=tuple(str(name) for name in names),
            run_request=fields.text(record, RUN_REQUEST_KEY, kind, default=""),
            run=RunConfig.from_flower(settings),
            version=version,
        )


@dataclass(frozen=True)
class ModelRequest:
    """A request that carries the global model with the round's instructions.

    Attributes:
        model: the global model's arrays.
        request: the round's instructions.
    """

    KIND: ClassVar[str] = "model request"

    model: ArrayRecord
    request: RoundRequest

    @staticmethod
    def content(model: ArrayRecord, config: ConfigRecord) -> RecordDict:
        """A message's content from its two records, as they are (nothing decoded)."""
        return RecordDict({ARRAYS: model, CONFIG: config})

    def to_record(self) -> RecordDict:
        """The message's content."""
        return self.content(self.model, self.request.to_record())

    @classmethod
    def from_record(cls, content: RecordDict) -> Self:
        """The request a message's content holds.

        Raises:
            MalformedMessage: the model's record is missing.
            ProtocolError, ConfigError: the instructions, as `instructions_of` raises them.
        """
        model = fields.record_of(content.array_records, ARRAYS, cls.KIND)
        return cls(model=model, request=instructions_of(content, cls.KIND))


def instructions_of(content: RecordDict, kind: str) -> RoundRequest:
    """The round's instructions a server message of `kind` carries in its CONFIG record.

    Raises:
        MalformedMessage: a record or key is missing or of the wrong type.
        UnknownProtocolVersion: the request speaks another protocol version.
        ConfigError: a run id that could not name a folder, or invalid run settings.
    """
    return RoundRequest.from_record(fields.record_of(content.config_records, CONFIG, kind), kind)
