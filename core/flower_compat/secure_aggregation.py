"""SecAgg+ as fedscore runs it: Flower 1.42 has it only on its legacy stack.

Flower's message API (`flwr.serverapp`, `flwr.clientapp`) offers no secure aggregation;
its SecAgg+ exists as a legacy server workflow run with a legacy strategy, and as a
client mod that speaks the legacy FitIns / FitRes format. fedscore's round loop
(`server/secure_aggregation.py`) and node (`clients/secure_aggregation.py`) use:

Server side:

- `SecAggPlusWorkflow` (`flwr.server.workflow`): the SecAgg+ protocol's four stages.
  fedscore subclasses it, overriding `setup_stage` and `share_keys_stage`, to drop a
  party lost before it shared its key shares (Flower's workflow would fail the round).
- `WorkflowState` (`flwr.server.workflow.secure_aggregation.secaggplus_workflow`): the
  protocol's state, in the signatures of those stages; fedscore sets its
  `sampled_node_ids` to its `active_node_ids`. Not exported by any Flower package.
- `LegacyContext` (`flwr.server.compat.legacy_context`): the context the workflow runs
  in, carrying the legacy strategy.
- `LegacyStrategy` (`flwr.server.strategy.Strategy`): the legacy strategy interface the
  workflow asks which nodes train and hands the unmasked aggregate to (the strategies of
  `flwr.serverapp.strategy` are of the message API and cannot be used).
- `ClientManager` (`flwr.server.client_manager`), `ClientProxy`
  (`flwr.server.client_proxy`): types in the legacy strategy's methods.
- `GridClientProxy` (`flwr.server.compat.grid_client_proxy`): a legacy client proxy for a
  node reached through the ServerApp's Grid; the legacy strategy returns them.
- `MAIN_CONFIGS_RECORD`, `MAIN_PARAMS_RECORD`, `RoundKey` (`flwr.server.workflow.constant`,
  `Key` there): the records of the context's state the workflow reads the round's number
  (`RoundKey.CURRENT_ROUND`) and the global model from.

Both sides:

- `RECORD_KEY_CONFIGS`, `Key`, `Stage` (`flwr.common.secure_aggregation.
  secaggplus_constants`): the config record a SecAgg+ message carries its stage in
  (`Key.STAGE`). The node tells a SecAgg+ request by that record; the server keeps the
  replies of `Stage.COLLECT_MASKED_VECTORS`, the stage in which parties train.
- `FitIns`, `FitRes`, `EvaluateIns`, `EvaluateRes`, `Parameters`, `Scalar`, `Code`,
  `Status`, `ndarrays_to_parameters`, `parameters_to_ndarrays` (`flwr.common`): Flower's
  legacy message types, exported by `flwr.common` but used by fedscore only because
  SecAgg+ speaks them; kept here so that their removal shows up in one place.

Client side:

- `secaggplus_mod` (`flwr.client.mod`): the node's half of SecAgg+. `flwr.clientapp.mod`,
  the public mods, does not export it.
- `recorddict_compat` (`flwr.compat.common.recorddict_compat`): translates a legacy
  FitIns out of a message's records (`recorddict_to_fitins`) and a legacy FitRes into
  records (`fitres_to_recorddict`), as `secaggplus_mod` reads and writes them.
"""

from __future__ import annotations

from flwr.client.mod import secaggplus_mod
from flwr.common import (
    Code,
    EvaluateIns,
    EvaluateRes,
    FitIns,
    FitRes,
    Parameters,
    Scalar,
    Status,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key, Stage
from flwr.compat.common import recorddict_compat
from flwr.server.client_manager import ClientManager
from flwr.server.client_proxy import ClientProxy
from flwr.server.compat.grid_client_proxy import GridClientProxy
from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.strategy import Strategy as LegacyStrategy
from flwr.server.workflow import SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
from flwr.server.workflow.constant import Key as RoundKey
from flwr.server.workflow.secure_aggregation.secaggplus_workflow import WorkflowState

__all__ = [
    "MAIN_CONFIGS_RECORD",
    "MAIN_PARAMS_RECORD",
    "RECORD_KEY_CONFIGS",
    "ClientManager",
    "ClientProxy",
    "Code",
    "EvaluateIns",
    "EvaluateRes",
    "FitIns",
    "FitRes",
    "GridClientProxy",
    "Key",
    "LegacyContext",
    "LegacyStrategy",
    "Parameters",
    "RoundKey",
    "Scalar",
    "SecAggPlusWorkflow",
    "Stage",
    "Status",
    "WorkflowState",
    "ndarrays_to_parameters",
    "parameters_to_ndarrays",
    "recorddict_compat",
    "secaggplus_mod",
]
