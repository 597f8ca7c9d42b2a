"""The server's round loop: Flower's strategy does the maths, this loop keeps the books.

It drives the rounds itself rather than through Flower's `Strategy.start()`, which hands
the replies straight to aggregation and always starts at round 1: fedscore must record
each party's outcome with its reason, screen every update before it is aggregated, run
SecAgg+ rounds, and checkpoint every round so that `resume` continues a crashed run.

Per round it asks every party to train, records each party's outcome (trained,
refused with its reason, failed, or rejected by update screening), aggregates the
accepted updates with the strategy if at least `min_parties` sent one (or, with
secure aggregation on, lets SecAgg+ sum them without the server seeing any one of
them), scores the consortium test set, and writes the history and a checkpoint to the
run directory so a crash never loses a finished round: `resume` continues from there.

Federated evaluation rides on the next round's training message: each node scores the
model it receives, the previous round's result, before it trains, and the scores are
booked to that previous round. Only the last round's model needs an evaluation
exchange of its own, after the loop. A round is then one heavy exchange, not two.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass

from flwr.app import ArrayRecord, Message
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from fedscore.core.encoding import FeatureEncoder
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.protocol import RoundRequest
from fedscore.core.schema import load_schema
from fedscore.server.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from fedscore.server.evaluation import ConsortiumEvaluator
from fedscore.server.history import RoundHistory, RunHistory
from fedscore.server.messages import expiring
from fedscore.server.party_names import PartyNames
from fedscore.server.polling_grid import PollingGrid
from fedscore.server.preflight import readiness_problems
from fedscore.server.round_replies import (
    collect_evaluation,
    collect_folded_evaluation,
    collect_training,
)
from fedscore.server.rundir import RunDirectory
from fedscore.server.secure_aggregation import aggregate_securely
from fedscore.server.settings import ServerSettings, round_request
from fedscore.server.strategy import build_strategy
from fedscore.server.update_screening import screen_updates


@dataclass(frozen=True)
class _RoundDriver:
    """What every round of a run is driven with.

    Attributes:
        grid: the ServerApp's grid.
        strategy: the run's Flower strategy (it samples the nodes and aggregates).
        settings: the run's settings.
        names: which institution each node id is.
    """

    grid: Grid
    strategy: Strategy
    settings: ServerSettings
    names: PartyNames

    def train(
        self,
        arrays: ArrayRecord,
        request: RoundRequest,
        record: RoundHistory,
        previous: RoundHistory | None,
    ) -> ArrayRecord:
        """One round's training; returns the new global model.

        It returns `arrays` when the round could not be aggregated.

        Args:
            arrays: the global model the round starts from.
            request: the round's instructions.
            record: the round's record to fill.
            previous: the record of the round that produced `arrays` (None in round 1):
                the federated evaluation the replies carry is booked to it.
        """
        if self.settings.run.secure_aggregation:
            replies, new_arrays = self._train_securely(arrays, request, record)
        else:
            replies, new_arrays = self._train_in_the_clear(arrays, request, record)
        if previous is not None:
            collect_folded_evaluation(replies, self.names, previous)
        return new_arrays

    def evaluate(self, arrays: ArrayRecord, request: RoundRequest, record: RoundHistory) -> None:
        """Federated evaluation of the run's final model, in an exchange of its own."""
        timeout = self.settings.round_timeout
        messages = expiring(
            self.strategy.configure_evaluate(
                request.server_round, arrays, request.to_record(), self.grid
            ),
            timeout,
        )
        collect_evaluation(
            self.grid.send_and_receive(messages, timeout=timeout), self.names, record
        )

    def _train_in_the_clear(
        self, arrays: ArrayRecord, request: RoundRequest, record: RoundHistory
    ) -> tuple[list[Message], ArrayRecord]:
        """Training with every update seen, screened and aggregated by the server."""
        run, timeout, server_round = (
            self.settings.run,
            self.settings.round_timeout,
            request.server_round,
        )
        messages = expiring(
            self.strategy.configure_train(server_round, arrays, request.to_record(), self.grid),
            timeout,
        )
        replies = list(self.grid.send_and_receive(messages, timeout=timeout))
        accepted = collect_training(
            replies,
            [m.metadata.dst_node_id for m in messages],
            self.names,
            record,
            {m.metadata.message_id: m.metadata.dst_node_id for m in messages},
        )
        accepted = screen_updates(accepted, arrays, run, record)
        if len(accepted) >= run.min_parties:
            aggregated, _ = self.strategy.aggregate_train(server_round, accepted)
            if aggregated is not None:
                record.aggregated = True
                return replies, aggregated
        return replies, arrays

    def _train_securely(
        self, arrays: ArrayRecord, request: RoundRequest, record: RoundHistory
    ) -> tuple[list[Message], ArrayRecord]:
        """Training under SecAgg+: the server learns only the weighted sum.

        The run's strategy still picks the round's nodes; each node checks its own update
        (the server cannot) and reports the outcome next to its masked vector.
        """
        run, server_round, config = self.settings.run, request.server_round, request.to_record()
        # The run's strategy samples the round's nodes (waiting until enough are connected).
        sampled = self.strategy.configure_train(server_round, arrays, config, self.grid)
        node_ids = [message.metadata.dst_node_id for message in sampled]
        secure = aggregate_securely(
            self.grid, node_ids, arrays, config, server_round, run, self.settings.round_timeout
        )
        trained = collect_training(secure.replies, node_ids, self.names, record, secure.addressed)
        if len(trained) >= run.min_parties and secure.aggregate is not None:
            record.aggregated = True
            return secure.replies, secure.aggregate
        return secure.replies, arrays


