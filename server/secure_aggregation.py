"""Secure aggregation of a round: Flower's SecAgg+ workflow, the server learns only the sum.

In Flower 1.42 SecAgg+ exists only on the legacy stack (`SecAggPlusWorkflow`, run with a
`LegacyContext` and a legacy `Strategy`: `fedscore.core.flower_compat.secure_aggregation`).
`aggregate_securely` runs that workflow for one round of fedscore's own round loop:

- `_SumOnly` is the legacy strategy the workflow asks which nodes train (those the run's
  strategy sampled) and hands the unmasked aggregate to; it never sees an update.
- `_RoundGrid` passes the workflow's messages to the real Grid, gives them the round's
  lifetime, and keeps the replies of the "collect masked vectors" stage: each carries a
  party's outcome and privacy figures next to its masked vector, which the round loop
  books like any other reply.

The aggregate is the average of the trained parties' models weighted by their training
rows (FedAvg), up to SecAgg+'s quantization error: 2 × clipping range / 2²² per weighted
value and party, divided by the parties' total weight (rows / `secagg_max_weight`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.serverapp import Grid

from fedscore.core import protocol
from fedscore.core.flower_compat.secure_aggregation import (
    MAIN_CONFIGS_RECORD,
    MAIN_PARAMS_RECORD,
    RECORD_KEY_CONFIGS,
    ClientManager,
    ClientProxy,
    EvaluateIns,
    EvaluateRes,
    FitIns,
    FitRes,
    GridClientProxy,
    Key,
    LegacyContext,
    LegacyStrategy,
    Parameters,
    RoundKey,
    Scalar,
    SecAggPlusWorkflow,
    Stage,
    WorkflowState,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from fedscore.core.runconfig import RunConfig
from fedscore.server.delegating_grid import DelegatingGrid
from fedscore.server.messages import expiring

_Res = TypeVar("_Res", FitRes, EvaluateRes)
#: The replies a legacy strategy aggregates (of fit or evaluate), and those that failed.
_Results = list[tuple[ClientProxy, _Res]]
_Failures = list[tuple[ClientProxy, _Res] | BaseException]


@dataclass
class SecureRound:
    """What one securely aggregated round produced.

    Attributes:
        replies: the replies of the stage in which the parties trained (masked vectors,
            outcomes, privacy figures); no reply holds an update in the clear.
        addressed: message id → node id of the messages of that stage.
        aggregate: the unmasked weighted average of the trained parties' models, or None
            when the protocol could not finish (too few parties kept up with it).
    """

    replies: list[Message] = field(default_factory=list)
    addressed: dict[str, int] = field(default_factory=dict)
    aggregate: ArrayRecord | None = None


def aggregate_securely(
    grid: Grid,
    node_ids: list[int],
    global_arrays: ArrayRecord,
    config: ConfigRecord,
    server_round: int,
    run: RunConfig,
    timeout: float,
) -> SecureRound:
    """Run one training round under SecAgg+ with the nodes `node_ids`.

    Args:
        grid: the ServerApp's grid.
        node_ids: the nodes that train this round (at least 2).
        global_arrays: the global model the round starts from.
        config: the round's settings sent to every node.
        server_round: the round's number.
        run: the run configuration (SecAgg+ clipping range and weight scale).
        timeout: seconds to wait for the replies of each of the protocol's four stages.

    Returns:
        The training stage's replies and the unmasked aggregate (if the protocol finished).
    """
    names = list(global_arrays.keys())
    request = FitIns(
        ndarrays_to_parameters([array.numpy() for array in global_arrays.values()]),
        {**_legacy_config(config), protocol.ARRAY_NAMES: json.dumps(names)},
    )
    outcome = SecureRound()
    round_grid = _RoundGrid(grid, timeout, outcome)
    strategy = _SumOnly(
        [GridClientProxy(node_id, grid, grid.run.run_id) for node_id in node_ids], request
    )
    state = RecordDict(
        {
            MAIN_CONFIGS_RECORD: ConfigRecord({RoundKey.CURRENT_ROUND: server_round}),
            MAIN_PARAMS_RECORD: global_arrays,
        }
    )
    context = LegacyContext(
        Context(run_id=grid.run.run_id, node_id=0, node_config={}, state=state, run_config={}),
        strategy=strategy,
    )
    parties = len(node_ids)
    workflow = _DropoutTolerantSecAggPlus(
        # Every party holds a share of every other's secrets; a majority must answer to
        # unmask, so no coalition the server could form from "dropped" claims learns both
        # of a party's secrets.
        num_shares=parties if parties > 2 else 1.0,
        reconstruction_threshold=parties // 2 + 1,
        max_weight=run.secagg_max_weight,
        clipping_range=run.secagg_clipping_range,
        timeout=timeout,
    )
    workflow(round_grid, context)
    # With every party at weight 0 (none trained) the average is 0/0: no aggregate.
    if strategy.aggregate is not None and all(np.isfinite(a).all() for a in strategy.aggregate):
        dtypes = [array.numpy().dtype for array in global_arrays.values()]
        outcome.aggregate = ArrayRecord(
            {
                name: Array(np.asarray(values, dtype=dtype))
                for name, values, dtype in zip(names, strategy.aggregate, dtypes, strict=True)
            }
        )
    return outcome


def _legacy_config(config: ConfigRecord) -> dict[str, Scalar]:
    """The round's settings as a legacy FitIns config, which holds scalars only.

    Raises:
        TypeError: a setting is a list (a `RoundRequest`'s record never holds one).
    """
    scalars: dict[str, Scalar] = {}
    for key, value in config.items():
        if isinstance(value, list):
            raise TypeError(f"round setting {key!r} is a list: a legacy FitIns holds scalars")
        scalars[key] = value
    return scalars


class _DropoutTolerantSecAggPlus(SecAggPlusWorkflow):
    """SecAgg+ that also survives a party lost before it shared its key shares.

    Flower's workflow keeps every sampled node in the protocol: one that never answered
    the setup or share-keys stage is later treated as a dropout whose masks must be
    reconstructed, yet nobody holds shares of its keys, so the surviving nodes fail the
    unmask stage and the round is lost. Such a node never masked anything with anyone;
    leaving it out of the protocol is exact. (Dropouts after the masked vectors were
    collected are handled by Flower's reconstruction, as designed.)
    """

    def setup_stage(self, grid: Grid, context: LegacyContext, state: WorkflowState) -> bool:
        carry_on = super().setup_stage(grid, context, state)
        state.sampled_node_ids = set(state.active_node_ids)
        return carry_on

    def share_keys_stage(self, grid: Grid, context: LegacyContext, state: WorkflowState) -> bool:
        carry_on = super().share_keys_stage(grid, context, state)
        state.sampled_node_ids = set(state.active_node_ids)
        return carry_on


class _RoundGrid(DelegatingGrid):
    """The Grid as the SecAgg+ workflow uses it, recording the training stage's replies.

    The workflow exchanges its messages through `send_and_receive` only; the other
    methods pass straight to `grid`.
    """

    def __init__(self, grid: Grid, ttl: float, outcome: SecureRound) -> None:
        super().__init__(grid)
        self._ttl = ttl
        self._outcome = outcome

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        sent = expiring(messages, self._ttl)
        replies = list(self._grid.send_and_receive(sent, timeout=timeout))
        if any(_stage(message) == Stage.COLLECT_MASKED_VECTORS for message in sent):
            self._outcome.replies = replies
            self._outcome.addressed = {m.metadata.message_id: m.metadata.dst_node_id for m in sent}
        return replies


def _stage(message: Message) -> str | None:
    configs = message.content.config_records.get(RECORD_KEY_CONFIGS)
    return None if configs is None else str(configs.get(Key.STAGE))


class _SumOnly(LegacyStrategy):
    """Legacy strategy for SecAgg+: picks the round's nodes and keeps the unmasked sum."""

    def __init__(self, nodes: list[ClientProxy], request: FitIns) -> None:
        self._nodes = nodes
        self._request = request
        self.aggregate: list[np.ndarray] | None = None

    def configure_fit(
        self, server_round: int, parameters: Parameters, client_manager: ClientManager
    ) -> list[tuple[ClientProxy, FitIns]]:
        return [(node, self._request) for node in self._nodes]

    def aggregate_fit(
        self, server_round: int, results: _Results[FitRes], failures: _Failures[FitRes]
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        # SecAgg+ has put the same unmasked aggregate into every result.
        if not results:
            return None, {}
        parameters = results[0][1].parameters
        self.aggregate = parameters_to_ndarrays(parameters)
        return parameters, {}

    def initialize_parameters(self, client_manager: ClientManager) -> Parameters | None:
        return None

    def configure_evaluate(
        self, server_round: int, parameters: Parameters, client_manager: ClientManager
    ) -> list[tuple[ClientProxy, EvaluateIns]]:
        return []

    def aggregate_evaluate(
        self, server_round: int, results: _Results[EvaluateRes], failures: _Failures[EvaluateRes]
    ) -> tuple[float | None, dict[str, Scalar]]:
        return None, {}

    def evaluate(
        self, server_round: int, parameters: Parameters
    ) -> tuple[float, dict[str, Scalar]] | None:
        return None
