"""The names on the wire: records of a message, their keys, status values, error codes.

Every string key of a Flower record that fedscore's node and server exchange is named
here once; only the message classes of this package read or write them. Only model
parameters and aggregate figures travel; nothing here ever holds a record of a customer.
"""

from __future__ import annotations

from enum import StrEnum

# Records of a message's RecordDict.
ARRAYS = "arrays"  # ArrayRecord: model parameters
CONFIG = "config"  # ConfigRecord: server → node settings of the round
METRICS = "metrics"  # MetricRecord: node → server aggregate figures
# ConfigRecord of a training reply: the received global model scored on validation rows
EVALUATION = "evaluation"
PARTY = "party"  # ConfigRecord: node → server identity and outcome of the round

# Key of the protocol version, in the server's CONFIG and the node's PARTY record.
PROTOCOL_VERSION_KEY = "protocol-version"

# Keys of the server's ConfigRecord besides the run config (and the signed run request,
# `fedscore.core.run_request.RUN_REQUEST_KEY`).
RUN_ID = "run-id"
SCHEMA_SHA256 = "schema-sha256"
TASK = "task"
SERVER_ROUND = "server-round"
ARRAY_NAMES = "array-names"  # JSON list: names of the model's arrays (secure aggregation)

# Keys of the node's PARTY record.
PARTY_NAME = "name"
STATUS = "status"
REASON = "reason"
NOTE = "note"
LEDGER_HEAD = "ledger-head"  # JSON of the round's signed ledger entry
DEIDENTIFICATION = "deidentification"  # JSON summary of the node's de-identification report

# MetricRecord keys.
NUM_EXAMPLES = "num-examples"
UPDATE_NORM = "update-norm"  # L2 norm of (update − global model), checked at the node
MAX_EPSILON = "max-epsilon"
EPSILON_RDP = "epsilon-rdp"
EPSILON_PRV = "epsilon-prv"
DELTA = "delta"
NOISE_MULTIPLIER = "noise-multiplier"
SAMPLE_RATE = "sample-rate"
STEPS = "steps"
TRAIN_LOSS = "train-loss"
AUC = "auc"
KS = "ks"
BRIER = "brier"
LOG_LOSS = "log-loss"


class Status(StrEnum):
    """The outcome a node reports (the same strings on the wire).

    Attributes:
        READY: before round 1: the node can take part in the run.
        TRAINED: the node trained and sends its update.
        REFUSED: the node did not train (its budget, its data); nothing was released.
        EVALUATED: the node scored the global model.
        FAILED: bad input or configuration at the node; nothing was trained.
        REJECTED: the update was dropped (NaN/Inf, wrong shapes, norm bound).
        DECLINED: the node does not take part in the run: the app is not an approved
            release, the run request is unsigned or not signed by an owner it lists, or
            the run is outside its policy.
    """

    READY = "ready"
    TRAINED = "trained"
    REFUSED = "refused"
    EVALUATED = "evaluated"
    FAILED = "failed"
    REJECTED = "rejected"
    DECLINED = "declined"


# The status values under their former names (code outside the node and server rounds).
READY = Status.READY
TRAINED = Status.TRAINED
REFUSED = Status.REFUSED
EVALUATED = Status.EVALUATED
FAILED = Status.FAILED
REJECTED = Status.REJECTED
DECLINED = Status.DECLINED

# Flower error codes of replies fedscore's task runner sends: an app it refused, a task
# that failed at the node (the reason names the error's type, never a value).
APP_NOT_APPROVED_CODE = 4031
NODE_FAILED_CODE = 5001
