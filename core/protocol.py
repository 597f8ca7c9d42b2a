"""What server and client nodes say to each other: the keys of Flower message records.

Only model parameters and aggregate figures travel; nothing here ever holds a
record of a customer.
"""

from __future__ import annotations

# Records of a message's RecordDict.
ARRAYS = "arrays"  # ArrayRecord: model parameters
CONFIG = "config"  # ConfigRecord: server → node settings of the round
METRICS = "metrics"  # MetricRecord: node → server aggregate figures
PARTY = "party"  # ConfigRecord: node → server identity and outcome of the round

# Keys of the server's ConfigRecord besides the run config.
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

# Round outcomes a node reports.
READY = "ready"  # before round 1: the node can take part in the run
TRAINED = "trained"
REFUSED = "refused"
EVALUATED = "evaluated"
FAILED = "failed"  # bad input or configuration at the node; nothing was trained
REJECTED = "rejected"  # the server dropped the update (NaN/Inf, wrong shapes, norm bound)
# The node does not take part in the run: the app is not an approved release, the run
# request is unsigned or not signed by an owner it lists, or the run is outside its policy.
DECLINED = "declined"

# Flower error codes of replies fedscore's task runner sends: an app it refused, a task
# that failed at the node (the reason names the error's type, never a value).
APP_NOT_APPROVED_CODE = 4031
NODE_FAILED_CODE = 5001

# MetricRecord keys.
NUM_EXAMPLES = "num-examples"
UPDATE_NORM = "update-norm"  # L2 norm of (update − global model), checked at the node
