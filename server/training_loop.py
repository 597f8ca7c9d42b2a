"""The server's round loop: Flower's strategy does the maths, this loop keeps the books.

Per round it asks every party to train, records each party's outcome (trained,
refused with its reason, failed, or rejected by update screening), aggregates the
accepted updates with the strategy if at least `min_parties` sent one (or, with
secure aggregation on, lets SecAgg+ sum them without the server seeing any one of
them), runs federated evaluation, scores the consortium test set, and writes the
history and a checkpoint to the run directory so a crash never loses a finished
round: `resume` continues from there.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Iterable

from flwr.app import ArrayRecord, ConfigRecord, Message
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Strategy
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from fedscore.core import protocol
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.errors import printable_reason
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.schema import load_schema
from fedscore.server.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from fedscore.server.evaluation import ConsortiumEvaluator
from fedscore.server.history import PartyOutcome, RoundHistory, RunHistory
from fedscore.server.messages import expiring
from fedscore.server.party_names import PartyNames
from fedscore.server.polling_grid import PollingGrid
from fedscore.server.preflight import readiness_problems
from fedscore.server.rundir import RunDirectory
from fedscore.server.secure_aggregation import aggregate_securely
from fedscore.server.settings import ServerSettings, round_config
from fedscore.server.strategy import build_strategy
from fedscore.server.update_screening import screen_updates


def _outcome(reply: Message, party: str) -> PartyOutcome:
    """What a party's reply says; a reply that is not fedscore's shape counts as failed."""
    if reply.has_error():
        declined = reply.error.code == protocol.APP_NOT_APPROVED_CODE
        status = protocol.DECLINED if declined else protocol.FAILED
        return PartyOutcome(party, status, reason=printable_reason(reply.error.reason))
    try:
        record = reply.content.config_records[protocol.PARTY]
        metrics = reply.content.metric_records[protocol.METRICS]

        def number(key: str, default: float = math.nan) -> float:
            return float(metrics[key]) if key in metrics else default  # type: ignore[arg-type]

        def count(key: str) -> int:
            value = number(key, 0)
            return int(value) if math.isfinite(value) else 0

        return PartyOutcome(
            party=party,
            status=str(record[protocol.STATUS]),
            reason=str(record[protocol.REASON]),
            num_examples=count(protocol.NUM_EXAMPLES),
            epsilon_rdp=number("epsilon-rdp"),
            epsilon_prv=number("epsilon-prv"),
            noise_multiplier=number("noise-multiplier"),
            sample_rate=number("sample-rate"),
            steps=count("steps"),
            max_epsilon=number("max-epsilon"),
            note=str(record[protocol.NOTE]),
            deidentification=json.loads(str(record.get(protocol.DEIDENTIFICATION, "{}"))),
            ledger_head=json.loads(str(record.get(protocol.LEDGER_HEAD, "{}"))),
            update_norm=number(protocol.UPDATE_NORM),
        )
    except (KeyError, TypeError, ValueError) as exc:
        return PartyOutcome(party, protocol.FAILED, reason=f"malformed reply ({exc!r})")


def collect_training(
    replies: Iterable[Message],
    sent_to: list[int],
    names: PartyNames,
    record: RoundHistory,
    addressed: dict[str, int] | None = None,
) -> list[Message]:
    """Record every party's training outcome; return the replies carrying an update.

    Args:
        replies: what came back.
        sent_to: the node ids the round's messages went to.
        names: which institution each node id is.
        record: the round's record to fill.
        addressed: message id → node id of the messages sent; attributes the errors the
            SuperLink itself answers for a node (e.g. "Node Unavailable") to that node.
    """
    accepted: list[Message] = []
    answered: set[int] = set()
    for reply in replies:
        node_id = reply.metadata.src_node_id
        if node_id not in sent_to:
            node_id = (addressed or {}).get(reply.metadata.reply_to_message_id, node_id)
        answered.add(node_id)
        party = names.name(node_id) if reply.has_error() else names.learn(reply)
        outcome = _outcome(reply, party)
        record.outcomes[outcome.party] = outcome
        if outcome.status == protocol.TRAINED:
            accepted.append(reply)
    for node_id in sent_to:
        if node_id not in answered:
            party = names.name(node_id)
            record.outcomes[party] = PartyOutcome(party, protocol.FAILED, reason="no reply")
    return accepted


def collect_evaluation(
    replies: Iterable[Message], names: PartyNames, record: RoundHistory
) -> list[Message]:
    evaluated: list[Message] = []
    for reply in replies:
        party = names.learn(reply)
        if reply.has_error():
            continue
        status = reply.content.config_records[protocol.PARTY][protocol.STATUS]
        if status != protocol.EVALUATED:
            continue
        metrics = reply.content.metric_records[protocol.METRICS]
        record.federated_eval[party] = {k: float(v) for k, v in metrics.items()}  # type: ignore[arg-type]
        evaluated.append(reply)
    return evaluated


def _train_in_the_clear(
    grid: Grid,
    strategy: Strategy,
    arrays: ArrayRecord,
    config: ConfigRecord,
    server_round: int,
    settings: ServerSettings,
    names: PartyNames,
    record: RoundHistory,
) -> ArrayRecord:
    """One round's training with every update seen, screened and aggregated by the server.

    Returns the new global model (`arrays` when the round could not be aggregated).
    """
    run = settings.run
    messages = expiring(
        strategy.configure_train(server_round, arrays, config, grid), settings.round_timeout
    )
    replies = grid.send_and_receive(messages, timeout=settings.round_timeout)
    accepted = collect_training(
        replies,
        [m.metadata.dst_node_id for m in messages],
        names,
        record,
        {m.metadata.message_id: m.metadata.dst_node_id for m in messages},
    )
    accepted = screen_updates(accepted, arrays, run, record)
    if len(accepted) >= run.min_parties:
        aggregated, _ = strategy.aggregate_train(server_round, accepted)
        if aggregated is not None:
            record.aggregated = True
            return aggregated
    return arrays


def _train_securely(
    grid: Grid,
    strategy: Strategy,
    arrays: ArrayRecord,
    config: ConfigRecord,
    server_round: int,
    settings: ServerSettings,
    names: PartyNames,
    record: RoundHistory,
) -> ArrayRecord:
    """One round's training under SecAgg+: the server learns only the weighted sum.

    The run's strategy still picks the round's nodes; each node checks its own update
    (the server cannot) and reports the outcome next to its masked vector.
    """
    run = settings.run
    # The run's strategy samples the round's nodes (waiting until enough are connected).
    sampled = strategy.configure_train(server_round, arrays, config, grid)
    node_ids = [message.metadata.dst_node_id for message in sampled]
    config[protocol.SERVER_ROUND] = server_round
    secure = aggregate_securely(
        grid, node_ids, arrays, config, server_round, run, settings.round_timeout
    )
    trained = collect_training(secure.replies, node_ids, names, record, secure.addressed)
    if len(trained) >= run.min_parties and secure.aggregate is not None:
        record.aggregated = True
        return secure.aggregate
    return arrays


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
    config = round_config(settings, schema)
    run_dir = RunDirectory(settings.run_dir)
    checkpoint = load_checkpoint(settings.run_dir) if settings.resume else None
    names = PartyNames()
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
            problems = readiness_problems(grid, config, settings, names)
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
            if run.secure_aggregation:
                arrays = _train_securely(
                    grid, strategy, arrays, config, server_round, settings, names, record
                )
            else:
                arrays = _train_in_the_clear(
                    grid, strategy, arrays, config, server_round, settings, names, record
                )
            evaluation = expiring(
                strategy.configure_evaluate(server_round, arrays, config, grid),
                settings.round_timeout,
            )
            collect_evaluation(
                grid.send_and_receive(evaluation, timeout=settings.round_timeout), names, record
            )
            if evaluator is not None:
                record.consortium_test = evaluator(arrays).as_dict()
            record.seconds = time.monotonic() - started
            history.rounds.append(record)
            names.name_earlier_rounds(history)
            run_dir.write_history(history)
            save_checkpoint(
                settings.run_dir, Checkpoint(server_round, arrays, history, dict(names.by_node))
            )
            auc = record.consortium_test.get("auc")
            progress.update(
                task,
                advance=1,
                status=f"test AUC {auc:.4f}" if auc is not None else "",
            )
    model.load_state_dict(arrays.to_torch_state_dict())
    run_dir.finish(model, schema, settings, history, evaluator)
    if settings.show_progress:
        run_dir.print_summary(console, history)
    return history