def run_training(
    grid: Grid, settings: ServerSettings, console: Console | None = None
) -> RunHistory:
    """Run every round of a training run and write its run directory."""
    console = console or Console(stderr=True, width=None if sys.stderr.isatty() else 140)
    grid = PollingGrid(grid)
    run = settings.run
    schema = load_schema(settings.task_path)
    encoder = FeatureEncoder(schema)
    evaluator = (
        ConsortiumEvaluator(settings.consortium_test_path, schema, run)
        if settings.consortium_test_path
        else None
    )
    model = build_model(ModelSpec(run.model, encoder.n_features, run.hidden, run.seed))
    arrays = ArrayRecord(model.state_dict())
    strategy = build_strategy(run, settings.expected_parties)
    base_request = round_request(settings, schema)
    run_dir = RunDirectory(settings.run_dir)
    checkpoint = load_checkpoint(settings.run_dir) if settings.resume else None
    names = PartyNames()
    driver = _RoundDriver(grid, strategy, settings, names)
    if checkpoint is not None:
        arrays, history = checkpoint.arrays, checkpoint.history
        names.by_node.update(checkpoint.party_names)
        console.print(
            f"resuming run {settings.run_id} after round {checkpoint.completed_round}",
            markup=False,
        )
    else:
        run_dir.start(settings, schema)
        if not settings.parties_checked:
            problems = readiness_problems(grid, base_request, settings, names)
            if problems:
                run_dir.refuse(settings, schema, problems, console)
                return RunHistory()
        history = RunHistory()
        if evaluator is not None:
            history.initial_consortium_test = evaluator(arrays).as_dict()
    first_round = len(history.rounds) + 1
    progress = Progress(
        TextColumn("[bold]federated training[/]"),
        BarColumn(),
        TextColumn("round {task.completed}/{task.total}"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not settings.show_progress,
        transient=False,
    )
    with progress:
        task = progress.add_task(
            "rounds", total=run.rounds, completed=first_round - 1, status="waiting for parties"
        )
        for server_round in range(first_round, run.rounds + 1):
            started = time.monotonic()
            record = RoundHistory(server_round)
            request = dataclasses.replace(base_request, server_round=server_round)
            previous = history.rounds[-1] if history.rounds else None
            arrays = driver.train(arrays, request, record, previous)
            if evaluator is not None:
                record.consortium_test = evaluator(arrays).as_dict()
            record.seconds = time.monotonic() - started
            history.rounds.append(record)
            _book_round(settings, run_dir, history, arrays, names)
            auc = record.consortium_test.get("auc")
            progress.update(
                task,
                advance=1,
                status=f"test AUC {auc:.4f}" if auc is not None else "",
            )
    last = history.rounds[-1] if history.rounds else None
    if last is not None and not last.federated_eval:
        started = time.monotonic()
        request = dataclasses.replace(base_request, server_round=last.server_round)
        driver.evaluate(arrays, request, last)
        last.seconds += time.monotonic() - started
        _book_round(settings, run_dir, history, arrays, names)
    model.load_state_dict(arrays.to_torch_state_dict())
    run_dir.finish(model, schema, settings, history, evaluator)
    if settings.show_progress:
        run_dir.print_summary(console, history)
    return history


def _book_round(
    settings: ServerSettings,
    run_dir: RunDirectory,
    history: RunHistory,
    arrays: ArrayRecord,
    names: PartyNames,
) -> None:
    """Write the history and a checkpoint after the last round recorded in `history`."""
    names.name_earlier_rounds(history)
    run_dir.write_history(history)
    completed = history.rounds[-1].server_round
    save_checkpoint(settings.run_dir, Checkpoint(completed, arrays, history, dict(names.by_node)))
