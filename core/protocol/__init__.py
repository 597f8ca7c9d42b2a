"""What server and client nodes say to each other: typed messages and their wire names.

Every message kind that travels between a node and the server is a frozen dataclass
with `to_record()` (its Flower records) and `from_record()` (raising a `ProtocolError`
that names the message kind and the key, never a value); only this package reads or
writes the records' keys. Only model parameters and aggregate figures travel; nothing
here ever holds a record of a customer.

- `request`: the server's round request (`RoundRequest`) and the model-carrying base;
- `train`, `evaluate`, `preflight`: each exchange's request and reply;
- `outcome`: a node's party record (`PartyReport`: status, reason, note);
- `ledger_head`, `deidentification`: what backs a reply (signed, aggregates only);
- `records`: the wire's record names, keys, status values and error codes;
- `version`, `errors`, `fields`: the protocol version, decoding errors, typed reading.
"""

from fedscore.core.protocol.deidentification import DeidentificationSummary
from fedscore.core.protocol.errors import MalformedMessage, ProtocolError, UnknownProtocolVersion
from fedscore.core.protocol.evaluate import EvaluateReply, EvaluateRequest, Evaluation, Scores
from fedscore.core.protocol.ledger_head import LedgerHead
from fedscore.core.protocol.outcome import PartyReport, error_status, reported_party
from fedscore.core.protocol.preflight import ReadinessQuery, ReadinessReply
from fedscore.core.protocol.records import (
    APP_NOT_APPROVED_CODE,
    ARRAY_NAMES,
    ARRAYS,
    CONFIG,
    DECLINED,
    DEIDENTIFICATION,
    EVALUATED,
    EVALUATION,
    FAILED,
    LEDGER_HEAD,
    METRICS,
    NODE_FAILED_CODE,
    NOTE,
    NUM_EXAMPLES,
    PARTY,
    PARTY_NAME,
    READY,
    REASON,
    REFUSED,
    REJECTED,
    RUN_ID,
    SCHEMA_SHA256,
    SERVER_ROUND,
    STATUS,
    TASK,
    TRAINED,
    UPDATE_NORM,
    Status,
)
from fedscore.core.protocol.request import ModelRequest, RoundRequest
from fedscore.core.protocol.train import TrainMetrics, TrainReply, TrainRequest
from fedscore.core.protocol.version import PROTOCOL_VERSION, SUPPORTED_VERSIONS

__all__ = [
    "APP_NOT_APPROVED_CODE",
    "ARRAYS",
    "ARRAY_NAMES",
    "CONFIG",
    "DECLINED",
    "DEIDENTIFICATION",
    "EVALUATED",
    "EVALUATION",
    "FAILED",
    "LEDGER_HEAD",
    "METRICS",
    "NODE_FAILED_CODE",
    "NOTE",
    "NUM_EXAMPLES",
    "PARTY",
    "PARTY_NAME",
    "PROTOCOL_VERSION",
    "READY",
    "REASON",
    "REFUSED",
    "REJECTED",
    "RUN_ID",
    "SCHEMA_SHA256",
    "SERVER_ROUND",
    "STATUS",
    "SUPPORTED_VERSIONS",
    "TASK",
    "TRAINED",
    "UPDATE_NORM",
    "DeidentificationSummary",
    "EvaluateReply",
    "EvaluateRequest",
    "Evaluation",
    "LedgerHead",
    "MalformedMessage",
    "ModelRequest",
    "PartyReport",
    "ProtocolError",
    "ReadinessQuery",
    "ReadinessReply",
    "RoundRequest",
    "Scores",
    "Status",
    "TrainMetrics",
    "TrainReply",
    "TrainRequest",
    "UnknownProtocolVersion",
    "error_status",
    "reported_party",
]
